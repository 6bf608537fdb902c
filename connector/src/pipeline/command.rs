//! The dispatch command of contract §1 (`smpp.operator.{operatorId}`): its wire type and its
//! validation into a [`ValidCommand`].
//!
//! [`parse_command`] checks everything `dispatch-command.schema.json` says, plus the contract's
//! rules that the schema cannot express (the operator id must be the subject's, `binary` must
//! be valid base64, `scheduleAt` must be RFC 3339, `encoding` must fit the content). The first
//! problem found becomes a [`Rejection`], whose [`RejectReason`] `Display` is the `reason` of the
//! REJECTED event.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::codec::{npi, ton};
pub use crate::protocol::text::RequestedEncoding;

/// Prefix of the dispatch subjects; the operator id follows it.
pub const SUBJECT_PREFIX: &str = "smpp.operator.";

/// Longest `text`, in characters.
pub const MAX_TEXT_CHARS: usize = 40_000;

/// Longest `validityPeriodSeconds` (one year).
pub const MAX_VALIDITY_SECONDS: i64 = 31_536_000;

/// The operator id of a dispatch subject (`smpp.operator.{operatorId}`), if it is one.
pub fn operator_from_subject(subject: &str) -> Option<&str> {
    let id = subject.strip_prefix(SUBJECT_PREFIX)?;
    (!id.is_empty() && !id.contains('.')).then_some(id)
}

/// The dispatch command exactly as it travels on NATS (for producers such as the load
/// generator). Consumers validate with [`parse_command`] instead of deserialising this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DispatchCommand {
    /// Platform message id (idempotency key).
    pub message_id: String,
    /// Operator id; equals the subject's.
    pub operator_id: String,
    /// Sender: alphanumeric (1 to 11) or numeric (1 to 20 digits, optional `+`).
    pub from: String,
    /// Destination MSISDN.
    pub to: String,
    /// Text content (exclusive with `binary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Base64 binary content (exclusive with `text`, needs `dataCoding`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// Requested encoding.
    #[serde(default)]
    pub encoding: RequestedEncoding,
    /// data_coding of binary content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_coding: Option<u8>,
    /// Ask for a delivery receipt.
    #[serde(default = "default_true")]
    pub registered_delivery: bool,
    /// Validity in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_period_seconds: Option<u32>,
    /// Scheduled delivery time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_at: Option<String>,
    /// Priority 0 to 3.
    #[serde(default)]
    pub priority: u8,
    /// Source TON override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ton: Option<u8>,
    /// Source NPI override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_npi: Option<u8>,
    /// Destination TON override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_ton: Option<u8>,
    /// Destination NPI override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_npi: Option<u8>,
    /// Opaque metadata copied into every event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

fn default_true() -> bool {
    true
}

/// What an address looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// Letters (or a mix): sent as TON 5 / NPI 0 by default.
    Alphanumeric,
    /// Digits, at most 8 and without `+`: TON 3 / NPI 1 by default.
    ShortCode,
    /// Digits: TON 1 / NPI 1 by default.
    Msisdn,
}

/// An SMPP address with its TON and NPI resolved (defaults of the contract unless overridden).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// Type of number.
    pub ton: u8,
    /// Numbering plan indicator.
    pub npi: u8,
    /// The address as sent in the PDU (a leading `+` removed).
    pub addr: String,
    /// What the address looked like.
    pub kind: AddressKind,
}

impl Address {
    fn resolve(raw: &str, ton_override: Option<u8>, npi_override: Option<u8>) -> Self {
        let digits = raw.strip_prefix('+').unwrap_or(raw);
        let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        let kind = if !numeric {
            AddressKind::Alphanumeric
        } else if !raw.starts_with('+') && digits.len() <= 8 {
            AddressKind::ShortCode
        } else {
            AddressKind::Msisdn
        };
        let (ton, npi, addr) = match kind {
            AddressKind::Alphanumeric => (ton::ALPHANUMERIC, npi::UNKNOWN, raw.to_string()),
            AddressKind::ShortCode => (ton::NETWORK_SPECIFIC, npi::ISDN, digits.to_string()),
            AddressKind::Msisdn => (ton::INTERNATIONAL, npi::ISDN, digits.to_string()),
        };
        Self {
            ton: ton_override.unwrap_or(ton),
            npi: npi_override.unwrap_or(npi),
            addr,
            kind,
        }
    }
}

/// The content of a valid command: text or bytes, never both, never neither.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// A Unicode text to encode and split.
    Text {
        /// The text.
        text: String,
        /// The requested encoding (never `binary`).
        encoding: RequestedEncoding,
        /// A data_coding the producer asked for (the schema allows it beside `text`).
        data_coding: Option<u8>,
    },
    /// Bytes sent as they are.
    Binary {
        /// The decoded bytes.
        bytes: Vec<u8>,
        /// Their data_coding.
        data_coding: u8,
    },
}

