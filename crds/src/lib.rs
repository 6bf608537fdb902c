//! API types shared by the controller and the connector: the `MnoConnection` custom resource,
//! its status, and the connector's configuration file.

pub mod config;

pub use config::ConnectorConfig;
