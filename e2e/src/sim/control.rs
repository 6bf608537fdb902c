//! An HTTP control API over running instances, for the binary (`--control ADDR`): the
//! same run-time control the handle gives tests, for the demo and the kind suite.
//!
//! Every route takes `?instance=N` (index of the `--listen` address, default 0):
//! `GET /stats`, `GET /faults`, `PUT /faults` (JSON [`Faults`]), `POST /mo` (JSON
//! [`MoRequest`]), `POST /break/{close|reset|silent}`, `POST /unbind`,
//! `GET /accepted-per-second`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::delivery::MoMessage;
use super::faults::{BreakAction, Faults};
use super::handle::SimHandle;

/// Which instance a request is about.
#[derive(Debug, Deserialize)]
pub struct Which {
    /// Index of the instance (order of `--listen`); 0 if absent.
    #[serde(default)]
    pub instance: usize,
}

/// Body of `POST /mo`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoRequest {
    /// The ESME account whose receiver gets it.
    pub system_id: String,
    /// Sender.
    pub from: String,
    /// Recipient.
    pub to: String,
    /// Text (ASCII / GSM default alphabet subset, at most 254 octets).
    pub text: String,
}

type Sims = Arc<Vec<Arc<SimHandle>>>;

/// A request for an instance that does not exist.
struct NoInstance {
    asked: usize,
    count: usize,
}

impl IntoResponse for NoInstance {
    fn into_response(self) -> Response {
        let text = format!("no instance {} (there are {})", self.asked, self.count);
        (StatusCode::NOT_FOUND, text).into_response()
    }
}

fn pick(sims: &Sims, which: &Which) -> Result<Arc<SimHandle>, NoInstance> {
    sims.get(which.instance).cloned().ok_or(NoInstance {
        asked: which.instance,
        count: sims.len(),
    })
}

/// The control routes over `sims`.
pub fn router(sims: Vec<Arc<SimHandle>>) -> Router {
    Router::new()
        .route("/stats", get(stats))
        .route("/accepted-per-second", get(per_second))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/mo", post(mo))
        .route("/break/{action}", post(break_all))
        .route("/unbind", post(unbind))
        .with_state(Arc::new(sims))
}

async fn stats(State(sims): State<Sims>, Query(w): Query<Which>) -> Response {
    match pick(&sims, &w) {
        Ok(sim) => Json(sim.stats()).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn per_second(State(sims): State<Sims>, Query(w): Query<Which>) -> Response {
    match pick(&sims, &w) {
        Ok(sim) => Json(sim.accepted_per_second()).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn get_faults(State(sims): State<Sims>, Query(w): Query<Which>) -> Response {
    match pick(&sims, &w) {
        Ok(sim) => Json(sim.faults()).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn put_faults(
    State(sims): State<Sims>,
    Query(w): Query<Which>,
    Json(faults): Json<Faults>,
) -> Response {
    match pick(&sims, &w) {
        Ok(sim) => {
            sim.set_faults(faults);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn mo(
    State(sims): State<Sims>,
    Query(w): Query<Which>,
    Json(req): Json<MoRequest>,
) -> Response {
    let sim = match pick(&sims, &w) {
        Ok(sim) => sim,
        Err(e) => return e.into_response(),
    };
    match MoMessage::text(&req.system_id, &req.from, &req.to, &req.text) {
        Ok(mo) => {
            sim.inject_mo(mo);
            StatusCode::ACCEPTED.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

async fn break_all(
    State(sims): State<Sims>,
    Query(w): Query<Which>,
    Path(action): Path<String>,
) -> Response {
    let sim = match pick(&sims, &w) {
        Ok(sim) => sim,
        Err(e) => return e.into_response(),
    };
    match action.parse::<BreakAction>() {
        Ok(action) => Json(sim.break_connections(action)).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

async fn unbind(State(sims): State<Sims>, Query(w): Query<Which>) -> Response {
    match pick(&sims, &w) {
        Ok(sim) => Json(sim.unbind_all()).into_response(),
        Err(e) => e.into_response(),
    }
}
