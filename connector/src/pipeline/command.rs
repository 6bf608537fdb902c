//! The dispatch command of contract §1 (`smpp.operator.{operatorId}`): its wire type and its
//! validation into a [`ValidCommand`].
//!
//! [`parse_command`] deserialises the JSON into [`DispatchCommand`], whose serde attributes are
//! the field rules of `dispatch-command.schema.json` (types, patterns, ranges, `text`'s length,
//! the `encoding` enum, no unknown field), [`serde_path_to_error`] naming the field (`metadata.k`
//! inside the metadata). As in JSON Schema, `null` is a value, not an absent field. A few checks
//! follow: the operator id must be the subject's, `scheduleAt` RFC 3339, exactly one of `text`
//! and `binary`, `binary` with `dataCoding` and base64, `encoding` fitting the content.
//!
//! The first problem found becomes a [`Rejection`], whose [`RejectReason`] `Display` is the
//! `reason` of the REJECTED event. Fields are checked in key order (sorted), missing ones after
//! the present ones, the checks above last. Of two problems, the one reported may thus differ
//! from the former hand-written validator's (unknown fields first, then schema order, the
//! operator id before `from`): without `to` and with `"priority": 9`, it is the priority.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, Deserializer, Expected, IntoDeserializer, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// The dispatch command exactly as it travels on NATS. Deserialising it checks every field
/// against the schema; consumers call [`parse_command`], which adds the cross-field rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DispatchCommand {
    /// Platform message id (idempotency key): 1 to 64 of `[A-Za-z0-9._:-]`.
    #[serde(deserialize_with = "message_id")]
    pub message_id: String,
    /// Operator id; equals the subject's.
    #[serde(deserialize_with = "operator_id")]
    pub operator_id: String,
    /// Sender: alphanumeric (1 to 11) or numeric (1 to 20 digits, optional `+`).
    #[serde(deserialize_with = "sender")]
    pub from: String,
    /// Destination MSISDN.
    #[serde(deserialize_with = "msisdn")]
    pub to: String,
    /// Text content of at most [`MAX_TEXT_CHARS`] (exclusive with `binary`).
    #[serde(default, deserialize_with = "text")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Base64 binary content (exclusive with `text`, needs `dataCoding`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// Requested encoding.
    #[serde(default)]
    pub encoding: RequestedEncoding,
    /// data_coding of binary content.
    #[serde(default, deserialize_with = "some_int::<_, _, 0, 255>")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_coding: Option<u8>,
    /// Ask for a delivery receipt.
    #[serde(default = "default_true")]
    pub registered_delivery: bool,
    /// Validity in seconds, 1 to [`MAX_VALIDITY_SECONDS`].
    #[serde(
        default,
        deserialize_with = "some_int::<_, _, 1, MAX_VALIDITY_SECONDS>"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_period_seconds: Option<u32>,
    /// Scheduled delivery time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_at: Option<String>,
    /// Priority 0 to 3.
    #[serde(default, deserialize_with = "int::<_, _, 0, 3>")]
    pub priority: u8,
    /// Source TON override (0 to 6).
    #[serde(default, deserialize_with = "some_int::<_, _, 0, 6>")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ton: Option<u8>,
    /// Source NPI override (0 to 18).
    #[serde(default, deserialize_with = "some_int::<_, _, 0, 18>")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_npi: Option<u8>,
    /// Destination TON override (0 to 6).
    #[serde(default, deserialize_with = "some_int::<_, _, 0, 6>")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_ton: Option<u8>,
    /// Destination NPI override (0 to 18).
    #[serde(default, deserialize_with = "some_int::<_, _, 0, 18>")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_npi: Option<u8>,
    /// Opaque metadata copied into every event.
    #[serde(default, deserialize_with = "metadata")]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
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
    /// A field whose value breaks its rule.
    #[error("\"{field}\" {problem}")]
    Field {
        /// Field path, `metadata.{key}` inside the metadata (shortened, NUL written `\0`).
        field: String,
        /// What is wrong with the value.
        problem: Box<FieldProblem>,
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
    /// `encoding` does not fit the content.
    #[error("\"encoding\" {encoding:?} cannot be used with \"{content}\"")]
    EncodingMismatch {
        /// The encoding given.
        encoding: &'static str,
        /// `text` or `binary`.
        content: &'static str,
    },
}

/// What is wrong with the value of one field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// Of the wrong JSON type; what it must be.
    #[error("must be {0}")]
    WrongType(String),
    /// A string (shortened) that does not match the schema's pattern (the second).
    #[error("{0:?} does not match {1}")]
    Pattern(String, String),
    /// A number (as written) outside its range (`min..=max`).
    #[error("is {0}, out of range {1}")]
    OutOfRange(String, String),
    /// A string longer than allowed (the limit, with its unit).
    #[error("is longer than {0}")]
    TooLong(String),
    /// A string holding U+0000, which PostgreSQL cannot store.
    #[error("holds a NUL character (U+0000), which cannot be recorded")]
    NulCharacter,
}

