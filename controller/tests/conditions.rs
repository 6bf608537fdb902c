//! The status derivation as a table: every phase, rollout state and session state.

use controller::conditions::{
    derive, merge, ready_pods, standby, transitions, Phase, Rollout, Transition,
};
use controller::spec_check::Stall;
use crds::status::BindState;
use crds::SessionStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use session_fixture::session;

#[path = "support/session.rs"]
mod session_fixture;

/// (Ready, Degraded, Reconciling, Stalled) as "T"/"F" plus the Ready reason.
fn summary(phase: &Phase, rollout: Rollout, s: Option<&SessionStatus>) -> (String, String) {
    let c = derive(phase, rollout, s);
    let types: Vec<&str> = c.iter().map(|c| c.type_).collect();
    assert_eq!(types, ["Ready", "Degraded", "Reconciling", "Stalled"]);
    let flags: String = c.iter().map(|c| if c.status { 'T' } else { 'F' }).collect();
    (flags, c[0].reason.clone())
}

#[test]
fn every_state_gives_the_expected_conditions() {
    let stall = Phase::Stalled(Stall {
        reason: "CredentialsSecretNotFound",
        message: "Secret sms/x not found".into(),
    });
    let sessions = [
        None,
        Some(session(BindState::Bound)),
        Some(session(BindState::Failback)),
        Some(session(BindState::Unbound)),
    ];
    //            phase,             rollout,           session index, flags (R D Rc S), Ready reason
    let table: Vec<(&Phase, Rollout, usize, &str, &str)> = vec![
        (
            &stall,
            Rollout::Pending,
            0,
            "FFFT",
            "CredentialsSecretNotFound",
        ),
        (
            &stall,
            Rollout::Complete,
            1,
            "FFFT",
            "CredentialsSecretNotFound",
        ),
        (
            &stall,
            Rollout::Complete,
            2,
            "FFFT",
            "CredentialsSecretNotFound",
        ),
        (
            &stall,
            Rollout::Complete,
            3,
            "FFFT",
            "CredentialsSecretNotFound",
        ),
        (&Phase::Suspended, Rollout::Pending, 0, "FFFF", "Suspended"),
        (&Phase::Suspended, Rollout::Complete, 1, "FFFF", "Suspended"),
        (&Phase::Suspended, Rollout::Complete, 2, "FFFF", "Suspended"),
        (&Phase::Suspended, Rollout::Complete, 3, "FFFF", "Suspended"),
        (
            &Phase::Active,
            Rollout::Pending,
            0,
            "FFTF",
            "RolloutInProgress",
        ),
        (
            &Phase::Active,
            Rollout::Pending,
            1,
            "FFTF",
            "RolloutInProgress",
        ),
        (
            &Phase::Active,
            Rollout::Pending,
            2,
            "FFTF",
            "RolloutInProgress",
        ),
        (
            &Phase::Active,
            Rollout::Pending,
            3,
            "FFTF",
            "RolloutInProgress",
        ),
        (
            &Phase::Active,
            Rollout::Complete,
            0,
            "FFTF",
            "AwaitingSession",
        ),
        (&Phase::Active, Rollout::Complete, 1, "TFFF", "Bound"),
        (
            &Phase::Active,
            Rollout::Complete,
            2,
            "TTFF",
            "BoundOnBackup",
        ),
        (&Phase::Active, Rollout::Complete, 3, "FTFF", "Unbound"),
    ];
    for (phase, rollout, i, flags, reason) in table {
        let got = summary(phase, rollout, sessions[i].as_ref());
        assert_eq!(
            got,
            (flags.to_string(), reason.to_string()),
            "{phase:?} {rollout:?} session #{i}"
        );
    }
}

#[test]
fn failover_is_degraded_with_reason_failed_over_and_says_why() {
    let s = session(BindState::Failback);
    let c = derive(&Phase::Active, Rollout::Complete, Some(&s));
    assert_eq!(c[1].reason, "FailedOver");
    assert!(c[0].message.contains("smsc2:2775"), "{}", c[0].message);
    assert!(
        c[0].message.contains("connection refused"),
        "{}",
        c[0].message
    );
    let u = derive(
        &Phase::Active,
        Rollout::Complete,
        Some(&session(BindState::Unbound)),
    );
    assert!(
        u[0].message
            .starts_with("not bound: primary smsc1:2775: connection refused; backup smsc2:2775"),
        "{}",
        u[0].message
    );
}

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(second).expect("valid time"))
}

