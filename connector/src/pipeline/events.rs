//! The events the connector publishes: `sms.dlr.inbound` delivery / submit events (contract §2,
//! [`DlrEvent`]) and `operator.health` session events (contract §3, [`OperatorHealth`]), their
//! builders, and [`EventPublisher`], which publishes to JetStream with `Nats-Msg-Id` set to the
//! event id and waits for the stream's acknowledgement.
//!
//! Event ids (the JetStream de-duplication key, see [`event_id`]):
//! - operator receipt, correlated or not: `{operatorId}:{smscMessageId}:{stat}`, with
//!   `:intermediate` for an intermediate notification and `:backup` for a receipt of the
//!   backup's own id space (`receipts.idScope: endpoint`, see [`event_id::of_id_space`]);
//! - rejected command: `{operatorId}:{messageId}:REJECTED`;
//! - connector event about one segment: `{operatorId}:{messageId}:{segmentIndex}:{STATUS}`.

use std::collections::BTreeMap;

use async_nats::jetstream::{self, context::PublishAckFuture};
use async_nats::HeaderMap;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::pipeline::command::Rejection;

/// Event ids: the JetStream `Nats-Msg-Id`, so that the same event published twice is stored once.
pub mod event_id {
    /// A receipt from the operator: `{operatorId}:{smscMessageId}:{stat}`.
    pub fn receipt(operator_id: &str, smsc_message_id: &str, stat: &str) -> String {
        format!("{operator_id}:{smsc_message_id}:{stat}")
    }

    /// A receipt that cannot be read: `{operatorId}:unreadable:{digest}`, the digest (FNV-1a,
    /// 64 bits, hex) of its PDU's receipt fields, so that the SMSC's retries of it are one
    /// event.
    pub fn unreadable_receipt(operator_id: &str, fields: &[&[u8]]) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for field in fields {
            for b in field.iter().chain(&[0xff]) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{operator_id}:unreadable:{h:016x}")
    }

    /// An intermediate delivery notification: `{operatorId}:{smscMessageId}:{stat}:intermediate`
    /// (the final receipt with the same `stat` is another event).
    pub fn intermediate_notification(
        operator_id: &str,
        smsc_message_id: &str,
        stat: &str,
    ) -> String {
        format!("{operator_id}:{smsc_message_id}:{stat}:intermediate")
    }

    /// `id` as the event id of a receipt from the id space of `endpoint` (`None`: primary and
    /// backup share one): the backup's receipts end in `:backup`, so that the primary's and
    /// the backup's receipts of two messages with the same SMSC id are two events, not one
    /// that JetStream de-duplicates.
    pub fn of_id_space(mut id: String, endpoint: Option<super::EndpointRole>) -> String {
        if endpoint == Some(super::EndpointRole::Backup) {
            id.push_str(":backup");
        }
        id
    }

    /// A command rejected by validation: `{operatorId}:{messageId}:REJECTED`.
    pub fn rejected_command(operator_id: &str, message_id: &str) -> String {
        format!("{operator_id}:{message_id}:REJECTED")
    }

    /// A connector event about one segment: `{operatorId}:{messageId}:{segmentIndex}:{STATUS}`.
    pub fn segment(
        operator_id: &str,
        message_id: &str,
        segment_index: u16,
        status: super::DeliveryStatus,
    ) -> String {
        format!(
            "{operator_id}:{message_id}:{segment_index}:{}",
            status.as_str()
        )
    }
}

pub use crate::protocol::receipt::{
    aggregate_status, parse_status, status_of_stat, DeliveryStatus, MessageStatus, ReceiptFacts,
    Segment,
};
pub use crate::session::{BindMode, EndpointRole, HealthState};
pub use crate::store::CorrelatedMessage;

/// Who made the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    /// A receipt from the MNO.
    Operator,
    /// The connector itself.
    Connector,
}

