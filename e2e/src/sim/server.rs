//! The listener: accepts connections (or refuses them, as the faults say) and runs a
//! session task for each.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::faults::RefuseMode;
use super::session;
use super::shared::Shared;
use super::stats::Stats;

/// Accepts connections on `listener` until the simulator is cancelled, then waits for the
/// sessions to end.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener, addr: SocketAddr) {
    let mut sessions = JoinSet::new();
    let mut faults_changed = shared.faults.watch();
    let mut listener = Some(listener);
    loop {
        let refuse = shared.faults.current().faults().refuse_connections;
        if refuse == Some(RefuseMode::Refuse) {
            // Closing the listening socket makes connects fail with "connection refused".
            listener = None;
        } else if listener.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "cannot listen again; retrying on the next fault change");
                }
            }
        }
        tokio::select! {
            _ = shared.cancel.cancelled() => break,
            changed = faults_changed.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            accepted = accept(listener.as_ref()) => match accepted {
                Ok((stream, _peer)) => {
                    if refuse == Some(RefuseMode::AcceptAndClose) {
                        Stats::bump(&shared.stats.events.connections_refused);
                        drop(stream);
                        continue;
                    }
                    Stats::bump(&shared.stats.events.connections);
                    let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
                    sessions.spawn(session::run(shared.clone(), stream, id));
                }
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    while sessions.join_next().await.is_some() {}
}

async fn accept(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}
