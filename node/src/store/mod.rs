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

pub mod checkpoint;
pub mod error;
pub mod journal;
pub mod lock;

pub use error::StoreError;
pub use lock::DataDirLock;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use liaison_protocol::checkpoint::{log_origin, Checkpoint, NoteVerifier, SignedCheckpoint};
use liaison_protocol::log::{Event, LogEntry, MessageFacts};
use liaison_protocol::merkle::{leaf_hash, Hash, RootBuilder, EMPTY_ROOT};
use liaison_protocol::{CaseId, Envelope, MessageId, NodeId, Signer, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

use journal::{BatchBuf, Bodies, FileMedium, Loc, Medium, Record, ReplayEnd};

use crate::alarm::{AlarmKind, Alarms};

/// The store's results.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// Most requests folded into one group commit.
const MAX_GROUP: usize = 4096;
/// A group this large is committed without waiting for announced requests.
const LINGER_GROUP: usize = 64;
/// How long the writer waits at most for announced requests before it commits a group
/// (see the module documentation); [`Store::set_group_linger`] changes it.
pub const DEFAULT_LINGER: Duration = Duration::from_micros(500);
/// How often the writer looks again for announced requests while it waits.
const LINGER_STEP: Duration = Duration::from_micros(100);

/// A request announced to the writer and not yet received by it (see [`Store::announce`]):
/// while it lives, a group commit may wait a little for it. Dropping it withdraws the
/// announcement (e.g. when signing fails).
#[must_use = "an announcement is withdrawn when dropped"]
pub struct Announcement(Arc<AtomicUsize>);

impl Drop for Announcement {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

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

enum Request {
    Originate {
        envelope: Stored,
        facts: MessageFacts,
        next_hops: Vec<NodeId>,
        /// Withdrawn by the writer as soon as it has received the request.
        announced: Option<Announcement>,
        reply: oneshot::Sender<StoreResult<u64>>,
    },
    Accept {
        envelope: Stored,
        facts: MessageFacts,
        from: NodeId,
        deliver: bool,
        inbox: bool,
        next_hops: Vec<NodeId>,
        reply: oneshot::Sender<StoreResult<Accepted>>,
    },
    /// A receipt or refusal from a next hop about messages we queued for it.
    HopAnswer {
        event: Event,
        peer: NodeId,
        outcome: Vec<(MessageId, String)>,
        proof: MessageId,
        /// The answer's signed envelope, kept beside its log entry for auditors.
        signed: Vec<u8>,
        /// Carried back by a relay (a hop report) from a hop beyond our next hop: it joins
        /// the trail of messages we originated, once, and owes nothing.
        remote: bool,
        reply: oneshot::Sender<StoreResult<u64>>,
    },
    Record {
        event: Event,
        /// A signed receipt or refusal the event names, kept beside its log entry.
        signed: Option<Vec<u8>>,
        reply: oneshot::Sender<StoreResult<u64>>,
    },
    Ack {
        id: MessageId,
        by: String,
        reply: oneshot::Sender<StoreResult<bool>>,
    },
    Checkpoint {
        reply: oneshot::Sender<StoreResult<Option<String>>>,
    },
    /// Purge these messages' bodies (with the rule that applies): a purge entry each, then
    /// the bodies zeroed. Replies with the ids actually purged.
    Purge {
        ids: Vec<(MessageId, String)>,
        reply: oneshot::Sender<StoreResult<Vec<MessageId>>>,
    },
    /// A witness's cosignature of one of our checkpoints (already verified) to keep.
    Cosigned {
        note: String,
        reply: oneshot::Sender<StoreResult<()>>,
    },
    /// Finish, then stop the writer (replies after the last commit).
    Shutdown {
        reply: oneshot::Sender<StoreResult<()>>,
    },
}

/// Where one message's current state and its envelope are in the journal.
#[derive(Clone, Copy)]
struct MsgEntry {
    state: Loc,
    body: Loc,
}

/// The in-memory indexes over the journal, rebuilt by [`Index::load`] at start-up.
///
/// Messages are numbered densely in journal order; every other index refers to that number.
#[derive(Default)]
pub struct Index {
    /// Message id → number: a table of numbers whose keys are the ids in `ids` (4 bytes per
    /// entry in the table instead of a second copy of every 32-byte id).
    by_id: hashbrown::HashTable<u32>,
    hasher: std::hash::RandomState,
    /// Message number → id.
    ids: Vec<MessageId>,
    msgs: Vec<MsgEntry>,
    /// Log entry `i` → its bytes in the journal.
    leaves: Vec<Loc>,
    /// Merkle root of the log (a frontier of O(log n) hashes).
    root: RootBuilder,
    /// Inbox position → message.
    inbox: Vec<u32>,
    /// Acknowledged flags by inbox position (a bitset).
    acked: Vec<u64>,
    unread: u64,
    /// Per next hop: outbox sequence → message (only messages still owed a receipt).
    outbox: HashMap<NodeId, BTreeMap<u64, u32>>,
    /// Next outbox sequence per next hop (never reused).
    next_outbox: HashMap<NodeId, u64>,
    /// States of messages still owed a receipt by some next hop, kept in memory: the receipt
    /// path and the peer sessions read them on every message. Bounded by the outboxes.
    hot: HashMap<u32, MessageState>,
    /// Envelopes of hot messages written by this run, while they fit in [`SENDING_CACHE`]:
    /// what the peer sessions send, without reading the journal back (a system call and a
    /// copy per message).
    sending: HashMap<u32, Arc<Vec<u8>>>,
    /// Bytes held in `sending`.
    sending_bytes: usize,
    /// Case → its messages.
    cases: HashMap<CaseId, Vec<MessageId>>,
    /// The compact range of the log at the sizes of recent checkpoints (at most
    /// [`FRONTIERS`]): what a consistency proof from one of them needs besides later leaves.
    frontiers: BTreeMap<u64, RootBuilder>,
    /// Where the bodies of purged messages were (found at load; a purge cut short by a crash
    /// is finished at start-up).
    purged_bodies: Vec<Loc>,
    /// Messages whose stored copy was found damaged (by a read or a scrub), with why: never
    /// shown, opened or forwarded. Found again by the scrub after a restart.
    damaged: HashMap<u32, String>,
    /// Messages whose body was purged.
    purged: HashSet<u32>,
}

/// A record that passed its batch's checksum but does not make sense: written that way.
fn altered(e: StoreError) -> anyhow::Error {
    anyhow!("ALARM: the journal holds a record that does not make sense ({e}); the store was altered. Refusing to start.")
}

/// Recent checkpoints whose compact range the index keeps for witnesses' proofs.
const FRONTIERS: usize = 32;

/// Consistency proofs kept once computed (each O(log n) hashes); all are dropped when full.
const KEPT_PROOFS: usize = 16;

/// Most bytes of envelopes the index keeps in memory for the peer sessions (about 4 500
/// envelopes of a 1 KiB message: the default window); beyond that they are read back from
/// the journal.
const SENDING_CACHE: usize = 8 << 20;

impl Index {
    /// Replays the journal; returns the index, the roots at those of `root_sizes` the log
    /// reaches, and what the replay found at the end of the file.
    pub fn load(
        medium: &dyn Medium,
        root_sizes: &[u64],
    ) -> Result<(Self, HashMap<u64, Hash>, ReplayEnd)> {
        Self::load_keeping(medium, root_sizes, &[])
    }

    /// As [`Index::load`], also keeping the compact range at each of `frontier_sizes` (the
    /// sizes of recent checkpoints, for consistency proofs).
    pub fn load_keeping(
        medium: &dyn Medium,
        root_sizes: &[u64],
        frontier_sizes: &[u64],
    ) -> Result<(Self, HashMap<u64, Hash>, ReplayEnd)> {
        let mut idx = Index::default();
        let mut roots = HashMap::new();
        if root_sizes.contains(&0) {
            roots.insert(0, EMPTY_ROOT);
        }
        if frontier_sizes.contains(&0) {
            idx.keep_frontier();
        }
        let end = journal::replay(medium, |rec| {
            match rec {
                Record::Leaf { loc, bytes } => {
                    idx.leaves.push(loc);
                    idx.root.push(bytes);
                    if root_sizes.contains(&idx.root.len()) {
                        roots.insert(idx.root.len(), idx.root.root());
                    }
                    if frontier_sizes.contains(&idx.root.len()) {
                        idx.keep_frontier();
                    }
                }
                Record::New { state, bytes, body } => {
                    let s = decode_state(bytes).map_err(altered)?;
                    if idx.number(&s.facts.id).is_some() {
                        bail!(
                            "ALARM: the journal stores message {} twice; the store was altered. \
                             Refusing to start.",
                            s.facts.id
                        );
                    }
                    idx.insert(s, state, body).map_err(altered)?;
                }
                Record::Signed { .. } => {}
                Record::Update { state, bytes } => {
                    let s = decode_state(bytes).map_err(altered)?;
                    let n = idx.number(&s.facts.id).ok_or_else(|| {
                        anyhow!(
                            "ALARM: the journal updates unknown message {}; the store was \
                             altered. Refusing to start.",
                            s.facts.id
                        )
                    })?;
                    // A purge replaces the state in a later batch than the body's (a body is
                    // never purged in the batch that stored it): only then is it finished
                    // here, so the last batch's bodies (checksummed) are never touched.
                    if s.purged {
                        if let Some(e) = idx.msgs.get(n as usize) {
                            if e.body.offset() < state.offset() {
                                idx.purged_bodies.push(e.body);
                            }
                        }
                    }
                    idx.update(n, s, state).map_err(altered)?;
                }
            }
            Ok(())
        })?;
        Ok((idx, roots, end))
    }

    /// Keeps the compact range at the current size (dropping the oldest beyond [`FRONTIERS`]).
    fn keep_frontier(&mut self) {
        self.frontiers.insert(self.root.len(), self.root.clone());
        while self.frontiers.len() > FRONTIERS {
            self.frontiers.pop_first();
        }
    }

    /// The number of the message with this id.
    fn number(&self, id: &MessageId) -> Option<u32> {
        self.by_id
            .find(self.hasher.hash_one(id), |n| {
                self.ids.get(*n as usize) == Some(id)
            })
            .copied()
    }

    /// Number of log entries.
    pub fn log_size(&self) -> u64 {
        self.root.len()
    }

    /// Root of the log.
    pub fn log_root(&self) -> Hash {
        self.root.root()
    }

    fn acked_bit(&self, seq: u64) -> bool {
        self.acked
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1 << (seq % 64)) != 0)
    }

    fn set_acked_bit(&mut self, seq: u64) {
        let w = (seq / 64) as usize;
        if self.acked.len() <= w {
            self.acked.resize(w + 1, 0);
        }
        self.acked[w] |= 1 << (seq % 64);
    }

    /// Adds a new message (number = current count); returns its number.
    fn insert(&mut self, s: MessageState, state: Loc, body: Loc) -> StoreResult<u32> {
        let n = u32::try_from(self.msgs.len())
            .map_err(|_| StoreError::Refused("the store holds 2^32 messages".into()))?;
        self.msgs.push(MsgEntry { state, body });
        let Index {
            by_id, hasher, ids, ..
        } = self;
        ids.push(s.facts.id);
        by_id.insert_unique(hasher.hash_one(s.facts.id), n, |m| {
            ids.get(*m as usize).map_or(0, |id| hasher.hash_one(id))
        });
        if let Some(case) = &s.facts.case {
            self.cases.entry(case.clone()).or_default().push(s.facts.id);
        }
        if let Some(seq) = s.inbox_seq {
            if seq != self.inbox.len() as u64 {
                return Err(StoreError::Corrupt(format!(
                    "inbox position {seq} out of order in the journal; the store was altered"
                )));
            }
            self.inbox.push(n);
            if s.acked {
                self.set_acked_bit(seq);
            } else {
                self.unread += 1;
            }
        }
        if s.purged {
            self.purged.insert(n);
        }
        self.track(n, s);
        Ok(n)
    }

    /// Keeps the envelope of new message `n` for the peer sessions if it is owed to a peer
    /// and the cache has room.
    fn keep_sending(&mut self, n: u32, envelope: Vec<u8>) {
        if self.hot.contains_key(&n) && self.sending_bytes + envelope.len() <= SENDING_CACHE {
            self.sending_bytes += envelope.len();
            self.sending.insert(n, Arc::new(envelope));
        }
    }

    /// Drops message `n`'s envelope from the sending cache.
    fn forget_sending(&mut self, n: u32) {
        if let Some(e) = self.sending.remove(&n) {
            self.sending_bytes -= e.len();
        }
    }

    /// Replaces message `n`'s state.
    fn update(&mut self, n: u32, s: MessageState, state: Loc) -> StoreResult<()> {
        if let Some(e) = self.msgs.get_mut(n as usize) {
            e.state = state;
        }
        if let Some(seq) = s.inbox_seq {
            let at = usize::try_from(seq).ok().and_then(|i| self.inbox.get(i));
            if at != Some(&n) {
                return Err(StoreError::Corrupt(format!(
                    "message {} claims inbox position {seq}, which is not its own; the store \
                     was altered",
                    s.facts.id
                )));
            }
            if s.acked && !self.acked_bit(seq) {
                self.set_acked_bit(seq);
                self.unread = self.unread.saturating_sub(1);
            }
        }
        if s.purged {
            self.purged.insert(n);
            self.damaged.remove(&n);
        }
        self.track(n, s);
        Ok(())
    }

    /// Moves message `n`'s outbox entries to those of its new state; keeps it hot while any
    /// next hop still owes a receipt.
    fn track(&mut self, n: u32, s: MessageState) {
        if let Some(old) = self.hot.remove(&n) {
            for (peer, seq) in &old.pending {
                if let Some(q) = self.outbox.get_mut(peer) {
                    q.remove(seq);
                }
            }
        }
        for (peer, seq) in &s.pending {
            // Looked up before inserting, so the peer's id is copied only the first time.
            let q = match self.outbox.get_mut(peer) {
                Some(q) => q,
                None => self.outbox.entry(peer.clone()).or_default(),
            };
            q.insert(*seq, n);
            let next = match self.next_outbox.get_mut(peer) {
                Some(next) => next,
                None => self.next_outbox.entry(peer.clone()).or_insert(0),
            };
            *next = (*next).max(seq + 1);
        }
        if s.pending.is_empty() {
            self.forget_sending(n);
        } else {
            self.hot.insert(n, s);
        }
    }
}

