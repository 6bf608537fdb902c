//! Dispatch commands and message ids of a test.

use serde_json::Value;

/// A dispatch command like the contract example, for `operator`, with `message_id`.
pub fn command(operator: &str, message_id: &str, text: &str) -> Value {
    serde_json::json!({
        "messageId": message_id,
        "operatorId": operator,
        "from": "GHASI",
        "to": "233241234567",
        "text": text,
        "registeredDelivery": true,
        "metadata": {"test": "e2e"},
    })
}

/// Unique message ids `{prefix}-{run}-{i}`.
pub fn message_ids(prefix: &str, n: usize) -> Vec<String> {
    let run = format!("{:08x}", rand::random::<u32>());
    (0..n).map(|i| format!("{prefix}-{run}-{i}")).collect()
}
