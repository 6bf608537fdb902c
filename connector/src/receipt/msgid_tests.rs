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
    // More than 64 bits, or not a number in the form: compared as-is.
    assert_eq!(
        key("1FFFFFFFFFFFFFFFF", IdSide::Submit, IdForm::HexToDecimal).as_str(),
        "s:1ffffffffffffffff"
    );
    assert_eq!(
        key("abc-1", IdSide::Receipt, IdForm::HexToDecimal).as_str(),
        "s:abc-1"
    );
    assert_eq!(
        key("0A1B2C", IdSide::Submit, IdForm::HexToDecimal).as_str(),
        "hd:662316"
    );
    assert_eq!(
        key("662316", IdSide::Receipt, IdForm::HexToDecimal).as_str(),
        "hd:662316"
    );
    assert_eq!(
        key("0A1B2C", IdSide::Receipt, IdForm::DecimalToHex).as_str(),
        "dh:662316"
    );
    assert!(ids_match("uuid-X", "UUID-x", IdForm::DecimalToHex));
}

#[test]
fn forms_never_collide() {
    // "123" read as hex is 291; a receipt "291" under as-is must not find it.
    let submit = canonical_keys("123", IdSide::Submit, ReceiptIdForm::Auto);
    assert_eq!(
        submit.iter().map(IdKey::as_str).collect::<Vec<_>>(),
        vec!["s:123", "hd:291", "dh:123"]
    );
    let receipt = key("291", IdSide::Receipt, IdForm::AsIs);
    assert!(!submit.contains(&receipt));
    assert!(submit.contains(&key("291", IdSide::Receipt, IdForm::HexToDecimal)));
}

#[test]
fn canonical_keys_per_configuration() {
    assert_eq!(
        canonical_keys("0A1B2C", IdSide::Submit, ReceiptIdForm::HexToDecimal),
        vec![key("662316", IdSide::Receipt, IdForm::HexToDecimal)]
    );
    assert_eq!(
        canonical_keys("0A1B2C", IdSide::Submit, ReceiptIdForm::AsIs),
        vec![key("a1b2c", IdSide::Receipt, IdForm::AsIs)]
    );
    let uuid = canonical_keys("F1EC8CE7-FC9D", IdSide::Submit, ReceiptIdForm::Auto);
    assert_eq!(uuid.len(), 1);
    assert_eq!(uuid[0].as_str(), "s:f1ec8ce7-fc9d");
    let receipt = canonical_keys("662316", IdSide::Receipt, ReceiptIdForm::Auto);
    assert_eq!(
        receipt.iter().map(IdKey::as_str).collect::<Vec<_>>(),
        vec!["s:662316", "hd:662316", "dh:6693654"]
    );
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
