//! The fault table: each fault's name, what it needs, and how it is injected (and cleared).

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;

use super::env::{Env, Needs};
use super::load::Outgoing;
use super::servers::PgStop;
use crate::harness::{self, credentials_error, credentials_ok};
use crate::sim::{BindFailure, BreakAction, Faults, MoMessage, RefuseMode, Status, Trigger};
use connector::protocol::codec::CommandStatus;

/// One fault of the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The SMSC closes the connection (FIN) with submits outstanding.
    Close,
    /// The SMSC resets the connection (RST).
    Reset,
    /// The SMSC goes silent (half-open) with responses outstanding.
    HalfOpen,
    /// The SMSC answers every submit ESME_RTHROTTLED for the outage.
    Throttled,
    /// Bursts of ESME_RMSGQFUL during the outage.
    QueueFull,
    /// Receipts before the submit_sm_resp, duplicated receipts, receipts for unknown ids.
    Receipts,
    /// The primary refuses connections for the outage (failover), then comes back (failback).
    Failover,
    /// The connector crashes (every task dropped at once) and is started again.
    Crash,
    /// The connector is stopped gracefully (the SIGTERM path) under load and started again.
    Stop,
    /// The NATS server is killed and started again.
    NatsRestart,
    /// The private PostgreSQL server is stopped `-m immediate` (every backend killed, WAL
    /// recovery at the next start) and started again at once.
    PgRestart,
    /// The private PostgreSQL server is stopped `-m fast` and stays down (connections refused)
    /// for the outage, then starts again.
    PgDown,
    /// The private Redis server is killed (SIGKILL), stays down (connections refused) for the
    /// outage and starts again empty.
    RedisDown,
    /// The private Redis server is killed (SIGKILL) and started again at once, empty.
    RedisRestart,
    /// The credentials API answers 500 then 401 while the connector must bind again.
    Credentials,
    /// A burst of malformed commands mixed with the good ones.
    Malformed,
    /// 250 ms added each way between the connector and the primary for the outage (a delaying
    /// TCP proxy: what is possible without `tc netem`).
    Latency,
    /// Added latency and loss with `tc netem` (skipped where netem is missing: see
    /// [`Fault::skipped`]).
    Netem,
}

/// One-way latency of the `smsc-latency` fault.
pub const ADDED_LATENCY: Duration = Duration::from_millis(250);

impl Fault {
    /// Every fault, in campaign order.
    pub const ALL: [Fault; 18] = [
        Fault::Close,
        Fault::Reset,
        Fault::HalfOpen,
        Fault::Throttled,
        Fault::QueueFull,
        Fault::Receipts,
        Fault::Failover,
        Fault::Crash,
        Fault::Stop,
        Fault::NatsRestart,
        Fault::PgRestart,
        Fault::PgDown,
        Fault::RedisDown,
        Fault::RedisRestart,
        Fault::Credentials,
        Fault::Malformed,
        Fault::Latency,
        Fault::Netem,
    ];

