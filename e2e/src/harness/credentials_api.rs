//! A fake of operator-management-service's credentials API.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

/// What the test credentials server answers.
#[derive(Clone, Debug)]
pub struct CredentialsAnswer {
    /// HTTP status.
    pub status: u16,
    /// Body (JSON for 200).
    pub body: String,
}

/// A small HTTP server playing operator-management-service's credentials API.
pub struct CredentialsServer {
    addr: SocketAddr,
    state: Arc<CredentialsState>,
    task: tokio::task::JoinHandle<()>,
}

struct CredentialsState {
    script: Mutex<VecDeque<CredentialsAnswer>>,
    fallback: Mutex<CredentialsAnswer>,
    requests: Mutex<Vec<(String, Option<String>)>>,
}

impl CredentialsServer {
    /// Starts it; answers from `script` in order, then `fallback` forever.
    pub async fn start(script: Vec<CredentialsAnswer>, fallback: CredentialsAnswer) -> Self {
        use axum::extract::{Path as UrlPath, State};
        use axum::http::{HeaderMap, StatusCode};
        let state = Arc::new(CredentialsState {
            script: Mutex::new(script.into()),
            fallback: Mutex::new(fallback),
            requests: Mutex::new(Vec::new()),
        });
        async fn answer(
            State(s): State<Arc<CredentialsState>>,
            UrlPath(op): UrlPath<String>,
            headers: HeaderMap,
        ) -> (StatusCode, String) {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if let Ok(mut r) = s.requests.lock() {
                r.push((op, auth));
            }
            let next = s.script.lock().ok().and_then(|mut q| q.pop_front());
            let a = match next {
                Some(a) => a,
                None => match s.fallback.lock() {
                    Ok(f) => f.clone(),
                    Err(_) => CredentialsAnswer {
                        status: 500,
                        body: String::new(),
                    },
                },
            };
            (
                StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                a.body,
            )
        }
        let app = axum::Router::new()
            .route(
                "/internal/v1/operators/{operator}/smpp-credentials",
                axum::routing::get(answer),
            )
            .with_state(state.clone());
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("credentials server: {e}"),
        };
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("credentials server: {e}"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// Its base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests so far: (operator in the path, Authorization header).
    pub fn requests(&self) -> Vec<(String, Option<String>)> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Replaces the answer given once the script is used up.
    pub fn set_fallback(&self, a: CredentialsAnswer) {
        if let Ok(mut f) = self.state.fallback.lock() {
            *f = a;
        }
    }
}

impl Drop for CredentialsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A 200 answer with these credentials.
pub fn credentials_ok(system_id: &str, password: &str) -> CredentialsAnswer {
    CredentialsAnswer {
        status: 200,
        body: serde_json::json!({"systemId": system_id, "password": password, "systemType": ""})
            .to_string(),
    }
}

/// An error answer.
pub fn credentials_error(status: u16) -> CredentialsAnswer {
    CredentialsAnswer {
        status,
        body: r#"{"error":"test"}"#.into(),
    }
}
