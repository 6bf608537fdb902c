//! Server-side apply of a child, skipped when the child already holds what was applied last.

use std::fmt::Debug;
use std::future::Future;

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::children::{sha256_hex, APPLIED_HASH_ANNOTATION};
use crate::error::{Error, Result};
use crate::FIELD_MANAGER;

/// Attempts of an apply that the API server answers with 409 Conflict.
pub const CONFLICT_ATTEMPTS: usize = 3;

/// What happened to a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist and was created.
    Created,
    /// It differed from the desired object and was updated.
    Updated,
    /// It already matched; nothing was written.
    Unchanged,
}

/// The hash of a desired child, stored in [`APPLIED_HASH_ANNOTATION`].
pub fn desired_hash<K: Serialize>(desired: &K) -> Result<String> {
    let bytes = serde_json::to_vec(desired).map_err(|e| Error::Serialize {
        what: "child",
        reason: e.to_string(),
    })?;
    Ok(sha256_hex(&bytes))
}

/// Makes the child `desired` exist as given, by server-side apply under [`FIELD_MANAGER`],
/// unless the live object carries the same applied hash and still holds every applied field. Returns what happened and the live
/// object.
pub async fn ensure<K>(api: &Api<K>, mut desired: K) -> Result<(Outcome, K)>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    let name = desired
        .meta()
        .name
        .clone()
        .ok_or(Error::MissingMetadata("child name"))?;
    let hash = desired_hash(&desired)?;
    desired
        .annotations_mut()
        .insert(APPLIED_HASH_ANNOTATION.to_string(), hash.clone());
    let existing = api.get_opt(&name).await?;
    if let Some(live) = existing.as_ref() {
        if live.annotations().get(APPLIED_HASH_ANNOTATION) == Some(&hash) && holds(live, &desired)?
        {
            return Ok((Outcome::Unchanged, live.clone()));
        }
    }
    let outcome = if existing.is_some() {
        Outcome::Updated
    } else {
        Outcome::Created
    };
    let live = apply_with_retry(api, &name, &desired).await?;
    Ok((outcome, live))
}

/// Whether `live` still holds every field the controller applies: a matching hash alone would
/// miss drift such as `kubectl scale`.
fn holds<K: Serialize>(live: &K, desired: &K) -> Result<bool> {
    let to_value = |k: &K| {
        serde_json::to_value(k).map_err(|e| Error::Serialize {
            what: "child",
            reason: e.to_string(),
        })
    };
    Ok(contains(&to_value(live)?, &to_value(desired)?))
}

/// Whether every field of `desired` has the same value in `live` (lists element by element).
pub fn contains(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => d
            .iter()
            .all(|(k, v)| v.is_null() || l.get(k).is_some_and(|lv| contains(lv, v))),
        (Value::Array(l), Value::Array(d)) => {
            l.len() == d.len() && l.iter().zip(d).all(|(a, b)| contains(a, b))
        }
        (l, d) => l == d,
    }
}

/// Server-side apply (forced) that retries a 409 Conflict a few times.
pub async fn apply_with_retry<K>(api: &Api<K>, name: &str, object: &K) -> Result<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let patch = Patch::Apply(object);
    retry_conflicts(name, || api.patch(name, &params, &patch)).await
}

/// Runs `write` again while the API server answers 409 Conflict, [`CONFLICT_ATTEMPTS`] times
/// in all; any other error, or the last conflict, is returned. `name` is for the log.
pub async fn retry_conflicts<T, F, Fut>(name: &str, mut write: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = kube::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match write().await {
            Ok(written) => return Ok(written),
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < CONFLICT_ATTEMPTS => {
                tracing::debug!(name, attempt, "conflict on apply; retrying");
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
