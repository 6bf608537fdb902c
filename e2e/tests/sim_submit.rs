//! Submits against the simulator: ids, long messages, data_sm, query_sm, cancel_sm,
//! replace_sm, TPS limit.

use std::time::Duration;

use bytes::Bytes;
use connector::protocol::codec::{
    esm_class, Body, COctetString, CancelSm, CommandStatus, DataSm, MessageState, QuerySm,
    ReplaceSm, Tlv,
};
use e2e::sim::client::{submit_sm, RawClient};
use e2e::sim::{BindMode, IdForm, SegmentMark, SimConfig, SimHandle, Simulator};

async fn bound(config: SimConfig) -> (SimHandle, RawClient) {
    let sim = Simulator::start(config).await.expect("start simulator");
    let mut c = RawClient::connect(sim.addr()).await.expect("connect");
    let resp = c
        .bind(BindMode::Transceiver, "alice", "secret")
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    (sim, c)
}

fn message_id(pdu: &connector::protocol::codec::Pdu) -> String {
    match &pdu.body {
        Body::SubmitSmResp(r) | Body::DataSmResp(r) => r.message_id.to_string(),
        other => panic!("not a submit response: {other:?}"),
    }
}

#[tokio::test]
async fn ids_come_in_every_configured_form() {
    type Check = fn(&str) -> bool;
    let cases: [(IdForm, Check); 4] = [
        (IdForm::Hex, |id| {
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        }),
        (IdForm::Decimal, |id| {
            id.chars().all(|c| c.is_ascii_digit()) && !id.starts_with('0')
        }),
        (IdForm::DecimalPadded { width: 20 }, |id| {
            id.len() == 20 && id.starts_with('0') && id.chars().all(|c| c.is_ascii_digit())
        }),
        (IdForm::Uuid, |id| {
            uuid::Uuid::parse_str(id).is_ok() && id.len() == 36
        }),
    ];
    for (form, check) in cases {
        let mut config = SimConfig::with_account("alice", "secret");
        config.message_id = form;
        let (sim, mut c) = bound(config).await;
        let mut ids = Vec::new();
        for i in 0..3 {
            let resp = c
                .submit(submit_sm("1000", "2000", &format!("m{i}"), false).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status, CommandStatus::ESME_ROK);
            let id = message_id(&resp);
            assert!(check(&id), "{form}: {id}");
            ids.push(id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 3, "{form}: ids are unique");
        let captured: Vec<String> = sim.submits().into_iter().map(|s| s.message_id).collect();
        assert_eq!(captured, ids);
    }
}

#[tokio::test]
async fn two_instances_run_side_by_side_from_one_or_from_random_starts() {
    // By default every instance counts decimal ids from 1, like independent SMSCs.
    let (a, mut ca) = bound(SimConfig::with_account("alice", "secret")).await;
    let (b, mut cb) = bound(SimConfig::with_account("alice", "secret")).await;
    assert_ne!(a.addr(), b.addr());
    let sm = submit_sm("1", "2", "x", false).unwrap();
    let ia = message_id(&ca.submit(sm.clone()).await.unwrap());
    let ib = message_id(&cb.submit(sm.clone()).await.unwrap());
    assert_eq!((ia.as_str(), ib.as_str()), ("1", "1"));
    assert_eq!(message_id(&ca.submit(sm.clone()).await.unwrap()), "2");
    assert_eq!((a.accepted_submits(), b.accepted_submits()), (2, 1));
    // `id_start: random` gives each instance its own range.
    let random = || {
        let mut c = SimConfig::with_account("alice", "secret");
        c.id_start = "random".parse().unwrap();
        c
    };
    let (_c, mut cc) = bound(random()).await;
    let (_d, mut cd) = bound(random()).await;
    let ic = message_id(&cc.submit(sm.clone()).await.unwrap());
    let id = message_id(&cd.submit(sm).await.unwrap());
    assert_ne!(ic, id);
    assert!(ic.parse::<u64>().unwrap() >= 1 << 32, "{ic}");
}

#[tokio::test]
async fn segments_of_long_messages_are_accepted_and_recognised() {
    let (sim, mut c) = bound(SimConfig::with_account("alice", "secret")).await;
    // UDH with an 8-bit reference.
    for seq in 1..=2u8 {
        let mut sm = submit_sm("1000", "2000", "", false).unwrap();
        sm.esm_class = esm_class::UDHI;
        let mut text = vec![5, 0x00, 3, 0x7A, 2, seq];
        text.extend_from_slice(b"part");
        sm.short_message = Bytes::from(text);
        assert!(c.submit(sm).await.unwrap().status.is_ok());
    }
    // SAR TLVs.
    for seq in 1..=2u8 {
        let mut sm = submit_sm("1000", "2000", "sar part", false).unwrap();
        sm.tlvs = sm
            .tlvs
            .with(Tlv::SarMsgRefNum(0x1234))
            .with(Tlv::SarTotalSegments(2))
            .with(Tlv::SarSegmentSeqnum(seq));
        assert!(c.submit(sm).await.unwrap().status.is_ok());
    }
    // message_payload instead of short_message.
    let mut sm = submit_sm("1000", "2000", "", false).unwrap();
    let long = "x".repeat(1000);
    sm.tlvs = sm.tlvs.with(Tlv::MessagePayload(Bytes::from(long.clone())));
    assert!(c.submit(sm).await.unwrap().status.is_ok());

    let got = sim.submits();
    assert_eq!(got.len(), 5);
    let marks: Vec<_> = got
        .iter()
        .map(|s| s.segment.map(|g| (g.mark, g.reference, g.total, g.seq)))
        .collect();
    assert_eq!(
        marks,
        vec![
            Some((SegmentMark::Udh, 0x7A, 2, 1)),
            Some((SegmentMark::Udh, 0x7A, 2, 2)),
            Some((SegmentMark::Sar, 0x1234, 2, 1)),
            Some((SegmentMark::Sar, 0x1234, 2, 2)),
            None,
        ]
    );
    assert_eq!(got[4].message(), long.as_bytes());
}

#[tokio::test]
async fn data_sm_and_query_sm_are_answered() {
    let mut config = SimConfig::with_account("alice", "secret");
    config.receipts.delay = e2e::sim::Delay::from_millis(200);
    let (sim, mut c) = bound(config).await;
    let data = DataSm {
        source: connector::protocol::codec::Address::new(
            1,
            1,
            COctetString::try_from("1000").unwrap(),
        ),
        dest: connector::protocol::codec::Address::new(
            1,
            1,
            COctetString::try_from("2000").unwrap(),
        ),
        tlvs: connector::protocol::codec::Tlvs::new()
            .with(Tlv::MessagePayload(Bytes::from_static(b"data"))),
        ..DataSm::default()
    };
    let resp = c.request(data).await.unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    let id = message_id(&resp);
    assert_eq!(sim.submits()[0].message(), b"data");

    let query = |id: &str| QuerySm {
        message_id: COctetString::try_from(id).unwrap(),
        ..QuerySm::default()
    };
    let resp = c.request(query(&id)).await.unwrap();
    let Body::QuerySmResp(q) = &resp.body else {
        panic!("{resp:?}")
    };
    assert_eq!(q.message_state, MessageState::ENROUTE);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let resp = c.request(query(&id)).await.unwrap();
    let Body::QuerySmResp(q) = &resp.body else {
        panic!("{resp:?}")
    };
    assert_eq!(q.message_state, MessageState::DELIVERED);
    assert_eq!(q.final_date.len(), 16);

    let resp = c.request(query("ffffffffffffff")).await.unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_RQUERYFAIL);
}

