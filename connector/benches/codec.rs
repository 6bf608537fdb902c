//! Decode and encode throughput of typical submit_sm and deliver_sm PDUs.
//!
//! Decoding includes framing: each iteration appends one PDU's octets to the read buffer
//! (as a socket read would) and decodes it with `SmppCodec`. Encoding reuses one write
//! buffer, as a session's writer does.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use connector::protocol::codec::{
    esm_class, registered_delivery, Address, Body, COctetString, MessageState, NetworkErrorCode,
    Pdu, SmppCodec, SubmitSm, Tlv, Tlvs,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio_util::codec::{Decoder, Encoder};

fn cstr<const N: usize>(s: &str) -> COctetString<N> {
    COctetString::try_from(s).expect("benchmark literal fits")
}

/// A 160-character GSM-7 submit_sm with a delivery receipt request.
fn submit_sm() -> Pdu {
    Pdu::new(
        0x0102_0304,
        Body::SubmitSm(SubmitSm {
            source: Address::new(5, 0, cstr("AcmeBank")),
            dest: Address::new(1, 1, cstr("447700900123")),
            registered_delivery: registered_delivery::RECEIPT_ALWAYS,
            short_message: Bytes::from(vec![b'a'; 160]),
            ..SubmitSm::default()
        }),
    )
}

/// A delivery receipt deliver_sm with the usual text and TLVs.
fn deliver_sm() -> Pdu {
    let text = "id:0A1B2C3D4E sub:001 dlvrd:001 submit date:2511260000 \
                done date:2511260001 stat:DELIVRD err:000 text:Your code is 123456";
    Pdu::new(
        0x0102_0305,
        Body::DeliverSm(SubmitSm {
            source: Address::new(1, 1, cstr("447700900123")),
            dest: Address::new(5, 0, cstr("AcmeBank")),
            esm_class: esm_class::TYPE_DELIVERY_RECEIPT,
            short_message: Bytes::from(text),
            tlvs: Tlvs::new()
                .with(Tlv::ReceiptedMessageId(cstr("0A1B2C3D4E")))
                .with(Tlv::MessageState(MessageState::DELIVERED))
                .with(Tlv::NetworkErrorCode(NetworkErrorCode {
                    network_type: 3,
                    error_code: 0,
                })),
            ..SubmitSm::default()
        }),
    )
}

fn bench_pdu(c: &mut Criterion, name: &str, pdu: &Pdu) {
    let mut codec = SmppCodec::default();
    let wire = pdu.to_bytes().expect("benchmark PDU encodes");
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));

    let mut read_buf = BytesMut::with_capacity(64 * 1024);
    group.bench_function("decode", |b| {
        b.iter(|| {
            read_buf.extend_from_slice(black_box(&wire));
            let item = codec.decode(&mut read_buf);
            black_box(item.ok().flatten().and_then(Result::ok))
        })
    });

    let mut write_buf = BytesMut::with_capacity(64 * 1024);
    group.bench_function("encode", |b| {
        b.iter(|| {
            write_buf.clear();
            let result = codec.encode(black_box(pdu), &mut write_buf);
            black_box((result.is_ok(), write_buf.len()))
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_pdu(c, "submit_sm", &submit_sm());
    bench_pdu(c, "deliver_sm", &deliver_sm());
}

criterion_group!(codec, benches);
criterion_main!(codec);
