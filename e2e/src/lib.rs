//! End-to-end support: the SMSC simulator ([`sim`]) and the load generator.

pub mod sim;
