//! SMPP implementations this project did not write, for the interoperability tests
//! (`e2e/tests/interop.rs`): an SMSC and an ESME built on node-smpp
//! (`e2e/interop/node-smsc.js`, `node-esme.js`) and an ESME built on Python's smpplib
//! (`e2e/interop/smpplib-esme.py`).
//!
//! `.ci/tools.sh` installs both: node-smpp into `$HOME/.cache/smpp-connector/interop`
//! (`INTEROP_DIR` overrides) and smpplib with pip. Without them the tests say so and pass,
//! except under CI (`CI` set), where they fail.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The pinned node-smpp version (`.ci/tools.sh` installs it).
pub const NODE_SMPP_VERSION: &str = "0.5.1";
/// The pinned smpplib version (`.ci/tools.sh` installs it).
pub const SMPPLIB_VERSION: &str = "2.2.4";

/// Where `.ci/tools.sh` puts node-smpp: `INTEROP_DIR`, or `$HOME/.cache/smpp-connector/interop`.
pub fn interop_dir() -> PathBuf {
    std::env::var_os("INTEROP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/smpp-connector/interop")
        })
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("interop")
        .join(name)
}

/// `ok`, after printing why the test does nothing when it is `false` (a panic under CI).
fn available(what: &str, ok: bool) -> bool {
    if ok {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is missing and CI is set: run .ci/tools.sh"
    );
    eprintln!("SKIPPED: {what} is missing (run .ci/tools.sh)");
    false
}

/// Whether node and node-smpp are installed; prints the reason when not (panics under CI).
pub fn node_smpp_available() -> bool {
    let module = interop_dir().join("node_modules/smpp/package.json");
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    available(
        &format!("node with node-smpp in {}", module.display()),
        node && module.is_file(),
    )
}

/// Whether Python's smpplib is installed; prints the reason when not (panics under CI).
pub fn smpplib_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import smpplib"])
        .output()
        .is_ok_and(|o| o.status.success());
    available("python3 with smpplib", ok)
}

/// Writes the test PKI of `e2e/interop/make-certs.sh` into `dir` (ca.pem, server.pem/.key,
/// client.pem/.key, other-ca.pem).
pub fn make_certs(dir: &std::path::Path) {
    let status = std::process::Command::new("bash")
        .arg(script("make-certs.sh"))
        .arg(dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run make-certs.sh: {e}"));
    assert!(status.success(), "make-certs.sh failed: {status}");
}

/// Lines of JSON a child process printed, shared with a reader task.
#[derive(Clone, Default)]
pub struct EventLog(Arc<Mutex<Vec<Value>>>);

impl EventLog {
    /// A copy of the events so far.
    pub fn all(&self) -> Vec<Value> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The events whose `event` field is `kind`.
    pub fn of(&self, kind: &str) -> Vec<Value> {
        self.all()
            .into_iter()
            .filter(|e| e["event"] == kind)
            .collect()
    }

    /// Waits until `done` holds for the events, at most `timeout`.
    pub async fn wait(&self, timeout: Duration, done: impl Fn(&[Value]) -> bool) -> bool {
        crate::harness::eventually(timeout, || {
            let finished = done(&self.all());
            async move { finished.then_some(()) }
        })
        .await
        .is_some()
    }

    fn spawn_reader(&self, child: &mut Child) {
        let Some(stdout) = child.stdout.take() else {
            return;
        };
        let log = self.0.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let event = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({"event": "unparsed", "line": line}));
                if let Ok(mut v) = log.lock() {
                    v.push(event);
                }
            }
        });
    }
}

/// The node-smpp SMSC, killed on drop.
pub struct NodeSmsc {
    _child: Child,
    /// Its address.
    pub addr: std::net::SocketAddr,
    /// What it printed.
    pub events: EventLog,
}

impl NodeSmsc {
    /// Starts `e2e/interop/node-smsc.js` on a free port with one account; `extra` flags such
    /// as `--refuse-transceiver`.
    pub async fn start(system_id: &str, password: &str, extra: &[&str]) -> Self {
        let port = crate::harness::free_port();
        let mut child = Command::new("node")
            .arg(script("node-smsc.js"))
            .args(["--port", &port.to_string(), "--system-id", system_id])
            .args(["--password", password])
            .args(extra)
            .env("NODE_PATH", interop_dir().join("node_modules"))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node: {e}"));
        let events = EventLog::default();
        events.spawn_reader(&mut child);
        let listening = events
            .wait(Duration::from_secs(10), |e| {
                e.iter().any(|e| e["event"] == "listening")
            })
            .await;
        assert!(
            listening,
            "node-smpp SMSC did not start: {:?}",
            events.all()
        );
        Self {
            _child: child,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            events,
        }
    }
}

/// Runs `e2e/interop/smpplib-esme.py` against `addr` with `args` and returns the JSON summary
/// it prints, or its error output.
pub async fn run_smpplib_esme(
    addr: std::net::SocketAddr,
    args: &[&str],
    timeout: Duration,
) -> Result<Value, String> {
    let mut command = Command::new("python3");
    command
        .arg(script("smpplib-esme.py"))
        .args([
            "--host",
            &addr.ip().to_string(),
            "--port",
            &addr.port().to_string(),
        ])
        .args(args);
    summary_of(command, timeout).await
}

/// Runs `e2e/interop/node-esme.js` against `addr` with an account and returns the JSON
/// summary it prints, or its error output.
pub async fn run_node_esme(
    addr: std::net::SocketAddr,
    system_id: &str,
    password: &str,
    timeout: Duration,
) -> Result<Value, String> {
    let mut command = Command::new("node");
    command
        .arg(script("node-esme.js"))
        .args(["--port", &addr.port().to_string(), "--system-id", system_id])
        .args(["--password", password])
        .args(["--timeout-ms", &timeout.as_millis().to_string()])
        .env("NODE_PATH", interop_dir().join("node_modules"));
    summary_of(command, timeout + Duration::from_secs(5)).await
}

/// Runs a client script to its end and parses the JSON summary it prints on stdout.
async fn summary_of(mut command: Command, timeout: Duration) -> Result<Value, String> {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| format!("{command:?} still running after {timeout:?}"))?
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("{command:?} failed ({}): {stderr}", output.status));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("{command:?} printed no JSON summary ({e}): {stderr}"))
}
