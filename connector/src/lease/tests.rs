use std::time::Duration;

use crds::config::PostgresConfig;

use super::*;
use crate::test_support::{unique, TestDb};

fn settings(name: &str, identity: &str, duration: Duration) -> LeaseSettings {
    LeaseSettings {
        name: name.into(),
        namespace: String::new(),
        identity: identity.into(),
        duration,
        renew: Duration::from_millis(200),
        retry: Duration::from_millis(100),
    }
}

fn pg(db: &TestDb) -> PostgresConfig {
    PostgresConfig {
        url: db.url(),
        ..PostgresConfig::default()
    }
}

fn candidate(db: &TestDb, s: &LeaseSettings) -> PgLease {
    match PgLease::new(&pg(db), s) {
        Ok(l) => l,
        Err(e) => panic!("lease: {e}"),
    }
}

async fn round(l: &mut PgLease) -> Round {
    match l.round().await {
        Ok(r) => r,
        Err(e) => panic!("round: {e}"),
    }
}

/// Terminates the holder's lease connection (the server session the row names).
async fn kill_holder_connection(db: &TestDb, name: &str) -> bool {
    let killed: Option<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(holder_pid) FROM smpp.leases WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(&db.pool)
    .await
    .unwrap_or(None);
    killed.unwrap_or(false)
}

#[tokio::test]
async fn one_holder_at_a_time_and_an_early_takeover_when_its_connection_dies() {
    let db = TestDb::new().await;
    let name = unique("lease");
    let (sa, sb) = (
        settings(&name, "a", Duration::from_secs(30)),
        settings(&name, "b", Duration::from_secs(30)),
    );
    let (mut a, mut b) = (candidate(&db, &sa), candidate(&db, &sb));
    assert_eq!(
        round(&mut a).await,
        Round::Acquired {
            fence: Duration::ZERO
        }
    );
    assert_eq!(round(&mut b).await, Round::HeldByOther);
    assert_eq!(round(&mut a).await, Round::Renewed);
    assert_eq!(round(&mut b).await, Round::HeldByOther);

    // A's connection dies long before the lease expires: B takes it, with the fence delay.
    a.forget_connection();
    let mut taken = None;
    for _ in 0..50 {
        match round(&mut b).await {
            Round::HeldByOther => tokio::time::sleep(Duration::from_millis(50)).await,
            r => {
                taken = Some(r);
                break;
            }
        }
    }
    assert_eq!(
        taken,
        Some(Round::Acquired {
            fence: sb.fence_delay()
        })
    );
    assert_eq!(sb.fence_delay(), Duration::from_millis(200) + STOP_BUDGET);
    // A comes back: B holds the row and the lock.
    assert_eq!(round(&mut a).await, Round::HeldByOther);
    assert_eq!(round(&mut b).await, Round::Renewed);

    // B gives it up: A takes it at once, without a fence.
    if let Err(e) = b.release().await {
        panic!("release: {e}");
    }
    assert_eq!(
        round(&mut a).await,
        Round::Acquired {
            fence: Duration::ZERO
        }
    );
    let transitions: i32 =
        sqlx::query_scalar("SELECT transitions FROM smpp.leases WHERE name = $1")
            .bind(&name)
            .fetch_one(&db.pool)
            .await
            .unwrap_or(-1);
    assert_eq!(transitions, 3);
    db.drop_db().await;
}

#[tokio::test]
async fn an_expired_lease_is_taken_even_while_its_holder_keeps_its_connection() {
    let db = TestDb::new().await;
    let name = unique("lease");
    let mut a = candidate(&db, &settings(&name, "a", Duration::from_millis(300)));
    let mut b = candidate(&db, &settings(&name, "b", Duration::from_millis(300)));
    assert_eq!(
        round(&mut a).await,
        Round::Acquired {
            fence: Duration::ZERO
        }
    );
    assert_eq!(round(&mut b).await, Round::HeldByOther);
    // A stops renewing (stalled) but its connection stays.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        round(&mut b).await,
        Round::Acquired {
            fence: Duration::ZERO
        }
    );
    assert_eq!(round(&mut a).await, Round::HeldByOther);
    db.drop_db().await;
}

