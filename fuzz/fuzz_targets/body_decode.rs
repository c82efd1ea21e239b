//! Arbitrary body bytes: whatever decodes re-encodes to the identical bytes.
//! See `liaison_fuzz::body_decode` for the invariants asserted.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| liaison_fuzz::body_decode(data));
