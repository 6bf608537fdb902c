//! `kubectl mno status` on a terminal: one block per MnoConnection, labels aligned, the state
//! words coloured when `colour` is on (green: bound / True, yellow: on the backup or binding,
//! red: unbound, refused, False).

use std::fmt::Write;

use crds::config::BindMode;
use crds::report::StatusReport;
use crds::status::{BindSlotStatus, BindState};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::MnoView;

/// How the output looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text.
    Text {
        /// ANSI colours.
        colour: bool,
    },
    /// JSON (an array of views).
    Json,
    /// YAML (a list of views).
    Yaml,
}

#[derive(Clone, Copy)]
enum Tone {
    Good,
    Warn,
    Bad,
}

fn paint(text: &str, tone: Tone, colour: bool) -> String {
    if !colour {
        return text.to_string();
    }
    let code = match tone {
        Tone::Good => "32",
        Tone::Warn => "33",
        Tone::Bad => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn time(t: &Time) -> String {
    t.0.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn chrono_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Every view in `format`.
pub fn render(views: &[MnoView], format: Format) -> Result<String, String> {
    match format {
        Format::Json => serde_json::to_string_pretty(views)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
        Format::Yaml => serde_yaml::to_string(views).map_err(|e| e.to_string()),
        Format::Text { colour } => {
            if views.is_empty() {
                return Ok("No MnoConnections found.\n".into());
            }
            let blocks: Vec<String> = views.iter().map(|v| text(v, colour)).collect();
            Ok(blocks.join("\n"))
        }
    }
}

fn row(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<12} {value}");
}

fn text(v: &MnoView, colour: bool) -> String {
    let mut out = String::new();
    let st = &v.status;
    let (state, tone) = match (&st.session, v.suspended) {
        (_, true) => ("SUSPENDED".to_string(), Tone::Warn),
        (Some(s), _) => match s.bind_state {
            BindState::Bound => ("BOUND".to_string(), Tone::Good),
            BindState::Failback => ("FAILBACK".to_string(), Tone::Warn),
            BindState::Unbound => ("UNBOUND".to_string(), Tone::Bad),
        },
        (None, _) => ("UNKNOWN".to_string(), Tone::Warn),
    };
    let _ = writeln!(
        out,
        "{}/{}  operator {}  {}  binds {}  active {}",
        v.namespace,
        v.name,
        v.operator_id,
        paint(&state, tone, colour),
        st.binds_ready
            .clone()
            .unwrap_or_else(|| format!("?/{}", v.binds)),
        st.active_pod.as_deref().unwrap_or("-"),
    );
    let endpoint = |label: &str, address: &str, s: Option<&crds::status::EndpointStatus>| {
        let state = s
            .map(|e| format!("{:?}", e.state).to_lowercase())
            .unwrap_or_else(|| "-".into());
        let error = s
            .and_then(|e| e.last_error.as_deref())
            .map(|e| format!(", last error: {e}"))
            .unwrap_or_default();
        format!("{label} {address} ({state}{error})")
    };
    let session = st.session.as_ref();
    let mut endpoints = endpoint("primary", &v.primary, session.map(|s| &s.primary));
    if let Some(b) = &v.backup {
        endpoints.push_str("   ");
        endpoints.push_str(&endpoint(
            "backup",
            b,
            session.and_then(|s| s.backup.as_ref()),
        ));
    }
    row(&mut out, "endpoints", &endpoints);
    if st.binds.is_empty() {
        row(&mut out, "binds", "none reported");
    }
    for (i, b) in st.binds.iter().enumerate() {
        let (word, tone) = match b.state {
            BindSlotStatus::Bound => ("bound", Tone::Good),
            BindSlotStatus::Binding => ("binding", Tone::Warn),
            BindSlotStatus::Unbound => ("unbound", Tone::Bad),
            BindSlotStatus::Refused => ("refused", Tone::Bad),
        };
        let mode = b
            .mode
            .map(|m| match m {
                BindMode::Auto | BindMode::Transceiver => " transceiver",
                BindMode::TransmitterReceiver => " transmitter+receiver",
            })
            .unwrap_or_default();
        let error = b
            .last_error
            .as_deref()
            .map(|e| format!(", last error: {e}"))
            .unwrap_or_default();
        row(
            &mut out,
            if i == 0 { "binds" } else { "" },
            &format!(
                "#{} {} {}{mode} since {}, window {}{error}",
                b.index,
                b.endpoint.as_str(),
                paint(word, tone, colour),
                time(&b.since),
                b.window_in_use
            ),
        );
    }
    match (&v.connector, &v.connector_error) {
        (Some(c), _) => connector(&mut out, c, v.replicas),
        (None, Some(e)) => row(&mut out, "connector", &format!("no report ({e})")),
        (None, None) => {}
    }
    for (i, c) in st.conditions.iter().enumerate() {
        let tone = match (c.type_.as_str(), c.status.as_str()) {
            ("Degraded" | "Stalled" | "Reconciling", "True") => Tone::Bad,
            (_, "True") => Tone::Good,
            ("Degraded" | "Stalled" | "Reconciling", _) => Tone::Good,
            _ => Tone::Bad,
        };
        row(
            &mut out,
            if i == 0 { "conditions" } else { "" },
            &format!(
                "{}={} ({}) {}",
                c.type_,
                paint(&c.status, tone, colour),
                c.reason,
                c.message
            ),
        );
    }
    out
}

fn connector(out: &mut String, c: &StatusReport, replicas: u32) {
    let tps = if c.tps_limit == 0 {
        "no limit".to_string()
    } else {
        format!("{}/s", c.tps_limit)
    };
    row(
        out,
        "traffic",
        &format!(
            "window {}/{} in use, TPS limit {tps}, rate {:.1}/s over the last minute",
            c.window_in_use, c.window_size, c.rate_last_minute
        ),
    );
    row(
        out,
        "receipts",
        &format!("{} pending correlation", c.receipts_pending),
    );
    row(
        out,
        "pod",
        &format!(
            "{} ({} of {replicas}), {} reconnects in the last hour",
            c.pod, c.role, c.activity.reconnects_last_hour
        ),
    );
    if c.activity.last_errors.is_empty() {
        row(out, "errors", "none");
    }
    for (i, e) in c.activity.last_errors.iter().take(5).enumerate() {
        row(
            out,
            if i == 0 { "errors" } else { "" },
            &format!("{} {} ({})", chrono_time(&e.at), e.name, e.command_status),
        );
    }
    for (i, t) in c.activity.transitions.iter().take(5).enumerate() {
        row(
            out,
            if i == 0 { "transitions" } else { "" },
            &format!(
                "{} {} {}: {}",
                chrono_time(&t.at),
                t.state,
                t.endpoint,
                t.reason
            ),
        );
    }
}
