//! SMPP time fields (SMPP 3.4 §7.1.1): `schedule_delivery_time`, `validity_period` and
//! `final_date` are empty or 16 characters `YYMMDDhhmmsstnnp`.
//!
//! - Absolute (`p` is `+` or `-`): a date and time, `t` tenths of a second, `nn` the offset from
//!   UTC in quarter hours (00 to 48) in the direction `p`.
//! - Relative (`p` is `R`): an amount of years, months, days, hours, minutes and seconds after
//!   the current SMSC time; `tnn` is not used. Amounts are not range-checked (`000000480000000R`,
//!   48 hours, is common).
//!
//! The codec keeps these fields as strings; [`SmppTime::parse`] is for a receiver that acts on
//! them (an SMSC answers a bad one with ESME_RINVSCHED or ESME_RINVEXPIRY).

use std::fmt;

/// SMPP relative time (`YYMMDDhhmmss000R`) of a validity in seconds.
pub fn relative_time(seconds: u32) -> String {
    let mut s = u64::from(seconds);
    let years = s / (365 * 86_400);
    s %= 365 * 86_400;
    let months = s / (30 * 86_400);
    s %= 30 * 86_400;
    let days = s / 86_400;
    s %= 86_400;
    format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}000R",
        years.min(99),
        months,
        days,
        s / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

/// A parsed, non-empty SMPP time field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmppTime {
    /// A point in time, in the local time of `utc_offset_quarters` quarter hours from UTC.
    Absolute {
        /// Years since 2000 (00 to 99).
        year: u8,
        /// 1 to 12.
        month: u8,
        /// 1 to 31.
        day: u8,
        /// 0 to 23.
        hour: u8,
        /// 0 to 59.
        minute: u8,
        /// 0 to 59.
        second: u8,
        /// Tenths of a second, 0 to 9.
        tenths: u8,
        /// Offset from UTC in quarter hours, -48 to 48.
        utc_offset_quarters: i8,
    },
    /// An amount of time after now.
    Relative {
        /// Years.
        years: u8,
        /// Months.
        months: u8,
        /// Days.
        days: u8,
        /// Hours.
        hours: u8,
        /// Minutes.
        minutes: u8,
        /// Seconds.
        seconds: u8,
    },
}

/// Why a time field is not in the SMPP form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeError {
    /// Not 16 characters.
    Length(usize),
    /// A character that must be a digit is not (0-based position).
    NotDigit(usize),
    /// The 16th character is not `+`, `-` or `R`.
    Indicator(u8),
    /// A part of an absolute time is out of its range.
    Range(&'static str),
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeError::Length(n) => write!(f, "{n} characters, expected 16 (YYMMDDhhmmsstnnp)"),
            TimeError::NotDigit(i) => write!(f, "character {} is not a digit", i + 1),
            TimeError::Indicator(b) => write!(
                f,
                "last character {:?} is not '+', '-' or 'R'",
                char::from(*b)
            ),
            TimeError::Range(part) => write!(f, "{part} out of range"),
        }
    }
}

impl std::error::Error for TimeError {}

impl SmppTime {
    /// Parses a field's characters (without its NUL); `Ok(None)` for an empty field.
    pub fn parse(field: &[u8]) -> Result<Option<SmppTime>, TimeError> {
        if field.is_empty() {
            return Ok(None);
        }
        let [digits @ .., p] = field else {
            return Ok(None);
        };
        if field.len() != 16 {
            return Err(TimeError::Length(field.len()));
        }
        if let Some(i) = digits.iter().position(|b| !b.is_ascii_digit()) {
            return Err(TimeError::NotDigit(i));
        }
        let two = |i: usize| (digits[i] - b'0') * 10 + (digits[i + 1] - b'0');
        if *p == b'R' {
            return Ok(Some(SmppTime::Relative {
                years: two(0),
                months: two(2),
                days: two(4),
                hours: two(6),
                minutes: two(8),
                seconds: two(10),
            }));
        }
        let sign: i8 = match p {
            b'+' => 1,
            b'-' => -1,
            other => return Err(TimeError::Indicator(*other)),
        };
        let (month, day, hour, minute, second) = (two(2), two(4), two(6), two(8), two(10));
        let quarters = two(13);
        let checks: [(bool, &'static str); 6] = [
            ((1..=12).contains(&month), "month"),
            ((1..=31).contains(&day), "day"),
            (hour <= 23, "hour"),
            (minute <= 59, "minute"),
            (second <= 59, "second"),
            (quarters <= 48, "UTC offset"),
        ];
        if let Some((_, part)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(TimeError::Range(part));
        }
        Ok(Some(SmppTime::Absolute {
            year: two(0),
            month,
            day,
            hour,
            minute,
            second,
            tenths: digits[12] - b'0',
            utc_offset_quarters: sign * quarters as i8,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_absolute_and_relative() {
        assert_eq!(SmppTime::parse(b""), Ok(None));
        assert_eq!(
            SmppTime::parse(b"261126143000504-"),
            Ok(Some(SmppTime::Absolute {
                year: 26,
                month: 11,
                day: 26,
                hour: 14,
                minute: 30,
                second: 0,
                tenths: 5,
                utc_offset_quarters: -4,
            }))
        );
        assert_eq!(
            SmppTime::parse(b"000000480000000R"),
            Ok(Some(SmppTime::Relative {
                years: 0,
                months: 0,
                days: 0,
                hours: 48,
                minutes: 0,
                seconds: 0,
            }))
        );
    }

    #[test]
    fn malformed_fields_say_why() {
        let cases: [(&[u8], TimeError); 9] = [
            (b"2611261430005", TimeError::Length(13)),
            (b"2611261430000000+", TimeError::Length(17)),
            (b"26112614300a000+", TimeError::NotDigit(11)),
            (b"261126143000000Z", TimeError::Indicator(b'Z')),
            (b"261326143000000+", TimeError::Range("month")),
            (b"261100143000000+", TimeError::Range("day")),
            (b"261126243000000+", TimeError::Range("hour")),
            (b"261126146000000+", TimeError::Range("minute")),
            (b"261126143000049+", TimeError::Range("UTC offset")),
        ];
        for (field, error) in cases {
            assert_eq!(
                SmppTime::parse(field),
                Err(error),
                "{}",
                String::from_utf8_lossy(field)
            );
        }
        assert_eq!(
            TimeError::Indicator(b'Z').to_string(),
            "last character 'Z' is not '+', '-' or 'R'"
        );
    }
}
