//! W3C trace context (`traceparent`, `tracestate`) of commands, correlation rows and events.
//! A dispatch command continues the trace its NATS headers carry (or starts one); the span of
//! its command is what the rows record and what events name in their `traceparent` header, so
//! that a receipt hours later joins the same trace. Everything here is a no-op while tracing is
//! off: the spans of target [`TRACE_TARGET`] are then disabled.

use std::collections::HashMap;

use async_nats::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use crate::session::TRACE_TARGET;

/// The header of the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
/// The vendor part of the W3C trace context.
pub const TRACESTATE: &str = "tracestate";

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_ref()).collect()
    }
}

struct HeadersMut<'a>(&'a mut HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct Traceparent<'a>(&'a str);

impl Extractor for Traceparent<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == TRACEPARENT).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT]
    }
}

fn extract(carrier: &dyn Extractor) -> Option<Context> {
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(carrier));
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes `span` a child of the trace context in `headers`, when they carry a valid one.
pub fn continue_from_headers(span: &Span, headers: Option<&HeaderMap>) {
    if span.is_disabled() {
        return;
    }
    if let Some(cx) = headers.and_then(|h| extract(&Headers(h))) {
        let _ = span.set_parent(cx);
    }
}

/// Makes `span` a child of the stored `traceparent` (a row's), when there is a valid one.
pub fn continue_from(span: &Span, traceparent: Option<&str>) {
    if span.is_disabled() {
        return;
    }
    if let Some(cx) = traceparent.and_then(|t| extract(&Traceparent(t))) {
        let _ = span.set_parent(cx);
    }
}

/// Adds a link from `span` to the span `from` (a span that caused it in another trace).
pub fn link(span: &Span, from: &Span) {
    if span.is_disabled() || from.is_disabled() {
        return;
    }
    let cx = from.context();
    let sc = cx.span().span_context().clone();
    if sc.is_valid() {
        span.add_link(sc);
    }
}

/// The `traceparent` of `span` (`None` while tracing is off).
pub fn traceparent(span: &Span) -> Option<String> {
    if span.is_disabled() {
        return None;
    }
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut map: HashMap<String, String> = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut map));
    map.remove(TRACEPARENT)
}

/// Adds the current span's trace context to `headers` (nothing while tracing is off).
pub fn inject_current(headers: &mut HeaderMap) {
    let span = Span::current();
    if span.is_disabled() {
        return;
    }
    let cx = span.context();
    if cx.span().span_context().is_valid() {
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut HeadersMut(headers))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_propagated_while_tracing_is_off() {
        // No OpenTelemetry layer: the trace spans are disabled.
        let span = tracing::info_span!(target: TRACE_TARGET, "smpp.dispatch");
        let mut headers = HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        continue_from_headers(&span, Some(&headers));
        assert_eq!(traceparent(&span), None);
        let mut out = HeaderMap::new();
        span.in_scope(|| inject_current(&mut out));
        assert!(out.get(TRACEPARENT).is_none(), "no header added");
    }
}
