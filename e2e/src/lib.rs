//! End-to-end support: SMSC simulator and load generator.

pub mod loadgen;
//! End-to-end support: the SMSC simulator ([`sim`]) and the load generator.

pub mod sim;
