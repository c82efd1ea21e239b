//! # liaison-node
//!
//! The Liaison daemon's library: configuration, durable store (log, outbox, inbox),
//! QUIC transport and peer sessions, routing, and the local officer API. The `liaison`
//! binary (`src/main.rs`) is a thin shell over it, and the multi-node tests in `tests/` run
//! real nodes through it.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub use liaison_audit as audit;
pub use liaison_store as store;
pub use liaison_store::{alarm, files};

pub mod api;
pub mod case;
pub mod case_cache;
pub mod compose;
pub mod config;
pub mod consent;
pub mod console;
pub mod core;
pub mod deconfliction;
pub mod directory;
pub mod endpoint;
pub mod error;
pub mod exchange;
pub mod fd_limit;
pub mod inbound;
pub mod keys;
pub mod kinds;
pub mod node;
pub mod peer;
pub mod refusal;
pub mod relay;
pub mod sealing;
pub mod selector_index;
pub mod views;
pub mod wire;
pub mod witness;
