use super::*;
use serde_json::json;
use testkit::schema_errors;

const OP: &str = "mtn-gh";

fn contract_example() -> Value {
    json!({
        "messageId": "01JDX0Q7S9W3B2K4M5N6P7R8T9",
        "operatorId": "mtn-gh",
        "from": "GHASI",
        "to": "233241234567",
        "text": "Your code is 123456",
        "encoding": "auto",
        "registeredDelivery": true,
        "validityPeriodSeconds": 86400,
        "priority": 0,
        "metadata": {"tenantId": "t-42", "campaignId": "c-7"}
    })
}

fn with(changes: Value) -> Value {
    let mut v = contract_example();
    let obj = v.as_object_mut().unwrap();
    for (k, val) in changes.as_object().unwrap() {
        if val.is_null() {
            obj.remove(k);
        } else {
            obj.insert(k.clone(), val.clone());
        }
    }
    v
}

fn parse(v: &Value) -> Result<ValidCommand, Rejection> {
    parse_command(OP, v.to_string().as_bytes())
}

/// Expected outcome of a case: accepted, or rejected with this [`RejectReason::kind`].
/// `contract_only` marks rejections that the JSON Schema alone does not make.
struct Case {
    name: &'static str,
    command: Value,
    rejected: Option<&'static str>,
    contract_only: bool,
}

fn ok(name: &'static str, command: Value) -> Case {
    Case {
        name,
        command,
        rejected: None,
        contract_only: false,
    }
}

fn bad(name: &'static str, command: Value, kind: &'static str) -> Case {
    Case {
        name,
        command,
        rejected: Some(kind),
        contract_only: false,
    }
}

fn contract_bad(name: &'static str, command: Value, kind: &'static str) -> Case {
    Case {
        name,
        command,
        rejected: Some(kind),
        contract_only: true,
    }
}

