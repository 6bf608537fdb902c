//! Message id normalisation: a submit_sm_resp id and a receipt id compare without letter case
//! and leading zeros, and, where the operator writes them so, as one 64-bit number written in
//! hex on one side and decimal on the other (`0A1B2C` and `662316`).
//!
//! The correlation store keeps one [`IdKey`] per submitted segment, [`submit_key`]: `s:` and
//! the id lowercased; ids made only of hex digits lose their leading zeros (UUIDs and other
//! ids keep every character). A receipt's id is mapped into that space for each form
//! ([`receipt_key`]): as it is, its decimal value written in hex (`hexToDecimal`), or its hex
//! value written in decimal (`decimalToHex`). So one index serves every form, and a receipt
//! is looked up with at most three keys. An id that does not parse in a numeric form (too
//! long, not digits) is looked up as it is.
//!
//! [`IdFormLearner`] learns the form of an operator configured `auto` from the ids it sees and
//! from which form's key matched, so that receipts are then looked up with one key. Until it
//! has, only the as-is key attributes a receipt ([`ReceiptLookup`]).

use std::collections::HashSet;
use std::fmt;

use crds::config::ReceiptIdForm;

/// A concrete way receipt ids relate to submit ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdForm {
    /// The same id on both sides (letter case and leading zeros aside).
    AsIs,
    /// Submit id in hex, receipt id in decimal.
    HexToDecimal,
    /// Submit id in decimal, receipt id in hex.
    DecimalToHex,
}

impl IdForm {
    /// Every form, in the order they are tried.
    pub const ALL: [IdForm; 3] = [IdForm::AsIs, IdForm::HexToDecimal, IdForm::DecimalToHex];

    /// The fixed form of a configuration value (`None` for `auto`).
    pub fn fixed(form: ReceiptIdForm) -> Option<IdForm> {
        match form {
            ReceiptIdForm::Auto => None,
            ReceiptIdForm::AsIs => Some(IdForm::AsIs),
            ReceiptIdForm::HexToDecimal => Some(IdForm::HexToDecimal),
            ReceiptIdForm::DecimalToHex => Some(IdForm::DecimalToHex),
        }
    }

    fn index(self) -> usize {
        match self {
            IdForm::AsIs => 0,
            IdForm::HexToDecimal => 1,
            IdForm::DecimalToHex => 2,
        }
    }
}

/// Which side an id comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdSide {
    /// submit_sm_resp message_id.
    Submit,
    /// The receipt's id.
    Receipt,
}

/// A canonical lookup key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdKey(String);

impl IdKey {
    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn trimmed(id: &str) -> &str {
    id.trim_matches(|c: char| c == '\0' || c.is_whitespace())
}

fn is_hex(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn has_hex_letters(id: &str) -> bool {
    id.bytes().any(|b| matches!(b, b'a'..=b'f' | b'A'..=b'F'))
}

fn as_is(id: &str) -> IdKey {
    let id = trimmed(id);
    let lower = id.to_ascii_lowercase();
    let body = if is_hex(&lower) {
        let stripped = lower.trim_start_matches('0');
        if stripped.is_empty() {
            "0".to_string()
        } else {
            stripped.to_string()
        }
    } else {
        lower
    };
    IdKey(format!("s:{body}"))
}

fn parse_hex(id: &str) -> Option<u64> {
    let id = trimmed(id);
    if !is_hex(id) {
        return None;
    }
    let digits = id.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 16).ok()
}

fn parse_decimal(id: &str) -> Option<u64> {
    let id = trimmed(id);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = id.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    digits.parse().ok()
}

/// The key a submit_sm_resp id is stored under: its `s:` form, whatever the configured form.
pub fn submit_key(id: &str) -> IdKey {
    as_is(id)
}

/// The submit key that a receipt id names under `form`: the id itself, or its 64-bit value
/// written the way the submit side writes it (a decimal receipt id in hex for
/// [`IdForm::HexToDecimal`], a hex one in decimal for [`IdForm::DecimalToHex`]). An id that
/// does not parse in the form gives its `s:` key.
pub fn receipt_key(id: &str, form: IdForm) -> IdKey {
    let key = match form {
        IdForm::AsIs => None,
        IdForm::HexToDecimal => parse_decimal(id).map(|n| format!("s:{n:x}")),
        IdForm::DecimalToHex => parse_hex(id).map(|n| format!("s:{n}")),
    };
    key.map(IdKey).unwrap_or_else(|| as_is(id))
}

/// The keys one receipt id is looked up with.
///
/// Only a match on [`ReceiptLookup::key`] attributes the receipt to a message: the key of the
/// established form (configured, or learnt), or the as-is key while the form of an `auto`
/// operator is still being learnt. The other forms' keys ([`ReceiptLookup::unconfirmed`],
/// learning only) are looked up as evidence for the learner and never attribute a receipt: an
/// id like `10` names submit `10` as-is and submit `16` read as hex, and guessing between them
/// would report the wrong message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptLookup {
    /// The key whose match attributes the receipt.
    pub key: IdKey,
    /// While learning: each other form with its key (only those differing from `key`).
    pub unconfirmed: Vec<(IdForm, IdKey)>,
}

