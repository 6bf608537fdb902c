//! [`RawClient`]: a minimal ESME on `tokio` + [`SmppCodec`] for tests of any crate.
//!
//! It does exactly what it is told: no window, no retries. While waiting for a response
//! it answers the SMSC's enquire_link and keeps deliver_sm aside (unanswered) for
//! [`RawClient::next_deliver_sm`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use connector::protocol::codec::{
    registered_delivery, Address, Bind, Body, COctetString, CodecError, CommandStatus, DeliverSm,
    InvalidPdu, MessageIdResp, Pdu, SmppCodec, SubmitSm,
};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::session::BindMode;

/// What can go wrong talking to the SMSC.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting or the socket failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The byte stream is broken (fatal codec error).
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// A PDU could not be decoded.
    #[error("invalid PDU: {0}")]
    Invalid(#[from] InvalidPdu),
    /// A PDU could not be built (a field too long).
    #[error("cannot build PDU: {0}")]
    Build(String),
    /// The SMSC closed the connection.
    #[error("connection closed by the SMSC")]
    Closed,
    /// Nothing arrived in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// A raw SMPP client connection.
#[derive(Debug)]
pub struct RawClient {
    framed: Framed<TcpStream, SmppCodec>,
    seq: u32,
    timeout: Duration,
    delivers: VecDeque<(u32, DeliverSm)>,
}

impl RawClient {
    /// Connects to `addr`; every wait times out after 5 s unless changed.
    pub async fn connect(addr: SocketAddr) -> Result<RawClient, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(RawClient {
            framed: Framed::new(stream, SmppCodec::default()),
            seq: 0,
            timeout: Duration::from_secs(5),
            delivers: VecDeque::new(),
        })
    }

    /// Changes how long each wait lasts.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The next sequence number this client uses.
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq % 0x7FFF_FFFF + 1;
        self.seq
    }

    /// Sends one PDU as it is.
    pub async fn send(&mut self, pdu: &Pdu) -> Result<(), ClientError> {
        self.framed.send(pdu).await?;
        Ok(())
    }

    /// Sends raw octets (for malformed-PDU tests).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        use tokio::io::AsyncWriteExt;
        self.framed.get_mut().write_all(bytes).await?;
        Ok(())
    }

    /// Sends a request with the next sequence number; returns that number.
    pub async fn send_request(&mut self, body: impl Into<Body>) -> Result<u32, ClientError> {
        let seq = self.next_seq();
        self.send(&Pdu::new(seq, body)).await?;
        Ok(seq)
    }

    /// The next PDU, whatever it is.
    pub async fn recv(&mut self) -> Result<Pdu, ClientError> {
        match tokio::time::timeout(self.timeout, self.framed.next()).await {
            Err(_) => Err(ClientError::Timeout(self.timeout)),
            Ok(None) => Err(ClientError::Closed),
            Ok(Some(Err(e))) => Err(e.into()),
            Ok(Some(Ok(Err(invalid)))) => Err(invalid.into()),
            Ok(Some(Ok(Ok(pdu)))) => Ok(pdu),
        }
    }

    /// The next PDU within `wait`, or `None` if nothing arrived.
    pub async fn recv_within(&mut self, wait: Duration) -> Result<Option<Pdu>, ClientError> {
        let saved = std::mem::replace(&mut self.timeout, wait);
        let result = self.recv().await;
        self.timeout = saved;
        match result {
            Err(ClientError::Timeout(_)) => Ok(None),
            other => other.map(Some),
        }
    }

    /// Sends a request and returns its response (or the generic_nack with its sequence).
    pub async fn request(&mut self, body: impl Into<Body>) -> Result<Pdu, ClientError> {
        let seq = self.send_request(body).await?;
        self.response_to(seq).await
    }

    /// Waits for the response to `seq`, answering enquire_link and keeping deliver_sm.
    pub async fn response_to(&mut self, seq: u32) -> Result<Pdu, ClientError> {
        loop {
            let pdu = self.recv().await?;
            if pdu.is_response() && pdu.sequence == seq {
                return Ok(pdu);
            }
            self.aside(pdu).await?;
        }
    }

    /// Handles a PDU that is not the awaited one.
    async fn aside(&mut self, pdu: Pdu) -> Result<(), ClientError> {
        match pdu.body {
            Body::EnquireLink => {
                self.send(&Pdu::new(pdu.sequence, Body::EnquireLinkResp))
                    .await
            }
            Body::DeliverSm(sm) => {
                self.delivers.push_back((pdu.sequence, sm));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Binds; returns the bind response (check its status).
    pub async fn bind(
        &mut self,
        mode: BindMode,
        system_id: &str,
        password: &str,
    ) -> Result<Pdu, ClientError> {
        let bind = Bind {
            system_id: cstr(system_id)?,
            password: cstr(password)?,
            ..Bind::default()
        };
        let body = match mode {
            BindMode::Transmitter => Body::BindTransmitter(bind),
            BindMode::Receiver => Body::BindReceiver(bind),
            BindMode::Transceiver => Body::BindTransceiver(bind),
        };
        self.request(body).await
    }

    /// Submits and returns the submit_sm_resp.
    pub async fn submit(&mut self, sm: SubmitSm) -> Result<Pdu, ClientError> {
        self.request(Body::SubmitSm(sm)).await
    }

    /// The next deliver_sm (sequence and body), unanswered; answer it with
    /// [`RawClient::answer_deliver_sm`].
    pub async fn next_deliver_sm(&mut self) -> Result<(u32, DeliverSm), ClientError> {
        if let Some(d) = self.delivers.pop_front() {
            return Ok(d);
        }
        loop {
            let pdu = self.recv().await?;
            if let Body::DeliverSm(sm) = pdu.body {
                return Ok((pdu.sequence, sm));
            }
            self.aside(pdu).await?;
        }
    }

    /// Answers a deliver_sm.
    pub async fn answer_deliver_sm(
        &mut self,
        seq: u32,
        status: CommandStatus,
    ) -> Result<(), ClientError> {
        self.send(&Pdu::with_status(
            seq,
            status,
            Body::DeliverSmResp(MessageIdResp::default()),
        ))
        .await
    }

    /// Receives and acknowledges (ESME_ROK) the next deliver_sm.
    pub async fn receive_deliver_sm(&mut self) -> Result<DeliverSm, ClientError> {
        let (seq, sm) = self.next_deliver_sm().await?;
        self.answer_deliver_sm(seq, CommandStatus::ESME_ROK).await?;
        Ok(sm)
    }

    /// Sends unbind and returns the unbind_resp.
    pub async fn unbind(&mut self) -> Result<Pdu, ClientError> {
        self.request(Body::Unbind).await
    }

    /// Waits until the SMSC closes or resets the connection; `false` if it is still open
    /// after the timeout. PDUs received meanwhile are dropped.
    pub async fn wait_closed(&mut self) -> bool {
        loop {
            match self.recv().await {
                Ok(_) | Err(ClientError::Invalid(_)) => continue,
                Err(ClientError::Timeout(_)) => return false,
                Err(_) => return true,
            }
        }
    }
}

fn cstr<const N: usize>(s: &str) -> Result<COctetString<N>, ClientError> {
    COctetString::try_from(s).map_err(|e| ClientError::Build(format!("`{s}`: {e}")))
}

/// A submit_sm from `from` to `to` with `text` (GSM default alphabet, ASCII subset) and
/// a receipt requested if `receipt`.
pub fn submit_sm(from: &str, to: &str, text: &str, receipt: bool) -> Result<SubmitSm, ClientError> {
    if text.len() > connector::protocol::codec::MAX_SHORT_MESSAGE_LEN {
        return Err(ClientError::Build(format!(
            "text of {} octets is longer than 254",
            text.len()
        )));
    }
    Ok(SubmitSm {
        source: Address::new(1, 1, cstr(from)?),
        dest: Address::new(1, 1, cstr(to)?),
        registered_delivery: if receipt {
            registered_delivery::RECEIPT_ALWAYS
        } else {
            registered_delivery::RECEIPT_NONE
        },
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..SubmitSm::default()
    })
}

/// The fields of a standard receipt text, e.g. `id`, `stat`, `err`, `dlvrd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptText {
    /// `id:`
    pub id: String,
    /// `dlvrd:`
    pub dlvrd: String,
    /// `stat:`
    pub stat: String,
    /// `err:`
    pub err: String,
    /// `submit date:`
    pub submit_date: String,
    /// `done date:`
    pub done_date: String,
}

/// A simple reading of `id:... sub:... dlvrd:... submit date:... done date:... stat:...
/// err:... text:...`; `None` if a field is missing.
pub fn parse_receipt_text(text: &[u8]) -> Option<ReceiptText> {
    let text = std::str::from_utf8(text).ok()?;
    let field = |name: &str| -> Option<String> {
        let start = text.find(name)? + name.len();
        let rest = &text[start..];
        let end = rest.find(' ').unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    };
    Some(ReceiptText {
        id: field("id:")?,
        dlvrd: field("dlvrd:")?,
        stat: field("stat:")?,
        err: field("err:")?,
        submit_date: field("submit date:")?,
        done_date: field("done date:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_receipt_text() {
        let r = parse_receipt_text(
            b"id:00ab sub:001 dlvrd:001 submit date:2601020304 done date:2601020305 stat:DELIVRD err:000 text:hi there",
        )
        .unwrap();
        assert_eq!(r.id, "00ab");
        assert_eq!(r.stat, "DELIVRD");
        assert_eq!(r.done_date, "2601020305");
        assert!(parse_receipt_text(b"hello").is_none());
    }
}
