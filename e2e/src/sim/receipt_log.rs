//! What happened to each receipt the simulator planned: written how often, answered how,
//! kept undelivered. Kept with the submit capture (same limit), so a test that finds a
//! receipt missing can tell whether the SMSC or the ESME lost it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The fate of one message's receipt, as the simulator saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiptFate {
    /// deliver_sm written for it (copies and redeliveries included).
    pub written: u32,
    /// deliver_sm_resp with ESME_ROK.
    pub acked: u32,
    /// Answered with an error status (or generic_nack).
    pub refused: u32,
    /// Handed back to the router unanswered (the connection ended first).
    pub requeued: u32,
}

impl std::fmt::Display for ReceiptFate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "written {}, acked {}, refused {}, requeued {}",
            self.written, self.acked, self.refused, self.requeued
        )
    }
}

#[derive(Debug, Default)]
struct Inner {
    fates: HashMap<String, ReceiptFate>,
    order: VecDeque<String>,
}

/// Receipt fates by SMSC message id, the newest `limit`.
#[derive(Debug)]
pub struct ReceiptLog {
    limit: usize,
    inner: Mutex<Inner>,
}

impl ReceiptLog {
    /// Keeps the fates of at most `limit` receipts.
    pub fn new(limit: usize) -> Self {
        ReceiptLog {
            limit,
            inner: Mutex::default(),
        }
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut ReceiptFate)) {
        if self.limit == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *inner;
        if let Some(fate) = inner.fates.get_mut(id) {
            f(fate);
            return;
        }
        if inner.order.len() >= self.limit {
            if let Some(old) = inner.order.pop_front() {
                inner.fates.remove(&old);
            }
        }
        let mut fate = ReceiptFate::default();
        f(&mut fate);
        inner.fates.insert(id.to_string(), fate);
        inner.order.push_back(id.to_string());
    }

    /// A deliver_sm for `id` was written.
    pub fn written(&self, id: &str) {
        self.update(id, |f| f.written += 1);
    }

    /// The ESME answered the deliver_sm for `id`.
    pub fn answered(&self, id: &str, ok: bool) {
        self.update(id, |f| match ok {
            true => f.acked += 1,
            false => f.refused += 1,
        });
    }

    /// The deliver_sm for `id` went back to the router unanswered.
    pub fn requeued(&self, id: &str) {
        self.update(id, |f| f.requeued += 1);
    }

    /// The fate of `id`'s receipt (`None`: never written, or forgotten past the limit).
    pub fn fate(&self, id: &str) -> Option<ReceiptFate> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.fates.get(id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fates_add_up_per_id_and_the_oldest_is_forgotten_past_the_limit() {
        let log = ReceiptLog::new(2);
        log.written("a");
        log.requeued("a");
        log.written("a");
        log.answered("a", true);
        log.written("b");
        log.answered("b", false);
        let a = log.fate("a");
        assert_eq!(
            a,
            Some(ReceiptFate {
                written: 2,
                acked: 1,
                refused: 0,
                requeued: 1
            })
        );
        assert_eq!(log.fate("b").map(|f| f.refused), Some(1));
        log.written("c");
        assert_eq!(log.fate("a"), None);
        assert_eq!(log.fate("c").map(|f| f.written), Some(1));
        assert_eq!(ReceiptLog::new(0).fate("x"), None);
    }
}
