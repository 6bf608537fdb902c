use crds::config::ReceiptIdForm;

use super::*;

#[test]
fn as_is_ignores_case_and_leading_zeros() {
    let table = [
        ("0A1B2C", "a1b2c", true),
        ("000123", "123", true),
        ("ABCDEF", "abcdef", true),
        ("0", "000", true),
        ("123", "124", false),
        (
            "F1EC8CE7-FC9D-4B88-9E3A-4E5D3D8E9D3A",
            "f1ec8ce7-fc9d-4b88-9e3a-4e5d3d8e9d3a",
            true,
        ),
        ("0f1ec8ce7-aa", "f1ec8ce7-aa", false),
        (" 42\0", "42", true),
        ("msg-001", "MSG-001", true),
        ("msg-001", "msg-1", false),
    ];
    for (submit, receipt, same) in table {
        assert_eq!(
            ids_match(submit, receipt, IdForm::AsIs),
            same,
            "{submit} / {receipt}"
        );
    }
}

#[test]
fn hex_to_decimal() {
    let table = [
        ("0A1B2C", "662316", true),
        ("0a1b2c", "0662316", true),
        ("000A1B2C", "662316", true),
        ("FFFFFFFFFFFFFFFF", "18446744073709551615", true),
        ("0A1B2C", "662317", false),
        // 0x0A1B2C is 662316; 660268 is 0x0A132C.
        ("0A1B2C", "660268", false),
        ("0A132C", "660268", true),
        ("10", "16", true),
        ("10", "10", false),
        ("0", "0", true),
    ];
    for (submit, receipt, same) in table {
        assert_eq!(
            ids_match(submit, receipt, IdForm::HexToDecimal),
            same,
            "{submit} / {receipt}"
        );
    }
}

#[test]
fn decimal_to_hex() {
    let table = [
        ("662316", "0A1B2C", true),
        ("662316", "a1b2c", true),
        ("18446744073709551615", "ffffffffffffffff", true),
        ("16", "10", true),
        ("16", "16", false),
    ];
    for (submit, receipt, same) in table {
        assert_eq!(
            ids_match(submit, receipt, IdForm::DecimalToHex),
            same,
            "{submit} / {receipt}"
        );
    }
}

#[test]
fn unparseable_ids_fall_back_to_as_is() {
    // More than 64 bits, or not a number in the form: looked up as-is.
    assert_eq!(
        receipt_key("18446744073709551616", IdForm::HexToDecimal).as_str(),
        "s:18446744073709551616"
    );
    assert_eq!(
        receipt_key("abc-1", IdForm::HexToDecimal).as_str(),
        "s:abc-1"
    );
    assert_eq!(
        receipt_key("1FFFFFFFFFFFFFFFF", IdForm::DecimalToHex).as_str(),
        "s:1ffffffffffffffff"
    );
    assert!(ids_match("uuid-X", "UUID-x", IdForm::DecimalToHex));
    assert!(!ids_match("1FFFFFFFFFFFFFFFF", "1", IdForm::HexToDecimal));
}

#[test]
fn receipt_ids_are_written_the_way_the_submit_side_writes_them() {
    assert_eq!(submit_key("0A1B2C").as_str(), "s:a1b2c");
    assert_eq!(
        receipt_key("662316", IdForm::HexToDecimal).as_str(),
        "s:a1b2c"
    );
    assert_eq!(
        receipt_key("0A1B2C", IdForm::DecimalToHex).as_str(),
        "s:662316"
    );
    assert_eq!(submit_key("000662316").as_str(), "s:662316");
    assert_eq!(receipt_key("0", IdForm::HexToDecimal).as_str(), "s:0");
}

