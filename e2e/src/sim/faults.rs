//! Faults the simulator injects on demand: configured at start and replaced at run time.
//!
//! Each fault that fires on some requests only has a [`Trigger`]: `always`, every Nth
//! (`every=N`), at random with a probability (`rate=P`), the next N (`next=N`), or every
//! request for a time (`for=SECONDS`, e.g. a queue full for 20 s that then recovers).
//! Triggers count from the moment the fault set is installed.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use connector::protocol::codec::CommandStatus;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::delay::Delay;

/// A command_status given by `ESME_` name or number (`0x58`, `88`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub CommandStatus);

/// Why a status text cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid command_status `{0}`: expected an ESME_ name or a number such as 0x58")]
pub struct StatusParseError(String);

impl FromStr for Status {
    type Err = StatusParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let by_name = CommandStatus::ALL
            .iter()
            .find(|c| c.name().is_some_and(|n| n.eq_ignore_ascii_case(t)));
        if let Some(status) = by_name {
            return Ok(Status(*status));
        }
        let number = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => t.parse(),
        };
        number
            .map(|n| Status(CommandStatus(n)))
            .map_err(|_| StatusParseError(s.to_owned()))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "0x{:08X}", self.0 .0),
        }
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u32),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(Status(CommandStatus(n))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// When a fault fires. YAML: `always`, `{every: N}`, `{rate: P}`, `{next: N}`,
/// `{for: SECONDS}` or the text forms `every=N`, `rate=P`, `next=N`, `for=SECONDS`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// Every time.
    Always,
    /// Every Nth time (the Nth, 2Nth, ...).
    Every(u64),
    /// At random with this probability (0.0..=1.0).
    Rate(f64),
    /// The next N times, then never.
    Next(u64),
    /// Every time during this long after the fault set was installed, then never.
    For(Duration),
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Always => f.write_str("always"),
            Trigger::Every(n) => write!(f, "every={n}"),
            Trigger::Rate(p) => write!(f, "rate={p}"),
            Trigger::Next(n) => write!(f, "next={n}"),
            Trigger::For(d) => write!(f, "for={}", d.as_secs_f64()),
        }
    }
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Trigger;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("always, {every: N}, {rate: P}, {next: N} or {for: SECONDS}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Trigger, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Trigger, A::Error> {
                use serde::de::Error;
                let key: String = map.next_key()?.ok_or_else(|| {
                    A::Error::custom("empty trigger: expected every, rate or next")
                })?;
                let trigger = match key.as_str() {
                    "every" => Trigger::Every(map.next_value()?),
                    "next" => Trigger::Next(map.next_value()?),
                    "for" => {
                        let secs: f64 = map.next_value()?;
                        Trigger::For(seconds(secs).ok_or_else(|| {
                            A::Error::custom(format!("for {secs} is not a number of seconds"))
                        })?)
                    }
                    "rate" => {
                        let p: f64 = map.next_value()?;
                        if !(0.0..=1.0).contains(&p) {
                            return Err(A::Error::custom(format!("rate {p} is not within 0..=1")));
                        }
                        Trigger::Rate(p)
                    }
                    other => {
                        return Err(A::Error::unknown_field(
                            other,
                            &["every", "rate", "next", "for"],
                        ))
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(A::Error::custom(
                        "a trigger has exactly one of every, rate, next, for",
                    ));
                }
                Ok(trigger)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A duration of `secs` seconds, if that is a finite, non-negative number.
fn seconds(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs).ok()
}

impl Trigger {
    /// Whether the fault fires now; `counter` is this trigger's own counter, `installed`
    /// when its fault set was installed.
    fn fires(&self, counter: &AtomicU64, installed: Instant) -> bool {
        match *self {
            Trigger::Always => true,
            Trigger::Every(n) => n > 0 && (counter.fetch_add(1, Ordering::Relaxed) + 1) % n == 0,
            Trigger::Rate(p) => rand::random::<f64>() < p,
            Trigger::Next(n) => counter.fetch_add(1, Ordering::Relaxed) < n,
            Trigger::For(d) => installed.elapsed() < d,
        }
    }
}

/// Why a trigger text cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid trigger `{0}`: expected always, every=N, rate=P (0..=1), next=N or for=SECONDS")]
pub struct TriggerParseError(String);

impl FromStr for Trigger {
    type Err = TriggerParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || TriggerParseError(s.to_owned());
        let t = s.trim();
        if t == "always" {
            return Ok(Trigger::Always);
        }
        let (kind, value) = t.split_once('=').ok_or_else(err)?;
        match kind.trim() {
            "every" => value.trim().parse().map(Trigger::Every).map_err(|_| err()),
            "next" => value.trim().parse().map(Trigger::Next).map_err(|_| err()),
            "for" => value
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(seconds)
                .map(Trigger::For)
                .ok_or_else(err),
            "rate" => value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .map(Trigger::Rate)
                .ok_or_else(err),
            _ => Err(err()),
        }
    }
}

