use super::*;
use crate::pipeline::command::parse_command;
use chrono::Datelike;
use crds::config::{Charset, SplitMethod};

fn command(extra: &str) -> ValidCommand {
    let json = format!(
        r#"{{"messageId":"m1","operatorId":"op","from":"GHASI","to":"+233241234567",{extra}}}"#
    );
    parse_command("op", json.as_bytes()).unwrap()
}

fn cfg(split: SplitMethod) -> EncodingConfig {
    EncodingConfig {
        split,
        ..EncodingConfig::default()
    }
}

#[test]
fn single_gsm7_message() {
    let c = command(r#""text":"Your code is 123456","validityPeriodSeconds":86400,"priority":2"#);
    let m = build(&c, &cfg(SplitMethod::Udh), 7).unwrap();
    assert_eq!(m.concat_ref, None);
    assert_eq!(m.segments.len(), 1);
    let s = &m.segments[0];
    assert_eq!(s.segment, Segment { index: 1, count: 1 });
    let pdu = &s.pdu;
    assert_eq!((pdu.source.ton, pdu.source.npi), (5, 0));
    assert_eq!(pdu.source.addr, "GHASI");
    assert_eq!((pdu.dest.ton, pdu.dest.npi), (1, 1));
    assert_eq!(pdu.dest.addr, "233241234567");
    assert_eq!(pdu.data_coding, 0);
    assert_eq!(pdu.esm_class, 0);
    assert_eq!(pdu.priority_flag, 2);
    assert_eq!(pdu.registered_delivery, 1);
    assert_eq!(pdu.validity_period, "000001000000000R");
    assert_eq!(pdu.short_message.len(), 19);
    assert!(pdu.tlvs.is_empty());
}

#[test]
fn long_ucs2_message_with_udh() {
    let c = command(&format!(
        r#""text":"{}","registeredDelivery":false"#,
        "é".repeat(3) + &"ж".repeat(140)
    ));
    let m = build(&c, &cfg(SplitMethod::Udh), 0x1234).unwrap();
    assert_eq!(m.concat_ref, Some(0x1234));
    assert_eq!(m.segments.len(), 3);
    for (i, s) in m.segments.iter().enumerate() {
        assert_eq!(
            s.segment,
            Segment {
                index: i as u16 + 1,
                count: 3
            }
        );
        assert_eq!(s.pdu.data_coding, 8);
        assert_eq!(s.pdu.esm_class, esm_class::UDHI);
        assert_eq!(s.pdu.registered_delivery, 0);
        assert!(s.pdu.short_message.len() <= 140);
    }
}

#[test]
fn sar_and_payload_tlvs() {
    let text = "a".repeat(300);
    let c = command(&format!(r#""text":"{text}""#));
    let m = build(&c, &cfg(SplitMethod::Sar), 77).unwrap();
    assert_eq!(m.segments.len(), 2);
    let t = &m.segments[1].pdu.tlvs;
    assert_eq!(t.sar_msg_ref_num(), Some(&77));
    assert_eq!(t.sar_total_segments(), Some(&2));
    assert_eq!(t.sar_segment_seqnum(), Some(&2));
    assert_eq!(m.segments[1].pdu.esm_class, 0);

    let m = build(&c, &cfg(SplitMethod::Payload), 77).unwrap();
    assert_eq!(m.segments.len(), 1);
    assert!(m.segments[0].pdu.short_message.is_empty());
    assert_eq!(
        m.segments[0].pdu.tlvs.message_payload().map(|p| p.len()),
        Some(300)
    );
}

#[test]
fn binary_content() {
    let c = command(r#""binary":"AAEC/w==","dataCoding":4,"scheduleAt":"2026-11-25T10:00:00.5Z""#);
    let m = build(&c, &cfg(SplitMethod::Udh), 1).unwrap();
    assert_eq!(m.segments.len(), 1);
    assert_eq!(m.segments[0].pdu.data_coding, 4);
    assert_eq!(&m.segments[0].pdu.short_message[..], &[0, 1, 2, 255]);
    assert_eq!(m.segments[0].pdu.schedule_delivery_time, "261125100000500+");
}

#[test]
fn forced_encoding_that_cannot_carry_the_text_is_an_error() {
    let c = command(r#""text":"Привет","encoding":"gsm7""#);
    let e = build(&c, &cfg(SplitMethod::Udh), 1).unwrap_err();
    assert!(matches!(e, BuildError::Text(_)));
    assert!(e.to_string().contains("cannot be encoded"), "{e}");
    let latin_only = EncodingConfig {
        accepted: vec![Charset::Gsm7],
        ..EncodingConfig::default()
    };
    let c = command(r#""text":"Привет""#);
    assert!(build(&c, &latin_only, 1).is_err());
}

#[test]
fn smpp_times() {
    assert_eq!(relative_time(1), "000000000001000R");
    assert_eq!(relative_time(90_061), "000001010101000R");
    assert_eq!(relative_time(31_536_000), "010000000000000R");
    assert_eq!(relative_time(40 * 86_400), "000110000000000R");
    let at = DateTime::parse_from_rfc3339("2027-01-02T03:04:05Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(absolute_time(at), "270102030405000+");
}

#[test]
fn every_time_sent_is_in_the_smpp_form() {
    use crate::protocol::codec::SmppTime;
    for seconds in [
        1,
        59,
        3_599,
        86_399,
        90_061,
        31_535_999,
        31_536_000,
        u32::MAX,
    ] {
        let t = relative_time(seconds);
        assert!(
            matches!(
                SmppTime::parse(t.as_bytes()),
                Ok(Some(SmppTime::Relative { .. }))
            ),
            "{seconds}: {t}"
        );
    }
    let mut at = DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    while at.year() < 2100 {
        let t = absolute_time(at);
        assert!(
            matches!(
                SmppTime::parse(t.as_bytes()),
                Ok(Some(SmppTime::Absolute {
                    utc_offset_quarters: 0,
                    ..
                }))
            ),
            "{at}: {t}"
        );
        at += chrono::Duration::seconds(7_919_999);
    }
}
