//! Arbitrary JSON bodies of the officer API's requests, through the checks run before
//! signing. See `liaison_fuzz::node::api_json` for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| liaison_fuzz::node::api_json(data));
