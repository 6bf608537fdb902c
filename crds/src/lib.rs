//! API types shared by the controller and the connector: the `MnoConnection` custom resource,
//! its status, and the connector's configuration file.

pub mod config;
pub mod crdgen;
pub mod lease;
pub mod mno;
pub mod render;
pub mod report;
pub mod status;

pub use config::ConnectorConfig;
pub use mno::{MnoConnection, MnoConnectionSpec};
pub use render::{render_config, RenderError};
pub use status::{
    BindStatus, ConnectorStatus, MnoConnectionStatus, SessionStatus, SlowDownState, SlowDownStatus,
};