async fn wait_term(
    rx: &mut tokio::sync::watch::Receiver<Option<u64>>,
    want: impl Fn(Option<u64>) -> bool,
) -> bool {
    tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|t| want(*t)))
        .await
        .is_ok_and(|r| r.is_ok())
}

#[tokio::test]
async fn candidates_hand_over_on_release_and_fence_themselves_when_the_lease_breaks() {
    let db = TestDb::new().await;
    let name = unique("lease");
    let sa = settings(&name, "a", Duration::from_secs(5));
    let sb = settings(&name, "b", Duration::from_secs(5));
    let a = spawn(Backend::Postgres(candidate(&db, &sa)), sa.clone());
    let mut ta = a.watch_term();
    assert!(wait_term(&mut ta, |t| t == Some(1)).await, "a active");
    let b = spawn(Backend::Postgres(candidate(&db, &sb)), sb.clone());
    let mut tb = b.watch_term();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(*tb.borrow(), None, "b stays standby while a renews");

    // A's lease connection is killed: A ends its term at its next renewal, B takes the lease
    // early and starts only after the fence delay.
    assert!(
        kill_holder_connection(&db, &name).await,
        "a's lock connection found"
    );
    let killed = tokio::time::Instant::now();
    assert!(wait_term(&mut ta, |t| t.is_none()).await, "a fenced");
    let fenced = killed.elapsed();
    assert!(wait_term(&mut tb, |t| t == Some(1)).await, "b active");
    let started = killed.elapsed();
    // A notices within one renewal (plus the failing round); B waits that renewal period
    // and the stop budget after it took the lease, which was after the kill.
    assert!(
        fenced <= sa.renew + Duration::from_millis(700),
        "a fenced after {fenced:?}"
    );
    assert!(started >= sb.fence_delay(), "b started after {started:?}");
    assert_eq!(*ta.borrow(), None, "a does not take it back");

    // B releases: A takes a second term at once.
    b.release().await;
    assert!(wait_term(&mut ta, |t| t == Some(2)).await, "a active again");
    a.release().await;
    let holder: String = sqlx::query_scalar("SELECT holder FROM smpp.leases WHERE name = $1")
        .bind(&name)
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|_| "?".into());
    assert_eq!(holder, "", "released");
    db.drop_db().await;
}

#[test]
fn settings_default_to_the_operator_and_the_pod() {
    let c = LeaseConfig {
        identity: "pod-1".into(),
        ..LeaseConfig::default()
    };
    let s = LeaseSettings::resolve(&c, "op-7");
    assert_eq!(s.name, "smpp-connector-op-7");
    assert_eq!(s.identity, "pod-1");
    assert_eq!(s.duration, Duration::from_secs(c.duration_seconds));
    assert_eq!(
        s.fence_delay(),
        Duration::from_secs(c.renew_seconds) + STOP_BUDGET
    );
}

/// An in-memory `coordination.k8s.io/v1` Lease API of one namespace behind a tower-test mock:
/// GET, POST (409 when it exists), PUT (409 when the resourceVersion is stale); `fail` makes
/// every request answer 500 (an API server outage).
mod fake_api {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use http::{Method, Request, Response};
    use kube::client::Body;
    use serde_json::{json, Value};

    #[derive(Clone, Default)]
    pub struct Store {
        pub lease: Arc<Mutex<Option<Value>>>,
        pub fail: Arc<AtomicBool>,
        version: Arc<Mutex<u64>>,
    }

