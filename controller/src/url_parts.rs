//! The servers named by a connection URL (`scheme://[user[:password]@]host[:port][,host[:port]]/...`).

/// One `host[:port]` of a URL; the host lowercased, IPv6 addresses without brackets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Host name or IP address.
    pub host: String,
    /// Port, when the URL names one.
    pub port: Option<u16>,
}

/// The scheme of `url` (lowercased), if it has one.
pub fn scheme(url: &str) -> Option<String> {
    url.trim()
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
}

/// The servers of `url`: several when comma-separated (NATS server lists, PostgreSQL multi-host
/// URLs), either as whole URLs or as hosts of one URL.
pub fn servers(url: &str) -> Vec<Server> {
    let mut out = Vec::new();
    for part in url.split(',') {
        let part = part.trim();
        let part = part.split_once("://").map_or(part, |(_, rest)| rest);
        let part = part.split(['/', '?', '#']).next().unwrap_or_default();
        let part = part.rsplit_once('@').map_or(part, |(_, host)| host);
        if part.is_empty() {
            continue;
        }
        let (host, port) = if let Some(rest) = part.strip_prefix('[') {
            match rest.split_once(']') {
                Some((v6, after)) => (v6, after.strip_prefix(':')),
                None => (rest, None),
            }
        } else {
            match part.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (part, None),
            }
        };
        out.push(Server {
            host: host.to_ascii_lowercase(),
            port: port.and_then(|p| p.parse().ok()),
        });
    }
    out
}
