//! The `liaison` binary.
fn main() {}
