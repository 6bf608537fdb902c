//! `smsc-sim`: an SMPP 3.4 SMSC simulator for tests, demos and benchmarks.
//!
//! Start one in-process with [`Simulator::start`] and a [`SimConfig`] (listen on
//! `127.0.0.1:0` for tests); the [`SimHandle`] gives the bound address, live
//! [`stats`](SimHandle::stats), accepted submits per second, the captured submits,
//! run-time [`Faults`], MO injection and shutdown. [`client::RawClient`] is a minimal
//! ESME on our codec for driving it from tests. The `smsc-sim` binary wraps the same
//! library with CLI flags and a YAML file (see `docs/smsc-sim.md`).

pub mod capture;
pub mod cli;
pub mod client;
pub mod config;
pub mod control;
pub mod delay;
pub mod delivery;
pub mod faults;
pub mod message_id;
pub mod message_store;
pub mod outcome;
pub mod pdu_log;
pub mod receipt_log;
pub mod router;
pub mod scheduler;
pub mod session;
pub mod shared;
pub mod stats;
pub mod tps;

mod handle;
mod server;

pub use capture::{ReceivedSubmit, Segment, SegmentMark};
pub use config::{Account, BindLimit, ReceiptConfig, ReceiptFormat, ReceiptTextId, SimConfig};
pub use delay::Delay;
pub use delivery::MoMessage;
pub use faults::{
    BindFailure, BreakAction, ConnectionFault, Faults, RefuseMode, Status, StatusRule,
    TransceiverRefusal, Trigger,
};
pub use handle::{SimHandle, Simulator, StartError};
pub use message_id::{IdForm, IdStart};
pub use outcome::{Outcome, OutcomeMix};
pub use receipt_log::ReceiptFate;
pub use session::BindMode;
pub use stats::{Direction, StatsSnapshot};