/// A command that passed every check; the session engine sends it as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidCommand {
    /// Platform message id.
    pub message_id: String,
    /// Operator id (equal to the subject's).
    pub operator_id: String,
    /// Source address.
    pub source: Address,
    /// Destination address.
    pub destination: Address,
    /// Text or binary.
    pub content: Content,
    /// Ask for a delivery receipt.
    pub registered_delivery: bool,
    /// Validity in seconds (1 to one year).
    pub validity_period_seconds: Option<u32>,
    /// Scheduled delivery time.
    pub schedule_at: Option<DateTime<Utc>>,
    /// Priority 0 to 3.
    pub priority: u8,
    /// Opaque metadata copied into every event.
    pub metadata: BTreeMap<String, String>,
}

/// Why a command was rejected. `Display` is the `reason` of the REJECTED event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The payload is not JSON.
    #[error("payload is not valid JSON: {0}")]
    NotJson(String),
    /// The payload is JSON but not an object.
    #[error("command must be a JSON object")]
    NotAnObject,
    /// A required field is absent.
    #[error("missing required field \"{0}\"")]
    Missing(&'static str),
    /// A field the schema does not define.
    #[error("unknown field \"{0}\"")]
    UnknownField(String),
    /// A field of the wrong JSON type.
    #[error("\"{field}\" must be {expected}")]
    WrongType {
        /// Field path.
        field: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A string that does not match the schema's pattern.
    #[error("\"{field}\" {value:?} does not match {pattern}")]
    Pattern {
        /// Field name.
        field: &'static str,
        /// The value (shortened).
        value: String,
        /// The pattern.
        pattern: &'static str,
    },
    /// An integer outside its range.
    #[error("\"{field}\" is {value}, out of range {min}..={max}")]
    OutOfRange {
        /// Field name.
        field: &'static str,
        /// The value as written.
        value: String,
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A string longer than allowed.
    #[error("\"{field}\" is longer than {max} characters")]
    TooLong {
        /// Field name.
        field: &'static str,
        /// Largest length.
        max: usize,
    },
    /// `encoding` is not one of the allowed values.
    #[error("\"encoding\" {0:?} is not one of auto, gsm7, ucs2, latin1, binary")]
    UnknownEncoding(String),
    /// The command's operator id is not the subject's.
    #[error("\"operatorId\" {command:?} differs from the subject's operator {subject:?}")]
    OperatorMismatch {
        /// The command's operator id.
        command: String,
        /// The subject's operator id.
        subject: String,
    },
    /// Neither `text` nor `binary`.
    #[error("exactly one of \"text\" and \"binary\" is required, found neither")]
    NoContent,
    /// Both `text` and `binary`.
    #[error("exactly one of \"text\" and \"binary\" is required, found both")]
    TextAndBinary,
    /// `binary` without `dataCoding`.
    #[error("\"binary\" requires \"dataCoding\"")]
    BinaryWithoutDataCoding,
    /// `binary` is not base64.
    #[error("\"binary\" is not valid base64: {0}")]
    InvalidBase64(String),
    /// `scheduleAt` is not an RFC 3339 date-time.
    #[error("\"scheduleAt\" {0:?} is not an RFC 3339 date-time")]
    InvalidScheduleAt(String),
    /// A string holding U+0000, which PostgreSQL cannot store.
    #[error("\"{0}\" holds a NUL character (U+0000), which cannot be recorded")]
    NulCharacter(String),
    /// `encoding` does not fit the content.
    #[error("\"encoding\" {encoding:?} cannot be used with \"{content}\"")]
    EncodingMismatch {
        /// The encoding given.
        encoding: &'static str,
        /// `text` or `binary`.
        content: &'static str,
    },
}

impl RejectReason {
    /// A short, bounded label for metrics (`smpp_rejected_commands_total{reason}`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "not_json",
            Self::NotAnObject => "not_object",
            Self::Missing(_) => "missing_field",
            Self::UnknownField(_) => "unknown_field",
            Self::WrongType { .. } => "wrong_type",
            Self::Pattern { .. } => "pattern",
            Self::OutOfRange { .. } => "out_of_range",
            Self::TooLong { .. } => "too_long",
            Self::UnknownEncoding(_) => "unknown_encoding",
            Self::OperatorMismatch { .. } => "operator_mismatch",
            Self::NoContent | Self::TextAndBinary => "content",
            Self::BinaryWithoutDataCoding => "binary_without_data_coding",
            Self::InvalidBase64(_) => "invalid_base64",
            Self::InvalidScheduleAt(_) => "invalid_schedule_at",
            Self::EncodingMismatch { .. } => "encoding_mismatch",
            Self::NulCharacter(_) => "nul_character",
        }
    }
}

