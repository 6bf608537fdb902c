//! An in-memory API server behind kube's tower-test mock service: it stores what is applied,
//! answers reads, records every request, and can be told to fail the next matching request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// HTTP method.
    pub method: Method,
    /// Path without the query.
    pub path: String,
    /// Query string.
    pub query: String,
    /// JSON body, if any.
    pub body: Option<Value>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    seen: Vec<Seen>,
    failures: Vec<(Method, String, u16)>,
    resource_version: u64,
}

/// The fake API server.
#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message})
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

impl FakeApi {
    /// A client talking to this fake; the fake serves until the client is dropped.
    pub fn client(&self) -> Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = self.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let response = fake.handle(request).await;
                send.send_response(response);
            }
        });
        Client::new(service, "default")
    }

    /// Stores an object at its API path.
    pub fn put(&self, path: &str, object: Value) {
        self.state().objects.insert(path.to_string(), object);
    }

    /// The object stored at a path.
    pub fn get(&self, path: &str) -> Option<Value> {
        self.state().objects.get(path).cloned()
    }

    /// Makes the next request with this method whose path contains `path_part` fail with `code`.
    pub fn fail_next(&self, method: Method, path_part: &str, code: u16) {
        self.state()
            .failures
            .push((method, path_part.to_string(), code));
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_seen(&self) {
        self.state().seen.clear();
    }

    /// The recorded requests other than reads.
    pub fn writes(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method != Method::GET)
            .collect()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn handle(&self, request: Request<Body>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        let bytes = request
            .into_body()
            .collect_bytes()
            .await
            .unwrap_or_default();
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        let (code, value) = self.respond(&method, &path, body.as_ref());
        self.state().seen.push(Seen {
            method,
            path,
            query,
            body,
        });
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        Response::builder()
            .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header("content-type", "application/json")
            .body(Body::from(bytes))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }

    fn respond(&self, method: &Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut state = self.state();
        if let Some(i) = state
            .failures
            .iter()
            .position(|(m, p, _)| m == method && path.contains(p.as_str()))
        {
            let (_, _, code) = state.failures.remove(i);
            return (code, status(code, "Injected", "injected failure"));
        }
        state.resource_version += 1;
        let rv = state.resource_version.to_string();
        match *method {
            Method::GET => match state.objects.get(path) {
                Some(v) => (200, v.clone()),
                None => (404, status(404, "NotFound", &format!("{path} not found"))),
            },
            Method::PATCH => {
                let (key, subresource) = match path.strip_suffix("/status") {
                    Some(parent) => (parent.to_string(), true),
                    None => (path.to_string(), false),
                };
                let patch = body.cloned().unwrap_or(Value::Null);
                let object = state.objects.entry(key).or_insert_with(|| json!({}));
                if subresource {
                    // Server-side apply of a status replaces what this manager owns: the
                    // controller's fields are all of status except `session`.
                    let session = object.pointer("/status/session").cloned();
                    object["status"] = patch["status"].clone();
                    if let Some(s) = session {
                        object["status"]["session"] = s;
                    }
                } else {
                    let metadata = object.get("metadata").cloned();
                    let status = object.get("status").cloned();
                    *object = patch;
                    if let Some(Value::Object(old)) = metadata {
                        for k in ["uid", "generation", "creationTimestamp"] {
                            if let Some(v) = old.get(k) {
                                object["metadata"][k] = v.clone();
                            }
                        }
                    }
                    if let Some(s) = status {
                        object["status"] = s;
                    }
                }
                object["metadata"]["resourceVersion"] = Value::String(rv);
                (200, object.clone())
            }
            Method::POST => {
                let mut created = body.cloned().unwrap_or(Value::Null);
                merge(&mut created, &json!({"metadata": {"resourceVersion": rv}}));
                (201, created)
            }
            _ => (
                405,
                status(405, "MethodNotAllowed", "not supported by the fake"),
            ),
        }
    }
}