fn cases() -> Vec<Case> {
    vec![
        ok("contract example", contract_example()),
        ok(
            "minimal",
            json!({"messageId": "m1", "operatorId": OP, "from": "1234", "to": "+233241234567", "text": ""}),
        ),
        ok(
            "binary",
            with(
                json!({"text": null, "binary": "AAEC/w==", "dataCoding": 4, "encoding": "binary"}),
            ),
        ),
        ok(
            "binary auto encoding",
            with(json!({"text": null, "binary": "", "dataCoding": 245})),
        ),
        ok(
            "numeric sender with plus",
            with(json!({"from": "+233241234567"})),
        ),
        ok(
            "sender with punctuation",
            with(json!({"from": "A.B_C&D-E 1"})),
        ),
        ok(
            "message id punctuation",
            with(json!({"messageId": "a.b_c:d-e"})),
        ),
        ok("message id 64", with(json!({"messageId": "x".repeat(64)}))),
        ok(
            "text with data coding",
            with(json!({"dataCoding": 8, "encoding": "ucs2"})),
        ),
        ok("forced gsm7", with(json!({"encoding": "gsm7"}))),
        ok("forced latin1", with(json!({"encoding": "latin1"}))),
        ok(
            "schedule",
            with(json!({"scheduleAt": "2026-11-25T10:00:00Z"})),
        ),
        ok(
            "schedule offset",
            with(json!({"scheduleAt": "2026-11-25T12:00:00.5+02:00"})),
        ),
        ok("priority 3", with(json!({"priority": 3}))),
        ok("integral float", with(json!({"priority": 2.0}))),
        ok(
            "validity max",
            with(json!({"validityPeriodSeconds": 31536000})),
        ),
        ok(
            "ton npi overrides",
            with(json!({"sourceTon": 6, "sourceNpi": 18, "destTon": 0, "destNpi": 0})),
        ),
        ok("no metadata", with(json!({"metadata": null}))),
        ok("empty metadata", with(json!({"metadata": {}}))),
        ok("text of 40000", with(json!({"text": "é".repeat(40000)}))),
        ok(
            "registered delivery false",
            with(json!({"registeredDelivery": false})),
        ),
        bad(
            "missing messageId",
            with(json!({"messageId": null})),
            "missing_field",
        ),
        bad(
            "missing operatorId",
            with(json!({"operatorId": null})),
            "missing_field",
        ),
        bad("missing from", with(json!({"from": null})), "missing_field"),
        bad("missing to", with(json!({"to": null})), "missing_field"),
        bad("unknown field", with(json!({"foo": 1})), "unknown_field"),
        bad(
            "message id empty",
            with(json!({"messageId": ""})),
            "pattern",
        ),
        bad(
            "message id 65",
            with(json!({"messageId": "x".repeat(65)})),
            "pattern",
        ),
        bad(
            "message id slash",
            with(json!({"messageId": "a/b"})),
            "pattern",
        ),
        bad(
            "message id number",
            with(json!({"messageId": 5})),
            "wrong_type",
        ),
        bad(
            "operator id upper",
            with(json!({"operatorId": "MTN"})),
            "pattern",
        ),
        bad(
            "operator id trailing dash",
            with(json!({"operatorId": "mtn-"})),
            "pattern",
        ),
        bad(
            "from too long",
            with(json!({"from": "ABCDEFGHIJKL"})),
            "pattern",
        ),
        bad("from empty", with(json!({"from": ""})), "pattern"),
        bad("from bad char", with(json!({"from": "GH@SI"})), "pattern"),
        bad(
            "from 21 digits",
            with(json!({"from": "1".repeat(21)})),
            "pattern",
        ),
        bad("to letters", with(json!({"to": "GHASI"})), "pattern"),
        bad(
            "to 21 digits",
            with(json!({"to": "1".repeat(21)})),
            "pattern",
        ),
        bad("to empty", with(json!({"to": ""})), "pattern"),
        bad("to double plus", with(json!({"to": "++233"})), "pattern"),
        bad(
            "text too long",
            with(json!({"text": "a".repeat(40001)})),
            "too_long",
        ),
        bad("text not string", with(json!({"text": 5})), "wrong_type"),
        bad(
            "neither text nor binary",
            with(json!({"text": null})),
            "content",
        ),
        bad(
            "text and binary",
            with(json!({"binary": "AA==", "dataCoding": 4})),
            "content",
        ),
        bad(
            "binary without data coding",
            with(json!({"text": null, "binary": "AA=="})),
            "binary_without_data_coding",
        ),
        bad(
            "encoding unknown",
            with(json!({"encoding": "utf8"})),
            "unknown_encoding",
        ),
        bad(
            "encoding not string",
            with(json!({"encoding": 1})),
            "unknown_encoding",
        ),
        bad(
            "data coding 256",
            with(json!({"dataCoding": 256})),
            "out_of_range",
        ),
        bad(
            "data coding negative",
            with(json!({"dataCoding": -1})),
            "out_of_range",
        ),
        bad(
            "data coding float",
            with(json!({"dataCoding": 1.5})),
            "wrong_type",
        ),
        bad(
            "registered delivery string",
            with(json!({"registeredDelivery": "yes"})),
            "wrong_type",
        ),
        bad(
            "validity 0",
            with(json!({"validityPeriodSeconds": 0})),
            "out_of_range",
        ),
        bad(
            "validity over a year",
            with(json!({"validityPeriodSeconds": 31536001})),
            "out_of_range",
        ),
        bad("priority 4", with(json!({"priority": 4})), "out_of_range"),
        bad(
            "priority string",
            with(json!({"priority": "1"})),
            "wrong_type",
        ),
        bad(
            "source ton 7",
            with(json!({"sourceTon": 7})),
            "out_of_range",
        ),
        bad(
            "source npi 19",
            with(json!({"sourceNpi": 19})),
            "out_of_range",
        ),
        bad("dest ton 7", with(json!({"destTon": 7})), "out_of_range"),
        bad("dest npi 19", with(json!({"destNpi": 19})), "out_of_range"),
        bad(
            "metadata number value",
            with(json!({"metadata": {"a": 1}})),
            "wrong_type",
        ),
        bad(
            "metadata array",
            with(json!({"metadata": ["a"]})),
            "wrong_type",
        ),
        bad(
            "schedule not string",
            with(json!({"scheduleAt": 5})),
            "wrong_type",
        ),
        bad("array payload", json!([contract_example()]), "not_object"),
        contract_bad(
            "operator differs from subject",
            with(json!({"operatorId": "vodafone-gh"})),
            "operator_mismatch",
        ),
        contract_bad(
            "binary not base64",
            with(json!({"text": null, "binary": "not base64!", "dataCoding": 4})),
            "invalid_base64",
        ),
        contract_bad(
            "schedule not rfc3339",
            with(json!({"scheduleAt": "tomorrow"})),
            "invalid_schedule_at",
        ),
        contract_bad(
            "text with binary encoding",
            with(json!({"encoding": "binary"})),
            "encoding_mismatch",
        ),
        contract_bad(
            "metadata value with a NUL",
            with(json!({"metadata": {"k": "a\u{0}b"}})),
            "nul_character",
        ),
        contract_bad(
            "metadata key with a NUL",
            with(json!({"metadata": {"k\u{0}": "v"}})),
            "nul_character",
        ),
        ok(
            "metadata with other control characters",
            with(json!({"metadata": {"k": "tab\tnew\nline\u{1}"}})),
        ),
        contract_bad(
            "binary with text encoding",
            with(json!({"text": null, "binary": "AA==", "dataCoding": 4, "encoding": "ucs2"})),
            "encoding_mismatch",
        ),
    ]
}

