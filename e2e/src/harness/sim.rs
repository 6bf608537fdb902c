//! The in-process simulator of a test, and what it received.

use std::collections::HashMap;

use crate::sim::{Delay, MoMessage, SimConfig, SimHandle, Simulator};

/// A simulator with one account that captures submits; `tweak` adjusts its configuration.
pub async fn start_sim(
    system_id: &str,
    password: &str,
    tweak: impl FnOnce(&mut SimConfig),
) -> SimHandle {
    let mut config = SimConfig::with_account(system_id, password);
    config.receipts.delay = Delay::from_millis(20);
    tweak(&mut config);
    match Simulator::start(config).await {
        Ok(h) => h,
        Err(e) => panic!("simulator did not start: {e}"),
    }
}

/// How many times the simulator received each text (tests whose text is the message id).
pub fn received_by_text(sim: &SimHandle) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for s in sim.submits() {
        *m.entry(String::from_utf8_lossy(s.message()).into_owned())
            .or_default() += 1;
    }
    m
}

/// A receipt-typed deliver_sm (`esm_class`, e.g. 0x04 or 0x20) for the account `ghasi01`
/// with `text`, to inject with `SimHandle::inject_mo`.
pub fn receipt_pdu(esm_class: u8, text: &[u8]) -> MoMessage {
    match MoMessage::text("ghasi01", "233241234567", "GHASI", "x") {
        Ok(mut m) => {
            m.esm_class = esm_class;
            m.short_message = bytes::Bytes::copy_from_slice(text);
            m
        }
        Err(e) => panic!("receipt: {e}"),
    }
}
