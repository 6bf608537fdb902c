//! Runs every case of the Argo CD health check's `health_test.yaml`
//! (`deploy/argocd/smpp.ghasi.io/MnoConnection/`) in a sandbox like Argo CD's: Lua 5.1 with
//! only the base and table libraries (Argo CD runs custom health scripts in gopher-lua without
//! the string library), the resource as the global `obj`, and a one-second time limit.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use serde::Deserialize;

/// Health statuses that Argo CD accepts from a script (others become Unknown).
const VALID_STATUSES: [&str; 6] = [
    "Healthy",
    "Progressing",
    "Degraded",
    "Suspended",
    "Missing",
    "Unknown",
];

/// Argo CD stops a health script after this long.
const TIME_LIMIT: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
struct HealthTests {
    tests: Vec<HealthCase>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthCase {
    health_status: Expected,
    input_path: String,
}

#[derive(Debug, Deserialize)]
struct Expected {
    status: String,
    message: String,
}

fn check_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy/argocd/smpp.ghasi.io/MnoConnection")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A Lua 5.1 state with Argo CD's libraries: base and table only, and a time limit.
fn sandbox() -> Lua {
    let lua = Lua::new_with(StdLib::TABLE, LuaOptions::default()).expect("creating the Lua state");
    let started = Instant::now();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(1_000),
        move |_lua, _debug| {
            if started.elapsed() > TIME_LIMIT {
                Err(mlua::Error::runtime("time limit exceeded"))
            } else {
                Ok(VmState::Continue)
            }
        },
    )
    .expect("setting the time-limit hook");
    lua
}

/// The YAML value as Argo CD hands it to Lua: numbers as Lua numbers, sequences as 1-based
/// tables, mappings as tables keyed by strings.
fn to_lua(lua: &Lua, value: &serde_yaml::Value) -> mlua::Result<Value> {
    Ok(match value {
        serde_yaml::Value::Null => Value::Nil,
        serde_yaml::Value::Bool(b) => Value::Boolean(*b),
        serde_yaml::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        serde_yaml::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_yaml::Value::Sequence(items) => {
            let table = lua.create_table()?;
            for item in items {
                table.raw_push(to_lua(lua, item)?)?;
            }
            Value::Table(table)
        }
        serde_yaml::Value::Mapping(map) => {
            let table = lua.create_table()?;
            for (k, v) in map {
                let key = k
                    .as_str()
                    .ok_or_else(|| mlua::Error::runtime(format!("non-string key {k:?}")))?;
                table.raw_set(key, to_lua(lua, v)?)?;
            }
            Value::Table(table)
        }
        serde_yaml::Value::Tagged(tagged) => to_lua(lua, &tagged.value)?,
    })
}

/// Runs `script` against `object` and returns (status, message).
fn evaluate(script: &str, object: &serde_yaml::Value) -> mlua::Result<(String, String)> {
    let lua = sandbox();
    lua.globals().set("obj", to_lua(&lua, object)?)?;
    let result: Table = lua.load(script).set_name("health.lua").eval()?;
    let status: String = result.get("status")?;
    let message: Option<String> = result.get("message")?;
    Ok((status, message.unwrap_or_default()))
}

#[test]
fn every_health_test_case_passes_in_argo_cds_sandbox() {
    let dir = check_dir();
    let script = read(&dir.join("health.lua"));
    let tests: HealthTests =
        serde_yaml::from_str(&read(&dir.join("health_test.yaml"))).expect("health_test.yaml");
    assert!(
        tests.tests.len() >= 8,
        "expected a case per health state, found {}",
        tests.tests.len()
    );

    let mut failures = Vec::new();
    for case in &tests.tests {
        let object: serde_yaml::Value =
            serde_yaml::from_str(&read(&dir.join(&case.input_path))).expect("test input");
        match evaluate(&script, &object) {
            Ok((status, message)) => {
                assert!(
                    VALID_STATUSES.contains(&status.as_str()),
                    "{}: {status} is not a status Argo CD accepts",
                    case.input_path
                );
                if status != case.health_status.status || message != case.health_status.message {
                    failures.push(format!(
                        "{}: got {status} {message:?}, expected {} {:?}",
                        case.input_path, case.health_status.status, case.health_status.message
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: script failed: {e}", case.input_path)),
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );

    let statuses: BTreeSet<&str> = tests
        .tests
        .iter()
        .map(|c| c.health_status.status.as_str())
        .collect();
    for wanted in ["Healthy", "Progressing", "Degraded", "Suspended"] {
        assert!(statuses.contains(wanted), "no test case expects {wanted}");
    }
}

#[test]
fn every_testdata_file_is_used_by_a_case() {
    let dir = check_dir();
    let tests: HealthTests =
        serde_yaml::from_str(&read(&dir.join("health_test.yaml"))).expect("health_test.yaml");
    let used: BTreeSet<String> = tests.tests.into_iter().map(|c| c.input_path).collect();
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(dir.join("testdata")).expect("testdata directory") {
        let name = entry.expect("directory entry").file_name();
        files.insert(format!("testdata/{}", name.to_string_lossy()));
    }
    assert_eq!(used, files, "health_test.yaml and testdata/ disagree");
}

#[test]
fn the_sandbox_is_as_narrow_as_argo_cds() {
    let lua = sandbox();
    for library in ["string", "io", "os", "debug"] {
        let value: Value = lua.globals().get(library).expect("global lookup");
        assert!(value.is_nil(), "{library} must not be loaded");
    }
    let table: Value = lua.globals().get("table").expect("global lookup");
    assert!(table.is_table(), "table library must be loaded");

    let object = serde_yaml::Value::Mapping(Default::default());
    let err = evaluate("return { status = string.lower('Healthy') }", &object)
        .expect_err("the string library must be missing");
    assert!(
        err.to_string().contains("string"),
        "unexpected error: {err}"
    );

    let err = evaluate("while true do end", &object).expect_err("an endless loop must be stopped");
    assert!(
        err.to_string().contains("time limit"),
        "unexpected error: {err}"
    );
}

#[test]
fn the_argocd_cm_snippet_in_the_docs_is_the_same_script() {
    let dir = check_dir();
    let script = read(&dir.join("health.lua"));
    let docs = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/argocd.md"));
    let key = "resource.customizations.health.smpp.ghasi.io_MnoConnection: |";
    let start = docs
        .lines()
        .position(|l| l.trim_end().ends_with(key))
        .expect("docs/argocd.md has the argocd-cm health key");
    let indent = docs
        .lines()
        .nth(start)
        .map(|l| l.len() - l.trim_start().len())
        .unwrap_or(0)
        + 2;
    let prefix = " ".repeat(indent);
    let snippet: Vec<&str> = docs
        .lines()
        .skip(start + 1)
        .take_while(|l| l.is_empty() || l.starts_with(&prefix))
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect();
    let snippet = snippet.join("\n");
    assert_eq!(
        snippet.trim_end(),
        script.trim_end(),
        "the argocd-cm snippet in docs/argocd.md differs from health.lua"
    );
}
