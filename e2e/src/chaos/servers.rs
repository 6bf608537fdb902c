//! Private PostgreSQL and Redis servers for the faults that really stop them: each on a port and
//! in a data directory of its own under `$TMPDIR`, so that the machine's shared servers are never
//! touched. [`PgServer`] is stopped and started with `pg_ctl` (as the `postgres` user when the
//! suite runs as root: PostgreSQL refuses to run as root); [`RedisServer`] is killed with SIGKILL
//! and started again (no persistence: a restarted Redis is empty, as a cache restart is).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::harness::{eventually, free_port};

/// How long a server may take to accept connections.
const UP_TIMEOUT: Duration = Duration::from_secs(30);

/// A directory removed on drop (created world-readable so that `postgres` can own a part).
#[derive(Debug)]
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(tag: &str) -> Result<Self, String> {
        let p = std::env::temp_dir().join(format!("chaos-{tag}-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(Self(p))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether this process runs as root (`Uid:` of `/proc/self/status`).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`: `pg_config --bindir`, else the
/// newest `/usr/lib/postgresql/*/bin`.
fn pg_bindir() -> Result<PathBuf, String> {
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && dir.join("pg_ctl").exists() && dir.join("postgres").exists() {
            return Ok(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no PostgreSQL binaries (pg_config, /usr/lib/postgresql): {e}"))?
        .flatten()
        .map(|d| d.path().join("bin"))
        .filter(|b| b.join("pg_ctl").exists())
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| "no PostgreSQL binaries under /usr/lib/postgresql".into())
}

/// A PostgreSQL server of the suite's own (`initdb` in a temporary directory).
#[derive(Debug)]
pub struct PgServer {
    port: u16,
    bindir: PathBuf,
    data: PathBuf,
    log: PathBuf,
    as_postgres: bool,
    running: bool,
    _dir: ScratchDir,
}

/// How to stop PostgreSQL (`pg_ctl stop -m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgStop {
    /// `fast`: the server ends every session (FATAL to clients), checkpoints, exits.
    Fast,
    /// `immediate`: the postmaster kills every backend; the next start runs WAL recovery.
    Immediate,
}

impl PgServer {
    /// `initdb`, start, and a database `chaos`; trust authentication on 127.0.0.1 only.
    pub async fn start() -> Result<Self, String> {
        let bindir = pg_bindir()?;
        let dir = ScratchDir::new("pg")?;
        let as_postgres = running_as_root();
        let data = dir.0.join("data");
        let log = dir.0.join("postgres.log");
        if as_postgres {
            // The data directory and the log belong to `postgres`; the socket goes there too.
            std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
            let chown = std::process::Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(&dir.0)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !chown.success() {
                return Err(format!("chown postgres {}: {chown}", dir.0.display()));
            }
        }
        let mut s = Self {
            port: free_port(),
            bindir,
            data,
            log,
            as_postgres,
            running: false,
            _dir: dir,
        };
        s.run_tool(
            "initdb",
            &[
                "-D",
                &s.data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )
        .await?;
        s.start_again().await?;
        let admin = s.url("postgres");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin)
            .await
            .map_err(|e| format!("private PostgreSQL: {e}"))?;
        sqlx::query("CREATE DATABASE chaos")
            .execute(&pool)
            .await
            .map_err(|e| format!("create database chaos: {e}"))?;
        pool.close().await;
        Ok(s)
    }

    /// The URL of `database` on it.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The URL of the run's database.
    pub fn chaos_url(&self) -> String {
        self.url("chaos")
    }

    fn socket_dir(&self) -> &Path {
        self.data.parent().unwrap_or(&self.data)
    }

    async fn run_tool(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bindir.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = tokio::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            tokio::process::Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("{tool}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: String = err.lines().rev().take(3).collect::<Vec<_>>().join(" / ");
            Err(format!("{tool} {}: {tail}", out.status))
        }
    }

    /// Starts the server on its data directory and port (`pg_ctl start -w`).
    pub async fn start_again(&mut self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=60",
            self.port,
            self.socket_dir().display()
        );
        self.run_tool(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-l",
                &self.log.display().to_string(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .await?;
        self.running = true;
        let url = self.url("postgres");
        let up = eventually(UP_TIMEOUT, || async {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(2))
                .connect(&url)
                .await
                .ok()?;
            pool.close().await;
            Some(())
        })
        .await;
        up.ok_or_else(|| "private PostgreSQL did not accept connections".to_string())
    }

    /// Stops the server (`pg_ctl stop -m fast|immediate -w`).
    pub async fn stop(&mut self, mode: PgStop) -> Result<(), String> {
        let m = match mode {
            PgStop::Fast => "fast",
            PgStop::Immediate => "immediate",
        };
        self.run_tool(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-m",
                m,
                "-w",
                "-t",
                "60",
                "stop",
            ],
        )
        .await?;
        self.running = false;
        Ok(())
    }

    /// Whether the last start of the server logged a WAL recovery (after an immediate stop).
    pub fn recovered(&self) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|l| {
            l.contains("database system was not properly shut down") || l.contains("redo starts at")
        })
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if !self.running {
            return;
        }
        let exe = self.bindir.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let _ = cmd
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A `redis-server` of the suite's own, without persistence.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<tokio::process::Child>,
    _dir: ScratchDir,
}

impl RedisServer {
    /// Starts it on a free port and waits until it answers PING.
    pub async fn start() -> Result<Self, String> {
        let mut s = Self {
            port: free_port(),
            child: None,
            _dir: ScratchDir::new("redis")?,
        };
        s.spawn().await?;
        Ok(s)
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self._dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("redis-server: {e}"))?;
        self.child = Some(child);
        let url = self.url();
        let up = eventually(UP_TIMEOUT, || async {
            let client = redis::Client::open(url.as_str()).ok()?;
            let mut c = tokio::time::timeout(
                Duration::from_secs(1),
                client.get_multiplexed_async_connection(),
            )
            .await
            .ok()?
            .ok()?;
            redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        up.ok_or_else(|| "private redis-server did not answer PING".to_string())
    }

    /// Kills it with SIGKILL and waits for the exit.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// Starts it again on the same port (empty: nothing was persisted).
    pub async fn start_again(&mut self) -> Result<(), String> {
        self.kill().await;
        self.spawn().await
    }
}
