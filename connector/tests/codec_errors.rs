//! Bad input and framing: lengths, unknown commands, malformed fields, split and
//! coalesced reads, and encoding limits.

use bytes::{BufMut, Bytes, BytesMut};
use connector::protocol::codec::{
    Body, CodecError, CommandId, CommandStatus, Decoded, DestAddress, InvalidPdu, MessageIdResp,
    Pdu, RawTlv, SmppCodec, SubmitMulti, SubmitSm, Tlv, Tlvs,
};
use futures::StreamExt;
use tokio_util::codec::{Decoder, Encoder, FramedRead};

fn header(len: u32, id: u32, status: u32, seq: u32) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_u32(len);
    b.put_u32(id);
    b.put_u32(status);
    b.put_u32(seq);
    b
}

/// A header for a body of `body.len()` octets followed by the body.
fn pdu_bytes(id: u32, status: u32, seq: u32, body: &[u8]) -> BytesMut {
    let mut b = header(16 + body.len() as u32, id, status, seq);
    b.put_slice(body);
    b
}

fn decode_one(buf: &mut BytesMut) -> Decoded {
    SmppCodec::default()
        .decode(buf)
        .expect("not fatal")
        .expect("complete PDU")
}

fn invalid(buf: &mut BytesMut) -> InvalidPdu {
    let before = buf.len();
    let err = decode_one(buf).expect_err("invalid PDU");
    assert_eq!(buf.len(), before - err.header.command_length as usize);
    err
}

#[test]
fn command_length_below_header_is_fatal_from_four_octets() {
    let mut buf = BytesMut::from(&[0, 0, 0, 15][..]);
    let err = SmppCodec::default().decode(&mut buf).unwrap_err();
    assert!(matches!(
        err,
        CodecError::InvalidCommandLength {
            len: 15,
            min: 16,
            ..
        }
    ));
    assert!(err.is_fatal());
}

#[test]
fn command_length_above_maximum_is_fatal_before_buffering() {
    let mut codec = SmppCodec::new(1024);
    let mut buf = BytesMut::with_capacity(8);
    buf.put_u32(0x7FFF_FFFF);
    let capacity = buf.capacity();
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(matches!(
        err,
        CodecError::InvalidCommandLength {
            len: 0x7FFF_FFFF,
            max: 1024,
            ..
        }
    ));
    assert_eq!(buf.capacity(), capacity, "nothing reserved for the body");
}

#[test]
fn waiting_for_a_body_reserves_at_most_the_pdu() {
    let mut codec = SmppCodec::new(1024);
    let mut buf = header(1024, 4, 0, 1);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() >= 1024);
    assert!(buf.capacity() < 4096, "capacity {}", buf.capacity());
}

#[test]
fn fewer_than_four_octets_waits() {
    let mut buf = BytesMut::from(&[0, 0][..]);
    assert!(SmppCodec::default().decode(&mut buf).unwrap().is_none());
    assert_eq!(buf.len(), 2);
}

#[test]
fn unknown_command_id_is_consumed_and_answered_with_generic_nack() {
    let mut buf = pdu_bytes(0x0000_0010, 0, 77, b"junk");
    buf.extend_from_slice(&pdu_bytes(0x15, 0, 78, b""));
    let err = invalid(&mut buf);
    assert!(matches!(
        err.error,
        CodecError::UnknownCommandId {
            command_id: 0x10,
            sequence: 77
        }
    ));
    assert_eq!(err.reply_status(), CommandStatus::ESME_RINVCMDID);
    assert_eq!(
        err.reply(),
        Some(Pdu::generic_nack(77, CommandStatus::ESME_RINVCMDID))
    );
    assert_eq!(
        decode_one(&mut buf).unwrap(),
        Pdu::new(78, Body::EnquireLink)
    );
}

