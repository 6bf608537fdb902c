//! One bound connection at work: writes submits within the window and the pacer's rate,
//! matches responses, times requests out, retries throttled submits, keeps the link alive,
//! answers the SMSC's requests and hands deliveries to the application, and drains then
//! unbinds on request.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::BytesMut;
use futures::future::BoxFuture;
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::bind::BindKind;
use super::bind_rate::BindRate;
use super::board::Seat;
use super::connection::Transport;
use super::counters::{Counters, Direction};
use super::gate::{Permit, SubmitGate};
use super::heartbeat::{Action, Dead, Heartbeat};
use super::inbound::{Inbound, Responder};
use super::slowdown::SlowDownMeter;
use super::status_class::{classify, StatusClass};
use super::submit::{LateResponse, SubmitError, SubmitJob, SubmitOutcome};
use super::throttle::Pacer;
use super::window::{Matched, Outstanding, SequenceNumbers, Window};
use crate::protocol::codec::{
    relative_time, Body, COctetString, CommandId, CommandStatus, Decoded, Pdu,
};
use crate::session::state::EndpointRole;
use crds::config::{RetryConfig, SessionConfig};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Most submits written before a flush.
const WRITE_BATCH: usize = 128;
/// Most buffered PDUs handled in a row.
const READ_BATCH: usize = 128;
/// Below this many buffered octets, the link yields once before flushing to collect more.
const COALESCE_BYTES: usize = 16 * 1024;
/// ... when at least this many requests are outstanding (otherwise latency comes first).
const COALESCE_MIN_OUTSTANDING: usize = 4;
/// Most expired requests remembered for late matching.
const MAX_EXPIRED: usize = 65_536;

/// What every link of an engine shares.
#[derive(Debug)]
pub(crate) struct LinkContext {
    pub counters: Arc<Counters>,
    pub slow_down: Arc<SlowDownMeter>,
    pub inbound: mpsc::Sender<Inbound>,
    pub late: mpsc::Sender<LateResponse>,
    pub session: SessionConfig,
    pub retry: RetryConfig,
    /// The operator's TPS budget: a resend, or a submit whose permit went stale, takes a new
    /// permit here.
    pub gate: Arc<dyn SubmitGate>,
    /// Most submits outstanding on one link (`session.window`).
    pub window: usize,
    /// `throttle.perBindTps` (0: none).
    pub per_bind_tps: u32,
}

/// How a link ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LinkEnd {
    /// Unbound on request (shutdown, failback, or the sibling link ended).
    Unbound,
    /// A probe stayed bound for its hold time, then unbound.
    Held,
    /// The SMSC sent unbind.
    UnbindBySmsc,
    /// The SMSC closed the connection.
    Closed,
    /// enquire_link unanswered or nothing read for too long.
    Dead(Dead),
    /// Reading or writing failed, or the stream cannot be decoded.
    Failed(String),
}

impl LinkEnd {
    pub(crate) fn reason(&self) -> String {
        match self {
            LinkEnd::Unbound => "unbound".into(),
            LinkEnd::Held => "probe held".into(),
            LinkEnd::UnbindBySmsc => "unbind from the SMSC".into(),
            LinkEnd::Closed => "connection closed by the SMSC".into(),
            LinkEnd::Dead(Dead::EnquireLinkTimeout) => "enquire_link not answered".into(),
            LinkEnd::Dead(Dead::ReadIdle) => "nothing read for the read-idle timeout".into(),
            LinkEnd::Failed(e) => e.clone(),
        }
    }
}

/// A bound connection, ready to run.
#[derive(Debug)]
pub(crate) struct Link {
    pub transport: Transport,
    pub kind: BindKind,
    pub endpoint: EndpointRole,
    /// The first sequence number to use (after the bind's).
    pub first_sequence: u32,
    /// Where the link shows how many submits it has outstanding.
    pub in_use: Arc<AtomicU32>,
    /// Its place on the pool's hand-out board (a link that takes queued submits).
    pub seat: Option<Seat>,
}

