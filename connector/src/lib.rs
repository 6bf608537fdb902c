//! SMPP 3.4 connector library.

pub mod codec;
pub mod correlation;
pub mod credentials;
pub mod dispatch;
pub mod events;
pub mod http;
pub mod intake;
pub mod jetstream;
pub mod logging;
pub mod metrics;
pub mod outbound;
pub mod receipt;
pub mod receipt_events;
pub mod service;
pub mod session;
pub mod session_status;
pub mod settings;
pub mod status_writer;
pub mod text;
pub mod throttle;

#[cfg(test)]
mod test_support;
