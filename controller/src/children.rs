//! Pure functions from an `MnoConnection` (and its rendered configuration) to the objects that
//! run its connector.

use std::collections::BTreeMap;

use crds::config::{defaults, ConnectorConfig, LeaseBackend};
use crds::render::{paths, EndpointRole};
use crds::MnoConnection;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, KeyToPath, ObjectFieldSelector,
    PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ProjectedVolumeSource, ResourceRequirements, SeccompProfile, SecretVolumeSource,
    SecurityContext, Service, ServiceAccount, ServiceAccountTokenProjection, ServicePort,
    ServiceSpec, Volume, VolumeMount, VolumeProjection, WeightedPodAffinityTerm,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

/// Suffix of every child's name: `{mnoconnection}-connector`.
pub const CHILD_SUFFIX: &str = "-connector";
/// Pod annotation carrying the SHA-256 of the connector configuration.
pub const CONFIG_CHECKSUM_ANNOTATION: &str = "smpp.ghasi.io/config-checksum";
/// Annotation on every child carrying the SHA-256 of what the controller applied.
pub const APPLIED_HASH_ANNOTATION: &str = "smpp.ghasi.io/applied-hash";
/// Label holding the operator id.
pub const OPERATOR_LABEL: &str = "smpp.ghasi.io/operator";
/// Name of the connector container and of its HTTP port.
const CONTAINER: &str = "connector";
const HTTP_PORT_NAME: &str = "http";
/// UID and GID the connector runs as (the distroless `nonroot` user).
const NON_ROOT_ID: i64 = 65532;
/// Lifetime of the projected token for operator-management-service.
const TOKEN_EXPIRATION_SECONDS: i64 = 3600;

/// Every object of one connector.
#[derive(Clone, Debug, PartialEq)]
pub struct Children {
    /// The connector's configuration file.
    pub config_map: ConfigMap,
    /// The connector's identity.
    pub service_account: ServiceAccount,
    /// What the connector may do: read its MnoConnection and patch its status; with two
    /// replicas also hold its Lease.
    pub role: Role,
    /// Binds the Role to the ServiceAccount.
    pub role_binding: RoleBinding,
    /// The connector pods: one (Recreate), or an active and a standby (RollingUpdate).
    pub deployment: Deployment,
    /// The metrics Service.
    pub service: Service,
}

/// Name of the children of `mno`.
pub fn child_name(mno: &MnoConnection) -> String {
    format!("{}{CHILD_SUFFIX}", mno.name_any())
}

/// Labels of every child; the first two also select the pod.
pub fn labels(mno: &MnoConnection) -> BTreeMap<String, String> {
    let mut l = selector_labels(mno);
    l.insert("app.kubernetes.io/component".into(), "connector".into());
    l.insert(
        "app.kubernetes.io/managed-by".into(),
        crate::FIELD_MANAGER.into(),
    );
    l.insert(OPERATOR_LABEL.into(), mno.spec.operator_id.clone());
    l
}

/// Labels that select the connector pod.
pub fn selector_labels(mno: &MnoConnection) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "smpp-connector".to_string(),
        ),
        ("app.kubernetes.io/instance".to_string(), mno.name_any()),
    ])
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Name, namespace, labels and owner reference of a child.
pub fn meta(mno: &MnoConnection) -> ObjectMeta {
    ObjectMeta {
        name: Some(child_name(mno)),
        namespace: mno.namespace(),
        labels: Some(labels(mno)),
        owner_references: mno.controller_owner_ref(&()).map(|r| vec![r]),
        ..ObjectMeta::default()
    }
}

/// Whether `mno` runs an active and a standby connector pod (`spec.replicas: 2`).
pub fn has_standby(mno: &MnoConnection) -> bool {
    mno.spec.replicas >= 2
}

/// Builds every child of `mno` from its rendered configuration.
pub fn build(
    mno: &MnoConnection,
    config: &ConnectorConfig,
    default_image: &str,
) -> Result<Children, serde_yaml::Error> {
    let config_yaml = serde_yaml::to_string(config)?;
    let checksum = sha256_hex(config_yaml.as_bytes());
    Ok(Children {
        config_map: config_map(mno, config_yaml),
        service_account: ServiceAccount {
            metadata: meta(mno),
            ..ServiceAccount::default()
        },
        role: role(mno, config),
        role_binding: role_binding(mno),
        deployment: deployment(mno, config, default_image, &checksum),
        service: service(mno),
    })
}