struct State<'c> {
    ctx: &'c LinkContext,
    kind: BindKind,
    endpoint: EndpointRole,
    window: Window<SubmitJob, ()>,
    heartbeat: Heartbeat,
    pacer: Pacer,
    /// The per-bind TPS cap, if configured.
    cap: Option<BindRate>,
    /// The pool's hand-out board: takes a queued submit only while no other bind has much
    /// more room.
    seat: Option<Seat>,
    /// The pacer's paused time already recorded in the meter.
    paused_recorded: Duration,
    retries: Vec<(Instant, SubmitJob)>,
    /// Submits due now that need a gate permit (resends, stale permits), oldest first.
    ready: VecDeque<SubmitJob>,
    /// A gate permit for the first job of `ready`, held only until the end of the loop turn
    /// that got it (a permit must be used at once, or not at all).
    resend_permit: Option<Permit>,
    out: mpsc::UnboundedSender<Pdu>,
    draining: Option<Instant>,
    unbinding: Option<(u32, Instant)>,
    held: bool,
    ended: Option<LinkEnd>,
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl Link {
    /// Runs until the link ends. `jobs` feeds submits (transmitter and transceiver links);
    /// `stop` carries a drain deadline; `hold` ends a probe after that long bound.
    pub(crate) async fn run(
        mut self,
        ctx: &LinkContext,
        mut jobs: Option<flume::Receiver<SubmitJob>>,
        mut stop: watch::Receiver<Option<Instant>>,
        hold: Option<Duration>,
    ) -> LinkEnd {
        let now = Instant::now();
        let s = &ctx.session;
        let timeout = Duration::from_millis(s.response_timeout_ms.max(1));
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let mut st = State {
            ctx,
            kind: self.kind,
            endpoint: self.endpoint,
            window: Window::with_sequences(
                SequenceNumbers::starting_at(self.first_sequence),
                timeout,
                (timeout * 10).max(secs(60)),
                MAX_EXPIRED,
            ),
            heartbeat: Heartbeat::new(
                secs(s.enquire_link_interval_seconds.max(1)),
                secs(s.enquire_link_timeout_seconds.max(1)),
                secs(s.read_idle_timeout_seconds.max(1)),
                now,
            ),
            pacer: Pacer::new(now),
            cap: BindRate::new(ctx.per_bind_tps),
            seat: self.seat.take(),
            paused_recorded: Duration::ZERO,
            retries: Vec::new(),
            ready: VecDeque::new(),
            resend_permit: None,
            out: out_tx,
            draining: None,
            unbinding: None,
            held: false,
            ended: None,
        };
        let tick_period =
            (timeout / 8).clamp(Duration::from_millis(10), Duration::from_millis(250));
        let mut tick = tokio::time::interval(tick_period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let hold_until = hold.map(|h| now + h);
        if let Some(deadline) = *stop.borrow_and_update() {
            st.draining = Some(deadline);
        }
        if !self.kind.can_send() {
            jobs = None;
        }
        // The gate permit a resend waits for; polled here so that the link never stops
        // reading while it waits.
        let mut permit: Option<BoxFuture<'_, Permit>> = None;
        loop {
            let now = Instant::now();
            let accepting = jobs.is_some() && st.draining.is_none() && st.has_room();
            let sending = st.unbinding.is_none() && (accepting || !st.ready.is_empty());
            let pace = if sending { st.wait_until(now) } else { None };
            let take = sending && pace.is_none();
            let resend = take && !st.ready.is_empty();
            // Queued submits go to the bind with the most free window.
            let pull = take && accepting && st.may_take();
            if !(take && accepting) {
                st.offer_nothing();
            }
            if !resend {
                // Not polled while nothing can be resent: dropped, so that it holds nothing
                // (the gate may be shared with the submitters waiting for their first permit).
                permit = None;
            } else if permit.is_none() {
                permit = Some(ctx.gate.permit());
            }
            tokio::select! {
                biased;
                frame = self.transport.next() => {
                    let now = Instant::now();
                    st.on_frame(frame, now, self.transport.write_buffer_mut());
                    // Handle the frames already read without another round of select.
                    for _ in 0..READ_BATCH {
                        if st.ended.is_some() {
                            break;
                        }
                        let Some(frame) = self.transport.next().now_or_never() else {
                            break;
                        };
                        st.on_frame(frame, now, self.transport.write_buffer_mut());
                    }
                }
                Some(pdu) = out_rx.recv() => {
                    st.write(&pdu, self.transport.write_buffer_mut());
                }
                granted = wait_permit(&mut permit), if resend => {
                    permit = None;
                    st.resend_permit = Some(granted);
                }
                job = recv(&jobs), if pull => {
                    match job {
                        Some(job) => {
                            st.submit(job, Instant::now(), self.transport.write_buffer_mut());
                        }
                        None => {
                            jobs = None;
                            st.draining = Some(now + secs(s.drain_timeout_seconds));
                        }
                    }
                }
                _ = tokio::time::sleep_until(pace.unwrap_or(now)), if pace.is_some() => {}
                _ = woken(&st.seat), if !pull => {}
                _ = tick.tick() => {
                    st.housekeeping(Instant::now(), self.transport.write_buffer_mut());
                }
                changed = stop.changed(), if st.draining.is_none() => {
                    let deadline = match changed {
                        Ok(()) => *stop.borrow_and_update(),
                        Err(_) => Some(Instant::now()),
                    };
                    if let Some(deadline) = deadline {
                        st.draining = Some(deadline);
                    }
                }
                _ = tokio::time::sleep_until(hold_until.unwrap_or(now)), if hold_until.is_some() && st.draining.is_none() => {
                    st.held = true;
                    st.draining = Some(Instant::now());
                }
            }
            // Write more submits while they are ready; if some were written, let the
            // submitters run once so that the flush carries a bigger batch.
            let wrote = st.fill(&jobs, self.transport.write_buffer_mut());
            if wrote > 0
                && st.window.len() >= COALESCE_MIN_OUTSTANDING
                && self.transport.write_buffer().len() < COALESCE_BYTES
            {
                tokio::task::yield_now().await;
                st.fill(&jobs, self.transport.write_buffer_mut());
            }
            // A permit not used in the turn that got it is given up, never kept for later.
            st.resend_permit = None;
            st.show_offer(&jobs, Instant::now());
            if st.draining.is_some() && st.unbinding.is_none() {
                st.maybe_unbind(Instant::now(), self.transport.write_buffer_mut());
            }
            if !self.transport.write_buffer().is_empty() {
                if let Err(e) = SinkExt::<&Pdu>::flush(&mut self.transport).await {
                    st.ended
                        .get_or_insert(LinkEnd::Failed(format!("write failed: {e}")));
                }
            }
            self.in_use.store(st.window.len() as u32, Ordering::Relaxed);
            if st.ended.is_some() {
                break;
            }
        }
        self.in_use.store(0, Ordering::Relaxed);
        st.offer_nothing();
        let end = st.ended.take().unwrap_or(LinkEnd::Closed);
        st.fail_all();
        ctx.slow_down.reset();
        // Submits queued but never written stay queued: another bind of the pool, or the
        // supervisor (NotBound while none is up, ShuttingDown at the stop), answers them.
        drop(jobs);
        let _ = SinkExt::<&Pdu>::close(&mut self.transport).await;
        end
    }
}

async fn wait_permit(permit: &mut Option<BoxFuture<'_, Permit>>) -> Permit {
    match permit {
        Some(p) => p.await,
        None => std::future::pending().await,
    }
}

async fn woken(seat: &Option<Seat>) {
    match seat {
        Some(seat) => seat.woken().await,
        None => std::future::pending().await,
    }
}

async fn recv(jobs: &Option<flume::Receiver<SubmitJob>>) -> Option<SubmitJob> {
    match jobs {
        Some(rx) => rx.recv_async().await.ok(),
        None => std::future::pending().await,
    }
}

impl State<'_> {
    /// Writes the resend that holds a gate permit, then queued submits (each came with its
    /// permit), within the pacer's rate, without waiting; returns how many were written.
    fn fill(&mut self, jobs: &Option<flume::Receiver<SubmitJob>>, buf: &mut BytesMut) -> usize {
        if self.unbinding.is_some() || (jobs.is_none() && self.resend_permit.is_none()) {
            return 0;
        }
        let mut written = 0;
        for _ in 0..WRITE_BATCH {
            let now = Instant::now();
            if self.wait_until(now).is_some() {
                break;
            }
            let accepting = self.draining.is_none() && self.has_room();
            let resend = match self.resend_permit.take() {
                Some(permit) if permit.usable(now) => self.ready.pop_front().map(|mut job| {
                    job.gate = permit;
                    job
                }),
                _ => None,
            };
            let job = match resend {
                Some(job) => job,
                None if accepting && self.may_take() => match jobs.as_ref().map(|j| j.try_recv()) {
                    Some(Ok(job)) => job,
                    _ => break,
                },
                None => break,
            };
            if self.submit(job, now, buf) {
                written += 1;
            }
        }
        written
    }

    fn write(&self, pdu: &Pdu, buf: &mut BytesMut) {
        match pdu.encode(buf) {
            Ok(()) => self
                .ctx
                .counters
                .pdu(Direction::Sent, pdu.command_id(), pdu.status),
            Err(e) => tracing::warn!(command = ?pdu.command_id(), error = %e, "cannot encode PDU"),
        }
    }

    /// Whether this link may take another submit: fewer than `session.window` outstanding,
    /// waiting for a resend or for a permit.
    fn has_room(&self) -> bool {
        self.window.len() + self.ready.len() + self.retries.len() < self.ctx.window
    }

    /// Free places of this link's window (the places [`State::has_room`] counts).
    fn free(&self) -> u32 {
        let used = self.window.len() + self.ready.len() + self.retries.len();
        u32::try_from(self.ctx.window.saturating_sub(used)).unwrap_or(u32::MAX)
    }

    /// Whether this link, able to write now, takes the next queued submit: no other bind of
    /// the pool has more free places, beyond the board's slack (a link outside a pool always
    /// takes).
    fn may_take(&self) -> bool {
        self.seat.as_ref().is_none_or(|s| s.may_take(self.free()))
    }

    /// Shows the board that this link takes nothing now.
    fn offer_nothing(&self) {
        if let Some(seat) = &self.seat {
            seat.decline();
        }
    }

    /// Shows the board what this link can take now: its free places, or nothing while it
    /// cannot write (draining, unbinding, full, paced or capped).
    fn show_offer(&mut self, jobs: &Option<flume::Receiver<SubmitJob>>, now: Instant) {
        if self.seat.is_none() {
            return;
        }
        let able = jobs.is_some()
            && self.unbinding.is_none()
            && self.draining.is_none()
            && self.wait_until(now).is_none();
        let offer = if able { self.free() } else { 0 };
        if let Some(seat) = &self.seat {
            seat.publish(offer);
        }
    }

    /// When the pacer or the per-bind cap lets the next submit go (`None`: now).
    fn wait_until(&mut self, now: Instant) -> Option<Instant> {
        let cap = self.cap.as_mut().and_then(|c| c.wait_until(now));
        match (self.pacer.wait_until(now), cap) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Writes `job` if its gate permit is usable now (`true`); otherwise it waits in `ready`
    /// for a new one.
    fn submit(&mut self, job: SubmitJob, now: Instant, buf: &mut BytesMut) -> bool {
        if job.gate.usable(now) || job.expired_at(now) {
            self.send_job(job, now, buf);
            true
        } else {
            self.ready.push_back(job);
            false
        }
    }

    fn send_job(&mut self, mut job: SubmitJob, now: Instant, buf: &mut BytesMut) {
        if job.expired_at(now) {
            job.expire();
            return;
        }
        if let (Some(expires), Body::SubmitSm(sm)) = (job.expires, &mut job.pdu.body) {
            sm.validity_period = time_left(expires, now);
        }
        let seq = self.window.allocate();
        job.pdu.sequence = seq;
        if let Err(e) = job.pdu.encode(buf) {
            job.finish(Err(SubmitError::Encode(e.to_string())));
            return;
        }
        self.ctx.counters.pdu(
            Direction::Sent,
            CommandId::SubmitSm,
            CommandStatus::ESME_ROK,
        );
        job.attempts += 1;
        job.gate = Permit::Needed;
        job.first_sent.get_or_insert(now);
        self.pacer.on_sent(now);
        if let Some(cap) = self.cap.as_mut() {
            cap.on_sent(now);
        }
        self.window.insert(seq, job, now);
    }

    fn on_frame(
        &mut self,
        frame: Option<Result<Decoded, crate::protocol::codec::CodecError>>,
        now: Instant,
        buf: &mut BytesMut,
    ) {
        let decoded = match frame {
            None => {
                self.ended.get_or_insert(LinkEnd::Closed);
                return;
            }
            Some(Err(e)) => {
                self.ended
                    .get_or_insert(LinkEnd::Failed(format!("read failed: {e}")));
                return;
            }
            Some(Ok(d)) => d,
        };
        self.heartbeat.on_read(now);
        let pdu = match decoded {
            Ok(pdu) => pdu,
            Err(invalid) => {
                let h = invalid.header;
                tracing::debug!(error = %invalid, "invalid PDU from the SMSC");
                if h.command_id & 0x8000_0000 == 0 {
                    self.write(&Pdu::generic_nack(h.sequence, invalid.reply_status()), buf);
                } else if !h.command_status.is_ok() {
                    // A response whose body is broken: its status still answers the request.
                    self.on_response(h.sequence, h.command_status, String::new(), now);
                } else if h.command_id == CommandId::SubmitSmResp.as_u32() {
                    // Accepted, but the message id cannot be read: accepted with an unknown id.
                    tracing::warn!(
                        seq = h.sequence,
                        "submit_sm_resp accepted with a malformed body"
                    );
                    self.on_response(h.sequence, CommandStatus::ESME_ROK, String::new(), now);
                } else {
                    self.on_response(h.sequence, CommandStatus::ESME_RSYSERR, String::new(), now);
                }
                return;
            }
        };
        self.ctx
            .counters
            .pdu(Direction::Received, pdu.command_id(), pdu.status);
        let seq = pdu.sequence;
        match pdu.body {
            Body::SubmitSmResp(r) => {
                let id = r.message_id.to_string_lossy().into_owned();
                self.on_response(seq, pdu.status, id, now);
            }
            Body::GenericNack => {
                if !self.heartbeat.on_response(seq) && !self.unbind_answered(seq) {
                    // A generic_nack never accepts a request, whatever its status says.
                    let status = if pdu.status.is_ok() {
                        CommandStatus::ESME_RSYSERR
                    } else {
                        pdu.status
                    };
                    self.on_response(seq, status, String::new(), now);
                }
            }
            Body::EnquireLinkResp => {
                self.heartbeat.on_response(seq);
            }
            Body::UnbindResp => {
                if self.unbind_answered(seq) {
                    self.ended.get_or_insert(if self.held {
                        LinkEnd::Held
                    } else {
                        LinkEnd::Unbound
                    });
                }
            }
            Body::EnquireLink => {
                self.write(&Pdu::new(seq, Body::EnquireLinkResp), buf);
            }
            Body::Unbind => {
                self.write(&Pdu::new(seq, Body::UnbindResp), buf);
                self.ended.get_or_insert(LinkEnd::UnbindBySmsc);
            }
            Body::DeliverSm(sm) if self.kind.can_receive() => {
                let responder = Responder::new(seq, false, self.out.clone());
                let inbound = Inbound::DeliverSm {
                    sm,
                    endpoint: self.endpoint,
                    responder,
                };
                self.hand_over(inbound);
            }
            Body::DataSm(sm) if self.kind.can_receive() => {
                let responder = Responder::new(seq, true, self.out.clone());
                let inbound = Inbound::DataSm {
                    sm,
                    endpoint: self.endpoint,
                    responder,
                };
                self.hand_over(inbound);
            }
            Body::AlertNotification(alert) => {
                self.hand_over(Inbound::AlertNotification {
                    alert,
                    endpoint: self.endpoint,
                });
            }
            Body::Outbind(_) => {
                tracing::info!("outbind received on a bound session; ignored");
            }
            body => {
                let request = Pdu::with_status(seq, pdu.status, body);
                if request.is_response() {
                    self.ctx.counters.unmatched_response();
                    tracing::debug!(command = ?request.command_id(), seq, "unexpected response");
                } else {
                    // A request an ESME does not serve (or deliver_sm on a transmitter).
                    let status = if matches!(request.body, Body::DeliverSm(_) | Body::DataSm(_)) {
                        CommandStatus::ESME_RINVBNDSTS
                    } else {
                        CommandStatus::ESME_RINVCMDID
                    };
                    let resp = request
                        .response(status)
                        .unwrap_or_else(|| Pdu::generic_nack(seq, status));
                    self.write(&resp, buf);
                }
            }
        }
    }

    /// Hands a request to the application without waiting: the link never stops reading
    /// for the pipeline. When the queue is full (or nobody reads it) the request is dropped,
    /// and its responder answers `ESME_RX_T_APPN`, so the SMSC sends it again later.
    fn hand_over(&self, inbound: Inbound) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.ctx.inbound.try_send(inbound) {
            tracing::debug!("receipt queue full: answered ESME_RX_T_APPN");
        }
    }

    fn unbind_answered(&mut self, seq: u32) -> bool {
        if self.unbinding.is_some_and(|(s, _)| s == seq) {
            self.ended.get_or_insert(if self.held {
                LinkEnd::Held
            } else {
                LinkEnd::Unbound
            });
            true
        } else {
            false
        }
    }

    fn on_response(&mut self, seq: u32, status: CommandStatus, message_id: String, now: Instant) {
        match self.window.take(seq) {
            Matched::Outstanding(o) => self.complete(o, status, message_id, now),
            Matched::Late(e) => {
                self.ctx.counters.late_response();
                let late = LateResponse {
                    sequence: seq,
                    status,
                    message_id,
                    latency: now.duration_since(e.sent_at),
                };
                tracing::info!(seq, %status, "late response");
                if self.ctx.late.try_send(late).is_err() {
                    tracing::warn!(seq, "late response dropped: nobody reads late responses");
                }
            }
            Matched::Unknown => {
                self.ctx.counters.unmatched_response();
                tracing::debug!(seq, %status, "response matches no request");
            }
        }
    }

    fn complete(
        &mut self,
        o: Outstanding<SubmitJob>,
        status: CommandStatus,
        message_id: String,
        now: Instant,
    ) {
        let job = o.payload;
        self.ctx.counters.latency(now.duration_since(o.sent_at));
        self.pacer.on_answer(o.sent_at);
        let class = classify(status);
        match class {
            StatusClass::Ok => {
                self.pacer.on_success(now, o.sent_at);
                self.record_slow_down();
                let latency = now.duration_since(job.first_sent.unwrap_or(o.sent_at));
                let outcome = SubmitOutcome {
                    status,
                    message_id,
                    sequence: job.pdu.sequence,
                    attempts: job.attempts,
                    latency,
                    endpoint: self.endpoint,
                    bind: self
                        .seat
                        .as_ref()
                        .map_or(0, |s| u32::try_from(s.index()).unwrap_or(u32::MAX)),
                };
                job.finish(Ok(outcome));
            }
            StatusClass::Throttled | StatusClass::QueueFull => {
                let retry = &self.ctx.retry;
                self.ctx.counters.throttled();
                if class == StatusClass::Throttled {
                    self.pacer.on_throttled(now, o.sent_at);
                } else {
                    let most = Duration::from_millis(retry.queue_full_pause_ms);
                    self.pacer.on_queue_full(now, o.sent_at, most);
                }
                self.record_slow_down();
                let mut job = job;
                job.throttled += 1;
                job.last_status = Some(status);
                // Flow control, not a fault of the message: resent as soon as the pacer
                // allows, within its validity, or else within the throttling budget.
                let budget = throttling_budget(retry);
                let first = job.first_sent.unwrap_or(o.sent_at);
                if job.expires.is_none() && now.duration_since(first) >= budget {
                    let attempts = job.attempts;
                    job.finish(Err(SubmitError::Rejected {
                        status,
                        class,
                        attempts,
                    }));
                } else if job.expired_at(now) {
                    job.expire();
                } else {
                    self.ctx.counters.retry();
                    self.ready.push_back(job);
                }
            }
            StatusClass::Retryable => {
                let retry = &self.ctx.retry;
                let mut job = job;
                job.last_status = Some(status);
                let counted = job.attempts.saturating_sub(job.throttled);
                let at = now + retry_delay(retry, counted);
                if counted >= retry.max_attempts.max(1) {
                    let attempts = job.attempts;
                    job.finish(Err(SubmitError::Rejected {
                        status,
                        class,
                        attempts,
                    }));
                } else if job.expired_at(at) {
                    job.expire();
                } else {
                    self.ctx.counters.retry();
                    self.retries.push((at, job));
                }
            }
            _ => {
                let attempts = job.attempts;
                job.finish(Err(SubmitError::Rejected {
                    status,
                    class,
                    attempts,
                }));
            }
        }
    }

    /// Hands the pacer's state to the meter (which logs entering and leaving).
    fn record_slow_down(&mut self) {
        let total = self.pacer.paused_total();
        let added = total.saturating_sub(self.paused_recorded);
        self.paused_recorded = total;
        self.ctx
            .slow_down
            .record(self.pacer.state(), added, Instant::now());
    }

    fn housekeeping(&mut self, now: Instant, buf: &mut BytesMut) {
        self.record_slow_down();
        // Retries waiting for the pacer whose validity ended are not sent.
        if self.ready.iter().any(|j| j.expired_at(now)) {
            for job in std::mem::take(&mut self.ready) {
                if job.expired_at(now) {
                    job.expire();
                } else {
                    self.ready.push_back(job);
                }
            }
        }
        for (sequence, o) in self.window.expire(now, |_| ()) {
            self.ctx.counters.response_timeout();
            o.payload
                .finish(Err(SubmitError::ResponseTimeout { sequence }));
        }
        if !self.retries.is_empty() {
            let mut i = 0;
            while i < self.retries.len() {
                if self.retries[i].0 <= now {
                    let (_, job) = self.retries.swap_remove(i);
                    self.ready.push_back(job);
                } else {
                    i += 1;
                }
            }
        }
        match self.heartbeat.poll(now) {
            Action::Wait => {}
            Action::EnquireLink => {
                let seq = self.window.allocate();
                self.write(&Pdu::new(seq, Body::EnquireLink), buf);
                self.heartbeat.on_enquire_link_sent(seq, now);
            }
            Action::Dead(d) => {
                self.ended.get_or_insert(LinkEnd::Dead(d));
            }
        }
        if let Some((_, deadline)) = self.unbinding {
            if now >= deadline {
                self.ended.get_or_insert(if self.held {
                    LinkEnd::Held
                } else {
                    LinkEnd::Unbound
                });
            }
        }
    }

    /// While draining: unbind once nothing is outstanding or the deadline has passed.
    fn maybe_unbind(&mut self, now: Instant, buf: &mut BytesMut) {
        let Some(deadline) = self.draining else {
            return;
        };
        let idle = self.window.is_empty() && self.retries.is_empty() && self.ready.is_empty();
        if idle || now >= deadline {
            let seq = self.window.allocate();
            self.write(&Pdu::new(seq, Body::Unbind), buf);
            let most = secs(self.ctx.session.enquire_link_timeout_seconds.max(1));
            let wait = deadline.saturating_duration_since(now).clamp(
                Duration::from_millis(500),
                most.max(Duration::from_millis(500)),
            );
            self.unbinding = Some((seq, now + wait));
        }
    }

    /// Hands every request back to its caller: the link is gone.
    fn fail_all(&mut self) {
        for (_, o) in self.window.drain() {
            o.payload.finish(Err(SubmitError::Disconnected {
                maybe_accepted: true,
            }));
        }
        for (_, job) in self.retries.drain(..) {
            job.finish(Err(SubmitError::Disconnected {
                maybe_accepted: false,
            }));
        }
        for job in self.ready.drain(..) {
            job.finish(Err(SubmitError::Disconnected {
                maybe_accepted: false,
            }));
        }
    }
}