/// Answer matching submit_sm / data_sm with `status` instead of accepting them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRule {
    /// The command_status of the response.
    pub status: Status,
    /// Which submits.
    pub when: Trigger,
}

/// Why a `STATUS:TRIGGER` text cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rule `{0}`: expected STATUS:TRIGGER, e.g. ESME_RTHROTTLED:every=10")]
pub struct RuleParseError(String);

impl FromStr for StatusRule {
    type Err = RuleParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || RuleParseError(s.to_owned());
        let (status, when) = s.split_once(':').ok_or_else(err)?;
        Ok(StatusRule {
            status: status.parse().map_err(|_| err())?,
            when: when.parse().map_err(|_| err())?,
        })
    }
}

/// How bind_transceiver is refused, so that clients must bind TX + RX instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransceiverRefusal {
    /// generic_nack with ESME_RINVCMDID (as SMSCs that do not know the command).
    GenericNack,
    /// bind_transceiver_resp with this status (e.g. ESME_RINVCMDID, ESME_RINVBNDSTS).
    Response(Status),
}

impl FromStr for TransceiverRefusal {
    type Err = StatusParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "generic_nack" => Ok(TransceiverRefusal::GenericNack),
            other => other.parse().map(TransceiverRefusal::Response),
        }
    }
}

impl fmt::Display for TransceiverRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransceiverRefusal::GenericNack => f.write_str("generic_nack"),
            TransceiverRefusal::Response(s) => s.fmt(f),
        }
    }
}

impl<'de> Deserialize<'de> for TransceiverRefusal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for TransceiverRefusal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Make binds fail with `status`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindFailure {
    /// The status of the bind response (e.g. ESME_RBINDFAIL).
    pub status: Status,
    /// Which binds.
    pub when: Trigger,
}

/// What happens to a connection that is broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakAction {
    /// Close the socket normally (FIN).
    Close,
    /// Reset the connection (RST).
    Reset,
    /// Keep the socket open but never read or write again (half-open).
    Silent,
}

impl FromStr for BreakAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "close" => Ok(BreakAction::Close),
            "reset" => Ok(BreakAction::Reset),
            "silent" => Ok(BreakAction::Silent),
            other => Err(format!(
                "invalid action `{other}`: expected close, reset or silent"
            )),
        }
    }
}

/// Break a connection after it has received `after_pdus` PDUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionFault {
    /// PDUs received on the connection (the bind included) before it breaks.
    pub after_pdus: u64,
    /// How it breaks.
    pub action: BreakAction,
    /// How many connections to break (counted from installation); all if absent.
    #[serde(default)]
    pub connections: Option<u64>,
}

impl FromStr for ConnectionFault {
    type Err = String;

    /// `ACTION:N` or `ACTION:N:CONNECTIONS`, e.g. `reset:100` or `silent:5:1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("invalid connection fault `{s}`: expected ACTION:N[:CONNECTIONS]");
        let mut parts = s.split(':');
        let action = parts.next().ok_or_else(err)?.parse()?;
        let after_pdus = parts.next().and_then(|n| n.parse().ok()).ok_or_else(err)?;
        let connections = match parts.next() {
            Some(n) => Some(n.parse().map_err(|_| err())?),
            None => None,
        };
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(ConnectionFault {
            after_pdus,
            action,
            connections,
        })
    }
}

/// How new TCP connections are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefuseMode {
    /// Close the listening socket: connects fail with "connection refused".
    Refuse,
    /// Accept, then close at once.
    AcceptAndClose,
}

impl FromStr for RefuseMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "refuse" => Ok(RefuseMode::Refuse),
            "accept_and_close" => Ok(RefuseMode::AcceptAndClose),
            other => Err(format!(
                "invalid refuse mode `{other}`: expected refuse or accept_and_close"
            )),
        }
    }
}

