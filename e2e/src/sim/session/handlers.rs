//! Answers to each PDU an ESME sends.

use std::sync::Arc;

use connector::protocol::codec::{
    registered_delivery, Bind, BindResp, Body, COctetString, CommandId, CommandStatus,
    MessageState, Pdu, QuerySm, QuerySmResp, SubmitMultiResp, Tlv, Tlvs, INTERFACE_VERSION_34,
};
use tokio::time::{Duration, Instant};

use super::encode;
use super::{BindMode, BindState, Next, Session};
use crate::sim::capture::ReceivedSubmit;
use crate::sim::delivery::{owned_address, receipt_text, Delivery, DeliveryKind, ReceiptJob};
use crate::sim::faults::{SubmitVerdict, TransceiverRefusal};
use crate::sim::message_id::MessageId;
use crate::sim::message_store::MessageRecord;
use crate::sim::outcome::Outcome;
use crate::sim::stats::{Direction, Stats};

/// The parts of a submit_sm or data_sm the simulator needs.
struct Submission<'a> {
    resp: CommandId,
    registered_delivery: u8,
    pdu: &'a Pdu,
}

impl Session {
    /// Answers one decoded PDU.
    pub(super) fn handle(&mut self, pdu: Pdu, now: Instant) -> Next {
        let seq = pdu.sequence;
        match &pdu.body {
            Body::SubmitSm(sm) => {
                let sub = Submission {
                    resp: CommandId::SubmitSmResp,
                    registered_delivery: sm.registered_delivery,
                    pdu: &pdu,
                };
                self.submit(sub, now);
                Next::Continue
            }
            Body::DataSm(sm) => {
                let sub = Submission {
                    resp: CommandId::DataSmResp,
                    registered_delivery: sm.registered_delivery,
                    pdu: &pdu,
                };
                self.submit(sub, now);
                Next::Continue
            }
            Body::DeliverSmResp(_) | Body::GenericNack => {
                self.delivery_answered(seq, pdu.status);
                Next::Continue
            }
            Body::EnquireLink => {
                self.status_only(CommandId::EnquireLinkResp, CommandStatus::ESME_ROK, seq);
                Next::Continue
            }
            Body::EnquireLinkResp => Next::Continue,
            Body::BindTransmitter(b) => self.bind(seq, BindMode::Transmitter, b),
            Body::BindReceiver(b) => self.bind(seq, BindMode::Receiver, b),
            Body::BindTransceiver(b) => self.bind(seq, BindMode::Transceiver, b),
            Body::Unbind => {
                if self.bound() {
                    self.status_only(CommandId::UnbindResp, CommandStatus::ESME_ROK, seq);
                    Next::Close
                } else {
                    self.status_only(CommandId::UnbindResp, CommandStatus::ESME_RINVBNDSTS, seq);
                    Next::Continue
                }
            }
            Body::UnbindResp => {
                if self.awaiting_unbind_resp {
                    Next::Close
                } else {
                    Next::Continue
                }
            }
            Body::QuerySm(q) => {
                self.query(seq, q, now);
                Next::Continue
            }
            Body::CancelSm(c) => {
                let status = self.cancel_or_replace(&c.message_id, true, now);
                self.status_only(CommandId::CancelSmResp, status, seq);
                Next::Continue
            }
            Body::ReplaceSm(r) => {
                let status = self.cancel_or_replace(&r.message_id, false, now);
                self.status_only(CommandId::ReplaceSmResp, status, seq);
                Next::Continue
            }
            Body::SubmitMulti(_) => {
                if self.transmits() {
                    let id = self.shared.ids.next_id();
                    let body = SubmitMultiResp {
                        message_id: cstr(id.as_bytes()),
                        ..SubmitMultiResp::default()
                    };
                    self.write_pdu(&Pdu::new(seq, body));
                } else {
                    self.write_pdu(&Pdu::with_status(
                        seq,
                        CommandStatus::ESME_RINVBNDSTS,
                        SubmitMultiResp::default(),
                    ));
                }
                Next::Continue
            }
            // Requests only an SMSC sends.
            Body::DeliverSm(_) | Body::Outbind(_) | Body::AlertNotification(_) => {
                self.write_pdu(&Pdu::generic_nack(seq, CommandStatus::ESME_RINVCMDID));
                Next::Continue
            }
            // Other responses answer nothing the simulator sent: ignore them.
            _ => Next::Continue,
        }
    }