/// A `sms.dlr.inbound` event (contract §2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DlrEvent {
    /// De-duplication id, see [`event_id`].
    pub event_id: String,
    /// Platform message id; `None` only for an uncorrelated receipt or an unreadable command.
    pub message_id: Option<String>,
    /// Operator id.
    pub operator_id: String,
    /// Operator's message id.
    pub smsc_message_id: Option<String>,
    /// The segment this event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
    /// Status of the segment.
    pub status: DeliveryStatus,
    /// Whether `status` is final for the segment.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Status of the whole message, when known.
    pub message_status: Option<MessageStatus>,
    /// `operator` or `connector`.
    pub source: EventSource,
    /// SMPP command_status, for connector events about a submit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_status: Option<u32>,
    /// Why, for connector events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Receipt `stat`.
    pub stat: Option<String>,
    /// Receipt `err`.
    pub err: Option<String>,
    /// network_error_code TLV (hex of its three octets).
    pub network_error_code: Option<String>,
    /// Receipt `submit date`.
    pub submit_date: Option<DateTime<Utc>>,
    /// Receipt `done date`.
    pub done_date: Option<DateTime<Utc>>,
    /// When the connector received or made the event.
    pub received_at: DateTime<Utc>,
    /// The command's metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl DlrEvent {
    /// An event with only its name, operator, status, source and time; every optional field
    /// empty. The constructors below fill in what their kind carries.
    fn blank(
        event_id: String,
        operator_id: &str,
        status: DeliveryStatus,
        source: EventSource,
        received_at: DateTime<Utc>,
    ) -> Self {
        Self {
            event_id,
            message_id: None,
            operator_id: operator_id.to_string(),
            smsc_message_id: None,
            segment: None,
            status,
            is_final: status.is_final(),
            message_status: None,
            source,
            command_status: None,
            reason: None,
            stat: None,
            err: None,
            network_error_code: None,
            submit_date: None,
            done_date: None,
            received_at,
            metadata: BTreeMap::new(),
        }
    }

    /// The event of an operator receipt of the id space of `id_space` (see
    /// [`event_id::of_id_space`]); `correlated` is `None` when no submit matched it within
    /// the waiting time (then `messageId` is null).
    pub fn receipt(
        operator_id: &str,
        facts: &ReceiptFacts,
        correlated: Option<&CorrelatedMessage>,
        id_space: Option<EndpointRole>,
        received_at: DateTime<Utc>,
    ) -> Self {
        let status = facts.status;
        // A correlated receipt is named by its segment's SMSC id, so that the event id of one
        // segment's receipt is the same whatever form the operator wrote the id in.
        let smsc_message_id = correlated
            .and_then(|c| c.smsc_message_id.as_deref())
            .unwrap_or(&facts.smsc_message_id);
        let event_id = event_id::of_id_space(
            if facts.intermediate {
                event_id::intermediate_notification(operator_id, smsc_message_id, &facts.stat)
            } else {
                event_id::receipt(operator_id, smsc_message_id, &facts.stat)
            },
            id_space,
        );
        Self {
            message_id: correlated.map(|c| c.message_id.clone()),
            smsc_message_id: Some(smsc_message_id.to_string()),
            segment: correlated.map(|c| c.segment),
            is_final: facts.is_final(),
            message_status: correlated.map(|c| c.message_status),
            stat: Some(facts.stat.clone()),
            err: facts.err.clone(),
            network_error_code: facts.network_error_code.clone(),
            submit_date: facts.submit_date,
            done_date: facts.done_date,
            metadata: correlated.map(|c| c.metadata.clone()).unwrap_or_default(),
            ..Self::blank(
                event_id,
                operator_id,
                status,
                EventSource::Operator,
                received_at,
            )
        }
    }

    /// The connector's EXPIRED event of a segment whose validity ended before the SMSC took it.
    pub fn expired_segment(
        operator_id: &str,
        message_id: &str,
        segment: Segment,
        metadata: &BTreeMap<String, String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self::segment_outcome(
            operator_id,
            message_id,
            segment,
            DeliveryStatus::Expired,
            None,
            None,
            Some("validity period ended before the operator accepted the message".into()),
            metadata,
            at,
        )
    }

    /// The event of a deliver_sm that is a receipt but cannot be read (`reason` says why):
    /// UNKNOWN, uncorrelated, named by [`event_id::unreadable_receipt`] of `fields` in the id
    /// space of `id_space`.
    pub fn unreadable_receipt(
        operator_id: &str,
        smsc_message_id: Option<&str>,
        fields: &[&[u8]],
        id_space: Option<EndpointRole>,
        reason: String,
        received_at: DateTime<Utc>,
    ) -> Self {
        Self {
            smsc_message_id: smsc_message_id.map(|id| id.replace('\0', "")),
            reason: Some(reason),
            ..Self::blank(
                event_id::of_id_space(event_id::unreadable_receipt(operator_id, fields), id_space),
                operator_id,
                DeliveryStatus::Unknown,
                EventSource::Operator,
                received_at,
            )
        }
    }

    /// The REJECTED event of a command that failed validation. `fallback_id` names the event
    /// when the command has no usable `messageId` (for example its JetStream sequence).
    pub fn rejected_command(
        operator_id: &str,
        rejection: &Rejection,
        fallback_id: &str,
        received_at: DateTime<Utc>,
    ) -> Self {
        let id = rejection.message_id.as_deref().unwrap_or(fallback_id);
        Self {
            message_id: rejection.message_id.clone(),
            ..Self::rejected_message(
                operator_id,
                id,
                rejection.reason.to_string(),
                &rejection.metadata,
                received_at,
            )
        }
    }

    /// The REJECTED event of a valid command that cannot be sent as asked (for example a text
    /// its forced encoding cannot carry): `{operatorId}:{messageId}:REJECTED`.
    pub fn rejected_message(
        operator_id: &str,
        message_id: &str,
        reason: String,
        metadata: &BTreeMap<String, String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            message_id: Some(message_id.to_string()),
            message_status: Some(MessageStatus::Rejected),
            reason: Some(reason),
            metadata: metadata.clone(),
            ..Self::blank(
                event_id::rejected_command(operator_id, message_id),
                operator_id,
                DeliveryStatus::Rejected,
                EventSource::Connector,
                at,
            )
        }
    }

    /// A connector event about one submitted segment: ACCEPTED (submit_sm_resp ESME_ROK, when
    /// configured), REJECTED (a permanent error, or retries exhausted) or EXPIRED (validity ended
    /// in the connector's care).
    #[allow(clippy::too_many_arguments)]
    pub fn segment_outcome(
        operator_id: &str,
        message_id: &str,
        segment: Segment,
        status: DeliveryStatus,
        smsc_message_id: Option<&str>,
        command_status: Option<u32>,
        reason: Option<String>,
        metadata: &BTreeMap<String, String>,
        at: DateTime<Utc>,
    ) -> Self {
        let message_status = match status {
            DeliveryStatus::Rejected => Some(MessageStatus::Rejected),
            DeliveryStatus::Expired => Some(MessageStatus::Expired),
            _ => Some(MessageStatus::Pending),
        };
        Self {
            message_id: Some(message_id.to_string()),
            smsc_message_id: smsc_message_id.map(str::to_string),
            segment: Some(segment),
            message_status,
            command_status,
            reason,
            metadata: metadata.clone(),
            ..Self::blank(
                event_id::segment(operator_id, message_id, segment.index, status),
                operator_id,
                status,
                EventSource::Connector,
                at,
            )
        }
    }
}

