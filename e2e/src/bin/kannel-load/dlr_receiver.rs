//! A tiny HTTP server that Kannel's smsbox calls for every delivery report (`dlr-url`):
//! `GET /dlr?n={message number}&t={Kannel's %d}`. It counts each message's final report once.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tokio::sync::watch;

/// Kannel's delivery report types (`%d`) that end a message: 1 delivered, 2 failed,
/// 16 rejected by the SMSC.
const FINAL_TYPES: [u8; 3] = [1, 2, 16];

/// The query string of a callback.
#[derive(Debug, Deserialize)]
struct Callback {
    n: u64,
    t: u8,
}

/// The `dlr-url` of message number `n` for a receiver listening on `addr`; Kannel replaces `%d`
/// with the report type.
pub fn dlr_url(addr: SocketAddr, n: u64) -> String {
    format!("http://{addr}/dlr?n={n}&t=%d")
}

/// Counts of the reports received so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages with a final report, counted once each.
    pub finals: u64,
    /// Reports by Kannel type (every callback, duplicates included).
    pub by_type: BTreeMap<u8, u64>,
    /// Final reports for a message that already had one.
    pub duplicates: u64,
    /// When the last new final report arrived.
    pub last_final_at: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    tally: Tally,
    final_of: HashMap<u64, u8>,
}

/// Shared state of the receiver.
#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    finals_tx: Arc<watch::Sender<u64>>,
}

impl Shared {
    fn record(&self, cb: &Callback) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        *inner.tally.by_type.entry(cb.t).or_default() += 1;
        if !FINAL_TYPES.contains(&cb.t) {
            return;
        }
        if inner.final_of.insert(cb.n, cb.t).is_some() {
            inner.tally.duplicates += 1;
            return;
        }
        inner.tally.finals += 1;
        inner.tally.last_final_at = Some(Instant::now());
        let finals = inner.tally.finals;
        drop(inner);
        self.finals_tx.send_replace(finals);
    }
}

/// A running receiver.
pub struct DlrReceiver {
    addr: SocketAddr,
    shared: Shared,
    finals_rx: watch::Receiver<u64>,
    server: tokio::task::JoinHandle<()>,
}

impl DlrReceiver {
    /// Starts listening on `listen` (port 0: any free port).
    pub async fn start(listen: SocketAddr) -> std::io::Result<Self> {
        let (finals_tx, finals_rx) = watch::channel(0);
        let shared = Shared {
            inner: Arc::default(),
            finals_tx: Arc::new(finals_tx),
        };
        let app = Router::new()
            .route("/dlr", get(callback))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("kannel-load: DLR receiver stopped: {e}");
            }
        });
        Ok(DlrReceiver {
            addr,
            shared,
            finals_rx,
            server,
        })
    }

    /// The address the receiver listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until `expected` messages have their final report, or `deadline` passes.
    pub async fn wait_finals(&mut self, expected: u64, deadline: tokio::time::Instant) -> bool {
        let wait = self.finals_rx.wait_for(|n| *n >= expected);
        matches!(tokio::time::timeout_at(deadline, wait).await, Ok(Ok(_)))
    }

    /// The counts so far.
    pub fn tally(&self) -> Tally {
        self.shared
            .inner
            .lock()
            .map(|i| i.tally.clone())
            .unwrap_or_default()
    }
}

impl Drop for DlrReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn callback(
    State(shared): State<Shared>,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> StatusCode {
    match query {
        Ok(Query(cb)) => {
            shared.record(&cb);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn call(client: &reqwest::Client, base: &str, query: &str) -> u16 {
        client
            .get(format!("{base}?{query}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn counts_each_message_once_and_only_final_reports() {
        let mut rx = DlrReceiver::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let base = format!("http://{}/dlr", rx.addr());
        let client = reqwest::Client::new();
        assert_eq!(call(&client, &base, "n=1&t=8").await, 200);
        assert_eq!(call(&client, &base, "n=1&t=1").await, 200);
        assert_eq!(call(&client, &base, "n=1&t=1").await, 200);
        assert_eq!(call(&client, &base, "n=2&t=2").await, 200);
        assert_eq!(call(&client, &base, "n=x&t=1").await, 400);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        assert!(rx.wait_finals(2, deadline).await);
        let t = rx.tally();
        assert_eq!(t.finals, 2);
        assert_eq!(t.duplicates, 1);
        assert_eq!(t.by_type, BTreeMap::from([(1, 2), (2, 1), (8, 1)]));
        assert!(t.last_final_at.is_some());
    }

    #[tokio::test]
    async fn waiting_for_more_than_arrives_times_out() {
        let mut rx = DlrReceiver::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        assert!(!rx.wait_finals(1, deadline).await);
    }

    #[tokio::test]
    async fn the_dlr_url_carries_the_number_and_kannels_type_placeholder() {
        let rx = DlrReceiver::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let url = dlr_url(rx.addr(), 42);
        assert!(url.starts_with("http://127.0.0.1:"));
        assert!(url.ends_with("/dlr?n=42&t=%d"));
    }
}