/// A command that will not be sent, with what could be recovered from it for its REJECTED event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The command's `messageId` when it is present and valid.
    pub message_id: Option<String>,
    /// The command's `metadata` when it is a valid object of strings.
    pub metadata: BTreeMap<String, String>,
    /// What is wrong.
    pub reason: RejectReason,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason.fmt(f)
    }
}

impl std::error::Error for Rejection {}

const FIELDS: [&str; 17] = [
    "messageId",
    "operatorId",
    "from",
    "to",
    "text",
    "binary",
    "encoding",
    "dataCoding",
    "registeredDelivery",
    "validityPeriodSeconds",
    "scheduleAt",
    "priority",
    "sourceTon",
    "sourceNpi",
    "destTon",
    "destNpi",
    "metadata",
];

const MESSAGE_ID_PATTERN: &str = "^[A-Za-z0-9._:-]{1,64}$";
const OPERATOR_ID_PATTERN: &str = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";
const FROM_PATTERN: &str = "^(\\+?[0-9]{1,20}|[A-Za-z0-9 ._&-]{1,11})$";
const TO_PATTERN: &str = "^\\+?[0-9]{1,20}$";

fn is_message_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn is_msisdn(s: &str) -> bool {
    let d = s.strip_prefix('+').unwrap_or(s);
    (1..=20).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
}

fn is_sender(s: &str) -> bool {
    is_msisdn(s)
        || ((1..=11).contains(&s.len())
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b' ' | b'.' | b'_' | b'&' | b'-')
            }))
}

fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

/// An integer in the JSON Schema sense (a number with no fractional part).
fn as_integer(v: &Value) -> Option<i128> {
    if let Some(i) = v.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = v.as_u64() {
        return Some(i128::from(u));
    }
    let f = v.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 1e30).then_some(f as i128)
}

fn string_field<'a>(
    obj: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, RejectReason> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(RejectReason::WrongType {
            field: field.into(),
            expected: "a string",
        }),
    }
}

fn required_string<'a>(
    obj: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, RejectReason> {
    string_field(obj, field)?.ok_or(RejectReason::Missing(field))
}

fn int_field(
    obj: &Map<String, Value>,
    field: &'static str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, RejectReason> {
    let Some(v) = obj.get(field) else {
        return Ok(None);
    };
    let Some(i) = as_integer(v) else {
        return Err(RejectReason::WrongType {
            field: field.into(),
            expected: "an integer",
        });
    };
    if i < i128::from(min) || i > i128::from(max) {
        return Err(RejectReason::OutOfRange {
            field,
            value: v.to_string(),
            min,
            max,
        });
    }
    // In range of i64 by the check above.
    Ok(Some(i as i64))
}

fn small_int(
    obj: &Map<String, Value>,
    field: &'static str,
    max: u8,
) -> Result<Option<u8>, RejectReason> {
    Ok(int_field(obj, field, 0, i64::from(max))?.and_then(|i| u8::try_from(i).ok()))
}

fn metadata_of(obj: &Map<String, Value>) -> Result<BTreeMap<String, String>, RejectReason> {
    match obj.get("metadata") {
        None => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                // Stored in jsonb with the correlation rows: PostgreSQL refuses U+0000.
                Value::String(s) if k.contains('\0') || s.contains('\0') => {
                    Err(RejectReason::NulCharacter(shorten(&format!(
                        "metadata.{}",
                        k.replace('\0', "\\0")
                    ))))
                }
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(RejectReason::WrongType {
                    field: format!("metadata.{k}"),
                    expected: "a string",
                }),
            })
            .collect(),
        Some(_) => Err(RejectReason::WrongType {
            field: "metadata".into(),
            expected: "an object of strings",
        }),
    }
}

/// Validates a dispatch command received on the subject of `subject_operator`.
///
/// Returns the command ready to send, or a [`Rejection`] carrying the reason and whatever of
/// `messageId` and `metadata` could be recovered for the REJECTED event.
pub fn parse_command(subject_operator: &str, payload: &[u8]) -> Result<ValidCommand, Rejection> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| Rejection {
        message_id: None,
        metadata: BTreeMap::new(),
        reason: RejectReason::NotJson(e.to_string()),
    })?;
    let Value::Object(obj) = value else {
        return Err(Rejection {
            message_id: None,
            metadata: BTreeMap::new(),
            reason: RejectReason::NotAnObject,
        });
    };
    validate_object(subject_operator, &obj).map_err(|reason| Rejection {
        message_id: obj
            .get("messageId")
            .and_then(Value::as_str)
            .filter(|s| is_message_id(s))
            .map(str::to_string),
        metadata: metadata_of(&obj).unwrap_or_default(),
        reason,
    })
}

