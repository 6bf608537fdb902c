//! End-to-end: the connector against an SMSC that throttles (issue 16). Count-based
//! ESME_RTHROTTLED / ESME_RMSGQFUL answers, a queue full for 20 s that then recovers, the
//! order of a long message's segments while throttled, and validity as the retry budget.
//! The bounds are loose (a loaded 2-core machine): they check behaviour, not speed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use e2e::harness::{self, Bus, Connector};
use e2e::sim::{Faults, SimHandle, StatusRule};
use serde_json::{json, Value};

fn rules(rules: &[&str]) -> Faults {
    Faults {
        submit_status: rules
            .iter()
            .map(|r| r.parse::<StatusRule>().expect("rule"))
            .collect(),
        ..Faults::default()
    }
}

/// The longest time between two accepted submits.
fn longest_gap(sim: &SimHandle) -> Duration {
    let mut at: Vec<SystemTime> = sim.submits().iter().map(|s| s.received_at).collect();
    at.sort();
    at.windows(2)
        .map(|w| w[1].duration_since(w[0]).unwrap_or_default())
        .max()
        .unwrap_or_default()
}

/// Submits the simulator answered with `status`.
fn answered(sim: &SimHandle, status: connector::protocol::codec::CommandStatus) -> u64 {
    sim.stats().count(
        e2e::sim::Direction::Out,
        connector::protocol::codec::CommandId::SubmitSmResp,
        status,
    )
}

async fn slowdown(connector: &Connector) -> Value {
    let (_, body) = connector.get("/ready").await.unwrap_or_default();
    serde_json::from_str::<Value>(&body).unwrap_or_default()["slowdown"].clone()
}