#[test]
fn truncated_mandatory_field() {
    // submit_sm that ends after the destination address.
    let mut buf = pdu_bytes(4, 0, 5, b"\0\x01\x01123\0\x01\x01456\0");
    let err = invalid(&mut buf);
    assert!(matches!(
        err.error,
        CodecError::Truncated { field: "esm_class" }
    ));
    assert_eq!(err.reply_status(), CommandStatus::ESME_RINVCMDLEN);
    assert_eq!(
        err.reply(),
        Some(Pdu::with_status(
            5,
            CommandStatus::ESME_RINVCMDLEN,
            Body::SubmitSmResp(MessageIdResp::default())
        ))
    );
}

#[test]
fn c_string_without_terminator() {
    let mut buf = pdu_bytes(2, 0, 1, b"abc");
    let err = invalid(&mut buf);
    assert!(matches!(
        err.error,
        CodecError::MissingNul { field: "system_id" }
    ));
    assert_eq!(err.reply_status(), CommandStatus::ESME_RINVSYSID);
}

#[test]
fn c_string_longer_than_its_maximum() {
    // system_id of 16 characters: the maximum is 15 plus NUL.
    let mut buf = pdu_bytes(2, 0, 1, b"ABCDEFGHIJKLMNOP\0pw\0\0\x34\0\0\0");
    let err = invalid(&mut buf);
    assert!(matches!(
        err.error,
        CodecError::FieldTooLong {
            field: "system_id",
            max: 16
        }
    ));
    // Exactly 15 characters is fine.
    let mut buf = pdu_bytes(2, 0, 1, b"ABCDEFGHIJKLMNO\0pw\0\0\x34\0\0\0");
    assert!(decode_one(&mut buf).is_ok());
}

#[test]
fn short_message_beyond_body_or_maximum() {
    let mut body = Vec::from(&b"\0\x01\x01123\0\x01\x01456\0\0\0\0\0\0\0\0\0\0"[..]);
    body.push(10);
    body.extend_from_slice(b"short");
    let err = invalid(&mut pdu_bytes(4, 0, 1, &body));
    assert!(matches!(
        err.error,
        CodecError::Truncated {
            field: "short_message"
        }
    ));
    assert_eq!(err.reply_status(), CommandStatus::ESME_RINVCMDLEN);

    let mut body = Vec::from(&b"\0\x01\x01123\0\x01\x01456\0\0\0\0\0\0\0\0\0\0"[..]);
    body.push(255);
    body.extend_from_slice(&[b'x'; 255]);
    let err = invalid(&mut pdu_bytes(4, 0, 1, &body));
    assert!(matches!(
        err.error,
        CodecError::FieldTooLong {
            field: "short_message",
            max: 254
        }
    ));
    assert_eq!(err.reply_status(), CommandStatus::ESME_RINVMSGLEN);
}

#[test]
fn truncated_optional_parameter() {
    let mut body = Vec::from(&b"m1\0"[..]);
    body.extend_from_slice(&[0x04, 0x25, 0x00, 0x02, 0x01]);
    let err = invalid(&mut pdu_bytes(0x8000_0103, 0, 9, &body));
    assert!(matches!(
        err.error,
        CodecError::Truncated {
            field: "optional parameter value"
        }
    ));
    assert_eq!(err.reply_status(), CommandStatus::ESME_RINVOPTPARSTREAM);
    assert_eq!(err.reply(), None, "responses are not answered");
}

#[test]
fn known_tag_with_wrong_length_is_kept_raw() {
    let mut body = Vec::from(&b"m1\0"[..]);
    body.extend_from_slice(&[0x04, 0x27, 0x00, 0x02, 0x00, 0x02]);
    let mut buf = pdu_bytes(0x8000_0004, 0, 9, &body);
    let wire = buf.clone();
    let pdu = decode_one(&mut buf).unwrap();
    let Body::SubmitSmResp(resp) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(resp.tlvs.message_state(), None);
    assert_eq!(
        resp.tlvs.get(0x0427),
        Some(&Tlv::Other(RawTlv {
            tag: 0x0427,
            value: Bytes::from_static(&[0, 2])
        }))
    );
    assert_eq!(
        &pdu.to_bytes().unwrap()[..],
        &wire[..],
        "kept byte for byte"
    );
}

