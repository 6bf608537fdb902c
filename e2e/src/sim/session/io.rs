//! The socket's writing side: a writer task fed with encoded batches, and a delayer that
//! holds responses back until they are due.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the writer task is told.
#[derive(Debug)]
pub enum WriterMsg {
    /// Write these octets.
    Data(Bytes),
    /// Never write again, but keep the socket open (half-open fault).
    Silence,
}

/// Writes batches in order until the channel closes or the socket fails.
pub async fn writer(stream: Arc<TcpStream>, mut rx: mpsc::Receiver<WriterMsg>) {
    while let Some(msg) = rx.recv().await {
        let mut data = match msg {
            WriterMsg::Data(d) => d,
            WriterMsg::Silence => {
                // Hold the socket until the session drops the channel.
                while rx.recv().await.is_some() {}
                return;
            }
        };
        while !data.is_empty() {
            if stream.writable().await.is_err() {
                return;
            }
            match stream.try_write(&data) {
                Ok(n) => data.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }
}

/// Forwards each batch to the writer when its time comes.
pub async fn delayer(
    mut rx: mpsc::UnboundedReceiver<(Instant, Bytes)>,
    writer: mpsc::Sender<WriterMsg>,
) {
    let mut heap: BinaryHeap<Reverse<(Instant, u64, Bytes)>> = BinaryHeap::new();
    let mut order = 0u64;
    loop {
        let next = heap.peek().map(|Reverse((at, _, _))| *at);
        tokio::select! {
            item = rx.recv() => match item {
                Some((at, bytes)) => {
                    order += 1;
                    heap.push(Reverse((at, order, bytes)));
                }
                None => return,
            },
            _ = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let now = Instant::now();
                while heap.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
                    if let Some(Reverse((_, _, bytes))) = heap.pop() {
                        if writer.send(WriterMsg::Data(bytes)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}
