//! The optional PDU log: one JSON object per line for every PDU in and out.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use connector::protocol::codec::{Header, Pdu};
use serde::Serialize;
use tokio::sync::mpsc;

use super::stats::{command_name, status_name, Direction};

#[derive(Debug, Serialize)]
struct Line {
    ts: String,
    session: u64,
    dir: Direction,
    command: String,
    status: String,
    seq: u32,
    len: u32,
    body: String,
}

/// What the writer thread is sent.
#[derive(Debug)]
enum Msg {
    Line(Line),
    /// Flush everything before this, then answer.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Sends log lines to a writer thread (so that sessions never block on the file).
#[derive(Debug, Clone)]
pub struct PduLog {
    tx: mpsc::UnboundedSender<Msg>,
}

impl PduLog {
    /// Opens `path` (`-`: standard output) for appending and starts the writer.
    pub fn open(path: &Path) -> std::io::Result<PduLog> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )
        };
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("smsc-sim-pdu-log".into())
            .spawn(move || write_lines(rx, out))?;
        Ok(PduLog { tx })
    }

    /// Logs a decoded PDU.
    pub fn pdu(&self, session: u64, dir: Direction, pdu: &Pdu) {
        let line = Line {
            ts: Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            session,
            dir,
            command: pdu.command_id().name().to_owned(),
            status: status_name(pdu.status),
            seq: pdu.sequence,
            len: pdu.encoded_len().map_or(0, |l| l as u32),
            body: format!("{:?}", pdu.body),
        };
        let _ = self.tx.send(Msg::Line(line));
    }

    /// Waits until every line logged so far is written out.
    pub async fn flush(&self) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).is_ok() {
            let _ = done.await;
        }
    }

    /// Logs an encoded PDU (or several back to back).
    pub fn frames(&self, session: u64, dir: Direction, mut bytes: &[u8]) {
        while let Some(header) = Header::parse(bytes) {
            let len = (header.command_length as usize).min(bytes.len()).max(16);
            match Pdu::decode(Bytes::copy_from_slice(&bytes[..len])) {
                Ok(pdu) => self.pdu(session, dir, &pdu),
                Err(e) => {
                    let _ = self.tx.send(Msg::Line(Line {
                        ts: Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
                        session,
                        dir,
                        command: command_name(header.command_id),
                        status: status_name(header.command_status),
                        seq: header.sequence,
                        len: header.command_length,
                        body: format!("undecodable: {e}"),
                    }));
                }
            }
            bytes = &bytes[len..];
        }
    }
}

fn write_lines(mut rx: mpsc::UnboundedReceiver<Msg>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::new(out);
    let mut acks = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Line(line) => {
                    let written = serde_json::to_writer(&mut out, &line)
                        .map_err(std::io::Error::other)
                        .and_then(|()| out.write_all(b"\n"));
                    if written.is_err() {
                        return;
                    }
                }
                Msg::Flush(ack) => acks.push(ack),
            }
            next = rx.try_recv().ok();
        }
        if out.flush().is_err() {
            return;
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}
