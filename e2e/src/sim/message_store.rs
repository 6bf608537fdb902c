//! The last submitted messages, so that query_sm can report their state and cancel_sm and
//! replace_sm can act on those still pending.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::message_id::MessageKey;
use super::outcome::Outcome;

/// What is known about one message.
#[derive(Debug, Clone, Copy)]
pub struct MessageRecord {
    /// When its final state is reached.
    pub final_at: Instant,
    /// The same moment in wall-clock time.
    pub final_date: DateTime<Utc>,
    /// Its final state.
    pub outcome: Outcome,
    /// Cancelled by cancel_sm before its final state (then final at the cancel, state
    /// DELETED, and no receipt).
    pub cancelled: bool,
}

impl MessageRecord {
    /// Whether the message is still pending at `now` (neither final nor cancelled).
    pub fn pending(&self, now: Instant) -> bool {
        !self.cancelled && now < self.final_at
    }
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<MessageKey, MessageRecord>,
    order: VecDeque<MessageKey>,
}

/// A bounded map from message key to record (oldest forgotten first).
#[derive(Debug)]
pub struct MessageStore {
    limit: usize,
    inner: Mutex<Inner>,
}

impl MessageStore {
    /// Remembers at most `limit` messages (0: none).
    pub fn new(limit: usize) -> Self {
        MessageStore {
            limit,
            inner: Mutex::default(),
        }
    }

    /// Whether the store keeps anything.
    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Remembers a message.
    pub fn insert(&self, key: MessageKey, record: MessageRecord) {
        if self.limit == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.order.len() >= self.limit {
            if let Some(old) = inner.order.pop_front() {
                inner.map.remove(&old);
            }
        }
        inner.order.push_back(key);
        inner.map.insert(key, record);
    }

    /// The record of a message, if remembered.
    pub fn get(&self, key: MessageKey) -> Option<MessageRecord> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.map.get(&key).copied()
    }

    /// Cancels a message that is still pending at `now`; `false` when it is unknown, final
    /// or already cancelled.
    pub fn cancel(&self, key: MessageKey, now: Instant) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match inner.map.get_mut(&key) {
            Some(r) if r.pending(now) => {
                r.cancelled = true;
                r.final_at = now;
                r.final_date = chrono::Utc::now();
                true
            }
            _ => false,
        }
    }

    /// Whether a message was cancelled (its receipt is then not sent).
    pub fn is_cancelled(&self, key: MessageKey) -> bool {
        self.get(key).is_some_and(|r| r.cancelled)
    }
}
