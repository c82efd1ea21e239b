//! Third-party consent (EU handling code H2, originator control): checking a message shared
//! onward against its originator's signed grants.
//!
//! ```text
//!  recipient R ── consent-request {target, to: [X]} ──▶ originator O
//!  recipient R ◀── consent-answer {target, to: [X], granted, expires_at, resealed} ── O
//!  recipient R ── share {original (O's signed bytes), grants: [O's answer]} ──▶ X
//! ```
//!
//! A grant widens the releasability of that one message to the nodes it names, until it
//! expires. Every hop of a share (R before sending, each relay, X on receipt) runs
//! [`verify_share`] and then the ordinary handling checks on the *original's* addressing
//! with the granted nodes as `consented` ([`crate::handling::Hop::consented`]). The content
//! reaches X re-sealed by the originator (`resealed`), never by a relay or by R.

use crate::error::VerifyError;
use crate::ids::{NodeId, Timestamp};
use crate::message::{ConsentAnswer, Kind, Share};
use crate::signing::VerifiedMessage;
use crate::trust::TrustStore;

/// Why a share is refused before the handling checks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// The shared original does not verify.
    #[error("the shared message does not verify: {0}")]
    Original(VerifyError),
    /// A grant does not verify.
    #[error("a consent answer does not verify: {0}")]
    Grant(VerifyError),
    /// A grant is not the originator's consent answer for this message.
    #[error("consent answer {0} is not the originator's answer about this message")]
    NotForThis(String),
    /// The originator denied consent.
    #[error("the originator denied consent ({0})")]
    Denied(String),
    /// The grant expired.
    #[error("the consent grant expired at {0}")]
    Expired(Timestamp),
}

impl ConsentError {
    /// Stable reason code.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Original(e) | Self::Grant(e) => e.reason_code(),
            Self::NotForThis(_) => "consent-invalid",
            Self::Denied(_) => "consent-denied",
            Self::Expired(_) => "consent-expired",
        }
    }
}

/// A share whose original and grants verified.
#[derive(Debug)]
pub struct VerifiedShare {
    /// The original message.
    pub original: VerifiedMessage,
    /// Nodes the originator consented to, by valid grants.
    pub consented: Vec<NodeId>,
    /// The grants' content re-sealed for the consented nodes, by the originator.
    pub grants: Vec<ConsentAnswer>,
}

/// Verifies a share at time `now`: the original and every grant verify against `trust`;
/// every grant is the original originator's granted, unexpired answer about this message.
pub fn verify_share(
    share: &Share,
    trust: &TrustStore,
    now: Timestamp,
) -> Result<VerifiedShare, ConsentError> {
    let original = share
        .original
        .clone()
        .verify(trust)
        .map_err(ConsentError::Original)?;
    let mut consented = Vec::new();
    let mut grants = Vec::new();
    for g in &share.grants {
        let v = g.clone().verify(trust).map_err(ConsentError::Grant)?;
        let Kind::ConsentAnswer(a) = &v.body().kind else {
            return Err(ConsentError::NotForThis(v.id().short()));
        };
        if v.originator() != original.originator() || a.target != original.id() {
            return Err(ConsentError::NotForThis(v.id().short()));
        }
        if !a.granted {
            return Err(ConsentError::Denied(a.reason.clone()));
        }
        if let Some(t) = a.expires_at {
            if now >= t {
                return Err(ConsentError::Expired(t));
            }
        }
        consented.extend(a.to.iter().cloned());
        grants.push(a.clone());
    }
    consented.sort();
    consented.dedup();
    Ok(VerifiedShare {
        original,
        consented,
        grants,
    })
}