#[test]
fn transition_times_change_only_on_transitions() {
    let bound = derive(
        &Phase::Active,
        Rollout::Complete,
        Some(&session(BindState::Bound)),
    );
    let first = merge(&[], &bound, Some(1), &at(100));
    assert!(first
        .iter()
        .all(|c| c.last_transition_time == at(100) && c.observed_generation == Some(1)));
    let again = merge(&first, &bound, Some(2), &at(200));
    assert!(
        again.iter().all(|c| c.last_transition_time == at(100)),
        "no status change keeps the times"
    );
    assert!(again.iter().all(|c| c.observed_generation == Some(2)));
    let backup = derive(
        &Phase::Active,
        Rollout::Complete,
        Some(&session(BindState::Failback)),
    );
    let failed_over = merge(&again, &backup, Some(2), &at(300));
    let time = |t: &str| {
        failed_over
            .iter()
            .find(|c| c.type_ == t)
            .map(|c| c.last_transition_time.clone())
    };
    assert_eq!(time("Ready"), Some(at(100)), "Ready stays True");
    assert_eq!(time("Degraded"), Some(at(300)), "Degraded turned True");
}

#[test]
fn transitions_produce_failover_failback_and_stall_events() {
    let cond = |s: BindState| {
        merge(
            &[],
            &derive(&Phase::Active, Rollout::Complete, Some(&session(s))),
            Some(1),
            &at(1),
        )
    };
    let bound = cond(BindState::Bound);
    let backup = cond(BindState::Failback);
    let unbound = cond(BindState::Unbound);
    assert!(matches!(
        transitions(&bound, &backup)[..],
        [Transition::FailedOver(_)]
    ));
    assert!(matches!(
        transitions(&backup, &bound)[..],
        [Transition::FailedBack(_)]
    ));
    assert!(matches!(
        transitions(&bound, &unbound)[..],
        [Transition::Unbound(_)]
    ));
    assert!(transitions(&backup, &backup).is_empty());
    assert!(transitions(&bound, &bound).is_empty());
    let stalled = merge(
        &[],
        &derive(
            &Phase::Stalled(Stall::invalid("bad")),
            Rollout::Pending,
            None,
        ),
        Some(1),
        &at(1),
    );
    assert!(
        matches!(&transitions(&bound, &stalled)[..], [Transition::Stalled { reason, .. }] if reason == "InvalidSpec")
    );
    assert!(transitions(&stalled, &stalled).is_empty());
}

#[test]
fn rollout_follows_the_deployment_status() {
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
    let mut d = Deployment::default();
    assert_eq!(Rollout::of(None), Rollout::Pending);
    assert_eq!(Rollout::of(Some(&d)), Rollout::Pending);
    d.metadata.generation = Some(3);
    d.spec.replicas = Some(1);
    d.status = Some(DeploymentStatus {
        observed_generation: Some(2),
        updated_replicas: Some(1),
        ..DeploymentStatus::default()
    });
    assert_eq!(
        Rollout::of(Some(&d)),
        Rollout::Pending,
        "generation not observed yet"
    );
    d.status = Some(DeploymentStatus {
        observed_generation: Some(3),
        updated_replicas: Some(1),
        ..DeploymentStatus::default()
    });
    assert_eq!(Rollout::of(Some(&d)), Rollout::Complete);
    d.spec.replicas = Some(0);
    d.status = Some(DeploymentStatus {
        observed_generation: Some(3),
        ..DeploymentStatus::default()
    });
    assert_eq!(Rollout::of(Some(&d)), Rollout::Complete, "scaled to zero");
}

#[test]
fn standby_ready_only_with_two_replicas_once_rolled_out() {
    let stall = Phase::Stalled(Stall {
        reason: "InvalidSpec",
        message: "x".into(),
    });
    let reason = |two: bool, phase: &Phase, rollout: Rollout, ready: i32| {
        standby(two, phase, rollout, ready).map(|c| {
            assert_eq!(c.type_, "StandbyReady");
            (c.status, c.reason)
        })
    };
    assert_eq!(reason(false, &Phase::Active, Rollout::Complete, 1), None);
    assert_eq!(reason(true, &Phase::Active, Rollout::Pending, 0), None);
    assert_eq!(reason(true, &Phase::Suspended, Rollout::Complete, 0), None);
    assert_eq!(reason(true, &stall, Rollout::Complete, 0), None);
    for ready in [0, 1] {
        assert_eq!(
            reason(true, &Phase::Active, Rollout::Complete, ready),
            Some((false, "StandbyMissing".into()))
        );
    }
    assert_eq!(
        reason(true, &Phase::Active, Rollout::Complete, 2),
        Some((true, "StandbyRunning".into()))
    );
    let missing = standby(true, &Phase::Active, Rollout::Complete, 1).expect("condition");
    assert_eq!(
        missing.message,
        "1/2 connector pods ready: no standby to take over"
    );
}

#[test]
fn ready_pods_reads_the_deployment_status() {
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
    assert_eq!(ready_pods(None), 0);
    let mut d = Deployment::default();
    assert_eq!(ready_pods(Some(&d)), 0);
    d.status = Some(DeploymentStatus {
        ready_replicas: Some(2),
        ..DeploymentStatus::default()
    });
    assert_eq!(ready_pods(Some(&d)), 2);
}
