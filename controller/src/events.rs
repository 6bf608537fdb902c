//! Kubernetes events published on an MnoConnection.

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
