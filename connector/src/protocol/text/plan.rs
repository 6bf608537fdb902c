//! The encoding planner: picks the exact encoding of a text that needs the fewest segments
//! among those the operator accepts, and lays out every segment before anything is sent.
//!
//! Candidates, in order of preference (the first wins a tie on the segment count):
//! GSM-7 default alphabet; GSM-7 with national shift tables (single shift, then locking
//! shift, then both, in the configured language order); Latin-1; UCS-2. A forced encoding
//! restricts the candidates to its own family and must be accepted by the operator.

use std::fmt;

use crds::config::{Charset, EncodingConfig};
use serde::{Deserialize, Serialize};

use super::gsm::{GsmCode, GsmTables, LockingShift, ESCAPE};
use super::split::{
    build, layout, min_segments, EncodedText, Layout, Segment, SplitError, SplitPolicy, UnitKind,
};
use super::{data_coding, latin1, ucs2, Unencodable};

/// The `encoding` a dispatch command requests (the contract's spelling): `auto`, a text
/// family to force, or `binary` (raw bytes, never planned as text). The encoding the planner
/// chooses is [`TextEncoding`], a different concept: always exact, shift tables included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestedEncoding {
    /// The cheapest exact encoding the operator accepts.
    #[default]
    Auto,
    /// GSM-7 (national shift tables allowed where configured).
    Gsm7,
    /// UCS-2.
    Ucs2,
    /// Latin-1.
    Latin1,
    /// Raw bytes from the command's `binary`: no text encoding.
    Binary,
}

impl RequestedEncoding {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestedEncoding::Auto => "auto",
            RequestedEncoding::Gsm7 => "gsm7",
            RequestedEncoding::Ucs2 => "ucs2",
            RequestedEncoding::Latin1 => "latin1",
            RequestedEncoding::Binary => "binary",
        }
    }

    /// The text family it forces (`None` for `auto` and `binary`).
    pub fn forced_charset(self) -> Option<Charset> {
        match self {
            RequestedEncoding::Auto | RequestedEncoding::Binary => None,
            RequestedEncoding::Gsm7 => Some(Charset::Gsm7),
            RequestedEncoding::Ucs2 => Some(Charset::Ucs2),
            RequestedEncoding::Latin1 => Some(Charset::Latin1),
        }
    }
}

/// An exact text encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextEncoding {
    /// GSM-7 with these tables.
    Gsm7(GsmTables),
    /// Latin-1.
    Latin1,
    /// UCS-2 (UTF-16BE).
    Ucs2,
}

impl TextEncoding {
    /// Its data_coding.
    pub fn data_coding(self) -> u8 {
        match self {
            TextEncoding::Gsm7(_) => data_coding::GSM7,
            TextEncoding::Latin1 => data_coding::LATIN1,
            TextEncoding::Ucs2 => data_coding::UCS2,
        }
    }

    /// Its charset family.
    pub fn charset(self) -> Charset {
        match self {
            TextEncoding::Gsm7(_) => Charset::Gsm7,
            TextEncoding::Latin1 => Charset::Latin1,
            TextEncoding::Ucs2 => Charset::Ucs2,
        }
    }

    fn unit_kind(self) -> UnitKind {
        match self {
            TextEncoding::Gsm7(_) => UnitKind::Septet,
            TextEncoding::Latin1 => UnitKind::Octet,
            TextEncoding::Ucs2 => UnitKind::Ucs2,
        }
    }

    fn tables(self) -> GsmTables {
        match self {
            TextEncoding::Gsm7(t) => t,
            _ => GsmTables::DEFAULT,
        }
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextEncoding::Gsm7(t) => {
                write!(f, "GSM-7")?;
                if let Some(l) = t.locking {
                    write!(f, " locking {:?}", l.language())?;
                }
                if let Some(s) = t.single {
                    write!(f, " single {s:?}")?;
                }
                Ok(())
            }
            TextEncoding::Latin1 => f.write_str("Latin-1"),
            TextEncoding::Ucs2 => f.write_str("UCS-2"),
        }
    }
}

/// Why a text cannot be planned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A character no candidate encoding can carry (the one that stopped the candidate that
    /// got farthest).
    #[error("{0}")]
    Unencodable(Unencodable),
    /// The forced encoding is not among those the operator accepts.
    #[error("encoding {0:?} is forced but the operator does not accept it")]
    NotAccepted(Charset),
    /// The operator accepts no encoding for text.
    #[error("the operator accepts no text encoding")]
    NoEncoding,
    /// The text cannot be cut (too many segments, too long, bad policy).
    #[error("{0}")]
    Split(#[from] SplitError),
}

/// The plan of one text message: its encoding and every segment, ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The chosen encoding (shift tables included).
    pub encoding: TextEncoding,
    /// Its data_coding.
    pub data_coding: u8,
    /// The split policy used.
    pub policy: SplitPolicy,
    /// The segments in order.
    pub segments: Vec<Segment>,
}