    /// Its name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Close => "smsc-close",
            Fault::Reset => "smsc-rst",
            Fault::HalfOpen => "smsc-half-open",
            Fault::Throttled => "smsc-throttled",
            Fault::QueueFull => "smsc-msgqful",
            Fault::Receipts => "receipts-mixed",
            Fault::Failover => "primary-down",
            Fault::Crash => "connector-kill",
            Fault::Stop => "connector-sigterm",
            Fault::NatsRestart => "nats-restart",
            Fault::PgRestart => "pg-restart",
            Fault::PgDown => "pg-down",
            Fault::RedisDown => "redis-down",
            Fault::RedisRestart => "redis-restart",
            Fault::Credentials => "creds-500-401",
            Fault::Malformed => "malformed-burst",
            Fault::Latency => "smsc-latency",
            Fault::Netem => "netem",
        }
    }

    /// `all` or a comma-separated list of names.
    pub fn parse_list(s: &str) -> Result<Vec<Fault>, String> {
        if s.trim() == "all" {
            return Ok(Self::ALL.to_vec());
        }
        s.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                Self::ALL
                    .into_iter()
                    .find(|f| f.name() == n)
                    .ok_or_else(|| format!("unknown fault `{n}`; known: {}", Self::names()))
            })
            .collect()
    }

    /// The names, comma-separated.
    pub fn names() -> String {
        Self::ALL.map(Fault::name).join(", ")
    }

    /// Why the fault is not run here, if it is not.
    pub fn skipped(self) -> Option<String> {
        match self {
            Fault::Netem => Some(match super::netem::probe() {
                Err(why) => format!(
                    "skipped: tc netem is not usable here: {why}; latency is covered by \
                     smsc-latency (a delaying proxy)"
                ),
                Ok(()) => "skipped: tc netem works on this machine, but the namespace path \
                           (smsc-sim inside a namespace) is not implemented; latency is \
                           covered by smsc-latency"
                    .to_string(),
            }),
            _ => None,
        }
    }

    /// Whether the soak's one environment can take it (the delaying proxy would turn the
    /// SMSC's RST into a FIN for every other fault, so `smsc-latency` is not in the soak).
    pub fn in_soak(self) -> bool {
        !matches!(self, Fault::Latency | Fault::Netem)
    }

    /// What its environment needs.
    pub fn needs(self) -> Needs {
        Needs {
            private_nats: self == Fault::NatsRestart,
            credentials_api: self == Fault::Credentials,
            private_pg: matches!(self, Fault::PgRestart | Fault::PgDown),
            private_redis: matches!(self, Fault::RedisDown | Fault::RedisRestart),
            latency_proxy: self == Fault::Latency,
        }
    }

    /// Duplicates allowed beyond the connector's own count: after a crash, the window plus one
    /// commit batch (docs/pipeline.md, "The one window for a duplicate").
    pub fn uncounted_allowance(self, env: &Env) -> usize {
        match self {
            Fault::Crash => {
                env.config.session.window as usize + env.config.postgres.batch_size as usize
            }
            _ => 0,
        }
    }

    /// Injects the fault, waits for its duration and clears it.
    pub async fn inject(self, env: &mut Env, outage: Duration) -> Result<Injected, String> {
        let mut out = Injected::default();
        match self {
            Fault::Close => out.note = broke(env, BreakAction::Close),
            Fault::Reset => out.note = broke(env, BreakAction::Reset),
            Fault::HalfOpen => out.note = broke(env, BreakAction::Silent),
            Fault::Throttled => {
                env.primary.update_faults(|f| {
                    f.submit_status = vec![rule(CommandStatus::ESME_RTHROTTLED, Trigger::Always)]
                });
                tokio::time::sleep(outage).await;
                env.primary.clear_faults();
            }
            Fault::QueueFull => {
                let burst = 50;
                let end = Instant::now() + outage;
                let mut bursts = 0;
                while Instant::now() < end {
                    env.primary.update_faults(|f| {
                        f.submit_status =
                            vec![rule(CommandStatus::ESME_RMSGQFUL, Trigger::Next(burst))]
                    });
                    bursts += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                env.primary.clear_faults();
                out.note = format!("{bursts} bursts of {burst} ESME_RMSGQFUL");
            }
            Fault::Receipts => out = mixed_receipts(env, outage).await,
            Fault::Failover => {
                env.primary
                    .update_faults(|f| f.refuse_connections = Some(RefuseMode::Refuse));
                env.primary.break_connections(BreakAction::Close);
                tokio::time::sleep(outage).await;
                let on_backup = env.backup.bound_sessions();
                env.primary.clear_faults();
                let back = env.primary.wait_bound(1, Duration::from_secs(60)).await;
                out.note = format!(
                    "backup bound during the outage: {}; failback: {}",
                    on_backup > 0,
                    if back { "yes" } else { "NO" }
                );
                if !back {
                    out.problems
                        .push("no failback to the primary within 60 s".into());
                }
            }
            Fault::Crash => env.restart_connector(true).await?,
            Fault::Stop => env.restart_connector(false).await?,
            Fault::NatsRestart => {
                let Some(nats) = env.nats.as_mut() else {
                    return Err("no private NATS server".into());
                };
                nats.kill().await;
                tokio::time::sleep(Duration::from_secs(2)).await;
                nats.restart().await;
            }
            Fault::PgRestart => out = pg_restart(env).await?,
            Fault::PgDown => out = pg_down(env, outage).await?,
            Fault::RedisDown => out = redis_kill(env, outage).await?,
            Fault::RedisRestart => out = redis_kill(env, Duration::ZERO).await?,
            Fault::Credentials => out = credentials(env).await?,
            Fault::Malformed => out = malformed(env).await,
            Fault::Latency => {
                let Some(proxy) = env.delay.as_ref() else {
                    return Err("no delaying proxy".into());
                };
                proxy.set_delay(ADDED_LATENCY);
                tokio::time::sleep(outage).await;
                proxy.set_delay(Duration::ZERO);
                out.note = format!(
                    "{} ms added each way to every chunk between the connector and the primary \
                     for {} s",
                    ADDED_LATENCY.as_millis(),
                    outage.as_secs()
                );
            }
            Fault::Netem => {}
        }
        Ok(out)
    }
}