/// Seconds of a relative SMPP time `YYMMDDhhmmss000R`.
fn relative_seconds(t: &str) -> u64 {
    let n = |i: usize| {
        t.get(i..i + 2)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(t.ends_with('R'), "relative time: {t}");
    n(0) * 365 * 86_400 + n(2) * 30 * 86_400 + n(4) * 86_400 + n(6) * 3600 + n(8) * 60 + n(10)
}

/// Waits (15 s at most) for two EXPIRED events of `id`, then returns the (index, count) of
/// each of its EXPIRED events, sorted; every one must come from the connector.
async fn expired_segments(bus: &mut Bus, id: &str) -> Vec<(u64, u64)> {
    let expired = bus
        .wait_for(Duration::from_secs(15), |dlr, _| {
            dlr.iter()
                .filter(|e| e["messageId"] == id && e["status"] == "EXPIRED")
                .count()
                >= 2
        })
        .await;
    assert!(expired, "EXPIRED events: {:?}", bus.events_of(id));
    let mut segments: Vec<(u64, u64)> = bus
        .events_of(id)
        .iter()
        .filter(|e| e["status"] == "EXPIRED")
        .map(|e| {
            assert_eq!(e["source"], "connector", "{e}");
            (
                e["segment"]["index"].as_u64().unwrap_or(0),
                e["segment"]["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    segments.sort();
    segments
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_based_throttling_delivers_every_message_once_without_stalls() {
    let run = harness::setup(
        "thrcount",
        |c| {
            c.faults = rules(&["ESME_RTHROTTLED:every=5", "ESME_RMSGQFUL:every=7"]);
        },
        |config| {
            config.session.window = 10;
            config.throttle.tps = 0;
            // The defaults of production for the pauses and retries.
            config.retry = crds::config::RetryConfig::default();
        },
    )
    .await;
    // `run.dir` (the credentials file) lives to the end of the test.
    let (op, sim, connector, mut bus) = (run.op, run.sim, run.connector, run.bus);

    let ids = harness::message_ids("thrcount", 200);
    let started = Instant::now();
    bus.publish_many(&harness::id_commands(&op, &ids, |c| {
        c["validityPeriodSeconds"] = json!(600)
    }))
    .await;
    let done = bus.wait_final(&ids, Duration::from_secs(60)).await;
    let took = started.elapsed();
    let accepted = harness::received_by_text(&sim);
    assert!(
        done,
        "all 200 settled within 60 s: {} accepted after {took:?}",
        accepted.len()
    );
    let delivered = ids
        .iter()
        .filter(|id| {
            bus.events_of(id)
                .iter()
                .any(|e| e["status"] == "DELIVERED" && e["source"] == "operator")
        })
        .count();
    assert_eq!(delivered, 200, "every message delivered");
    for id in &ids {
        assert_eq!(accepted.get(id.as_str()), Some(&1), "{id} accepted once");
    }
    assert_eq!(sim.accepted_submits(), 200);
    let gap = longest_gap(&sim);
    assert!(
        gap <= Duration::from_secs(2),
        "no stall: longest gap {gap:?}"
    );
    // The SMSC did refuse: the test saw throttling.
    let throttled = answered(
        &sim,
        connector::protocol::codec::CommandStatus::ESME_RTHROTTLED,
    );
    let full = answered(
        &sim,
        connector::protocol::codec::CommandStatus::ESME_RMSGQFUL,
    );
    assert!(
        throttled >= 40 && full >= 25,
        "refusals {throttled} / {full}"
    );
    println!("200 delivered in {took:?}, longest gap {gap:?}, refused {throttled} + {full}");
    // Visible in the metrics.
    assert!(
        connector
            .metric("smpp_slowdown_paused_seconds_total", "")
            .await
            > 0.0
    );
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_full_for_20_seconds_is_probed_gently_and_traffic_resumes() {
    let run = harness::setup(
        "thrfull",
        |_| {},
        |config| {
            config.session.window = 10;
            config.throttle.tps = 0;
            config.retry = crds::config::RetryConfig::default();
        },
    )
    .await;
    let (op, sim, connector, mut bus) = (run.op, run.sim, run.connector, run.bus);

    let outage = Duration::from_secs(20);
    sim.set_faults(rules(&["ESME_RMSGQFUL:for=20"]));
    let recovery = SystemTime::now() + outage;
    let ids = harness::message_ids("thrfull", 100);
    bus.publish_many(&harness::id_commands(&op, &ids, |c| {
        c["validityPeriodSeconds"] = json!(600)
    }))
    .await;

    // During the outage: slowed down, visible, and few probes.
    let shown = harness::eventually(Duration::from_secs(5), || async {
        (slowdown(&connector).await["state"] == "queueFull").then_some(())
    })
    .await;
    assert!(shown.is_some(), "/ready shows the slow-down");
    tokio::time::sleep(
        recovery
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(Duration::from_millis(500)),
    )
    .await;
    let refused = answered(
        &sim,
        connector::protocol::codec::CommandStatus::ESME_RMSGQFUL,
    );
    assert_eq!(sim.accepted_submits(), 0, "nothing accepted while full");
    // One window at first, then about one probe per second (the pause grows to 1 s).
    assert!(
        (5..=45).contains(&refused),
        "probes during the 20 s outage: {refused}"
    );

    // After the recovery: back at full rate within about 2 s.
    assert!(bus.wait_final(&ids, Duration::from_secs(30)).await);
    let mut at: Vec<SystemTime> = sim.submits().iter().map(|s| s.received_at).collect();
    at.sort();
    let after = |t: &SystemTime| t.duration_since(recovery).unwrap_or_default();
    let first = at.first().map(after).unwrap_or_default();
    let last = at.last().map(after).unwrap_or_default();
    println!("refused {refused} during the outage; first accepted {first:?}, last {last:?} after recovery");
    assert!(
        first <= Duration::from_millis(2_500),
        "first accepted {first:?} after recovery"
    );
    assert!(
        last <= Duration::from_secs(5),
        "all 100 accepted {last:?} after recovery"
    );
    let accepted = harness::received_by_text(&sim);
    for id in &ids {
        assert_eq!(accepted.get(id.as_str()), Some(&1), "{id} accepted once");
    }
    // Over once the session was unhindered for 5 s (session::slowdown::LINGER).
    let ended = harness::eventually(Duration::from_secs(15), || async {
        (slowdown(&connector).await["state"] == "none").then_some(())
    })
    .await;
    assert!(ended.is_some(), "/ready shows the end of the slow-down");
    let paused = connector
        .metric("smpp_slowdown_paused_seconds_total", "")
        .await;
    assert!(paused >= 10.0, "paused {paused} s of the 20 s outage");
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_segments_of_long_messages_arrive_in_order_while_throttled() {
    let run = harness::setup(
        "thrseg",
        |c| {
            c.faults = rules(&["ESME_RTHROTTLED:every=3", "ESME_RMSGQFUL:every=4"]);
        },
        |config| {
            config.session.window = 10;
            config.retry = crds::config::RetryConfig::default();
        },
    )
    .await;
    let (op, sim, connector, mut bus) = (run.op, run.sim, run.connector, run.bus);

    let ids = harness::message_ids("thrseg", 20);
    let cmds: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            // Four GSM-7 segments: the id, then filler; one destination per message.
            let text = format!("{id} {}", "x".repeat(560));
            let mut c = harness::command(&op, id, &text);
            c["to"] = json!(format!("2332412345{i:02}"));
            c["registeredDelivery"] = json!(false);
            c
        })
        .collect();
    bus.publish_many(&cmds).await;
    let all = harness::eventually(Duration::from_secs(60), || async {
        (sim.accepted_submits() >= 80).then_some(())
    })
    .await;
    assert!(all.is_some(), "accepted {} of 80", sim.accepted_submits());
    // In the order the SMSC accepted them, each message's segments are 1, 2, 3, 4.
    let mut order: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for s in sim.submits() {
        let seg = s.segment.expect("a segment of a long message");
        assert_eq!(seg.total, 4);
        order.entry(s.dest.clone()).or_default().push(seg.seq);
    }
    assert_eq!(order.len(), 20, "20 messages");
    for (dest, seqs) in &order {
        assert_eq!(seqs, &[1, 2, 3, 4], "segments of the message to {dest}");
    }
    let throttled = answered(
        &sim,
        connector::protocol::codec::CommandStatus::ESME_RTHROTTLED,
    );
    assert!(throttled >= 20, "throttling was active: {throttled}");
    bus.settle(Duration::from_millis(500)).await;
    assert_eq!(sim.accepted_submits(), 80, "each segment once");
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validity_bounds_the_retries_and_the_time_left_is_sent() {
    let run = harness::setup(
        "thrvalid",
        |_| {},
        |config| {
            config.retry = crds::config::RetryConfig::default();
        },
    )
    .await;
    let (op, sim, connector, mut bus) = (run.op, run.sim, run.connector, run.bus);

    // A queue full for 6 s: a long message valid for 2 s expires unsent, with an EXPIRED
    // event per segment; one valid for an hour is sent afterwards with the time left.
    sim.set_faults(rules(&["ESME_RMSGQFUL:for=6"]));
    let ids = harness::message_ids("thrvalid", 2);
    let (short, long) = (&ids[0], &ids[1]);
    let mut c = harness::command(&op, short, &format!("{short} {}", "y".repeat(200)));
    c["validityPeriodSeconds"] = json!(2);
    c["registeredDelivery"] = json!(false);
    bus.publish(&c).await;
    let mut c = harness::command(&op, long, long);
    c["validityPeriodSeconds"] = json!(3600);
    c["registeredDelivery"] = json!(false);
    bus.publish(&c).await;

    assert_eq!(expired_segments(&mut bus, short).await, [(1, 2), (2, 2)]);

    let sent = harness::eventually(Duration::from_secs(20), || async {
        sim.submits()
            .into_iter()
            .find(|s| s.message() == long.as_bytes())
    })
    .await
    .expect("the long-valid message is sent after the outage");
    let left = relative_seconds(&sent.validity_period);
    assert!(
        (3500..=3595).contains(&left),
        "validity sent after about 6 s of refusals: {} ({left} s)",
        sent.validity_period
    );
    bus.settle(Duration::from_secs(1)).await;
    assert!(
        sim.submits()
            .iter()
            .all(|s| !String::from_utf8_lossy(s.message()).contains(short.as_str())),
        "the expired message never reached the SMSC"
    );
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_segment_counts_against_the_tps_limit() {
    let run = harness::setup(
        "thrtps",
        |c| {
            c.faults = rules(&["ESME_RTHROTTLED:every=4"]);
        },
        |config| {
            config.session.window = 10;
            config.throttle.tps = 20;
            config.retry = crds::config::RetryConfig::default();
        },
    )
    .await;
    let (op, sim, connector, mut bus) = (run.op, run.sim, run.connector, run.bus);

    // 10 messages of 4 segments: 40 submits, at most 20 in any second.
    let ids = harness::message_ids("thrtps", 10);
    let cmds: Vec<Value> = ids
        .iter()
        .map(|id| {
            let mut c = harness::command(&op, id, &format!("{id} {}", "z".repeat(560)));
            c["registeredDelivery"] = json!(false);
            c
        })
        .collect();
    bus.publish_many(&cmds).await;
    let all = harness::eventually(Duration::from_secs(30), || async {
        (sim.accepted_submits() >= 40).then_some(())
    })
    .await;
    assert!(all.is_some(), "accepted {} of 40", sim.accepted_submits());
    let max = sim.max_accepted_in(Duration::from_secs(1));
    assert!(max <= 21, "at most 20 segments in any second, saw {max}");
    bus.settle(Duration::from_millis(500)).await;
    assert_eq!(sim.accepted_submits(), 40, "each segment once");
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_retried_past_its_validity_expires_per_unsent_segment() {
    // Never answered: each attempt times out, the command is nak'ed and redelivered.
    let run = harness::setup(
        "thrredel",
        |c| {
            c.faults.no_response = Some("always".parse().expect("trigger"));
        },
        |config| {
            config.session.response_timeout_ms = 1_000;
        },
    )
    .await;
    let (op, sim, connector, mut bus) = (run.op, run.sim, run.connector, run.bus);

    let id = &harness::message_ids("thrredel", 1)[0];
    let mut c = harness::command(&op, id, &format!("{id} {}", "w".repeat(200)));
    c["validityPeriodSeconds"] = json!(2);
    c["registeredDelivery"] = json!(false);
    bus.publish(&c).await;
    let mut segments = expired_segments(&mut bus, id).await;
    segments.dedup();
    assert_eq!(segments, [(1, 2), (2, 2)]);
    // Only the first segment was ever written (the second waits for it), at most once per
    // attempt made within the validity.
    let written = sim.stats().count(
        e2e::sim::Direction::In,
        connector::protocol::codec::CommandId::SubmitSm,
        connector::protocol::codec::CommandStatus::ESME_ROK,
    );
    assert!((1..=3).contains(&written), "submits written: {written}");
    assert_eq!(connector.stop().await, Ok(()));
    bus.cleanup().await;
}
