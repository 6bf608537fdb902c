use chrono::{TimeZone, Utc};

use super::*;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<DateTime<Utc>> {
    Some(Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap())
}

fn receipt(text: &str) -> ReceiptInput<'_> {
    ReceiptInput {
        esm_class: ESM_DELIVERY_RECEIPT,
        short_message: text.as_bytes(),
        ..ReceiptInput::default()
    }
}

fn owned(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn appendix_b_kannel_style() {
    let r = parse_receipt(&receipt(
        "id:1234567890 sub:001 dlvrd:001 submit date:2511251000 done date:2511251003 stat:DELIVRD err:000 text:Hello world",
    ))
    .unwrap();
    assert_eq!(r.kind, MessageKind::DeliveryReceipt);
    assert_eq!(r.message_id, "1234567890");
    assert_eq!(r.message_id_source, ValueSource::Text);
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.status_source, ValueSource::Text);
    assert!(r.is_final());
    assert_eq!(r.stat, "DELIVRD");
    assert_eq!(r.err, owned("000"));
    assert_eq!(r.network_error, None);
    assert_eq!(r.submit_date, at(2025, 11, 25, 10, 0, 0));
    assert_eq!(r.done_date, at(2025, 11, 25, 10, 3, 0));
    assert_eq!(r.fields.sub, owned("001"));
    assert_eq!(r.fields.dlvrd, owned("001"));
    assert_eq!(r.fields.text, owned("Hello world"));
    assert!(r.fields.extra.is_empty());
    assert!(r.fields.unparsed.is_empty());
}

#[test]
fn kannel_style_hex_id_undelivered() {
    let r = parse_receipt(&receipt(
        "id:0A1B2C3D sub:001 dlvrd:000 submit date:2511251000 done date:2511251005 stat:UNDELIV err:001 text:Test",
    ))
    .unwrap();
    assert_eq!(r.message_id, "0A1B2C3D");
    assert_eq!(r.status, DeliveryStatus::Undelivered);
    assert!(r.is_final());
    assert_eq!(r.stat, "UNDELIV");
    assert_eq!(r.err, owned("001"));
    assert_eq!(r.fields.dlvrd, owned("000"));
    assert_eq!(r.done_date, at(2025, 11, 25, 10, 5, 0));
    assert_eq!(r.fields.text, owned("Test"));
}

#[test]
fn jasmin_style_uuid_reordered_with_tlvs() {
    let text = "id:f1ec8ce7-fc9d-4b88-9e3a-4e5d3d8e9d3a submit date:2511251000 done date:2511251001 stat:DELIVRD sub:001 dlvrd:001 err:000 text:";
    let r = parse_receipt(&ReceiptInput {
        receipted_message_id: Some("f1ec8ce7-fc9d-4b88-9e3a-4e5d3d8e9d3a"),
        message_state: Some(2),
        ..receipt(text)
    })
    .unwrap();
    assert_eq!(r.message_id, "f1ec8ce7-fc9d-4b88-9e3a-4e5d3d8e9d3a");
    assert_eq!(r.message_id_source, ValueSource::Tlv);
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.status_source, ValueSource::Tlv);
    assert_eq!(r.stat, "DELIVRD");
    assert_eq!(r.err, owned("000"));
    assert_eq!(r.submit_date, at(2025, 11, 25, 10, 0, 0));
    assert_eq!(r.done_date, at(2025, 11, 25, 10, 1, 0));
    assert_eq!(
        r.fields.id.as_deref(),
        Some("f1ec8ce7-fc9d-4b88-9e3a-4e5d3d8e9d3a")
    );
    assert_eq!(r.fields.sub, owned("001"));
    assert_eq!(r.fields.dlvrd, owned("001"));
    assert_eq!(r.fields.text, owned(""));
}

#[test]
fn melrose_labs_style_twelve_digit_dates() {
    let r = parse_receipt(&receipt(
        "id:c449ab9744f47b6af1879e49e75e4f40 sub:001 dlvrd:001 submit date:251125100005 done date:251125100009 stat:DELIVRD err:000 text:Hello from Melrose",
    ))
    .unwrap();
    assert_eq!(r.message_id, "c449ab9744f47b6af1879e49e75e4f40");
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.submit_date, at(2025, 11, 25, 10, 0, 5));
    assert_eq!(r.done_date, at(2025, 11, 25, 10, 0, 9));
    assert_eq!(r.err, owned("000"));
    assert_eq!(r.fields.text, owned("Hello from Melrose"));
}

