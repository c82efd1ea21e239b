//! Why the node refuses something: one enum, [`Refusal`], for every refusal the node decides
//! (a message it will not send, relay, deliver or witness), each variant with a stable
//! reason code.
//!
//! A refusal travels as a `Refusal` until it leaves the node — in a signed refusal to a peer,
//! a witness reply, the API's error or a log line — where [`Refusal::reason_code`] turns it
//! into text once. Refusals decided by a protocol rule keep the protocol's own typed error
//! (and so its code); the node adds only where it was decided (`towards …`).
//!
//! Reason codes are part of the wire and API contract and are listed in `docs/REASONS.md`
//! (a test keeps the two equal); never rename one.

use liaison_protocol::case::CaseError;
use liaison_protocol::checkpoint::CheckpointError;
use liaison_protocol::consent::ConsentError;
use liaison_protocol::seal::SealError;
use liaison_protocol::{DecodeError, HandlingError, VerifyError};
use thiserror::Error;

/// A refusal, with what is wrong and how to fix it as its message.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The officer's request does not make a valid message (a field that does not parse).
    #[error("{0}")]
    InvalidMessage(String),
    /// A recipient is neither a peer nor reachable through a configured or announced route.
    #[error("{0}")]
    NoRoute(String),
    /// A recipient's sealing key is not known yet: content is never sent in the clear.
    #[error("{0}")]
    NoSealingKey(String),
    /// Content could not be sealed for a reason that is no protocol rule (a poisoned lock).
    #[error("{0}")]
    SealingFailed(String),
    /// Sealed content does not open with this node's key.
    #[error("{0}")]
    CannotOpen(String),
    /// A message's creation time is too far from this node's clock.
    #[error("{0}")]
    ClockSkew(String),
    /// The message does not name this node and this node has nowhere to relay it.
    #[error("{0}")]
    NotARecipient(String),
    /// No `[[relay]]` rule allows handing the message from one network to the other.
    #[error("{0}")]
    RelayNotAllowed(String),
    /// A receipt arrived as a message.
    #[error("{0}")]
    UnexpectedKind(String),
    /// A witness frame arrived in the middle of a message stream.
    #[error("{0}")]
    UnexpectedFrame(String),
    /// A route announcement signed by another node than the peer that sent it.
    #[error("{0}")]
    ForgedAnnouncement(String),
    /// The message named is not held here (or its body was purged).
    #[error("{0}")]
    UnknownMessage(String),
    /// Only a message's originator answers consent requests about it.
    #[error("{0}")]
    NotOriginator(String),
    /// A share's grant had expired for a node that originator control protects.
    #[error("{0}")]
    ConsentExpired(String),
    /// This node holds neither the case's opening nor an invitation to it.
    #[error("{0}")]
    UnknownCase(String),
    /// A case with this id is already open.
    #[error("{0}")]
    CaseExists(String),
    /// The message's handling is broader than its case's.
    #[error("{0}")]
    CaseHandling(String),
    /// A party to a case message does not take part in the case.
    #[error("{0}")]
    NotAParticipant(String),
    /// A task change for a task the case does not have.
    #[error("{0}")]
    UnknownTask(String),
    /// A peer presented a checkpoint that does not extend the one this node cosigned for it.
    #[error("{0}")]
    InconsistentCheckpoint(String),
    /// A peer asked to have another log than its own cosigned.
    #[error("{0}")]
    WrongOrigin(String),
    /// The witness cannot use the peer's checkpoint key.
    #[error("{0}")]
    BadKey(String),
    /// The witness cannot read or durably write what it witnessed.
    #[error("{0}")]
    WitnessUnavailable(String),
    /// The node could not decide (its store failed); the detail is for the log.
    #[error("{0}")]
    Internal(String),
    /// Too much already waits for a next hop (its outbox is at its limit): try again later.
    #[error("{detail}")]
    OutboxFull {
        /// What is full, and until when.
        detail: String,
        /// When to try again, in seconds.
        retry_after_secs: u64,
    },
    /// The bytes, counts or sizes break a protocol rule.
    #[error("{context}{error}")]
    Decode {
        /// Where it was decided (empty, or ends with `": "`).
        context: String,
        /// The protocol's error.
        error: DecodeError,
    },
    /// A signature or certificate does not verify.
    #[error("{context}{error}")]
    Verify {
        /// Where it was decided (empty, or ends with `": "`).
        context: String,
        /// The protocol's error.
        error: VerifyError,
    },
    /// A handling rule forbids the hop or the message as composed.
    #[error("{context}{error}")]
    Handling {
        /// Where it was decided (empty, or ends with `": "`).
        context: String,
        /// The protocol's error.
        error: HandlingError,
    },
    /// Sealing or opening content failed.
    #[error("{context}{error}")]
    Seal {
        /// Where it was decided (empty, or ends with `": "`).
        context: String,
        /// The protocol's error.
        error: SealError,
    },
    /// A share's consent does not hold.
    #[error("{context}{error}")]
    Consent {
        /// Where it was decided (empty, or ends with `": "`).
        context: String,
        /// The protocol's error (shared: one share's verdict answers for each of its copies).
        error: std::sync::Arc<ConsentError>,
    },
    /// A checkpoint does not parse or verify.
    #[error("{context}{error}")]
    Checkpoint {
        /// Where it was decided (empty, or ends with `": "`).
        context: String,
        /// The protocol's error.
        error: CheckpointError,
    },
    /// A case rule refuses the message.
    #[error("{}", .0.detail)]
    Case(CaseError),
}

