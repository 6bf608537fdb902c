//! One ESME connection: reads PDUs in batches, answers them into one write buffer that is
//! flushed when the read buffer is drained, and sends receipts, MO and enquire_link.

mod encode;
mod handlers;
mod io;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;
use connector::protocol::codec::{Body, CodecError, Pdu, SmppCodec};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval};
use tokio_util::codec::Decoder;

use super::delivery::Delivery;
use super::faults::{BreakAction, ConnectionFault, LiveFaults};
use super::receipt_log::ReceiptLog;
use super::router::{SessionCmd, SessionId};
use super::shared::Shared;
use super::stats::{Direction, LocalCounts, Stats};
use io::WriterMsg;

/// Batches the writer may hold before the reader waits (backpressure).
const WRITER_QUEUE: usize = 256;
/// Read buffer growth step.
const READ_CHUNK: usize = 64 * 1024;

/// The kind of bind a session holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindMode {
    /// bind_transmitter: may submit, gets no deliver_sm.
    Transmitter,
    /// bind_receiver: gets deliver_sm, may not submit.
    Receiver,
    /// bind_transceiver: both.
    Transceiver,
}

impl BindMode {
    /// Whether the ESME may submit on this bind.
    pub fn transmits(self) -> bool {
        !matches!(self, BindMode::Receiver)
    }

    /// Whether the ESME gets deliver_sm on this bind.
    pub fn receives(self) -> bool {
        !matches!(self, BindMode::Transmitter)
    }
}

/// Where a session is in the SMPP state machine.
#[derive(Debug, Clone)]
enum BindState {
    /// Connected, not bound.
    Open,
    /// Bound for `system_id`.
    Bound { mode: BindMode, system_id: Arc<str> },
}

/// What the batch loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Keep going.
    Continue,
    /// Flush, then close normally.
    Close,
    /// Flush (unless reset), then break the connection this way.
    Break(BreakAction),
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Closed,
    Broken(BreakAction),
    Shutdown,
}

/// Runs one accepted connection to its end.
pub async fn run(shared: Arc<Shared>, stream: TcpStream, id: SessionId) {
    let _ = stream.set_nodelay(true);
    let stream = Arc::new(stream);
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    shared.router.add_session(id, cmd_tx);
    let (writer_tx, writer_rx) = mpsc::channel(WRITER_QUEUE);
    let writer = tokio::spawn(io::writer(stream.clone(), writer_rx));
    let live = shared.faults.current();
    let mut session = Session {
        id,
        state: BindState::Open,
        codec: SmppCodec::new(shared.config.max_pdu_len),
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        wbuf: BytesMut::with_capacity(READ_CHUNK),
        local: LocalCounts::default(),
        faults_generation: shared.faults.generation(),
        break_plan: live.connection_break(),
        faults: live,
        pdus_in: 0,
        next_seq: 0,
        outstanding: HashMap::new(),
        writer_tx,
        delayer_tx: None,
        accepted: 0,
        batch_at: Instant::now(),
        awaiting_unbind_resp: false,
        shared: shared.clone(),
    };
    let end = session.run(&stream, cmd_rx).await;
    let was_bound = matches!(session.state, BindState::Bound { .. });
    let Session {
        outstanding,
        writer_tx,
        delayer_tx,
        ..
    } = session;
    drop(delayer_tx);
    match end {
        End::Broken(BreakAction::Silent) => {
            Stats::bump(&shared.stats.events.connections_broken);
            let _ = writer_tx.send(WriterMsg::Silence).await;
            requeue(&shared, id, was_bound, outstanding);
            shared.cancel.cancelled().await;
            drop(writer_tx);
        }
        End::Broken(BreakAction::Reset) => {
            Stats::bump(&shared.stats.events.connections_broken);
            let _ = stream.set_zero_linger();
            writer.abort();
            drop(writer_tx);
            requeue(&shared, id, was_bound, outstanding);
        }
        End::Broken(BreakAction::Close) | End::Closed | End::Shutdown => {
            if matches!(end, End::Broken(_)) {
                Stats::bump(&shared.stats.events.connections_broken);
            }
            drop(writer_tx);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
            requeue(&shared, id, was_bound, outstanding);
        }
    }
}

