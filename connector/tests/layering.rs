//! The connector's modules form one-way layers (docs/architecture.md): a module may use
//! modules of its own layer and of the layers below, never of a layer above. This test reads
//! `connector/src` and fails on an upward `crate::` path, and on a module no layer names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, lowest first, and the top-level modules (folders or files of `src/`) of each.
const LAYERS: &[(&str, &[&str])] = &[
    ("protocol", &["protocol"]),
    ("session", &["session"]),
    ("store", &["store"]),
    ("lease", &["lease"]),
    ("pipeline", &["pipeline"]),
    (
        "service",
        &[
            "service",
            "main",
            "cli",
            "http",
            "settings",
            "logging",
            "telemetry",
        ],
    ),
];

/// Files that are only compiled for tests, or only declare modules.
const SKIPPED: &[&str] = &["lib", "test_support"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "tests") {
                continue;
            }
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_none_or(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// The `crate::x` modules a source names outside its `#[cfg(test)] mod tests { ... }` block.
fn uses(source: &str) -> Vec<String> {
    let code = source
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or(source);
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(
        files.len() > 50,
        "read the source tree: {} files",
        files.len()
    );
    let mut upward: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unplaced = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap_or(&file);
        let top = relative
            .components()
            .next()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .unwrap_or_default();
        if SKIPPED.contains(&top.as_str()) {
            continue;
        }
        let Some(own) = layer_of(&top) else {
            unplaced.push(top);
            continue;
        };
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for used in uses(&text) {
            match layer_of(&used) {
                Some(l) if l > own => upward
                    .entry(relative.display().to_string())
                    .or_default()
                    .push(format!("{used} ({})", LAYERS[l].0)),
                _ => {}
            }
        }
    }
    unplaced.sort();
    unplaced.dedup();
    assert!(
        unplaced.is_empty(),
        "modules no layer names (add them to LAYERS): {unplaced:?}"
    );
    assert!(upward.is_empty(), "upward imports: {upward:#?}");
}

#[test]
fn the_check_sees_an_upward_import() {
    let session = layer_of("session");
    let found =
        uses("use crate::pipeline::events::EndpointRole;\nfn f() { crate::protocol::codec::x(); }");
    assert_eq!(found, ["pipeline", "protocol"]);
    assert!(layer_of("pipeline") > session && layer_of("protocol") < session);
}