/// Shared state: the journal and the indexes over it.
struct Shared {
    medium: Arc<dyn Medium>,
    index: RwLock<Index>,
    last_checkpoint: RwLock<Option<String>>,
    /// Announced requests the writer has not received yet.
    announced: Arc<AtomicUsize>,
    /// Longest wait for them, µs.
    linger_us: AtomicU64,
    /// Group commits made since the store opened.
    commits: AtomicU64,
    /// Consistency proofs already computed, by (old size, new size). Held while one is
    /// computed, so witnesses offered the same checkpoint wait for it instead of each reading
    /// the same leaves again.
    proofs: Mutex<HashMap<(u64, u64), Vec<Hash>>>,
    /// Where damage and write failures are reported.
    alarms: Arc<Alarms>,
    /// This node (the route a relayed message is stored with ends with it).
    node: NodeId,
    /// Held while a scrub runs: one at a time.
    scrubbing: Mutex<()>,
    /// The last finished scrub's report.
    last_scrub: Mutex<Option<ScrubReport>>,
    /// Whether the start-up found no checkpoint files beside a non-empty log (accepted).
    opened_without_checkpoints: bool,
}

impl Shared {
    fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Current state of message `n` (hot copy, or read from the journal).
    fn state_of(&self, n: u32) -> StoreResult<Option<MessageState>> {
        let (loc, id) = {
            let idx = self.index();
            if let Some(s) = idx.hot.get(&n) {
                return Ok(Some(s.clone()));
            }
            match (idx.msgs.get(n as usize), idx.ids.get(n as usize)) {
                (Some(e), Some(id)) => (e.state, *id),
                _ => return Ok(None),
            }
        };
        let s = decode_state(&journal::read(self.medium.as_ref(), loc)?)?;
        // The state was checksummed at start-up; one that now names another message was
        // changed on disk since.
        if s.facts.id != id {
            return Err(StoreError::Corrupt(format!(
                "the stored state of message {id} names message {}",
                s.facts.id
            )));
        }
        Ok(Some(s))
    }

    /// Marks message `n` damaged (once) and raises the alarm.
    fn mark_damaged(&self, n: u32, id: &MessageId, why: &str) {
        let first = {
            let mut idx = self.index.write().unwrap_or_else(|e| e.into_inner());
            idx.forget_sending(n);
            idx.damaged.insert(n, why.to_owned()).is_none()
        };
        if first {
            tracing::error!(id = %id, why, "stored message damaged");
        }
        self.alarms.raise(
            AlarmKind::StoredBodyDamaged,
            &id.to_string(),
            format!(
                "the stored copy of message {id} is damaged ({why}); it is not shown or \
                 forwarded: restore it from a backup or ask its sender to send it again"
            ),
            now(),
        );
    }

    fn number(&self, id: &MessageId) -> Option<u32> {
        self.index().number(id)
    }
}

/// A handle on the store: cheap to clone, used by every task of the node.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Request>,
    shared: Arc<Shared>,
    /// Bumped after every commit that queued outbox entries, per peer.
    outbox_signal: Arc<RwLock<HashMap<NodeId, watch::Sender<u64>>>>,
    /// The size of the last checkpoint signed, sent after each one.
    checkpoint_signal: Arc<watch::Sender<u64>>,
}

fn encode<T: Serialize>(t: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let _ = postcard::to_io(t, &mut out);
    out
}

fn decode_state(bytes: &[u8]) -> StoreResult<MessageState> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("message state: {e}")))
}

/// Whether stored envelope bytes are still the message `id` names: they decode, and their
/// signed body hashes to `id`. Returns the envelope, or what does not hold.
fn check_envelope(id: &MessageId, bytes: &[u8]) -> std::result::Result<Envelope, String> {
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

/// Zeroes the bodies of purged messages that still hold bytes: a purge writes its log entries
/// first, then overwrites the bodies; a crash in between leaves this to the next start.
fn finish_purges(medium: &dyn Medium, bodies: &[Loc]) -> Result<()> {
    let mut left = Vec::new();
    for &loc in bodies {
        if journal::read(medium, loc)?.iter().any(|b| *b != 0) {
            left.push((loc.offset(), loc.length()));
        }
    }
    if !left.is_empty() {
        tracing::warn!(bodies = left.len(), "finishing a purge a crash interrupted");
        medium
            .zero_durable(&left)
            .context("cannot finish an interrupted purge")?;
    }
    Ok(())
}

/// Keeps the bytes a replay is about to cut off in a side file beside the journal, so an
/// operator can still look at them (a crash's torn write normally; evidence if not).
fn save_torn(medium: &dyn Medium, dir: &Path, end: ReplayEnd) -> Result<()> {
    let mut bytes = vec![0u8; usize::try_from(end.torn).unwrap_or(usize::MAX)];
    medium.read_at(&mut bytes, end.valid)?;
    let path = dir.join(format!("{}.torn-at-{}", journal::FILE, end.valid));
    crate::files::write_durably(&path, &bytes)?;
    tracing::warn!(file = %path.display(), "the cut-off bytes are kept here");
    Ok(())
}

/// Opens the journal of a store in `data_dir`, refusing a directory from the sled-based
/// development builds (there is no migration: nothing was deployed on it).
fn open_medium(data_dir: &Path) -> Result<FileMedium> {
    let dir = data_dir.join("store");
    if dir.join("db").exists() && !dir.join(journal::FILE).exists() {
        bail!(
            "{} holds a store written by an earlier development build (sled); this build keeps \
             its log in {}: start from an empty data dir",
            dir.display(),
            journal::FILE
        );
    }
    FileMedium::open(&dir)
}

/// How to open a store ([`Store::open_with_options`]).
pub struct StoreOptions {
    /// Where alarms go.
    pub alarms: Arc<Alarms>,
    /// The data dir's lock, if the caller took it already (it is taken here otherwise).
    pub lock: Option<DataDirLock>,
    /// Start even though no checkpoint file exists beside a non-empty log (the caller then
    /// records that in the log: [`Store::opened_without_checkpoints`]).
    pub accept_missing_checkpoints: bool,
    /// The medium to use instead of the journal file (tests inject faults with it).
    pub medium: Option<Arc<dyn Medium>>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            alarms: Arc::new(Alarms::new()),
            lock: None,
            accept_missing_checkpoints: false,
            medium: None,
        }
    }
}

