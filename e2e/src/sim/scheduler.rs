//! Holds deliveries until they are due, then hands them to the [`Router`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::delivery::{Delivery, DeliveryKind};
use super::message_store::MessageStore;
use super::router::Router;

struct Due {
    at: Instant,
    order: u64,
    delivery: Delivery,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// Schedules deliveries for later.
#[derive(Debug, Clone)]
pub struct Scheduler {
    tx: mpsc::UnboundedSender<(Instant, Delivery)>,
    router: Arc<Router>,
}

impl Scheduler {
    /// Starts the scheduling task; it stops with `cancel`.
    pub fn start(
        router: Arc<Router>,
        messages: Arc<MessageStore>,
        cancel: CancellationToken,
    ) -> Scheduler {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, router.clone(), messages, cancel));
        Scheduler { tx, router }
    }

    /// Routes `delivery` at `at` (at once if due).
    pub fn schedule(&self, at: Instant, delivery: Delivery) {
        if at <= Instant::now() {
            self.router.route(delivery);
        } else if let Err(mpsc::error::SendError((_, d))) = self.tx.send((at, delivery)) {
            // The simulator is shutting down: keep it with the router anyway.
            self.router.route(d);
        }
    }
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<(Instant, Delivery)>,
    router: Arc<Router>,
    messages: Arc<MessageStore>,
    cancel: CancellationToken,
) {
    let mut heap: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut order = 0u64;
    loop {
        let next = heap.peek().map(|Reverse(d)| d.at);
        tokio::select! {
            _ = cancel.cancelled() => return,
            item = rx.recv() => match item {
                Some((at, delivery)) => {
                    order += 1;
                    heap.push(Reverse(Due { at, order, delivery }));
                }
                None => return,
            },
            _ = sleep_until(next) => {
                let now = Instant::now();
                while heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
                    if let Some(Reverse(due)) = heap.pop() {
                        // A message cancelled by cancel_sm gets no receipt.
                        let cancelled = matches!(&due.delivery.kind,
                            DeliveryKind::Receipt(r) if messages.is_cancelled(r.message_id.key()));
                        if !cancelled {
                            router.route(due.delivery);
                        }
                    }
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
