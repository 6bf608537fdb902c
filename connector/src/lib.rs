//! SMPP 3.4 connector library, in one-way layers (docs/architecture.md): [`protocol`] →
//! [`session`] → [`store`] → [`pipeline`] → [`service`].

pub mod cli;
pub mod http;
pub mod lease;
pub mod logging;
pub mod pipeline;
pub mod protocol;
pub mod service;
pub mod session;
pub mod settings;
pub mod store;
pub mod telemetry;

#[cfg(test)]
mod test_support;
