//! The bind exchange on a fresh connection, and how a refusal is classed (fall back to
//! transmitter + receiver, credentials refused, or another failure).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::time::Instant;

use super::connection::Transport;
use super::credentials::SmppCredentials;
use crate::protocol::codec::{
    Address, Bind, Body, COctetString, CodecError, CommandStatus, Pdu, INTERFACE_VERSION_34,
};
use crds::config::BindConfig;

/// Which bind PDU to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindKind {
    /// bind_transceiver.
    Transceiver,
    /// bind_transmitter.
    Transmitter,
    /// bind_receiver.
    Receiver,
}

impl BindKind {
    /// Whether submits may be sent on a connection bound this way.
    pub fn can_send(self) -> bool {
        matches!(self, BindKind::Transceiver | BindKind::Transmitter)
    }

    /// Whether deliver_sm may arrive on a connection bound this way.
    pub fn can_receive(self) -> bool {
        matches!(self, BindKind::Transceiver | BindKind::Receiver)
    }
}

/// What the SMSC said in a successful bind response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindAccepted {
    /// The SMSC's system_id.
    pub smsc_system_id: String,
    /// The SMSC's sc_interface_version, if sent (absent means 3.3 or earlier per 3.4).
    pub sc_interface_version: Option<u8>,
}

/// Why a bind failed.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The SMSC refused the bind with `status` (`nack`: it answered with generic_nack).
    #[error("{kind:?} bind refused with {status}{}", if *.nack { " (generic_nack)" } else { "" })]
    Refused {
        /// The bind sent.
        kind: BindKind,
        /// The command_status.
        status: CommandStatus,
        /// The answer was a generic_nack.
        nack: bool,
    },
    /// The credentials cannot be encoded (too long, or containing NUL).
    #[error("credentials cannot be sent: {0}")]
    InvalidCredentials(String),
    /// No bind response within the bind timeout.
    #[error("no bind response within {0:?}")]
    Timeout(Duration),
    /// The SMSC closed the connection (or sent unbind) before answering.
    #[error("connection closed during bind")]
    Closed,
    /// Reading or writing failed.
    #[error("bind I/O: {0}")]
    Codec(#[from] CodecError),
}

/// How a refused bind is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The SMSC does not accept transceiver binds: fall back to transmitter + receiver.
    TransceiverUnsupported,
    /// The SMSC refused the credentials.
    Credentials,
    /// Anything else: back off and retry.
    Other,
}

/// Classes a refused bind; `fallback_statuses` are the configured extra fallback triggers.
pub fn classify_refusal(
    kind: BindKind,
    status: CommandStatus,
    nack: bool,
    fallback_statuses: &[u32],
) -> Refusal {
    if status == CommandStatus::ESME_RINVPASWD || status == CommandStatus::ESME_RINVSYSID {
        return Refusal::Credentials;
    }
    let fallback = nack
        || status == CommandStatus::ESME_RINVCMDID
        || status == CommandStatus::ESME_RINVBNDSTS
        || fallback_statuses.contains(&status.0);
    if kind == BindKind::Transceiver && fallback {
        Refusal::TransceiverUnsupported
    } else {
        Refusal::Other
    }
}

/// Builds the bind body from credentials and configuration.
pub fn bind_body(creds: &SmppCredentials, cfg: &BindConfig) -> Result<Bind, BindError> {
    let bad = |field: &str, e: crate::protocol::codec::COctetStringError| {
        BindError::InvalidCredentials(format!("{field}: {e}"))
    };
    let system_type = creds.system_type.as_deref().unwrap_or(&cfg.system_type);
    Ok(Bind {
        system_id: COctetString::new(creds.system_id.clone().into_bytes())
            .map_err(|e| bad("system_id", e))?,
        password: COctetString::new(creds.password.clone().into_bytes())
            .map_err(|e| bad("password", e))?,
        system_type: COctetString::new(system_type.as_bytes().to_vec())
            .map_err(|e| bad("system_type", e))?,
        interface_version: INTERFACE_VERSION_34,
        address_range: Address {
            ton: 0,
            npi: 0,
            addr: COctetString::new(cfg.address_range.as_bytes().to_vec())
                .map_err(|e| bad("address_range", e))?,
        },
    })
}