/// The contract's spelling of a bound session's mode in `operator.health` (`bindMode`).
pub mod health_bind_mode {
    use super::BindMode;
    use serde::{Deserialize, Deserializer, Serializer};

    /// `transceiver`, `transmitter+receiver`, or null (`auto` is never a mode in use).
    pub fn serialize<S: Serializer>(mode: &Option<BindMode>, s: S) -> Result<S::Ok, S::Error> {
        match mode {
            Some(BindMode::Transceiver) => s.serialize_str("transceiver"),
            Some(BindMode::TransmitterReceiver) => s.serialize_str("transmitter+receiver"),
            Some(BindMode::Auto) | None => s.serialize_none(),
        }
    }

    /// The inverse of [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BindMode>, D::Error> {
        match Option::<String>::deserialize(d)?.as_deref() {
            None => Ok(None),
            Some("transceiver") => Ok(Some(BindMode::Transceiver)),
            Some("transmitter+receiver") => Ok(Some(BindMode::TransmitterReceiver)),
            Some(other) => Err(serde::de::Error::unknown_variant(
                other,
                &["transceiver", "transmitter+receiver"],
            )),
        }
    }
}

/// An `operator.health` event (contract §3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorHealth {
    /// Operator id.
    pub operator_id: String,
    /// Session state.
    pub state: HealthState,
    /// Endpoint in use; `None` when unbound.
    pub endpoint: Option<EndpointRole>,
    /// `host:port` of the endpoint in use.
    pub address: Option<String>,
    /// Bind mode in use, spelt `transceiver` / `transmitter+receiver` ([`health_bind_mode`]).
    #[serde(with = "health_bind_mode")]
    pub bind_mode: Option<BindMode>,
    /// Why the state changed.
    pub reason: Option<String>,
    /// Name of this connector instance (the pod name).
    pub connector: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl OperatorHealth {
    /// Bound on `endpoint` (BOUND on the primary, FAILBACK on the backup).
    pub fn bound(
        operator_id: &str,
        endpoint: EndpointRole,
        address: &str,
        bind_mode: BindMode,
        reason: &str,
        connector: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            operator_id: operator_id.to_string(),
            state: match endpoint {
                EndpointRole::Primary => HealthState::Bound,
                EndpointRole::Backup => HealthState::Failback,
            },
            endpoint: Some(endpoint),
            address: Some(address.to_string()),
            bind_mode: Some(bind_mode),
            reason: Some(reason.to_string()),
            connector: Some(connector.to_string()),
            at,
        }
    }

    /// No usable session.
    pub fn unbound(operator_id: &str, reason: &str, connector: &str, at: DateTime<Utc>) -> Self {
        Self {
            operator_id: operator_id.to_string(),
            state: HealthState::Unbound,
            endpoint: None,
            address: None,
            bind_mode: None,
            reason: Some(reason.to_string()),
            connector: Some(connector.to_string()),
            at,
        }
    }
}