#[test]
fn receipted_message_id_without_nul_is_kept_raw() {
    let mut body = Vec::from(&b"\0"[..]);
    body.extend_from_slice(&[0x00, 0x1E, 0x00, 0x03, b'a', b'b', b'c']);
    let pdu = decode_one(&mut pdu_bytes(0x8000_0005, 0, 9, &body)).unwrap();
    let Body::DeliverSmResp(resp) = &pdu.body else {
        panic!("{pdu:?}")
    };
    assert_eq!(resp.tlvs.receipted_message_id(), None);
    assert!(matches!(resp.tlvs.get(0x001E), Some(Tlv::Other(_))));
}

#[test]
fn body_on_a_header_only_pdu() {
    let err = invalid(&mut pdu_bytes(0x15, 0, 3, b"\0"));
    assert!(matches!(
        err.error,
        CodecError::TrailingBytes {
            command: CommandId::EnquireLink,
            len: 1
        }
    ));
    assert_eq!(
        err.reply(),
        Some(Pdu::with_status(
            3,
            CommandStatus::ESME_RINVCMDLEN,
            Body::EnquireLinkResp
        ))
    );
}

#[test]
fn trailing_octets_after_query_sm() {
    let err = invalid(&mut pdu_bytes(3, 0, 3, b"12\0\x01\x01123\0\x00"));
    assert!(matches!(
        err.error,
        CodecError::TrailingBytes {
            command: CommandId::QuerySm,
            len: 1
        }
    ));
}

#[test]
fn invalid_dest_flag() {
    let err = invalid(&mut pdu_bytes(0x21, 0, 3, b"\0\x01\x01123\0\x01\x03"));
    assert!(matches!(err.error, CodecError::InvalidDestFlag { flag: 3 }));
    assert_eq!(err.reply_status(), CommandStatus::ESME_RINVDESTFLAG);
}

#[test]
fn successful_response_needs_its_body() {
    let err = invalid(&mut pdu_bytes(0x8000_0004, 0, 3, b""));
    assert!(matches!(
        err.error,
        CodecError::MissingNul {
            field: "message_id"
        }
    ));
}

#[test]
fn error_responses_without_body_decode() {
    for id in CommandId::ALL.into_iter().filter(|id| id.is_response()) {
        let mut buf = pdu_bytes(id.as_u32(), 0x58, 4, b"");
        let pdu = decode_one(&mut buf).unwrap();
        assert_eq!(pdu.command_id(), id);
        assert_eq!(pdu.status, CommandStatus::ESME_RTHROTTLED);
        assert_eq!(pdu.encoded_len().unwrap(), 16);
    }
}

fn sample_pdus() -> Vec<Pdu> {
    vec![
        Pdu::new(1, Body::EnquireLink),
        Pdu::new(
            2,
            Body::SubmitSm(SubmitSm {
                short_message: Bytes::from_static(b"hello world"),
                tlvs: Tlvs::new().with(Tlv::SarMsgRefNum(7)),
                ..SubmitSm::default()
            }),
        ),
        Pdu::new(3, Body::SubmitSmResp(MessageIdResp::default())),
        Pdu::new(4, Body::Unbind),
    ]
}

fn encode_all(pdus: &[Pdu]) -> BytesMut {
    let mut buf = BytesMut::new();
    for p in pdus {
        SmppCodec::default().encode(p, &mut buf).unwrap();
    }
    buf
}

#[test]
fn many_pdus_in_one_read() {
    let pdus = sample_pdus();
    let mut buf = encode_all(&pdus);
    let mut codec = SmppCodec::default();
    let mut out = Vec::new();
    while let Some(item) = codec.decode(&mut buf).unwrap() {
        out.push(item.unwrap());
    }
    assert_eq!(out, pdus);
    assert!(buf.is_empty());
}

