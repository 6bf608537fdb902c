//! A small checker of an object against a structural openAPIV3Schema, as the API server
//! applies it: types, unknown fields, required fields, enums, ranges and lengths. (Patterns
//! are left to the API server.)

use serde_json::Value;

/// The problems of `value` against `schema`, as `path: message` strings.
pub fn check(schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let mut problems = Vec::new();
    walk(schema, value, path, path.is_empty(), &mut problems);
    problems
}

fn walk(schema: &Value, value: &Value, path: &str, root: bool, out: &mut Vec<String>) {
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            out.push(format!("{path}: null is not allowed"));
        }
        return;
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            out.push(format!("{path}: must be an integer or a string"));
        }
        return;
    }
    let type_ok = match schema.get("type").and_then(Value::as_str) {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !type_ok {
        out.push(format!("{path}: must be of type {}", schema["type"]));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            out.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if n < min {
                out.push(format!("{path}: {n} is below {min}"));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if n > max {
                out.push(format!("{path}: {n} is above {max}"));
            }
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if len < min {
                out.push(format!("{path}: shorter than {min}"));
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if len > max {
                out.push(format!("{path}: longer than {max}"));
            }
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                walk(item_schema, item, &format!("{path}[{i}]"), false, out);
            }
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let preserve =
            schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        for (key, child) in object {
            let child_path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match (properties.and_then(|p| p.get(key)), additional) {
                (Some(s), _) => walk(s, child, &child_path, false, out),
                (None, Some(s)) if s.is_object() => walk(s, child, &child_path, false, out),
                _ if preserve => {}
                _ => out.push(format!("{child_path}: unknown field")),
            }
        }
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = required.as_str() {
                if !object.contains_key(name) {
                    out.push(format!("{path}: missing required field {name}"));
                }
            }
        }
    }
}

/// Paths of the properties under `schema` that have no description.
pub fn undocumented(schema: &Value, path: &str) -> Vec<String> {
    let mut missing = Vec::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            let child_path = format!("{path}.{name}");
            if child
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                missing.push(child_path.clone());
            }
            missing.extend(undocumented(child, &child_path));
        }
    }
    if let Some(items) = schema.get("items") {
        missing.extend(undocumented(items, &format!("{path}[]")));
    }
    missing
}

/// Dotted paths of every property under `schema`, not descending into `stop`.
pub fn paths(schema: &Value, path: &str, stop: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            let child_path = format!("{path}.{name}");
            out.push(child_path.clone());
            if !stop.contains(&child_path.as_str()) {
                out.extend(paths(child, &child_path, stop));
            }
        }
    }
    out
}