/// Hands the deliveries of a finished session back to the router.
fn requeue(
    shared: &Shared,
    id: SessionId,
    was_bound: bool,
    outstanding: HashMap<u32, Option<Delivery>>,
) {
    shared.router.remove_session(id, was_bound);
    for delivery in outstanding.into_values().flatten() {
        shared.log_receipt(&delivery, ReceiptLog::requeued);
        shared.router.route(delivery);
    }
}

struct Session {
    shared: Arc<Shared>,
    id: SessionId,
    state: BindState,
    codec: SmppCodec,
    rbuf: BytesMut,
    wbuf: BytesMut,
    local: LocalCounts,
    faults: Arc<LiveFaults>,
    faults_generation: u64,
    break_plan: Option<ConnectionFault>,
    pdus_in: u64,
    next_seq: u32,
    /// deliver_sm sent and not yet answered (`None`: a deliberate duplicate).
    outstanding: HashMap<u32, Option<Delivery>>,
    writer_tx: mpsc::Sender<WriterMsg>,
    delayer_tx: Option<mpsc::UnboundedSender<(Instant, bytes::Bytes)>>,
    /// Submits accepted in the current batch.
    accepted: u32,
    /// When the current batch was read (the TPS limit's clock for it).
    batch_at: Instant,
    awaiting_unbind_resp: bool,
}

