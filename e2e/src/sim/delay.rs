//! [`Delay`]: a fixed delay or a random one drawn from a distribution.
//!
//! Text form (CLI flags and YAML strings): `200` or `fixed:200` (milliseconds),
//! `uniform:100-500`, `exp:300` (exponential with a 300 ms mean, capped at ten means).
//! In YAML a bare number is milliseconds too.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A delay in milliseconds: fixed, or sampled on every use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delay {
    /// Always the same.
    Fixed(Duration),
    /// Uniform between `min` and `max` (inclusive).
    Uniform {
        /// Shortest delay.
        min: Duration,
        /// Longest delay.
        max: Duration,
    },
    /// Exponential with the given mean, capped at ten means.
    Exponential {
        /// Mean delay.
        mean: Duration,
    },
}

impl Default for Delay {
    fn default() -> Self {
        Delay::Fixed(Duration::ZERO)
    }
}

impl Delay {
    /// A fixed delay of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Delay {
        Delay::Fixed(Duration::from_millis(ms))
    }

    /// Whether every sample is zero.
    pub fn is_zero(&self) -> bool {
        matches!(self, Delay::Fixed(d) if d.is_zero())
    }

    /// Draws one delay.
    pub fn sample(&self) -> Duration {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Uniform { min, max } => {
                let (lo, hi) = (min.as_micros() as u64, max.as_micros() as u64);
                if hi <= lo {
                    return min;
                }
                Duration::from_micros(rand::random_range(lo..=hi))
            }
            Delay::Exponential { mean } => {
                // Inverse transform sampling; 1 - u lies in (0, 1].
                let u: f64 = rand::random();
                let factor = (-(1.0 - u).ln()).min(10.0);
                mean.mul_f64(factor)
            }
        }
    }
}

/// Why a delay text cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid delay `{0}`: expected MS, fixed:MS, uniform:MIN-MAX or exp:MEAN (milliseconds)")]
pub struct DelayParseError(String);

impl FromStr for Delay {
    type Err = DelayParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DelayParseError(s.to_owned());
        let ms = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| err())
        };
        let s_trim = s.trim();
        match s_trim.split_once(':') {
            None => ms(s_trim).map(Delay::Fixed),
            Some(("fixed", v)) => ms(v).map(Delay::Fixed),
            Some(("uniform", v)) => {
                let (lo, hi) = v.split_once('-').ok_or_else(err)?;
                let (min, max) = (ms(lo)?, ms(hi)?);
                if min > max {
                    return Err(err());
                }
                Ok(Delay::Uniform { min, max })
            }
            Some(("exp", v)) => ms(v).map(|mean| Delay::Exponential { mean }),
            Some(_) => Err(err()),
        }
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delay::Fixed(d) => write!(f, "{}", d.as_millis()),
            Delay::Uniform { min, max } => {
                write!(f, "uniform:{}-{}", min.as_millis(), max.as_millis())
            }
            Delay::Exponential { mean } => write!(f, "exp:{}", mean.as_millis()),
        }
    }
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Millis(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Millis(ms) => Ok(Delay::from_millis(ms)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Delay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("250".parse(), Ok(Delay::from_millis(250)));
        assert_eq!("fixed:5".parse(), Ok(Delay::from_millis(5)));
        assert_eq!(
            "uniform:100-500".parse(),
            Ok(Delay::Uniform {
                min: Duration::from_millis(100),
                max: Duration::from_millis(500)
            })
        );
        assert_eq!(
            "exp:300".parse(),
            Ok(Delay::Exponential {
                mean: Duration::from_millis(300)
            })
        );
        assert!("uniform:500-100".parse::<Delay>().is_err());
        assert!("gauss:3".parse::<Delay>().is_err());
        assert!("abc".parse::<Delay>().is_err());
    }

    #[test]
    fn samples_stay_in_range() {
        let uniform: Delay = "uniform:10-20".parse().unwrap();
        let exp: Delay = "exp:10".parse().unwrap();
        for _ in 0..1000 {
            let d = uniform.sample();
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(20));
            assert!(exp.sample() <= Duration::from_millis(100));
        }
    }

    #[test]
    fn yaml_accepts_numbers_and_text() {
        let d: Delay = serde_yaml::from_str("150").unwrap();
        assert_eq!(d, Delay::from_millis(150));
        let d: Delay = serde_yaml::from_str("\"exp:40\"").unwrap();
        assert_eq!(d.to_string(), "exp:40");
    }
}
