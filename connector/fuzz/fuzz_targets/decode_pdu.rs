//! Feeds arbitrary bytes to the SMPP decoder: it must never panic, every decoded PDU must
//! re-encode, and a re-encoded PDU must decode to the same value.
#![no_main]

use bytes::BytesMut;
use connector::protocol::codec::{Pdu, SmppCodec};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut codec = SmppCodec::new(4096);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(item)) = codec.decode(&mut buf) {
        let Ok(pdu) = item else { continue };
        let bytes = match pdu.to_bytes() {
            Ok(bytes) => bytes,
            Err(e) => panic!("decoded PDU does not re-encode: {e}: {pdu:?}"),
        };
        match Pdu::decode(bytes) {
            Ok(again) => assert_eq!(again, pdu, "re-encoded PDU decodes differently"),
            Err(e) => panic!("re-encoded PDU does not decode: {e}: {pdu:?}"),
        }
    }
});
