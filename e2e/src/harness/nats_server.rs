//! A private, restartable NATS server.

use std::time::Duration;

use super::env::{eventually, free_port};
use super::temp_dir::TempDir;

/// A private `nats-server -js` on a random port with its own store, restartable.
pub struct NatsServer {
    port: u16,
    dir: TempDir,
    child: Option<tokio::process::Child>,
}

impl NatsServer {
    /// Starts it and waits until it accepts connections.
    pub async fn start() -> Self {
        let dir = TempDir::new().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let mut s = Self {
            port: free_port(),
            dir,
            child: None,
        };
        s.spawn().await;
        s
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = tokio::process::Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        match child {
            Ok(c) => self.child = Some(c),
            Err(e) => panic!("nats-server: {e}"),
        }
        let url = self.url();
        let up = eventually(Duration::from_secs(10), || async {
            async_nats::connect(&url).await.ok().map(|_| ())
        })
        .await;
        assert!(up.is_some(), "private nats-server did not come up");
    }

    /// Kills it (SIGKILL) and waits for the exit.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }

    /// Starts it again on the same port and store.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}