impl RejectReason {
    /// A short, bounded label for metrics (`smpp_rejected_commands_total{reason}`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "not_json",
            Self::NotAnObject => "not_object",
            Self::Missing(_) => "missing_field",
            Self::UnknownField(_) => "unknown_field",
            Self::Field { problem, .. } => match problem.as_ref() {
                FieldProblem::WrongType(_) => "wrong_type",
                FieldProblem::Pattern(..) => "pattern",
                FieldProblem::OutOfRange(..) => "out_of_range",
                FieldProblem::TooLong(_) => "too_long",
                FieldProblem::NulCharacter => "nul_character",
            },
            Self::UnknownEncoding(_) => "unknown_encoding",
            Self::OperatorMismatch { .. } => "operator_mismatch",
            Self::NoContent | Self::TextAndBinary => "content",
            Self::BinaryWithoutDataCoding => "binary_without_data_coding",
            Self::InvalidBase64(_) => "invalid_base64",
            Self::InvalidScheduleAt(_) => "invalid_schedule_at",
            Self::EncodingMismatch { .. } => "encoding_mismatch",
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

fn is_msisdn(s: &str) -> bool {
    let d = s.strip_prefix('+').unwrap_or(s);
    (1..=20).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        None => s.to_string(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}

/// A string matching `pattern`, which `matches` implements.
fn matching<'de, D: Deserializer<'de>>(
    d: D,
    pattern: &'static str,
    matches: impl Fn(&str) -> bool,
) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if !matches(&s) {
        return Err(de::Error::invalid_value(Unexpected::Str(&s), &pattern));
    }
    Ok(s)
}

fn message_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    matching(d, "^[A-Za-z0-9._:-]{1,64}$", |s| {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
    })
}

fn operator_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";
    matching(d, pattern, crds::config::is_valid_operator_id)
}

fn sender<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    matching(d, "^(\\+?[0-9]{1,20}|[A-Za-z0-9 ._&-]{1,11})$", |s| {
        is_msisdn(s)
            || (1..=11).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" ._&-".contains(&b))
    })
}

fn msisdn<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    matching(d, "^\\+?[0-9]{1,20}$", is_msisdn)
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        let max = format!("{MAX_TEXT_CHARS} characters");
        return Err(de::Error::invalid_length(chars, &max.as_str()));
    }
    Ok(Some(text))
}

/// An integer in the JSON Schema sense (no fractional part, so `2.0` is one) in `MIN..=MAX`.
fn int<'de, D: Deserializer<'de>, T: TryFrom<i64>, const MIN: i64, const MAX: i64>(
    d: D,
) -> Result<T, D::Error> {
    let v = Value::deserialize(d)?;
    let Some(f) = v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e30) else {
        return Err(de::Error::invalid_type(
            Unexpected::Other("value"),
            &"an integer",
        ));
    };
    match T::try_from(f as i64) {
        Ok(i) if (MIN as f64..=MAX as f64).contains(&f) => Ok(i),
        _ => {
            let range = format!("{MIN}..={MAX}");
            Err(de::Error::invalid_value(
                Unexpected::Other(&v.to_string()),
                &range.as_str(),
            ))
        }
    }
}

fn some_int<'de, D: Deserializer<'de>, T: TryFrom<i64>, const MIN: i64, const MAX: i64>(
    d: D,
) -> Result<Option<T>, D::Error> {
    int::<D, T, MIN, MAX>(d).map(Some)
}

/// An object of strings, none holding U+0000: the metadata is stored in PostgreSQL jsonb,
/// which refuses it.
fn metadata<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct Strings;
    impl<'de> Visitor<'de> for Strings {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((NulFree(k), NulFree(v))) = map.next_entry()? {
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Strings)
}

struct NulFree(String);

impl<'de> Deserialize<'de> for NulFree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.contains('\0') {
            return Err(de::Error::invalid_value(Unexpected::Char('\0'), &"no NUL"));
        }
        Ok(Self(s))
    }
}

/// The error of deserialising a command: a [`RejectReason`] whose field is filled in from the
/// path afterwards ([`Problem::at`]). In serde's vocabulary, `invalid_value` of a string is a
/// pattern mismatch, of the NUL character a NUL, of anything else a range; the one enum is
/// `encoding`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct Problem(RejectReason);

impl Problem {
    fn field(problem: FieldProblem) -> Self {
        let (field, problem) = (String::new(), Box::new(problem));
        Self(RejectReason::Field { field, problem })
    }

