use super::*;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use std::collections::VecDeque;
use std::sync::Mutex as StdMutex;
use testkit::schema_errors;

const GOOD: &str = r#"{"systemId": "ghasi01", "password": "s3cret", "systemType": "", "backup": {"systemId": "ghasi01b", "password": "s3cret2"}}"#;

/// One scripted answer of the fake operator-management-service.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: &'static str,
    delay: Duration,
}

fn answer(status: u16, body: &'static str) -> Answer {
    Answer {
        status,
        body,
        delay: Duration::ZERO,
    }
}

#[derive(Default)]
struct Fake {
    answers: StdMutex<VecDeque<Answer>>,
    seen: StdMutex<Vec<(String, String)>>,
}

async fn handler(
    State(fake): State<Arc<Fake>>,
    Path(operator): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    fake.seen.lock().unwrap().push((operator, auth));
    let a = fake
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(answer(500, "no more answers"));
    tokio::time::sleep(a.delay).await;
    (StatusCode::from_u16(a.status).unwrap(), a.body.to_string())
}

struct Setup {
    fake: Arc<Fake>,
    store: CredentialsStore,
    token: tempfile_path::TempFile,
}

mod tempfile_path {
    /// A file removed on drop.
    pub struct TempFile(pub std::path::PathBuf);
    impl TempFile {
        pub fn new(content: &str) -> Self {
            let p = std::env::temp_dir().join(crate::test_support::unique("smpp-cred"));
            std::fs::write(&p, content).unwrap();
            Self(p)
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
use tempfile_path::TempFile;

async fn setup(answers: Vec<Answer>, timeout_ms: u64) -> Setup {
    let fake = Arc::new(Fake {
        answers: StdMutex::new(answers.into()),
        ..Default::default()
    });
    let app = Router::new()
        .route(
            "/internal/v1/operators/{operator}/smpp-credentials",
            get(handler),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let token = TempFile::new("token-1\n");
    let source = CredentialsSource::OperatorManagement {
        base_url: format!("http://{addr}/"),
        token_file: token.0.display().to_string(),
        timeout_ms,
    };
    let policy = RetryPolicy {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
        slow: Duration::from_millis(30),
    };
    let store = CredentialsStore::new("mtn-gh", &source, policy).unwrap();
    Setup { fake, store, token }
}

#[tokio::test]
async fn ok_answer_gives_checked_credentials_with_the_bearer_token_from_the_file() {
    let s = setup(vec![answer(200, GOOD), answer(200, GOOD)], 1000).await;
    let c = s.store.fetch_once().await.unwrap();
    assert_eq!(c.primary.system_id, "ghasi01");
    assert_eq!(c.primary.password.expose(), "s3cret");
    assert_eq!(c.primary.system_type, None);
    assert_eq!(c.for_endpoint(EndpointRole::Backup).system_id, "ghasi01b");
    assert_eq!(c.for_endpoint(EndpointRole::Primary).system_id, "ghasi01");
    // The token is read again for each request (rotation of the projected token).
    std::fs::write(&s.token.0, "token-2").unwrap();
    s.store.fetch_once().await.unwrap();
    let seen = s.fake.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("mtn-gh".to_string(), "Bearer token-1".to_string()),
            ("mtn-gh".to_string(), "Bearer token-2".to_string())
        ]
    );
}

#[tokio::test]
async fn refused_token_and_unknown_operator() {
    let s = setup(
        vec![answer(401, ""), answer(403, ""), answer(404, "")],
        1000,
    )
    .await;
    assert_eq!(
        s.store.fetch_once().await,
        Err(CredentialsError::Unauthorized(401))
    );
    assert_eq!(
        s.store.fetch_once().await,
        Err(CredentialsError::Unauthorized(403))
    );
    assert_eq!(
        s.store.fetch_once().await,
        Err(CredentialsError::UnknownOperator)
    );
    let p = RetryPolicy::default();
    assert_eq!(p.delay(1, &CredentialsError::UnknownOperator), p.slow);
    assert_eq!(
        p.delay(3, &CredentialsError::Server(503)),
        Duration::from_secs(4)
    );
    assert_eq!(p.delay(30, &CredentialsError::Timeout), p.max);
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let s = setup(
        vec![answer(500, "boom"), answer(503, ""), answer(200, GOOD)],
        1000,
    )
    .await;
    let c = s.store.refresh().await;
    assert_eq!(c.primary.system_id, "ghasi01");
    assert_eq!(s.fake.seen.lock().unwrap().len(), 3);
    assert_eq!(s.store.last_error(), None);
    // Kept: get() does not ask again.
    assert_eq!(s.store.get().await, c);
    assert_eq!(s.fake.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn refresh_replaces_rotated_credentials() {
    let rotated = r#"{"systemId": "ghasi01", "password": "n3w"}"#;
    let s = setup(
        vec![answer(200, GOOD), answer(401, ""), answer(200, rotated)],
        1000,
    )
    .await;
    assert_eq!(s.store.get().await.primary.password.expose(), "s3cret");
    let c = s.store.refresh().await;
    assert_eq!(c.primary.password.expose(), "n3w");
    assert_eq!(c.backup, None);
    assert_eq!(s.store.get().await.primary.password.expose(), "n3w");
}

#[tokio::test]
async fn timeout_is_transient() {
    let slow = Answer {
        status: 200,
        body: GOOD,
        delay: Duration::from_secs(5),
    };
    let s = setup(vec![slow], 100).await;
    let e = s.store.fetch_once().await.unwrap_err();
    assert_eq!(e, CredentialsError::Timeout);
    assert!(e.is_transient());
}

#[tokio::test]
async fn bad_bodies_are_invalid() {
    let s = setup(
        vec![
            answer(200, "{not json"),
            answer(200, r#"{"systemId": "sixteen-chars-xx", "password": "p"}"#),
            answer(200, r#"{"systemId": "a", "password": "ninechars"}"#),
            answer(200, r#"{"systemId": "a"}"#),
            answer(
                200,
                r#"{"systemId": "a", "password": "p", "backup": {"systemId": ""}}"#,
            ),
        ],
        1000,
    )
    .await;
    for _ in 0..5 {
        let e = s.store.fetch_once().await.unwrap_err();
        assert!(matches!(e, CredentialsError::Invalid(_)), "{e:?}");
        assert!(!e.is_transient());
    }
}

#[tokio::test]
async fn missing_token_file_is_reported() {
    let s = setup(vec![], 1000).await;
    std::fs::remove_file(&s.token.0).unwrap();
    assert!(matches!(
        s.store.fetch_once().await,
        Err(CredentialsError::TokenFile { .. })
    ));
    assert!(s.fake.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn file_source() {
    let f = TempFile::new(GOOD);
    let source = CredentialsSource::File {
        path: f.0.display().to_string(),
    };
    let store = CredentialsStore::new("x", &source, RetryPolicy::default()).unwrap();
    assert_eq!(store.get().await.primary.system_id, "ghasi01");
    let missing = CredentialsSource::File {
        path: "/nonexistent/creds.json".into(),
    };
    let store = CredentialsStore::new("x", &missing, RetryPolicy::default()).unwrap();
    assert!(matches!(
        store.fetch_once().await,
        Err(CredentialsError::File { .. })
    ));
}

#[test]
fn passwords_never_show_in_debug() {
    let c = Credentials::from_json(GOOD.as_bytes()).unwrap();
    let shown = format!("{c:?} {}", c.primary.password);
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("ghasi01"));
}

#[test]
fn parser_agrees_with_the_schema() {
    let cases = [
        GOOD,
        r#"{"systemId": "a", "password": ""}"#,
        r#"{"systemId": "a", "password": "12345678", "systemType": "123456789012", "extra": 1}"#,
        r#"{"systemId": "", "password": "p"}"#,
        r#"{"systemId": "a", "password": "123456789"}"#,
        r#"{"systemId": "a", "password": "p", "systemType": "1234567890123"}"#,
        r#"{"password": "p"}"#,
        r#"{"systemId": "a", "password": "p", "backup": {"systemId": "b"}}"#,
        r#"{"systemId": 5, "password": "p"}"#,
    ];
    let values: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| serde_json::from_str(c).unwrap())
        .collect();
    let verdicts = schema_errors("credentials-response.schema.json", &values);
    for (case, errors) in cases.iter().zip(verdicts) {
        assert_eq!(
            Credentials::from_json(case.as_bytes()).is_ok(),
            errors.is_empty(),
            "{case}: schema says {errors:?}"
        );
    }
}

#[tokio::test]
async fn serves_the_session_engine() {
    use crate::session::CredentialsProvider;
    let rotated = r#"{"systemId": "ghasi01", "password": "n3w"}"#;
    let s = setup(
        vec![answer(500, ""), answer(200, GOOD), answer(200, rotated)],
        1000,
    )
    .await;
    // One attempt per call: the engine backs off itself.
    assert!(s.store.credentials(EndpointRole::Primary).await.is_err());
    let c = s.store.credentials(EndpointRole::Backup).await.unwrap();
    assert_eq!(
        (c.system_id.as_str(), c.password.as_str()),
        ("ghasi01b", "s3cret2")
    );
    assert_eq!(
        s.store
            .credentials(EndpointRole::Primary)
            .await
            .unwrap()
            .password,
        "s3cret"
    );
    CredentialsProvider::refresh(&s.store, EndpointRole::Primary)
        .await
        .unwrap();
    let c = s.store.credentials(EndpointRole::Backup).await.unwrap();
    assert_eq!(c.password, "n3w", "no backup set any more: the primary's");
    assert_eq!(s.fake.seen.lock().unwrap().len(), 3);
}

/// A numeric password in a hand-written body: serde would quote it in its error.
const NUMERIC_PASSWORD: &str = r#"{"systemId": "ghasi01", "password": 73915428}"#;
const NUMERIC_BACKUP_PASSWORD: &str = r#"{"systemId": "ghasi01", "password": "ok", "backup": {"systemId": "b", "password": 73915428}}"#;

fn assert_names_field_only(shown: &str, field: &str) {
    assert!(!shown.contains("73915428"), "secret leaked: {shown}");
    assert!(shown.contains(field), "{shown}");
}

#[tokio::test]
async fn wrong_typed_password_from_the_api_is_reported_by_field_name_only() {
    use crate::session::CredentialsProvider;
    let s = setup(
        vec![
            answer(200, NUMERIC_PASSWORD),
            answer(200, NUMERIC_BACKUP_PASSWORD),
        ],
        1000,
    )
    .await;
    // What the session engine gets is what health reasons and the status carry.
    let engine_error = s
        .store
        .credentials(EndpointRole::Primary)
        .await
        .unwrap_err();
    assert_names_field_only(&engine_error.0, "password must be a string");
    let last = s.store.last_error().unwrap();
    assert_names_field_only(&last.to_string(), "password");
    assert_names_field_only(&format!("{last:?}"), "password");
    let backup = s.store.fetch_once().await.unwrap_err();
    assert_names_field_only(&backup.to_string(), "backup.password must be a string");
}

#[tokio::test]
async fn wrong_typed_password_in_a_secret_file_is_reported_by_field_name_only() {
    for body in [NUMERIC_PASSWORD, NUMERIC_BACKUP_PASSWORD] {
        let f = TempFile::new(body);
        let source = CredentialsSource::File {
            path: f.0.display().to_string(),
        };
        let store = CredentialsStore::new("x", &source, RetryPolicy::default()).unwrap();
        let e = store.try_refresh().await.unwrap_err();
        assert!(matches!(e, CredentialsError::Invalid(_)), "{e:?}");
        assert_names_field_only(&e.to_string(), "password must be a string");
        assert_names_field_only(&store.last_error().unwrap().to_string(), "password");
    }
}

#[test]
fn other_shape_errors_name_the_field() {
    let cases = [
        (r#"[73915428]"#, "the body must be a JSON object"),
        (r#"{"password": "p"}"#, "systemId is missing"),
        (
            r#"{"systemId": 73915428, "password": "p"}"#,
            "systemId must be a string",
        ),
        (
            r#"{"systemId": "a", "password": "p", "systemType": 73915428}"#,
            "systemType must be a string",
        ),
        (
            r#"{"systemId": "a", "password": "p", "backup": 73915428}"#,
            "backup must be a JSON object",
        ),
    ];
    for (body, expected) in cases {
        let e = Credentials::from_json(body.as_bytes()).unwrap_err();
        assert_names_field_only(&e.to_string(), expected);
    }
}
