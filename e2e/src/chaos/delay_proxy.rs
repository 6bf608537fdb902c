//! A TCP proxy that delays every chunk it forwards (both ways) by a settable latency, keeping
//! the order: the `smsc-latency` fault, used where `tc netem` is not available (see
//! [`super::netem::probe`]). TCP keeps loss out of sight of the connector anyway (a lost
//! segment is a retransmission, i.e. a delay), so latency is what the connector can see.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Forwards 127.0.0.1:port to a target with an added one-way latency.
pub struct DelayProxy {
    addr: SocketAddr,
    delay_ms: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl DelayProxy {
    /// Starts forwarding to `target` without delay.
    pub async fn start(target: SocketAddr) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("delay proxy listen: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("delay proxy: {e}"))?;
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        let delay = delay.clone();
                        conns.spawn(async move {
                            let Ok(server) = TcpStream::connect(target).await else {
                                return;
                            };
                            let _ = client.set_nodelay(true);
                            let _ = server.set_nodelay(true);
                            let (cr, cw) = client.into_split();
                            let (sr, sw) = server.into_split();
                            tokio::select! {
                                _ = pipe(cr, sw, delay.clone()) => {}
                                _ = pipe(sr, cw, delay) => {}
                            }
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Self {
            addr,
            delay_ms,
            task,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the one-way latency added to every chunk from now on.
    pub fn set_delay(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::Relaxed);
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

/// Reads chunks from `from` and writes each to `to` once its due time came: read time plus the
/// latency in force when it was read, never before an earlier chunk (order kept).
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay_ms: Arc<AtomicU64>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut last = Instant::now();
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let d = Duration::from_millis(delay_ms.load(Ordering::Relaxed));
            let due = (Instant::now() + d).max(last);
            last = due;
            if tx.send((due, buf[..n].to_vec())).is_err() {
                return;
            }
        }
    };
    // The writer ends after the reader (its sender dropped) once it wrote what was read.
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_are_delayed_in_order() {
        let echo = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let target = echo.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            if let Ok((mut s, _)) = echo.accept().await {
                let mut b = [0u8; 1024];
                while let Ok(n) = s.read(&mut b).await {
                    if n == 0 || s.write_all(&b[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        let proxy = DelayProxy::start(target)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut c = TcpStream::connect(proxy.addr())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut got = [0u8; 2];
        let t = Instant::now();
        c.write_all(b"a").await.unwrap_or_else(|e| panic!("{e}"));
        c.read_exact(&mut got[..1])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(t.elapsed() < Duration::from_millis(100));
        proxy.set_delay(Duration::from_millis(150));
        let t = Instant::now();
        c.write_all(b"b").await.unwrap_or_else(|e| panic!("{e}"));
        c.write_all(b"c").await.unwrap_or_else(|e| panic!("{e}"));
        c.read_exact(&mut got)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // 150 ms each way.
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(&got, b"bc");
    }
}
