//! Text encoding, planning and receipt parsing throughput.

use std::hint::black_box;

use connector::protocol::receipt::{parse_receipt, ReceiptInput, ESM_DELIVERY_RECEIPT};
use connector::protocol::text::{plan, ucs2, GsmTables, RequestedEncoding};
use crds::config::EncodingConfig;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// 160 GSM-7 characters, with a few extension characters.
fn gsm_text() -> String {
    let base = "Your verification code is 123456. Do not share it with anyone. Valid for 10 minutes [ref: A1-B2] - Acme Bank, 24/7 support at +44 20 7946 0000 €5 fee! ";
    base.chars().cycle().take(160).collect()
}

fn bench_encodings(c: &mut Criterion) {
    let gsm = gsm_text();
    let mut g = c.benchmark_group("text");
    g.throughput(Throughput::Elements(1));
    g.bench_function("gsm7_encode_160", |b| {
        b.iter(|| GsmTables::DEFAULT.encode(black_box(&gsm)))
    });
    let unicode: String = "Ваш код подтверждения 123456. Никому его не сообщайте 😀 "
        .chars()
        .cycle()
        .take(70)
        .collect();
    g.bench_function("ucs2_encode_70", |b| {
        b.iter(|| ucs2::encode(black_box(&unicode)))
    });
    let long: String = gsm.chars().cycle().take(400).collect();
    let config = EncodingConfig::default();
    let segments = plan(&long, &config, RequestedEncoding::Auto, 42).map(|p| p.segment_count());
    assert_eq!(
        segments,
        Ok(3),
        "the benchmark text must take three segments"
    );
    g.bench_function("plan_split_3_segments", |b| {
        b.iter(|| plan(black_box(&long), &config, RequestedEncoding::Auto, 42))
    });
    let receipt = "id:0A1B2C3D4E sub:001 dlvrd:001 submit date:2511260000 \
                   done date:2511260001 stat:DELIVRD err:000 text:Your code is 123456";
    g.bench_function("parse_receipt", |b| {
        b.iter(|| {
            parse_receipt(&ReceiptInput {
                esm_class: ESM_DELIVERY_RECEIPT,
                short_message: black_box(receipt.as_bytes()),
                ..ReceiptInput::default()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench_encodings);
criterion_main!(benches);
