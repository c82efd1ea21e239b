//! The in-memory indexes over the journal, rebuilt by replaying it at start-up.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use liaison_protocol::merkle::{Hash, RootBuilder, EMPTY_ROOT};
use liaison_protocol::{CaseId, MessageId, NodeId};

use crate::journal::{self, Loc, Medium, Record, ReplayEnd};
use crate::owed::{Owed, HOT_STATES};
use crate::{decode_state, MessageState, StoreError, StoreResult};

/// Where one message's current state and its envelope are in the journal.
#[derive(Clone, Copy)]
pub(crate) struct MsgEntry {
    pub(crate) state: Loc,
    pub(crate) body: Loc,
}

/// The in-memory indexes over the journal, rebuilt by [`Index::load`] at start-up.
///
/// Messages are numbered densely in journal order; every other index refers to that number.
#[derive(Default)]
pub struct Index {
    /// Message id → number: a table of numbers whose keys are the ids in `ids` (4 bytes per
    /// entry in the table instead of a second copy of every 32-byte id).
    pub(crate) by_id: hashbrown::HashTable<u32>,
    pub(crate) hasher: std::hash::RandomState,
    /// Message number → id.
    pub(crate) ids: Vec<MessageId>,
    pub(crate) msgs: Vec<MsgEntry>,
    /// Log entry `i` → its bytes in the journal.
    pub(crate) leaves: Vec<Loc>,
    /// Merkle root of the log (a frontier of O(log n) hashes).
    pub(crate) root: RootBuilder,
    /// Inbox position → message.
    pub(crate) inbox: Vec<u32>,
    /// Acknowledged flags by inbox position (a bitset).
    pub(crate) acked: Vec<u64>,
    pub(crate) unread: u64,
    /// Per next hop: outbox sequence → message, and per message the next hops that owe it a
    /// receipt (only messages still owed one).
    pub(crate) owed: Owed,
    /// Next outbox sequence per next hop (never reused).
    pub(crate) next_outbox: HashMap<NodeId, u64>,
    /// States of messages still owed a receipt, while they fit in [`HOT_STATES`]: the receipt
    /// path and the peer connections read them on every message in flight. The others are
    /// read from the journal when needed.
    pub(crate) hot: HashMap<u32, MessageState>,
    /// Envelopes of hot messages written by this run, while they fit in [`SENDING_CACHE`]:
    /// what the peer sessions send, without reading the journal back (a system call and a
    /// copy per message).
    pub(crate) sending: HashMap<u32, Arc<Vec<u8>>>,
    /// Bytes held in `sending`.
    pub(crate) sending_bytes: usize,
    /// Case → its messages.
    pub(crate) cases: HashMap<CaseId, Vec<MessageId>>,
    /// Message → the replies to it (their numbers): what tells a request answered.
    pub(crate) replies: HashMap<MessageId, Vec<u32>>,
    /// The compact range of the log at the sizes of recent checkpoints (at most
    /// [`FRONTIERS`]): what a consistency proof from one of them needs besides later leaves.
    pub(crate) frontiers: BTreeMap<u64, RootBuilder>,
    /// Where the bodies of purged messages were (found at load; a purge cut short by a crash
    /// is finished at start-up).
    pub(crate) purged_bodies: Vec<Loc>,
    /// Messages whose stored copy was found damaged (by a read or a scrub), with why: never
    /// shown, opened or forwarded. Found again by the scrub after a restart.
    pub(crate) damaged: HashMap<u32, String>,
    /// Messages whose body was purged.
    pub(crate) purged: HashSet<u32>,
}

/// A record that passed its batch's checksum but does not make sense: written that way.
fn altered(e: StoreError) -> StoreError {
    StoreError::JournalDamaged(format!(
        "ALARM: the journal holds a record that does not make sense ({e}); the store was \
         altered. Refusing to start."
    ))
}

/// Recent checkpoints whose compact range the index keeps for witnesses' proofs.
pub(crate) const FRONTIERS: usize = 32;

/// Consistency proofs kept once computed (each O(log n) hashes); all are dropped when full.
pub(crate) const KEPT_PROOFS: usize = 16;

/// Most bytes of envelopes the index keeps in memory for the peer sessions (about 4 500
/// envelopes of a 1 KiB message: the default window); beyond that they are read back from
/// the journal.
pub(crate) const SENDING_CACHE: usize = 8 << 20;

