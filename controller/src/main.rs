//! `mno-controller`: runs one SMPP connector per MnoConnection.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use controller::context::Context;
use controller::duplicates;
use controller::http::{router, HttpState};
use controller::image_policy::ImagePolicy;
use controller::leader::{self, LeaseLock};
use controller::metrics::Metrics;
use controller::reconcile::{error_policy, reconcile};
use controller::settings::{LogFormat, Settings};
use crds::MnoConnection;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::ListParams;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

const LEASE_DURATION: Duration = Duration::from_secs(15);

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn api<K>(client: &Client, namespace: &str) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    if namespace.is_empty() {
        Api::all(client.clone())
    } else {
        Api::namespaced(client.clone(), namespace)
    }
}

fn own_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok()
        })
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "default".into())
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = Settings::parse();
    init_logging(settings.log_format);
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "mno-controller stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let policy =
        ImagePolicy::or_default_image(&settings.allowed_images, &settings.connector_image)?;
    tracing::info!(allowed = %policy.describe(), "connector image allow-list");
    let client = Client::try_default().await?;
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(settings.http_address).await?;
    tracing::info!(address = %settings.http_address, "http listening");
    let app = router(HttpState {
        metrics: metrics.clone(),
        ready: ready.clone(),
    });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "http server stopped");
        }
    });

    let mnos: Api<MnoConnection> = api(&client, &settings.watch_namespace);
    mnos.list(&ListParams::default().limit(1))
        .await
        .map_err(|e| {
            format!("cannot list MnoConnections (is the CRD installed and RBAC granted?): {e}")
        })?;
    ready.store(true, Ordering::Relaxed);

    let identity = if settings.pod_name.is_empty() {
        format!("mno-controller-{}", std::process::id())
    } else {
        settings.pod_name.clone()
    };
    let lease = if settings.leader_election {
        let namespace = if settings.lease_namespace.is_empty() {
            own_namespace()
        } else {
            settings.lease_namespace.clone()
        };
        let lock = LeaseLock::new(
            Api::<Lease>::namespaced(client.clone(), &namespace),
            &settings.lease_name,
            &identity,
            LEASE_DURATION,
        );
        tracing::info!(%namespace, lease = %settings.lease_name, %identity, "waiting for the Lease");
        leader::acquire(&lock).await;
        tracing::info!("leading");
        Some(lock)
    } else {
        None
    };

    let reporter = Reporter {
        controller: controller::FIELD_MANAGER.into(),
        instance: (!settings.pod_name.is_empty()).then(|| settings.pod_name.clone()),
    };
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=mno-controller");
    let controller = owns::<ConfigMap>(
        Controller::new(mnos, watcher::Config::default()),
        &client,
        &settings,
        &owned,
    );
    let controller = owns::<ServiceAccount>(controller, &client, &settings, &owned);
    let controller = owns::<Role>(controller, &client, &settings, &owned);
    let controller = owns::<RoleBinding>(controller, &client, &settings, &owned);
    let controller = owns::<Service>(controller, &client, &settings, &owned);
    let controller = owns::<Deployment>(controller, &client, &settings, &owned);
    let mut ctx = Context::new(client.clone(), &settings.connector_image, reporter, metrics)
        .with_image_policy(policy);
    let controller = match settings.connector_network_policy.clone() {
        Some(network_policy) => {
            ctx = ctx.with_network_policy(network_policy);
            owns::<NetworkPolicy>(controller, &client, &settings, &owned)
        }
        None => controller,
    };
    // A change of one MnoConnection (created, its NATS settings edited, deleted) may stall or
    // release the others that share its consumer: reconcile them too.
    let store = controller.store();
    let controller = controller.watches(
        api::<MnoConnection>(&client, &settings.watch_namespace),
        watcher::Config::default(),
        move |changed: MnoConnection| {
            let peers = store.state();
            duplicates::clashing(&changed, peers.iter().map(|p| p.as_ref()))
                .into_iter()
                .map(ObjectRef::from_obj)
                .collect::<Vec<_>>()
        },
    );
    let ctx = Arc::new(ctx.with_peers(controller.store()));
    let running = controller
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(%object, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile error"),
            }
        });
    match lease {
        None => running.await,
        Some(lock) => {
            tokio::select! {
                () = running => {}
                () = leader::hold(&lock) => return Err("lost the leader Lease".into()),
            }
        }
    }
    Ok(())
}

fn owns<K>(
    controller: Controller<MnoConnection>,
    client: &Client,
    settings: &Settings,
    config: &watcher::Config,
) -> Controller<MnoConnection>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    controller.owns(api::<K>(client, &settings.watch_namespace), config.clone())
}
