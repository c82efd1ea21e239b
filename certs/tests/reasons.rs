//! Every reason code the PKI can produce is documented in docs/REASONS.md.

#[test]
fn every_certs_reason_code_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/REASONS.md"))
        .expect("docs/REASONS.md");
    for code in liaison_certs::error::REASON_CODES {
        assert!(
            doc.contains(&format!("`{code}`")),
            "{code} is not in docs/REASONS.md"
        );
    }
}
