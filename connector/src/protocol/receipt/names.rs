//! The contract's names of the statuses (`DELIVERED`, `PENDING`, ...), their serde spelling,
//! and the aggregate status of a message from its segments.

use super::{message_status, DeliveryStatus, MessageStatus, SegmentState};

const DELIVERY_STATUSES: [DeliveryStatus; 8] = [
    DeliveryStatus::Accepted,
    DeliveryStatus::Enroute,
    DeliveryStatus::Delivered,
    DeliveryStatus::Undelivered,
    DeliveryStatus::Expired,
    DeliveryStatus::Deleted,
    DeliveryStatus::Rejected,
    DeliveryStatus::Unknown,
];

const MESSAGE_STATUSES: [MessageStatus; 7] = [
    MessageStatus::Pending,
    MessageStatus::Delivered,
    MessageStatus::Undelivered,
    MessageStatus::Expired,
    MessageStatus::Deleted,
    MessageStatus::Rejected,
    MessageStatus::Unknown,
];

/// The status of a receipt's `stat` (see `receipt::DeliveryStatus::from_stat`); UNKNOWN when
/// the value is not recognised.
pub fn status_of_stat(stat: &str) -> DeliveryStatus {
    DeliveryStatus::from_stat(stat).unwrap_or(DeliveryStatus::Unknown)
}

/// The contract's status named `name` (`DELIVERED`, ...), exactly.
pub fn parse_status(name: &str) -> Option<DeliveryStatus> {
    DELIVERY_STATUSES.into_iter().find(|s| s.as_str() == name)
}

/// Aggregates the latest status of each of `segment_count` segments (`None`: nothing heard
/// yet; missing entries count as `None`), as `receipt::message_status` defines it.
pub fn aggregate_status(segment_count: u16, statuses: &[Option<DeliveryStatus>]) -> MessageStatus {
    let mut states: Vec<Option<SegmentState>> = statuses
        .iter()
        .map(|s| {
            s.map(|status| SegmentState {
                status,
                is_final: status.is_final(),
            })
        })
        .collect();
    if states.len() < usize::from(segment_count) {
        states.resize(usize::from(segment_count), None);
    }
    message_status(states)
}

/// Serde for the contract's spellings of the receipt module's status types.
mod status_serde {
    use super::*;
    use serde::de::Error as _;
    use serde::{Deserialize, Serialize};
    use serde::{Deserializer, Serializer};

    impl Serialize for DeliveryStatus {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(self.as_str())
        }
    }

    impl<'de> Deserialize<'de> for DeliveryStatus {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let name = String::deserialize(d)?;
            parse_status(&name).ok_or_else(|| D::Error::custom(format!("unknown status {name:?}")))
        }
    }

    impl Serialize for MessageStatus {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(self.as_str())
        }
    }

    impl<'de> Deserialize<'de> for MessageStatus {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let name = String::deserialize(d)?;
            MESSAGE_STATUSES
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| D::Error::custom(format!("unknown message status {name:?}")))
        }
    }
}