#[test]
fn every_case_has_the_expected_outcome() {
    for case in cases() {
        match (parse(&case.command), case.rejected) {
            (Ok(_), None) => {}
            (Err(r), Some(kind)) => assert_eq!(r.reason.kind(), kind, "{}: {}", case.name, r),
            (Ok(c), Some(kind)) => panic!("{}: accepted {c:?}, expected {kind}", case.name),
            (Err(r), None) => panic!("{}: rejected: {r}", case.name),
        }
    }
}

#[test]
fn validator_agrees_with_the_json_schema() {
    let cases = cases();
    let instances: Vec<Value> = cases.iter().map(|c| c.command.clone()).collect();
    let verdicts = schema_errors("dispatch-command.schema.json", &instances);
    for (case, errors) in cases.iter().zip(verdicts) {
        let schema_valid = errors.is_empty();
        let expect_schema_valid = case.rejected.is_none() || case.contract_only;
        assert_eq!(
            schema_valid, expect_schema_valid,
            "{}: schema says {errors:?}",
            case.name
        );
    }
}

#[test]
fn contract_example_parses_with_defaults() {
    let c = parse(&contract_example()).unwrap();
    assert_eq!(c.message_id, "01JDX0Q7S9W3B2K4M5N6P7R8T9");
    assert_eq!(c.operator_id, OP);
    assert_eq!(
        c.source,
        Address {
            ton: 5,
            npi: 0,
            addr: "GHASI".into(),
            kind: AddressKind::Alphanumeric
        }
    );
    assert_eq!(
        c.destination,
        Address {
            ton: 1,
            npi: 1,
            addr: "233241234567".into(),
            kind: AddressKind::Msisdn
        }
    );
    assert_eq!(
        c.content,
        Content::Text {
            text: "Your code is 123456".into(),
            encoding: RequestedEncoding::Auto,
            data_coding: None
        }
    );
    assert!(c.registered_delivery);
    assert_eq!(c.validity_period_seconds, Some(86400));
    assert_eq!(c.priority, 0);
    assert_eq!(c.metadata.get("tenantId").map(String::as_str), Some("t-42"));
}

#[test]
fn default_ton_npi_rules() {
    let short = parse(&with(json!({"from": "12345678", "to": "1234"}))).unwrap();
    assert_eq!((short.source.ton, short.source.npi), (3, 1));
    assert_eq!(short.source.kind, AddressKind::ShortCode);
    assert_eq!((short.destination.ton, short.destination.npi), (3, 1));
    let long = parse(&with(json!({"from": "123456789"}))).unwrap();
    assert_eq!((long.source.ton, long.source.npi), (1, 1));
    let plus = parse(&with(json!({"from": "+1234", "to": "+233241234567"}))).unwrap();
    assert_eq!((plus.source.ton, plus.source.addr.as_str()), (1, "1234"));
    assert_eq!(plus.destination.addr, "233241234567");
    let mixed = parse(&with(json!({"from": "123 ABC"}))).unwrap();
    assert_eq!((mixed.source.ton, mixed.source.npi), (5, 0));
    let forced = parse(&with(json!({"sourceTon": 0, "destNpi": 9}))).unwrap();
    assert_eq!((forced.source.ton, forced.source.npi), (0, 0));
    assert_eq!((forced.destination.ton, forced.destination.npi), (1, 9));
}

