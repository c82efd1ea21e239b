//! Limits before work, at verification: what a peer sends is refused for its counts before
//! any rule whose cost grows with them (the composition rules compare every recipient with
//! every releasability entry) is evaluated.

use liaison_protocol::message::FORMAT_VERSION;
use liaison_protocol::{sample, DecodeError, NodeId, Recipient, Release, VerifyError};

#[allow(dead_code, missing_docs)]
#[path = "../../fuzz/src/lib.rs"]
mod harness;

/// The tester's message: 40,000 recipients and as many releasability entries, signed by a
/// trusted node. Unsorted and released to none of its recipients, so every rule after the
/// limits would refuse it too; the refusal must be the limit's.
#[test]
fn verification_refuses_a_body_over_the_recipient_limit_before_its_handling_rules() {
    let fx = harness::fixture();
    let mut body = sample::alert();
    body.header.originator = harness::NODE.parse().expect("node id");
    body.header.recipients = (0..40_000)
        .rev()
        .map(|i| Recipient::Node(format!("n{i}.gulf").parse::<NodeId>().expect("node id")))
        .collect();
    body.handling.releasability = (0..40_000)
        .rev()
        .map(|i| Release::Node(format!("n{i}.central-asia").parse().expect("node id")))
        .collect();
    // Encoded as a careless or hostile originator would: `encode` refuses such a body.
    let mut bytes = vec![FORMAT_VERSION];
    bytes.extend(postcard::to_stdvec(&body).expect("postcard"));
    let signed = fx.signer.sign_encoded(bytes);

    let err = signed
        .verify(&fx.trust)
        .expect_err("a body over the recipient limit must not verify");
    assert_eq!(
        err,
        VerifyError::Decode(DecodeError::LimitExceeded {
            field: "recipients",
            actual: 40_000,
            limit: liaison_protocol::limits::MAX_RECIPIENTS,
        })
    );
    assert_eq!(err.reason_code(), "limit-exceeded");
}
