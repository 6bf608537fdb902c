//! The reconcile loop: spec checks, children, status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crds::config::ConnectorConfig;
use crds::mno::EndpointTlsSpec;
use crds::{MnoConnection, MnoConnectionStatus};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::Event;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::apply::{self, Outcome};
use crate::children::{self, Children};
use crate::conditions::{self, Phase, Rollout};
use crate::context::Context;
use crate::duplicates;
use crate::error::{Error, Result};
use crate::events;
use crate::network_policy;
use crate::spec_check::{check_spec, Stall};
use crate::FIELD_MANAGER;

/// Requeue interval of a healthy resource (a safety net; changes arrive by watch).
pub const RESYNC: Duration = Duration::from_secs(300);
/// Requeue interval of a Stalled resource (referenced Secrets are not watched).
pub const STALLED_RETRY: Duration = Duration::from_secs(60);

fn key(mno: &MnoConnection) -> String {
    format!("{}/{}", mno.namespace().unwrap_or_default(), mno.name_any())
}

/// Reconciles one MnoConnection; counted in the metrics.
pub async fn reconcile(mno: Arc<MnoConnection>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_inner(&mno, &ctx).await;
    ctx.metrics.observe(started.elapsed());
    match &result {
        Ok(_) => ctx.reset_backoff(&key(&mno)),
        Err(e) => ctx.metrics.failed(e),
    }
    result
}