#[test]
fn binary_is_decoded() {
    let c = parse(&with(
        json!({"text": null, "binary": "AAEC/w==", "dataCoding": 4}),
    ))
    .unwrap();
    assert_eq!(
        c.content,
        Content::Binary {
            bytes: vec![0, 1, 2, 255],
            data_coding: 4
        }
    );
}

#[test]
fn rejection_keeps_message_id_and_metadata() {
    let r = parse(&with(json!({"priority": 9}))).unwrap_err();
    assert_eq!(r.message_id.as_deref(), Some("01JDX0Q7S9W3B2K4M5N6P7R8T9"));
    assert_eq!(
        r.metadata.get("campaignId").map(String::as_str),
        Some("c-7")
    );
    assert_eq!(r.to_string(), "\"priority\" is 9, out of range 0..=3");
    let r = parse(&with(json!({"messageId": "bad id"}))).unwrap_err();
    assert_eq!(r.message_id, None);
    let r = parse_command(OP, b"{not json").unwrap_err();
    assert_eq!(r.reason.kind(), "not_json");
    assert!(r.to_string().starts_with("payload is not valid JSON"));
}

#[test]
fn reasons_read_well() {
    let reason = |v: Value| parse(&v).unwrap_err().to_string();
    assert_eq!(
        reason(with(json!({"to": null}))),
        "missing required field \"to\""
    );
    assert_eq!(reason(with(json!({"foo": 1}))), "unknown field \"foo\"");
    assert_eq!(
        reason(with(json!({"operatorId": "other"}))),
        "\"operatorId\" \"other\" differs from the subject's operator \"mtn-gh\""
    );
    assert_eq!(
        reason(with(json!({"to": "abc"}))),
        "\"to\" \"abc\" does not match ^\\+?[0-9]{1,20}$"
    );
    assert_eq!(
        reason(with(json!({"metadata": {"k": 1}}))),
        "\"metadata.k\" must be a string"
    );
    assert_eq!(
        reason(with(json!({"metadata": {"k\u{0}": "v"}}))),
        "\"metadata.k\\0\" holds a NUL character (U+0000), which cannot be recorded"
    );
}

#[test]
fn wire_type_round_trips_through_the_validator() {
    let cmd = DispatchCommand {
        message_id: "m-1".into(),
        operator_id: OP.into(),
        from: "GHASI".into(),
        to: "233241234567".into(),
        text: Some("hello".into()),
        binary: None,
        encoding: RequestedEncoding::Auto,
        data_coding: None,
        registered_delivery: true,
        validity_period_seconds: None,
        schedule_at: None,
        priority: 1,
        source_ton: None,
        source_npi: None,
        dest_ton: None,
        dest_npi: None,
        metadata: BTreeMap::new(),
    };
    let bytes = serde_json::to_vec(&cmd).unwrap();
    let valid = parse_command(OP, &bytes).unwrap();
    assert_eq!(valid.priority, 1);
    let back: DispatchCommand = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(back, cmd);
}

#[test]
fn subject_operator() {
    assert_eq!(
        operator_from_subject("smpp.operator.mtn-gh"),
        Some("mtn-gh")
    );
    assert_eq!(operator_from_subject("smpp.operator."), None);
    assert_eq!(operator_from_subject("smpp.operator.a.b"), None);
    assert_eq!(operator_from_subject("other.mtn-gh"), None);
}

#[test]
fn every_reject_kind_is_covered() {
    let mut kinds: Vec<&str> = cases().iter().filter_map(|c| c.rejected).collect();
    kinds.push(parse_command(OP, b"{not json").unwrap_err().reason.kind());
    kinds.sort_unstable();
    kinds.dedup();
    let all = [
        "binary_without_data_coding",
        "content",
        "encoding_mismatch",
        "invalid_base64",
        "invalid_schedule_at",
        "missing_field",
        "not_json",
        "not_object",
        "nul_character",
        "operator_mismatch",
        "out_of_range",
        "pattern",
        "too_long",
        "unknown_encoding",
        "unknown_field",
        "wrong_type",
    ];
    assert_eq!(kinds, all);
}

