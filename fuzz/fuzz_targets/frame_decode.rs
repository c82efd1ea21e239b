//! Arbitrary bytes as a peer's stream: frames, envelopes, signed bodies.
//! See `liaison_fuzz::frame_decode` for the invariants asserted.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| liaison_fuzz::frame_decode(data));
