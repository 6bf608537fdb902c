//! The manual switch of `kubectl mno failover` / `failback`: the annotation
//! [`ENDPOINT_ANNOTATION`] of the connector's own MnoConnection, read every
//! [`POLL_INTERVAL`] while a term runs (inside Kubernetes, with the status writer's access):
//! `backup` pins the session to the backup endpoint, anything else (or none) lets failover and
//! failback run as configured.

use std::collections::BTreeMap;
use std::time::Duration;

use crds::mno::ENDPOINT_ANNOTATION;
use crds::MnoConnection;
use kube::Api;
use tokio_util::sync::CancellationToken;

use crate::session::{EndpointPin, SessionHandle};

/// How often the annotation is read.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The pin the annotations ask for.
pub fn pin_of(annotations: Option<&BTreeMap<String, String>>) -> EndpointPin {
    match annotations
        .and_then(|a| a.get(ENDPOINT_ANNOTATION))
        .map(|v| v.trim())
    {
        Some(v) if v.eq_ignore_ascii_case("backup") => EndpointPin::Backup,
        _ => EndpointPin::Auto,
    }
}

/// Follows the annotation of `name` into the session's pin until `stop`; a failed read keeps
/// the pin as it is (and is logged once per change of outcome).
pub async fn run(
    api: Api<MnoConnection>,
    name: String,
    session: SessionHandle,
    stop: CancellationToken,
) {
    let mut last: Option<EndpointPin> = None;
    let mut failing = false;
    loop {
        match api.get(&name).await {
            Ok(mno) => {
                failing = false;
                let pin = pin_of(mno.metadata.annotations.as_ref());
                if last != Some(pin) {
                    if last.is_some() || pin != EndpointPin::Auto {
                        tracing::warn!(
                            ?pin,
                            annotation = ENDPOINT_ANNOTATION,
                            "manual endpoint switch"
                        );
                    }
                    session.pin_endpoint(pin);
                    last = Some(pin);
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot read the MnoConnection for a manual switch");
                }
                failing = true;
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_backup_pins() {
        let a = |v: &str| BTreeMap::from([(ENDPOINT_ANNOTATION.to_string(), v.to_string())]);
        assert_eq!(pin_of(Some(&a("backup"))), EndpointPin::Backup);
        assert_eq!(pin_of(Some(&a(" Backup "))), EndpointPin::Backup);
        assert_eq!(pin_of(Some(&a("primary"))), EndpointPin::Auto);
        assert_eq!(pin_of(Some(&a(""))), EndpointPin::Auto);
        assert_eq!(pin_of(Some(&BTreeMap::new())), EndpointPin::Auto);
        assert_eq!(pin_of(None), EndpointPin::Auto);
    }
}