impl Refusal {
    /// Stable reason code.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::InvalidMessage(_) => "invalid-message",
            Self::NoRoute(_) => "no-route",
            Self::NoSealingKey(_) => "no-sealing-key",
            Self::SealingFailed(_) => "sealing-failed",
            Self::CannotOpen(_) => "cannot-open",
            Self::ClockSkew(_) => "clock-skew",
            Self::NotARecipient(_) => "not-a-recipient",
            Self::RelayNotAllowed(_) => "relay-not-allowed",
            Self::UnexpectedKind(_) => "unexpected-kind",
            Self::UnexpectedFrame(_) => "unexpected-frame",
            Self::ForgedAnnouncement(_) => "forged-announcement",
            Self::UnknownMessage(_) => "unknown-message",
            Self::NotOriginator(_) => "not-originator",
            Self::ConsentExpired(_) => "consent-expired",
            Self::UnknownCase(_) => "unknown-case",
            Self::CaseExists(_) => "case-exists",
            Self::CaseHandling(_) => "case-handling",
            Self::NotAParticipant(_) => "not-a-participant",
            Self::UnknownTask(_) => "unknown-task",
            Self::InconsistentCheckpoint(_) => "inconsistent-checkpoint",
            Self::WrongOrigin(_) => "wrong-origin",
            Self::BadKey(_) => "bad-key",
            Self::WitnessUnavailable(_) => "witness-unavailable",
            Self::Internal(_) => "internal-error",
            Self::OutboxFull { .. } => "outbox-full",
            Self::Decode { error, .. } => error.reason_code(),
            Self::Verify { error, .. } => error.reason_code(),
            Self::Handling { error, .. } => error.reason_code(),
            Self::Seal { error, .. } => error.reason_code(),
            Self::Consent { error, .. } => error.reason_code(),
            Self::Checkpoint { error, .. } => error.reason_code(),
            Self::Case(e) => e.code.as_str(),
        }
    }

    /// What is wrong and how to fix it (the text that goes with the reason code).
    pub fn detail(&self) -> String {
        self.to_string()
    }

    /// The same refusal, decided at `context` (e.g. `"towards x.y"`): its message starts
    /// with `"<context>: "`.
    #[must_use]
    pub fn at(self, context: impl std::fmt::Display) -> Self {
        let prefix = |c: String| format!("{context}: {c}");
        match self {
            Self::InvalidMessage(d) => Self::InvalidMessage(prefix(d)),
            Self::NoRoute(d) => Self::NoRoute(prefix(d)),
            Self::NoSealingKey(d) => Self::NoSealingKey(prefix(d)),
            Self::SealingFailed(d) => Self::SealingFailed(prefix(d)),
            Self::CannotOpen(d) => Self::CannotOpen(prefix(d)),
            Self::ClockSkew(d) => Self::ClockSkew(prefix(d)),
            Self::NotARecipient(d) => Self::NotARecipient(prefix(d)),
            Self::RelayNotAllowed(d) => Self::RelayNotAllowed(prefix(d)),
            Self::UnexpectedKind(d) => Self::UnexpectedKind(prefix(d)),
            Self::UnexpectedFrame(d) => Self::UnexpectedFrame(prefix(d)),
            Self::ForgedAnnouncement(d) => Self::ForgedAnnouncement(prefix(d)),
            Self::UnknownMessage(d) => Self::UnknownMessage(prefix(d)),
            Self::NotOriginator(d) => Self::NotOriginator(prefix(d)),
            Self::ConsentExpired(d) => Self::ConsentExpired(prefix(d)),
            Self::UnknownCase(d) => Self::UnknownCase(prefix(d)),
            Self::CaseExists(d) => Self::CaseExists(prefix(d)),
            Self::CaseHandling(d) => Self::CaseHandling(prefix(d)),
            Self::NotAParticipant(d) => Self::NotAParticipant(prefix(d)),
            Self::UnknownTask(d) => Self::UnknownTask(prefix(d)),
            Self::InconsistentCheckpoint(d) => Self::InconsistentCheckpoint(prefix(d)),
            Self::WrongOrigin(d) => Self::WrongOrigin(prefix(d)),
            Self::BadKey(d) => Self::BadKey(prefix(d)),
            Self::WitnessUnavailable(d) => Self::WitnessUnavailable(prefix(d)),
            Self::Internal(d) => Self::Internal(prefix(d)),
            Self::OutboxFull {
                detail,
                retry_after_secs,
            } => Self::OutboxFull {
                detail: prefix(detail),
                retry_after_secs,
            },
            Self::Decode { context, error } => Self::Decode {
                context: prefix(context),
                error,
            },
            Self::Verify { context, error } => Self::Verify {
                context: prefix(context),
                error,
            },
            Self::Handling { context, error } => Self::Handling {
                context: prefix(context),
                error,
            },
            Self::Seal { context, error } => Self::Seal {
                context: prefix(context),
                error,
            },
            Self::Consent { context, error } => Self::Consent {
                context: prefix(context),
                error,
            },
            Self::Checkpoint { context, error } => Self::Checkpoint {
                context: prefix(context),
                error,
            },
            Self::Case(mut e) => {
                e.detail = prefix(e.detail);
                Self::Case(e)
            }
        }
    }

    /// The node's own refusal with this code, as a peer's answer names it (`None` for a code
    /// the node does not decide itself: a protocol rule's, or one this version does not know).
    pub fn from_code(code: &str, detail: String) -> Option<Self> {
        let d = detail;
        Some(match code {
            "invalid-message" => Self::InvalidMessage(d),
            "no-route" => Self::NoRoute(d),
            "no-sealing-key" => Self::NoSealingKey(d),
            "sealing-failed" => Self::SealingFailed(d),
            "cannot-open" => Self::CannotOpen(d),
            "clock-skew" => Self::ClockSkew(d),
            "not-a-recipient" => Self::NotARecipient(d),
            "relay-not-allowed" => Self::RelayNotAllowed(d),
            "unexpected-kind" => Self::UnexpectedKind(d),
            "unexpected-frame" => Self::UnexpectedFrame(d),
            "forged-announcement" => Self::ForgedAnnouncement(d),
            "unknown-message" => Self::UnknownMessage(d),
            "not-originator" => Self::NotOriginator(d),
            "consent-expired" => Self::ConsentExpired(d),
            "unknown-case" => Self::UnknownCase(d),
            "case-exists" => Self::CaseExists(d),
            "case-handling" => Self::CaseHandling(d),
            "not-a-participant" => Self::NotAParticipant(d),
            "unknown-task" => Self::UnknownTask(d),
            "inconsistent-checkpoint" => Self::InconsistentCheckpoint(d),
            "wrong-origin" => Self::WrongOrigin(d),
            "bad-key" => Self::BadKey(d),
            "witness-unavailable" => Self::WitnessUnavailable(d),
            "internal-error" => Self::Internal(d),
            "outbox-full" => Self::OutboxFull {
                detail: d,
                retry_after_secs: 1,
            },
            _ => return None,
        })
    }

    /// One refusal of each variant: the codes the node can refuse with (the wrapped protocol
    /// errors stand for all of their own codes, listed by the protocol crate).
    pub fn one_of_each() -> Vec<Refusal> {
        let d = String::new;
        let context = String::new;
        vec![
            Self::InvalidMessage(d()),
            Self::NoRoute(d()),
            Self::NoSealingKey(d()),
            Self::SealingFailed(d()),
            Self::CannotOpen(d()),
            Self::ClockSkew(d()),
            Self::NotARecipient(d()),
            Self::RelayNotAllowed(d()),
            Self::UnexpectedKind(d()),
            Self::UnexpectedFrame(d()),
            Self::ForgedAnnouncement(d()),
            Self::UnknownMessage(d()),
            Self::NotOriginator(d()),
            Self::ConsentExpired(d()),
            Self::UnknownCase(d()),
            Self::CaseExists(d()),
            Self::CaseHandling(d()),
            Self::NotAParticipant(d()),
            Self::UnknownTask(d()),
            Self::InconsistentCheckpoint(d()),
            Self::WrongOrigin(d()),
            Self::BadKey(d()),
            Self::WitnessUnavailable(d()),
            Self::Internal(d()),
            Self::OutboxFull {
                detail: d(),
                retry_after_secs: 1,
            },
            Self::Decode {
                context: context(),
                error: DecodeError::EmptyFrame,
            },
            Self::Verify {
                context: context(),
                error: VerifyError::BadSignature,
            },
            Self::Handling {
                context: context(),
                error: HandlingError::Expired,
            },
            Self::Seal {
                context: context(),
                error: SealError::CannotOpen,
            },
            Self::Consent {
                context: context(),
                error: ConsentError::Denied(d()).into(),
            },
            Self::Checkpoint {
                context: context(),
                error: CheckpointError::MalformedNote(""),
            },
            Self::Case(CaseError {
                code: liaison_protocol::case::CaseCode::CaseClosed,
                detail: d(),
            }),
        ]
    }

    /// Whether this refusal is a protocol rule's (its code is the protocol's).
    pub fn is_protocol_rule(&self) -> bool {
        matches!(
            self,
            Self::Decode { .. }
                | Self::Verify { .. }
                | Self::Handling { .. }
                | Self::Seal { .. }
                | Self::Consent { .. }
                | Self::Checkpoint { .. }
                | Self::Case(_)
        )
    }

    /// Every reason code of the node's own refusals (not those of the protocol errors it
    /// wraps, see [`liaison_protocol::error::REASON_CODES`]).
    pub fn node_codes() -> Vec<&'static str> {
        Self::one_of_each()
            .into_iter()
            .filter(|r| !r.is_protocol_rule())
            .map(|r| r.reason_code())
            .collect()
    }
}

