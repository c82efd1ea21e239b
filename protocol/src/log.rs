//! The node's event log: what each leaf of the Merkle tree says.
//!
//! Every event a node records — a message sent, received, relayed or refused; a receipt or
//! refusal issued or received; an officer's acknowledgement; an administrative act; a purge
//! — is one [`LogEntry`], encoded canonically as `LEAF_VERSION || postcard(LogEntry)`, and
//! that byte string is a leaf of the RFC 6962 tree ([`crate::merkle`]).
//!
//! Leaves hold *commitments*, never content: message ids (SHA-256 of a body that includes
//! 16 random nonce bytes, so the id is a salted hash of the content and cannot be confirmed
//! by guessing), parties, kinds, handling codes, evaluation and times. Bodies live in a
//! separate store and can be purged while every proof over the log still verifies.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::handling::{Evaluation, Recipient, Release, Tlp};
use crate::ids::{CaseId, MessageId, NodeId, Timestamp};
use crate::message::{Body, ReceiptStatus};

/// Version byte that starts every leaf.
pub const LEAF_VERSION: u8 = 1;

/// What the log records about a message: everything an auditor needs to say who sent what
/// kind of message to whom, when, under which handling — and nothing of its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFacts {
    /// Message id (SHA-256 of the signed body).
    pub id: MessageId,
    /// Kind name (`alert`, `request`, …).
    pub kind: String,
    /// Originating node.
    pub originator: NodeId,
    /// Named recipients.
    pub recipients: Vec<Recipient>,
    /// Creation time stated by the originator.
    pub created_at: Timestamp,
    /// Case, if any.
    pub case: Option<CaseId>,
    /// The message this one refers to, if any.
    pub in_reply_to: Option<MessageId>,
    /// TLP level.
    pub tlp: Tlp,
    /// EU handling codes in force (`H0`…`H3`).
    pub eu_codes: Vec<String>,
    /// Releasability.
    pub releasability: Vec<Release>,
    /// 4x4 evaluation.
    pub evaluation: Evaluation,
}

impl MessageFacts {
    /// The facts of a decoded body with id `id`.
    pub fn of(id: MessageId, body: &Body) -> Self {
        Self {
            id,
            kind: body.kind.name().to_owned(),
            originator: body.header.originator.clone(),
            recipients: body.header.recipients.clone(),
            created_at: body.header.created_at,
            case: body.header.case.clone(),
            in_reply_to: body.header.in_reply_to,
            tlp: body.handling.tlp,
            eu_codes: body
                .handling
                .eu_codes()
                .into_iter()
                .map(String::from)
                .collect(),
            releasability: body.handling.releasability.clone(),
            evaluation: body.handling.evaluation,
        }
    }
}

/// One logged event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// This node originated a message and queued it for its first hop(s).
    Sent {
        /// The message.
        msg: MessageFacts,
        /// Next hops it was queued for.
        to: Vec<NodeId>,
    },
    /// A message arrived, verified, and was delivered to this node: to its inbox, or — route
    /// announcements and hop reports, which the node itself consumes — to its routes, key
    /// directory or trails.
    Received {
        /// The message.
        msg: MessageFacts,
        /// The peer that handed it over.
        from: NodeId,
        /// Relays it passed before that peer's hop.
        route: Vec<NodeId>,
    },
    /// A message arrived, verified, and was queued for onward hops.
    Relayed {
        /// The message.
        msg: MessageFacts,
        /// The peer that handed it over.
        from: NodeId,
        /// Next hops it was queued for.
        to: Vec<NodeId>,
    },
    /// This node refused a message (or a frame that did not become one).
    Refused {
        /// The refused message's id, if its bytes got that far.
        id: Option<MessageId>,
        /// Its facts, if it decoded.
        msg: Option<MessageFacts>,
        /// The peer it came from (or would have gone to).
        peer: NodeId,
        /// Reason code.
        reason_code: String,
    },
    /// This node issued a signed receipt.
    ReceiptSent {
        /// The receipt message's id.
        receipt: MessageId,
        /// The peer it went to.
        to: NodeId,
        /// What it says.
        status: ReceiptStatus,
        /// Messages covered.
        ids: Vec<MessageId>,
    },
    /// A peer's signed receipt arrived and verified.
    ReceiptReceived {
        /// The receipt message's id.
        receipt: MessageId,
        /// The peer that signed it.
        from: NodeId,
        /// What it says.
        status: ReceiptStatus,
        /// Messages covered.
        ids: Vec<MessageId>,
    },
    /// A peer's signed refusal of one of our messages arrived and verified.
    RefusalReceived {
        /// The refusal message's id.
        refusal: MessageId,
        /// The refused message.
        id: MessageId,
        /// The peer that refused.
        from: NodeId,
        /// Its reason code.
        reason_code: String,
    },
    /// An officer acknowledged (read) a delivered message.
    Acknowledged {
        /// The message.
        id: MessageId,
        /// Who (officer identity or `token`).
        by: String,
    },
    /// An administrative act: configuration change, trust import, revocation, start-up.
    Admin {
        /// What (`start`, `config`, `trust-import`, …).
        act: String,
        /// Details (never secrets).
        detail: String,
    },
    /// A message body was purged under the retention policy; its log entries remain.
    Purged {
        /// The message.
        id: MessageId,
        /// Policy rule that applied.
        rule: String,
    },
}

