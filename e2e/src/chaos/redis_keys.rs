//! Reconciliation of the Redis keys of the connector's TPS limiter (`connector/src/throttle.rs`):
//! `tps:{operatorId}:{bucketStart}`, one per 10 ms bucket, each written with `INCRBY` then
//! `PEXPIRE` (3 × (window + hold) = 3,060 ms) in one script. So at any moment every key of the
//! operator has a TTL of at most that, and there are at most `ttl / bucket + 1` of them. A
//! background [`KeyWatch`] scans them every 500 ms during a fault run; a key without a TTL, a TTL
//! beyond the script's, or more keys than the bound fail the row.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector::pipeline::throttle::ThrottleSettings;

/// The limiter's key scheme and bounds for one operator.
#[derive(Debug, Clone)]
pub struct KeyScheme {
    /// `tps:{operatorId}:`.
    pub prefix: String,
    /// The TTL the script sets, in milliseconds.
    pub ttl_ms: i64,
    /// The most keys that can exist at once.
    pub max_keys: usize,
}

impl KeyScheme {
    /// The scheme of `operator` with the limiter's settings for `tps`.
    pub fn new(operator: &str, tps: u32, batch: u32) -> Self {
        let s = ThrottleSettings::new(tps, batch);
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let ttl_ms = ms(s.window + s.hold) * 3;
        let bucket = ms(s.bucket).max(1);
        Self {
            prefix: format!("tps:{operator}:"),
            ttl_ms,
            max_keys: usize::try_from(ttl_ms / bucket + 1).unwrap_or(usize::MAX),
        }
    }
}

/// One scan of the operator's keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scan {
    /// Keys found.
    pub keys: usize,
    /// Keys without a TTL (`PTTL` -1).
    pub no_ttl: usize,
    /// Keys whose TTL exceeds the script's.
    pub ttl_too_long: usize,
}

/// Scans `scheme`'s keys on `url` once (SCAN MATCH, then PTTL of each).
pub async fn scan(url: &str, scheme: &KeyScheme) -> Result<Scan, String> {
    let client = redis::Client::open(url).map_err(|e| format!("Redis {url}: {e}"))?;
    let mut conn = tokio::time::timeout(
        Duration::from_secs(1),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| "Redis connect timed out".to_string())?
    .map_err(|e| format!("Redis: {e}"))?;
    let pattern = format!("{}*", scheme.prefix);
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("SCAN: {e}"))?;
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    let mut out = Scan {
        keys: keys.len(),
        ..Scan::default()
    };
    if keys.is_empty() {
        return Ok(out);
    }
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("PTTL").arg(k);
    }
    let ttls: Vec<i64> = pipe
        .query_async(&mut conn)
        .await
        .map_err(|e| format!("PTTL: {e}"))?;
    for t in ttls {
        match t {
            -1 => out.no_ttl += 1,
            t if t > scheme.ttl_ms => out.ttl_too_long += 1,
            // -2: expired between SCAN and PTTL.
            _ => {}
        }
    }
    // A count beyond the bound can only come from keys expiring late or written without TTL.
    Ok(out)
}

/// What a [`KeyWatch`] saw.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    /// Scans that answered.
    pub scans: usize,
    /// Scans that failed (Redis down during the fault).
    pub failed_scans: usize,
    /// Most keys seen at once.
    pub max_keys: usize,
    /// Keys in the last scan.
    pub last_keys: usize,
    /// Keys without a TTL, summed over the scans.
    pub no_ttl: usize,
    /// Keys with a TTL beyond the script's, summed over the scans.
    pub ttl_too_long: usize,
}

impl Watched {
    /// What fails the row.
    pub fn problems(&self, scheme: &KeyScheme) -> Vec<String> {
        let mut p = Vec::new();
        if self.scans == 0 {
            p.push("Redis keys: no scan of the throttle's keys answered".into());
        }
        if self.no_ttl > 0 {
            p.push(format!(
                "Redis keys: {} sighting(s) of a `{}*` key without a TTL",
                self.no_ttl, scheme.prefix
            ));
        }
        if self.ttl_too_long > 0 {
            p.push(format!(
                "Redis keys: {} sighting(s) of a TTL beyond {} ms",
                self.ttl_too_long, scheme.ttl_ms
            ));
        }
        if self.max_keys > scheme.max_keys {
            p.push(format!(
                "Redis keys: {} `{}*` keys at once, more than the bound {}",
                self.max_keys, scheme.prefix, scheme.max_keys
            ));
        }
        p
    }