#[test]
fn each_form_names_its_own_submit() {
    // Receipt "291": as-is names submit "291"; read as decimal and written in hex it names
    // submit "123" (0x123 = 291); read as hex (0x291 = 657) it names submit "657".
    let lookup = ReceiptLookup::new("291", None);
    assert_eq!(lookup.key.as_str(), "s:291");
    assert_eq!(
        lookup
            .unconfirmed
            .iter()
            .map(|(f, k)| (*f, k.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (IdForm::HexToDecimal, "s:123"),
            (IdForm::DecimalToHex, "s:657")
        ]
    );
    assert!(lookup.as_is_match_is_evidence());
    assert!(!ids_match("123", "291", IdForm::AsIs));
    assert!(ids_match("123", "291", IdForm::HexToDecimal));
}

#[test]
fn receipt_lookups_per_established_form() {
    let fixed = ReceiptLookup::new("662316", IdForm::fixed(ReceiptIdForm::HexToDecimal));
    assert_eq!(fixed.key, submit_key("0A1B2C"));
    assert!(fixed.unconfirmed.is_empty());
    assert!(!fixed.as_is_match_is_evidence());
    let as_is = ReceiptLookup::new("0A1B2C", Some(IdForm::AsIs));
    assert_eq!(as_is.key, submit_key("a1b2c"));
    assert!(as_is.unconfirmed.is_empty());
    // A UUID parses in no numeric form: one key, no evidence.
    let uuid = ReceiptLookup::new("F1EC8CE7-FC9D", None);
    assert_eq!(uuid.key, submit_key("f1ec8ce7-fc9d"));
    assert!(uuid.unconfirmed.is_empty());
    // "10" as-is and "10" decimal-to-hex's reading (0x10 = 16) differ; hex-to-decimal gives
    // "a". Duplicates are left out: "1" is "1" in every form.
    assert!(ReceiptLookup::new("1", None).unconfirmed.is_empty());
    assert_eq!(ReceiptLookup::new("10", None).unconfirmed.len(), 2);
    assert_eq!(ReceiptLookup::new("10", None).key.as_str(), "s:10");
}

#[test]
fn learner_with_a_fixed_form_is_locked() {
    let l = IdFormLearner::new(ReceiptIdForm::HexToDecimal);
    assert_eq!(l.locked(), Some(IdForm::HexToDecimal));
    assert_eq!(l.form(), IdForm::HexToDecimal);
}

#[test]
fn learner_locks_as_is_on_uuids_or_letters_on_both_sides() {
    let mut l = IdFormLearner::new(ReceiptIdForm::Auto);
    assert_eq!(l.locked(), None);
    assert_eq!(l.form(), IdForm::AsIs);
    l.observe_submit("12345");
    l.observe_receipt("12345");
    assert_eq!(l.locked(), None);
    l.observe_submit("f1ec8ce7-fc9d-4b88-9e3a-4e5d3d8e9d3a");
    assert_eq!(l.locked(), Some(IdForm::AsIs));

    let mut l = IdFormLearner::new(ReceiptIdForm::Auto);
    l.observe_submit("0A1B2C");
    assert_eq!(l.locked(), None);
    l.observe_receipt("662316");
    assert_eq!(l.locked(), None);
    l.observe_receipt("0a1b2d");
    assert_eq!(l.locked(), Some(IdForm::AsIs));
}

#[test]
fn learner_locks_a_conversion_after_unambiguous_matches() {
    let mut l = IdFormLearner::new(ReceiptIdForm::Auto);
    l.record_match(IdForm::HexToDecimal);
    l.record_match(IdForm::HexToDecimal);
    assert_eq!(l.locked(), None);
    l.record_match(IdForm::HexToDecimal);
    assert_eq!(l.locked(), Some(IdForm::HexToDecimal));
    assert_eq!(l.form(), IdForm::HexToDecimal);
    // Locked: later evidence changes nothing.
    l.observe_submit("uuid-like-id");
    assert_eq!(l.locked(), Some(IdForm::HexToDecimal));

    let mut l = IdFormLearner::new(ReceiptIdForm::Auto);
    l.record_match(IdForm::AsIs);
    for _ in 0..5 {
        l.record_match(IdForm::DecimalToHex);
    }
    assert_eq!(l.locked(), None, "conflicting evidence must not lock");
}
