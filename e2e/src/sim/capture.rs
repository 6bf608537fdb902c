//! Received submits kept for tests: a bounded list and live subscriptions.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::Bytes;
use connector::protocol::codec::{esm_class, CommandId, DataSm, SubmitSm, Tlvs};
use tokio::sync::mpsc;

/// How a segment of a long message is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentMark {
    /// A concatenation UDH (IEI 0x00, 8-bit reference, or 0x08, 16-bit reference).
    Udh,
    /// The sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs.
    Sar,
}

/// Which segment of a long message a submit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// How it was marked.
    pub mark: SegmentMark,
    /// The concatenation reference.
    pub reference: u16,
    /// Number of segments.
    pub total: u8,
    /// This segment's number (from 1).
    pub seq: u8,
}

/// One accepted submit_sm or data_sm as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSubmit {
    /// submit_sm or data_sm.
    pub command: CommandId,
    /// The id the simulator answered with.
    pub message_id: String,
    /// The system_id of the session.
    pub system_id: String,
    /// The connection it came on.
    pub session: u64,
    /// Source address text.
    pub source: String,
    /// Destination address text.
    pub dest: String,
    /// Source address TON and NPI.
    pub source_ton_npi: (u8, u8),
    /// Destination address TON and NPI.
    pub dest_ton_npi: (u8, u8),
    /// validity_period text (empty for data_sm or when absent).
    pub validity_period: String,
    /// priority_flag (0 for data_sm).
    pub priority: u8,
    /// esm_class.
    pub esm_class: u8,
    /// data_coding.
    pub data_coding: u8,
    /// registered_delivery.
    pub registered_delivery: u8,
    /// short_message (empty for data_sm).
    pub short_message: Bytes,
    /// The message_payload TLV, if any.
    pub payload: Option<Bytes>,
    /// Segment information, if this is part of a long message.
    pub segment: Option<Segment>,
    /// When it was received.
    pub received_at: SystemTime,
}

impl ReceivedSubmit {
    /// From a submit_sm.
    pub fn from_submit(sm: &SubmitSm, message_id: &str, system_id: &str, session: u64) -> Self {
        ReceivedSubmit {
            command: CommandId::SubmitSm,
            message_id: message_id.to_owned(),
            system_id: system_id.to_owned(),
            session,
            source: sm.source.addr.to_string(),
            dest: sm.dest.addr.to_string(),
            source_ton_npi: (sm.source.ton, sm.source.npi),
            dest_ton_npi: (sm.dest.ton, sm.dest.npi),
            validity_period: sm.validity_period.to_string(),
            priority: sm.priority_flag,
            esm_class: sm.esm_class,
            data_coding: sm.data_coding,
            registered_delivery: sm.registered_delivery,
            short_message: Bytes::copy_from_slice(&sm.short_message),
            payload: sm.tlvs.message_payload().map(|p| Bytes::copy_from_slice(p)),
            segment: segment_of(sm.esm_class, &sm.short_message, &sm.tlvs),
            received_at: SystemTime::now(),
        }
    }

    /// From a data_sm.
    pub fn from_data_sm(sm: &DataSm, message_id: &str, system_id: &str, session: u64) -> Self {
        let payload = sm.tlvs.message_payload().map(|p| Bytes::copy_from_slice(p));
        ReceivedSubmit {
            command: CommandId::DataSm,
            message_id: message_id.to_owned(),
            system_id: system_id.to_owned(),
            session,
            source: sm.source.addr.to_string(),
            dest: sm.dest.addr.to_string(),
            source_ton_npi: (sm.source.ton, sm.source.npi),
            dest_ton_npi: (sm.dest.ton, sm.dest.npi),
            validity_period: String::new(),
            priority: 0,
            esm_class: sm.esm_class,
            data_coding: sm.data_coding,
            registered_delivery: sm.registered_delivery,
            short_message: Bytes::new(),
            segment: segment_of(
                sm.esm_class,
                payload.as_deref().unwrap_or_default(),
                &sm.tlvs,
            ),
            payload,
            received_at: SystemTime::now(),
        }
    }