/// `(changes, kind, reason)`: each constrained field with a wrong type, `null`, or a value out of
/// its rule, and the reason naming it.
#[test]
fn serde_rejections_name_the_field() {
    let string = |f: &str| format!("{f:?} must be a string");
    let integer = |f: &str| format!("{f:?} must be an integer");
    let cases = [
        (json!({"messageId": 5}), "wrong_type", string("messageId")),
        (
            json!({"operatorId": true}),
            "wrong_type",
            string("operatorId"),
        ),
        (json!({"from": ["GHASI"]}), "wrong_type", string("from")),
        (json!({"to": {"n": "1"}}), "wrong_type", string("to")),
        (json!({"text": 5}), "wrong_type", string("text")),
        (json!({"scheduleAt": 5}), "wrong_type", string("scheduleAt")),
        (
            json!({"dataCoding": "4"}),
            "wrong_type",
            integer("dataCoding"),
        ),
        (
            json!({"validityPeriodSeconds": 1.5}),
            "wrong_type",
            integer("validityPeriodSeconds"),
        ),
        (json!({"priority": 1e30}), "wrong_type", integer("priority")),
        (
            json!({"sourceTon": "1"}),
            "wrong_type",
            integer("sourceTon"),
        ),
        (
            json!({"sourceNpi": [1]}),
            "wrong_type",
            integer("sourceNpi"),
        ),
        (json!({"destTon": false}), "wrong_type", integer("destTon")),
        (json!({"destNpi": {}}), "wrong_type", integer("destNpi")),
        (
            json!({"registeredDelivery": 1}),
            "wrong_type",
            "\"registeredDelivery\" must be a boolean".into(),
        ),
        (
            json!({"metadata": "t-42"}),
            "wrong_type",
            "\"metadata\" must be an object of strings".into(),
        ),
        (
            json!({"metadata": {"x": 1}}),
            "wrong_type",
            string("metadata.x"),
        ),
        (
            json!({"metadata": {"a.b": [1]}}),
            "wrong_type",
            string("metadata.a.b"),
        ),
        (
            json!({"metadata": {"k": "v\u{0}"}}),
            "nul_character",
            "\"metadata.k\" holds a NUL character (U+0000), which cannot be recorded".into(),
        ),
        (
            json!({"dataCoding": 256}),
            "out_of_range",
            "\"dataCoding\" is 256, out of range 0..=255".into(),
        ),
        (
            json!({"validityPeriodSeconds": -5}),
            "out_of_range",
            "\"validityPeriodSeconds\" is -5, out of range 1..=31536000".into(),
        ),
        (
            json!({"priority": 4.0}),
            "out_of_range",
            "\"priority\" is 4.0, out of range 0..=3".into(),
        ),
        (
            json!({"destTon": 18446744073709551615u64}),
            "out_of_range",
            "\"destTon\" is 18446744073709551615, out of range 0..=6".into(),
        ),
        (
            json!({"sourceNpi": 19}),
            "out_of_range",
            "\"sourceNpi\" is 19, out of range 0..=18".into(),
        ),
        (
            json!({"text": "a".repeat(40001)}),
            "too_long",
            "\"text\" is longer than 40000 characters".into(),
        ),
        (
            json!({"messageId": "a b"}),
            "pattern",
            "\"messageId\" \"a b\" does not match ^[A-Za-z0-9._:-]{1,64}$".into(),
        ),
        (
            json!({"operatorId": "Mtn"}),
            "pattern",
            "\"operatorId\" \"Mtn\" does not match ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$".into(),
        ),
        (
            json!({"from": "GH@SI"}),
            "pattern",
            "\"from\" \"GH@SI\" does not match ^(\\+?[0-9]{1,20}|[A-Za-z0-9 ._&-]{1,11})$".into(),
        ),
        (
            json!({"encoding": "UCS2"}),
            "unknown_encoding",
            "\"encoding\" \"UCS2\" is not one of auto, gsm7, ucs2, latin1, binary".into(),
        ),
        (
            json!({"encoding": {"auto": null}}),
            "unknown_encoding",
            "\"encoding\" \"{\\\"auto\\\":null}\" is not one of auto, gsm7, ucs2, latin1, binary"
                .into(),
        ),
        (
            json!({"Text": "hi"}),
            "unknown_field",
            "unknown field \"Text\"".into(),
        ),
    ];
    for (changes, kind, reason) in cases {
        let r = parse(&with(changes.clone())).unwrap_err();
        assert_eq!(
            (r.reason.kind(), r.to_string()),
            (kind, reason),
            "{changes}"
        );
    }
}

