//! A TCP proxy to simulate an outage of one dependency for one connector.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What a [`TcpProxy`] does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forwards both ways.
    Up,
    /// Closes every connection and accepts new ones only to close them.
    Down,
    /// Keeps connections open but holds back what the client sends.
    Frozen,
}

/// A TCP proxy on 127.0.0.1 to a target, to simulate a dependency outage for one connector.
pub struct TcpProxy {
    addr: SocketAddr,
    mode: watch::Sender<ProxyMode>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("proxy listen: {e}"),
        };
        let addr = listener.local_addr().unwrap_or(target);
        let (mode, rx) = watch::channel(ProxyMode::Up);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *rx.borrow() == ProxyMode::Down {
                    drop(client);
                    continue;
                }
                let rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        _ = pump(cr, sw, rx.clone(), true) => {}
                        _ = pump(sr, cw, rx.clone(), false) => {}
                    }
                });
            }
        });
        Self { addr, mode, task }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes what it does.
    pub fn set(&self, mode: ProxyMode) {
        let _ = self.mode.send(mode);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        let _ = self.mode.send(ProxyMode::Down);
        self.task.abort();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<ProxyMode>,
    client_side: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            _ = mode.wait_for(|m| *m == ProxyMode::Down) => return,
        };
        loop {
            let m = *mode.borrow_and_update();
            match m {
                ProxyMode::Down => return,
                ProxyMode::Frozen if client_side => {
                    if mode.changed().await.is_err() {
                        return;
                    }
                }
                _ => break,
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