/// Publishing an event failed; the caller retries or answers with a temporary error.
#[derive(Debug, thiserror::Error)]
pub enum PublishEventError {
    /// The event could not be serialised.
    #[error("cannot serialise event: {0}")]
    Serialise(#[from] serde_json::Error),
    /// The publish could not be sent.
    #[error("publish failed: {0}")]
    Publish(#[from] async_nats::jetstream::context::PublishError),
}

/// Publishes events to JetStream with `Nats-Msg-Id` and waits for the acknowledgement.
#[derive(Clone)]
pub struct EventPublisher {
    js: jetstream::Context,
    dlr_subject: String,
    health_subject: String,
}

impl EventPublisher {
    /// A publisher on the subjects of the configuration's `nats` section.
    pub fn from_config(js: jetstream::Context, c: &crds::config::NatsConfig) -> Self {
        Self::new(js, &c.dlr_subject, &c.health_subject)
    }

    /// A publisher on the given subjects (`nats.dlrSubject`, `nats.healthSubject`).
    pub fn new(js: jetstream::Context, dlr_subject: &str, health_subject: &str) -> Self {
        Self {
            js,
            dlr_subject: dlr_subject.to_string(),
            health_subject: health_subject.to_string(),
        }
    }

    /// Sends a DLR event and returns the acknowledgement to await (so that many can be in
    /// flight at once). The current span's trace context goes in its `traceparent` header.
    pub async fn send_dlr(&self, event: &DlrEvent) -> Result<PublishAckFuture, PublishEventError> {
        let payload = Bytes::from(serde_json::to_vec(event)?);
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, event.event_id.as_str());
        crate::pipeline::trace::inject_current(&mut headers);
        Ok(self
            .js
            .publish_with_headers(self.dlr_subject.clone(), headers, payload)
            .await?)
    }

    /// Publishes a DLR event and waits until the stream stored it (or had it already: a
    /// duplicate `Nats-Msg-Id` is success).
    pub async fn publish_dlr(
        &self,
        event: &DlrEvent,
    ) -> Result<jetstream::publish::PublishAck, PublishEventError> {
        Ok(self.send_dlr(event).await?.await?)
    }

    /// Publishes a health event and waits for the acknowledgement.
    pub async fn publish_health(
        &self,
        event: &OperatorHealth,
    ) -> Result<jetstream::publish::PublishAck, PublishEventError> {
        let payload = Bytes::from(serde_json::to_vec(event)?);
        Ok(self
            .js
            .publish(self.health_subject.clone(), payload)
            .await?
            .await?)
    }
}

#[cfg(test)]
mod tests;
