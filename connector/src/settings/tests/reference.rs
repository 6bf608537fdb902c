//! docs/configuration.md's key reference is generated from the JSON Schema of
//! `ConnectorConfig`; this test fails when the doc is stale. `UPDATE_DOCS=1 cargo test -p
//! connector --lib settings::` rewrites it.

use serde_json::Value;

const BEGIN: &str = "<!-- BEGIN GENERATED KEY REFERENCE -->";
const END: &str = "<!-- END GENERATED KEY REFERENCE -->";

fn resolve<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .and_then(|name| root["$defs"].get(name))
            .unwrap_or(v),
        None => v,
    }
}

/// The object schema behind a property (through `$ref` and `anyOf [X, null]`), if any.
fn object_of<'a>(root: &'a Value, v: &'a Value) -> Option<&'a Value> {
    let v = resolve(root, v);
    if v.get("properties").is_some() {
        return Some(v);
    }
    v.get("anyOf")?
        .as_array()?
        .iter()
        .map(|alt| resolve(root, alt))
        .find(|alt| alt.get("properties").is_some())
}

fn enum_values(v: &Value) -> Option<Vec<String>> {
    let alts = v.get("oneOf")?.as_array()?;
    alts.iter()
        .map(|a| {
            a.get("const")
                .and_then(Value::as_str)
                .map(|c| format!("`{c}`"))
        })
        .collect()
}

fn type_of(root: &Value, v: &Value) -> String {
    let r = resolve(root, v);
    if let Some(values) = enum_values(r) {
        return format!("one of {}", values.join(", "));
    }
    match r.get("type") {
        Some(Value::String(t)) if t == "array" => {
            format!("list of {}", type_of(root, &r["items"]))
        }
        Some(Value::String(t)) => match r.get("format").and_then(Value::as_str) {
            Some(f) if t == "integer" => format!("integer ({f})"),
            _ => t.clone(),
        },
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "object".into(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\\\|")
}

fn rows(root: &Value, obj: &Value, prefix: &str, out: &mut Vec<String>) {
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = obj.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, prop) in props {
        let key = format!("{prefix}{name}");
        let desc = prop
            .get("description")
            .or_else(|| resolve(root, prop).get("description"))
            .and_then(Value::as_str)
            .map(one_line)
            .unwrap_or_default();
        let resolved = resolve(root, prop);
        if let Some(variants) = resolved
            .get("oneOf")
            .and_then(Value::as_array)
            .filter(|v| v.iter().all(|a| a.get("properties").is_some()))
        {
            out.push(format!("| `{key}` | object | required | {desc} |"));
            for variant in variants {
                let tag = variant["properties"]["source"]["const"]
                    .as_str()
                    .unwrap_or("?");
                let vdesc = variant
                    .get("description")
                    .and_then(Value::as_str)
                    .map(one_line)
                    .unwrap_or_default();
                out.push(format!("| `{key}.source` = `{tag}` | | | {vdesc} |"));
                let mut sub = variant.clone();
                if let Some(p) = sub.get_mut("properties").and_then(Value::as_object_mut) {
                    p.remove("source");
                }
                rows(root, &sub, &format!("{key}."), out);
            }
            continue;
        }
        if let Some(o) = object_of(root, prop) {
            let req = if required.contains(&name.as_str()) {
                "required"
            } else {
                "optional"
            };
            out.push(format!("| `{key}` | object | {req} | {desc} |"));
            rows(root, o, &format!("{key}."), out);
            continue;
        }
        let default = if required.contains(&name.as_str()) {
            "required".to_string()
        } else {
            match prop.get("default") {
                Some(d) => format!("`{}`", serde_json::to_string(d).unwrap_or_default()),
                None => "unset".to_string(),
            }
        };
        out.push(format!(
            "| `{key}` | {} | {default} | {desc} |",
            type_of(root, prop)
        ));
    }
}

fn render() -> String {
    let schema = serde_json::to_value(schemars::schema_for!(crds::ConnectorConfig)).unwrap();
    let mut out = vec![
        "| Key | Type | Default | Description |".to_string(),
        "| --- | --- | --- | --- |".to_string(),
    ];
    rows(&schema, &schema, "", &mut out);
    out.join("\n")
}

#[test]
fn configuration_doc_is_generated_from_the_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let doc = std::fs::read_to_string(&path).expect("docs/configuration.md");
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/configuration.md lacks the {BEGIN} / {END} markers");
    };
    let current = doc[b + BEGIN.len()..e].trim();
    let fresh = render();
    if current != fresh {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let updated = format!("{}{BEGIN}\n{fresh}\n{}", &doc[..b], &doc[e..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!("docs/configuration.md is stale: run `UPDATE_DOCS=1 cargo test -p connector --lib settings::`");
        }
    }
}
