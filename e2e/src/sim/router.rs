//! Routes receipts and MO to the receiver sessions of their system_id (round-robin), and
//! keeps them while no receiver is bound.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use super::delivery::Delivery;
use super::faults::BreakAction;

/// Orders the simulator gives a session from outside its connection.
#[derive(Debug)]
pub enum SessionCmd {
    /// Send this deliver_sm.
    Deliver(Box<Delivery>),
    /// Break the connection now.
    Break(BreakAction),
    /// Send an unbind and close once it is answered.
    Unbind,
}

/// Identifies a session within a simulator.
pub type SessionId = u64;

#[derive(Debug, Default)]
struct Inner {
    receivers: HashMap<Arc<str>, Vec<(SessionId, mpsc::UnboundedSender<SessionCmd>)>>,
    next: HashMap<Arc<str>, usize>,
    pending: HashMap<Arc<str>, VecDeque<Delivery>>,
    sessions: HashMap<SessionId, mpsc::UnboundedSender<SessionCmd>>,
    bound: usize,
    peak_bound: usize,
    bound_by_account: HashMap<SessionId, Arc<str>>,
    per_account: HashMap<Arc<str>, usize>,
}

/// The registry of live sessions and the store of undeliverable-for-now deliveries.
#[derive(Debug)]
pub struct Router {
    inner: Mutex<Inner>,
    bound_tx: watch::Sender<usize>,
}

impl Default for Router {
    fn default() -> Self {
        Router {
            inner: Mutex::default(),
            bound_tx: watch::channel(0).0,
        }
    }
}

impl Router {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new connection.
    pub fn add_session(&self, id: SessionId, tx: mpsc::UnboundedSender<SessionCmd>) {
        self.lock().sessions.insert(id, tx);
    }

    /// Marks a session bound unless its system_id already holds `limit` binds (then
    /// `false`, and nothing changes); a receiver (RX or TRX) also starts getting
    /// deliveries, beginning with those kept for its system_id.
    pub fn bind(
        &self,
        id: SessionId,
        system_id: &Arc<str>,
        receives: bool,
        limit: Option<u32>,
    ) -> bool {
        let mut inner = self.lock();
        let held = inner.per_account.get(system_id).copied().unwrap_or(0);
        if limit.is_some_and(|max| held >= max as usize) {
            return false;
        }
        inner.per_account.insert(system_id.clone(), held + 1);
        inner.bound_by_account.insert(id, system_id.clone());
        inner.bound += 1;
        inner.peak_bound = inner.peak_bound.max(inner.bound);
        self.bound_tx.send_replace(inner.bound);
        if !receives {
            return true;
        }
        let Some(tx) = inner.sessions.get(&id).cloned() else {
            return true;
        };
        let pending = inner.pending.remove(system_id).unwrap_or_default();
        for d in pending {
            // The session is alive (it is binding right now); if it dies meanwhile, its
            // channel is drained and requeued when it unregisters.
            let _ = tx.send(SessionCmd::Deliver(Box::new(d)));
        }
        inner
            .receivers
            .entry(system_id.clone())
            .or_default()
            .push((id, tx));
        true
    }

    /// Removes a session (bound or not).
    pub fn remove_session(&self, id: SessionId, was_bound: bool) {
        let mut inner = self.lock();
        inner.sessions.remove(&id);
        if was_bound {
            inner.bound = inner.bound.saturating_sub(1);
            self.bound_tx.send_replace(inner.bound);
        }
        if let Some(account) = inner.bound_by_account.remove(&id) {
            if let Some(n) = inner.per_account.get_mut(&account) {
                *n = n.saturating_sub(1);
            }
        }
        for list in inner.receivers.values_mut() {
            list.retain(|(sid, _)| *sid != id);
        }
    }

    /// Sends `delivery` to the next receiver of its system_id, or keeps it.
    pub fn route(&self, delivery: Delivery) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut cmd = SessionCmd::Deliver(Box::new(delivery));
        if let Some(list) = inner.receivers.get_mut(&*system_id_of(&cmd)) {
            while !list.is_empty() {
                let slot = inner.next.entry(system_id_of(&cmd)).or_default();
                let i = *slot % list.len();
                *slot = i + 1;
                match list[i].1.send(cmd) {
                    Ok(()) => return,
                    Err(mpsc::error::SendError(back)) => {
                        list.remove(i);
                        cmd = back;
                    }
                }
            }
        }
        if let SessionCmd::Deliver(d) = cmd {
            inner
                .pending
                .entry(d.system_id.clone())
                .or_default()
                .push_back(*d);
        }
    }

    /// Sends `cmd` to every live session; returns how many got it.
    pub fn broadcast(&self, cmd: impl Fn() -> SessionCmd) -> usize {
        let inner = self.lock();
        inner
            .sessions
            .values()
            .filter(|tx| tx.send(cmd()).is_ok())
            .count()
    }

    /// Deliveries kept for `system_id` (all accounts if `None`).
    pub fn pending(&self, system_id: Option<&str>) -> usize {
        let inner = self.lock();
        match system_id {
            Some(s) => inner.pending.get(s).map_or(0, VecDeque::len),
            None => inner.pending.values().map(VecDeque::len).sum(),
        }
    }

    /// Sessions currently bound.
    pub fn bound_sessions(&self) -> usize {
        self.lock().bound
    }

    /// The most sessions ever bound at the same time.
    pub fn peak_bound(&self) -> usize {
        self.lock().peak_bound
    }

    /// Sessions bound now with `system_id`.
    pub fn bound_for(&self, system_id: &str) -> usize {
        self.lock().per_account.get(system_id).copied().unwrap_or(0)
    }

    /// Watches the number of bound sessions.
    pub fn watch_bound(&self) -> watch::Receiver<usize> {
        self.bound_tx.subscribe()
    }

    /// Live connections.
    pub fn sessions(&self) -> usize {
        self.lock().sessions.len()
    }
}

fn system_id_of(cmd: &SessionCmd) -> Arc<str> {
    match cmd {
        SessionCmd::Deliver(d) => d.system_id.clone(),
        _ => Arc::from(""),
    }
}
