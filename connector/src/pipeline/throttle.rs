//! TPS limit shared by every replica of an operator's connector: a sliding window in Redis.
//!
//! # Algorithm
//! Grants are counted in Redis under `tps:{operatorId}:{bucketStart}` keys, one per
//! [`ThrottleSettings::bucket`] (10 ms; `bucketStart` in epoch milliseconds, TTL a few
//! windows). One Lua script, atomic in Redis, reads the buckets covering the last
//! `window + hold` milliseconds of Redis's own clock, grants `min(want, limit - used)` permits
//! and adds them to the current bucket; when it cannot grant everything it also says when the
//! oldest counted bucket leaves the window, so that callers sleep instead of polling.
//!
//! A caller must use its permits (hand the PDUs to the socket) within `hold` of sending the
//! request ([`Permits::valid_until`]); unused ones are simply dropped. Then a submit made at `x`
//! used a permit granted at `g` with `x - hold <= g <= x`, so the submits of any 1-second
//! window `[s, s+1s]` were granted within `[s - hold, s + 1s]`; at the last of those grants the
//! script counted everything granted since `g - 1s - hold`, a superset, and kept the total at
//! most `limit`. No 1-second window at the SMSC sees more than `limit` submits, whatever the
//! number of replicas; the cost is a steady rate of at most `limit * 1s / (1s + hold + bucket)`
//! (97% with the defaults).
//!
//! # Redis unreachable
//! The limiter keeps a local log of its own grants. When Redis fails (or does not answer within
//! [`ThrottleSettings::redis_timeout`]) it goes on with the same sliding window over that local
//! log, at the full limit — the deployment model is one connector replica per operator, so this
//! keeps the guarantee; with several replicas each could reach the limit while degraded — and
//! reports [`ThrottleState::Degraded`] (the HTTP `/ready` shows it). Redis is tried again every
//! [`ThrottleSettings::probe_interval`]; on recovery the grants made while degraded within the
//! last window are added to Redis's current bucket first, so the shared window stays exact.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use redis::aio::ConnectionManager;
use tokio::time::Instant;

use crate::session::{Permit, SubmitGate};

const SCRIPT: &str = r#"
local prefix = ARGV[1]
local limit = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local bucket = tonumber(ARGV[4])
local lookback = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local carry = tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = now - (now % bucket)
local from = now - lookback
from = from - (from % bucket)
local keys = {}
for s = from, cur, bucket do keys[#keys + 1] = prefix .. s end
local vals = redis.call('MGET', unpack(keys))
local used = 0
local oldest = nil
for i = 1, #keys do
  local n = tonumber(vals[i])
  if n and n > 0 then
    used = used + n
    if oldest == nil then oldest = from + (i - 1) * bucket end
  end
end
if carry > 0 then
  redis.call('INCRBY', prefix .. cur, carry)
  redis.call('PEXPIRE', prefix .. cur, ttl)
  used = used + carry
  if oldest == nil then oldest = cur end
end
local grant = limit - used
if grant > want then grant = want end
if grant < 0 then grant = 0 end
if grant > 0 then
  redis.call('INCRBY', prefix .. cur, grant)
  redis.call('PEXPIRE', prefix .. cur, ttl)
  if oldest == nil then oldest = cur end
end
local retry = 0
if grant < want then
  retry = oldest + bucket + lookback - now
  if retry < 1 then retry = 1 end
end
return {grant, retry}
"#;

/// Tuning of the limiter; [`ThrottleSettings::new`] gives the documented defaults.
#[derive(Clone, Debug)]
pub struct ThrottleSettings {
    /// Submits per second over all replicas; 0 means no limit.
    pub limit: u32,
    /// Largest number of permits asked from Redis in one round trip (`throttle.permitBatch`).
    pub batch: u32,
    /// The window that must not see more than `limit` submits (1 s).
    pub window: Duration,
    /// Width of one Redis bucket (10 ms).
    pub bucket: Duration,
    /// How long granted permits stay usable after the request was sent (20 ms).
    pub hold: Duration,
    /// Longest wait for Redis before going degraded (250 ms).
    pub redis_timeout: Duration,
    /// While degraded, how often Redis is tried again (1 s).
    pub probe_interval: Duration,
}

impl ThrottleSettings {
    /// The defaults for `limit` TPS and batches of `batch`.
    pub fn new(limit: u32, batch: u32) -> Self {
        Self {
            limit,
            batch: batch.max(1),
            window: Duration::from_secs(1),
            bucket: Duration::from_millis(10),
            hold: Duration::from_millis(20),
            redis_timeout: Duration::from_millis(250),
            probe_interval: Duration::from_secs(1),
        }
    }

    /// From the configuration's `throttle` section.
    pub fn from_config(c: &crds::config::ThrottleConfig) -> Self {
        Self::new(c.tps, c.permit_batch)
    }

    fn lookback(&self) -> Duration {
        self.window + self.hold
    }
}

/// Where permits come from now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleState {
    /// No limit configured.
    Unlimited,
    /// The shared Redis window.
    Shared,
    /// Redis unreachable: the local window.
    Degraded,
}

