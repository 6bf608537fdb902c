//! Classing of every SMPP 3.4 command_status as success, retryable or permanent.

use crate::protocol::codec::CommandStatus;

/// What a command_status means for the request that received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusClass {
    /// `ESME_ROK`.
    Ok,
    /// The SMSC asks the client to slow down (`ESME_RTHROTTLED`): retry after a delay.
    Throttled,
    /// The SMSC's queue is full (`ESME_RMSGQFUL`): pause longer, then retry.
    QueueFull,
    /// A temporary failure on the SMSC side: the same request may succeed later.
    Retryable,
    /// The request itself is wrong or refused: sending it again will not help.
    Permanent,
    /// A bind was refused for its credentials (`ESME_RINVPASWD`, `ESME_RINVSYSID`).
    Credentials,
}

impl StatusClass {
    /// Whether a request with this status may be sent again.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            StatusClass::Throttled | StatusClass::QueueFull | StatusClass::Retryable
        )
    }
}

/// Classes `status`. Every status of SMPP 3.4 has an explicit entry; reserved and
/// vendor-specific values are retryable (an unknown SMSC condition is assumed temporary so
/// that nothing is dropped; retries are bounded by the retry policy).
pub fn classify(status: CommandStatus) -> StatusClass {
    use CommandStatus as S;
    match status {
        S::ESME_ROK => StatusClass::Ok,
        S::ESME_RTHROTTLED => StatusClass::Throttled,
        S::ESME_RMSGQFUL => StatusClass::QueueFull,
        S::ESME_RINVPASWD | S::ESME_RINVSYSID => StatusClass::Credentials,
        // Temporary conditions of the SMSC or the session.
        S::ESME_RSYSERR
        | S::ESME_RINVBNDSTS
        | S::ESME_RALYBND
        | S::ESME_RBINDFAIL
        | S::ESME_RSUBMITFAIL
        | S::ESME_RX_T_APPN
        | S::ESME_RDELIVERYFAILURE
        | S::ESME_RUNKNOWNERR
        | S::ESME_RQUERYFAIL
        | S::ESME_RCANCELFAIL
        | S::ESME_RREPLACEFAIL => StatusClass::Retryable,
        // The request is malformed or refused for what it contains.
        S::ESME_RINVMSGLEN
        | S::ESME_RINVCMDLEN
        | S::ESME_RINVCMDID
        | S::ESME_RINVPRTFLG
        | S::ESME_RINVREGDLVFLG
        | S::ESME_RINVSRCADR
        | S::ESME_RINVDSTADR
        | S::ESME_RINVMSGID
        | S::ESME_RINVSERTYP
        | S::ESME_RINVNUMDESTS
        | S::ESME_RINVDLNAME
        | S::ESME_RINVDESTFLAG
        | S::ESME_RINVSUBREP
        | S::ESME_RINVESMCLASS
        | S::ESME_RCNTSUBDL
        | S::ESME_RINVSRCTON
        | S::ESME_RINVSRCNPI
        | S::ESME_RINVDSTTON
        | S::ESME_RINVDSTNPI
        | S::ESME_RINVSYSTYP
        | S::ESME_RINVREPFLAG
        | S::ESME_RINVNUMMSGS
        | S::ESME_RINVSCHED
        | S::ESME_RINVEXPIRY
        | S::ESME_RINVDFTMSGID
        | S::ESME_RX_P_APPN
        | S::ESME_RX_R_APPN
        | S::ESME_RINVOPTPARSTREAM
        | S::ESME_ROPTPARNOTALLWD
        | S::ESME_RINVPARLEN
        | S::ESME_RMISSINGOPTPARAM
        | S::ESME_RINVOPTPARAMVAL => StatusClass::Permanent,
        _ => StatusClass::Retryable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_specified_status_has_an_explicit_class() {
        // The catch-all arm must only see reserved or vendor-specific values.
        for &status in CommandStatus::ALL {
            let class = classify(status);
            if status.is_ok() {
                assert_eq!(class, StatusClass::Ok);
            } else {
                assert_ne!(class, StatusClass::Ok, "{status}");
            }
        }
        assert_eq!(CommandStatus::ALL.len(), 48);
    }

    #[test]
    fn key_statuses() {
        assert_eq!(
            classify(CommandStatus::ESME_RTHROTTLED),
            StatusClass::Throttled
        );
        assert_eq!(
            classify(CommandStatus::ESME_RMSGQFUL),
            StatusClass::QueueFull
        );
        assert_eq!(
            classify(CommandStatus::ESME_RINVPASWD),
            StatusClass::Credentials
        );
        assert_eq!(
            classify(CommandStatus::ESME_RINVDSTADR),
            StatusClass::Permanent
        );
        assert!(classify(CommandStatus::ESME_RSYSERR).is_retryable());
        assert!(classify(CommandStatus(0x0400)).is_retryable());
        assert!(!classify(CommandStatus::ESME_RINVESMCLASS).is_retryable());
    }
}
