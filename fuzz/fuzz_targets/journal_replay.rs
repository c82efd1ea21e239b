//! Arbitrary journal files, and journals written by the store's batch writer then edited,
//! through the store's replay. See `liaison_fuzz::node::journal_replay` for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| liaison_fuzz::node::journal_replay(data));