/// The whole set of faults. The default injects none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Statuses for submit_sm / data_sm; the first rule that fires wins.
    pub submit_status: Vec<StatusRule>,
    /// submit_sm / data_sm that are never answered.
    pub no_response: Option<Trigger>,
    /// Delay before each submit_sm_resp / data_sm_resp (other responses are immediate).
    pub response_delay: Option<Delay>,
    /// Bind failures (checked before the credentials).
    pub bind_failure: Option<BindFailure>,
    /// Refuse bind_transceiver.
    pub refuse_transceiver: Option<TransceiverRefusal>,
    /// Send each receipt before the submit_sm_resp of its message (the response is held
    /// back by `early_receipt_hold_ms`).
    pub receipt_before_response: bool,
    /// How long a response is held back after its early receipt was sent.
    pub early_receipt_hold_ms: u64,
    /// Receipts sent twice.
    pub duplicate_receipts: Option<Trigger>,
    /// Break connections after some PDUs.
    pub connection: Option<ConnectionFault>,
    /// Refuse new connections.
    pub refuse_connections: Option<RefuseMode>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            submit_status: Vec::new(),
            no_response: None,
            response_delay: None,
            bind_failure: None,
            refuse_transceiver: None,
            receipt_before_response: false,
            early_receipt_hold_ms: 100,
            duplicate_receipts: None,
            connection: None,
            refuse_connections: None,
        }
    }
}

/// What the fault set decides for one submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitVerdict {
    /// Process normally.
    Accept,
    /// Answer with this error status.
    Reject(CommandStatus),
    /// Never answer.
    Ignore,
}

/// A fault set with the counters of its triggers.
#[derive(Debug)]
pub struct LiveFaults {
    faults: Faults,
    installed: Instant,
    submit_rules: Vec<AtomicU64>,
    no_response: AtomicU64,
    bind: AtomicU64,
    duplicate: AtomicU64,
    connections: AtomicU64,
}

impl LiveFaults {
    fn new(faults: Faults) -> Self {
        LiveFaults {
            submit_rules: faults
                .submit_status
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
            faults,
            installed: Instant::now(),
            no_response: AtomicU64::new(0),
            bind: AtomicU64::new(0),
            duplicate: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        }
    }

    /// The configuration.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Whether any submit fault is configured (fast path check).
    pub fn touches_submits(&self) -> bool {
        !self.faults.submit_status.is_empty() || self.faults.no_response.is_some()
    }

    /// Decides the fate of one submit_sm / data_sm.
    pub fn submit_verdict(&self) -> SubmitVerdict {
        if let Some(t) = &self.faults.no_response {
            if t.fires(&self.no_response, self.installed) {
                return SubmitVerdict::Ignore;
            }
        }
        for (rule, counter) in self.faults.submit_status.iter().zip(&self.submit_rules) {
            if rule.when.fires(counter, self.installed) {
                return SubmitVerdict::Reject(rule.status.0);
            }
        }
        SubmitVerdict::Accept
    }

    /// The status a bind must fail with, if the bind fault fires.
    pub fn bind_failure(&self) -> Option<CommandStatus> {
        let f = self.faults.bind_failure.as_ref()?;
        f.when
            .fires(&self.bind, self.installed)
            .then_some(f.status.0)
    }

    /// Whether this receipt is sent twice.
    pub fn duplicate_receipt(&self) -> bool {
        self.faults
            .duplicate_receipts
            .as_ref()
            .is_some_and(|t| t.fires(&self.duplicate, self.installed))
    }

    /// The break planned for a new connection, if any.
    pub fn connection_break(&self) -> Option<ConnectionFault> {
        let f = self.faults.connection?;
        match f.connections {
            Some(n) if self.connections.fetch_add(1, Ordering::Relaxed) >= n => None,
            _ => Some(f),
        }
    }
}

/// The fault set in force, replaceable at run time. Readers cache the `Arc` and look
/// at the generation to notice a change.
#[derive(Debug)]
pub struct FaultState {
    live: RwLock<Arc<LiveFaults>>,
    generation: AtomicU64,
    changed: tokio::sync::watch::Sender<u64>,
}

