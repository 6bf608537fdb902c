//! End-to-end support: the SMSC simulator ([`sim`]) and the load generator ([`loadgen`]).

pub mod chaos;
pub mod harness;
pub mod interop;
pub mod loadgen;
pub mod sim;