impl ReceiptLookup {
    /// The lookup of receipt id `id`, under the `established` form or, when `None`, while the
    /// form is learnt.
    pub fn new(id: &str, established: Option<IdForm>) -> Self {
        match established {
            Some(form) => ReceiptLookup {
                key: receipt_key(id, form),
                unconfirmed: Vec::new(),
            },
            None => {
                let key = receipt_key(id, IdForm::AsIs);
                let mut unconfirmed: Vec<(IdForm, IdKey)> = Vec::with_capacity(2);
                for form in [IdForm::HexToDecimal, IdForm::DecimalToHex] {
                    let k = receipt_key(id, form);
                    if k != key && !unconfirmed.iter().any(|(_, seen)| *seen == k) {
                        unconfirmed.push((form, k));
                    }
                }
                ReceiptLookup { key, unconfirmed }
            }
        }
    }

    /// Whether an as-is match of this lookup is evidence for the as-is form: the form is still
    /// learnt and another form would have named a different submit.
    pub fn as_is_match_is_evidence(&self) -> bool {
        !self.unconfirmed.is_empty()
    }

    /// Every key, the attributing one first.
    pub fn all_keys(&self) -> impl Iterator<Item = &IdKey> {
        std::iter::once(&self.key).chain(self.unconfirmed.iter().map(|(_, k)| k))
    }
}

/// Whether a submit id and a receipt id name the same message under `form`.
pub fn ids_match(submit_id: &str, receipt_id: &str, form: IdForm) -> bool {
    submit_key(submit_id) == receipt_key(receipt_id, form)
}

/// Matches under one form needed, with none under any other, to lock it.
pub const LOCK_AFTER_MATCHES: u32 = 3;

/// Learns the id form of an operator configured `auto`.
///
/// It locks [`IdForm::AsIs`] as soon as an id that is not a hex number appears (a UUID, say)
/// or both sides show hex letters; it locks any form after [`LOCK_AFTER_MATCHES`] receipts
/// matched a submit under that form and under no other. Until then [`IdFormLearner::form`] is
/// `AsIs`. A fixed configuration is locked from the start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdFormLearner {
    locked: Option<IdForm>,
    matches: [u32; 3],
    submit_hex_letters: bool,
    receipt_hex_letters: bool,
    /// Receipt ids already counted by [`IdFormLearner::record_settled_match`].
    counted: HashSet<String>,
}

/// Receipt ids remembered as counted evidence; past this many the evidence conflicts anyway
/// (a form locks after [`LOCK_AFTER_MATCHES`]).
const MAX_COUNTED_IDS: usize = 1024;

impl IdFormLearner {
    /// A learner for the configured form.
    pub fn new(configured: ReceiptIdForm) -> Self {
        IdFormLearner {
            locked: IdForm::fixed(configured),
            matches: [0; 3],
            submit_hex_letters: false,
            receipt_hex_letters: false,
            counted: HashSet::new(),
        }
    }

    /// The form to look receipts up with now.
    pub fn form(&self) -> IdForm {
        self.locked.unwrap_or(IdForm::AsIs)
    }

    /// The locked form, once the evidence is unambiguous.
    pub fn locked(&self) -> Option<IdForm> {
        self.locked
    }

    fn observe(&mut self, id: &str, side: IdSide) {
        if self.locked.is_some() {
            return;
        }
        let id = trimmed(id);
        if id.is_empty() {
            return;
        }
        if !is_hex(id) {
            self.locked = Some(IdForm::AsIs);
            return;
        }
        if has_hex_letters(id) {
            match side {
                IdSide::Submit => self.submit_hex_letters = true,
                IdSide::Receipt => self.receipt_hex_letters = true,
            }
        }
        if self.submit_hex_letters && self.receipt_hex_letters {
            self.locked = Some(IdForm::AsIs);
        }
    }

    /// Notes a submit_sm_resp id.
    pub fn observe_submit(&mut self, id: &str) {
        self.observe(id, IdSide::Submit);
    }

    /// Notes a receipt id.
    pub fn observe_receipt(&mut self, id: &str) {
        self.observe(id, IdSide::Receipt);
    }

    /// Notes that a receipt matched a stored submit under `form`.
    pub fn record_match(&mut self, form: IdForm) {
        if self.locked.is_some() {
            return;
        }
        let i = form.index();
        self.matches[i] = self.matches[i].saturating_add(1);
        let others: u32 = (0..3).filter(|&j| j != i).map(|j| self.matches[j]).sum();
        if self.matches[i] >= LOCK_AFTER_MATCHES && others == 0 {
            self.locked = Some(form);
            self.counted = HashSet::new();
        }
    }

    /// Notes that receipt id `id` matched a submit under the converting `form` only, once
    /// its as-is reading was ruled out; each receipt id counts once.
    pub fn record_settled_match(&mut self, id: &str, form: IdForm) {
        if self.locked.is_some()
            || self.counted.len() >= MAX_COUNTED_IDS
            || !self.counted.insert(id.to_string())
        {
            return;
        }
        self.record_match(form);
    }
}

#[cfg(test)]
#[path = "msgid_tests.rs"]
mod tests;
