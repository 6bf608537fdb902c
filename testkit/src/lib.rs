//! Test-only helpers shared by the connector's unit tests and the end-to-end tests (a
//! dev-dependency of `connector`, so the connector never depends on `e2e`).
//!
//! The contract schemas' reference validator: JSON instances are checked against the JSON
//! Schemas of `docs/contracts/` with Python `jsonschema` (draft 2020-12; installed by
//! `.ci/tools.sh`), so our types and the schemas are checked against each other.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const SCRIPT: &str = r#"
import json, sys
import jsonschema
req = json.load(sys.stdin)
with open(req["schema"]) as f:
    schema = json.load(f)
v = jsonschema.Draft202012Validator(schema)
out = []
for inst in req["instances"]:
    errs = sorted(v.iter_errors(inst), key=lambda e: list(e.path))
    out.append([e.message for e in errs])
json.dump(out, sys.stdout)
"#;

/// Path of a contract schema in `docs/contracts/`.
pub fn schema_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/contracts")
        .join(name)
}

/// For each instance, the schema's error messages (empty = valid).
pub fn schema_errors(schema: &str, instances: &[Value]) -> Vec<Vec<String>> {
    let request = json!({"schema": schema_path(schema), "instances": instances});
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 with jsonschema is needed by the contract tests");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write to python");
    let out = child.wait_with_output().expect("python3 output");
    assert!(
        out.status.success(),
        "python jsonschema failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python output is JSON")
}

/// The schema's error messages for one instance (empty = valid).
pub fn instance_errors(schema: &str, instance: &Value) -> Vec<String> {
    schema_errors(schema, std::slice::from_ref(instance))
        .pop()
        .unwrap_or_default()
}

/// Asserts that every instance is valid against the schema.
pub fn assert_valid(schema: &str, instances: &[Value]) {
    for (inst, errs) in instances.iter().zip(schema_errors(schema, instances)) {
        assert!(
            errs.is_empty(),
            "{inst} is invalid against {schema}: {errs:?}"
        );
    }
}
