//! Every reason code the protocol can produce is documented in docs/REASONS.md.

use liaison_protocol::error::REASON_CODES;

#[test]
fn every_reason_code_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/REASONS.md"))
        .expect("docs/REASONS.md");
    for code in REASON_CODES {
        assert!(
            doc.contains(&format!("`{code}`")),
            "{code} is not in docs/REASONS.md"
        );
    }
    let mut sorted = REASON_CODES.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), REASON_CODES.len(), "duplicate reason code");
}
