//! Throughput of the simulator alone: one connection, a pipelined raw client with a
//! fixed window, submit_sm without receipts.
//!
//! `cargo run --release -p e2e --example sim_throughput -- [MESSAGES] [WINDOW] [ADDR]`
//! (without ADDR an in-process simulator is started).

use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use connector::protocol::codec::{Body, Pdu, SmppCodec};
use e2e::sim::client::{submit_sm, RawClient};
use e2e::sim::{BindMode, SimConfig, Simulator};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio_util::codec::FramedRead;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let window: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(256);
    let addr = args.next().map(|a| a.parse()).transpose()?;
    let (addr, _sim) = match addr {
        Some(addr) => (addr, None),
        None => {
            let config = SimConfig::for_benchmark("bench", "bench");
            let sim = Simulator::start(config).await?;
            (sim.addr(), Some(sim))
        }
    };
    let mut client = RawClient::connect(addr).await?;
    let resp = client.bind(BindMode::Transceiver, "bench", "bench").await?;
    assert!(resp.status.is_ok(), "bind refused: {}", resp.status);
    drop(client);
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let credits = Arc::new(Semaphore::new(0));
    let sm = submit_sm("1000", "447700900123", "benchmark message text", false)?;
    let bind = {
        let mut c = BytesMut::new();
        let body = Body::BindTransceiver(connector::protocol::codec::Bind {
            system_id: "bench".try_into()?,
            password: "bench".try_into()?,
            ..Default::default()
        });
        Pdu::new(1, body).encode(&mut c)?;
        c
    };
    write.write_all(&bind).await?;
    let reader = {
        let credits = credits.clone();
        tokio::spawn(async move {
            let mut frames = FramedRead::with_capacity(read, SmppCodec::default(), 256 * 1024);
            let mut ok = 0u64;
            let mut other = 0u64;
            let mut first = true;
            while let Some(Ok(Ok(pdu))) = frames.next().await {
                if first {
                    first = false;
                    credits.add_permits(window);
                    continue;
                }
                if matches!(pdu.body, Body::SubmitSmResp(_)) {
                    if pdu.status.is_ok() {
                        ok += 1;
                    } else {
                        other += 1;
                    }
                    credits.add_permits(1);
                    if ok + other == total {
                        break;
                    }
                }
            }
            (ok, other)
        })
    };
    let started = Instant::now();
    let mut buf = BytesMut::with_capacity(256 * 1024);
    let mut sent = 0u64;
    let mut seq = 1u32;
    while sent < total {
        credits.acquire().await?.forget();
        let mut n = 1;
        while sent + n < total {
            match credits.try_acquire() {
                Ok(p) => {
                    p.forget();
                    n += 1;
                }
                Err(_) => break,
            }
        }
        for _ in 0..n {
            seq += 1;
            Pdu::new(seq, Body::SubmitSm(sm.clone())).encode(&mut buf)?;
        }
        sent += n;
        write.write_all(&buf).await?;
        buf.clear();
    }
    let (ok, other) = reader.await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{total} submit_sm, window {window}: {:.0}/s ({ok} ok, {other} errors) in {secs:.2} s",
        total as f64 / secs
    );
    Ok(())
}