/// Permits to use at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permits {
    /// How many (at least 1).
    pub count: u32,
    /// Use them before this instant; drop the rest.
    pub valid_until: Instant,
}

/// A sliding log of grants: `(when, how many)`.
#[derive(Debug, Default)]
struct GrantLog {
    entries: VecDeque<(Instant, u32, bool)>,
}

impl GrantLog {
    fn prune(&mut self, now: Instant, keep: Duration) {
        while let Some(&(t, _, _)) = self.entries.front() {
            if now.duration_since(t) > keep {
                self.entries.pop_front();
            } else {
                break;
            }
        }
    }

    fn used(&self) -> u32 {
        self.entries.iter().map(|e| e.1).sum()
    }

    fn local_only(&self) -> u32 {
        self.entries.iter().filter(|e| e.2).map(|e| e.1).sum()
    }

    fn record(&mut self, now: Instant, n: u32, local: bool) {
        self.entries.push_back((now, n, local));
    }

    /// Local sliding window: grant up to `want` so that the last `lookback` holds at most
    /// `limit`; otherwise the wait until the oldest grant leaves the window.
    fn take(
        &mut self,
        now: Instant,
        limit: u32,
        want: u32,
        lookback: Duration,
    ) -> Result<u32, Duration> {
        self.prune(now, lookback);
        let grant = limit.saturating_sub(self.used()).min(want);
        if grant > 0 {
            self.record(now, grant, true);
            return Ok(grant);
        }
        let wait = self
            .entries
            .front()
            .map(|&(t, _, _)| {
                (t + lookback + Duration::from_millis(1)).saturating_duration_since(now)
            })
            .unwrap_or(Duration::from_millis(1));
        Err(wait.max(Duration::from_millis(1)))
    }
}

struct State {
    conn: Option<ConnectionManager>,
    degraded_since: Option<Instant>,
    last_probe: Option<Instant>,
    log: GrantLog,
}

/// The shared TPS limiter of one operator.
pub struct Throttle {
    client: redis::Client,
    prefix: String,
    settings: ThrottleSettings,
    script: redis::Script,
    state: tokio::sync::Mutex<State>,
    degraded: AtomicBool,
}

impl Throttle {
    /// A limiter for `operator_id` on the Redis of `client`; connects on first use.
    /// The limiter of the configuration's operator, `throttle` and `redis` sections.
    pub fn from_config(c: &crds::ConnectorConfig) -> Result<Self, redis::RedisError> {
        Ok(Self::new(
            redis::Client::open(c.redis.url.as_str())?,
            &c.operator_id,
            ThrottleSettings::from_config(&c.throttle),
        ))
    }