/// Sends a bind of `kind` with sequence number `seq` and waits for its response.
///
/// PDUs that arrive after the bind response stay buffered in `transport` for the session.
/// An enquire_link before the response is answered; other requests get `ESME_RINVBNDSTS`.
pub async fn bind(
    transport: &mut Transport,
    kind: BindKind,
    body: Bind,
    seq: u32,
    timeout: Duration,
) -> Result<BindAccepted, BindError> {
    let pdu = match kind {
        BindKind::Transceiver => Pdu::new(seq, Body::BindTransceiver(body)),
        BindKind::Transmitter => Pdu::new(seq, Body::BindTransmitter(body)),
        BindKind::Receiver => Pdu::new(seq, Body::BindReceiver(body)),
    };
    let expected = pdu.command_id().response();
    transport.send(&pdu).await?;
    let deadline = Instant::now() + timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, transport.next())
            .await
            .map_err(|_| BindError::Timeout(timeout))?;
        let decoded = match next {
            None => return Err(BindError::Closed),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(d)) => d,
        };
        let pdu = match decoded {
            Ok(pdu) => pdu,
            Err(invalid) => {
                let header = invalid.header;
                if header.sequence == seq && header.command_id & 0x8000_0000 != 0 {
                    // A broken response to our bind: take its status, else it is a failure.
                    let status = if header.command_status.is_ok() {
                        CommandStatus::ESME_RSYSERR
                    } else {
                        header.command_status
                    };
                    return Err(BindError::Refused {
                        kind,
                        status,
                        nack: false,
                    });
                }
                if header.command_id & 0x8000_0000 == 0 {
                    let nack = Pdu::generic_nack(header.sequence, invalid.reply_status());
                    transport.send(&nack).await?;
                }
                continue;
            }
        };
        match &pdu.body {
            Body::GenericNack if pdu.sequence == seq => {
                return Err(BindError::Refused {
                    kind,
                    status: pdu.status,
                    nack: true,
                });
            }
            Body::BindTransceiverResp(r)
            | Body::BindTransmitterResp(r)
            | Body::BindReceiverResp(r)
                if pdu.sequence == seq && Some(pdu.command_id()) == expected =>
            {
                if !pdu.status.is_ok() {
                    return Err(BindError::Refused {
                        kind,
                        status: pdu.status,
                        nack: false,
                    });
                }
                return Ok(BindAccepted {
                    smsc_system_id: r.system_id.to_string_lossy().into_owned(),
                    sc_interface_version: r.tlvs.sc_interface_version().copied(),
                });
            }
            Body::Unbind => {
                if let Some(resp) = pdu.response(CommandStatus::ESME_ROK) {
                    transport.send(&resp).await?;
                }
                return Err(BindError::Closed);
            }
            Body::EnquireLink => {
                if let Some(resp) = pdu.response(CommandStatus::ESME_ROK) {
                    transport.send(&resp).await?;
                }
            }
            _ if pdu.is_response() => {
                tracing::debug!(command = ?pdu.command_id(), seq = pdu.sequence, "unexpected response during bind");
            }
            _ => {
                if let Some(resp) = pdu.response(CommandStatus::ESME_RINVBNDSTS) {
                    transport.send(&resp).await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_that_trigger_the_fallback() {
        let c = |status, nack| classify_refusal(BindKind::Transceiver, status, nack, &[0x0D]);
        assert_eq!(
            c(CommandStatus::ESME_RINVCMDID, false),
            Refusal::TransceiverUnsupported
        );
        assert_eq!(
            c(CommandStatus::ESME_RINVBNDSTS, false),
            Refusal::TransceiverUnsupported
        );
        assert_eq!(
            c(CommandStatus::ESME_RSYSERR, true),
            Refusal::TransceiverUnsupported
        );
        assert_eq!(
            c(CommandStatus::ESME_RBINDFAIL, false),
            Refusal::TransceiverUnsupported
        );
        assert_eq!(c(CommandStatus::ESME_RSYSERR, false), Refusal::Other);
        assert_eq!(
            c(CommandStatus::ESME_RINVPASWD, false),
            Refusal::Credentials
        );
        assert_eq!(c(CommandStatus::ESME_RINVSYSID, true), Refusal::Credentials);
        assert_eq!(
            classify_refusal(
                BindKind::Transmitter,
                CommandStatus::ESME_RINVCMDID,
                false,
                &[]
            ),
            Refusal::Other
        );
    }

    #[test]
    fn too_long_credentials_are_a_typed_error() {
        let creds = SmppCredentials {
            system_id: "a-system-id-that-is-far-too-long".into(),
            password: "pw".into(),
            system_type: None,
        };
        assert!(matches!(
            bind_body(&creds, &BindConfig::default()),
            Err(BindError::InvalidCredentials(_))
        ));
        let ok = SmppCredentials {
            system_id: "esme".into(),
            password: "pw".into(),
            system_type: Some("VMA".into()),
        };
        let b = bind_body(&ok, &BindConfig::default()).map_err(|e| e.to_string());
        assert_eq!(b.map(|b| b.interface_version), Ok(0x34));
    }
}
