//! The one error type of the PKI layer, with stable reason codes.

use std::path::PathBuf;

use liaison_protocol::signing::KeyError;
use liaison_protocol::{TrustError, VerifyError};
use thiserror::Error;

/// Something the PKI refused or could not do. Each variant says who was at fault (the
/// operator's input, the files on disk, or the certificate being checked) and has a stable
/// [`reason_code`](CertError::reason_code).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CertError {
    /// A file that would be written already exists; keys and certificates are never overwritten.
    #[error("{} already exists; refusing to overwrite it", path.display())]
    FileExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A file that must be read does not exist.
    #[error("{} does not exist", path.display())]
    MissingFile {
        /// The missing file.
        path: PathBuf,
    },
    /// A private key file that must be read does not exist.
    #[error("private key {} does not exist", path.display())]
    MissingKey {
        /// The missing key file.
        path: PathBuf,
    },
    /// A file is not the PEM it should be (bad framing, bad base64, wrong or missing section).
    #[error("{}: malformed PEM: {detail}", path.display())]
    MalformedPem {
        /// The file (or a description of the input when it did not come from a file).
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A private key does not belong to the certificate it is paired with.
    #[error("{0}")]
    KeyMismatch(String),
    /// A certificate that should be a Liaison network CA is not one.
    #[error("{} is not a Liaison network CA certificate: {detail}", path.display())]
    NotNetworkCa {
        /// The certificate file.
        path: PathBuf,
        /// Why not.
        detail: String,
    },
    /// A certificate or CRL was not issued by the CA it was presented to.
    #[error("{0}")]
    WrongCa(String),
    /// The certificate is already on the CA's revocation list.
    #[error("certificate with serial {serial} is already revoked (since {since})")]
    AlreadyRevoked {
        /// Hex serial number.
        serial: String,
        /// When it was revoked, RFC 3339.
        since: String,
    },
    /// A network, centre, officer or role name is not valid.
    #[error("invalid {what} {value:?}: {detail}")]
    InvalidName {
        /// Which kind of name.
        what: &'static str,
        /// The name given.
        value: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A node id names a different network than the CA's.
    #[error("{given} is not in network {expected} (the CA's network)")]
    WrongNetwork {
        /// The CA's network.
        expected: String,
        /// The node id or network given.
        given: String,
    },
    /// A requested validity period is empty or not within the CA's.
    #[error("invalid validity: {0}")]
    InvalidValidity(String),
    /// The certificate is not an officer certificate (subject, role or extensions wrong).
    #[error("not an officer certificate: {0}")]
    NotOfficerCertificate(String),
    /// A trust bundle is not one or more pairs of a CA certificate followed by its CRL, all
    /// of one network.
    #[error("malformed trust bundle: {0}")]
    MalformedBundle(String),
    /// The same CA (the same key) was given twice, in two trust sources or in one bundle.
    #[error("{0}")]
    DuplicateCa(String),
    /// A certificate or CRL failed verification; the protocol's reason code passes through.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A private key could not be loaded or does not match its certificate.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Certificate or CRL generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// Reading or writing a file failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error, said in this error's text (not as a separate cause, so that
        /// a chain of causes does not repeat it).
        error: std::io::Error,
    },
}

impl From<TrustError> for CertError {
    fn from(e: TrustError) -> Self {
        match e {
            TrustError::Verify(e) => Self::Verify(e),
            other => Self::DuplicateCa(other.to_string()),
        }
    }
}

impl CertError {
    /// Stable reason code for this error; verification failures keep the protocol's codes.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::FileExists { .. } => "file-exists",
            Self::MissingFile { .. } => "missing-file",
            Self::MissingKey { .. } => "missing-key",
            Self::MalformedPem { .. } => "malformed-pem",
            Self::KeyMismatch(_) => "key-mismatch",
            Self::NotNetworkCa { .. } => "not-network-ca",
            Self::WrongCa(_) => "wrong-ca",
            Self::AlreadyRevoked { .. } => "already-revoked",
            Self::InvalidName { .. } => "invalid-name",
            Self::WrongNetwork { .. } => "wrong-network",
            Self::InvalidValidity(_) => "invalid-validity",
            Self::NotOfficerCertificate(_) => "not-officer-certificate",
            Self::MalformedBundle(_) => "malformed-bundle",
            Self::DuplicateCa(_) => "duplicate-ca",
            Self::Verify(e) => e.reason_code(),
            Self::Key(e) => e.reason_code(),
            Self::Generate(_) => "certificate-generation",
            Self::Random => "random-failure",
            Self::Io { .. } => "io",
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error: source,
        }
    }
}

/// Every reason code [`CertError`] can produce besides the protocol's verification codes.
pub const REASON_CODES: &[&str] = &[
    "file-exists",
    "missing-file",
    "missing-key",
    "malformed-pem",
    "key-mismatch",
    "not-network-ca",
    "wrong-ca",
    "already-revoked",
    "invalid-name",
    "wrong-network",
    "invalid-validity",
    "not-officer-certificate",
    "malformed-bundle",
    "duplicate-ca",
    "certificate-generation",
    "random-failure",
    "io",
];