impl From<HandlingError> for Refusal {
    fn from(error: HandlingError) -> Self {
        Self::Handling {
            context: String::new(),
            error,
        }
    }
}

impl From<DecodeError> for Refusal {
    fn from(error: DecodeError) -> Self {
        Self::Decode {
            context: String::new(),
            error,
        }
    }
}

impl From<VerifyError> for Refusal {
    fn from(error: VerifyError) -> Self {
        Self::Verify {
            context: String::new(),
            error,
        }
    }
}

impl From<SealError> for Refusal {
    fn from(error: SealError) -> Self {
        Self::Seal {
            context: String::new(),
            error,
        }
    }
}

impl From<ConsentError> for Refusal {
    fn from(error: ConsentError) -> Self {
        Self::Consent {
            context: String::new(),
            error: error.into(),
        }
    }
}

impl From<CheckpointError> for Refusal {
    fn from(error: CheckpointError) -> Self {
        Self::Checkpoint {
            context: String::new(),
            error,
        }
    }
}

impl From<CaseError> for Refusal {
    fn from(e: CaseError) -> Self {
        Self::Case(e)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Adding a variant breaks this match until the variant gets a position, and the test
    /// below until it is in [`Refusal::one_of_each`] at that position.
    fn position(r: &Refusal) -> usize {
        match r {
            Refusal::InvalidMessage(_) => 0,
            Refusal::NoRoute(_) => 1,
            Refusal::NoSealingKey(_) => 2,
            Refusal::SealingFailed(_) => 3,
            Refusal::CannotOpen(_) => 4,
            Refusal::ClockSkew(_) => 5,
            Refusal::NotARecipient(_) => 6,
            Refusal::RelayNotAllowed(_) => 7,
            Refusal::UnexpectedKind(_) => 8,
            Refusal::UnexpectedFrame(_) => 9,
            Refusal::ForgedAnnouncement(_) => 10,
            Refusal::UnknownMessage(_) => 11,
            Refusal::NotOriginator(_) => 12,
            Refusal::ConsentExpired(_) => 13,
            Refusal::UnknownCase(_) => 14,
            Refusal::CaseExists(_) => 15,
            Refusal::CaseHandling(_) => 16,
            Refusal::NotAParticipant(_) => 17,
            Refusal::UnknownTask(_) => 18,
            Refusal::InconsistentCheckpoint(_) => 19,
            Refusal::WrongOrigin(_) => 20,
            Refusal::BadKey(_) => 21,
            Refusal::WitnessUnavailable(_) => 22,
            Refusal::Internal(_) => 23,
            Refusal::OutboxFull { .. } => 24,
            Refusal::Decode { .. } => 25,
            Refusal::Verify { .. } => 26,
            Refusal::Handling { .. } => 27,
            Refusal::Seal { .. } => 28,
            Refusal::Consent { .. } => 29,
            Refusal::Checkpoint { .. } => 30,
            Refusal::Case(_) => 31,
        }
    }
    const VARIANTS: usize = 32;

    #[test]
    fn every_variant_is_listed_once_in_order() {
        let positions: Vec<usize> = Refusal::one_of_each().iter().map(position).collect();
        assert_eq!(positions, (0..VARIANTS).collect::<Vec<_>>());
    }

    #[test]
    fn a_node_code_reads_back_as_its_variant() {
        for code in Refusal::node_codes() {
            let r = Refusal::from_code(code, "d".into()).expect(code);
            assert_eq!(r.reason_code(), code);
            assert_eq!(r.detail(), "d");
        }
        let mut codes = Refusal::node_codes();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Refusal::node_codes().len(), "duplicate code");
    }

