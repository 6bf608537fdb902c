//! Liveness of a connection: enquire_link after a quiet period, its response timeout, and a
//! read-idle timeout that catches half-open connections.

use std::time::Duration;

use tokio::time::Instant;

/// Why a connection was declared dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dead {
    /// No enquire_link_resp within the timeout.
    EnquireLinkTimeout,
    /// Nothing read for the read-idle timeout.
    ReadIdle,
}

/// What the connection should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    Wait,
    /// Send an enquire_link.
    EnquireLink,
    /// Close the connection.
    Dead(Dead),
}

/// Heartbeat timers of one connection.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    read_idle: Duration,
    last_read: Instant,
    awaiting: Option<(u32, Instant)>,
}

impl Heartbeat {
    /// enquire_link after `interval` without reading anything, dead after `timeout` without
    /// its response or after `read_idle` without reading anything.
    pub fn new(interval: Duration, timeout: Duration, read_idle: Duration, now: Instant) -> Self {
        Self {
            interval,
            timeout,
            read_idle,
            last_read: now,
            awaiting: None,
        }
    }

    /// A PDU was read.
    pub fn on_read(&mut self, now: Instant) {
        self.last_read = now;
    }

    /// An enquire_link with `seq` was sent.
    pub fn on_enquire_link_sent(&mut self, seq: u32, now: Instant) {
        self.awaiting = Some((seq, now + self.timeout));
    }

    /// A response (enquire_link_resp or generic_nack) with `seq` arrived; returns whether it
    /// answered our enquire_link.
    pub fn on_response(&mut self, seq: u32) -> bool {
        if self.awaiting.is_some_and(|(s, _)| s == seq) {
            self.awaiting = None;
            true
        } else {
            false
        }
    }

    /// What to do at `now`.
    pub fn poll(&self, now: Instant) -> Action {
        if let Some((_, deadline)) = self.awaiting {
            if now >= deadline {
                return Action::Dead(Dead::EnquireLinkTimeout);
            }
        }
        if now.duration_since(self.last_read) >= self.read_idle {
            return Action::Dead(Dead::ReadIdle);
        }
        if self.awaiting.is_none() && now.duration_since(self.last_read) >= self.interval {
            return Action::EnquireLink;
        }
        Action::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[tokio::test(start_paused = true)]
    async fn enquire_link_after_quiet_period_then_dead_without_answer() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(secs(30), secs(10), secs(90), t0);
        assert_eq!(hb.poll(t0 + secs(29)), Action::Wait);
        assert_eq!(hb.poll(t0 + secs(30)), Action::EnquireLink);
        hb.on_enquire_link_sent(5, t0 + secs(30));
        assert_eq!(hb.poll(t0 + secs(39)), Action::Wait);
        assert_eq!(
            hb.poll(t0 + secs(40)),
            Action::Dead(Dead::EnquireLinkTimeout)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_keeps_the_link_alive() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(secs(30), secs(10), secs(90), t0);
        hb.on_enquire_link_sent(5, t0 + secs(30));
        assert!(!hb.on_response(6));
        hb.on_read(t0 + secs(31));
        assert!(hb.on_response(5));
        assert_eq!(hb.poll(t0 + secs(45)), Action::Wait);
        assert_eq!(hb.poll(t0 + secs(61)), Action::EnquireLink);
    }

    #[tokio::test(start_paused = true)]
    async fn read_idle_catches_half_open_connections() {
        let t0 = Instant::now();
        let hb = Heartbeat::new(secs(300), secs(10), secs(90), t0);
        assert_eq!(hb.poll(t0 + secs(90)), Action::Dead(Dead::ReadIdle));
    }
}
