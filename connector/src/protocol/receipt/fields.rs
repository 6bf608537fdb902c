//! The receipt text of SMPP 3.4 Appendix B
//! (`id:... sub:... dlvrd:... submit date:... done date:... stat:... err:... text:...`),
//! read tolerantly: any field order, any letter case in keys, missing fields, `submit_date`
//! or `submitdate` spellings, extra vendor fields, and values after a space following the
//! colon. `text:` takes the rest of the receipt.

use chrono::{DateTime, NaiveDate, Utc};

/// The fields of a receipt text, as strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiptFields {
    /// `id`.
    pub id: Option<String>,
    /// `sub` (number of messages submitted).
    pub sub: Option<String>,
    /// `dlvrd` (number delivered).
    pub dlvrd: Option<String>,
    /// `submit date`, raw.
    pub submit_date: Option<String>,
    /// `done date`, raw.
    pub done_date: Option<String>,
    /// `stat`.
    pub stat: Option<String>,
    /// `err`.
    pub err: Option<String>,
    /// `text` (the rest of the receipt, trimmed).
    pub text: Option<String>,
    /// Other `key:value` fields (and repeated known keys), keys as written.
    pub extra: Vec<(String, String)>,
    /// Words that are not `key:value`.
    pub unparsed: Vec<String>,
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A word of the text with its byte span.
#[derive(Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    start: usize,
}

fn words(s: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() {
            if let Some(st) = start.take() {
                out.push(Word {
                    text: &s[st..i],
                    start: st,
                });
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push(Word {
            text: &s[st..],
            start: st,
        });
    }
    out
}

/// A `key:` at word `i`: (key as written, normalised key, value in the word, byte offset just
/// after the colon, words consumed).
fn key_at<'a>(
    ws: &[Word<'a>],
    s: &'a str,
    i: usize,
) -> Option<(String, String, &'a str, usize, usize)> {
    let w = ws[i];
    let two_word = ["submit", "done"]
        .into_iter()
        .find(|k| w.text.eq_ignore_ascii_case(k));
    if let (Some(first), true) = (two_word, i + 1 < ws.len()) {
        let next = ws[i + 1];
        let is_date = next
            .text
            .get(..5)
            .is_some_and(|head| head.eq_ignore_ascii_case("date:"));
        if is_date {
            let key = &s[w.start..next.start + 4];
            return Some((
                key.to_string(),
                format!("{first}date"),
                &next.text[5..],
                next.start + 5,
                2,
            ));
        }
    }
    let colon = w.text.find(':')?;
    let key = &w.text[..colon];
    if !is_key(key) {
        return None;
    }
    Some((
        key.to_string(),
        normalise_key(key),
        &w.text[colon + 1..],
        w.start + colon + 1,
        1,
    ))
}

/// Reads the fields of a receipt text.
pub fn parse_fields(s: &str) -> ReceiptFields {
    let ws = words(s);
    let mut f = ReceiptFields::default();
    let mut i = 0;
    while i < ws.len() {
        let Some((key, norm, mut value, after_colon, used)) = key_at(&ws, s, i) else {
            f.unparsed.push(ws[i].text.to_string());
            i += 1;
            continue;
        };
        i += used;
        if norm == "text" {
            f.text = Some(s[after_colon..].trim().to_string());
            break;
        }
        if value.is_empty() && i < ws.len() && key_at(&ws, s, i).is_none() {
            value = ws[i].text;
            i += 1;
        }
        let slot = match norm.as_str() {
            "id" | "messageid" | "msgid" => &mut f.id,
            "sub" => &mut f.sub,
            "dlvrd" | "dlvd" => &mut f.dlvrd,
            "submitdate" => &mut f.submit_date,
            "donedate" => &mut f.done_date,
            "stat" | "status" => &mut f.stat,
            "err" | "error" => &mut f.err,
            _ => {
                f.extra.push((key, value.to_string()));
                continue;
            }
        };
        if slot.is_none() {
            *slot = Some(value.to_string());
        } else {
            f.extra.push((key, value.to_string()));
        }
    }
    f
}

/// A receipt date: `YYMMDDhhmm`, `YYMMDDhhmmss` (years 2000 to 2099) or `YYYYMMDDhhmmss`.
/// The receipt gives no time zone: the time is taken as UTC.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|d| d.parse::<u32>().ok());
    let (year, rest) = match s.len() {
        10 | 12 => (2000 + num(0..2)? as i32, 2),
        14 => (num(0..4)? as i32, 4),
        _ => return None,
    };
    let month = num(rest..rest + 2)?;
    let day = num(rest + 2..rest + 4)?;
    let hour = num(rest + 4..rest + 6)?;
    let minute = num(rest + 6..rest + 8)?;
    let second = if s.len() > rest + 8 {
        num(rest + 8..rest + 10)?
    } else {
        0
    };
    let naive = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, second)?;
    Some(naive.and_utc())
}