/// How a scrub checks a stored message's signature ([`Store::scrub`]): the id the signed
/// bytes verify as, `None` when they cannot be checked here (their network's CA is no longer
/// trusted), or what fails.
pub type SignatureCheck<'a> = &'a (dyn Fn(&liaison_protocol::SignedMessage) -> std::result::Result<Option<MessageId>, String>
         + Sync);

/// What a scrub found ([`Store::scrub`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScrubReport {
    /// Batches read.
    pub batches: u64,
    /// Batches whose bodies checksum held (every body in them intact).
    pub batches_intact: u64,
    /// Bodies checked one by one (in batches with a purged body or a failed checksum).
    pub bodies_checked: u64,
    /// Messages found damaged (newly or before).
    pub damaged: Vec<MessageId>,
    /// Signed receipts or refusals kept for auditors found damaged, by log entry.
    pub damaged_answers: Vec<u64>,
    /// Offsets of batches whose bodies checksum fails although no body in them could be
    /// named as damaged (alarmed).
    pub unexplained: Vec<u64>,
    /// When it finished (none if it was stopped before the end).
    #[serde(serialize_with = "crate::alarm::rfc3339_opt")]
    pub finished_at: Option<Timestamp>,
}

impl Store {
    /// Opens the store in `data_dir`: takes the data dir's lock, replays the journal (cutting
    /// off an incomplete last batch, which no one was told about), recomputes the log's root,
    /// checks it against the newest signed checkpoints (refusing to run if storage is behind
    /// or disagrees), and starts the writer. `signer` signs checkpoints.
    pub fn open(data_dir: &Path, signer: Arc<Signer>) -> Result<Self> {
        Self::open_with_options(data_dir, signer, StoreOptions::default())
    }

    /// As [`Store::open`], on an explicit medium.
    pub fn open_with(
        medium: Arc<dyn Medium>,
        data_dir: &Path,
        signer: Arc<Signer>,
    ) -> Result<Self> {
        Self::open_with_options(
            data_dir,
            signer,
            StoreOptions {
                medium: Some(medium),
                ..StoreOptions::default()
            },
        )
    }

    /// As [`Store::open`], with options.
    pub fn open_with_options(
        data_dir: &Path,
        signer: Arc<Signer>,
        opts: StoreOptions,
    ) -> Result<Self> {
        // Before anything in the data dir is read: another process may be writing it.
        let lock = match opts.lock {
            Some(l) => l,
            None => DataDirLock::acquire(data_dir)?,
        };
        let medium: Arc<dyn Medium> = match opts.medium {
            Some(m) => m,
            None => Arc::new(open_medium(data_dir)?),
        };
        let cp_path = data_dir.join(checkpoint::FILE);
        checkpoint::repair_torn_history(data_dir)?;
        let history = checkpoint::recent_sizes(data_dir, FRONTIERS)?;
        let stated = checkpoint::stated_sizes(data_dir)?;
        let (index, roots, end) = Index::load_keeping(medium.as_ref(), &stated, &history)?;
        let verifier = NoteVerifier::new(&log_origin(signer.node()), signer.key().public_key())
            .map_err(|e| anyhow!("checkpoint key: {e}"))?;
        let checked = checkpoint::check_rollback(
            data_dir,
            index.root.len(),
            &roots,
            &verifier,
            opts.accept_missing_checkpoints,
        )?;
        for line in &checked.damaged_lines {
            opts.alarms.raise(
                AlarmKind::CheckpointHistoryDamaged,
                line,
                format!(
                    "a line of the checkpoint history does not parse ({line}); the node runs on \
                     the newest checkpoints that do, and auditors will see the damage"
                ),
                now(),
            );
        }
        let found = checked.found;
        // Only after the checkpoints agree with what is kept: never cut anything off a
        // journal that is already in doubt.
        if end.torn > 0 {
            tracing::warn!(
                valid = end.valid,
                discarded = end.torn,
                "the journal ends in an incomplete batch (a write interrupted by a crash); \
                 nothing in it was acknowledged: cutting it off"
            );
            save_torn(medium.as_ref(), &data_dir.join("store"), end)?;
            medium
                .truncate(end.valid)
                .context("cannot cut off the incomplete end of the journal")?;
        }
        let salt = journal::init(medium.as_ref())?;
        finish_purges(medium.as_ref(), &index.purged_bodies)?;
        for name in [checkpoint::FILE, checkpoint::HISTORY] {
            crate::files::narrow_file(&data_dir.join(name))?;
        }
        let accepted_missing = found == checkpoint::Found::MissingAccepted;
        let (last, fresh) = match found {
            checkpoint::Found::Checkpoint(note) => (Some(note), false),
            checkpoint::Found::Fresh => (None, true),
            checkpoint::Found::MissingAccepted => (None, false),
        };
        let shared = Arc::new(Shared {
            medium,
            index: RwLock::new(index),
            last_checkpoint: RwLock::new(last),
            announced: Arc::new(AtomicUsize::new(0)),
            linger_us: AtomicU64::new(DEFAULT_LINGER.as_micros() as u64),
            commits: AtomicU64::new(0),
            proofs: Mutex::new(HashMap::new()),
            alarms: opts.alarms,
            node: signer.node().clone(),
            scrubbing: Mutex::new(()),
            last_scrub: Mutex::new(None),
            opened_without_checkpoints: accepted_missing,
        });
        let (tx, rx) = mpsc::channel(MAX_GROUP);
        let store = Store {
            tx,
            shared: shared.clone(),
            outbox_signal: Default::default(),
            checkpoint_signal: Arc::new(watch::channel(0).0),
        };
        let mut writer = Writer {
            shared,
            signer,
            cp_path,
            signals: store.outbox_signal.clone(),
            checkpoint_signal: store.checkpoint_signal.clone(),
            broken: None,
            buf: BatchBuf::default(),
            salt,
            _lock: lock,
        };
        if fresh {
            // A new data dir gets its first checkpoint (of the empty log) at once, so that
            // checkpoint files missing beside a non-empty log always mean they were removed.
            writer
                .sign_checkpoint()
                .context("cannot sign the first checkpoint")?;
        }
        std::thread::Builder::new()
            .name("liaison-store-writer".into())
            .spawn(move || writer.run(rx))
            .context("cannot start the store writer")?;
        Ok(store)
    }

    /// The alarms this store raises (damaged messages, write failures).
    pub fn alarms(&self) -> &Arc<Alarms> {
        &self.shared.alarms
    }

    /// Whether this store was opened without checkpoint files beside a non-empty log (the
    /// operator accepted it): the caller records that in the log and signs a checkpoint.
    pub fn opened_without_checkpoints(&self) -> bool {
        self.shared.opened_without_checkpoints
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> Request,
    ) -> StoreResult<T> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Logs a message this node originated, stores it and queues it for `next_hops`.
    /// Returns the log index once durable.
    pub async fn originate(
        &self,
        envelope: Envelope,
        facts: MessageFacts,
        next_hops: Vec<NodeId>,
    ) -> StoreResult<u64> {
        self.originate_with(None, envelope, facts, next_hops).await
    }

    /// Announces a request that is on its way (call it before the slow part, e.g. signing a
    /// message), so that a group commit in the meantime may wait for it; pass the
    /// announcement to [`Store::originate_announced`]. See the module documentation.
    pub fn announce(&self) -> Announcement {
        self.shared.announced.fetch_add(1, Ordering::AcqRel);
        Announcement(self.shared.announced.clone())
    }

    /// As [`Store::originate`], for a request announced with [`Store::announce`].
    pub async fn originate_announced(
        &self,
        announced: Announcement,
        envelope: Envelope,
        facts: MessageFacts,
        next_hops: Vec<NodeId>,
    ) -> StoreResult<u64> {
        self.originate_with(Some(announced), envelope, facts, next_hops)
            .await
    }

    async fn originate_with(
        &self,
        announced: Option<Announcement>,
        envelope: Envelope,
        facts: MessageFacts,
        next_hops: Vec<NodeId>,
    ) -> StoreResult<u64> {
        let envelope = Stored::of(&envelope);
        self.ask(|reply| Request::Originate {
            envelope,
            facts,
            next_hops,
            announced,
            reply,
        })
        .await
    }

    /// Sets how long a group commit waits at most for announced requests
    /// ([`DEFAULT_LINGER`] unless changed); zero never waits.
    pub fn set_group_linger(&self, linger: Duration) {
        let us = u64::try_from(linger.as_micros()).unwrap_or(u64::MAX);
        self.shared.linger_us.store(us, Ordering::Relaxed);
    }

    /// Group commits (flushes) made since the store opened.
    pub fn group_commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// Offers a verified message received from `from`: if new, logs it, stores it, delivers it
    /// to the inbox (`deliver`) and/or queues it for `next_hops`; if already seen, changes nothing.
    pub async fn accept(
        &self,
        envelope: Envelope,
        facts: MessageFacts,
        from: NodeId,
        deliver: bool,
        next_hops: Vec<NodeId>,
    ) -> StoreResult<Accepted> {
        let envelope = Stored::of(&envelope);
        self.ask(|reply| Request::Accept {
            envelope,
            facts,
            from,
            deliver,
            inbox: deliver,
            next_hops,
            reply,
        })
        .await
    }