/// How long a message without a validity is resent after throttling answers, from its
/// first send: `maxAttempts × maxDelayMs`.
fn throttling_budget(retry: &RetryConfig) -> Duration {
    Duration::from_millis(
        retry
            .max_delay_ms
            .max(retry.initial_delay_ms)
            .saturating_mul(u64::from(retry.max_attempts.max(1))),
    )
}

/// The relative validity_period of the time left until `expires` (whole seconds, rounded up,
/// at least one).
fn time_left(expires: Instant, now: Instant) -> COctetString<17> {
    let left = expires.saturating_duration_since(now);
    let secs = u32::try_from(left.as_secs() + u64::from(left.subsec_nanos() > 0))
        .unwrap_or(u32::MAX)
        .max(1);
    COctetString::try_from(relative_time(secs).as_str()).unwrap_or_default()
}

/// The delay before retry number `attempts` (1-based): initial × 2^(attempts-1), capped.
fn retry_delay(retry: &RetryConfig, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let ms = retry
        .initial_delay_ms
        .saturating_mul(1u64 << exp)
        .min(retry.max_delay_ms.max(retry.initial_delay_ms));
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let r = RetryConfig {
            max_attempts: 5,
            initial_delay_ms: 100,
            max_delay_ms: 350,
            queue_full_pause_ms: 1000,
        };
        let got: Vec<u128> = (1..=4).map(|a| retry_delay(&r, a).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 350, 350]);
        assert_eq!(throttling_budget(&r), Duration::from_millis(1750));
    }

    #[test]
    fn the_validity_sent_is_the_time_left() {
        let now = Instant::now();
        let left = |ms| time_left(now + Duration::from_millis(ms), now).to_string();
        assert_eq!(left(90_061_000), "000001010101000R");
        assert_eq!(left(59_001), "000000000100000R");
        assert_eq!(left(0), "000000000001000R");
    }
}
