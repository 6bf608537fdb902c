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

/// Commands whose text is their message id (to count them at the simulator with
/// [`received_by_text`](super::received_by_text)), each adjusted by `tweak`.
pub fn id_commands(operator: &str, ids: &[String], tweak: impl Fn(&mut Value)) -> Vec<Value> {
    ids.iter()
        .map(|id| {
            let mut c = command(operator, id, id);
            tweak(&mut c);
            c
        })
        .collect()
}

/// A `tweak` of [`id_commands`]: no delivery receipt asked for.
pub fn no_receipts(command: &mut Value) {
    command["registeredDelivery"] = Value::Bool(false);
}