fn config_map(mno: &MnoConnection, config_yaml: String) -> ConfigMap {
    ConfigMap {
        metadata: meta(mno),
        data: Some(BTreeMap::from([(
            paths::CONFIG_KEY.to_string(),
            config_yaml,
        )])),
        ..ConfigMap::default()
    }
}

/// API group of the Lease the two replicas share.
const LEASE_GROUP: &str = "coordination.k8s.io";

fn policy_rule(group: &str, resource: &str, names: Option<&str>, verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(vec![resource.to_string()]),
        resource_names: names.map(|n| vec![n.to_string()]),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}

fn role(mno: &MnoConnection, config: &ConnectorConfig) -> Role {
    let name = mno.name_any();
    let group = MnoConnection::group(&()).to_string();
    let mut rules = vec![
        policy_rule(&group, "mnoconnections", Some(&name), &["get"]),
        policy_rule(
            &group,
            "mnoconnections/status",
            Some(&name),
            &["get", "patch"],
        ),
    ];
    if config.lease.backend == LeaseBackend::Kubernetes {
        // Reading, renewing and releasing the one Lease; `create` cannot be restricted by
        // resourceNames (the name is not known when a create is authorised).
        rules.push(policy_rule(
            LEASE_GROUP,
            "leases",
            Some(&config.lease.name),
            &["get", "update", "patch"],
        ));
        rules.push(policy_rule(LEASE_GROUP, "leases", None, &["create"]));
    }
    Role {
        metadata: meta(mno),
        rules: Some(rules),
    }
}

fn role_binding(mno: &MnoConnection) -> RoleBinding {
    RoleBinding {
        metadata: meta(mno),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: child_name(mno),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: child_name(mno),
            namespace: mno.namespace(),
            ..Subject::default()
        }]),
    }
}

