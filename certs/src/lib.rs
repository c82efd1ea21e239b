//! # liaison-certs
//!
//! Liaison's public-key infrastructure: everything behind `liaison certs …`, and the
//! loading helpers the node uses at start-up.
//!
//! * [`ca`]: create a network CA; issue node certificates (`<centre>.<network>`, for mutual
//!   TLS and message signing) and officer certificates (for the local API). The certificate
//!   profiles are documented there; [`liaison_protocol::trust`] depends on them.
//! * [`console`]: the console's HTTPS certificate (ECDSA P-256, under a one-use CA), the one
//!   part of Liaison's PKI that browsers must accept.
//! * [`revocation`]: the CA's CRL: created empty with the network, extended by `revoke`.
//! * [`identity`]: officer identities and roles; node identities (delegated to the protocol,
//!   the one place a certificate becomes a node id); verifying either kind of certificate.
//! * [`bundle`]: a network's CA + CRL in one PEM file, for other networks' gateways.
//! * [`load`]: strict PEM reading; atomic, never-overwriting writes; keys are PKCS#8 PEM
//!   with mode 0600; [`load::load_signer`] and [`load::load_trust`] for the node.
//! * [`error`]: [`CertError`], with stable reason codes.
//!
//! Unlike the protocol crate this one does I/O, but it still takes the time as an argument
//! wherever validity matters, so tests can issue expired certificates and check them.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod bundle;
pub mod ca;
pub mod console;
pub mod error;
pub mod facts;
pub mod identity;
pub mod load;
pub mod revocation;
#[cfg(test)]
mod testing;
pub mod tls;

pub use bundle::{write_trust_bundle, TrustBundle};
pub use ca::{
    create_network, issue_node_files, issue_officer_files, IssuedCert, IssuedFiles, NetworkCa,
    NetworkFiles, OfficerKey, Validity,
};
pub use error::CertError;
pub use identity::{
    check_cert, check_officer_cert, node_identity, officer_identity, verify_cert_file,
    CertifiedOfficer, Identity, Officer, OfficerName, Role,
};
pub use load::{load_signer, load_trust};
pub use revocation::{revoke, Reason, Revocation};

use liaison_protocol::Timestamp;
use time::OffsetDateTime;

/// A `time` instant as a protocol [`Timestamp`] (milliseconds; instants before 1970 clamp to 0).
pub fn timestamp(t: OffsetDateTime) -> Timestamp {
    let millis = t.unix_timestamp_nanos() / 1_000_000;
    Timestamp(u64::try_from(millis).unwrap_or(0))
}