    fn transmits(&self) -> bool {
        matches!(self.state, BindState::Bound { mode, .. } if mode.transmits())
    }

    fn status_only(&mut self, cmd: CommandId, status: CommandStatus, seq: u32) {
        encode::header_only(&mut self.wbuf, cmd, status, seq);
        self.local.add(Direction::Out, cmd.as_u32(), status);
    }

    fn bind(&mut self, seq: u32, mode: BindMode, bind: &Bind) -> Next {
        let resp = |status: CommandStatus, body: BindResp| {
            let body = match mode {
                BindMode::Transmitter => Body::BindTransmitterResp(body),
                BindMode::Receiver => Body::BindReceiverResp(body),
                BindMode::Transceiver => Body::BindTransceiverResp(body),
            };
            Pdu::with_status(seq, status, body)
        };
        let shared = self.shared.clone();
        let events = &shared.stats.events;
        if self.bound() {
            Stats::bump(&events.bind_failures);
            self.write_pdu(&resp(CommandStatus::ESME_RALYBND, BindResp::default()));
            return Next::Continue;
        }
        if mode == BindMode::Transceiver {
            match self.faults.faults().refuse_transceiver {
                Some(TransceiverRefusal::GenericNack) => {
                    Stats::bump(&events.bind_failures);
                    self.write_pdu(&Pdu::generic_nack(seq, CommandStatus::ESME_RINVCMDID));
                    return Next::Continue;
                }
                Some(TransceiverRefusal::Response(status)) => {
                    Stats::bump(&events.bind_failures);
                    self.write_pdu(&resp(status.0, BindResp::default()));
                    return Next::Continue;
                }
                None => {}
            }
        }
        let verdict = match self.faults.bind_failure() {
            Some(status) => Err(status),
            None => self
                .shared
                .config
                .check_credentials(bind.system_id.as_bytes(), bind.password.as_bytes()),
        };
        if let Err(status) = verdict {
            Stats::bump(&events.bind_failures);
            self.write_pdu(&resp(status, BindResp::default()));
            return Next::Continue;
        }
        let system_id: Arc<str> = Arc::from(bind.system_id.to_string_lossy().as_ref());
        let limit = self.shared.config.bind_limit;
        if !self
            .shared
            .router
            .bind(self.id, &system_id, mode.receives(), limit.map(|l| l.max))
        {
            Stats::bump(&events.bind_failures);
            Stats::bump(&events.binds_over_limit);
            let status = limit.map_or(CommandStatus::ESME_RBINDFAIL, |l| l.status.0);
            self.write_pdu(&resp(status, BindResp::default()));
            return Next::Continue;
        }
        Stats::bump(&events.binds);
        let body = BindResp {
            system_id: cstr(self.shared.config.smsc_system_id.as_bytes()),
            tlvs: Tlvs::new().with(Tlv::ScInterfaceVersion(INTERFACE_VERSION_34)),
        };
        self.write_pdu(&resp(CommandStatus::ESME_ROK, body));
        self.state = BindState::Bound { mode, system_id };
        Next::Continue
    }

    /// submit_sm and data_sm: the hot path.
    fn submit(&mut self, sub: Submission<'_>, now: Instant) {
        let seq = sub.pdu.sequence;
        let system_id = match &self.state {
            BindState::Bound { mode, system_id } if mode.transmits() => system_id.clone(),
            _ => {
                return self.id_resp(sub.resp, CommandStatus::ESME_RINVBNDSTS, seq, b"");
            }
        };
        if let Err(status) = check_times(&sub.pdu.body) {
            Stats::bump(&self.shared.stats.events.rejected_times);
            return self.id_resp(sub.resp, status, seq, b"");
        }
        if self.faults.touches_submits() {
            match self.faults.submit_verdict() {
                SubmitVerdict::Accept => {}
                SubmitVerdict::Reject(status) => return self.id_resp(sub.resp, status, seq, b""),
                SubmitVerdict::Ignore => {
                    Stats::bump(&self.shared.stats.events.ignored_submits);
                    return;
                }
            }
        }
        if !self.shared.tps.try_acquire(now) {
            return self.id_resp(sub.resp, CommandStatus::ESME_RTHROTTLED, seq, b"");
        }
        let id = self.shared.ids.next_id();
        self.accepted += 1;
        self.shared
            .stats
            .events
            .accepted_submits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let receipt = self.plan_receipt(&sub, &id, &system_id, now);
        if let Some(capture) = &self.shared.capture {
            let record = match &sub.pdu.body {
                Body::SubmitSm(sm) => {
                    ReceivedSubmit::from_submit(sm, id.as_str(), &system_id, self.id)
                }
                Body::DataSm(sm) => {
                    ReceivedSubmit::from_data_sm(sm, id.as_str(), &system_id, self.id)
                }
                _ => return,
            };
            capture.push(record);
        }
        let faults = self.faults.faults();
        let hold = match receipt {
            Some((delivery, _)) if faults.receipt_before_response => {
                self.shared.router.route(delivery);
                Some(Duration::from_millis(faults.early_receipt_hold_ms))
            }
            Some((delivery, at)) => {
                self.shared.scheduler.schedule(at, delivery);
                None
            }
            None => None,
        };
        let delay = hold.or_else(|| faults.response_delay.as_ref().map(|d| d.sample()));
        match delay {
            Some(delay) if !delay.is_zero() => {
                let mut buf = bytes::BytesMut::with_capacity(64);
                encode::id_resp(
                    &mut buf,
                    sub.resp,
                    CommandStatus::ESME_ROK,
                    seq,
                    id.as_bytes(),
                );
                self.local
                    .add(Direction::Out, sub.resp.as_u32(), CommandStatus::ESME_ROK);
                self.send_later(now + delay, buf.freeze());
            }
            _ => self.id_resp(sub.resp, CommandStatus::ESME_ROK, seq, id.as_bytes()),
        }
    }