fn service(mno: &MnoConnection) -> Service {
    Service {
        metadata: meta(mno),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(mno)),
            ports: Some(vec![ServicePort {
                name: Some(HTTP_PORT_NAME.into()),
                port: i32::from(paths::HTTP_PORT),
                target_port: Some(IntOrString::String(HTTP_PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("100m".into())),
            ("memory".to_string(), Quantity("64Mi".into())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_string(),
            Quantity("128Mi".into()),
        )])),
        ..ResourceRequirements::default()
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(HTTP_PORT_NAME.into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

fn secret_volume(name: &str, secret: &str, items: Option<Vec<KeyToPath>>) -> Volume {
    Volume {
        name: name.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.into()),
            items,
            default_mode: Some(0o440),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// Volumes and mounts of the pod: configuration, credentials, TLS material, `/tmp`.
fn volumes(mno: &MnoConnection) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut volumes = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: child_name(mno),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![mount("config", paths::CONFIG_DIR), {
        let mut m = mount("tmp", "/tmp");
        m.read_only = None;
        m
    }];
    let credentials = &mno.spec.credentials;
    if let Some(secret) = &credentials.secret_ref {
        volumes.push(secret_volume(
            "credentials",
            &secret.name,
            Some(vec![KeyToPath {
                key: secret.key.clone(),
                path: secret.key.clone(),
                ..KeyToPath::default()
            }]),
        ));
        mounts.push(mount("credentials", paths::CREDENTIALS_DIR));
    } else {
        let audience = credentials
            .operator_management
            .as_ref()
            .map(|om| om.audience.clone())
            .unwrap_or_else(crds::mno::defaults::token_audience);
        let token_file = defaults::token_file();
        let (dir, file) = token_file
            .rsplit_once('/')
            .unwrap_or(("/var/run/secrets/tokens", "operator-management"));
        volumes.push(Volume {
            name: "operator-management-token".into(),
            projected: Some(ProjectedVolumeSource {
                sources: Some(vec![VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        audience: Some(audience),
                        expiration_seconds: Some(TOKEN_EXPIRATION_SECONDS),
                        path: file.into(),
                        ..ServiceAccountTokenProjection::default()
                    }),
                    ..VolumeProjection::default()
                }]),
                default_mode: Some(0o440),
                ..ProjectedVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount("operator-management-token", dir));
    }
    let endpoints = [
        (EndpointRole::Primary, Some(&mno.spec.primary)),
        (EndpointRole::Backup, mno.spec.backup.as_ref()),
    ];
    for (role, endpoint) in endpoints {
        let secret = endpoint
            .and_then(|e| e.tls.as_ref())
            .filter(|t| t.enabled)
            .and_then(|t| t.secret_name.as_ref());
        if let Some(secret) = secret {
            let name = format!("tls-{}", role.as_str());
            volumes.push(secret_volume(&name, secret, None));
            mounts.push(mount(&name, &role.tls_dir()));
        }
    }
    (volumes, mounts)
}

fn deployment(
    mno: &MnoConnection,
    config: &ConnectorConfig,
    default_image: &str,
    checksum: &str,
) -> Deployment {
    let pod = &mno.spec.connector;
    let mut env = vec![
        field_env("POD_NAME", "metadata.name"),
        field_env("POD_NAMESPACE", "metadata.namespace"),
    ];
    env.extend(pod.env.iter().cloned());
    let (volumes, volume_mounts) = volumes(mno);
    let grace = i64::try_from(config.session.drain_timeout_seconds)
        .unwrap_or(i64::MAX / 2)
        .saturating_add(30);
    let container = Container {
        name: CONTAINER.into(),
        image: Some(
            pod.image
                .clone()
                .unwrap_or_else(|| default_image.to_string()),
        ),
        image_pull_policy: pod.image_pull_policy.clone(),
        args: Some(vec!["--config".into(), paths::CONFIG_FILE.into()]),
        env: Some(env),
        ports: Some(vec![ContainerPort {
            name: Some(HTTP_PORT_NAME.into()),
            container_port: i32::from(paths::HTTP_PORT),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(http_probe("/health", 10, 3)),
        readiness_probe: Some(http_probe("/ready", 5, 2)),
        resources: Some(pod.resources.clone().unwrap_or_else(default_resources)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            seccomp_profile: Some(runtime_default()),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(volume_mounts),
        ..Container::default()
    };
    let template_meta = ObjectMeta {
        labels: Some(labels(mno)),
        annotations: Some(BTreeMap::from([(
            CONFIG_CHECKSUM_ANNOTATION.to_string(),
            checksum.to_string(),
        )])),
        ..ObjectMeta::default()
    };
    let replicas = if mno.spec.suspend {
        0
    } else {
        i32::try_from(mno.spec.replicas).unwrap_or(1)
    };
    Deployment {
        metadata: meta(mno),
        spec: DeploymentSpec {
            replicas: Some(replicas),
            strategy: Some(strategy(mno)),
            selector: LabelSelector {
                match_labels: Some(selector_labels(mno)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(template_meta),
                spec: Some(PodSpec {
                    service_account_name: Some(child_name(mno)),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(NON_ROOT_ID),
                        run_as_group: Some(NON_ROOT_ID),
                        fs_group: Some(NON_ROOT_ID),
                        seccomp_profile: Some(runtime_default()),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    volumes: Some(volumes),
                    node_selector: (!pod.node_selector.is_empty())
                        .then(|| pod.node_selector.clone()),
                    tolerations: (!pod.tolerations.is_empty()).then(|| pod.tolerations.clone()),
                    termination_grace_period_seconds: Some(grace),
                    affinity: has_standby(mno).then(|| spread(mno)),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

/// One replica: `Recreate`, so that two pods never bind at once (the operator's bind quota).
/// Two replicas: a surge pod comes up as standby before an old pod is stopped; the stopped
/// active pod drains and releases the Lease, and a standby takes over.
fn strategy(mno: &MnoConnection) -> DeploymentStrategy {
    if !has_standby(mno) {
        return DeploymentStrategy {
            type_: Some("Recreate".into()),
            ..DeploymentStrategy::default()
        };
    }
    DeploymentStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(IntOrString::Int(1)),
            max_unavailable: Some(IntOrString::Int(0)),
        }),
    }
}

/// Prefers the two replicas on different nodes, so that one node's loss leaves the other.
fn spread(mno: &MnoConnection) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(selector_labels(mno)),
                            ..LabelSelector::default()
                        }),
                        topology_key: "kubernetes.io/hostname".into(),
                        ..PodAffinityTerm::default()
                    },
                },
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..SeccompProfile::default()
    }
}