impl Session {
    async fn run(
        &mut self,
        stream: &TcpStream,
        mut cmds: mpsc::UnboundedReceiver<SessionCmd>,
    ) -> End {
        let cancel = self.shared.cancel.clone();
        let mut enquire = self.shared.config.enquire_link_interval().map(|every| {
            let mut i = tokio::time::interval_at(Instant::now() + every, every);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        let end = loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => break End::Shutdown,
                ready = stream.readable() => {
                    if ready.is_err() {
                        break End::Closed;
                    }
                    if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
                        self.rbuf.reserve(READ_CHUNK);
                    }
                    match stream.try_read_buf(&mut self.rbuf) {
                        Ok(0) => break End::Closed,
                        Ok(_) => self.process_input(),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Next::Continue,
                        Err(_) => break End::Closed,
                    }
                }
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => {
                        let mut next = self.command(cmd);
                        while next == Next::Continue {
                            match cmds.try_recv() {
                                Ok(cmd) => next = self.command(cmd),
                                Err(_) => break,
                            }
                        }
                        next
                    }
                    None => break End::Shutdown,
                },
                _ = tick(&mut enquire), if self.bound() => {
                    let seq = self.next_sequence();
                    self.write_pdu(&Pdu::new(seq, Body::EnquireLink));
                    Next::Continue
                }
            };
            if self.flush().await.is_err() {
                break End::Closed;
            }
            match next {
                Next::Continue => {}
                Next::Close => break End::Closed,
                Next::Break(action) => break End::Broken(action),
            }
        };
        // Deliveries still queued for this session go back to the router.
        self.shared.router.remove_session(self.id, false);
        cmds.close();
        while let Ok(cmd) = cmds.try_recv() {
            if let SessionCmd::Deliver(d) = cmd {
                self.shared.router.route(*d);
            }
        }
        end
    }

    fn bound(&self) -> bool {
        matches!(self.state, BindState::Bound { .. })
    }

    /// Sends what the batch produced and merges its counters.
    async fn flush(&mut self) -> Result<(), ()> {
        self.shared.stats.merge(&mut self.local);
        if self.accepted > 0 {
            self.shared.tps.record(self.batch_at, self.accepted);
            self.accepted = 0;
        }
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let batch = self.wbuf.split().freeze();
        if let Some(log) = &self.shared.pdu_log {
            log.frames(self.id, Direction::Out, &batch);
        }
        self.writer_tx
            .send(WriterMsg::Data(batch))
            .await
            .map_err(|_| ())
    }

    /// Decodes and answers every complete PDU in the read buffer.
    fn process_input(&mut self) -> Next {
        let generation = self.shared.faults.generation();
        if generation != self.faults_generation {
            self.faults = self.shared.faults.current();
            self.faults_generation = generation;
        }
        let now = Instant::now();
        self.batch_at = now;
        loop {
            let decoded = match self.codec.decode(&mut self.rbuf) {
                Ok(Some(decoded)) => decoded,
                Ok(None) => return Next::Continue,
                Err(e) => return self.fatal_input(&e),
            };
            self.pdus_in += 1;
            let next = match decoded {
                Ok(pdu) => {
                    self.local
                        .add(Direction::In, pdu.command_id().as_u32(), pdu.status);
                    if let Some(log) = &self.shared.pdu_log {
                        log.pdu(self.id, Direction::In, &pdu);
                    }
                    self.handle(pdu, now)
                }
                Err(invalid) => {
                    self.local.add(
                        Direction::In,
                        invalid.header.command_id,
                        invalid.header.command_status,
                    );
                    self.write_pdu(&Pdu::generic_nack(
                        invalid.sequence(),
                        invalid.reply_status(),
                    ));
                    Next::Continue
                }
            };
            if next != Next::Continue {
                return next;
            }
            if let Some(plan) = self.break_plan {
                if self.pdus_in >= plan.after_pdus {
                    return Next::Break(plan.action);
                }
            }
        }
    }

    /// The stream cannot be re-synchronised: say so and close.
    fn fatal_input(&mut self, error: &CodecError) -> Next {
        if let CodecError::InvalidCommandLength { .. } = error {
            self.write_pdu(&Pdu::generic_nack(
                0,
                connector::protocol::codec::CommandStatus::ESME_RINVCMDLEN,
            ));
        }
        Next::Close
    }

    fn next_sequence(&mut self) -> u32 {
        self.next_seq = if self.next_seq >= 0x7FFF_FFFF {
            1
        } else {
            self.next_seq + 1
        };
        self.next_seq
    }

    /// Encodes a PDU built with the codec into the write buffer.
    fn write_pdu(&mut self, pdu: &Pdu) {
        if pdu.encode(&mut self.wbuf).is_ok() {
            self.local
                .add(Direction::Out, pdu.command_id().as_u32(), pdu.status);
        }
    }

    /// Executes an order from outside the connection.
    fn command(&mut self, cmd: SessionCmd) -> Next {
        match cmd {
            SessionCmd::Deliver(d) => {
                self.deliver(*d);
                Next::Continue
            }
            SessionCmd::Break(action) => Next::Break(action),
            SessionCmd::Unbind => {
                if self.bound() && !self.awaiting_unbind_resp {
                    self.awaiting_unbind_resp = true;
                    let seq = self.next_sequence();
                    self.write_pdu(&Pdu::new(seq, Body::Unbind));
                    Next::Continue
                } else if self.bound() {
                    Next::Continue
                } else {
                    Next::Close
                }
            }
        }
    }

    /// Sends a receipt or MO as deliver_sm (twice if the duplicate fault fires).
    fn deliver(&mut self, delivery: Delivery) {
        let receives = matches!(self.state, BindState::Bound { mode, .. } if mode.receives());
        if !receives {
            self.shared.router.route(delivery);
            return;
        }
        let shared = self.shared.clone();
        let events = &shared.stats.events;
        let sm = delivery.to_deliver_sm(chrono::Utc::now());
        let copies = if delivery.is_receipt() && self.faults.duplicate_receipt() {
            2
        } else {
            1
        };
        for copy in 0..copies {
            let seq = self.next_sequence();
            self.write_pdu(&Pdu::new(seq, Body::DeliverSm(sm.clone())));
            shared.log_receipt(&delivery, ReceiptLog::written);
            Stats::bump(if delivery.is_receipt() {
                &events.receipts_sent
            } else {
                &events.mo_sent
            });
            let tracked = (copy == 0).then(|| delivery.clone());
            self.outstanding.insert(seq, tracked);
        }
    }
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}