    /// Offers several verified messages from `from` in order (so inbox order is arrival
    /// order; a message already seen changes nothing), then `receipts` (the receipts for
    /// them, signed in advance, each an event and its signed envelope) right behind them, so
    /// all usually share one group commit. `Ok` only if every message and every receipt entry
    /// is durable.
    pub async fn accept_many_with_receipt(
        &self,
        items: Vec<Offer>,
        from: &NodeId,
        receipts: Vec<(Event, Vec<u8>)>,
    ) -> StoreResult<()> {
        let stopped = || StoreError::Stopped;
        let mut waits = Vec::with_capacity(items.len() + receipts.len());
        for o in items {
            let (reply, rx) = oneshot::channel();
            let req = Request::Accept {
                envelope: o.stored,
                facts: o.facts,
                from: from.clone(),
                deliver: o.deliver,
                inbox: o.inbox,
                next_hops: o.next_hops,
                reply,
            };
            self.tx.send(req).await.map_err(|_| stopped())?;
            waits.push(rx);
        }
        let mut rwaits = Vec::with_capacity(receipts.len());
        for (event, signed) in receipts {
            let (reply, rrx) = oneshot::channel();
            self.tx
                .send(Request::Record {
                    event,
                    signed: Some(signed),
                    reply,
                })
                .await
                .map_err(|_| stopped())?;
            rwaits.push(rrx);
        }
        for rx in waits {
            rx.await.map_err(|_| stopped())??;
        }
        for rx in rwaits {
            rx.await.map_err(|_| stopped())??;
        }
        Ok(())
    }

    /// Records a next hop's verified receipt or refusal (`event`), taking the covered messages
    /// out of that peer's outbox. `outcome` gives each message's recorded outcome.
    pub async fn hop_answer(
        &self,
        event: Event,
        peer: NodeId,
        outcome: Vec<(MessageId, String)>,
        proof: MessageId,
        signed: Vec<u8>,
    ) -> StoreResult<u64> {
        self.ask(|reply| Request::HopAnswer {
            event,
            peer,
            outcome,
            proof,
            signed,
            remote: false,
            reply,
        })
        .await
    }

    /// Records a verified answer signed by `signer`, a hop beyond our next hop, that a relay
    /// carried back in a hop report: it joins the trail of each covered message this node
    /// originated, unless that trail already holds it. Returns the log index, or `None` if
    /// nothing was new (a repeated report).
    pub async fn remote_answer(
        &self,
        event: Event,
        signer: NodeId,
        outcome: Vec<(MessageId, String)>,
        proof: MessageId,
        signed: Vec<u8>,
    ) -> StoreResult<Option<u64>> {
        let leaf = self
            .ask(|reply| Request::HopAnswer {
                event,
                peer: signer,
                outcome,
                proof,
                signed,
                remote: true,
                reply,
            })
            .await?;
        Ok((leaf != u64::MAX).then_some(leaf))
    }

    /// Appends an event to the log (refusals, receipts sent, administrative acts).
    pub async fn record(&self, event: Event) -> StoreResult<u64> {
        self.ask(|reply| Request::Record {
            event,
            signed: None,
            reply,
        })
        .await
    }

    /// As [`Store::record`], keeping `signed` (the envelope of the signed receipt or refusal
    /// the event names) beside the entry, so auditors can verify it from the log alone.
    pub async fn record_signed(&self, event: Event, signed: Vec<u8>) -> StoreResult<u64> {
        self.ask(|reply| Request::Record {
            event,
            signed: Some(signed),
            reply,
        })
        .await
    }

    /// Marks an inbox message as acknowledged by an officer; false if it is not in the inbox.
    pub async fn ack(&self, id: MessageId, by: String) -> StoreResult<bool> {
        self.ask(|reply| Request::Ack { id, by, reply }).await
    }

    /// Signs a checkpoint of everything durable, if the log grew since the last one; returns
    /// the note.
    pub async fn checkpoint(&self) -> StoreResult<Option<String>> {
        self.ask(|reply| Request::Checkpoint { reply }).await
    }

    /// Keeps a witness's cosignature of one of this node's checkpoints (the caller verified
    /// it): merged into the last checkpoint if it is the same, and added to the history.
    pub async fn add_cosignature(&self, note: String) -> StoreResult<()> {
        self.ask(|reply| Request::Cosigned { note, reply }).await
    }

    /// Messages whose bodies the retention `rules` say may go at `now`: not purged yet, owed
    /// no receipt, logged at least the first covering rule's `after_days` ago. Reads every
    /// message's state (an administrative task, not a hot path).
    pub fn retention_due(
        &self,
        rules: &[crate::config::RetentionRule],
        now: Timestamp,
    ) -> StoreResult<Vec<(MessageId, String)>> {
        let count = self.shared.index().msgs.len() as u32;
        let mut due = Vec::new();
        for n in 0..count {
            let Some(s) = self.shared.state_of(n)? else {
                continue;
            };
            if s.purged || !s.pending.is_empty() {
                continue;
            }
            let Some(rule) = rules
                .iter()
                .find(|r| r.covers(&s.facts.kind, s.facts.tlp.label()))
            else {
                continue;
            };
            let age = now.millis().saturating_sub(s.logged_at.millis());
            if age >= u64::from(rule.after_days) * 86_400_000 {
                due.push((s.facts.id, rule.name.clone()));
            }
        }
        Ok(due)
    }

    /// Purges the bodies of `ids` (each with the rule that applies): a `purged` log entry per
    /// message, durable first, then the body overwritten on disk. Every proof over the log
    /// stays valid. Returns the ids purged (already purged or still owed a receipt: skipped).
    pub async fn purge(&self, ids: Vec<(MessageId, String)>) -> StoreResult<Vec<MessageId>> {
        self.ask(|reply| Request::Purge { ids, reply }).await
    }

    /// Changes whenever a checkpoint is signed (its value is the checkpoint's size).
    pub fn checkpoint_watch(&self) -> watch::Receiver<u64> {
        self.checkpoint_signal.subscribe()
    }

