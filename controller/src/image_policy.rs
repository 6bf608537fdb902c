//! Which connector images an MnoConnection may run: an allow-list of image repositories.
//!
//! Images and rules are compared as normalised repositories (`registry/path`, Docker Hub names
//! expanded to `docker.io/library/...`), never as text prefixes: `ghcr.io/ghasi/conn` does not
//! allow `ghcr.io/ghasi/conn-evil` nor `ghcr.io/ghasi/conn.evil.com/x`. Tags and digests are
//! ignored when matching.

use std::fmt;

use crate::spec_check::Stall;

/// Reason of the Stalled condition of a refused image.
pub const IMAGE_NOT_ALLOWED: &str = "ImageNotAllowed";

const DOCKER_HUB: &str = "docker.io";

/// An image reference split into its normalised repository, tag and digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// `registry/path`, the registry lowercased, Docker Hub spelled `docker.io/library/...`.
    pub repository: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The digest (`algorithm:hex`), if any.
    pub digest: Option<String>,
}

/// Why a text is not an image reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an image reference: {1}")]
pub struct BadReference(String, &'static str);

fn is_path_component(s: &str) -> bool {
    // alphanumerics separated by single `.` or `_`, `__`, or runs of `-` (distribution's grammar).
    let bytes = s.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &s[start..i];
        let valid = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !valid {
            return false;
        }
    }
    true
}

fn is_domain(s: &str) -> bool {
    let port_ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        let port_valid = after.is_empty() || after.strip_prefix(':').is_some_and(port_ok);
        return port_valid && v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    let host = match s.split_once(':') {
        Some((h, p)) if port_ok(p) => h,
        Some(_) => return false,
        None => s,
    };
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_tag(s: &str) -> bool {
    let mut bytes = s.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    first_ok
        && s.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn is_digest(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether the first component of a name is a registry rather than a Docker Hub path.
fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// Whether `s` alone names a registry (`ghcr.io`, `localhost:5000`).
fn is_registry(s: &str) -> bool {
    !s.contains('/') && looks_like_registry(s) && is_domain(s)
}

/// The registry lowercased, `index.docker.io` as `docker.io`.
fn normalise_domain(domain: &str) -> String {
    let domain = domain.to_ascii_lowercase();
    if domain == "index.docker.io" {
        DOCKER_HUB.to_string()
    } else {
        domain
    }
}

impl ImageRef {
    /// Parses `[registry[:port]/]path[:tag][@digest]`.
    pub fn parse(text: &str) -> Result<Self, BadReference> {
        let bad = |why| BadReference(text.to_string(), why);
        let (rest, digest) = match text.split_once('@') {
            Some((r, d)) if is_digest(d) => (r, Some(d.to_string())),
            Some(_) => return Err(bad("invalid digest")),
            None => (text, None),
        };
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) if is_tag(&rest[slash + i + 1..]) => {
                (&rest[..slash + i], Some(rest[slash + i + 1..].to_string()))
            }
            Some(_) => return Err(bad("invalid tag")),
            None => (rest, None),
        };
        let (domain, path) = match name.split_once('/') {
            Some((first, path)) if looks_like_registry(first) => {
                if !is_domain(first) {
                    return Err(bad("invalid registry"));
                }
                (normalise_domain(first), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        if !path.split('/').all(is_path_component) {
            return Err(bad(
                "invalid repository path (lowercase letters, digits, separators)",
            ));
        }
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Ok(Self {
            repository: format!("{domain}/{path}"),
            tag,
            digest,
        })
    }
}

/// One entry of the allow-list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rule {
    /// Every image (`*`).
    Any,
    /// Exactly this repository (`ghcr.io/ghasi/smpp-connector`).
    Repository(String),
    /// Every repository below this path (`registry.example.com/team/*`).
    Under(String),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Any => f.write_str("*"),
            Rule::Repository(r) => f.write_str(r),
            Rule::Under(p) => write!(f, "{p}/*"),
        }
    }
}

/// The images connectors may run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImagePolicy {
    rules: Vec<Rule>,
}

/// Why an allow-list entry is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadRule {
    /// The entry is not a repository.
    #[error("allowed image {0:?}: {1}")]
    Reference(String, BadReference),
    /// The entry names a tag or digest.
    #[error("allowed image {0:?}: name a repository, without tag or digest")]
    Pinned(String),
}

impl ImagePolicy {
    /// Refuses every image.
    pub fn deny_all() -> Self {
        Self { rules: Vec::new() }
    }

    /// The policy of the given entries: `*`, a repository, or a path followed by `/*`.
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadRule> {
        let rules = entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                if entry == "*" {
                    return Ok(Rule::Any);
                }
                let (text, under) = match entry.strip_suffix("/*") {
                    Some(prefix) => (prefix, true),
                    None => (entry, false),
                };
                if under && is_registry(text) {
                    return Ok(Rule::Under(normalise_domain(text)));
                }
                let parsed =
                    ImageRef::parse(text).map_err(|e| BadRule::Reference(entry.to_string(), e))?;
                if parsed.tag.is_some() || parsed.digest.is_some() {
                    return Err(BadRule::Pinned(entry.to_string()));
                }
                Ok(if under {
                    Rule::Under(parsed.repository)
                } else {
                    Rule::Repository(parsed.repository)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { rules })
    }

    /// The policy for `entries`, or, when there are none, the repository of `default_image` only.
    pub fn or_default_image<S: AsRef<str>>(
        entries: &[S],
        default_image: &str,
    ) -> Result<Self, BadRule> {
        if entries.iter().any(|e| !e.as_ref().trim().is_empty()) {
            let entries: Vec<&str> = entries
                .iter()
                .map(AsRef::as_ref)
                .filter(|e| !e.trim().is_empty())
                .collect();
            return Self::new(&entries);
        }
        let image = ImageRef::parse(default_image)
            .map_err(|e| BadRule::Reference(default_image.to_string(), e))?;
        Ok(Self {
            rules: vec![Rule::Repository(image.repository)],
        })
    }

    /// Whether `image` is allowed; the Stalled reason and message when not.
    pub fn check(&self, image: &str) -> Result<(), Stall> {
        let refused = |why: String| Stall {
            reason: IMAGE_NOT_ALLOWED,
            message: format!(
                "connector image {image:?} {why}; allowed: {} (the controller's \
                 ALLOWED_IMAGES, Helm value connector.allowedImages)",
                self.describe()
            ),
        };
        let parsed = ImageRef::parse(image).map_err(|e| refused(format!("is refused: {}", e.1)))?;
        let allowed = self.rules.iter().any(|rule| match rule {
            Rule::Any => true,
            Rule::Repository(r) => *r == parsed.repository,
            Rule::Under(p) => parsed
                .repository
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
        });
        if allowed {
            Ok(())
        } else {
            Err(refused(format!(
                "(repository {}) is not allowed",
                parsed.repository
            )))
        }
    }

    /// The rules, comma-separated.
    pub fn describe(&self) -> String {
        if self.rules.is_empty() {
            return "nothing".into();
        }
        self.rules
            .iter()
            .map(Rule::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
