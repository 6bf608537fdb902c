//! Message ids handed out in submit_sm_resp / data_sm_resp, in a configurable form.
//!
//! Every id stands for a 128-bit key (a counter value, or the UUID's bits), so the
//! simulator can find a message again from its id (query_sm) without storing strings.

use std::fmt;
use std::io::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How message ids are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdForm {
    /// Lower-case hexadecimal of a counter, e.g. `3f2a9c01`.
    Hex,
    /// Decimal of a counter, e.g. `1`, `2`, ... (the default, from 1: the most common form in
    /// the field, and one whose ids from `10` up all read as other hex ids).
    #[default]
    Decimal,
    /// Decimal of a counter with leading zeros to `width` digits, e.g. `0000001057536001`.
    DecimalPadded {
        /// Number of digits (1..=39).
        width: u8,
    },
    /// A random UUID v4, e.g. `0b5e5bd4-8f53-4c34-9f2e-1b0f8b3c8a61`.
    Uuid,
}

/// The first counter value of hex and decimal ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IdStart {
    /// Count from this value.
    At(u64),
    /// Count from a random value in 2^32..2^40, distinct per instance (`random`).
    Random(RandomWord),
}

/// The word `random` (of [`IdStart::Random`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RandomWord {
    /// `random`.
    Random,
}

impl Default for IdStart {
    fn default() -> Self {
        IdStart::At(1)
    }
}

impl IdStart {
    /// The value to count from.
    pub fn value(self) -> u64 {
        match self {
            IdStart::At(n) => n,
            IdStart::Random(_) => rand::random_range(1u64 << 32..1u64 << 40),
        }
    }
}

impl FromStr for IdStart {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "random" {
            return Ok(IdStart::Random(RandomWord::Random));
        }
        s.parse()
            .map(IdStart::At)
            .map_err(|_| format!("id start {s:?}: a number or `random`"))
    }
}

/// A key identifying a message independent of its textual form.
pub type MessageKey = u128;

/// Longest id this module writes (a UUID).
pub const MAX_ID_LEN: usize = 39;

/// A message id written into a stack buffer (no allocation).
#[derive(Clone, Copy)]
pub struct MessageId {
    buf: [u8; MAX_ID_LEN],
    len: u8,
    key: MessageKey,
}

impl MessageId {
    /// The id text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The id text as a string slice (ids are ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The key this id stands for.
    pub fn key(&self) -> MessageKey {
        self.key
    }

    /// The key written in decimal (the form some SMSCs use in receipt text).
    pub fn decimal(&self) -> String {
        self.key.to_string()
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl IdForm {
    /// Writes the id for `key`.
    pub fn format(self, key: MessageKey) -> MessageId {
        let mut buf = [0u8; MAX_ID_LEN];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        // The buffer holds the longest form, so these writes cannot fail.
        let _ = match self {
            IdForm::Hex => write!(cursor, "{key:x}"),
            IdForm::Decimal => write!(cursor, "{key}"),
            IdForm::DecimalPadded { width } => {
                write!(cursor, "{key:0width$}", width = usize::from(width.min(39)))
            }
            IdForm::Uuid => write!(cursor, "{}", uuid::Uuid::from_u128(key).hyphenated()),
        };
        let len = cursor.position() as u8;
        MessageId { buf, len, key }
    }

    /// The key an id of this form stands for; `None` if `id` is not of this form.
    pub fn parse(self, id: &[u8]) -> Option<MessageKey> {
        let text = std::str::from_utf8(id).ok()?;
        match self {
            IdForm::Hex => u128::from_str_radix(text, 16).ok(),
            IdForm::Decimal | IdForm::DecimalPadded { .. } => text.parse().ok(),
            IdForm::Uuid => uuid::Uuid::parse_str(text).ok().map(|u| u.as_u128()),
        }
    }
}

/// Hands out unique ids of one form.
#[derive(Debug)]
pub struct IdGenerator {
    form: IdForm,
    counter: AtomicU64,
}

impl IdGenerator {
    /// A generator whose counter forms start at `start`.
    pub fn new(form: IdForm, start: u64) -> Self {
        IdGenerator {
            form,
            counter: AtomicU64::new(start),
        }
    }

    /// The form of the ids.
    pub fn form(&self) -> IdForm {
        self.form
    }

    /// The next id.
    pub fn next_id(&self) -> MessageId {
        let key = match self.form {
            IdForm::Uuid => uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .as_u128(),
            _ => MessageKey::from(self.counter.fetch_add(1, Ordering::Relaxed)),
        };
        self.form.format(key)
    }
}

/// Why an id form text cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid message id form `{0}`: expected hex, decimal, padded:WIDTH (1..=39) or uuid")]
pub struct IdFormParseError(String);

impl FromStr for IdForm {
    type Err = IdFormParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "hex" => Ok(IdForm::Hex),
            "decimal" => Ok(IdForm::Decimal),
            "uuid" => Ok(IdForm::Uuid),
            other => other
                .strip_prefix("padded:")
                .and_then(|w| w.parse::<u8>().ok())
                .filter(|w| (1..=39).contains(w))
                .map(|width| IdForm::DecimalPadded { width })
                .ok_or_else(|| IdFormParseError(s.to_owned())),
        }
    }
}

impl fmt::Display for IdForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdForm::Hex => f.write_str("hex"),
            IdForm::Decimal => f.write_str("decimal"),
            IdForm::DecimalPadded { width } => write!(f, "padded:{width}"),
            IdForm::Uuid => f.write_str("uuid"),
        }
    }
}

impl<'de> Deserialize<'de> for IdForm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for IdForm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_round_trips() {
        for form in [
            IdForm::Hex,
            IdForm::Decimal,
            IdForm::DecimalPadded { width: 12 },
            IdForm::Uuid,
        ] {
            let ids = IdGenerator::new(form, 0x1234);
            let a = ids.next_id();
            let b = ids.next_id();
            assert_ne!(a.as_str(), b.as_str());
            assert_eq!(form.parse(a.as_bytes()), Some(a.key()), "{form}");
        }
    }

    #[test]
    fn forms_look_right() {
        assert_eq!(IdForm::Hex.format(255).as_str(), "ff");
        assert_eq!(IdForm::Decimal.format(255).as_str(), "255");
        assert_eq!(
            IdForm::DecimalPadded { width: 10 }.format(255).as_str(),
            "0000000255"
        );
        let uuid = IdGenerator::new(IdForm::Uuid, 0).next_id();
        assert_eq!(uuid.as_str().len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4');
    }

    #[test]
    fn parses_text_forms() {
        assert_eq!("padded:16".parse(), Ok(IdForm::DecimalPadded { width: 16 }));
        assert!("padded:0".parse::<IdForm>().is_err());
        assert!("base64".parse::<IdForm>().is_err());
    }
}