#[test]
fn smppsim_style_capital_text_key_expired() {
    let r = parse_receipt(&receipt(
        "id:0000000042 sub:001 dlvrd:000 submit date:2511251000 done date:2511261000 stat:EXPIRED err:000 Text:SMPPSim message",
    ))
    .unwrap();
    assert_eq!(r.message_id, "0000000042");
    assert_eq!(r.status, DeliveryStatus::Expired);
    assert!(r.is_final());
    assert_eq!(r.stat, "EXPIRED");
    assert_eq!(r.err, owned("000"));
    assert_eq!(r.fields.sub, owned("001"));
    assert_eq!(r.fields.dlvrd, owned("000"));
    assert_eq!(r.done_date, at(2025, 11, 26, 10, 0, 0));
    assert_eq!(r.fields.text, owned("SMPPSim message"));
}

#[test]
fn tlv_only_receipt_with_empty_text() {
    let r = parse_receipt(&ReceiptInput {
        esm_class: ESM_DELIVERY_RECEIPT,
        data_coding: 0,
        short_message: b"",
        receipted_message_id: Some("0A1B2C\0"),
        message_state: Some(5),
        network_error_code: Some([3, 0x00, 0x1B]),
    })
    .unwrap();
    assert_eq!(r.message_id, "0A1B2C");
    assert_eq!(r.message_id_source, ValueSource::Tlv);
    assert_eq!(r.status, DeliveryStatus::Undelivered);
    assert_eq!(r.status_source, ValueSource::Tlv);
    assert_eq!(r.stat, "UNDELIV");
    assert_eq!(r.err, None);
    assert_eq!(
        r.network_error,
        Some(NetworkErrorCode {
            network_type: 3,
            error_code: 27
        })
    );
    assert_eq!(r.network_error.map(|n| n.to_string()), owned("3:27"));
    assert_eq!(r.submit_date, None);
    assert_eq!(r.done_date, None);
    assert_eq!(r.fields, ReceiptFields::default());
}

#[test]
fn err_with_letters() {
    let r = parse_receipt(&receipt(
        "id:77 sub:001 dlvrd:000 submit date:2511251000 done date:2511251002 stat:REJECTD err:E0A text:",
    ))
    .unwrap();
    assert_eq!(r.message_id, "77");
    assert_eq!(r.status, DeliveryStatus::Rejected);
    assert_eq!(r.stat, "REJECTD");
    assert_eq!(r.err, owned("E0A"));
    assert_eq!(r.fields.text, owned(""));
}

#[test]
fn uppercase_keys() {
    let r = parse_receipt(&receipt(
        "ID:123 SUB:001 DLVRD:001 SUBMIT DATE:2511251000 DONE DATE:2511251001 STAT:DELIVRD ERR:000 TEXT:UPPER",
    ))
    .unwrap();
    assert_eq!(r.message_id, "123");
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.err, owned("000"));
    assert_eq!(r.submit_date, at(2025, 11, 25, 10, 0, 0));
    assert_eq!(r.done_date, at(2025, 11, 25, 10, 1, 0));
    assert_eq!(r.fields.sub, owned("001"));
    assert_eq!(r.fields.dlvrd, owned("001"));
    assert_eq!(r.fields.text, owned("UPPER"));
}

#[test]
fn missing_sub_dlvrd_and_text() {
    let r = parse_receipt(&receipt(
        "id:555 submit date:2511251000 done date:2511251001 stat:DELIVRD err:000",
    ))
    .unwrap();
    assert_eq!(r.message_id, "555");
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.err, owned("000"));
    assert_eq!(r.fields.sub, None);
    assert_eq!(r.fields.dlvrd, None);
    assert_eq!(r.fields.text, None);
    assert_eq!(r.done_date, at(2025, 11, 25, 10, 1, 0));
}