#[test]
fn null_is_a_wrong_type_never_an_absent_field() {
    for field in [
        "messageId",
        "text",
        "binary",
        "dataCoding",
        "registeredDelivery",
        "validityPeriodSeconds",
        "scheduleAt",
        "priority",
        "sourceTon",
        "sourceNpi",
        "destTon",
        "destNpi",
        "metadata",
    ] {
        let mut command = contract_example();
        command[field] = Value::Null;
        let r = parse(&command).unwrap_err();
        assert_eq!(r.reason.kind(), "wrong_type", "{field}: {r}");
        assert!(
            r.to_string().starts_with(&format!("{field:?} must be ")),
            "{r}"
        );
    }
    let mut command = contract_example();
    command["metadata"] = json!({"k": null});
    assert_eq!(
        parse(&command).unwrap_err().to_string(),
        "\"metadata.k\" must be a string"
    );
    command = contract_example();
    command["encoding"] = Value::Null;
    assert_eq!(
        parse(&command).unwrap_err().reason.kind(),
        "unknown_encoding"
    );
}

#[test]
fn long_names_in_reasons_are_shortened() {
    let key = "k".repeat(60);
    let r = parse(&with(json!({"metadata": {key.clone(): 1}}))).unwrap_err();
    assert_eq!(
        r.to_string(),
        format!("\"metadata.{}…\" must be a string", &key[..31])
    );
    let r = parse(&with(json!({key.clone(): 1}))).unwrap_err();
    assert_eq!(r.to_string(), format!("unknown field \"{}…\"", &key[..40]));
}

#[test]
fn of_two_problems_the_field_rules_come_first() {
    // Fields in key order, then the missing ones, then the checks beyond the schema.
    let r = parse(&with(json!({"to": null, "priority": 9}))).unwrap_err();
    assert_eq!(r.reason.kind(), "out_of_range");
    let r = parse(&with(json!({"operatorId": "other", "to": "abc"}))).unwrap_err();
    assert_eq!(r.reason.kind(), "pattern");
    let r = parse(&with(json!({"binary": "AA==", "scheduleAt": "soon"}))).unwrap_err();
    assert_eq!(r.reason.kind(), "invalid_schedule_at");
}

#[test]
fn rejection_recovers_message_id_and_metadata_whatever_else_is_wrong() {
    for changes in [
        json!({"foo": 1}),
        json!({"to": null}),
        json!({"text": null, "binary": "!!", "dataCoding": 4}),
        json!({"operatorId": "other"}),
        json!({"metadata": {"a": 1}}),
    ] {
        let r = parse(&with(changes.clone())).unwrap_err();
        assert_eq!(
            r.message_id.as_deref(),
            Some("01JDX0Q7S9W3B2K4M5N6P7R8T9"),
            "{changes}"
        );
    }
    let r = parse(&with(json!({"metadata": {"a": 1}}))).unwrap_err();
    assert!(
        r.metadata.is_empty(),
        "metadata that is not all strings is not copied"
    );
    let r = parse(&with(json!({"messageId": 7, "priority": 9}))).unwrap_err();
    assert_eq!((r.message_id, r.metadata.len()), (None, 2));
}

#[test]
fn the_wire_type_itself_follows_the_field_rules() {
    let mut bad = contract_example();
    bad["priority"] = json!(9);
    assert!(serde_json::from_value::<DispatchCommand>(bad).is_err());
    let cmd: DispatchCommand = serde_json::from_value(contract_example()).unwrap();
    assert_eq!(cmd.validity_period_seconds, Some(86400));
}
