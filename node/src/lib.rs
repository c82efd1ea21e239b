//! # liaison-node
//!
//! The Liaison daemon's library: configuration, durable store (log, outbox, inbox),
//! QUIC transport and peer sessions, routing, and the local officer API. The `liaison`
//! binary (`src/main.rs`) is a thin shell over it, and the multi-node tests in `tests/` run
//! real nodes through it.
//!
//! The modules that are `pub` are the crate's API (configuration, the node handle, the
//! officer API's request and view types, refusals and errors, sealing and opening); the rest
//! are its internals (`docs/ARCHITECTURE.md` shows the layers).
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub use liaison_audit as audit;
pub use liaison_store as store;
pub use liaison_store::{alarm, files};

pub mod admin_log;
pub mod api;
pub mod case;
pub(crate) mod case_cache;
pub mod compose;
pub mod config;
pub mod consent;
pub(crate) mod console;
pub use console::{login_cookie_name, session_cookie_name};
pub(crate) mod core;
pub(crate) mod crash_point;
pub(crate) mod deconfliction;
pub(crate) mod directory;
pub mod endpoint;
pub mod error;
pub(crate) mod exchange;
pub mod expiry;
pub mod fd_limit;
pub(crate) mod identity;
pub(crate) mod inbound;
pub(crate) mod keys;
pub mod kinds;
pub mod metrics;
pub mod node;
pub(crate) mod peer;
pub mod refusal;
pub(crate) mod relay;
pub(crate) mod requests;
pub mod sealing;
pub(crate) mod selector_index;
pub(crate) mod sessions;
pub(crate) mod trust;
pub mod views;
pub mod wire;
pub(crate) mod witness;