/// Retry policy of a failed reconcile: exponential backoff per object.
pub fn error_policy(mno: Arc<MnoConnection>, error: &Error, ctx: Arc<Context>) -> Action {
    let delay = ctx.next_backoff(&key(&mno));
    tracing::warn!(object = %key(&mno), %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn reconcile_inner(mno: &MnoConnection, ctx: &Context) -> Result<Action> {
    if mno.meta().deletion_timestamp.is_some() {
        // Children go with their owner reference; nothing outside Kubernetes to clean.
        ctx.events.forget(&key(mno));
        return Ok(Action::await_change());
    }
    let namespace = mno.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let (phase, deployment) = match check_spec(mno) {
        Err(stall) => (Phase::Stalled(stall), None),
        Ok(config) => match admit(ctx, &namespace, mno, &config).await? {
            Admission::Refused(stall) => (Phase::Stalled(stall), None),
            Admission::Duplicate(stall) => {
                scale_down(ctx, mno, &config).await?;
                (Phase::Stalled(stall), None)
            }
            Admission::Run(network_policy) => {
                let deployment = apply_children(ctx, mno, &config, network_policy).await?;
                let phase = if mno.spec.suspend {
                    Phase::Suspended
                } else {
                    Phase::Active
                };
                (phase, Some(deployment))
            }
        },
    };
    let stalled = matches!(phase, Phase::Stalled(_));
    let observed = Observed {
        rollout: Rollout::of(deployment.as_ref()),
        ready_pods: conditions::ready_pods(deployment.as_ref()),
    };
    update_status(ctx, mno, &phase, observed).await?;
    Ok(Action::requeue(if stalled {
        STALLED_RETRY
    } else {
        RESYNC
    }))
}

/// Whether the connector of a valid spec may run.
enum Admission {
    /// Apply the children, and this NetworkPolicy when the controller creates them.
    Run(Option<Box<NetworkPolicy>>),
    /// Create or update no child; existing children are left as they are.
    Refused(Stall),
    /// An older resource has the same consumer: no child created, an existing connector is
    /// scaled to zero.
    Duplicate(Stall),
}

/// Checks, in order: the image allow-list, duplicates, the referenced Secrets, the
/// NetworkPolicy.
async fn admit(
    ctx: &Context,
    namespace: &str,
    mno: &MnoConnection,
    config: &ConnectorConfig,
) -> Result<Admission> {
    let image = mno
        .spec
        .connector
        .image
        .as_deref()
        .unwrap_or(&ctx.default_image);
    if let Err(stall) = ctx.image_policy.check(image) {
        return Ok(Admission::Refused(stall));
    }
    if let Some(store) = &ctx.peers {
        let peers = store.state();
        if let Some(stall) = duplicates::check(mno, peers.iter().map(|p| p.as_ref())) {
            return Ok(Admission::Duplicate(stall));
        }
    }
    if let Some(stall) = check_secrets(ctx, namespace, mno).await? {
        return Ok(Admission::Refused(stall));
    }
    let network_policy = match &ctx.network_policy {
        None => None,
        Some(settings) => match network_policy::build(mno, config, settings) {
            Ok(policy) => Some(Box::new(policy)),
            Err(stall) => return Ok(Admission::Refused(stall)),
        },
    };
    Ok(Admission::Run(network_policy))
}

/// Scales an existing connector Deployment to zero; creates nothing.
async fn scale_down(ctx: &Context, mno: &MnoConnection, config: &ConnectorConfig) -> Result<()> {
    let namespace = mno.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
    if api.get_opt(&children::child_name(mno)).await?.is_none() {
        return Ok(());
    }
    let mut deployment = build_children(ctx, mno, config)?.deployment;
    deployment.spec.replicas = Some(0);
    ensure_child::<Deployment>(ctx, mno, &namespace, deployment).await?;
    Ok(())
}

fn build_children(
    ctx: &Context,
    mno: &MnoConnection,
    config: &ConnectorConfig,
) -> Result<Children> {
    children::build(mno, config, &ctx.default_image).map_err(|e| Error::Serialize {
        what: "connector configuration",
        reason: e.to_string(),
    })
}

/// The Stalled reason when a Secret the pod would mount is missing or lacks a key.
async fn check_secrets(
    ctx: &Context,
    namespace: &str,
    mno: &MnoConnection,
) -> Result<Option<Stall>> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    if let Some(secret_ref) = &mno.spec.credentials.secret_ref {
        let keys = [secret_ref.key.as_str()];
        if let Some(stall) =
            secret_problem(&api, namespace, &secret_ref.name, &keys, "Credentials").await?
        {
            return Ok(Some(stall));
        }
    }
    let tls_specs = [Some(&mno.spec.primary), mno.spec.backup.as_ref()];
    for tls in tls_specs
        .into_iter()
        .flatten()
        .filter_map(|e| e.tls.as_ref())
    {
        if let Some((secret, keys)) = tls_keys(tls) {
            if let Some(stall) = secret_problem(&api, namespace, secret, &keys, "Tls").await? {
                return Ok(Some(stall));
            }
        }
    }
    Ok(None)
}

fn tls_keys(tls: &EndpointTlsSpec) -> Option<(&str, Vec<&'static str>)> {
    let secret = tls.secret_name.as_deref().filter(|_| tls.enabled)?;
    let mut keys = vec!["ca.crt"];
    if tls.client_certificate {
        keys.extend(["tls.crt", "tls.key"]);
    }
    Some((secret, keys))
}

async fn secret_problem(
    api: &Api<Secret>,
    namespace: &str,
    name: &str,
    keys: &[&str],
    what: &'static str,
) -> Result<Option<Stall>> {
    let Some(secret) = api.get_opt(name).await? else {
        return Ok(Some(Stall {
            reason: if what == "Tls" {
                "TlsSecretNotFound"
            } else {
                "CredentialsSecretNotFound"
            },
            message: format!(
                "Secret {namespace}/{name} not found: create it with the key(s) {}",
                keys.join(", ")
            ),
        }));
    };
    let has = |k: &str| {
        secret.data.as_ref().is_some_and(|d| d.contains_key(k))
            || secret
                .string_data
                .as_ref()
                .is_some_and(|d| d.contains_key(k))
    };
    let missing: Vec<&str> = keys.iter().copied().filter(|k| !has(k)).collect();
    if missing.is_empty() {
        return Ok(None);
    }
    Ok(Some(Stall {
        reason: if what == "Tls" {
            "TlsKeyMissing"
        } else {
            "CredentialsKeyMissing"
        },
        message: format!(
            "Secret {namespace}/{name} lacks the key(s) {}: add them",
            missing.join(", ")
        ),
    }))
}

async fn ensure_child<K>(
    ctx: &Context,
    mno: &MnoConnection,
    namespace: &str,
    desired: K,
) -> Result<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + Serialize
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    let (outcome, live) = apply::ensure(&api, desired).await?;
    if outcome != Outcome::Unchanged {
        tracing::info!(object = %key(mno), kind = %K::kind(&()), name = %live.name_any(), ?outcome, "child applied");
    }
    if let Some(event) = events::for_child(&K::kind(&()), &live.name_any(), outcome) {
        publish(ctx, mno, event).await;
    }
    Ok(live)
}