impl FaultState {
    /// Installs `faults`.
    pub fn new(faults: Faults) -> Self {
        FaultState {
            live: RwLock::new(Arc::new(LiveFaults::new(faults))),
            generation: AtomicU64::new(0),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    /// Notified whenever the fault set is replaced.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The fault set in force.
    pub fn current(&self) -> Arc<LiveFaults> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Changes every time the fault set is replaced.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Replaces the fault set (its triggers start counting afresh).
    pub fn set(&self, faults: Faults) {
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(LiveFaults::new(faults));
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.changed.send_replace(generation);
    }

    /// Changes the fault set in place with `f` (its triggers start counting afresh).
    pub fn update(&self, f: impl FnOnce(&mut Faults)) {
        let mut faults = self.current().faults.clone();
        f(&mut faults);
        self.set(faults);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_statuses_by_name_and_number() {
        assert_eq!(
            "ESME_RTHROTTLED".parse(),
            Ok(Status(CommandStatus::ESME_RTHROTTLED))
        );
        assert_eq!("0x14".parse(), Ok(Status(CommandStatus::ESME_RMSGQFUL)));
        assert_eq!("1025".parse(), Ok(Status(CommandStatus(0x401))));
        assert!("ESME_NOPE".parse::<Status>().is_err());
    }

    #[test]
    fn triggers_fire_as_specified() {
        let now = Instant::now();
        let c = AtomicU64::new(0);
        let every: Vec<bool> = (0..6).map(|_| Trigger::Every(3).fires(&c, now)).collect();
        assert_eq!(every, [false, false, true, false, false, true]);
        let c = AtomicU64::new(0);
        let next: Vec<bool> = (0..4).map(|_| Trigger::Next(2).fires(&c, now)).collect();
        assert_eq!(next, [true, true, false, false]);
        assert!(!Trigger::Rate(0.0).fires(&c, now));
        assert!(Trigger::Rate(1.0).fires(&c, now));
        let window = Trigger::For(Duration::from_secs(20));
        assert!(window.fires(&c, now));
        assert!(!window.fires(&c, now - Duration::from_secs(21)));
    }

    #[test]
    fn parses_rules_and_connection_faults() {
        let r: StatusRule = "ESME_RMSGQFUL:next=2".parse().unwrap();
        assert_eq!(r.when, Trigger::Next(2));
        assert!("ESME_RMSGQFUL".parse::<StatusRule>().is_err());
        assert!("rate=2".parse::<Trigger>().is_err());
        let c: ConnectionFault = "silent:5:1".parse().unwrap();
        assert_eq!(c.action, BreakAction::Silent);
        assert_eq!(c.connections, Some(1));
    }

    #[test]
    fn triggers_read_from_yaml_maps_and_text() {
        let t: Trigger = serde_yaml::from_str("{every: 5}").unwrap();
        assert_eq!(t, Trigger::Every(5));
        let t: Trigger = serde_yaml::from_str("always").unwrap();
        assert_eq!(t, Trigger::Always);
        let t: Trigger = serde_yaml::from_str("rate=0.5").unwrap();
        assert_eq!(t, Trigger::Rate(0.5));
        assert!(serde_yaml::from_str::<Trigger>("{rate: 3}").is_err());
        assert!(serde_yaml::from_str::<Trigger>("{every: 1, next: 2}").is_err());
        assert!(serde_yaml::from_str::<Trigger>("{sometimes: 1}").is_err());
        let t: Trigger = serde_yaml::from_str("{for: 20}").unwrap();
        assert_eq!(t, Trigger::For(Duration::from_secs(20)));
        assert_eq!(
            "for=1.5".parse(),
            Ok(Trigger::For(Duration::from_millis(1500)))
        );
        assert_eq!(t.to_string().parse(), Ok(t));
        assert!("for=-1".parse::<Trigger>().is_err());
        assert!(serde_yaml::from_str::<Trigger>("{for: -3}").is_err());
    }

    #[test]
    fn first_firing_rule_wins() {
        let state = FaultState::new(Faults {
            submit_status: vec![
                "ESME_RTHROTTLED:every=2".parse().unwrap(),
                "ESME_RMSGQFUL:next=1".parse().unwrap(),
            ],
            ..Faults::default()
        });
        let live = state.current();
        let verdicts: Vec<_> = (0..4).map(|_| live.submit_verdict()).collect();
        assert_eq!(
            verdicts,
            [
                SubmitVerdict::Reject(CommandStatus::ESME_RMSGQFUL),
                SubmitVerdict::Reject(CommandStatus::ESME_RTHROTTLED),
                SubmitVerdict::Accept,
                SubmitVerdict::Reject(CommandStatus::ESME_RTHROTTLED),
            ]
        );
    }
}