    fn status(code: u16, reason: &str) -> (u16, Value) {
        (
            code,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "code": code, "reason": reason, "message": reason}),
        )
    }

    impl Store {
        fn answer(&self, method: &Method, body: &[u8]) -> (u16, Value) {
            if self.fail.load(Ordering::SeqCst) {
                return status(500, "InternalError");
            }
            let mut lease = self.lease.lock().unwrap_or_else(|e| e.into_inner());
            let mut version = self.version.lock().unwrap_or_else(|e| e.into_inner());
            let sent: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            match *method {
                Method::GET => match lease.as_ref() {
                    Some(l) => (200, l.clone()),
                    None => status(404, "NotFound"),
                },
                Method::POST if lease.is_some() => status(409, "AlreadyExists"),
                Method::PUT
                    if lease.as_ref().map(|l| &l["metadata"]["resourceVersion"])
                        != Some(&sent["metadata"]["resourceVersion"]) =>
                {
                    status(409, "Conflict")
                }
                Method::POST | Method::PUT => {
                    *version += 1;
                    let mut stored = sent;
                    stored["metadata"]["resourceVersion"] = json!(version.to_string());
                    *lease = Some(stored.clone());
                    (if *method == Method::POST { 201 } else { 200 }, stored)
                }
                _ => status(405, "MethodNotAllowed"),
            }
        }

        pub fn holder(&self) -> Option<String> {
            let lease = self.lease.lock().unwrap_or_else(|e| e.into_inner());
            lease.as_ref()?["spec"]["holderIdentity"]
                .as_str()
                .map(str::to_string)
        }
    }

    /// A client whose requests the store answers until the client is dropped.
    pub fn client(store: Store) -> kube::Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let method = request.method().clone();
                let body = request
                    .into_body()
                    .collect_bytes()
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                let (code, value) = store.answer(&method, &body);
                let response = Response::builder()
                    .status(code)
                    .body(Body::from(serde_json::to_vec(&value).unwrap_or_default()));
                if let Ok(r) = response {
                    send.send_response(r);
                }
            }
        });
        kube::Client::new(service, "sms")
    }
}

fn kube_settings(identity: &str) -> LeaseSettings {
    LeaseSettings {
        namespace: "sms".into(),
        ..settings("mtn-gh-connector", identity, Duration::from_secs(6))
    }
}

#[tokio::test]
async fn the_kubernetes_lease_is_held_by_one_handed_over_on_release_and_lost_on_an_outage() {
    let store = fake_api::Store::default();
    let (sa, sb) = (kube_settings("pod-a"), kube_settings("pod-b"));
    let mut ka = KubeLease::new(fake_api::client(store.clone()), &sa);
    let mut kb = KubeLease::new(fake_api::client(store.clone()), &sb);
    let round = |r: Result<Round, LeaseError>| match r {
        Ok(r) => r,
        Err(e) => panic!("round: {e}"),
    };
    assert_eq!(
        round(ka.round().await),
        Round::Acquired {
            fence: Duration::ZERO
        }
    );
    assert_eq!(round(kb.round().await), Round::HeldByOther);
    assert_eq!(round(ka.round().await), Round::Renewed);
    assert_eq!(store.holder().as_deref(), Some("pod-a"));

    // The candidate loops: a holds it, b waits; a releases, b takes it at its next retry.
    let a = spawn(Backend::Kubernetes(ka), sa.clone());
    let b = spawn(Backend::Kubernetes(kb), sb.clone());
    let (mut ta, mut tb) = (a.watch_term(), b.watch_term());
    assert!(wait_term(&mut ta, |t| t == Some(1)).await, "a active");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(*tb.borrow(), None, "b waits while a renews");
    a.release().await;
    assert!(
        wait_term(&mut tb, |t| t == Some(1)).await,
        "b active after the release"
    );
    assert_eq!(store.holder().as_deref(), Some("pod-b"));

    // The API server fails: b keeps its term for two thirds of the duration, then ends it.
    store.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let failed = tokio::time::Instant::now();
    assert!(wait_term(&mut tb, |t| t.is_none()).await, "b fenced");
    let after = failed.elapsed();
    assert!(
        after >= sb.duration * 2 / 3 - sb.renew && after < sb.duration,
        "b ended its term {after:?} after the outage began"
    );
    b.release().await;
}