#[tokio::test]
async fn cancel_sm_and_replace_sm_act_on_pending_messages_only() {
    let mut config = SimConfig::with_account("alice", "secret");
    config.receipts.delay = e2e::sim::Delay::from_millis(400);
    let (_sim, mut c) = bound(config).await;
    let mut ids = Vec::new();
    for text in ["to cancel", "to keep"] {
        let resp = c
            .submit(submit_sm("1000", "2000", text, true).unwrap())
            .await
            .unwrap();
        ids.push(message_id(&resp));
    }
    let id = |i: usize| COctetString::try_from(ids[i].as_str()).unwrap();
    let cancel = |i: usize| CancelSm {
        message_id: id(i),
        ..CancelSm::default()
    };
    let replace = |i: usize| ReplaceSm {
        message_id: id(i),
        ..ReplaceSm::default()
    };
    assert_eq!(
        c.request(cancel(0)).await.unwrap().status,
        CommandStatus::ESME_ROK
    );
    // Cancelled already, or unknown: a real SMSC's failure statuses.
    assert_eq!(
        c.request(cancel(0)).await.unwrap().status,
        CommandStatus::ESME_RCANCELFAIL
    );
    let unknown = CancelSm {
        message_id: COctetString::try_from("ffffffffffffff").unwrap(),
        ..CancelSm::default()
    };
    assert_eq!(
        c.request(unknown).await.unwrap().status,
        CommandStatus::ESME_RCANCELFAIL
    );
    assert_eq!(
        c.request(replace(0)).await.unwrap().status,
        CommandStatus::ESME_RREPLACEFAIL
    );
    assert_eq!(
        c.request(replace(1)).await.unwrap().status,
        CommandStatus::ESME_ROK
    );
    let query = QuerySm {
        message_id: id(0),
        ..QuerySm::default()
    };
    let resp = c.request(query).await.unwrap();
    let Body::QuerySmResp(q) = &resp.body else {
        panic!("{resp:?}")
    };
    assert_eq!(q.message_state, MessageState::DELETED);
    // Only the kept message gets its receipt; then it is final and can no longer be cancelled.
    let receipt = c.receive_deliver_sm().await.unwrap();
    assert_eq!(
        receipt.tlvs.receipted_message_id().map(|s| s.to_string()),
        Some(ids[1].clone())
    );
    assert!(c
        .recv_within(Duration::from_millis(300))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        c.request(cancel(1)).await.unwrap().status,
        CommandStatus::ESME_RCANCELFAIL
    );
}

