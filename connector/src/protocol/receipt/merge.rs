//! What a receipt does to the segment it is attributed to: the rule that a final status is
//! never replaced, and that a segment takes receipts of one SMSC id only.

use super::msgid::submit_key;
use super::DeliveryStatus;

/// The receipt a segment already holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldReceipt<'a> {
    /// Its status.
    pub status: DeliveryStatus,
    /// Whether it is final for the segment (an intermediate notification never is).
    pub is_final: bool,
    /// The id the receipt was written with (absent on rows stored before it was kept).
    pub receipt_id: Option<&'a str>,
    /// Its `stat`.
    pub stat: Option<&'a str>,
}

/// A receipt arriving for a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewReceipt<'a> {
    /// Its status.
    pub status: DeliveryStatus,
    /// Whether it is final for the segment (an intermediate notification never is).
    pub is_final: bool,
    /// Its id as written.
    pub receipt_id: &'a str,
    /// Its `stat`.
    pub stat: &'a str,
}

/// The outcome of merging a receipt into a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The segment takes the receipt's status.
    Store,
    /// The segment keeps its final status (a late non-final receipt, or the same final receipt
    /// again); the receipt's event is published for the message as it stands.
    KeepHeld,
    /// The receipt contradicts the one held (another SMSC id, or a second, different final
    /// status): it is not attributed to this segment.
    Conflict,
}

/// Merges `new` into a segment holding `held`.
pub fn merge(held: Option<HeldReceipt<'_>>, new: NewReceipt<'_>) -> Merge {
    let Some(held) = held else {
        return Merge::Store;
    };
    if held
        .receipt_id
        .is_some_and(|id| submit_key(id) != submit_key(new.receipt_id))
    {
        return Merge::Conflict;
    }
    match (held.is_final, new.is_final) {
        (false, _) => Merge::Store,
        (true, false) => Merge::KeepHeld,
        (true, true) if held.stat.is_none_or(|s| s == new.stat) && held.status == new.status => {
            Merge::KeepHeld
        }
        (true, true) => Merge::Conflict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held<'a>(status: DeliveryStatus, id: &'a str, stat: &'a str) -> Option<HeldReceipt<'a>> {
        Some(HeldReceipt {
            status,
            is_final: status.is_final(),
            receipt_id: Some(id),
            stat: Some(stat),
        })
    }

    fn new<'a>(status: DeliveryStatus, id: &'a str, stat: &'a str) -> NewReceipt<'a> {
        NewReceipt {
            status,
            is_final: status.is_final(),
            receipt_id: id,
            stat,
        }
    }

    use DeliveryStatus::{Delivered, Enroute, Undelivered};

    #[test]
    fn a_first_receipt_is_stored_and_a_non_final_one_is_replaced() {
        assert_eq!(merge(None, new(Enroute, "10", "ENROUTE")), Merge::Store);
        assert_eq!(
            merge(
                held(Enroute, "10", "ENROUTE"),
                new(Delivered, "10", "DELIVRD")
            ),
            Merge::Store
        );
    }

    #[test]
    fn an_intermediate_notification_is_never_final_and_the_final_receipt_replaces_it() {
        let intermediate = Some(HeldReceipt {
            status: Undelivered,
            is_final: false,
            receipt_id: Some("7"),
            stat: Some("UNDELIV"),
        });
        assert_eq!(
            merge(intermediate, new(Delivered, "7", "DELIVRD")),
            Merge::Store
        );
        let late = NewReceipt {
            status: Undelivered,
            is_final: false,
            receipt_id: "7",
            stat: "UNDELIV",
        };
        assert_eq!(
            merge(held(Delivered, "7", "DELIVRD"), late),
            Merge::KeepHeld,
            "a late intermediate notification changes nothing"
        );
    }

    #[test]
    fn a_final_status_is_kept_against_late_and_repeated_receipts() {
        let h = held(Delivered, "0A", "DELIVRD");
        assert_eq!(merge(h, new(Enroute, "0a", "ENROUTE")), Merge::KeepHeld);
        // The same receipt again, its id in another letter case and with leading zeros.
        assert_eq!(merge(h, new(Delivered, "000a", "DELIVRD")), Merge::KeepHeld);
    }

    #[test]
    fn another_id_or_a_second_final_status_conflicts() {
        let h = held(Delivered, "16", "DELIVRD");
        assert_eq!(merge(h, new(Delivered, "10", "DELIVRD")), Merge::Conflict);
        assert_eq!(merge(h, new(Enroute, "10", "ENROUTE")), Merge::Conflict);
        assert_eq!(merge(h, new(Undelivered, "16", "UNDELIV")), Merge::Conflict);
        let non_final = held(Enroute, "16", "ENROUTE");
        assert_eq!(
            merge(non_final, new(Delivered, "10", "DELIVRD")),
            Merge::Conflict
        );
    }

    #[test]
    fn rows_without_a_kept_receipt_id_compare_by_status() {
        let h = Some(HeldReceipt {
            status: Delivered,
            is_final: true,
            receipt_id: None,
            stat: None,
        });
        assert_eq!(merge(h, new(Delivered, "1", "DELIVRD")), Merge::KeepHeld);
        assert_eq!(merge(h, new(Undelivered, "1", "UNDELIV")), Merge::Conflict);
    }
}