    /// A consistency proof from `old_size` entries to `new_size`: from the compact range kept
    /// at `old_size` (a recent checkpoint) and the leaves after it, or else from every leaf.
    /// The log only grows, so a proof once computed holds for good: the last few are kept,
    /// and every witnessing peer offered the same checkpoint (usually all of them, from the
    /// same last cosigned size) costs one reading of the new leaves, not one each.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> StoreResult<Vec<Hash>> {
        let mut proofs = self.shared.proofs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = proofs.get(&(old_size, new_size)) {
            return Ok(p.clone());
        }
        let proof = self.compute_consistency_proof(old_size, new_size)?;
        if proofs.len() >= KEPT_PROOFS {
            proofs.clear();
        }
        proofs.insert((old_size, new_size), proof.clone());
        Ok(proof)
    }

    fn compute_consistency_proof(&self, old_size: u64, new_size: u64) -> StoreResult<Vec<Hash>> {
        let (frontier, before, locs) = {
            let idx = self.shared.index();
            let fewer =
                || StoreError::Refused(format!("the log holds fewer than {new_size} entries"));
            let from = usize::try_from(old_size).map_err(|_| fewer())?;
            let to = usize::try_from(new_size).map_err(|_| fewer())?;
            let locs = idx.leaves.get(from..to).ok_or_else(fewer)?.to_vec();
            match idx.frontiers.get(&old_size) {
                Some(f) => (f.clone(), vec![], locs),
                // Not a recent checkpoint of this run (a witness remembers an older one, or
                // this node was restored from a copy): rebuild it from the leaves before it.
                None => (RootBuilder::new(), idx.leaves[..from].to_vec(), locs),
            }
        };
        let mut frontier = frontier;
        for loc in before {
            frontier.push(&journal::read(self.shared.medium.as_ref(), loc)?);
        }
        let mut tail = liaison_protocol::merkle::TreeTail::new(&frontier);
        for loc in locs {
            tail.push_leaf_hash(leaf_hash(&journal::read(self.shared.medium.as_ref(), loc)?));
        }
        Ok(tail
            .consistency_proof(old_size, new_size)
            .map_err(|e| StoreError::Refused(format!("consistency proof: {e}")))?
            .hashes)
    }

    /// Waits for every request sent so far to be committed, then stops the writer. Other
    /// handles fail from then on. The database closes when the last handle is dropped.
    pub async fn shutdown(&self) -> StoreResult<()> {
        self.ask(|reply| Request::Shutdown { reply }).await
    }

    /// Stored envelope of a message (none if unknown).
    pub fn envelope(&self, id: &MessageId) -> StoreResult<Option<Envelope>> {
        Ok(self.read_checked(id)?.map(|(_, env)| env))
    }

    /// Stored envelope bytes of a message, exactly as they go on the wire (a relay stored its
    /// route with itself added); `None` if unknown or purged. Checked before they are
    /// returned: bytes that no longer decode or hash to `id` mark the message damaged (the
    /// alarm `stored-body-damaged`) and fail with [`StoreError::Damaged`], as does a message
    /// marked damaged before.
    pub fn envelope_bytes(&self, id: &MessageId) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.read_checked(id)?.map(|(bytes, _)| bytes))
    }

    /// Reads and checks a message's envelope (see [`Store::envelope_bytes`]).
    fn read_checked(&self, id: &MessageId) -> StoreResult<Option<(Vec<u8>, Envelope)>> {
        let (n, loc) = {
            let idx = self.shared.index();
            let Some(n) = idx.number(id) else {
                return Ok(None);
            };
            if idx.purged.contains(&n) {
                return Ok(None);
            }
            if let Some(why) = idx.damaged.get(&n) {
                return Err(StoreError::Damaged {
                    id: *id,
                    why: why.clone(),
                });
            }
            match idx.msgs.get(n as usize) {
                Some(e) => (n, e.body),
                None => return Ok(None),
            }
        };
        let bytes = journal::read(self.shared.medium.as_ref(), loc)?;
        match check_envelope(id, &bytes) {
            Ok(env) => Ok(Some((bytes, env))),
            Err(why) => {
                self.shared.mark_damaged(n, id, &why);
                Err(StoreError::Damaged { id: *id, why })
            }
        }
    }

    /// Checks every stored body against the journal (see the module documentation): a batch
    /// whose bodies checksum holds is intact; in a batch with a purged body or a failed
    /// checksum, each body is checked against its id, its signature (`check`: the id the
    /// signed bytes verify as, `None` if they cannot be checked here, e.g. their network is no
    /// longer trusted) and its route, and so is each signed receipt or refusal kept for
    /// auditors. What fails is marked damaged and alarmed; a failed checksum no body explains
    /// is alarmed as `stored-batch-damaged`. Blocking (run it off the async workers); one at a
    /// time.
    /// It works at most half of the time of the thread it runs on (it waits as long as it
    /// worked after each batch), so a node catching up after a restart keeps its CPU; `stop`
    /// ends it early (the report then says it is not complete).
    pub fn scrub(
        &self,
        check: SignatureCheck<'_>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> StoreResult<ScrubReport> {
        let _one = self
            .shared
            .scrubbing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let medium = self.shared.medium.as_ref();
        let mut report = ScrubReport::default();
        let mut failure = None;
        let mut stopped = false;
        let scanned = journal::scan(medium, |batch| {
            if stop() {
                stopped = true;
                return Err(anyhow!("stopped"));
            }
            let started = Instant::now();
            report.batches += 1;
            let done = self.scrub_batch(batch, check, &mut report);
            std::thread::sleep(started.elapsed().min(Duration::from_millis(50)));
            match done {
                Ok(()) => Ok(()),
                Err(e) => {
                    failure = Some(e);
                    Err(anyhow!("stopped"))
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        if stopped {
            return Ok(report);
        }
        if let Err(e) = scanned {
            // The journal no longer reads as it did at start-up.
            self.shared.alarms.raise(
                AlarmKind::StoredBatchDamaged,
                "journal",
                format!("{e:#}"),
                now(),
            );
            return Err(StoreError::Corrupt(format!("{e:#}")));
        }
        report.damaged = {
            let idx = self.shared.index();
            let mut d: Vec<MessageId> = idx
                .damaged
                .keys()
                .filter_map(|n| idx.ids.get(*n as usize).copied())
                .collect();
            d.sort();
            d
        };
        report.finished_at = Some(now());
        *self
            .shared
            .last_scrub
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(report.clone());
        Ok(report)
    }

    /// The last scrub's report, if one finished.
    pub fn last_scrub(&self) -> Option<ScrubReport> {
        self.shared
            .last_scrub
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn scrub_batch(
        &self,
        batch: &journal::Batch<'_>,
        check: SignatureCheck<'_>,
        report: &mut ScrubReport,
    ) -> StoreResult<()> {
        let medium = self.shared.medium.as_ref();
        // The bodies of this batch: new messages (with the state they were stored with) and
        // signed answers (with the log entry that names each).
        let mut news = Vec::new();
        let mut answers = Vec::new();
        let walked = batch.records(|rec| {
            match rec {
                Record::New { bytes, body, .. } => news.push((decode_state(bytes)?, body)),
                Record::Signed { leaf, body } => answers.push((leaf, body)),
                Record::Leaf { .. } | Record::Update { .. } => {}
            }
            Ok(())
        });
        let bad = |what: String| {
            StoreError::Corrupt(format!("the batch at byte {}: {what}", batch.start))
        };
        match walked {
            Ok(()) => {}
            Err(journal::RecordsError::Bad(what)) => return Err(bad(what)),
            Err(journal::RecordsError::Visit(e)) => return Err(bad(format!("{e:#}"))),
        }
        if news.is_empty() && answers.is_empty() {
            report.batches_intact += 1;
            return Ok(());
        }
        let numbered: Vec<(Option<u32>, MessageState, Loc)> = {
            let idx = self.shared.index();
            news.into_iter()
                .map(|(s, loc)| (idx.number(&s.facts.id), s, loc))
                .collect()
        };
        let any_purged = {
            let idx = self.shared.index();
            numbered
                .iter()
                .any(|(n, _, _)| n.is_some_and(|n| idx.purged.contains(&n)))
        };
        let intact = batch
            .bodies_intact(medium)
            .map_err(|e| StoreError::Corrupt(format!("{e:#}")))?;
        if !any_purged && intact {
            report.batches_intact += 1;
            return Ok(());
        }
        let mut explained = false;
        for (n, state, loc) in numbered {
            let Some(n) = n else { continue };
            if self.shared.index().purged.contains(&n) {
                continue;
            }
            report.bodies_checked += 1;
            let id = state.facts.id;
            let bytes = journal::read(medium, loc)?;
            if let Some(why) = self.body_problem(&id, &state, &bytes, check)? {
                self.shared.mark_damaged(n, &id, &why);
                explained = true;
            }
        }
        for (leaf, loc) in answers {
            report.bodies_checked += 1;
            let bytes = journal::read(medium, loc)?;
            if let Some(why) = self.answer_problem(leaf, &bytes, check)? {
                report.damaged_answers.push(leaf);
                self.shared.alarms.raise(
                    AlarmKind::StoredBodyDamaged,
                    &format!("log entry {leaf}"),
                    format!(
                        "the signed receipt or refusal kept for log entry {leaf} is damaged \
                         ({why}); auditors will find it so"
                    ),
                    now(),
                );
                explained = true;
            }
        }
        if !intact && !explained && !any_purged {
            report.unexplained.push(batch.start);
            self.shared.alarms.raise(
                AlarmKind::StoredBatchDamaged,
                &format!("batch at byte {}", batch.start),
                format!(
                    "the journal's batch at byte {} no longer matches its checksum, and no \
                     message in it could be named as damaged: the disk may be failing",
                    batch.start
                ),
                now(),
            );
        }
        Ok(())
    }

    /// What is wrong with a stored message's envelope, if anything: it must decode, hash to
    /// its id, carry a signature that verifies, and have the route it was stored with.
    fn body_problem(
        &self,
        id: &MessageId,
        state: &MessageState,
        bytes: &[u8],
        check: SignatureCheck<'_>,
    ) -> StoreResult<Option<String>> {
        let env = match check_envelope(id, bytes) {
            Ok(env) => env,
            Err(why) => return Ok(Some(why)),
        };
        match check(&env.signed) {
            Ok(Some(v)) if v != *id => return Ok(Some(format!("it verifies as {}", v.short()))),
            Err(why) => return Ok(Some(why)),
            Ok(_) => {}
        }
        let first = state.leaves.first().copied();
        let event = match first {
            Some(leaf) => self.log_entry(leaf)?.map(|e| e.event),
            None => None,
        };
        let route_ok = match (&state.role, event) {
            (Role::Originated, _) => env.route.is_empty(),
            (_, Some(Event::Received { route, .. })) => env.route == route,
            (_, Some(Event::Relayed { to, .. })) if !to.is_empty() => {
                env.route.last() == Some(&self.shared.node)
            }
            _ => true,
        };
        Ok((!route_ok).then(|| "its route is not the one it was stored with".to_owned()))
    }

    /// What is wrong with a kept signed answer, if anything: it must decode, verify, and be
    /// the answer its log entry names.
    fn answer_problem(
        &self,
        leaf: u64,
        bytes: &[u8],
        check: SignatureCheck<'_>,
    ) -> StoreResult<Option<String>> {
        let env = match Envelope::decode(bytes) {
            Ok(e) => e,
            Err(e) => return Ok(Some(format!("it no longer decodes: {}", e.reason_code()))),
        };
        let named = match self.log_entry(leaf)?.map(|e| e.event) {
            Some(
                Event::ReceiptSent { receipt, .. }
                | Event::ReceiptReceived { receipt, .. }
                | Event::RefusalReceived {
                    refusal: receipt, ..
                },
            ) => Some(receipt),
            _ => None,
        };
        let id = env.signed.id();
        if named.is_some_and(|n| n != id) {
            return Ok(Some(format!("its body now hashes to {}", id.short())));
        }
        Ok(match check(&env.signed) {
            Err(why) => Some(why),
            Ok(Some(v)) if v != id => Some(format!("it verifies as {}", v.short())),
            Ok(_) => None,
        })
    }

    /// Whether the message is marked damaged, and why.
    pub fn damaged(&self, id: &MessageId) -> Option<String> {
        let idx = self.shared.index();
        idx.number(id).and_then(|n| idx.damaged.get(&n).cloned())
    }

    /// Messages marked damaged.
    pub fn damaged_count(&self) -> usize {
        self.shared.index().damaged.len()
    }

    /// A message's stored envelope for sending to a peer: shared from memory while the
    /// message is owed to a peer and was written by this run (up to 8 MiB of them), else
    /// read from the journal.
    pub fn envelope_to_send(&self, id: &MessageId) -> StoreResult<Option<Arc<Vec<u8>>>> {
        {
            let idx = self.shared.index();
            if let Some(e) = idx.number(id).and_then(|n| idx.sending.get(&n)) {
                return Ok(Some(e.clone()));
            }
        }
        Ok(self.envelope_bytes(id)?.map(Arc::new))
    }

    /// Stored state of a message.
    pub fn state(&self, id: &MessageId) -> StoreResult<Option<MessageState>> {
        match self.shared.number(id) {
            Some(n) => self.shared.state_of(n),
            None => Ok(None),
        }
    }

    /// Up to `limit` outbox entries for `peer` with sequence ≥ `from`, in order.
    pub fn outbox(
        &self,
        peer: &NodeId,
        from: u64,
        limit: usize,
    ) -> StoreResult<Vec<(u64, MessageId)>> {
        let idx = self.shared.index();
        let Some(q) = idx.outbox.get(peer) else {
            return Ok(Vec::new());
        };
        q.range(from..)
            .take(limit)
            .map(|(seq, n)| {
                let s = idx.hot.get(n).ok_or_else(|| {
                    StoreError::Corrupt(format!("outbox entry {seq} of {peer} without state"))
                })?;
                Ok((*seq, s.facts.id))
            })
            .collect()
    }

    /// A watch that changes whenever new outbox entries for `peer` are committed.
    pub fn outbox_watch(&self, peer: &NodeId) -> watch::Receiver<u64> {
        let mut map = self
            .outbox_signal
            .write()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(peer.clone())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Outbox depth per peer.
    pub fn outbox_depths(&self) -> BTreeMap<NodeId, u64> {
        self.shared
            .index()
            .outbox
            .iter()
            .map(|(p, q)| (p.clone(), q.len() as u64))
            .collect()
    }

    /// Inbox entries with sequence ≥ `from`, up to `limit`.
    pub fn inbox(&self, from: u64, limit: usize) -> StoreResult<Vec<InboxItem>> {
        let numbers: Vec<(u64, u32)> = {
            let idx = self.shared.index();
            idx.inbox
                .iter()
                .enumerate()
                .skip(usize::try_from(from).unwrap_or(usize::MAX))
                .take(limit)
                .map(|(seq, n)| (seq as u64, *n))
                .collect()
        };
        numbers
            .into_iter()
            .map(|(seq, n)| {
                let state = self
                    .shared
                    .state_of(n)?
                    .ok_or_else(|| StoreError::Corrupt("inbox entry without state".into()))?;
                Ok(InboxItem { seq, state })
            })
            .collect()
    }

    /// Number of messages ever delivered to the inbox.
    pub fn inbox_len(&self) -> u64 {
        self.shared.index().inbox.len() as u64
    }

    /// Inbox messages not yet acknowledged by an officer.
    pub fn unread(&self) -> u64 {
        self.shared.index().unread
    }

    /// Every case this node holds a message of.
    pub fn case_ids(&self) -> Vec<CaseId> {
        let mut v: Vec<CaseId> = self.shared.index().cases.keys().cloned().collect();
        v.sort();
        v
    }

    /// Every message id this node holds, in the order it first logged them.
    pub fn message_ids(&self) -> Vec<MessageId> {
        self.shared.index().ids.clone()
    }

    /// Messages of a case, by id.
    pub fn case_messages(&self, case: &CaseId) -> StoreResult<Vec<MessageId>> {
        Ok(self
            .shared
            .index()
            .cases
            .get(case)
            .cloned()
            .unwrap_or_default())
    }

    /// One log entry.
    pub fn log_entry(&self, index: u64) -> StoreResult<Option<LogEntry>> {
        let loc = {
            let idx = self.shared.index();
            match usize::try_from(index).ok().and_then(|i| idx.leaves.get(i)) {
                Some(l) => *l,
                None => return Ok(None),
            }
        };
        let bytes = journal::read(self.shared.medium.as_ref(), loc)?;
        LogEntry::decode(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("log entry {index}: {e}")))
    }

    /// Number of durable log entries.
    pub fn log_size(&self) -> u64 {
        self.shared.index().root.len()
    }

    /// Current tree root over the durable log.
    pub fn log_root(&self) -> Hash {
        self.shared.index().root.root()
    }

    /// The last signed checkpoint note.
    pub fn last_checkpoint(&self) -> Option<String> {
        self.shared
            .last_checkpoint
            .read()
            .ok()
            .and_then(|c| c.clone())
    }

    /// Bytes on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.shared.medium.size()
    }
}

/// The single writer. Owns every change to the journal and the indexes.
struct Writer {
    shared: Arc<Shared>,
    signer: Arc<Signer>,
    cp_path: std::path::PathBuf,
    signals: Arc<RwLock<HashMap<NodeId, watch::Sender<u64>>>>,
    checkpoint_signal: Arc<watch::Sender<u64>>,
    /// Set when the journal's end could not be restored after a failed write: every later
    /// request fails until the node is restarted (replay then finds the durable end).
    broken: Option<String>,
    /// The batch buffer, reused from one group commit to the next.
    buf: BatchBuf,
    /// The journal's salt (seals batch headers).
    salt: [u8; 8],
    /// The data dir's lock: held as long as the writer lives.
    _lock: DataDirLock,
}

/// A request as the writer takes it: an announcement it carries is withdrawn now.
fn received(mut r: Request) -> Request {
    if let Request::Originate { announced, .. } = &mut r {
        *announced = None;
    }
    r
}

/// Adds every request already waiting to the group (up to [`MAX_GROUP`]).
fn take_waiting(rx: &mut mpsc::Receiver<Request>, pending: &mut Vec<Request>) {
    while pending.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(r) => pending.push(received(r)),
            Err(_) => break,
        }
    }
}

/// Answers a request that will not be carried out.
fn fail(r: Request, why: &StoreError) {
    let e = || why.duplicate();
    match r {
        Request::Originate { reply, .. } => drop(reply.send(Err(e()))),
        Request::Accept { reply, .. } => drop(reply.send(Err(e()))),
        Request::HopAnswer { reply, .. } => drop(reply.send(Err(e()))),
        Request::Record { reply, .. } => drop(reply.send(Err(e()))),
        Request::Ack { reply, .. } => drop(reply.send(Err(e()))),
        Request::Checkpoint { reply } => drop(reply.send(Err(e()))),
        Request::Cosigned { reply, .. } => drop(reply.send(Err(e()))),
        Request::Purge { reply, .. } => drop(reply.send(Err(e()))),
        Request::Shutdown { reply } => drop(reply.send(Err(e()))),
    }
}

fn too_large(id: &MessageId) -> StoreError {
    StoreError::Refused(format!("message {id} is too large to store"))
}

/// Replies to send once the batch is durable.
enum Reply {
    Index(oneshot::Sender<StoreResult<u64>>, u64),
    Accepted(oneshot::Sender<StoreResult<Accepted>>, Accepted),
    Bool(oneshot::Sender<StoreResult<bool>>, bool),
    Checkpoint(oneshot::Sender<StoreResult<Option<String>>>),
    Cosigned(oneshot::Sender<StoreResult<()>>, String),
    Purged(oneshot::Sender<StoreResult<Vec<MessageId>>>, Vec<MessageId>),
}

/// A message's state as the group sees it.
struct Pending {
    /// Message number (new ones continue the index's count).
    n: u32,
    state: MessageState,
    /// Changed by this group (new messages always are).
    dirty: bool,
}

/// One group commit in the making: an overlay of what it changes, so requests later in the
/// same group see earlier ones (a duplicate within one group is still a duplicate).
struct Group<'a> {
    shared: &'a Shared,
    node: &'a NodeId,
    leaves: Vec<Vec<u8>>,
    base_leaf: u64,
    base_msg: u32,
    /// New messages in number order: id and envelope bytes.
    new: Vec<(MessageId, Vec<u8>)>,
    /// Signed receipts and refusals to keep, with the log entry that names each.
    signed: Vec<(u64, Vec<u8>)>,
    states: HashMap<MessageId, Pending>,
    /// Next inbox position and outbox sequences (copied from the index, advanced here).
    next_inbox: u64,
    next_outbox: HashMap<NodeId, u64>,
    queued: HashSet<NodeId>,
    now: Timestamp,
}