async fn apply_children(
    ctx: &Context,
    mno: &MnoConnection,
    config: &ConnectorConfig,
    network_policy: Option<Box<NetworkPolicy>>,
) -> Result<Deployment> {
    let namespace = mno.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let Children {
        config_map,
        service_account,
        role,
        role_binding,
        deployment,
        service,
    } = build_children(ctx, mno, config)?;
    ensure_child::<ConfigMap>(ctx, mno, &namespace, config_map).await?;
    ensure_child::<ServiceAccount>(ctx, mno, &namespace, service_account).await?;
    ensure_child::<Role>(ctx, mno, &namespace, role).await?;
    ensure_child::<RoleBinding>(ctx, mno, &namespace, role_binding).await?;
    ensure_child::<Service>(ctx, mno, &namespace, service).await?;
    if let Some(policy) = network_policy {
        ensure_child::<NetworkPolicy>(ctx, mno, &namespace, *policy).await?;
    }
    ensure_child::<Deployment>(ctx, mno, &namespace, deployment).await
}

fn sorted(conditions: &[Condition]) -> Vec<Condition> {
    let mut c = conditions.to_vec();
    c.sort_by(|a, b| a.type_.cmp(&b.type_));
    c
}

/// What the controller saw of the connector Deployment.
#[derive(Clone, Copy)]
struct Observed {
    rollout: Rollout,
    ready_pods: i32,
}

/// Writes observedGeneration and the conditions, only when they change.
async fn update_status(
    ctx: &Context,
    mno: &MnoConnection,
    phase: &Phase,
    observed: Observed,
) -> Result<()> {
    let existing = mno.status.clone().unwrap_or_default();
    for event in ctx.events.refusals(&key(mno), &existing.binds) {
        publish(ctx, mno, event).await;
    }
    let generation = mno.meta().generation;
    let mut desired = conditions::derive(phase, observed.rollout, existing.session.as_ref());
    desired.extend(conditions::standby(
        children::has_standby(mno),
        phase,
        observed.rollout,
        observed.ready_pods,
    ));
    let now = Time((ctx.clock)());
    let merged = conditions::merge(&existing.conditions, &desired, generation, &now);
    if existing.observed_generation == generation && sorted(&existing.conditions) == sorted(&merged)
    {
        return Ok(());
    }
    let status = MnoConnectionStatus {
        observed_generation: generation,
        conditions: merged.clone(),
        ..MnoConnectionStatus::default()
    };
    let patch = json!({
        "apiVersion": MnoConnection::api_version(&()),
        "kind": MnoConnection::kind(&()),
        "status": status,
    });
    let namespace = mno.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let api: Api<MnoConnection> = Api::namespaced(ctx.client.clone(), &namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let name = mno.name_any();
    let patch = Patch::Apply(&patch);
    apply::retry_conflicts(&name, || api.patch_status(&name, &params, &patch)).await?;
    for transition in conditions::transitions(&existing.conditions, &merged) {
        tracing::info!(object = %key(mno), ?transition, "state transition");
        publish(ctx, mno, events::for_transition(&transition)).await;
    }
    Ok(())
}

async fn publish(ctx: &Context, mno: &MnoConnection, event: Event) {
    let Some(event) = ctx.events.admit(&key(mno), event, (ctx.clock)()) else {
        return;
    };
    if let Err(e) = ctx.recorder.publish(&event, &mno.object_ref(&())).await {
        tracing::warn!(object = %key(mno), reason = %event.reason, error = %e, "cannot publish event");
    }
}
