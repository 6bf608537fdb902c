//! The platform side: dispatch commands from JetStream in, submit outcomes and receipts out as
//! events, the TPS budget in Redis, health and status, credentials and metrics.

pub mod activity;
pub mod command;
pub mod credentials;
pub mod dispatcher;
pub mod events;
pub mod health;
pub mod inbound;
pub mod intake;
pub mod jetstream;
pub mod manual_switch;
pub mod metrics;
pub mod pdus;
pub mod receipt_flow;
pub mod status_writer;
pub mod submit;
pub mod throttle;
pub mod trace;