    /// The message octets: short_message, or message_payload if short_message is empty.
    pub fn message(&self) -> &[u8] {
        match &self.payload {
            Some(p) if self.short_message.is_empty() => p,
            _ => &self.short_message,
        }
    }
}

/// Finds concatenation information in a UDH or in SAR TLVs.
pub fn segment_of(esm: u8, message: &[u8], tlvs: &Tlvs) -> Option<Segment> {
    if let (Some(&reference), Some(&total), Some(&seq)) = (
        tlvs.sar_msg_ref_num(),
        tlvs.sar_total_segments(),
        tlvs.sar_segment_seqnum(),
    ) {
        return Some(Segment {
            mark: SegmentMark::Sar,
            reference,
            total,
            seq,
        });
    }
    if esm & esm_class::UDHI == 0 {
        return None;
    }
    let udh_len = usize::from(*message.first()?);
    let mut ies = message.get(1..=udh_len)?;
    while let [iei, len, rest @ ..] = ies {
        let len = usize::from(*len);
        let data = rest.get(..len)?;
        match (iei, data) {
            (0x00, &[r, total, seq]) => {
                return Some(Segment {
                    mark: SegmentMark::Udh,
                    reference: u16::from(r),
                    total,
                    seq,
                })
            }
            (0x08, &[hi, lo, total, seq]) => {
                return Some(Segment {
                    mark: SegmentMark::Udh,
                    reference: u16::from_be_bytes([hi, lo]),
                    total,
                    seq,
                })
            }
            _ => ies = &rest[len..],
        }
    }
    None
}

#[derive(Debug, Default)]
struct Inner {
    list: VecDeque<ReceivedSubmit>,
    subscribers: Vec<mpsc::UnboundedSender<ReceivedSubmit>>,
}

/// The captured submits.
#[derive(Debug)]
pub struct Capture {
    limit: usize,
    inner: Mutex<Inner>,
}

impl Capture {
    /// Keeps at most `limit` submits.
    pub fn new(limit: usize) -> Self {
        Capture {
            limit,
            inner: Mutex::default(),
        }
    }

    /// Records one submit.
    pub fn push(&self, submit: ReceivedSubmit) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.subscribers.retain(|s| s.send(submit.clone()).is_ok());
        if self.limit == 0 {
            return;
        }
        if inner.list.len() >= self.limit {
            inner.list.pop_front();
        }
        inner.list.push_back(submit);
    }

    /// A copy of the kept submits, oldest first.
    pub fn list(&self) -> Vec<ReceivedSubmit> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.list.iter().cloned().collect()
    }

    /// Number of kept submits.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .list
            .len()
    }

    /// Whether none are kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every submit accepted from now on.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<ReceivedSubmit> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .subscribers
            .push(tx);
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector::protocol::codec::Tlv;

    #[test]
    fn finds_udh_and_sar_segments() {
        let udh8 = [5, 0x00, 3, 0x2A, 3, 2, b'x'];
        let s = segment_of(0x40, &udh8, &Tlvs::new()).unwrap();
        assert_eq!(
            (s.mark, s.reference, s.total, s.seq),
            (SegmentMark::Udh, 0x2A, 3, 2)
        );
        let udh16 = [6, 0x08, 4, 0x01, 0x02, 2, 1];
        let s = segment_of(0x40, &udh16, &Tlvs::new()).unwrap();
        assert_eq!(s.reference, 0x0102);
        let sar = Tlvs::new()
            .with(Tlv::SarMsgRefNum(7))
            .with(Tlv::SarTotalSegments(2))
            .with(Tlv::SarSegmentSeqnum(2));
        let s = segment_of(0, b"abc", &sar).unwrap();
        assert_eq!((s.mark, s.reference, s.seq), (SegmentMark::Sar, 7, 2));
        assert_eq!(segment_of(0, &udh8, &Tlvs::new()), None);
        assert_eq!(segment_of(0x40, &[9, 0], &Tlvs::new()), None);
    }
}