    /// The codes docs/REASONS.md lists: the backticked words in the first cell of every
    /// table row.
    fn documented() -> BTreeSet<&'static str> {
        include_str!("../../docs/REASONS.md")
            .lines()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| {
                let first = l.split('|').nth(1).unwrap_or_default();
                first.split('`').skip(1).step_by(2)
            })
            .collect()
    }

    /// Every code something in Liaison can produce: the protocol's, the PKI's and its TLS
    /// layer's, the store's (alarms, errors, lock, files), and the node's (refusals,
    /// transport, streams, API).
    fn produced() -> BTreeSet<String> {
        let io = || std::io::Error::other("x");
        let api = crate::api::tests::one_of_each();
        let mut all: Vec<&str> = Refusal::node_codes();
        all.extend(liaison_protocol::error::REASON_CODES);
        all.extend(liaison_certs::error::REASON_CODES);
        all.extend(liaison_certs::tls::REASON_CODES);
        all.extend(crate::endpoint::REASON_CODES);
        all.push(crate::wire::ReadError::Stream(io()).reason_code());
        all.extend(crate::store::reason_codes());
        let mut all: BTreeSet<String> = all.into_iter().map(str::to_owned).collect();
        // A refusal carries the code of the layer that refused, listed above.
        all.extend(
            api.iter()
                .filter(|e| !matches!(e, crate::api::ApiError::Refused(_)))
                .map(|e| e.reason_code().to_owned()),
        );
        all
    }

    #[test]
    fn every_node_refusal_code_is_documented() {
        let doc = documented();
        for code in Refusal::node_codes() {
            assert!(doc.contains(code), "{code} is not in docs/REASONS.md");
        }
    }

    #[test]
    fn every_documented_code_is_produced_somewhere() {
        let produced = produced();
        let documented = documented();
        assert!(documented.contains("sealing-failed") && documented.contains("io"));
        for code in documented {
            assert!(
                produced.contains(code),
                "docs/REASONS.md lists {code}, which nothing produces"
            );
        }
    }

    #[test]
    fn a_context_leads_the_message_and_keeps_the_code() {
        let r = Refusal::from(HandlingError::Expired).at("towards a.b");
        assert_eq!(r.reason_code(), "message-expired");
        assert_eq!(r.detail(), "towards a.b: message expired");
        let r = Refusal::NoRoute("no route to x".into()).at("y");
        assert_eq!(r.detail(), "y: no route to x");
    }
}
