//! Kubernetes events published on an MnoConnection: children created or updated, session
//! transitions (failover, failback, unbound, bound again), bind refusals, credential errors.
//! [`EventGate`] keeps a flapping link from flooding the API server: at most one event per
//! object, reason and action per minute; the ones held back are counted in the next one's
//! note.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crds::status::{BindSlotStatus, BindStatus};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::runtime::events::{Event, EventType};

use crate::apply::Outcome;
use crate::conditions::Transition;

/// The event for a child that was created or updated; none when unchanged.
pub fn for_child(kind: &str, name: &str, outcome: Outcome) -> Option<Event> {
    let (reason, verb) = match outcome {
        Outcome::Created => ("Created", "created"),
        Outcome::Updated => ("Updated", "updated"),
        Outcome::Unchanged => return None,
    };
    Some(Event {
        type_: EventType::Normal,
        reason: reason.into(),
        note: Some(format!("{kind} {name} {verb}")),
        action: format!("{reason}{kind}"),
        secondary: None,
    })
}

/// The event for a session or state transition.
pub fn for_transition(t: &Transition) -> Event {
    let (type_, reason, note, action) = match t {
        Transition::FailedOver(m) => (EventType::Warning, "FailedOver", m.clone(), "Failover"),
        Transition::FailedBack(m) => (EventType::Normal, "FailedBack", m.clone(), "Failback"),
        Transition::Unbound(m) => (EventType::Warning, "Unbound", m.clone(), "Bind"),
        Transition::Bound(m) => (EventType::Normal, "Bound", m.clone(), "Bind"),
        Transition::Stalled { reason, message } => {
            let r = if reason.starts_with("Credentials") {
                "CredentialsError"
            } else {
                "Stalled"
            };
            (EventType::Warning, r, message.clone(), "Reconcile")
        }
    };
    Event {
        type_,
        reason: reason.into(),
        note: Some(truncate(note, 1000)),
        action: action.into(),
        secondary: None,
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// The events for binds refused by the SMSC that `seen` had not seen yet (a refusal is a bind
/// index and the time it entered the refused state); marks them seen.
pub fn bind_refusals(binds: &[BindStatus], seen: &mut HashSet<(u32, String)>) -> Vec<Event> {
    let mut out = Vec::new();
    for b in binds.iter().filter(|b| b.state == BindSlotStatus::Refused) {
        let since = b.since.0.to_string();
        if seen.insert((b.index, since)) {
            out.push(Event {
                type_: EventType::Warning,
                reason: "BindRefused".into(),
                note: Some(truncate(
                    format!(
                        "bind #{} to the {} refused: {}",
                        b.index,
                        b.endpoint.as_str(),
                        b.last_error.as_deref().unwrap_or("no reason given")
                    ),
                    1000,
                )),
                action: "Bind".into(),
                secondary: None,
            });
        }
    }
    seen.retain(|(i, since)| {
        binds.iter().any(|b| {
            b.index == *i && b.state == BindSlotStatus::Refused && b.since.0.to_string() == *since
        })
    });
    out
}

/// How often one reason may be published on one object.
pub const EVENT_INTERVAL: SignedDuration = SignedDuration::from_secs(60);

#[derive(Default)]
struct Gate {
    /// (object, reason, action): when last published, how many held back since.
    last: HashMap<(String, String, String), (Timestamp, u32)>,
    refusals: HashMap<String, HashSet<(u32, String)>>,
}

/// Deduplicates events per object and reason: one per [`EVENT_INTERVAL`], the others counted.
#[derive(Default)]
pub struct EventGate {
    inner: Mutex<Gate>,
}

impl EventGate {
    fn with<T>(&self, f: impl FnOnce(&mut Gate) -> T) -> T {
        let mut g = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    /// `event` to publish now on `object`, its note saying how many of its reason were held
    /// back since the last one; `None` when one of its reason went out less than a minute ago.
    pub fn admit(&self, object: &str, mut event: Event, now: Timestamp) -> Option<Event> {
        self.with(|g| {
            let key = (
                object.to_string(),
                event.reason.clone(),
                event.action.clone(),
            );
            match g.last.get_mut(&key) {
                Some((at, held)) if now.duration_since(*at) < EVENT_INTERVAL => {
                    *held += 1;
                    None
                }
                entry => {
                    let held = entry.map_or(0, |(_, h)| *h);
                    if held > 0 {
                        let note = event.note.take().unwrap_or_default();
                        event.note = Some(truncate(
                            format!("{note} ({held} more like it in the last minute)"),
                            1000,
                        ));
                    }
                    g.last.insert(key, (now, 0));
                    Some(event)
                }
            }
        })
    }

    /// The events of the binds of `object` newly refused.
    pub fn refusals(&self, object: &str, binds: &[BindStatus]) -> Vec<Event> {
        self.with(|g| bind_refusals(binds, g.refusals.entry(object.to_string()).or_default()))
    }

    /// Forgets a deleted object.
    pub fn forget(&self, object: &str) {
        self.with(|g| {
            g.last.retain(|(o, _, _), _| o != object);
            g.refusals.remove(object);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::render::EndpointRole;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn event(reason: &str, note: &str) -> Event {
        Event {
            type_: EventType::Warning,
            reason: reason.into(),
            note: Some(note.into()),
            action: "Bind".into(),
            secondary: None,
        }
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_flapping_link_gets_one_event_per_reason_per_minute_with_a_count() {
        let gate = EventGate::default();
        assert!(gate
            .admit("sms/a", event("Unbound", "lost"), at(0))
            .is_some());
        for s in 1..=5 {
            assert!(gate
                .admit("sms/a", event("Unbound", "lost"), at(s))
                .is_none());
        }
        // Another reason, another object: not held back.
        assert!(gate.admit("sms/a", event("Bound", "back"), at(2)).is_some());
        assert!(gate
            .admit("sms/b", event("Unbound", "lost"), at(3))
            .is_some());
        let next = gate.admit("sms/a", event("Unbound", "lost"), at(61));
        assert_eq!(
            next.and_then(|e| e.note).as_deref(),
            Some("lost (5 more like it in the last minute)")
        );
        let quiet = gate.admit("sms/a", event("Unbound", "lost"), at(200));
        assert_eq!(quiet.and_then(|e| e.note).as_deref(), Some("lost"));
        gate.forget("sms/a");
        assert!(gate
            .admit("sms/a", event("Unbound", "lost"), at(201))
            .is_some());
    }

    fn bind(index: u32, state: BindSlotStatus, since: i64) -> BindStatus {
        BindStatus {
            index,
            pod: "p".into(),
            endpoint: EndpointRole::Primary,
            state,
            mode: None,
            since: Time(at(since)),
            window_in_use: 0,
            last_error: Some("bind refused: 0x0000000D ESME_RBINDFAIL".into()),
        }
    }

    #[test]
    fn each_refusal_is_one_event() {
        let gate = EventGate::default();
        let refused = [
            bind(0, BindSlotStatus::Bound, 0),
            bind(1, BindSlotStatus::Refused, 5),
        ];
        let events = gate.refusals("sms/a", &refused);
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].note.as_deref(),
            Some("bind #1 to the primary refused: bind refused: 0x0000000D ESME_RBINDFAIL")
        );
        assert!(gate.refusals("sms/a", &refused).is_empty(), "seen");
        // Refused again later (a new since): a new refusal.
        let again = [bind(1, BindSlotStatus::Refused, 65)];
        assert_eq!(gate.refusals("sms/a", &again).len(), 1);
    }
}
