//! The last submitted messages, so that query_sm can report their state.

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
}
