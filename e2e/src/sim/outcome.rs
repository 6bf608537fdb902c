//! Final outcomes of messages and the configured mix of them.

use std::fmt;
use std::sync::Mutex;

use connector::protocol::codec::MessageState;
use serde::{Deserialize, Serialize};

/// The final state a delivery receipt reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    /// Delivered (`stat:DELIVRD`).
    Delivrd,
    /// Undeliverable (`stat:UNDELIV`).
    Undeliv,
    /// Validity period expired (`stat:EXPIRED`).
    Expired,
    /// Rejected (`stat:REJECTD`).
    Rejectd,
}

impl Outcome {
    /// Every outcome, in mix order.
    pub const ALL: [Outcome; 4] = [
        Outcome::Delivrd,
        Outcome::Undeliv,
        Outcome::Expired,
        Outcome::Rejectd,
    ];

    /// The `stat:` word of the receipt text.
    pub const fn stat(self) -> &'static str {
        match self {
            Outcome::Delivrd => "DELIVRD",
            Outcome::Undeliv => "UNDELIV",
            Outcome::Expired => "EXPIRED",
            Outcome::Rejectd => "REJECTD",
        }
    }

    /// The message_state TLV value.
    pub const fn message_state(self) -> MessageState {
        match self {
            Outcome::Delivrd => MessageState::DELIVERED,
            Outcome::Undeliv => MessageState::UNDELIVERABLE,
            Outcome::Expired => MessageState::EXPIRED,
            Outcome::Rejectd => MessageState::REJECTED,
        }
    }

    /// The `err:` code of the receipt text (and the GSM network_error_code): 0 when
    /// delivered, 1 undeliverable, 2 expired, 3 rejected.
    pub const fn error_code(self) -> u16 {
        match self {
            Outcome::Delivrd => 0,
            Outcome::Undeliv => 1,
            Outcome::Expired => 2,
            Outcome::Rejectd => 3,
        }
    }

    /// Whether the message reached its destination.
    pub const fn is_delivered(self) -> bool {
        matches!(self, Outcome::Delivrd)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.stat())
    }
}

/// Relative shares of the outcomes (any non-negative weights; they need not sum to 100).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutcomeMix {
    /// Share of DELIVRD.
    pub delivrd: u32,
    /// Share of UNDELIV.
    pub undeliv: u32,
    /// Share of EXPIRED.
    pub expired: u32,
    /// Share of REJECTD.
    pub rejectd: u32,
}

impl Default for OutcomeMix {
    fn default() -> Self {
        OutcomeMix {
            delivrd: 100,
            undeliv: 0,
            expired: 0,
            rejectd: 0,
        }
    }
}

impl OutcomeMix {
    fn weights(&self) -> [u32; 4] {
        [self.delivrd, self.undeliv, self.expired, self.rejectd]
    }
}

/// Why a mix text cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid outcome mix `{0}`: expected e.g. DELIVRD=90,UNDELIV=5,EXPIRED=3,REJECTD=2 (at least one share above 0)")]
pub struct MixParseError(String);

impl std::str::FromStr for OutcomeMix {
    type Err = MixParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || MixParseError(s.to_owned());
        let mut mix = OutcomeMix {
            delivrd: 0,
            undeliv: 0,
            expired: 0,
            rejectd: 0,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, share) = part.split_once('=').ok_or_else(err)?;
            let share: u32 = share.trim().parse().map_err(|_| err())?;
            match name.trim().to_ascii_uppercase().as_str() {
                "DELIVRD" => mix.delivrd = share,
                "UNDELIV" => mix.undeliv = share,
                "EXPIRED" => mix.expired = share,
                "REJECTD" => mix.rejectd = share,
                _ => return Err(err()),
            }
        }
        if mix.weights().iter().all(|&w| w == 0) {
            return Err(err());
        }
        Ok(mix)
    }
}

/// Picks outcomes so that every run of `sum of shares` picks matches the mix exactly
/// (smooth weighted round-robin), interleaved rather than in blocks.
#[derive(Debug)]
pub struct OutcomePicker {
    weights: [i64; 4],
    total: i64,
    current: Mutex<[i64; 4]>,
}

impl OutcomePicker {
    /// A picker for `mix`; an all-zero mix picks DELIVRD.
    pub fn new(mix: OutcomeMix) -> Self {
        let weights = mix.weights().map(i64::from);
        OutcomePicker {
            weights,
            total: weights.iter().sum(),
            current: Mutex::new([0; 4]),
        }
    }

    /// The next outcome.
    pub fn pick(&self) -> Outcome {
        if self.total == 0 {
            return Outcome::Delivrd;
        }
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let mut best = 0;
        for i in 0..4 {
            current[i] += self.weights[i];
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= self.total;
        Outcome::ALL[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_match_the_mix_exactly_per_cycle() {
        let mix: OutcomeMix = "DELIVRD=7,UNDELIV=1,EXPIRED=1,REJECTD=1".parse().unwrap();
        let picker = OutcomePicker::new(mix);
        let mut counts = [0; 4];
        for _ in 0..100 {
            let o = picker.pick();
            counts[Outcome::ALL.iter().position(|&x| x == o).unwrap()] += 1;
        }
        assert_eq!(counts, [70, 10, 10, 10]);
    }

    #[test]
    fn rejects_bad_mixes() {
        assert!("DELIVRD=0".parse::<OutcomeMix>().is_err());
        assert!("LOST=3".parse::<OutcomeMix>().is_err());
        assert!("DELIVRD".parse::<OutcomeMix>().is_err());
    }
}
