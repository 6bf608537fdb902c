//! The contract schemas' reference validator.

use std::path::PathBuf;

use serde_json::Value;

/// Validation errors of `instance` against a contract schema of docs/contracts (empty =
/// valid), with the reference validator (Python `jsonschema`, draft 2020-12).
pub fn schema_errors(schema: &str, instance: &Value) -> Vec<String> {
    use std::io::Write;
    const SCRIPT: &str = r#"
import json, sys
import jsonschema
req = json.load(sys.stdin)
with open(req["schema"]) as f:
    schema = json.load(f)
v = jsonschema.Draft202012Validator(schema)
json.dump([e.message for e in v.iter_errors(req["instance"])], sys.stdout)
"#;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/contracts")
        .join(schema);
    let req = serde_json::json!({"schema": path, "instance": instance});
    let child = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return vec![format!("python3: {e}")],
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(req.to_string().as_bytes());
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| vec![format!("validator output: {e}")]),
        Ok(out) => vec![format!(
            "validator failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )],
        Err(e) => vec![format!("validator: {e}")],
    }
}
