//! SMPP 3.4 connector library.

pub mod correlation;
pub mod credentials;
pub mod dispatch;
pub mod events;
pub mod http;
pub mod intake;
pub mod jetstream;
pub mod logging;
pub mod metrics;
pub mod receipt_events;
pub mod settings;
pub mod throttle;

#[cfg(test)]
mod schema_check;
#[cfg(test)]
mod test_support;