#[tokio::test]
async fn tps_limit_throttles_and_per_second_counts_prove_it() {
    let mut config = SimConfig::with_account("alice", "secret");
    config.tps_limit = Some(50);
    let (sim, mut c) = bound(config).await;
    // Pipeline 120 submits at once; only 50 fit in the current second (or two windows if
    // the burst straddles a boundary).
    let sm = submit_sm("1000", "2000", "burst", false).unwrap();
    let mut seqs = Vec::new();
    for _ in 0..120 {
        seqs.push(c.send_request(Body::SubmitSm(sm.clone())).await.unwrap());
    }
    let (mut ok, mut throttled) = (0, 0);
    for seq in seqs {
        match c.response_to(seq).await.unwrap().status {
            CommandStatus::ESME_ROK => ok += 1,
            CommandStatus::ESME_RTHROTTLED => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok + throttled, 120);
    assert!((50..=100).contains(&ok), "accepted {ok}");
    let per_second = sim.accepted_per_second();
    assert!(per_second.iter().all(|&n| n <= 50), "{per_second:?}");
    assert_eq!(per_second.iter().sum::<u64>(), ok);
    let stats = sim.stats();
    assert_eq!(
        stats.count(
            e2e::sim::Direction::Out,
            connector::protocol::codec::CommandId::SubmitSmResp,
            CommandStatus::ESME_RTHROTTLED
        ),
        throttled
    );
}

#[tokio::test]
async fn subscribers_see_every_accepted_submit() {
    let (sim, mut c) = bound(SimConfig::with_account("alice", "secret")).await;
    let mut stream = sim.subscribe_submits().expect("capture is on");
    c.submit(submit_sm("1000", "2000", "watch me", false).unwrap())
        .await
        .unwrap();
    let got = stream.recv().await.unwrap();
    assert_eq!(got.short_message, Bytes::from_static(b"watch me"));
    assert_eq!(got.system_id, "alice");
    assert_eq!((got.source.as_str(), got.dest.as_str()), ("1000", "2000"));
}

#[tokio::test]
async fn time_fields_not_in_the_smpp_form_are_refused() {
    let (sim, mut c) = bound(SimConfig::with_account("alice", "secret")).await;
    let with_times = |schedule: &str, validity: &str| {
        let mut sm = submit_sm("1000", "2000", "t", false).unwrap();
        sm.schedule_delivery_time = COctetString::try_from(schedule).unwrap();
        sm.validity_period = COctetString::try_from(validity).unwrap();
        sm
    };
    let cases = [
        ("", "", CommandStatus::ESME_ROK),
        ("", "000001000000000R", CommandStatus::ESME_ROK),
        (
            "271231235959548+",
            "000000480000000R",
            CommandStatus::ESME_ROK,
        ),
        ("271331235959000+", "", CommandStatus::ESME_RINVSCHED),
        ("2712312359", "", CommandStatus::ESME_RINVSCHED),
        ("", "00000100000000R", CommandStatus::ESME_RINVEXPIRY),
        ("", "000001000000000X", CommandStatus::ESME_RINVEXPIRY),
    ];
    for (schedule, validity, expected) in cases {
        let resp = c.submit(with_times(schedule, validity)).await.unwrap();
        assert_eq!(resp.status, expected, "{schedule:?} / {validity:?}");
    }
    assert_eq!(sim.stats().event("rejected_times"), 4);
}
