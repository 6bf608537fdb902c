//! The hand-out board of a bind pool: which bind takes the next queued submit.
//!
//! Every sending bind shows its *offer*: its free window places while it can write now
//! (bound, not draining, not held back by the pacer or `throttle.perBindTps`), else 0. A bind
//! takes a queued submit only while no other bind offers more (by more than a quarter of the
//! window); otherwise it *declines* and leaves the submit to the bind with the most free
//! window. So the pool spreads its submits
//! by free window instead of the first bind to wake taking them all.
//!
//! A declining bind is never left waiting beside a submit another bind could take: a bind
//! whose offer drops (it took a submit, filled up, was paused, or ended) wakes every declining
//! bind that would now take, and that bind looks again. The offer is stored before
//! the declining flags are read, and a flag before the offers are read (both sequentially
//! consistent), so one of the two sides always sees the other.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use tokio::sync::Notify;

/// One bind's place on the board.
#[derive(Debug, Default)]
struct Slot {
    offer: AtomicU32,
    declining: AtomicBool,
    wake: Notify,
}

/// The board of one pool: one slot per bind.
#[derive(Debug)]
pub(crate) struct Board {
    slots: Vec<Slot>,
    /// A bind takes while it has more free places than every other bind less this: a
    /// quarter of the window (at least 1, ties take), so that an awake bind takes a few
    /// submits in a row instead of handing over after each one.
    slack: u32,
}

impl Board {
    /// A board for `binds` binds of `window` places each, every offer 0.
    pub(crate) fn new(binds: usize, window: usize) -> Arc<Self> {
        Arc::new(Self {
            slots: (0..binds.max(1)).map(|_| Slot::default()).collect(),
            slack: u32::try_from(window / 4).unwrap_or(u32::MAX).max(1),
        })
    }

    /// The seat of bind `index` (clamped to the board).
    pub(crate) fn seat(self: &Arc<Self>, index: usize) -> Seat {
        Seat {
            board: self.clone(),
            index: index.min(self.slots.len() - 1),
        }
    }
}

/// What one sending link holds of the board.
#[derive(Clone, Debug)]
pub(crate) struct Seat {
    board: Arc<Board>,
    index: usize,
}

impl Seat {
    /// The bind's index in the pool.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    fn me(&self) -> &Slot {
        &self.board.slots[self.index]
    }

    fn others(&self) -> impl Iterator<Item = &Slot> {
        self.board
            .slots
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i != self.index)
            .map(|(_, s)| s)
    }

    /// Shows `offer` (free places while able to write now, else 0). A lower offer than before
    /// wakes the declining binds that offer at least as much now.
    pub(crate) fn publish(&self, offer: u32) {
        let before = self.me().offer.swap(offer, SeqCst);
        if offer >= before {
            return;
        }
        for other in self.others() {
            let theirs = other.offer.load(SeqCst).saturating_add(self.board.slack);
            if other.declining.load(SeqCst) && theirs > offer {
                other.wake.notify_one();
            }
        }
    }

    /// Whether this bind, with `free` places and able to write now, takes the next queued
    /// submit: no other bind offers as many as `free` + the board's slack. Otherwise it is marked declining (and woken when
    /// that changes). Also publishes `free` as the offer.
    pub(crate) fn may_take(&self, free: u32) -> bool {
        if free == 0 {
            self.decline();
            return false;
        }
        let me = self.me();
        me.declining.store(true, SeqCst);
        self.publish(free);
        let best = self
            .others()
            .map(|s| s.offer.load(SeqCst))
            .max()
            .unwrap_or(0);
        let take = free.saturating_add(self.board.slack) > best;
        if take {
            me.declining.store(false, SeqCst);
        }
        take
    }

    /// Not able to write now: offers nothing, takes nothing.
    pub(crate) fn decline(&self) {
        self.me().declining.store(false, SeqCst);
        self.publish(0);
    }

    /// Resolves when another bind's offer dropped to this one's + slack or below (a spurious wake is
    /// possible: look again).
    pub(crate) async fn woken(&self) {
        self.me().wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_bind_with_the_most_free_window_takes_and_ties_take_too() {
        let board = Board::new(3, 16);
        let (a, b, c) = (board.seat(0), board.seat(1), board.seat(2));
        assert!(a.may_take(16));
        assert!(b.may_take(16), "a tie takes");
        assert!(c.may_take(13), "within the slack (4) of the best");
        assert!(!c.may_take(12), "4 fewer free places than another bind");
        assert!(a.may_take(16));
        // Without slack (a small window) only ties take.
        let tight = Board::new(2, 3);
        assert!(tight.seat(0).may_take(3));
        assert!(!tight.seat(1).may_take(2));
        // One bind alone always takes while it has room.
        let single = Board::new(1, 16).seat(0);
        assert!(single.may_take(1));
        assert!(!single.may_take(0));
    }

    #[tokio::test]
    async fn a_declining_bind_is_woken_when_the_better_bind_fills_up_or_stops() {
        let board = Board::new(2, 4);
        let (full, low) = (board.seat(0), board.seat(1));
        assert!(full.may_take(16));
        assert!(!low.may_take(4));
        // The better bind takes down to 4 free places: the declining one is woken.
        full.publish(5);
        let early = tokio::time::timeout(Duration::from_millis(20), low.woken()).await;
        assert!(early.is_err(), "not woken while the other offers more");
        full.publish(4);
        tokio::time::timeout(Duration::from_secs(1), low.woken())
            .await
            .expect("woken at a tie");
        assert!(low.may_take(4));
        // A bind that ends (offer 0) wakes the declining ones.
        assert!(full.may_take(16));
        assert!(!low.may_take(3));
        full.decline();
        tokio::time::timeout(Duration::from_secs(1), low.woken())
            .await
            .expect("woken when the other stops");
        assert!(low.may_take(3));
    }
}