    /// The limiter of `operator_id` on the Redis server of `client`.
    pub fn new(client: redis::Client, operator_id: &str, settings: ThrottleSettings) -> Self {
        Self {
            client,
            prefix: format!("tps:{operator_id}:"),
            settings,
            script: redis::Script::new(SCRIPT),
            state: tokio::sync::Mutex::new(State {
                conn: None,
                degraded_since: None,
                last_probe: None,
                log: GrantLog::default(),
            }),
            degraded: AtomicBool::new(false),
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &ThrottleSettings {
        &self.settings
    }

    /// Where permits come from now.
    pub fn state(&self) -> ThrottleState {
        if self.settings.limit == 0 {
            ThrottleState::Unlimited
        } else if self.degraded.load(Ordering::Relaxed) {
            ThrottleState::Degraded
        } else {
            ThrottleState::Shared
        }
    }

    /// Permits this process took in the last window (for the `smpp_tps_used` gauge).
    pub async fn used_last_window(&self) -> u32 {
        let mut st = self.state.lock().await;
        st.log.prune(Instant::now(), self.settings.window);
        st.log.used()
    }

    fn set_degraded(&self, on: bool) {
        if self.degraded.swap(on, Ordering::Relaxed) != on {
            if on {
                tracing::warn!(prefix = %self.prefix, "Redis unreachable: TPS limit continues on the local window (degraded)");
            } else {
                tracing::info!(prefix = %self.prefix, "Redis reachable again: TPS limit shared again");
            }
        }
    }

    /// Waits until at least one permit is granted and returns at most `want` (and at most the
    /// batch size). Use them before [`Permits::valid_until`].
    pub async fn acquire(&self, want: u32) -> Permits {
        let want = want.clamp(1, self.settings.batch);
        if self.settings.limit == 0 {
            return Permits {
                count: want,
                valid_until: Instant::now() + Duration::from_secs(3600),
            };
        }
        loop {
            match self.try_acquire(want).await {
                Ok(p) => return p,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Checks Redis (at most once per [`ThrottleSettings::probe_interval`]) without taking
    /// permits, so that [`Throttle::state`] and `/ready` follow Redis when no traffic asks for
    /// permits: an unreachable Redis is reported at once, a recovered one is used again (with
    /// the local grants of the last window carried over, as an acquire does).
    pub async fn probe(&self) {
        if self.settings.limit == 0 {
            return;
        }
        let mut st = self.state.lock().await;
        let now = Instant::now();
        if st
            .last_probe
            .is_some_and(|t| now.duration_since(t) < self.settings.probe_interval)
        {
            return;
        }
        st.last_probe = Some(now);
        match self.redis_take(&mut st, 0).await {
            Ok(_) => {
                if st.degraded_since.take().is_some() {
                    st.log.prune(Instant::now(), self.settings.lookback());
                    for e in st.log.entries.iter_mut() {
                        e.2 = false;
                    }
                    self.set_degraded(false);
                }
            }
            Err(e) => {
                st.conn = None;
                if st.degraded_since.is_none() {
                    tracing::debug!(error = %e, "Redis TPS window failed");
                    st.degraded_since = Some(now);
                    self.set_degraded(true);
                }
            }
        }
    }

    /// One attempt: the permits, or how long to wait before the next attempt.
    pub async fn try_acquire(&self, want: u32) -> Result<Permits, Duration> {
        let want = want.clamp(1, self.settings.batch);
        let s = &self.settings;
        let mut st = self.state.lock().await;
        let sent = Instant::now();
        let probe_due = st
            .last_probe
            .is_none_or(|t| sent.duration_since(t) >= s.probe_interval);
        if st.degraded_since.is_none() || probe_due {
            match self.redis_take(&mut st, want).await {
                Ok((grant, retry_ms)) => {
                    if st.degraded_since.take().is_some() {
                        self.set_degraded(false);
                    }
                    let lookback = s.lookback();
                    st.log.prune(Instant::now(), lookback);
                    for e in st.log.entries.iter_mut() {
                        e.2 = false;
                    }
                    if grant > 0 {
                        st.log.record(sent, grant, false);
                        // Permits that come back after their hold (a starved runtime, a slow
                        // round trip) are dropped unused: using them would break the bound
                        // on every 1-second window. Redis counted them; only time is lost.
                        if Instant::now() > sent + s.hold {
                            tracing::debug!(grant, "TPS permits arrived stale; asking again");
                            return Err(Duration::ZERO);
                        }
                        return Ok(Permits {
                            count: grant,
                            valid_until: sent + s.hold,
                        });
                    }
                    return Err(Duration::from_millis(retry_ms.max(1)));
                }
                Err(e) => {
                    st.conn = None;
                    if st.degraded_since.is_none() {
                        tracing::debug!(error = %e, "Redis TPS window failed");
                        st.degraded_since = Some(sent);
                        self.set_degraded(true);
                    }
                    st.last_probe = Some(sent);
                }
            }
        }
        let now = Instant::now();
        st.log
            .take(now, s.limit, want, s.lookback())
            .map(|count| Permits {
                count,
                valid_until: now + s.hold,
            })
    }

    async fn redis_take(&self, st: &mut State, want: u32) -> Result<(u32, u64), String> {
        let s = &self.settings;
        let conn = match &mut st.conn {
            Some(c) => c,
            None => {
                let cfg = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(s.redis_timeout))
                    .set_response_timeout(Some(s.redis_timeout))
                    .set_number_of_retries(1);
                let c = tokio::time::timeout(
                    s.redis_timeout * 2,
                    self.client.get_connection_manager_with_config(cfg),
                )
                .await
                .map_err(|_| "connect timed out".to_string())?
                .map_err(|e| e.to_string())?;
                st.conn.insert(c)
            }
        };
        let carry = if st.degraded_since.is_some() {
            st.log.prune(Instant::now(), s.lookback());
            st.log.local_only()
        } else {
            0
        };
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut inv = self.script.prepare_invoke();
        inv.arg(&self.prefix)
            .arg(s.limit)
            .arg(want)
            .arg(ms(s.bucket).max(1))
            .arg(ms(s.lookback()))
            .arg(ms(s.lookback()) * 3)
            .arg(carry);
        let res: (u32, u64) = tokio::time::timeout(s.redis_timeout, inv.invoke_async(conn))
            .await
            .map_err(|_| "Redis timed out".to_string())?
            .map_err(|e| e.to_string())?;
        Ok(res)
    }
}

/// The session engine's [`SubmitGate`]: one permit per submit, fetched from the [`Throttle`]
/// in batches sized by the submits waiting, used at once, dropped when stale.
pub struct TpsGate {
    throttle: Arc<Throttle>,
    held: tokio::sync::Mutex<Option<Permits>>,
    waiting: AtomicU32,
}

impl TpsGate {
    /// A gate over `throttle`.
    pub fn new(throttle: Arc<Throttle>) -> Self {
        Self {
            throttle,
            held: tokio::sync::Mutex::new(None),
            waiting: AtomicU32::new(0),
        }
    }

    async fn take(&self) -> Permit {
        if self.throttle.settings.limit == 0 {
            return Permit::Open;
        }
        /// Counts a waiting submit until it has its permit or gives up.
        struct Waiting<'a>(&'a AtomicU32);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        let mut held = self.held.lock().await;
        if let Some(p) = held.as_mut() {
            if p.count > 0 && Instant::now() < p.valid_until {
                p.count = p.count.saturating_sub(1);
                return Permit::Until(p.valid_until);
            }
        }
        let want = self.waiting.load(Ordering::SeqCst).max(1);
        let mut p = self.throttle.acquire(want).await;
        p.count = p.count.saturating_sub(1);
        *held = Some(p);
        Permit::Until(p.valid_until)
    }
}

impl std::fmt::Debug for TpsGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TpsGate")
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl SubmitGate for TpsGate {
    fn permit(&self) -> BoxFuture<'_, Permit> {
        Box::pin(self.take())
    }
}

#[cfg(test)]
mod tests;