#[test]
fn extra_vendor_fields_are_kept() {
    let r = parse_receipt(&receipt(
        "id:999 sub:001 dlvrd:001 submit date:2511251000 done date:2511251001 stat:DELIVRD err:000 mcc:620 mnc:01 imsi:620011234567890 text:hi",
    ))
    .unwrap();
    assert_eq!(r.message_id, "999");
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(
        r.fields.extra,
        vec![
            ("mcc".to_string(), "620".to_string()),
            ("mnc".to_string(), "01".to_string()),
            ("imsi".to_string(), "620011234567890".to_string()),
        ]
    );
    assert_eq!(r.fields.text, owned("hi"));
}

#[test]
fn intermediate_notification_is_never_final() {
    let r = parse_receipt(&ReceiptInput {
        esm_class: ESM_INTERMEDIATE_NOTIFICATION,
        ..receipt("id:42 sub:001 dlvrd:000 submit date:2511251000 done date:2511251000 stat:ENROUTE err:000 text:")
    })
    .unwrap();
    assert_eq!(r.kind, MessageKind::IntermediateNotification);
    assert_eq!(r.status, DeliveryStatus::Enroute);
    assert!(!r.is_final());
    let r = parse_receipt(&ReceiptInput {
        esm_class: ESM_INTERMEDIATE_NOTIFICATION,
        ..receipt("id:42 stat:UNDELIV err:027")
    })
    .unwrap();
    assert_eq!(r.status, DeliveryStatus::Undelivered);
    assert!(!r.is_final());
}

#[test]
fn accepted_is_not_final() {
    let r = parse_receipt(&receipt("id:1 sub:001 dlvrd:000 submit date:2511251000 done date:2511251000 stat:ACCEPTD err:000 text:x")).unwrap();
    assert_eq!(r.status, DeliveryStatus::Accepted);
    assert!(!r.is_final());
    assert_eq!(r.fields.text, owned("x"));
}

#[test]
fn underscore_keys_and_deleted() {
    let r = parse_receipt(&receipt(
        "id:1 submit_date:2511251000 done_date:2511251001 stat:DELETED err:000",
    ))
    .unwrap();
    assert_eq!(r.status, DeliveryStatus::Deleted);
    assert_eq!(r.submit_date, at(2025, 11, 25, 10, 0, 0));
    assert_eq!(r.done_date, at(2025, 11, 25, 10, 1, 0));
    assert_eq!(r.err, owned("000"));
}

#[test]
fn values_after_a_space_following_the_colon() {
    let r = parse_receipt(&receipt(
        "id: 12345 sub: 001 stat: DELIVRD err: 000 text: spaced",
    ))
    .unwrap();
    assert_eq!(r.message_id, "12345");
    assert_eq!(r.fields.sub, owned("001"));
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.err, owned("000"));
    assert_eq!(r.fields.text, owned("spaced"));
}

#[test]
fn message_state_tlv_wins_over_the_text() {
    let r = parse_receipt(&ReceiptInput {
        message_state: Some(5),
        ..receipt("id:1 stat:DELIVRD err:000")
    })
    .unwrap();
    assert_eq!(r.status, DeliveryStatus::Undelivered);
    assert_eq!(r.status_source, ValueSource::Tlv);
    assert_eq!(r.stat, "DELIVRD");
    let r = parse_receipt(&ReceiptInput {
        receipted_message_id: Some("ABC"),
        ..receipt("id:1 stat:DELIVRD")
    })
    .unwrap();
    assert_eq!(r.message_id, "ABC");
    assert_eq!(r.fields.id, owned("1"));
}

#[test]
fn lowercase_stat_and_fourteen_digit_dates() {
    let r = parse_receipt(&receipt(
        "id:abc submit date:20251125100005 done date:20251125100107 stat:delivrd err:0",
    ))
    .unwrap();
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.stat, "delivrd");
    assert_eq!(r.submit_date, at(2025, 11, 25, 10, 0, 5));
    assert_eq!(r.done_date, at(2025, 11, 25, 10, 1, 7));
    assert_eq!(r.err, owned("0"));
}