/// Whether a TCP connection to the `host:port` of `url` is refused now.
async fn refused(url: &str) -> bool {
    let Some((_, addr)) = super::env::authority(url) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

async fn pg_restart(env: &mut Env) -> Result<Injected, String> {
    let url = env.db_url.clone();
    let Some(pg) = env.pg_server.as_mut() else {
        return Err("no private PostgreSQL server".into());
    };
    let t = Instant::now();
    pg.stop(PgStop::Immediate).await?;
    let was_refused = refused(&url).await;
    pg.start_again().await?;
    let mut out = Injected {
        note: format!(
            "private PostgreSQL stopped -m immediate and started again: down {:.1} s, \
             connections refused: {was_refused}, WAL recovery logged: {}",
            t.elapsed().as_secs_f64(),
            pg.recovered()
        ),
        ..Injected::default()
    };
    if !pg.recovered() {
        out.problems
            .push("the restart after an immediate stop logged no recovery".into());
    }
    Ok(out)
}

async fn pg_down(env: &mut Env, outage: Duration) -> Result<Injected, String> {
    let url = env.db_url.clone();
    let Some(pg) = env.pg_server.as_mut() else {
        return Err("no private PostgreSQL server".into());
    };
    pg.stop(PgStop::Fast).await?;
    let was_refused = refused(&url).await;
    tokio::time::sleep(outage).await;
    let still_refused = refused(&url).await;
    pg.start_again().await?;
    let mut out = Injected {
        note: format!(
            "private PostgreSQL stopped -m fast, connections refused for {} s (checked at both \
             ends: {})",
            outage.as_secs(),
            was_refused && still_refused
        ),
        ..Injected::default()
    };
    if !(was_refused && still_refused) {
        out.problems
            .push("PostgreSQL did not refuse connections during the outage".into());
    }
    Ok(out)
}

async fn redis_kill(env: &mut Env, outage: Duration) -> Result<Injected, String> {
    let url = env.redis_url.clone();
    let Some(redis) = env.redis_server.as_mut() else {
        return Err("no private Redis server".into());
    };
    let t = Instant::now();
    redis.kill().await;
    let was_refused = refused(&url).await;
    tokio::time::sleep(outage).await;
    redis.start_again().await?;
    let mut out = Injected {
        note: format!(
            "private redis-server killed (SIGKILL), connections refused: {was_refused}, \
             started again empty after {:.1} s",
            t.elapsed().as_secs_f64()
        ),
        ..Injected::default()
    };
    if !was_refused {
        out.problems
            .push("Redis did not refuse connections once killed".into());
    }
    Ok(out)
}

/// What an injection left to check besides the common reconciliation.
#[derive(Debug, Default, Clone)]
pub struct Injected {
    /// Commands that must each get exactly one REJECTED event and never be sent.
    pub bad_ids: Vec<String>,
    /// SMSC ids of receipts for unknown messages: each must be published uncorrelated.
    pub unknown_receipts: Vec<String>,
    /// What happened, for the notes under the table.
    pub note: String,
    /// Failures found by the injection itself.
    pub problems: Vec<String>,
}

fn rule(status: CommandStatus, when: Trigger) -> crate::sim::StatusRule {
    crate::sim::StatusRule {
        status: Status(status),
        when,
    }
}

fn broke(env: &Env, action: BreakAction) -> String {
    let n = env.primary.break_connections(action) + env.backup.break_connections(action);
    format!("{n} connection(s) broken")
}

/// A receipt-typed deliver_sm with this text.
fn receipt(text: &str) -> Option<MoMessage> {
    let mut m = MoMessage::text("ghasi01", "233241234567", "GHASI", "x").ok()?;
    m.esm_class = 0x04;
    m.short_message = Bytes::copy_from_slice(text.as_bytes());
    Some(m)
}

async fn mixed_receipts(env: &Env, outage: Duration) -> Injected {
    let mut out = Injected::default();
    env.primary.set_faults(Faults {
        receipt_before_response: true,
        duplicate_receipts: Some(Trigger::Every(3)),
        ..Faults::default()
    });
    let end = Instant::now() + outage;
    while Instant::now() < end {
        let id = format!("9{:011}", rand::random::<u32>());
        let text = format!(
            "id:{id} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:x"
        );
        if let Some(m) = receipt(&text) {
            env.primary.inject_mo(m);
            out.unknown_receipts.push(id);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    env.primary.clear_faults();
    out.note = format!(
        "early and duplicated receipts for {} s, {} receipts for unknown ids",
        outage.as_secs(),
        out.unknown_receipts.len()
    );
    out
}

async fn credentials(env: &Env) -> Result<Injected, String> {
    let Some(server) = env.creds.as_ref() else {
        return Err("no credentials API".into());
    };
    let before = server.requests().len();
    // Binds are refused (the password "changed"): the connector asks the API again, which
    // fails with 500, then 401, then answers the password the SMSC takes again.
    let refuse = BindFailure {
        status: Status(CommandStatus::ESME_RINVPASWD),
        when: Trigger::Always,
    };
    env.primary.update_faults(|f| f.bind_failure = Some(refuse));
    env.backup.update_faults(|f| f.bind_failure = Some(refuse));
    server.set_fallback(credentials_error(500));
    env.primary.break_connections(BreakAction::Close);
    let step = Duration::from_secs(3);
    tokio::time::sleep(step).await;
    let after_500 = server.requests().len();
    server.set_fallback(credentials_error(401));
    tokio::time::sleep(step).await;
    let after_401 = server.requests().len();
    server.set_fallback(credentials_ok("ghasi01", "s3cret"));
    env.primary.clear_faults();
    env.backup.clear_faults();
    let mut out = Injected {
        note: format!(
            "API requests: {} answered 500, {} answered 401",
            after_500 - before,
            after_401 - after_500
        ),
        ..Injected::default()
    };
    if after_500 == before || after_401 == after_500 {
        out.problems
            .push("the rebind did not go through the failing credentials API".into());
    }
    Ok(out)
}

/// Malformed commands, each with a messageId (to be reconciled), each of another kind.
pub fn bad_commands(op: &str, run: &str, n: usize) -> Vec<(String, serde_json::Value)> {
    (0..n)
        .map(|i| {
            let id = format!("{run}-bad-{i}");
            let mut c = harness::command(op, &id, &id);
            match i % 4 {
                0 => {
                    if let Some(o) = c.as_object_mut() {
                        o.remove("to");
                    }
                }
                1 => c["to"] = json!("not-a-number"),
                2 => c["metadata"] = json!({"note": "a\u{0}b"}),
                _ => c["priority"] = json!(9),
            }
            (id, c)
        })
        .collect()
}

async fn malformed(env: &Env) -> Injected {
    let run = format!("{:08x}", rand::random::<u32>());
    let bad = bad_commands(&env.op, &run, 40);
    let outgoing: Vec<Outgoing> = bad
        .iter()
        .map(|(id, c)| Outgoing {
            msg_id: id.clone(),
            body: serde_json::to_vec(c).unwrap_or_default(),
        })
        .collect();
    // Published at 100/s while the good load goes on: they are mixed in the same pulls.
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let published =
        super::load::publish_at_rate(env.js.clone(), env.subject(), outgoing, 100, progress, None)
            .await;
    let mut out = Injected {
        note: format!(
            "{} malformed commands (no `to`, bad `to`, NUL in metadata, priority 9)",
            published.acked.len()
        ),
        ..Injected::default()
    };
    if !published.failed.is_empty() {
        out.problems.push(format!(
            "{} malformed commands not published",
            published.failed.len()
        ));
    }
    out.bad_ids = published.acked;
    out
}