    fn at(self, path: &serde_path_to_error::Path) -> RejectReason {
        let mut reason = self.0;
        if let RejectReason::Field { field, .. } = &mut reason {
            *field = shorten(&path.to_string().replace('\0', "\\0"));
        }
        reason
    }
}

impl de::Error for Problem {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::field(FieldProblem::WrongType(msg.to_string()))
    }

    fn invalid_type(_: Unexpected, expected: &dyn Expected) -> Self {
        Self::field(FieldProblem::WrongType(expected.to_string()))
    }

    fn invalid_value(unexpected: Unexpected, expected: &dyn Expected) -> Self {
        Self::field(match unexpected {
            Unexpected::Str(s) => FieldProblem::Pattern(shorten(s), expected.to_string()),
            Unexpected::Char('\0') => FieldProblem::NulCharacter,
            value => FieldProblem::OutOfRange(value.to_string(), expected.to_string()),
        })
    }

    fn invalid_length(_: usize, expected: &dyn Expected) -> Self {
        Self::field(FieldProblem::TooLong(expected.to_string()))
    }

    fn unknown_variant(variant: &str, _: &'static [&'static str]) -> Self {
        Self(RejectReason::UnknownEncoding(shorten(variant)))
    }

    fn unknown_field(field: &str, _: &'static [&'static str]) -> Self {
        Self(RejectReason::UnknownField(shorten(field)))
    }

    fn missing_field(field: &'static str) -> Self {
        Self(RejectReason::Missing(field))
    }
}

/// A JSON value as a deserializer whose errors are [`Problem`]s. `null` is a value here, never
/// an absent `Option`.
struct Json<'a>(&'a Value);

impl<'de> Deserializer<'de> for Json<'_> {
    type Error = Problem;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(i)) => visitor.visit_i64(i),
                (None, None) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(SeqDeserializer::new(items.iter().map(Json))),
            Value::Object(map) => {
                let entries = map.iter().map(|(k, v)| (k.as_str(), Json(v)));
                visitor.visit_map(MapDeserializer::new(entries))
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        visitor.visit_some(self)
    }

    /// A unit variant by name; anything but a string is an unknown variant, as written.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Problem> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => Err(de::Error::unknown_variant(&other.to_string(), variants)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Problem> for Json<'_> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
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
    validate(subject_operator, &value).map_err(|reason| Rejection {
        message_id: value
            .get("messageId")
            .and_then(|m| message_id(Json(m)).ok()),
        metadata: value
            .get("metadata")
            .and_then(|m| metadata(Json(m)).ok())
            .unwrap_or_default(),
        reason,
    })
}

fn validate(subject_operator: &str, value: &Value) -> Result<ValidCommand, RejectReason> {
    if !value.is_object() {
        return Err(RejectReason::NotAnObject);
    }
    let cmd: DispatchCommand = serde_path_to_error::deserialize(Json(value)).map_err(|e| {
        let path = e.path().clone();
        e.into_inner().at(&path)
    })?;
    if cmd.operator_id != subject_operator {
        return Err(RejectReason::OperatorMismatch {
            command: cmd.operator_id,
            subject: subject_operator.to_string(),
        });
    }
    let schedule_at = match &cmd.schedule_at {
        None => None,
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| RejectReason::InvalidScheduleAt(shorten(s)))?
                .with_timezone(&Utc),
        ),
    };
    let mismatch = |encoding, content| Err(RejectReason::EncodingMismatch { encoding, content });
    let content = match (cmd.text, cmd.binary, cmd.data_coding) {
        (None, None, _) => return Err(RejectReason::NoContent),
        (Some(_), Some(_), _) => return Err(RejectReason::TextAndBinary),
        (None, Some(_), None) => return Err(RejectReason::BinaryWithoutDataCoding),
        (Some(_), None, _) if cmd.encoding == RequestedEncoding::Binary => {
            return mismatch("binary", "text")
        }
        (None, Some(_), _) if cmd.encoding.forced_charset().is_some() => {
            return mismatch(cmd.encoding.as_str(), "binary")
        }
        (Some(text), None, data_coding) => Content::Text {
            text,
            encoding: cmd.encoding,
            data_coding,
        },
        (None, Some(b64), Some(data_coding)) => Content::Binary {
            bytes: base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| RejectReason::InvalidBase64(e.to_string()))?,
            data_coding,
        },
    };
    Ok(ValidCommand {
        source: Address::resolve(&cmd.from, cmd.source_ton, cmd.source_npi),
        destination: Address::resolve(&cmd.to, cmd.dest_ton, cmd.dest_npi),
        message_id: cmd.message_id,
        operator_id: cmd.operator_id,
        content,
        registered_delivery: cmd.registered_delivery,
        validity_period_seconds: cmd.validity_period_seconds,
        schedule_at,
        priority: cmd.priority,
        metadata: cmd.metadata,
    })
}

#[cfg(test)]
mod tests;