fn validate_object(
    subject_operator: &str,
    obj: &Map<String, Value>,
) -> Result<ValidCommand, RejectReason> {
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(RejectReason::UnknownField(shorten(unknown)));
    }
    let message_id = required_string(obj, "messageId")?;
    let operator_id = required_string(obj, "operatorId")?;
    let from = required_string(obj, "from")?;
    let to = required_string(obj, "to")?;
    if !is_message_id(message_id) {
        return Err(RejectReason::Pattern {
            field: "messageId",
            value: shorten(message_id),
            pattern: MESSAGE_ID_PATTERN,
        });
    }
    if !crds::config::is_valid_operator_id(operator_id) {
        return Err(RejectReason::Pattern {
            field: "operatorId",
            value: shorten(operator_id),
            pattern: OPERATOR_ID_PATTERN,
        });
    }
    if operator_id != subject_operator {
        return Err(RejectReason::OperatorMismatch {
            command: operator_id.to_string(),
            subject: subject_operator.to_string(),
        });
    }
    if !is_sender(from) {
        return Err(RejectReason::Pattern {
            field: "from",
            value: shorten(from),
            pattern: FROM_PATTERN,
        });
    }
    if !is_msisdn(to) {
        return Err(RejectReason::Pattern {
            field: "to",
            value: shorten(to),
            pattern: TO_PATTERN,
        });
    }
    let text = string_field(obj, "text")?;
    if text.is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS) {
        return Err(RejectReason::TooLong {
            field: "text",
            max: MAX_TEXT_CHARS,
        });
    }
    let binary = string_field(obj, "binary")?;
    let encoding = match string_field(obj, "encoding") {
        Ok(None) => RequestedEncoding::Auto,
        Ok(Some(s)) => RequestedEncoding::deserialize(serde_json::Value::from(s))
            .map_err(|_| RejectReason::UnknownEncoding(shorten(s)))?,
        Err(_) => {
            let written = obj
                .get("encoding")
                .map(Value::to_string)
                .unwrap_or_default();
            return Err(RejectReason::UnknownEncoding(written));
        }
    };
    let data_coding = small_int(obj, "dataCoding", 255)?;
    let registered_delivery = match obj.get("registeredDelivery") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(RejectReason::WrongType {
                field: "registeredDelivery".into(),
                expected: "a boolean",
            })
        }
    };
    let validity_period_seconds = int_field(obj, "validityPeriodSeconds", 1, MAX_VALIDITY_SECONDS)?
        .and_then(|v| u32::try_from(v).ok());
    let schedule_at = match string_field(obj, "scheduleAt")? {
        None => None,
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| RejectReason::InvalidScheduleAt(shorten(s)))?
                .with_timezone(&Utc),
        ),
    };
    let priority = small_int(obj, "priority", 3)?.unwrap_or(0);
    let source_ton = small_int(obj, "sourceTon", ton::ABBREVIATED)?;
    let source_npi = small_int(obj, "sourceNpi", npi::WAP_CLIENT_ID)?;
    let dest_ton = small_int(obj, "destTon", ton::ABBREVIATED)?;
    let dest_npi = small_int(obj, "destNpi", npi::WAP_CLIENT_ID)?;
    let metadata = metadata_of(obj)?;
    let content = match (text, binary) {
        (None, None) => return Err(RejectReason::NoContent),
        (Some(_), Some(_)) => return Err(RejectReason::TextAndBinary),
        (Some(text), None) => Content::Text {
            text: text.to_string(),
            encoding: match encoding {
                RequestedEncoding::Binary => {
                    return Err(RejectReason::EncodingMismatch {
                        encoding: "binary",
                        content: "text",
                    })
                }
                text => text,
            },
            data_coding,
        },
        (None, Some(b64)) => {
            let data_coding = data_coding.ok_or(RejectReason::BinaryWithoutDataCoding)?;
            if encoding.forced_charset().is_some() {
                return Err(RejectReason::EncodingMismatch {
                    encoding: encoding.as_str(),
                    content: "binary",
                });
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| RejectReason::InvalidBase64(e.to_string()))?;
            Content::Binary { bytes, data_coding }
        }
    };
    Ok(ValidCommand {
        message_id: message_id.to_string(),
        operator_id: operator_id.to_string(),
        source: Address::resolve(from, source_ton, source_npi),
        destination: Address::resolve(to, dest_ton, dest_npi),
        content,
        registered_delivery,
        validity_period_seconds,
        schedule_at,
        priority,
        metadata,
    })
}

#[cfg(test)]
mod tests;
