//! Why a node operation did not complete: [`NodeError`], for everything the node does once
//! it runs (sending, cases, consent, witnessing, the key directory, deconfliction).
//!
//! A refusal ([`Refusal`]) keeps its type, so the API answers it with its reason code; a
//! store failure keeps its own (`disk-full`, `stored-body-damaged`, …); anything else is a
//! failure of this node, described for the log.

use thiserror::Error;

use crate::refusal::Refusal;
use crate::store::StoreError;

/// A node operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node refused: the officer or the peer sees the reason code.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be written or is not private.
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    /// Anything else failed (a peer misbehaved, a task died, the random generator failed);
    /// the message says what, and is for the log.
    #[error("{0}")]
    Failed(String),
}

impl NodeError {
    /// A failure described by `what`.
    pub fn failed(what: impl std::fmt::Display) -> Self {
        Self::Failed(what.to_string())
    }

    /// The refusal, if this is one.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Self::Refused(r) => Some(r),
            _ => None,
        }
    }
}

/// A node operation's result.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;

/// Returns a [`NodeError::Failed`] with a formatted message.
macro_rules! fail {
    ($($t:tt)*) => {
        return Err($crate::error::NodeError::Failed(format!($($t)*)).into())
    };
}
pub(crate) use fail;