impl Index {
    /// Replays the journal; returns the index, the roots at those of `root_sizes` the log
    /// reaches, and what the replay found at the end of the file.
    pub fn load(
        medium: &dyn Medium,
        root_sizes: &[u64],
    ) -> StoreResult<(Self, HashMap<u64, Hash>, ReplayEnd)> {
        Self::load_keeping(medium, root_sizes, &[])
    }

    /// As [`Index::load`], also keeping the compact range at each of `frontier_sizes` (the
    /// sizes of recent checkpoints, for consistency proofs).
    pub fn load_keeping(
        medium: &dyn Medium,
        root_sizes: &[u64],
        frontier_sizes: &[u64],
    ) -> StoreResult<(Self, HashMap<u64, Hash>, ReplayEnd)> {
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
                        return Err(StoreError::JournalDamaged(format!(
                            "ALARM: the journal stores message {} twice; the store was altered. \
                             Refusing to start.",
                            s.facts.id
                        )));
                    }
                    idx.insert(s, state, body).map_err(altered)?;
                }
                Record::Signed { .. } => {}
                Record::Update { state, bytes } => {
                    let s = decode_state(bytes).map_err(altered)?;
                    let n = idx.number(&s.facts.id).ok_or_else(|| {
                        StoreError::JournalDamaged(format!(
                            "ALARM: the journal updates unknown message {}; the store was \
                             altered. Refusing to start.",
                            s.facts.id
                        ))
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
    pub(crate) fn keep_frontier(&mut self) {
        self.frontiers.insert(self.root.len(), self.root.clone());
        while self.frontiers.len() > FRONTIERS {
            self.frontiers.pop_first();
        }
    }

    /// The number of the message with this id.
    pub(crate) fn number(&self, id: &MessageId) -> Option<u32> {
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

    pub(crate) fn acked_bit(&self, seq: u64) -> bool {
        self.acked
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1 << (seq % 64)) != 0)
    }

    pub(crate) fn set_acked_bit(&mut self, seq: u64) {
        let w = (seq / 64) as usize;
        if self.acked.len() <= w {
            self.acked.resize(w + 1, 0);
        }
        self.acked[w] |= 1 << (seq % 64);
    }

    /// Adds a new message (number = current count); returns its number.
    pub(crate) fn insert(&mut self, s: MessageState, state: Loc, body: Loc) -> StoreResult<u32> {
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
        if let (Some(to), "reply") = (s.facts.in_reply_to, s.facts.kind.as_str()) {
            self.replies.entry(to).or_default().push(n);
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
        self.track(n, s)?;
        Ok(n)
    }

    /// Keeps the envelope of new message `n` for the peer sessions if it is owed to a peer
    /// and the cache has room.
    pub(crate) fn keep_sending(&mut self, n: u32, envelope: Vec<u8>) {
        if self.owed.is_owed(n) && self.sending_bytes + envelope.len() <= SENDING_CACHE {
            self.sending_bytes += envelope.len();
            self.sending.insert(n, Arc::new(envelope));
        }
    }

    /// Drops message `n`'s envelope from the sending cache.
    pub(crate) fn forget_sending(&mut self, n: u32) {
        if let Some(e) = self.sending.remove(&n) {
            self.sending_bytes -= e.len();
        }
    }

    /// Replaces message `n`'s state.
    pub(crate) fn update(&mut self, n: u32, s: MessageState, state: Loc) -> StoreResult<()> {
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
        self.track(n, s)
    }

    /// Moves message `n`'s outbox entries to those of its new state; keeps its state in memory
    /// while any next hop still owes a receipt and there is room.
    pub(crate) fn track(&mut self, n: u32, s: MessageState) -> StoreResult<()> {
        let size = self
            .msgs
            .get(n as usize)
            .map_or(0, |e| e.body.length() as u64);
        self.owed.set(n, size, &s.pending)?;
        for (peer, seq) in &s.pending {
            let next = match self.next_outbox.get_mut(peer) {
                Some(next) => next,
                None => self.next_outbox.entry(peer.clone()).or_insert(0),
            };
            *next = (*next).max(seq + 1);
        }
        if s.pending.is_empty() {
            self.forget_sending(n);
            self.hot.remove(&n);
        } else if self.hot.len() < HOT_STATES || self.hot.contains_key(&n) {
            self.hot.insert(n, s);
        }
        if self.hot.is_empty() && self.hot.capacity() > 0 {
            self.hot.shrink_to_fit();
        }
        Ok(())
    }
}
