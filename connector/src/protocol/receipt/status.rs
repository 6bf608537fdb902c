//! Receipt states and the platform statuses of the dlr event (contracts README section 2).

use std::fmt;

/// Status of one segment, as published in the event's `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Accepted by the operator (not final).
    Accepted,
    /// On its way (not final).
    Enroute,
    /// Delivered to the handset.
    Delivered,
    /// Could not be delivered.
    Undelivered,
    /// Validity period ran out.
    Expired,
    /// Deleted by the operator.
    Deleted,
    /// Refused by the operator.
    Rejected,
    /// In an unknown state.
    Unknown,
}

impl DeliveryStatus {
    /// The status of a receipt's `stat` value, compared without letter case; the SMPP short
    /// forms and their spelled-out variants (`DELIVERED`, `UNDELIVERABLE`, ...) are known.
    pub fn from_stat(stat: &str) -> Option<Self> {
        let upper = stat.trim().to_ascii_uppercase();
        Some(match upper.as_str() {
            "DELIVRD" | "DELIVERED" | "DELIVER" => DeliveryStatus::Delivered,
            "UNDELIV" | "UNDELIVERABLE" | "UNDELIVERED" | "UNDELIVRD" => {
                DeliveryStatus::Undelivered
            }
            "EXPIRED" => DeliveryStatus::Expired,
            "DELETED" => DeliveryStatus::Deleted,
            "REJECTD" | "REJECTED" => DeliveryStatus::Rejected,
            "ACCEPTD" | "ACCEPTED" => DeliveryStatus::Accepted,
            "ENROUTE" => DeliveryStatus::Enroute,
            "UNKNOWN" => DeliveryStatus::Unknown,
            _ => return None,
        })
    }

    /// The status of a `message_state` TLV value (SMPP 3.4 §5.2.28, 1 to 8).
    pub fn from_message_state(state: u8) -> Option<Self> {
        Some(match state {
            1 => DeliveryStatus::Enroute,
            2 => DeliveryStatus::Delivered,
            3 => DeliveryStatus::Expired,
            4 => DeliveryStatus::Deleted,
            5 => DeliveryStatus::Undelivered,
            6 => DeliveryStatus::Accepted,
            7 => DeliveryStatus::Unknown,
            8 => DeliveryStatus::Rejected,
            _ => return None,
        })
    }

    /// The platform name (`DELIVERED`, `UNDELIVERED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Accepted => "ACCEPTED",
            DeliveryStatus::Enroute => "ENROUTE",
            DeliveryStatus::Delivered => "DELIVERED",
            DeliveryStatus::Undelivered => "UNDELIVERED",
            DeliveryStatus::Expired => "EXPIRED",
            DeliveryStatus::Deleted => "DELETED",
            DeliveryStatus::Rejected => "REJECTED",
            DeliveryStatus::Unknown => "UNKNOWN",
        }
    }

    /// The SMPP receipt `stat` short form (`DELIVRD`, `UNDELIV`, ...).
    pub fn smpp_stat(self) -> &'static str {
        match self {
            DeliveryStatus::Accepted => "ACCEPTD",
            DeliveryStatus::Enroute => "ENROUTE",
            DeliveryStatus::Delivered => "DELIVRD",
            DeliveryStatus::Undelivered => "UNDELIV",
            DeliveryStatus::Expired => "EXPIRED",
            DeliveryStatus::Deleted => "DELETED",
            DeliveryStatus::Rejected => "REJECTD",
            DeliveryStatus::Unknown => "UNKNOWN",
        }
    }

    /// Whether no later status is expected (all but ACCEPTED and ENROUTE).
    pub fn is_final(self) -> bool {
        !matches!(self, DeliveryStatus::Accepted | DeliveryStatus::Enroute)
    }

    /// Rank among final outcomes: higher is worse (see [`message_status`]).
    fn severity(self) -> u8 {
        match self {
            DeliveryStatus::Delivered | DeliveryStatus::Accepted | DeliveryStatus::Enroute => 0,
            DeliveryStatus::Unknown => 1,
            DeliveryStatus::Deleted => 2,
            DeliveryStatus::Expired => 3,
            DeliveryStatus::Undelivered => 4,
            DeliveryStatus::Rejected => 5,
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Status of a whole message over its segments, as published in `messageStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    /// Some segment has no final status yet.
    Pending,
    /// Every segment delivered.
    Delivered,
    /// Worst final status: undelivered.
    Undelivered,
    /// Worst final status: expired.
    Expired,
    /// Worst final status: deleted.
    Deleted,
    /// Worst final status: rejected.
    Rejected,
    /// Worst final status: unknown.
    Unknown,
}

impl MessageStatus {
    /// The platform name (`PENDING`, `DELIVERED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "PENDING",
            MessageStatus::Delivered => "DELIVERED",
            MessageStatus::Undelivered => "UNDELIVERED",
            MessageStatus::Expired => "EXPIRED",
            MessageStatus::Deleted => "DELETED",
            MessageStatus::Rejected => "REJECTED",
            MessageStatus::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The latest known state of one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentState {
    /// Its status.
    pub status: DeliveryStatus,
    /// Whether that status is final for the segment.
    pub is_final: bool,
}

/// The status of a message from the latest state of each of its segments (`None`: nothing
/// heard yet). `PENDING` until every segment is final; `DELIVERED` when all are delivered;
/// otherwise the worst final status, from worst to least bad:
/// REJECTED > UNDELIVERED > EXPIRED > DELETED > UNKNOWN. A message without segments is pending.
pub fn message_status<I>(segments: I) -> MessageStatus
where
    I: IntoIterator<Item = Option<SegmentState>>,
{
    let mut worst: Option<DeliveryStatus> = None;
    let mut any = false;
    for segment in segments {
        any = true;
        let Some(state) = segment else {
            return MessageStatus::Pending;
        };
        if !state.is_final || !state.status.is_final() {
            return MessageStatus::Pending;
        }
        if worst.is_none_or(|w| state.status.severity() > w.severity()) {
            worst = Some(state.status);
        }
    }
    match (any, worst) {
        (false, _) | (_, None) => MessageStatus::Pending,
        (true, Some(status)) => match status {
            DeliveryStatus::Delivered => MessageStatus::Delivered,
            DeliveryStatus::Undelivered => MessageStatus::Undelivered,
            DeliveryStatus::Expired => MessageStatus::Expired,
            DeliveryStatus::Deleted => MessageStatus::Deleted,
            DeliveryStatus::Rejected => MessageStatus::Rejected,
            DeliveryStatus::Unknown => MessageStatus::Unknown,
            DeliveryStatus::Accepted | DeliveryStatus::Enroute => MessageStatus::Pending,
        },
    }
}
