//! End-to-end support: SMSC simulator and load generator.

pub mod loadgen;