    fn id_resp(&mut self, cmd: CommandId, status: CommandStatus, seq: u32, id: &[u8]) {
        encode::id_resp(&mut self.wbuf, cmd, status, seq, id);
        self.local.add(Direction::Out, cmd.as_u32(), status);
    }

    /// Queues already-encoded octets for `at` (starting the delayer on first use).
    fn send_later(&mut self, at: Instant, bytes: bytes::Bytes) {
        if let Some(log) = &self.shared.pdu_log {
            log.frames(self.id, Direction::Out, &bytes);
        }
        let tx = self.delayer_tx.get_or_insert_with(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(super::io::delayer(rx, self.writer_tx.clone()));
            tx
        });
        let _ = tx.send((at, bytes));
    }

    /// Decides the receipt of an accepted submit and remembers the message for query_sm.
    fn plan_receipt(
        &mut self,
        sub: &Submission<'_>,
        id: &MessageId,
        system_id: &Arc<str>,
        now: Instant,
    ) -> Option<(Delivery, Instant)> {
        let config = &self.shared.config.receipts;
        let wanted = sub.registered_delivery & registered_delivery::RECEIPT_MASK;
        let requested = config.enabled
            && matches!(
                wanted,
                registered_delivery::RECEIPT_ALWAYS | registered_delivery::RECEIPT_ON_FAILURE
            );
        if !requested && !self.shared.messages.enabled() {
            return None;
        }
        let delay = config.delay.sample();
        let outcome = if requested {
            self.shared.outcomes.pick()
        } else {
            Outcome::Delivrd
        };
        let at = now + delay;
        let final_date = chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        self.shared.messages.insert(
            id.key(),
            MessageRecord {
                final_at: at,
                final_date,
                outcome,
                cancelled: false,
            },
        );
        if !requested
            || (wanted == registered_delivery::RECEIPT_ON_FAILURE && outcome.is_delivered())
        {
            return None;
        }
        let (source, dest, data_coding, esm, text) = match &sub.pdu.body {
            Body::SubmitSm(sm) => (
                owned_address(&sm.dest),
                owned_address(&sm.source),
                sm.data_coding,
                sm.esm_class,
                if sm.short_message.is_empty() {
                    sm.tlvs.message_payload().cloned().unwrap_or_default()
                } else {
                    sm.short_message.clone()
                },
            ),
            Body::DataSm(sm) => (
                owned_address(&sm.dest),
                owned_address(&sm.source),
                sm.data_coding,
                sm.esm_class,
                sm.tlvs.message_payload().cloned().unwrap_or_default(),
            ),
            _ => return None,
        };
        let job = ReceiptJob {
            message_id: *id,
            text_id: config.text_id,
            outcome,
            source,
            dest,
            submitted_at: chrono::Utc::now(),
            text: receipt_text(
                data_coding,
                esm & connector::protocol::codec::esm_class::UDHI != 0,
                &text,
            ),
            format: config.format,
        };
        let delivery = Delivery {
            system_id: system_id.clone(),
            kind: DeliveryKind::Receipt(job),
            attempts: 0,
        };
        Some((delivery, at))
    }

    /// A deliver_sm_resp (or generic_nack) for one of our deliver_sm.
    fn delivery_answered(&mut self, seq: u32, status: CommandStatus) {
        let Some(entry) = self.outstanding.remove(&seq) else {
            return;
        };
        let Some(mut delivery) = entry else {
            return;
        };
        let shared = self.shared.clone();
        shared.log_receipt(&delivery, |log, id| log.answered(id, status.is_ok()));
        let events = &shared.stats.events;
        if status.is_ok() {
            Stats::bump(if delivery.is_receipt() {
                &events.receipts_acked
            } else {
                &events.mo_acked
            });
            return;
        }
        delivery.attempts += 1;
        let config = &self.shared.config.receipts;
        if delivery.attempts >= config.max_attempts {
            Stats::bump(&events.deliveries_abandoned);
            return;
        }
        let at = Instant::now() + config.redelivery_delay.sample();
        self.shared.scheduler.schedule(at, delivery);
    }

    /// cancel_sm (`cancel`) or replace_sm of the message `id`: only a message still pending
    /// can be changed (`ESME_RCANCELFAIL` / `ESME_RREPLACEFAIL` otherwise, and for an id the
    /// store does not hold). A cancelled message gets no receipt; a replaced one keeps its
    /// planned outcome.
    fn cancel_or_replace(
        &self,
        id: &COctetString<65>,
        cancel: bool,
        now: Instant,
    ) -> CommandStatus {
        if !self.transmits() {
            return CommandStatus::ESME_RINVBNDSTS;
        }
        let key = self.shared.ids.form().parse(id.as_bytes());
        let done = match key {
            Some(key) if cancel => self.shared.messages.cancel(key, now),
            Some(key) => self
                .shared
                .messages
                .get(key)
                .is_some_and(|r| r.pending(now)),
            None => false,
        };
        match (done, cancel) {
            (true, _) => CommandStatus::ESME_ROK,
            (false, true) => CommandStatus::ESME_RCANCELFAIL,
            (false, false) => CommandStatus::ESME_RREPLACEFAIL,
        }
    }

    fn query(&mut self, seq: u32, q: &QuerySm, now: Instant) {
        if !self.transmits() {
            return self.write_pdu(&Pdu::with_status(
                seq,
                CommandStatus::ESME_RINVBNDSTS,
                QuerySmResp::default(),
            ));
        }
        let record = self
            .shared
            .ids
            .form()
            .parse(q.message_id.as_bytes())
            .and_then(|key| self.shared.messages.get(key));
        let Some(record) = record else {
            return self.write_pdu(&Pdu::with_status(
                seq,
                CommandStatus::ESME_RQUERYFAIL,
                QuerySmResp::default(),
            ));
        };
        let done = now >= record.final_at;
        let body = QuerySmResp {
            message_id: q.message_id.clone(),
            final_date: if done {
                cstr(
                    record
                        .final_date
                        .format("%y%m%d%H%M%S000+")
                        .to_string()
                        .as_bytes(),
                )
            } else {
                COctetString::empty()
            },
            message_state: if record.cancelled {
                MessageState::DELETED
            } else if done {
                record.outcome.message_state()
            } else {
                MessageState::ENROUTE
            },
            error_code: if done && !record.cancelled {
                record.outcome.error_code() as u8
            } else {
                0
            },
        };
        self.write_pdu(&Pdu::new(seq, body));
    }
}

/// A C-Octet string from text known to fit (ids, configured names); empty otherwise.
fn cstr<const N: usize>(bytes: &[u8]) -> COctetString<N> {
    COctetString::try_from(bytes).unwrap_or_default()
}

/// A submit_sm whose schedule_delivery_time or validity_period is not in the SMPP form
/// (`codec::SmppTime`) is refused as a real SMSC would: ESME_RINVSCHED or ESME_RINVEXPIRY.
fn check_times(body: &Body) -> Result<(), CommandStatus> {
    if let Body::SubmitSm(sm) = body {
        if connector::protocol::codec::SmppTime::parse(sm.schedule_delivery_time.as_bytes())
            .is_err()
        {
            return Err(CommandStatus::ESME_RINVSCHED);
        }
        if connector::protocol::codec::SmppTime::parse(sm.validity_period.as_bytes()).is_err() {
            return Err(CommandStatus::ESME_RINVEXPIRY);
        }
    }
    Ok(())
}
