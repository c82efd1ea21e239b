//! Errors of the protocol core, one enum per concern, each variant with a stable reason code.
//!
//! Reason codes are part of the wire contract (they travel in signed `Refusal`s) and of
//! the operator documentation (`docs/REASONS.md`); never rename one.

use thiserror::Error;

/// A frame or body could not be decoded. The peer sent something malformed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame's declared length exceeds the configured maximum.
    #[error("frame of {declared} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// Length the peer declared.
        declared: usize,
        /// Configured maximum.
        max: usize,
    },
    /// A frame declared a zero length.
    #[error("empty frame")]
    EmptyFrame,
    /// The encoding version byte is not one this node speaks.
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    /// The frame type byte is not one this node knows.
    #[error("unknown frame type {0}")]
    UnknownFrameType(u8),
    /// The bytes do not decode as the expected structure (unknown kind, unknown field, bad length).
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which structure failed.
        what: &'static str,
        /// Decoder detail.
        detail: String,
    },
    /// Bytes remained after a complete structure; unknown trailing fields are refused, not skipped.
    #[error("{0} trailing bytes after a complete {1}")]
    TrailingBytes(usize, &'static str),
    /// The encoding decodes but is not the canonical one; signatures cover canonical bytes only.
    #[error("non-canonical encoding of {0}")]
    NonCanonical(&'static str),
    /// A count or size inside the body exceeds a protocol limit.
    #[error("{field} has {actual}, limit is {limit}")]
    LimitExceeded {
        /// Field that is too big.
        field: &'static str,
        /// Its size or count.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// A field decoded but its value is invalid (bad identifier syntax, bad date, …).
    #[error("invalid {field}: {detail}")]
    InvalidField {
        /// Field name.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl DecodeError {
    /// Stable reason code for this error.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::FrameTooLarge { .. } => "frame-too-large",
            Self::EmptyFrame => "empty-frame",
            Self::UnknownVersion(_) => "unknown-version",
            Self::UnknownFrameType(_) => "unknown-frame-type",
            Self::Malformed { .. } => "malformed",
            Self::TrailingBytes(..) => "trailing-bytes",
            Self::NonCanonical(_) => "non-canonical",
            Self::LimitExceeded { .. } => "limit-exceeded",
            Self::InvalidField { .. } => "invalid-field",
        }
    }
}

/// A signed message or certificate failed verification. The signer or a relay was at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The body bytes did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The Ed25519 signature does not verify over the message id with the signer certificate's key.
    #[error("signature does not verify")]
    BadSignature,
    /// No CA is trusted for the network the signer claims to belong to.
    #[error("no trusted CA for network {0}")]
    UnknownCa(String),
    /// The signer certificate does not chain to a trusted CA of its network.
    #[error("certificate does not chain to a trusted CA of its network: {0}")]
    BadChain(String),
    /// The certificate could not be parsed.
    #[error("malformed certificate: {0}")]
    MalformedCertificate(String),
    /// The certificate had expired at the time that matters.
    #[error("certificate expired")]
    CertificateExpired,
    /// The certificate was not yet valid at the time that matters.
    #[error("certificate not yet valid")]
    CertificateNotYetValid,
    /// The certificate was revoked at or before the time that matters.
    #[error("certificate revoked (serial {serial})")]
    Revoked {
        /// Hex serial number of the revoked certificate.
        serial: String,
    },
    /// The certificate names a different node than the message's originator.
    #[error("certificate names {cert}, message claims originator {claimed}")]
    SignerMismatch {
        /// Node id in the certificate.
        cert: String,
        /// Originator claimed by the body.
        claimed: String,
    },
    /// The certificate is not a node certificate (no node id in its subject alternative names).
    #[error("certificate is not a node certificate: {0}")]
    NotNodeCertificate(String),
    /// A CRL could not be parsed or its signature does not verify with its CA.
    #[error("bad revocation list: {0}")]
    BadCrl(String),
}

impl VerifyError {
    /// Stable reason code for this error.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Decode(e) => e.reason_code(),
            Self::BadSignature => "bad-signature",
            Self::UnknownCa(_) => "unknown-ca",
            Self::BadChain(_) => "bad-certificate-chain",
            Self::MalformedCertificate(_) => "malformed-certificate",
            Self::CertificateExpired => "certificate-expired",
            Self::CertificateNotYetValid => "certificate-not-yet-valid",
            Self::Revoked { .. } => "revoked-certificate",
            Self::SignerMismatch { .. } => "signer-mismatch",
            Self::NotNodeCertificate(_) => "not-node-certificate",
            Self::BadCrl(_) => "bad-crl",
        }
    }
}