impl Event {
    /// Lower-case event type name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Sent { .. } => "sent",
            Event::Received { .. } => "received",
            Event::Relayed { .. } => "relayed",
            Event::Refused { .. } => "refused",
            Event::ReceiptSent { .. } => "receipt-sent",
            Event::ReceiptReceived { .. } => "receipt-received",
            Event::RefusalReceived { .. } => "refusal-received",
            Event::Acknowledged { .. } => "acknowledged",
            Event::Admin { .. } => "admin",
            Event::Purged { .. } => "purged",
        }
    }

    /// Message ids this event is about (for the by-message index and trails).
    pub fn message_ids(&self) -> Vec<MessageId> {
        match self {
            Event::Sent { msg, .. } | Event::Received { msg, .. } | Event::Relayed { msg, .. } => {
                vec![msg.id]
            }
            Event::Refused { id, .. } => id.iter().copied().collect(),
            Event::ReceiptSent { ids, .. } | Event::ReceiptReceived { ids, .. } => ids.clone(),
            Event::RefusalReceived { id, .. } => vec![*id],
            Event::Acknowledged { id, .. } | Event::Purged { id, .. } => vec![*id],
            Event::Admin { .. } => vec![],
        }
    }
}

/// One leaf of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The entry's own position in the log (0-based). A verifier checks it against the
    /// position it found the leaf at, so a removed or reordered entry is named where it
    /// happened, not only by a root that no longer matches.
    pub index: u64,
    /// When the node recorded the event (node clock, UTC).
    pub at: Timestamp,
    /// The event.
    pub event: Event,
}

impl LogEntry {
    /// The leaf bytes: version byte, then postcard.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.push(LEAF_VERSION);
        // Serialising plain structs into a Vec cannot fail.
        let _ = postcard::to_io(self, &mut out);
        out
    }

    /// Decodes leaf bytes strictly (known version, no trailing bytes, canonical).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (&v, rest) = bytes.split_first().ok_or(DecodeError::Malformed {
            what: "log entry",
            detail: "empty".into(),
        })?;
        if v != LEAF_VERSION {
            return Err(DecodeError::UnknownVersion(v));
        }
        let (entry, tail): (LogEntry, _) =
            postcard::take_from_bytes(rest).map_err(|e| DecodeError::Malformed {
                what: "log entry",
                detail: e.to_string(),
            })?;
        if !tail.is_empty() {
            return Err(DecodeError::TrailingBytes(tail.len(), "log entry"));
        }
        if entry.encode() != bytes {
            return Err(DecodeError::NonCanonical("log entry"));
        }
        Ok(entry)
    }

    /// The Merkle leaf hash of this entry.
    pub fn leaf_hash(&self) -> crate::merkle::Hash {
        crate::merkle::leaf_hash(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    #[test]
    fn entries_round_trip_and_hold_no_content() {
        let body = sample::alert();
        let bytes = body.encode().unwrap();
        let id = MessageId::of_body(&bytes);
        let e = LogEntry {
            index: 0,
            at: sample::SAMPLE_TIME,
            event: Event::Sent {
                msg: MessageFacts::of(id, &body),
                to: vec!["caricc.central-asia".parse().unwrap()],
            },
        };
        let leaf = e.encode();
        assert_eq!(LogEntry::decode(&leaf).unwrap(), e);
        let text = String::from_utf8_lossy(&leaf);
        assert!(
            !text.contains("Партия"),
            "payload text must not reach the log"
        );
        assert!(
            !text.contains("MSCU1234565"),
            "entities must not reach the log"
        );
        let mut bad = leaf.clone();
        bad.push(0);
        assert_eq!(
            LogEntry::decode(&bad).unwrap_err().reason_code(),
            "trailing-bytes"
        );
    }
}
