//! Arbitrary envelopes, and edits of valid signed messages, through verification.
//! See `liaison_fuzz::verify_message` for the invariants asserted.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| liaison_fuzz::verify_message(data));
