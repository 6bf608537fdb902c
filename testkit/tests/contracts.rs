//! The contract document embeds the schema files as they are, and the validator tells a
//! valid instance from an invalid one.

use serde_json::json;
use testkit::{instance_errors, schema_errors, schema_path};

#[test]
fn docs_embed_the_current_schemas() {
    let doc = std::fs::read_to_string(schema_path("../contracts.md")).expect("docs/contracts.md");
    for name in [
        "dispatch-command.schema.json",
        "dlr-event.schema.json",
        "operator-health.schema.json",
        "credentials-response.schema.json",
    ] {
        let schema = std::fs::read_to_string(schema_path(name)).expect("schema file");
        assert!(
            doc.contains(schema.trim_end()),
            "docs/contracts.md does not embed the current {name}"
        );
    }
}

#[test]
fn the_validator_reports_each_instance_on_its_own() {
    let verdicts = schema_errors(
        "credentials-response.schema.json",
        &[
            json!({"systemId": "ghasi01", "password": "s3cret"}),
            json!({"password": "s3cret"}),
        ],
    );
    assert_eq!(verdicts.len(), 2);
    assert!(verdicts[0].is_empty(), "valid: {:?}", verdicts[0]);
    assert!(
        verdicts[1].iter().any(|m| m.contains("systemId")),
        "missing systemId: {:?}",
        verdicts[1]
    );
    assert_eq!(
        instance_errors(
            "credentials-response.schema.json",
            &json!({"password": "s3cret"})
        ),
        verdicts[1]
    );
}