#[test]
fn ucs2_receipt_text() {
    let bytes = crate::protocol::text::ucs2::encode("id:88 stat:DELIVRD err:000 text:ok");
    let r = parse_receipt(&ReceiptInput {
        esm_class: ESM_DELIVERY_RECEIPT,
        data_coding: 0x08,
        short_message: &bytes,
        ..ReceiptInput::default()
    })
    .unwrap();
    assert_eq!(r.message_id, "88");
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.fields.text, owned("ok"));
}

#[test]
fn stat_first_and_text_in_the_middle() {
    let r = parse_receipt(&receipt("stat:UNKNOWN err:000 id:abc text:a:b c sub:001")).unwrap();
    assert_eq!(r.status, DeliveryStatus::Unknown);
    assert_eq!(r.message_id, "abc");
    assert_eq!(r.fields.text, owned("a:b c sub:001"));
    assert_eq!(r.fields.sub, None);
}

#[test]
fn text_with_colons_and_latin1_bytes() {
    let mut bytes = b"id:5 stat:DELIVRD err:000 text:Code: 12 at 10:00 ".to_vec();
    bytes.push(0xE9);
    let r = parse_receipt(&ReceiptInput {
        esm_class: ESM_DELIVERY_RECEIPT,
        short_message: &bytes,
        ..ReceiptInput::default()
    })
    .unwrap();
    assert_eq!(r.fields.text, owned("Code: 12 at 10:00 é"));
}

#[test]
fn unrecognised_stat_is_unknown_with_the_raw_value() {
    let r = parse_receipt(&receipt("id:5 stat:FAILED err:X12")).unwrap();
    assert_eq!(r.status, DeliveryStatus::Unknown);
    assert_eq!(r.stat, "FAILED");
    assert_eq!(r.err, owned("X12"));
    assert!(r.is_final());
}

#[test]
fn bad_dates_are_none_and_kept_raw() {
    let r = parse_receipt(&receipt(
        "id:5 submit date:2513251000 done date:25112510 stat:DELIVRD",
    ))
    .unwrap();
    assert_eq!(r.submit_date, None);
    assert_eq!(r.done_date, None);
    assert_eq!(r.fields.submit_date, owned("2513251000"));
    assert_eq!(r.fields.done_date, owned("25112510"));
}

#[test]
fn errors_are_typed() {
    assert_eq!(
        parse_receipt(&ReceiptInput {
            esm_class: 0x00,
            ..receipt("id:1 stat:DELIVRD")
        }),
        Err(ReceiptError::NotAReceipt(0x00))
    );
    assert_eq!(
        parse_receipt(&ReceiptInput {
            esm_class: 0x08,
            ..receipt("id:1 stat:DELIVRD")
        }),
        Err(ReceiptError::NotAReceipt(0x08))
    );
    assert_eq!(
        parse_receipt(&receipt("stat:DELIVRD")),
        Err(ReceiptError::MissingMessageId)
    );
    assert_eq!(
        parse_receipt(&receipt("id: stat:DELIVRD")),
        Err(ReceiptError::MissingMessageId)
    );
    assert_eq!(
        parse_receipt(&receipt("id:1 err:000")),
        Err(ReceiptError::MissingStatus {
            message_id: "1".into()
        })
    );
    assert_eq!(
        parse_receipt(&ReceiptInput {
            message_state: Some(9),
            ..receipt("id:1")
        }),
        Err(ReceiptError::InvalidMessageState {
            state: 9,
            message_id: "1".into()
        })
    );
    let r = parse_receipt(&ReceiptInput {
        message_state: Some(0),
        ..receipt("id:1 stat:EXPIRED")
    })
    .unwrap();
    assert_eq!(r.status, DeliveryStatus::Expired);
    assert_eq!(r.status_source, ValueSource::Text);
}

#[test]
fn esm_class_kinds() {
    assert_eq!(message_kind(0x04), MessageKind::DeliveryReceipt);
    assert_eq!(message_kind(0x44), MessageKind::DeliveryReceipt);
    assert_eq!(message_kind(0x20), MessageKind::IntermediateNotification);
    assert_eq!(message_kind(0x00), MessageKind::Other);
    assert_eq!(message_kind(0x40), MessageKind::Other);
    assert_eq!(message_kind(0x10), MessageKind::Other);
}

