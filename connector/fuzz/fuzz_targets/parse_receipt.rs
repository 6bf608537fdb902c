//! Feeds arbitrary receipts to the receipt parser: it must never panic, and whatever it
//! accepts must carry a non-empty message id and a status consistent with `final`.
#![no_main]

use connector::protocol::receipt::{parse_receipt, MessageKind, ReceiptInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (id, body) = rest.split_at(rest.len().min(usize::from(flags >> 4)));
    let id = std::str::from_utf8(id).ok();
    let input = ReceiptInput {
        esm_class: if flags & 1 == 0 { 0x04 } else { 0x20 },
        data_coding: if flags & 2 == 0 { 0x00 } else { 0x08 },
        short_message: body,
        receipted_message_id: if flags & 4 == 0 { None } else { id },
        message_state: (flags & 8 != 0).then_some(flags >> 4),
        network_error_code: body.get(..3).and_then(|b| b.try_into().ok()),
    };
    if let Ok(r) = parse_receipt(&input) {
        assert!(!r.message_id.is_empty());
        assert!(!r.stat.is_empty());
        if r.kind == MessageKind::IntermediateNotification {
            assert!(!r.is_final());
        }
    }
});