impl Plan {
    /// Number of segments (1 for a single message or a message_payload).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

/// The candidate encodings for `forced` under `config`, in order of preference.
pub fn candidates(
    config: &EncodingConfig,
    forced: RequestedEncoding,
) -> Result<Vec<TextEncoding>, PlanError> {
    let accepts = |c: Charset| config.accepted.contains(&c);
    let wanted = |c: Charset| match forced {
        RequestedEncoding::Auto => accepts(c),
        // Bytes are never planned as text: no candidate.
        RequestedEncoding::Binary => false,
        _ => forced.forced_charset() == Some(c),
    };
    let forced_charset = forced.forced_charset();
    if let Some(c) = forced_charset {
        if !accepts(c) {
            return Err(PlanError::NotAccepted(c));
        }
    }
    let mut out = Vec::new();
    if wanted(Charset::Gsm7) {
        out.push(TextEncoding::Gsm7(GsmTables::DEFAULT));
        let langs = &config.national_languages;
        for &single in langs {
            out.push(TextEncoding::Gsm7(GsmTables {
                locking: None,
                single: Some(single),
            }));
        }
        let lockings: Vec<LockingShift> = langs
            .iter()
            .filter_map(|&l| LockingShift::for_language(l))
            .collect();
        for &locking in &lockings {
            out.push(TextEncoding::Gsm7(GsmTables {
                locking: Some(locking),
                single: None,
            }));
        }
        for &locking in &lockings {
            let same = locking.language();
            let singles = std::iter::once(same).chain(langs.iter().copied().filter(|&l| l != same));
            for single in singles {
                out.push(TextEncoding::Gsm7(GsmTables {
                    locking: Some(locking),
                    single: Some(single),
                }));
            }
        }
        out.dedup();
    }
    if wanted(Charset::Latin1) {
        out.push(TextEncoding::Latin1);
    }
    if wanted(Charset::Ucs2) {
        out.push(TextEncoding::Ucs2);
    }
    if out.is_empty() {
        return Err(PlanError::NoEncoding);
    }
    Ok(out)
}

/// A text encoded with the boundaries of its characters.
struct Encoded {
    bytes: Vec<u8>,
    offsets: Vec<usize>,
}

fn encode_units(text: &str, encoding: TextEncoding) -> Result<Encoded, Unencodable> {
    let mut bytes = Vec::with_capacity(text.len() * 2);
    let mut offsets = Vec::with_capacity(text.len() + 1);
    offsets.push(0);
    let gsm = encoding.tables().encoder();
    for (position, ch) in text.chars().enumerate() {
        match encoding {
            TextEncoding::Gsm7(_) => match gsm.encode_char(ch) {
                Some(GsmCode::Direct(c)) => bytes.push(c),
                Some(GsmCode::Escaped(c)) => bytes.extend_from_slice(&[ESCAPE, c]),
                None => {
                    return Err(Unencodable {
                        encoding: "GSM-7",
                        character: ch,
                        position,
                    })
                }
            },
            TextEncoding::Latin1 => latin1::encode_char(ch, position, &mut bytes)?,
            TextEncoding::Ucs2 => ucs2::encode_char(ch, &mut bytes),
        }
        offsets.push(bytes.len());
    }
    Ok(Encoded { bytes, offsets })
}

fn view<'a>(encoded: &'a Encoded, encoding: TextEncoding) -> EncodedText<'a> {
    EncodedText {
        bytes: &encoded.bytes,
        offsets: Some(&encoded.offsets),
        kind: encoding.unit_kind(),
        tables: encoding.tables(),
        data_coding: encoding.data_coding(),
    }
}

/// Plans `text` under the operator's `config` and the command's `forced` encoding.
/// `reference` is the concatenation reference (only its low 8 bits with 8-bit references).
pub fn plan(
    text: &str,
    config: &EncodingConfig,
    forced: RequestedEncoding,
    reference: u16,
) -> Result<Plan, PlanError> {
    let policy = SplitPolicy::from_config(config)?;
    plan_with(text, &candidates(config, forced)?, &policy, reference)
}

/// Plans `text` over explicit candidates (in order of preference) and split policy.
pub fn plan_with(
    text: &str,
    candidates: &[TextEncoding],
    policy: &SplitPolicy,
    reference: u16,
) -> Result<Plan, PlanError> {
    let mut best: Option<(TextEncoding, Encoded, Layout)> = None;
    let mut farthest: Option<Unencodable> = None;
    let mut split_error: Option<SplitError> = None;
    let chars = text.chars().count();
    for &encoding in candidates {
        if let Some((_, _, b)) = &best {
            // A later candidate must need strictly fewer segments to win.
            let floor = min_segments(chars, encoding.unit_kind(), encoding.tables(), policy);
            if floor >= b.count() {
                continue;
            }
        }
        let encoded = match encode_units(text, encoding) {
            Ok(e) => e,
            Err(e) => {
                if farthest.as_ref().is_none_or(|f| e.position > f.position) {
                    farthest = Some(e);
                }
                continue;
            }
        };
        let layout = match layout(&view(&encoded, encoding), policy) {
            Ok(l) => l,
            Err(e) => {
                split_error.get_or_insert(e);
                continue;
            }
        };
        let better = best
            .as_ref()
            .is_none_or(|(_, _, b)| layout.count() < b.count());
        if better {
            let single = layout.count() == 1;
            best = Some((encoding, encoded, layout));
            if single {
                break;
            }
        }
    }
    match best {
        Some((encoding, encoded, layout)) => {
            let segments = build(&view(&encoded, encoding), policy, &layout, reference);
            Ok(Plan {
                encoding,
                data_coding: encoding.data_coding(),
                policy: *policy,
                segments,
            })
        }
        None => Err(match (split_error, farthest) {
            (Some(e), _) => PlanError::Split(e),
            (None, Some(u)) => PlanError::Unencodable(u),
            (None, None) => PlanError::NoEncoding,
        }),
    }
}
