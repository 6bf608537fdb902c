//! A connector run as a process of its own (the e2e suite's `e2e-connector` binary), for tests
//! that kill it with SIGKILL or SIGTERM or need its global state (tracing) apart.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crds::ConnectorConfig;

use super::connector::metric_sum;
use super::temp_dir::TempDir;

/// One connector process, its configuration file and its log in the test's directory.
pub struct ConnectorProcess {
    /// Its name in the test (file names, messages).
    pub name: &'static str,
    /// The process.
    pub child: tokio::process::Child,
    binary: PathBuf,
    config: PathBuf,
    env: Vec<(String, String)>,
    http: String,
    log: PathBuf,
}

impl ConnectorProcess {
    /// Writes `config` as YAML and starts `binary --config FILE` with the extra environment
    /// `env`; panics when it cannot.
    pub fn start(
        binary: &str,
        name: &'static str,
        config: &ConnectorConfig,
        dir: &TempDir,
        env: &[(&str, &str)],
    ) -> Self {
        let yaml = serde_yaml::to_string(config).unwrap_or_else(|e| panic!("config: {e}"));
        let config_path = dir
            .write(&format!("{name}.yaml"), &yaml)
            .unwrap_or_else(|e| panic!("config file: {e}"));
        let binary = PathBuf::from(binary);
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let log = dir.path().join(format!("{name}.log"));
        Self {
            name,
            child: spawn(&binary, &config_path, &env, &log),
            binary,
            config: config_path,
            env,
            http: format!("http://{}", config.http.address),
            log,
        }
    }

    /// Starts the process again (after it exited); its output is appended to its log.
    pub fn restart(&mut self) {
        self.child = spawn(&self.binary, &self.config, &self.env, &self.log);
    }

    /// `role` of its `/ready` body (`single`, `active`, `standby`), `+bound` when bound.
    pub async fn role(&self) -> Option<String> {
        let r = reqwest::Client::new()
            .get(format!("{}/ready", self.http))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .ok()?;
        let v: serde_json::Value = r.json().await.ok()?;
        let bound = v["bound"].as_bool() == Some(true);
        v["role"].as_str().map(|r| {
            if bound {
                format!("{r}+bound")
            } else {
                r.into()
            }
        })
    }

    /// A metric of the process; 0 when it does not answer (a killed process counts nothing).
    pub async fn metric(&self, name: &str) -> f64 {
        match reqwest::get(format!("{}/metrics", self.http)).await {
            Ok(r) => metric_sum(&r.text().await.unwrap_or_default(), name, ""),
            Err(_) => 0.0,
        }
    }

    /// Its pid; panics when it has exited.
    pub fn pid(&self) -> u32 {
        self.child
            .id()
            .unwrap_or_else(|| panic!("{} has exited", self.name))
    }

    /// The last 30 lines of its log.
    pub fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

fn spawn(
    binary: &Path,
    config: &Path,
    env: &[(String, String)],
    log: &Path,
) -> tokio::process::Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("log file: {e}"));
    let err = out.try_clone().unwrap_or_else(|e| panic!("log file: {e}"));
    tokio::process::Command::new(binary)
        .arg("--config")
        .arg(config)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()))
}
