//! # liaison-store
//!
//! The node's durable state: the append-only event log (Merkle leaves), message bodies and
//! states, per-peer outboxes, the inbox and the case index — and the single writer that
//! changes them.
//!
//! # Shape
//! Everything durable is in one append-only file, the journal ([`journal`]): each group commit
//! appends one checksummed batch of log leaves, new messages (state + envelope) and replaced
//! states, and `fdatasync`s it. The indexes that find things in it live in memory ([`Index`])
//! and are rebuilt by replaying the journal at start-up; they hold positions and counters, not
//! bodies: about 90 bytes per message (see `docs/DECISIONS.md`, "Storage").
//!
//! One thread owns all writes (the writer). Callers send it semantic requests (originate,
//! accept, record a receipt …) over a bounded channel with a oneshot reply. The writer takes
//! every request waiting, folds them into one batch (group commit), makes it durable, only
//! then updates the indexes and the Merkle root and answers. Nothing is acknowledged before it
//! is durable, and readers see only committed state.
//!
//! A caller that is about to send a request which takes a while to prepare (a message being
//! signed) can announce it first ([`Store::announce`]). While announced requests
//! are still on their way and the group is small, the writer waits for them, at most
//! [`DEFAULT_LINGER`], so that one flush covers them all: under load this cuts flushes (each
//! costs far more CPU in the kernel than the records it writes), and a lone request, with
//! nothing announced behind it, is flushed at once.
//!
//! The log has no update or delete operation; the signed checkpoint files beside the journal
//! (see [`checkpoint`]) let start-up detect a store rolled back below what was published.
//!
//! # Trust in what is read back
//! One process owns a data dir ([`lock`]). Everything read back from the journal is checked
//! before it is used: a message's envelope must decode and hash to its id
//! ([`Store::envelope_bytes`]); one that does not is marked damaged, raises the alarm
//! `stored-body-damaged`, and is never shown, opened or forwarded, while the rest keeps working.
//! Start-up checks the checksums of every batch's metadata; [`Store::scrub`] (run in the
//! background after start-up, and on demand) checks every body: a batch's bodies checksum where
//! no purge zeroed a body in it, else each body's id, signature and route.

#![forbid(unsafe_code)]
#![warn(unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod alarm;
pub mod backup;
pub mod checkpoint;
pub mod error;
pub mod files;
pub mod journal;
pub mod lock;
pub mod metrics;

mod handle;
mod index;
mod owed;
mod retention;
mod scrub;
mod writer;

pub use error::{reason_codes, StoreError};
pub use handle::{Announcement, Store, StoreOptions};
pub use index::Index;
pub use lock::DataDirLock;
pub use retention::RetentionRule;
pub use scrub::{ScrubReport, SignatureCheck};
pub use writer::DEFAULT_LINGER;

use liaison_protocol::log::MessageFacts;
use liaison_protocol::{Envelope, MessageId, NodeId, Timestamp};
use serde::{Deserialize, Serialize};

/// The store's results.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// What this node did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// We originated it.
    Originated,
    /// We are a destination: it is in our inbox.
    Delivered,
    /// We relayed it onward.
    Relayed,
}

/// A hop's answer about a message, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopRecord {
    /// The peer that answered.
    pub peer: NodeId,
    /// `relayed`, `delivered` or a refusal reason code.
    pub outcome: String,
    /// When we logged the answer.
    pub at: Timestamp,
    /// The log index of that entry.
    pub leaf: u64,
    /// The signed receipt/refusal message id.
    pub proof: MessageId,
}

/// Everything the node keeps about one message besides its body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageState {
    /// The message's facts (as logged).
    pub facts: MessageFacts,
    /// What we did with it.
    pub role: Role,
    /// The peer it came from (none if we originated it).
    pub from: Option<NodeId>,
    /// When we first logged it.
    pub logged_at: Timestamp,
    /// Log indices of every entry about this message.
    pub leaves: Vec<u64>,
    /// Next hops still owing a receipt, with their outbox sequence numbers.
    pub pending: Vec<(NodeId, u64)>,
    /// Answers from next hops.
    pub hops: Vec<HopRecord>,
    /// Inbox position, if delivered here.
    pub inbox_seq: Option<u64>,
    /// Acknowledged by an officer.
    pub acked: bool,
    /// Body purged.
    pub purged: bool,
}

/// The result of offering a received message to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// New: logged (at this leaf index), stored, delivered and/or queued.
    New(u64),
    /// Already seen: nothing changed; acknowledge it again.
    Duplicate,
}

/// A message as the store keeps it: its envelope exactly as on the wire, and the route in it.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The envelope's encoding (as received, or as sent).
    pub bytes: Vec<u8>,
    /// The relays it passed, as in the envelope.
    pub route: Vec<NodeId>,
}

impl Stored {
    /// The stored form of an envelope.
    pub fn of(envelope: &Envelope) -> Self {
        Self {
            bytes: envelope.encode(),
            route: envelope.route.clone(),
        }
    }
}

/// A verified message offered to the store by the node that received it.
#[derive(Clone, Debug)]
pub struct Offer {
    /// The envelope as received.
    pub stored: Stored,
    /// Its facts.
    pub facts: MessageFacts,
    /// This node is one of its recipients.
    pub deliver: bool,
    /// It goes to the inbox (a delivered message an officer reads; not a hop report).
    pub inbox: bool,
    /// Peers to hand it on to (relaying, or fanning a network recipient out).
    pub next_hops: Vec<NodeId>,
}

/// One inbox line.
#[derive(Clone, Debug)]
pub struct InboxItem {
    /// Inbox sequence number.
    pub seq: u64,
    /// State of the message.
    pub state: MessageState,
}

pub(crate) fn encode<T: Serialize>(t: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let _ = postcard::to_io(t, &mut out);
    out
}

pub(crate) fn decode_state(bytes: &[u8]) -> StoreResult<MessageState> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("message state: {e}")))
}

/// Whether stored envelope bytes are still the message `id` names: they decode, and their
/// signed body hashes to `id`. Returns the envelope, or what does not hold.
pub(crate) fn check_envelope(
    id: &MessageId,
    bytes: &[u8],
) -> std::result::Result<Envelope, String> {
    let env = Envelope::decode(bytes)
        .map_err(|e| format!("it no longer decodes: {}", e.reason_code()))?;
    let now = env.signed.id();
    if now != *id {
        return Err(format!("its body now hashes to {}", now.short()));
    }
    Ok(env)
}

/// The wall clock, as a protocol timestamp.
pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(d.as_millis() as u64)
}
