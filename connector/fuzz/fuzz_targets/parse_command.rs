//! Feeds arbitrary bytes to the dispatch command parser: it must never panic, and a command it
//! accepts must carry a valid messageId and the subject's operator.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match connector::pipeline::command::parse_command("mtn-gh", data) {
        Ok(command) => {
            assert!(!command.message_id.is_empty() && command.message_id.len() <= 64);
            assert_eq!(command.operator_id, "mtn-gh");
            assert!(command
                .metadata
                .iter()
                .all(|(k, v)| !k.contains('\0') && !v.contains('\0')));
        }
        Err(rejection) => {
            let _ = rejection.reason.to_string();
        }
    }
});
