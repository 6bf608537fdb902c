-- Distributed tracing: the W3C traceparent of the command whose submit a row records, so that
-- the span of its receipt, hours later, joins the same trace. NULL when tracing is off.
ALTER TABLE smpp.message_correlations ADD COLUMN IF NOT EXISTS trace_parent text;