#[test]
fn stat_and_message_state_mapping() {
    let table = [
        ("DELIVRD", DeliveryStatus::Delivered, "DELIVERED", true),
        ("UNDELIV", DeliveryStatus::Undelivered, "UNDELIVERED", true),
        ("EXPIRED", DeliveryStatus::Expired, "EXPIRED", true),
        ("DELETED", DeliveryStatus::Deleted, "DELETED", true),
        ("REJECTD", DeliveryStatus::Rejected, "REJECTED", true),
        ("ACCEPTD", DeliveryStatus::Accepted, "ACCEPTED", false),
        ("ENROUTE", DeliveryStatus::Enroute, "ENROUTE", false),
        ("UNKNOWN", DeliveryStatus::Unknown, "UNKNOWN", true),
    ];
    for (stat, status, name, fin) in table {
        assert_eq!(DeliveryStatus::from_stat(stat), Some(status));
        assert_eq!(status.as_str(), name);
        assert_eq!(status.smpp_stat(), stat);
        assert_eq!(status.is_final(), fin);
    }
    let states = [
        (1, DeliveryStatus::Enroute),
        (2, DeliveryStatus::Delivered),
        (3, DeliveryStatus::Expired),
        (4, DeliveryStatus::Deleted),
        (5, DeliveryStatus::Undelivered),
        (6, DeliveryStatus::Accepted),
        (7, DeliveryStatus::Unknown),
        (8, DeliveryStatus::Rejected),
    ];
    for (v, s) in states {
        assert_eq!(DeliveryStatus::from_message_state(v), Some(s));
    }
    assert_eq!(DeliveryStatus::from_message_state(0), None);
    assert_eq!(DeliveryStatus::from_message_state(9), None);
}

fn seg(status: DeliveryStatus) -> Option<SegmentState> {
    Some(SegmentState {
        status,
        is_final: status.is_final(),
    })
}

#[test]
fn aggregate_message_status() {
    use DeliveryStatus as D;
    assert_eq!(
        message_status([seg(D::Delivered)]),
        MessageStatus::Delivered
    );
    assert_eq!(
        message_status([seg(D::Delivered), seg(D::Delivered)]),
        MessageStatus::Delivered
    );
    assert_eq!(
        message_status([seg(D::Delivered), None]),
        MessageStatus::Pending
    );
    assert_eq!(
        message_status([seg(D::Delivered), seg(D::Enroute)]),
        MessageStatus::Pending
    );
    assert_eq!(message_status([seg(D::Accepted)]), MessageStatus::Pending);
    assert_eq!(
        message_status([seg(D::Undelivered), None]),
        MessageStatus::Pending
    );
    assert_eq!(
        message_status([seg(D::Delivered), seg(D::Expired)]),
        MessageStatus::Expired
    );
    assert_eq!(
        message_status([seg(D::Expired), seg(D::Undelivered), seg(D::Delivered)]),
        MessageStatus::Undelivered
    );
    assert_eq!(
        message_status([seg(D::Undelivered), seg(D::Rejected)]),
        MessageStatus::Rejected
    );
    assert_eq!(
        message_status([seg(D::Unknown), seg(D::Deleted)]),
        MessageStatus::Deleted
    );
    assert_eq!(
        message_status([seg(D::Unknown), seg(D::Delivered)]),
        MessageStatus::Unknown
    );
    assert_eq!(
        message_status([Some(SegmentState {
            status: D::Delivered,
            is_final: false
        })]),
        MessageStatus::Pending
    );
    assert_eq!(
        message_status(Vec::<Option<SegmentState>>::new()),
        MessageStatus::Pending
    );
    assert_eq!(MessageStatus::Pending.as_str(), "PENDING");
}

#[test]
fn multibyte_characters_never_split_a_key() {
    let r = parse_receipt(&receipt(
        "id:1 done dâte:2511251000 submit é stat:DELIVRD text:ü",
    ))
    .unwrap();
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.done_date, None);
    assert_eq!(
        r.fields.unparsed,
        vec!["done", "dâte:2511251000", "submit", "é"]
    );
    assert!(r.fields.extra.is_empty());
    assert_eq!(r.fields.text, owned("ü"));
}
