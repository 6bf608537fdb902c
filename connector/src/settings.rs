//! Loading the configuration file (`--config`, YAML, [`crds::ConnectorConfig`]) with
//! environment overrides, and validating it.
//!
//! Overrides, applied in this order over the file (a later one wins):
//! 1. `SMPP_CONNECTOR__{KEY}__{KEY}...`: any key, by its path in SCREAMING_SNAKE_CASE with `__`
//!    between levels (`SMPP_CONNECTOR__SESSION__WINDOW=32`,
//!    `SMPP_CONNECTOR__THROTTLE__PERMIT_BATCH=20`). The value is read as a YAML scalar or
//!    flow collection (`32`, `true`, `[gsm7, ucs2]`); quote a string that would read as another
//!    type (`SMPP_CONNECTOR__BIND__SYSTEM_TYPE='"123"'`).
//! 2. The short names of [`SHORT_OVERRIDES`], always strings: `SMPP_OPERATOR_ID`,
//!    `SMPP_NATS_URL`, `SMPP_REDIS_URL`, `DATABASE_URL`, `SMPP_DATABASE_URL` (wins over
//!    `DATABASE_URL`), `SMPP_HTTP_ADDRESS`, `SMPP_LOG_LEVEL`, `SMPP_LOG_FORMAT`.
//!
//! Every error names the key (dotted path, as in `session.window`) and, for a key from the
//! file, its line; the binary exits with [`EXIT_CODE`] on any of them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crds::config::ConfigProblem;
use crds::ConnectorConfig;
use serde_yaml::{Mapping, Value};

/// Exit code of the binary for a bad configuration.
pub const EXIT_CODE: i32 = 2;

/// Prefix of the generic overrides.
pub const ENV_PREFIX: &str = "SMPP_CONNECTOR__";

/// The short overrides: environment variable and the key it sets, applied in this order.
pub const SHORT_OVERRIDES: &[(&str, &str)] = &[
    ("SMPP_OPERATOR_ID", "operatorId"),
    ("SMPP_NATS_URL", "nats.url"),
    ("SMPP_REDIS_URL", "redis.url"),
    ("DATABASE_URL", "postgres.url"),
    ("SMPP_DATABASE_URL", "postgres.url"),
    ("SMPP_HTTP_ADDRESS", "http.address"),
    ("SMPP_LOG_LEVEL", "logging.level"),
    ("SMPP_LOG_FORMAT", "logging.format"),
];

/// A configuration that cannot be used.
#[derive(Debug)]
pub enum ConfigError {
    /// The file cannot be read.
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The file is not YAML.
    Syntax {
        /// What the YAML parser says (with line and column).
        message: String,
    },
    /// A key has a wrong type or value, is unknown, or a required key is missing.
    Key {
        /// Dotted path of the key (`.` for the document itself).
        key: String,
        /// Where the value came from: `line N` of the file, or the environment variable.
        origin: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// An environment override cannot be applied.
    Env {
        /// The variable.
        var: String,
        /// Why.
        message: String,
    },
    /// Cross-field rules broken (from [`ConnectorConfig::validate`]).
    Invalid(Vec<ConfigProblem>),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, message } => {
                write!(f, "cannot read configuration file {path}: {message}")
            }
            Self::Syntax { message } => write!(f, "configuration is not valid YAML: {message}"),
            Self::Key {
                key,
                origin,
                message,
            } => {
                write!(f, "configuration key `{key}`")?;
                if let Some(o) = origin {
                    write!(f, " ({o})")?;
                }
                write!(f, ": {message}")
            }
            Self::Env { var, message } => write!(f, "environment variable {var}: {message}"),
            Self::Invalid(problems) => {
                write!(f, "invalid configuration:")?;
                for p in problems {
                    write!(f, "\n  {}: {}", p.key, p.message)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads `path`, applies the overrides found in `env`, and validates.
pub fn load(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<ConnectorConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    load_str(&text, env)
}

/// [`load`] from the file's text.
pub fn load_str(
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<ConnectorConfig, ConfigError> {
    let mut root: Value = serde_yaml::from_str(text).map_err(|e| ConfigError::Syntax {
        message: e.to_string(),
    })?;
    if root.is_null() {
        root = Value::Mapping(Mapping::new());
    }
    let env: BTreeMap<String, String> = env.into_iter().collect();
    let mut origins: BTreeMap<String, String> = BTreeMap::new();
    for (var, value) in env.range(ENV_PREFIX.to_string()..) {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            break;
        };
        let path: Vec<String> = rest.split("__").map(camel_case).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var: var.clone(),
                message: "empty key segment".into(),
            });
        }
        let parsed =
            serde_yaml::from_str::<Value>(value).unwrap_or_else(|_| Value::String(value.clone()));
        set(&mut root, &path, parsed).map_err(|message| ConfigError::Env {
            var: var.clone(),
            message,
        })?;
        origins.insert(path.join("."), format!("from environment variable {var}"));
    }
    for (var, key) in SHORT_OVERRIDES {
        if let Some(value) = env.get(*var) {
            let path: Vec<String> = key.split('.').map(str::to_string).collect();
            set(&mut root, &path, Value::String(value.clone())).map_err(|message| {
                ConfigError::Env {
                    var: var.to_string(),
                    message,
                }
            })?;
            origins.insert(key.to_string(), format!("from environment variable {var}"));
        }
    }
    let config: ConnectorConfig = serde_path_to_error::deserialize(root).map_err(|e| {
        let key = e.path().to_string();
        let origin = origins
            .iter()
            .find(|(k, _)| key == **k || key.starts_with(&format!("{k}.")))
            .map(|(_, o)| o.clone())
            .or_else(|| file_line(text));
        ConfigError::Key {
            key,
            origin,
            message: e.into_inner().to_string(),
        }
    })?;
    let problems = config.validate();
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// The line of the first type error in the file alone, when it has one.
fn file_line(text: &str) -> Option<String> {
    let de = serde_yaml::Deserializer::from_str(text);
    let err = serde_path_to_error::deserialize::<_, ConnectorConfig>(de).err()?;
    let loc = err.inner().location()?;
    Some(format!("line {}", loc.line()))
}

/// `PERMIT_BATCH` → `permitBatch`.
fn camel_case(segment: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in segment.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn set(root: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty key".into());
    };
    let mut node = root;
    for (depth, key) in parents.iter().enumerate() {
        let Value::Mapping(map) = node else {
            return Err(format!("`{}` is not a mapping", path[..depth].join(".")));
        };
        node = map
            .entry(Value::String(key.clone()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
    }
    match node {
        Value::Mapping(map) => {
            map.insert(Value::String(last.clone()), value);
            Ok(())
        }
        _ => Err(format!("`{}` is not a mapping", parents.join("."))),
    }
}

#[cfg(test)]
mod tests;
