//! The single writer: one thread owns every change to the journal and the indexes, folds the
//! requests waiting into one group commit, makes it durable, and only then answers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use liaison_protocol::checkpoint::{log_origin, Checkpoint, SignedCheckpoint};
use liaison_protocol::log::{Event, LogEntry, MessageFacts};
use liaison_protocol::merkle::{leaf_hash, Hash};
use liaison_protocol::{Envelope, MessageId, NodeId, Signer, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};

use crate::alarm::AlarmKind;
use crate::handle::{Announcement, Shared};
use crate::journal::{self, BatchBuf, Bodies, Loc};
use crate::lock::DataDirLock;
use crate::{
    checkpoint, encode, now, Accepted, HopRecord, MessageState, Role, StoreError, StoreResult,
    Stored,
};

/// Most requests folded into one group commit.
pub(crate) const MAX_GROUP: usize = 4096;
/// A group this large is committed without waiting for announced requests.
const LINGER_GROUP: usize = 64;
/// How long the writer waits at most for announced requests before it commits a group
/// (see the module documentation); [`crate::Store::set_group_linger`] changes it.
pub const DEFAULT_LINGER: Duration = Duration::from_micros(500);
/// How often the writer looks again for announced requests while it waits.
const LINGER_STEP: Duration = Duration::from_micros(100);

pub(crate) enum Request {
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
    /// A consistent point for a backup: a checkpoint over the whole log, the journal's
    /// length and the checkpoint files, between two group commits.
    Backup {
        reply: oneshot::Sender<StoreResult<crate::backup::BackupPoint>>,
    },
    /// Finish, then stop the writer (replies after the last commit).
    Shutdown {
        reply: oneshot::Sender<StoreResult<()>>,
    },
}

/// The single writer. Owns every change to the journal and the indexes.
pub(crate) struct Writer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) signer: Arc<Signer>,
    pub(crate) cp_path: std::path::PathBuf,
    pub(crate) signals: Arc<RwLock<HashMap<NodeId, watch::Sender<u64>>>>,
    pub(crate) checkpoint_signal: Arc<watch::Sender<u64>>,
    /// Set when the journal's end could not be restored after a failed write: every later
    /// request fails until the node is restarted (replay then finds the durable end).
    pub(crate) broken: Option<String>,
    /// The batch buffer, reused from one group commit to the next.
    pub(crate) buf: BatchBuf,
    /// The journal's salt (seals batch headers).
    pub(crate) salt: [u8; 8],
    /// The data dir's lock: held as long as the writer lives.
    pub(crate) _lock: DataDirLock,
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
        Request::Backup { reply } => drop(reply.send(Err(e()))),
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
    Backup(oneshot::Sender<StoreResult<crate::backup::BackupPoint>>),
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
    /// Entries by event type and message bytes by role, for the metrics once durable.
    counted: ([u64; 10], [u64; 3]),
}

impl Group<'_> {
    fn append(&mut self, event: Event) -> u64 {
        let index = self.base_leaf + self.leaves.len() as u64;
        self.counted.0[crate::metrics::event_slot(&event)] += 1;
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
        self.counted.0[crate::metrics::event_slot(&event)] += 1;
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
        Ok(self.shared.index().owed.owes(n, peer))
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
        self.counted.1[crate::metrics::role_slot(role)] += bytes.len() as u64;
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
                    // a message we originated, once: a second report of the same answer, or
                    // of the same signer's same outcome in a later answer (a relay that
                    // crashed after reporting hands the message on again and reports the
                    // repeated receipt), is a repeat.
                    let yes = if remote {
                        self.pending(&id)?.is_some_and(|p| {
                            p.state.role == Role::Originated
                                && !p.state.hops.iter().any(|h| {
                                    h.proof == proof || (h.peer == peer && h.outcome == result)
                                })
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
            Request::Backup { reply } => replies.push(Reply::Backup(reply)),
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
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Request>) {
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
            counted: ([0; 10], [0; 3]),
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
            counted,
            ..
        } = group;
        let started = std::time::Instant::now();
        let result = match failure {
            Some(e) => Err(e),
            None => self.write(leaves, new, signed, states, next_outbox),
        };
        if result.is_ok() {
            self.shared
                .counters
                .add_group(&counted.0, &counted.1, started.elapsed());
        }
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
                    Reply::Backup(tx) => drop(tx.send(Err(e))),
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
                Reply::Backup(tx) => drop(tx.send(self.backup_point())),
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
    pub(crate) fn sign_checkpoint(&mut self) -> StoreResult<Option<String>> {
        let size = self.shared.index().root.len();
        let last_size = self
            .shared
            .last_checkpoint
            .read()
            .ok()
            .and_then(|c| c.as_deref().and_then(checkpoint::size_of));
        if last_size == Some(size) {
            return Ok(None);
        }
        self.sign_checkpoint_again().map(Some)
    }

    /// Signs a checkpoint of the log as it is, even if the last one has the same size (after
    /// the node's key changed, the same log is signed again with the new key).
    pub(crate) fn sign_checkpoint_again(&mut self) -> StoreResult<String> {
        let (size, root) = {
            let idx = self.shared.index();
            (idx.root.len(), idx.root.root())
        };
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
        self.shared.counters.checkpoint_signed(now().0);
        self.shared
            .index
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .keep_frontier();
        self.checkpoint_signal.send_replace(size);
        Ok(note)
    }

    /// The point a backup copies: everything durable so far, under a checkpoint that covers
    /// it, with the checkpoint files as they are now.
    fn backup_point(&mut self) -> StoreResult<crate::backup::BackupPoint> {
        self.sign_checkpoint()?;
        let dir = self.cp_path.parent().unwrap_or(std::path::Path::new("."));
        let mut files = Vec::new();
        for name in [checkpoint::FILE, checkpoint::HISTORY] {
            match std::fs::read(dir.join(name)) {
                Ok(bytes) => files.push((name, bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(format!("backup: cannot read {name}"), e)),
            }
        }
        Ok(crate::backup::BackupPoint {
            log_size: self.shared.index().root.len(),
            journal_len: self.shared.medium.size(),
            checkpoint: self
                .shared
                .last_checkpoint
                .read()
                .ok()
                .and_then(|c| c.clone()),
            files,
        })
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