impl Group<'_> {
    fn append(&mut self, event: Event) -> u64 {
        let index = self.base_leaf + self.leaves.len() as u64;
        self.leaves.push(
            LogEntry {
                index,
                at: self.now,
                event,
            }
            .encode(),
        );
        index
    }

    /// Appends an event about a message and hands its facts back, so they are not cloned once
    /// for the log and once more for the message's state.
    fn append_message_event(&mut self, event: Event) -> StoreResult<(u64, MessageFacts)> {
        let index = self.base_leaf + self.leaves.len() as u64;
        let entry = LogEntry {
            index,
            at: self.now,
            event,
        };
        self.leaves.push(entry.encode());
        match entry.event {
            Event::Sent { msg, .. } | Event::Received { msg, .. } | Event::Relayed { msg, .. } => {
                Ok((index, msg))
            }
            other => Err(StoreError::Refused(format!(
                "internal: {} is not a message event",
                other.name()
            ))),
        }
    }

    /// The message as this group sees it, loaded into the group once.
    fn pending(&mut self, id: &MessageId) -> StoreResult<Option<&mut Pending>> {
        if !self.states.contains_key(id) {
            let Some(n) = self.shared.number(id) else {
                return Ok(None);
            };
            let Some(state) = self.shared.state_of(n)? else {
                return Ok(None);
            };
            self.states.insert(
                *id,
                Pending {
                    n,
                    state,
                    dirty: false,
                },
            );
        }
        Ok(self.states.get_mut(id))
    }

    /// The message's state to change in this group (written at commit).
    fn state_mut(&mut self, id: &MessageId) -> StoreResult<Option<&mut MessageState>> {
        Ok(self.pending(id)?.map(|p| {
            p.dirty = true;
            &mut p.state
        }))
    }

    /// Whether `peer` still owes an answer about the message.
    fn owes(&mut self, id: &MessageId, peer: &NodeId) -> StoreResult<bool> {
        if let Some(p) = self.states.get(id) {
            return Ok(p.state.pending.iter().any(|(q, _)| q == peer));
        }
        let Some(n) = self.shared.number(id) else {
            return Ok(false);
        };
        let idx = self.shared.index();
        Ok(idx
            .hot
            .get(&n)
            .is_some_and(|s| s.pending.iter().any(|(q, _)| q == peer)))
    }

    /// Whether the message is known (in this group or durable).
    fn exists(&self, id: &MessageId) -> bool {
        self.states.contains_key(id) || self.shared.number(id).is_some()
    }

    fn enqueue(&mut self, peer: &NodeId) -> u64 {
        // Looked up before inserting, so the peer's id is copied only the first time.
        let s = match self.next_outbox.get_mut(peer) {
            Some(seq) => seq,
            None => self.next_outbox.entry(peer.clone()).or_insert(0),
        };
        let seq = *s;
        *s += 1;
        if !self.queued.contains(peer) {
            self.queued.insert(peer.clone());
        }
        seq
    }

    #[allow(clippy::too_many_arguments)] // one call site each; a struct would only rename them
    fn store_new(
        &mut self,
        bytes: Vec<u8>,
        facts: MessageFacts,
        role: Role,
        from: Option<NodeId>,
        leaf: u64,
        next_hops: &[NodeId],
        deliver: bool,
    ) {
        let id = facts.id;
        let pending = next_hops
            .iter()
            .map(|p| (p.clone(), self.enqueue(p)))
            .collect();
        let inbox_seq = deliver.then(|| {
            let s = self.next_inbox;
            self.next_inbox += 1;
            s
        });
        let n = self.base_msg + self.new.len() as u32;
        self.new.push((id, bytes));
        self.states.insert(
            id,
            Pending {
                n,
                state: MessageState {
                    facts,
                    role,
                    from,
                    logged_at: self.now,
                    leaves: vec![leaf],
                    pending,
                    hops: Vec::new(),
                    inbox_seq,
                    acked: false,
                    purged: false,
                },
                dirty: true,
            },
        );
    }

    fn apply(&mut self, req: Request, replies: &mut Vec<Reply>) -> StoreResult<()> {
        match req {
            Request::Originate {
                envelope,
                facts,
                next_hops,
                announced: _,
                reply,
            } => {
                if self.exists(&facts.id) {
                    let _ = reply.send(Err(StoreError::Refused(format!(
                        "message {} already exists",
                        facts.id
                    ))));
                    return Ok(());
                }
                if envelope.bytes.len() as u64 > Loc::MAX_LEN {
                    let _ = reply.send(Err(too_large(&facts.id)));
                    return Ok(());
                }
                let (leaf, facts) = self.append_message_event(Event::Sent {
                    msg: facts,
                    to: next_hops.clone(),
                })?;
                self.store_new(
                    envelope.bytes,
                    facts,
                    Role::Originated,
                    None,
                    leaf,
                    &next_hops,
                    false,
                );
                replies.push(Reply::Index(reply, leaf));
            }
            Request::Accept {
                envelope,
                facts,
                from,
                deliver,
                inbox,
                next_hops,
                reply,
            } => {
                if self.exists(&facts.id) {
                    replies.push(Reply::Accepted(reply, Accepted::Duplicate));
                    return Ok(());
                }
                if envelope.bytes.len() as u64 > Loc::MAX_LEN {
                    let _ = reply.send(Err(too_large(&facts.id)));
                    return Ok(());
                }
                let role = if deliver {
                    Role::Delivered
                } else {
                    Role::Relayed
                };
                let bytes = if !next_hops.is_empty() {
                    // Stored as it will be forwarded: the route so far plus this node, so a
                    // peer session sends the bytes as they are.
                    match Envelope::decode(&envelope.bytes) {
                        Ok(mut env) => {
                            env.route.push(self.node.clone());
                            env.encode()
                        }
                        Err(e) => {
                            let _ = reply.send(Err(StoreError::Refused(format!(
                                "cannot relay {}: {e}",
                                facts.id
                            ))));
                            return Ok(());
                        }
                    }
                } else {
                    envelope.bytes
                };
                let event = if deliver && next_hops.is_empty() {
                    Event::Received {
                        msg: facts,
                        from: from.clone(),
                        route: envelope.route,
                    }
                } else {
                    Event::Relayed {
                        msg: facts,
                        from: from.clone(),
                        to: next_hops.clone(),
                    }
                };
                let (leaf, facts) = self.append_message_event(event)?;
                self.store_new(bytes, facts, role, Some(from), leaf, &next_hops, inbox);
                replies.push(Reply::Accepted(reply, Accepted::New(leaf)));
            }
            Request::HopAnswer {
                event,
                peer,
                outcome,
                proof,
                signed,
                remote,
                reply,
            } => {
                let mut applies = Vec::with_capacity(outcome.len());
                for (id, result) in outcome {
                    // Only a next hop that still owes an answer for this message changes its
                    // trail; anything else (a repeat, or an id it was never sent) stays in the
                    // log entry below and nowhere else. A carried answer changes the trail of
                    // a message we originated, once.
                    let yes = if remote {
                        self.pending(&id)?.is_some_and(|p| {
                            p.state.role == Role::Originated
                                && !p.state.hops.iter().any(|h| h.proof == proof)
                        })
                    } else {
                        self.owes(&id, &peer)?
                    };
                    if yes {
                        applies.push((id, result));
                    }
                }
                if remote && applies.is_empty() {
                    replies.push(Reply::Index(reply, u64::MAX));
                    return Ok(());
                }
                let leaf = self.append(event);
                self.signed.push((leaf, signed));
                let at = self.now;
                for (id, result) in applies {
                    let Some(s) = self.state_mut(&id)? else {
                        continue;
                    };
                    // A carried answer speaks for a later leg: even when its signer is our
                    // next hop (a gateway refusing the copy it would pass on), that hop still
                    // owes its own receipt, which must not find the message already settled.
                    if !remote {
                        s.pending.retain(|(p, _)| *p != peer);
                    }
                    s.leaves.push(leaf);
                    s.hops.push(HopRecord {
                        peer: peer.clone(),
                        outcome: result,
                        at,
                        leaf,
                        proof,
                    });
                }
                replies.push(Reply::Index(reply, leaf));
            }
            Request::Record {
                event,
                signed,
                reply,
            } => {
                // A refusal joins the refused message's trail. A receipt we issue is not added
                // to every covered message's state: that would rewrite each state once more per
                // message; the receipt is in the log, found by its message ids.
                let ids = match &event {
                    Event::Refused { id: Some(id), .. } => vec![*id],
                    _ => vec![],
                };
                let leaf = self.append(event);
                if let Some(b) = signed {
                    self.signed.push((leaf, b));
                }
                for id in ids {
                    if let Some(s) = self.state_mut(&id)? {
                        s.leaves.push(leaf);
                    }
                }
                replies.push(Reply::Index(reply, leaf));
            }
            Request::Ack { id, by, reply } => {
                // `Some(acked)` for an inbox message, `None` for anything else.
                let acked = self
                    .pending(&id)?
                    .and_then(|p| p.state.inbox_seq.map(|_| p.state.acked));
                if acked == Some(false) {
                    let leaf = self.append(Event::Acknowledged { id, by });
                    if let Some(s) = self.state_mut(&id)? {
                        s.acked = true;
                        s.leaves.push(leaf);
                    }
                }
                replies.push(Reply::Bool(reply, acked.is_some()));
            }
            Request::Checkpoint { reply } => replies.push(Reply::Checkpoint(reply)),
            Request::Cosigned { note, reply } => replies.push(Reply::Cosigned(reply, note)),
            Request::Purge { ids, reply } => {
                let mut done = Vec::new();
                for (id, rule) in ids {
                    // Still there, not purged, and owed nothing by a next hop (a message in
                    // an outbox must keep its body until it is receipted).
                    let ok = self
                        .pending(&id)?
                        .is_some_and(|p| !p.state.purged && p.state.pending.is_empty());
                    if !ok {
                        continue;
                    }
                    let leaf = self.append(Event::Purged { id, rule });
                    if let Some(s) = self.state_mut(&id)? {
                        s.purged = true;
                        s.leaves.push(leaf);
                    }
                    done.push(id);
                }
                replies.push(Reply::Purged(reply, done));
            }
            Request::Shutdown { reply } => drop(reply.send(Ok(()))),
        }
        Ok(())
    }
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut pending = Vec::with_capacity(MAX_GROUP);
        let mut stop = None;
        while let Some(first) = rx.blocking_recv() {
            pending.push(received(first));
            take_waiting(&mut rx, &mut pending);
            self.wait_for_announced(&mut rx, &mut pending);
            // A shutdown request ends the group; it is answered after the commit.
            if let Some(i) = pending
                .iter()
                .position(|r| matches!(r, Request::Shutdown { .. }))
            {
                let rest = pending.split_off(i);
                for r in rest {
                    match r {
                        Request::Shutdown { reply } if stop.is_none() => stop = Some(reply),
                        Request::Shutdown { reply } => drop(reply.send(Ok(()))),
                        other => fail(other, &StoreError::Stopped),
                    }
                }
            }
            // Drained, not taken: the buffer keeps its capacity for the next group.
            self.commit_group(pending.drain(..));
            if stop.is_some() {
                break;
            }
        }
        rx.close();
        while let Ok(r) = rx.try_recv() {
            fail(r, &StoreError::Stopped);
        }
        drop(self);
        if let Some(reply) = stop {
            let _ = reply.send(Ok(()));
        }
        tracing::debug!("store writer stopped");
    }

    /// Waits, at most the linger, for announced requests to arrive while the group is small
    /// (see the module documentation). Returns at once when nothing is announced, so a lone
    /// request is never held back; and before a shutdown.
    fn wait_for_announced(&self, rx: &mut mpsc::Receiver<Request>, pending: &mut Vec<Request>) {
        let announced = || self.shared.announced.load(Ordering::Acquire);
        let linger = Duration::from_micros(self.shared.linger_us.load(Ordering::Relaxed));
        let small = |p: &Vec<Request>| {
            p.len() < LINGER_GROUP && !p.iter().any(|r| matches!(r, Request::Shutdown { .. }))
        };
        if announced() == 0 || linger.is_zero() || !small(pending) {
            return;
        }
        let deadline = Instant::now().checked_add(linger);
        loop {
            let now = Instant::now();
            let left = deadline.map_or(LINGER_STEP, |d| d.saturating_duration_since(now));
            // Read before taking what waits: an announcement is withdrawn only once its
            // request has been received, so when none is left, all of them are in the group
            // after this take.
            let last = announced() == 0 || left.is_zero();
            take_waiting(rx, pending);
            if last || !small(pending) {
                return;
            }
            std::thread::sleep(left.min(LINGER_STEP));
        }
    }

    fn commit_group(&mut self, requests: std::vec::Drain<'_, Request>) {
        let (base_leaf, base_msg, next_inbox, next_outbox) = {
            let idx = self.shared.index();
            (
                idx.root.len(),
                idx.msgs.len() as u32,
                idx.inbox.len() as u64,
                idx.next_outbox.clone(),
            )
        };
        let mut replies = Vec::with_capacity(requests.len());
        let node = self.signer.node().clone();
        // Most requests are one message each: size the group's buffers for that up front.
        let mut group = Group {
            shared: &self.shared,
            node: &node,
            leaves: Vec::with_capacity(requests.len()),
            base_leaf,
            base_msg,
            new: Vec::with_capacity(requests.len()),
            signed: Vec::new(),
            states: HashMap::with_capacity(requests.len()),
            next_inbox,
            next_outbox,
            queued: HashSet::new(),
            now: now(),
        };
        let mut failure = self
            .broken
            .as_ref()
            .map(|why| StoreError::Broken(why.clone()));
        match &failure {
            None => {
                for req in requests {
                    if let Err(e) = group.apply(req, &mut replies) {
                        failure = Some(e);
                        break;
                    }
                }
            }
            Some(e) => {
                for req in requests {
                    fail(req, e);
                }
            }
        }
        let Group {
            leaves,
            new,
            signed,
            states,
            queued,
            next_outbox,
            ..
        } = group;
        let result = match failure {
            Some(e) => Err(e),
            None => self.write(leaves, new, signed, states, next_outbox),
        };
        if let Err(e) = result {
            // Nothing of this group is durable: fail every request in it. The indexes were not
            // touched, so the next group starts clean.
            let kind = match e {
                StoreError::DiskFull(_) => AlarmKind::DiskFull,
                _ => AlarmKind::StorageWrite,
            };
            self.shared.alarms.raise(
                kind,
                "journal",
                format!("a group commit of {} requests failed: {e}", replies.len()),
                now(),
            );
            for r in replies {
                let e = e.duplicate();
                match r {
                    Reply::Index(tx, _) => drop(tx.send(Err(e))),
                    Reply::Accepted(tx, _) => drop(tx.send(Err(e))),
                    Reply::Bool(tx, _) => drop(tx.send(Err(e))),
                    Reply::Checkpoint(tx) => drop(tx.send(Err(e))),
                    Reply::Cosigned(tx, _) => drop(tx.send(Err(e))),
                    Reply::Purged(tx, _) => drop(tx.send(Err(e))),
                }
            }
            return;
        }
        if !queued.is_empty() {
            let mut signals = self.signals.write().unwrap_or_else(|e| e.into_inner());
            for peer in queued {
                signals
                    .entry(peer)
                    .or_insert_with(|| watch::channel(0).0)
                    .send_modify(|v| *v += 1);
            }
        }
        for r in replies {
            match r {
                Reply::Index(tx, i) => drop(tx.send(Ok(i))),
                Reply::Accepted(tx, a) => drop(tx.send(Ok(a))),
                Reply::Bool(tx, b) => drop(tx.send(Ok(b))),
                Reply::Checkpoint(tx) => drop(tx.send(self.sign_checkpoint())),
                Reply::Cosigned(tx, note) => drop(tx.send(self.add_cosignature(&note))),
                Reply::Purged(tx, ids) => drop(tx.send(self.zero_bodies(&ids).map(|()| ids))),
            }
        }
    }

    /// Appends the group's batch durably, then updates the indexes and the root.
    fn write(
        &mut self,
        leaves: Vec<Vec<u8>>,
        new: Vec<(MessageId, Vec<u8>)>,
        signed: Vec<(u64, Vec<u8>)>,
        mut states: HashMap<MessageId, Pending>,
        next_outbox: HashMap<NodeId, u64>,
    ) -> StoreResult<()> {
        let batch = &mut self.buf;
        batch.clear();
        let mut bodies_part = Bodies::default();
        let mut leaf_at = Vec::with_capacity(leaves.len());
        for leaf in &leaves {
            leaf_at.push((batch.record(journal::TAG_LEAF, &[leaf])?, leaf.len()));
        }
        // New messages in number order, with their final state in this group.
        let mut new_at = Vec::with_capacity(new.len());
        for (id, body) in &new {
            let p = states
                .remove(id)
                .ok_or_else(|| StoreError::Refused(format!("new message {id} without state")))?;
            let state = encode(&p.state);
            let body_len = u32::try_from(body.len())
                .map_err(|_| StoreError::Refused("envelope too large".into()))?;
            let at = batch.record(journal::TAG_NEW, &[&body_len.to_le_bytes(), &state])?;
            new_at.push((
                at + 4,
                state.len(),
                bodies_part.push(body),
                body.len(),
                p.state,
            ));
        }
        // Signed answers: their bodies follow the new messages' in the bodies section.
        let mut signed_lens = Vec::with_capacity(signed.len());
        for (leaf, bytes) in &signed {
            let len = u32::try_from(bytes.len())
                .map_err(|_| StoreError::Refused("signed answer too large".into()))?;
            batch.record(
                journal::TAG_SIGNED,
                &[&leaf.to_le_bytes(), &len.to_le_bytes()],
            )?;
            bodies_part.push(bytes);
            signed_lens.push(bytes.len());
        }
        let mut updates = Vec::new();
        for p in states.into_values().filter(|p| p.dirty) {
            let state = encode(&p.state);
            let at = batch.record(journal::TAG_UPDATE, &[&state])?;
            updates.push((p.n, at, state.len(), p.state));
        }
        if batch.is_empty() {
            return Ok(());
        }
        let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
        let before = self.shared.medium.size();
        // Everything that could fail is checked before writing: once the batch is durable,
        // the index must follow it.
        let end = before + journal::HEADER + batch.meta_len() + bodies_part.len();
        let too_long = leaf_at
            .iter()
            .map(|(_, l)| *l)
            .chain(new_at.iter().flat_map(|n| [n.1, n.3]));
        let too_long = too_long
            .chain(signed_lens.iter().copied())
            .chain(updates.iter().map(|u| u.2))
            .any(|l| l as u64 > Loc::MAX_LEN);
        if too_long || end > Loc::MAX_OFFSET {
            return Err(StoreError::Refused(
                "this group's records exceed the journal's limits (32 MiB per value, 512 GiB \
                 per file)"
                    .into(),
            ));
        }
        let start = match batch.commit(self.shared.medium.as_ref(), &self.salt, &bodies_part) {
            Ok(s) => {
                self.shared.commits.fetch_add(1, Ordering::Relaxed);
                s
            }
            Err(e) => {
                // Put the end back where the last durable batch ended, or stop writing.
                if let Err(t) = self.shared.medium.truncate(before) {
                    let why = format!(
                        "the journal could not be restored after a failed write ({t}); \
                         the store stopped writing — restart the node"
                    );
                    tracing::error!("{why}");
                    self.broken = Some(why);
                }
                return Err(e);
            }
        };
        let meta = start + journal::HEADER;
        let bodies = meta + batch.meta_len();
        let mut idx = self.shared.index.write().unwrap_or_else(|e| e.into_inner());
        let applied = (|| -> StoreResult<()> {
            for ((at, len), h) in leaf_at.into_iter().zip(hashes) {
                idx.leaves.push(Loc::new(meta + at, len as u64)?);
                idx.root.push_leaf_hash(h);
            }
            for ((at, len, body_at, body_len, state), (_, envelope)) in new_at.into_iter().zip(new)
            {
                let n = idx.insert(
                    state,
                    Loc::new(meta + at, len as u64)?,
                    Loc::new(bodies + body_at, body_len as u64)?,
                )?;
                idx.keep_sending(n, envelope);
            }
            for (n, at, len, state) in updates {
                idx.update(n, state, Loc::new(meta + at, len as u64)?)?;
            }
            for (peer, next) in next_outbox {
                let e = idx.next_outbox.entry(peer).or_insert(0);
                *e = (*e).max(next);
            }
            Ok(())
        })();
        if let Err(e) = applied {
            // Durable but not indexed: answering would be a lie, and so would be failing the
            // requests (they are on disk). Stop writing; a restart replays the journal.
            let why = format!(
                "the store could not index a durable batch ({e:#}); it stopped writing — \
                 restart the node"
            );
            tracing::error!("{why}");
            self.broken = Some(why.clone());
            return Err(StoreError::Broken(why));
        }
        Ok(())
    }

    /// Signs a checkpoint over the durable tree (everything in it has passed the barrier),
    /// if it grew since the last one, and writes it durably before returning it.
    fn sign_checkpoint(&mut self) -> StoreResult<Option<String>> {
        let (size, root) = {
            let idx = self.shared.index();
            (idx.root.len(), idx.root.root())
        };
        let last_size = self
            .shared
            .last_checkpoint
            .read()
            .ok()
            .and_then(|c| c.as_deref().and_then(checkpoint::size_of));
        if last_size == Some(size) {
            return Ok(None);
        }
        let origin = log_origin(self.signer.node());
        let cp = Checkpoint::new(&origin, size, root)
            .map_err(|e| StoreError::Checkpoint(e.to_string()))?;
        let signed = SignedCheckpoint::sign(cp, &origin, self.signer.key())
            .map_err(|e| StoreError::Checkpoint(e.to_string()))?;
        let note = signed.encode();
        checkpoint::write(&self.cp_path, &note)?;
        if let Ok(mut last) = self.shared.last_checkpoint.write() {
            *last = Some(note.clone());
        }
        self.shared
            .index
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .keep_frontier();
        self.checkpoint_signal.send_replace(size);
        Ok(Some(note))
    }

    /// Overwrites the bodies of messages whose purge is durable in the log.
    fn zero_bodies(&self, ids: &[MessageId]) -> StoreResult<()> {
        let ranges: Vec<(u64, usize)> = {
            let mut idx = self.shared.index.write().unwrap_or_else(|e| e.into_inner());
            let numbers: Vec<u32> = ids.iter().filter_map(|id| idx.number(id)).collect();
            for n in &numbers {
                idx.forget_sending(*n);
            }
            numbers
                .iter()
                .filter_map(|n| idx.msgs.get(*n as usize))
                .map(|e| (e.body.offset(), e.body.length()))
                .collect()
        };
        self.shared.medium.zero_durable(&ranges).map_err(|e| {
            StoreError::write(std::io::Error::new(
                e.kind(),
                format!("purge: cannot overwrite the bodies (the next start finishes it): {e}"),
            ))
        })
    }

    /// Merges a cosigned copy of one of our checkpoints: into the last checkpoint if it is the
    /// same one (adding only signature lines it lacks), and into the history either way.
    fn add_cosignature(&mut self, cosigned: &str) -> StoreResult<()> {
        let last = self
            .shared
            .last_checkpoint
            .read()
            .ok()
            .and_then(|c| c.clone());
        let merged = match last {
            Some(last) if checkpoint::body_of(&last) == checkpoint::body_of(cosigned) => {
                let mut merged = last.clone();
                for line in checkpoint::signature_lines(cosigned) {
                    if !checkpoint::signature_lines(&last).contains(&line) {
                        merged.push_str(line);
                        merged.push('\n');
                    }
                }
                if merged == last {
                    return Ok(());
                }
                merged
            }
            _ => return checkpoint::append_history(&self.cp_path, cosigned),
        };
        checkpoint::write(&self.cp_path, &merged)?;
        if let Ok(mut l) = self.shared.last_checkpoint.write() {
            *l = Some(merged);
        }
        Ok(())
    }
}
