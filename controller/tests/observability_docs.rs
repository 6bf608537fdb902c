//! Checks the operator-facing observability files: every PromQL expression of the Grafana
//! dashboard (`docs/grafana/smpp-connector.json`) and of the PrometheusRule example in
//! `docs/operations.md` parses, and uses only the connector metric names agreed with the
//! connector (plus kube-state-metrics where stated).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The connector's metrics; histograms also expose `_bucket`, `_sum` and `_count`.
const COUNTERS_AND_GAUGES: [&str; 11] = [
    "smpp_submit_total",
    "smpp_receipts_total",
    "smpp_window_in_use",
    "smpp_tps_used",
    "smpp_session_state",
    "smpp_reconnects_total",
    "smpp_correlation_misses_total",
    "smpp_rejected_commands_total",
    "smpp_binds_bound",
    "smpp_binds_configured",
    "smpp_lease_active",
];
const HISTOGRAMS: [&str; 2] = [
    "smpp_response_latency_seconds",
    "smpp_receipt_latency_seconds",
];
/// Metrics of other exporters that the alerts may use.
const EXTERNAL: [&str; 1] = ["kube_deployment_status_replicas_available"];

fn agreed() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = COUNTERS_AND_GAUGES.iter().map(|s| s.to_string()).collect();
    for h in HISTOGRAMS {
        for suffix in ["_bucket", "_sum", "_count"] {
            names.insert(format!("{h}{suffix}"));
        }
    }
    names
}

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Metric names in an expression: identifiers starting with a known prefix.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if starts_word && (expr[i..].starts_with("smpp_") || expr[i..].starts_with("kube_")) {
            let end = expr[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(expr.len(), |n| i + n);
            names.insert(expr[i..end].to_string());
            i = end;
        } else {
            i += 1;
        }
    }
    names
}

/// Grafana's variables replaced by values Prometheus would see.
fn expand_grafana_variables(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "3h")
        .replace("$namespace", ".*")
        .replace("$pod", ".*")
}

fn parses(expr: &str) -> Result<(), String> {
    promql_parser::parser::parse(expr).map(|_| ())
}

#[test]
fn dashboard_queries_parse_and_use_agreed_metrics() {
    let text = read(&docs().join("grafana/smpp-connector.json"));
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard is JSON");
    assert_eq!(dashboard["uid"], "smpp-connector");
    let panels = dashboard["panels"].as_array().expect("panels");

    let agreed = agreed();
    let mut ids = BTreeSet::new();
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    for panel in panels {
        let id = panel["id"].as_i64().expect("panel id");
        assert!(ids.insert(id), "duplicate panel id {id}");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "panel {} must use the datasource variable",
            panel["title"]
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {} has no query", panel["title"]);
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            if let Err(e) = parses(&expand_grafana_variables(expr)) {
                problems.push(format!("{}: {e}: {expr}", panel["title"]));
            }
            for name in metric_names(expr) {
                if !agreed.contains(&name) {
                    problems.push(format!("{}: unknown metric {name}", panel["title"]));
                }
                used.insert(name);
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for name in COUNTERS_AND_GAUGES {
        assert!(used.contains(name), "the dashboard does not show {name}");
    }
    for name in HISTOGRAMS {
        assert!(
            used.contains(&format!("{name}_bucket")),
            "the dashboard has no quantile of {name}"
        );
    }
}

/// The YAML code block of docs/operations.md that holds the PrometheusRule.
fn prometheus_rule_block(markdown: &str) -> String {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start().starts_with("```")) {
            (None, true) if line.trim() == "```yaml" => current = Some(Vec::new()),
            (Some(lines), true) => {
                blocks.push(lines.join("\n"));
                current = None;
            }
            (Some(lines), false) => lines.push(line),
            _ => {}
        }
    }
    let found: Vec<String> = blocks
        .into_iter()
        .filter(|b| b.contains("kind: PrometheusRule"))
        .collect();
    assert_eq!(found.len(), 1, "expected one PrometheusRule block");
    found.into_iter().next().unwrap_or_default()
}

#[test]
fn alert_rules_in_the_operations_guide_are_valid() {
    let block = prometheus_rule_block(&read(&docs().join("operations.md")));
    let rule: Value = serde_yaml::from_str(&block).expect("the PrometheusRule block is YAML");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["kind"], "PrometheusRule");

    let mut allowed = agreed();
    allowed.extend(EXTERNAL.iter().map(|s| s.to_string()));
    let mut alerts = BTreeSet::new();
    let mut problems = Vec::new();
    for group in rule["spec"]["groups"].as_array().expect("groups") {
        for r in group["rules"].as_array().expect("rules") {
            let name = r["alert"].as_str().expect("alert name").to_string();
            assert!(alerts.insert(name.clone()), "duplicate alert {name}");
            let expr = r["expr"].as_str().expect("expr");
            if let Err(e) = parses(expr) {
                problems.push(format!("{name}: {e}"));
            }
            for metric in metric_names(expr) {
                if !allowed.contains(&metric) {
                    problems.push(format!("{name}: unknown metric {metric}"));
                }
            }
            let severity = r["labels"]["severity"].as_str().unwrap_or_default();
            if !["critical", "warning", "info"].contains(&severity) {
                problems.push(format!("{name}: severity {severity:?}"));
            }
            if r["annotations"]["summary"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                problems.push(format!("{name}: no summary"));
            }
            if let Some(duration) = r["for"].as_str() {
                let valid = duration.len() > 1
                    && duration[..duration.len() - 1]
                        .chars()
                        .all(|c| c.is_ascii_digit())
                    && ["s", "m", "h"].iter().any(|u| duration.ends_with(u));
                if !valid {
                    problems.push(format!("{name}: for {duration:?}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for wanted in [
        "SmppConnectorUnbound",
        "SmppConnectorOnBackup",
        "SmppThrottled",
        "SmppSubmitErrorsHigh",
    ] {
        assert!(alerts.contains(wanted), "missing alert {wanted}");
    }
}

#[test]
fn metric_names_are_found_in_expressions() {
    let names = metric_names(
        "sum(rate(smpp_submit_total{x=\"y\"}[5m])) / on() kube_deployment_status_replicas_available",
    );
    let expected: BTreeSet<String> = [
        "smpp_submit_total",
        "kube_deployment_status_replicas_available",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, expected);
    assert!(parses("sum(rate(smpp_submit_total[5m])) by (").is_err());
}