    /// For the notes.
    pub fn summary(&self, scheme: &KeyScheme) -> String {
        format!(
            "Redis `{}*`: at most {} keys (bound {}), {} at the end, every key with a TTL <= {} ms \
             ({} scans, {} while Redis was unreachable)",
            scheme.prefix,
            self.max_keys,
            scheme.max_keys,
            self.last_keys,
            scheme.ttl_ms,
            self.scans,
            self.failed_scans
        )
    }
}

/// Scans the operator's keys every 500 ms until stopped.
pub struct KeyWatch {
    seen: Arc<Mutex<Watched>>,
    task: tokio::task::JoinHandle<()>,
}

impl KeyWatch {
    /// Starts scanning `scheme`'s keys on `url` (the Redis itself, not a proxy).
    pub fn start(url: String, scheme: KeyScheme) -> Self {
        let seen = Arc::new(Mutex::new(Watched::default()));
        let out = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let r = scan(&url, &scheme).await;
                if let Ok(mut w) = out.lock() {
                    match r {
                        Ok(s) => {
                            w.scans += 1;
                            w.max_keys = w.max_keys.max(s.keys);
                            w.last_keys = s.keys;
                            w.no_ttl += s.no_ttl;
                            w.ttl_too_long += s.ttl_too_long;
                        }
                        Err(_) => w.failed_scans += 1,
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Self { seen, task }
    }

    /// Stops it after one more scan; what it saw.
    pub async fn finish(self, url: &str, scheme: &KeyScheme) -> Watched {
        self.task.abort();
        let mut w = self.seen.lock().map(|w| w.clone()).unwrap_or_default();
        match scan(url, scheme).await {
            Ok(s) => {
                w.scans += 1;
                w.max_keys = w.max_keys.max(s.keys);
                w.last_keys = s.keys;
                w.no_ttl += s.no_ttl;
                w.ttl_too_long += s.ttl_too_long;
            }
            Err(_) => w.failed_scans += 1,
        }
        w
    }
}

impl Drop for KeyWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_follows_the_script() {
        let s = KeyScheme::new("op1", 1000, 50);
        assert_eq!(s.prefix, "tps:op1:");
        assert_eq!(s.ttl_ms, 3 * 1020);
        assert_eq!(s.max_keys, 307);
        let ok = Watched {
            scans: 3,
            max_keys: 120,
            ..Watched::default()
        };
        assert!(ok.problems(&s).is_empty());
        let leak = Watched {
            scans: 3,
            max_keys: 400,
            no_ttl: 1,
            ..Watched::default()
        };
        assert_eq!(leak.problems(&s).len(), 2);
        assert_eq!(Watched::default().problems(&s).len(), 1);
    }

    #[tokio::test]
    async fn keys_without_a_ttl_are_found() {
        let url = crate::harness::redis_url();
        let op = format!("chaos-keytest-{:08x}", rand::random::<u32>());
        let scheme = KeyScheme::new(&op, 1000, 50);
        let Ok(client) = redis::Client::open(url.as_str()) else {
            panic!("Redis URL {url}");
        };
        let mut c = match client.get_multiplexed_async_connection().await {
            Ok(c) => c,
            Err(e) => panic!("Redis {url}: {e}"),
        };
        let k1 = format!("{}1", scheme.prefix);
        let k2 = format!("{}2", scheme.prefix);
        let _: () = redis::pipe()
            .cmd("SET")
            .arg(&k1)
            .arg(1)
            .cmd("SET")
            .arg(&k2)
            .arg(1)
            .cmd("PEXPIRE")
            .arg(&k2)
            .arg(2000)
            .query_async(&mut c)
            .await
            .unwrap_or_else(|e| panic!("Redis: {e}"));
        let s = scan(&url, &scheme).await;
        let _: Result<(), _> = redis::cmd("DEL")
            .arg(&k1)
            .arg(&k2)
            .query_async(&mut c)
            .await;
        assert_eq!(
            s,
            Ok(Scan {
                keys: 2,
                no_ttl: 1,
                ttl_too_long: 0
            })
        );
    }
}
