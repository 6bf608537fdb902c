//! kube-rs controller for `MnoConnection`: renders one connector (ConfigMap, ServiceAccount,
//! Role, RoleBinding, Deployment, Service) per resource and summarises its state in the status.

pub mod apply;
pub mod children;
pub mod conditions;
pub mod context;
pub mod duplicates;
pub mod error;
pub mod events;
pub mod http;
pub mod image_policy;
pub mod leader;
pub mod metrics;
pub mod network_policy;
pub mod plugin;
pub mod reconcile;
pub mod settings;
pub mod spec_check;
pub mod url_parts;

/// Field manager of every server-side apply the controller makes.
pub const FIELD_MANAGER: &str = "mno-controller";