/// A CA could not be added to a trust store. The operator's trust configuration (a CA file,
/// a CRL, a trust bundle) was at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The CA certificate is not a network CA, or its CRL is not its own; the verification
    /// code passes through.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The same CA (the same key) is already trusted: given twice, in two files or in one
    /// bundle. Two different CAs of one network are accepted; one CA twice is not, as its two
    /// CRLs could disagree.
    #[error(
        "the {network} CA {fingerprint} is already trusted{}",
        if fingerprint == trusted { String::new() } else { format!(" (as {trusted}: a certificate of the same key)") }
    )]
    DuplicateCa {
        /// The network.
        network: String,
        /// The SHA-256 fingerprint of the CA certificate given again.
        fingerprint: String,
        /// The fingerprint of the CA certificate already trusted with the same key.
        trusted: String,
    },
}

impl TrustError {
    /// Stable reason code for this error.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Verify(e) => e.reason_code(),
            Self::DuplicateCa { .. } => "duplicate-ca",
        }
    }
}

/// A handling rule forbids the proposed hop or the message as composed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandlingError {
    /// The next hop or destination is not covered by the message's releasability list.
    #[error("{node} is not covered by the message's releasability")]
    ReleasabilityViolation {
        /// The node that may not receive the message.
        node: String,
    },
    /// TLP:RED messages go only to their named recipient nodes, never through a relay.
    #[error("TLP:RED may only go to its named recipients; {node} is not one")]
    TlpRedViolation {
        /// Refused next hop.
        node: String,
    },
    /// TLP:AMBER+STRICT messages never leave the recipients' organisations.
    #[error(
        "TLP:AMBER+STRICT may not leave the recipients' organisations; {node} is outside them"
    )]
    TlpAmberStrictViolation {
        /// Refused next hop.
        node: String,
    },
    /// Originator control (H2): no dissemination beyond the original recipients without consent.
    #[error("originator control: {node} is not an original recipient and no consent was granted")]
    OriginatorControl {
        /// Refused destination.
        node: String,
    },
    /// The message has already travelled its hop limit.
    #[error("hop limit of {0} reached")]
    HopLimitExceeded(u8),
    /// The message's expiry has passed.
    #[error("message expired")]
    Expired,
    /// The next hop is already on the message's route.
    #[error("{0} is already on the route")]
    RouteLoop(String),
    /// The message as composed is inconsistent (e.g. a recipient outside releasability,
    /// TLP:RED addressed to a whole network).
    #[error("invalid handling: {0}")]
    Invalid(String),
}

impl HandlingError {
    /// Stable reason code for this error.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::ReleasabilityViolation { .. } => "releasability-violation",
            Self::TlpRedViolation { .. } => "tlp-red-violation",
            Self::TlpAmberStrictViolation { .. } => "tlp-amber-strict-violation",
            Self::OriginatorControl { .. } => "originator-control",
            Self::HopLimitExceeded(_) => "hop-limit-exceeded",
            Self::Expired => "message-expired",
            Self::RouteLoop(_) => "route-loop",
            Self::Invalid(_) => "invalid-handling",
        }
    }
}

/// Every reason code this crate can produce, for documentation tests and operator tooling.
pub const REASON_CODES: &[&str] = &[
    "frame-too-large",
    "empty-frame",
    "unknown-version",
    "unknown-frame-type",
    "malformed",
    "trailing-bytes",
    "non-canonical",
    "limit-exceeded",
    "invalid-field",
    "bad-signature",
    "unknown-ca",
    "bad-certificate-chain",
    "malformed-certificate",
    "certificate-expired",
    "certificate-not-yet-valid",
    "revoked-certificate",
    "signer-mismatch",
    "not-node-certificate",
    "bad-crl",
    "duplicate-ca",
    "releasability-violation",
    "tlp-red-violation",
    "tlp-amber-strict-violation",
    "originator-control",
    "hop-limit-exceeded",
    "message-expired",
    "route-loop",
    "invalid-handling",
    "bad-proof",
    "malformed-checkpoint",
    "bad-checkpoint-signature",
    "unknown-checkpoint-key",
    "bad-key",
    "consent-invalid",
    "consent-denied",
    "consent-expired",
    "cannot-open",
    "not-a-recipient",
    "no-recipients",
    "duplicate-recipient",
    "weak-key",
    "random-failed",
    "unknown-case",
    "case-exists",
    "case-closed",
    "case-suspended",
    "case-handling",
    "not-a-participant",
    "not-case-lead",
    "not-invited",
    "already-participant",
    "unknown-task",
    "not-task-party",
];