#[test]
fn one_pdu_over_many_reads_byte_by_byte() {
    let pdus = sample_pdus();
    let wire = encode_all(&pdus);
    let mut codec = SmppCodec::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for &b in wire.iter() {
        buf.put_u8(b);
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            out.push(item.unwrap());
        }
    }
    assert_eq!(out, pdus);
}

#[tokio::test]
async fn framed_stream_continues_after_an_invalid_pdu() {
    let mut wire = pdu_bytes(0x0000_0099, 0, 1, b"");
    wire.extend_from_slice(&encode_all(&sample_pdus()));
    let mut framed = FramedRead::new(&wire[..], SmppCodec::default());
    let first = framed.next().await.unwrap().unwrap();
    assert!(first.is_err());
    let mut rest = Vec::new();
    while let Some(item) = framed.next().await {
        rest.push(item.unwrap().unwrap());
    }
    assert_eq!(rest, sample_pdus());
}

#[test]
fn encoding_rejects_overlong_short_message_without_writing() {
    let pdu = Pdu::new(
        1,
        Body::SubmitSm(SubmitSm {
            short_message: Bytes::from(vec![b'x'; 255]),
            ..SubmitSm::default()
        }),
    );
    let mut buf = BytesMut::new();
    let err = SmppCodec::default().encode(&pdu, &mut buf).unwrap_err();
    assert!(matches!(
        err,
        CodecError::FieldTooLong {
            field: "short_message",
            max: 254
        }
    ));
    assert!(buf.is_empty());
}

#[test]
fn encoding_rejects_too_many_destinations() {
    let pdu = Pdu::new(
        1,
        SubmitMulti {
            dests: vec![DestAddress::DistributionList(Default::default()); 256],
            ..SubmitMulti::default()
        },
    );
    assert!(matches!(
        pdu.encoded_len(),
        Err(CodecError::TooManyEntries {
            field: "number_of_dests",
            count: 256,
            max: 255
        })
    ));
}

#[test]
fn encoding_rejects_oversized_tlv_and_pdu() {
    let big = Pdu::new(
        1,
        Body::SubmitSm(SubmitSm {
            tlvs: Tlvs::new().with(Tlv::MessagePayload(Bytes::from(vec![0u8; 70_000]))),
            ..SubmitSm::default()
        }),
    );
    assert!(matches!(
        big.encoded_len(),
        Err(CodecError::TlvTooLong {
            tag: 0x0424,
            len: 70_000
        })
    ));

    let pdu = Pdu::new(
        1,
        Body::SubmitSm(SubmitSm {
            tlvs: Tlvs::new().with(Tlv::MessagePayload(Bytes::from(vec![0u8; 2000]))),
            ..SubmitSm::default()
        }),
    );
    let mut buf = BytesMut::new();
    let err = SmppCodec::new(1024).encode(&pdu, &mut buf).unwrap_err();
    assert!(matches!(err, CodecError::PduTooLong { max: 1024, .. }));
    assert!(buf.is_empty());
}

#[test]
fn decode_checks_frame_length() {
    let frame = pdu_bytes(0x15, 0, 1, b"").freeze();
    assert_eq!(
        Pdu::decode(frame.clone()).unwrap(),
        Pdu::new(1, Body::EnquireLink)
    );
    assert!(matches!(
        Pdu::decode(frame.slice(..15)),
        Err(CodecError::Truncated { field: "header" })
    ));
    let mut longer = BytesMut::from(&frame[..]);
    longer.put_u8(0);
    assert!(matches!(
        Pdu::decode(longer.freeze()),
        Err(CodecError::FrameLengthMismatch {
            command_length: 16,
            frame_len: 17
        })
    ));
}

#[test]
fn status_display() {
    assert_eq!(
        CommandStatus::ESME_RTHROTTLED.to_string(),
        "0x00000058 ESME_RTHROTTLED"
    );
}
