//! Hand-written encoding of the hot-path responses, without building a `Pdu`.

use bytes::{BufMut, BytesMut};
use connector::protocol::codec::{CommandId, CommandStatus, HEADER_LEN};

/// Appends a submit_sm_resp / data_sm_resp: the message id on success, header only
/// (as the specification prescribes) on error.
pub fn id_resp(dst: &mut BytesMut, cmd: CommandId, status: CommandStatus, seq: u32, id: &[u8]) {
    let body = if status.is_ok() { id.len() + 1 } else { 0 };
    dst.reserve(HEADER_LEN + body);
    dst.put_u32((HEADER_LEN + body) as u32);
    dst.put_u32(cmd.as_u32());
    dst.put_u32(status.0);
    dst.put_u32(seq);
    if status.is_ok() {
        dst.put_slice(id);
        dst.put_u8(0);
    }
}

/// Appends a header-only PDU.
pub fn header_only(dst: &mut BytesMut, cmd: CommandId, status: CommandStatus, seq: u32) {
    dst.reserve(HEADER_LEN);
    dst.put_u32(HEADER_LEN as u32);
    dst.put_u32(cmd.as_u32());
    dst.put_u32(status.0);
    dst.put_u32(seq);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use connector::protocol::codec::{Body, COctetString, MessageIdResp, Pdu};

    #[test]
    fn matches_the_codec() {
        let mut fast = BytesMut::new();
        id_resp(
            &mut fast,
            CommandId::SubmitSmResp,
            CommandStatus::ESME_ROK,
            7,
            b"abc",
        );
        let id = COctetString::try_from("abc").unwrap();
        let pdu = Pdu::new(7, Body::SubmitSmResp(MessageIdResp::new(id)));
        assert_eq!(fast.freeze(), pdu.to_bytes().unwrap());

        let mut fast = BytesMut::new();
        id_resp(
            &mut fast,
            CommandId::DataSmResp,
            CommandStatus::ESME_RTHROTTLED,
            9,
            b"x",
        );
        let decoded = Pdu::decode(fast.freeze()).unwrap();
        assert_eq!(decoded.status, CommandStatus::ESME_RTHROTTLED);
        assert_eq!(decoded.body, Body::DataSmResp(MessageIdResp::default()));

        let mut fast = BytesMut::new();
        header_only(
            &mut fast,
            CommandId::EnquireLinkResp,
            CommandStatus::ESME_ROK,
            3,
        );
        let expected: Bytes = Pdu::new(3, Body::EnquireLinkResp).to_bytes().unwrap();
        assert_eq!(fast.freeze(), expected);
    }
}
