//! The node's durable state: the append-only event log (Merkle leaves), message bodies, the
//! seen-set, per-peer outboxes, the inbox and the case index — and the single writer that
//! changes them.
//!
//! # Shape
//! One task owns all writes (the writer, on its own thread). Callers send it semantic
//! requests (originate, accept, record a receipt …) over a bounded channel with a oneshot
//! reply. The writer takes every request waiting, applies them all to one atomic
//! [`WriteBatch`] (group commit), makes it durable (sled flush + fsync), only then extends
//! the in-memory Merkle tree and answers. Nothing is acknowledged before it is durable.
//! Reads go straight to the engine: they see only committed state.
//!
//! # Keys (one engine tree, `state-v1`)
//! ```text
//! L <index u64be>               → log leaf (LogEntry bytes)          append-only, dense from 0
//! B <message id>                → envelope bytes as received/sent     purgeable
//! S <message id>                → MessageState (postcard)             the seen-set and trail index
//! O <peer> 0x00 <seq u64be>     → message id                          outbox, per next hop
//! I <seq u64be>                 → message id                          inbox, in delivery order
//! U <seq u64be>                 → message id                          inbox entries not yet acknowledged
//! C <case> 0x00 <message id>    → ()                                  case index
//! ```
//! The log has no update or delete operation; the signed checkpoint file beside the database
//! (see [`checkpoint`]) lets start-up detect a store rolled back below what was published.

pub mod checkpoint;
pub mod engine;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::{anyhow, bail, Context, Result};
use liaison_protocol::checkpoint::{log_origin, Checkpoint, NoteVerifier, SignedCheckpoint};
use liaison_protocol::log::{Event, LogEntry, MessageFacts};
use liaison_protocol::merkle::MerkleTree;
use liaison_protocol::{CaseId, Envelope, MessageId, NodeId, Signer, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

pub use engine::{Engine, SledEngine, WriteBatch};

/// Most requests folded into one group commit.
const MAX_GROUP: usize = 4096;

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
        envelope: Envelope,
        facts: MessageFacts,
        next_hops: Vec<NodeId>,
        reply: oneshot::Sender<Result<u64>>,
    },
    Accept {
        envelope: Envelope,
        facts: MessageFacts,
        from: NodeId,
        deliver: bool,
        next_hops: Vec<NodeId>,
        reply: oneshot::Sender<Result<Accepted>>,
    },
    /// A receipt or refusal from a next hop about messages we queued for it.
    HopAnswer {
        event: Event,
        peer: NodeId,
        outcome: Vec<(MessageId, String)>,
        proof: MessageId,
        reply: oneshot::Sender<Result<u64>>,
    },
    Record {
        event: Event,
        reply: oneshot::Sender<Result<u64>>,
    },
    Ack {
        id: MessageId,
        by: String,
        reply: oneshot::Sender<Result<bool>>,
    },
    Checkpoint {
        reply: oneshot::Sender<Result<Option<String>>>,
    },
    /// Finish, then stop the writer (replies after the last commit).
    Shutdown { reply: oneshot::Sender<Result<()>> },
}

/// Shared, read-mostly view of the writer's in-memory state.
struct Shared {
    tree: RwLock<MerkleTree>,
    /// Outbox depth per peer.
    outbox_depth: RwLock<BTreeMap<NodeId, u64>>,
    last_checkpoint: RwLock<Option<String>>,
    /// Inbox messages not yet acknowledged (the `U` index, counted once at start-up).
    unread: std::sync::atomic::AtomicU64,
}

/// A handle on the store: cheap to clone, used by every task of the node.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Request>,
    engine: Arc<dyn Engine>,
    shared: Arc<Shared>,
    /// Bumped after every commit that queued outbox entries, per peer.
    outbox_signal: Arc<RwLock<HashMap<NodeId, watch::Sender<u64>>>>,
}

fn key(prefix: u8, rest: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![prefix];
    for r in rest {
        k.extend_from_slice(r);
    }
    k
}

fn outbox_key(peer: &NodeId, seq: u64) -> Vec<u8> {
    key(b'O', &[peer.as_str().as_bytes(), &[0], &seq.to_be_bytes()])
}

fn outbox_prefix(peer: &NodeId) -> Vec<u8> {
    key(b'O', &[peer.as_str().as_bytes(), &[0]])
}

fn state_key(id: &MessageId) -> Vec<u8> {
    key(b'S', &[id.as_bytes()])
}

fn body_key(id: &MessageId) -> Vec<u8> {
    key(b'B', &[id.as_bytes()])
}

fn leaf_key(i: u64) -> Vec<u8> {
    key(b'L', &[&i.to_be_bytes()])
}

fn case_key(case: &CaseId, id: &MessageId) -> Vec<u8> {
    key(b'C', &[case.as_str().as_bytes(), &[0], id.as_bytes()])
}

fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(
        b.get(b.len().checked_sub(8)?..)?.try_into().ok()?,
    ))
}

fn encode<T: Serialize>(t: &T) -> Vec<u8> {
    postcard::to_stdvec(t).unwrap_or_default()
}

fn decode_state(bytes: &[u8]) -> Result<MessageState> {
    postcard::from_bytes(bytes).map_err(|e| anyhow!("corrupt message state: {e}"))
}

/// The wall clock, as a protocol timestamp.
pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(d.as_millis() as u64)
}

impl Store {
    /// Opens the store in `data_dir`, recomputes the log's tree, checks it against the last
    /// signed checkpoint (refusing to run if storage is behind it or disagrees), and starts the
    /// writer. `signer` signs checkpoints.
    pub fn open(data_dir: &Path, signer: Arc<Signer>) -> Result<Self> {
        let engine: Arc<dyn Engine> = Arc::new(SledEngine::open(&data_dir.join("store"))?);
        Self::open_with(engine, data_dir, signer)
    }

    /// As [`Store::open`], with an explicit engine.
    pub fn open_with(
        engine: Arc<dyn Engine>,
        data_dir: &Path,
        signer: Arc<Signer>,
    ) -> Result<Self> {
        let tree = rebuild_tree(engine.as_ref())?;
        let cp_path = data_dir.join(checkpoint::FILE);
        let verifier = NoteVerifier::new(&log_origin(signer.node()), signer.key().public_key())
            .map_err(|e| anyhow!("checkpoint key: {e}"))?;
        let last = checkpoint::check_against(&cp_path, &tree, &verifier)?;
        let mut outbox_depth = BTreeMap::new();
        let mut next_outbox = HashMap::new();
        for (k, _) in engine.scan(b"O", b"", usize::MAX)? {
            let Some(sep) = k.iter().position(|&b| b == 0) else {
                bail!("corrupt outbox key");
            };
            let peer: NodeId = std::str::from_utf8(&k[1..sep])?
                .parse()
                .map_err(|e| anyhow!("corrupt outbox key: {e}"))?;
            let seq = be_u64(&k).ok_or_else(|| anyhow!("corrupt outbox key"))?;
            *outbox_depth.entry(peer.clone()).or_insert(0) += 1;
            let n = next_outbox.entry(peer).or_insert(0u64);
            *n = (*n).max(seq + 1);
        }
        let next_inbox = engine
            .last(b"I")?
            .and_then(|(k, _)| be_u64(&k))
            .map_or(0, |s| s + 1);
        let unread = engine.scan(b"U", b"", usize::MAX)?.len() as u64;
        let shared = Arc::new(Shared {
            tree: RwLock::new(tree),
            outbox_depth: RwLock::new(outbox_depth),
            last_checkpoint: RwLock::new(last),
            unread: std::sync::atomic::AtomicU64::new(unread),
        });
        let (tx, rx) = mpsc::channel(MAX_GROUP);
        let store = Store {
            tx,
            engine: engine.clone(),
            shared: shared.clone(),
            outbox_signal: Default::default(),
        };
        let writer = Writer {
            engine,
            shared,
            signer,
            cp_path,
            next_inbox,
            next_outbox,
            signals: store.outbox_signal.clone(),
        };
        std::thread::Builder::new()
            .name("liaison-store-writer".into())
            .spawn(move || writer.run(rx))
            .context("cannot start the store writer")?;
        Ok(store)
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Request) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| anyhow!("store writer has stopped"))?;
        rx.await.map_err(|_| anyhow!("store writer has stopped"))?
    }

    /// Logs a message this node originated, stores it and queues it for `next_hops`.
    /// Returns the log index once durable.
    pub async fn originate(
        &self,
        envelope: Envelope,
        facts: MessageFacts,
        next_hops: Vec<NodeId>,
    ) -> Result<u64> {
        self.ask(|reply| Request::Originate {
            envelope,
            facts,
            next_hops,
            reply,
        })
        .await
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
    ) -> Result<Accepted> {
        self.ask(|reply| Request::Accept {
            envelope,
            facts,
            from,
            deliver,
            next_hops,
            reply,
        })
        .await
    }

    /// Offers several verified messages from `from` in order (so inbox order is arrival
    /// order; a message already seen changes nothing), then `event` (the receipt for them,
    /// signed in advance) right behind them, so all usually share one group commit. `Ok` only
    /// if every message and the receipt entry are durable.
    pub async fn accept_many_with_receipt(
        &self,
        items: Vec<(Envelope, MessageFacts)>,
        from: &NodeId,
        deliver: bool,
        event: Event,
    ) -> Result<()> {
        let stopped = || anyhow!("store writer has stopped");
        let mut waits = Vec::with_capacity(items.len());
        for (envelope, facts) in items {
            let (reply, rx) = oneshot::channel();
            let req = Request::Accept {
                envelope,
                facts,
                from: from.clone(),
                deliver,
                next_hops: vec![],
                reply,
            };
            self.tx.send(req).await.map_err(|_| stopped())?;
            waits.push(rx);
        }
        let (reply, rrx) = oneshot::channel();
        self.tx
            .send(Request::Record { event, reply })
            .await
            .map_err(|_| stopped())?;
        for rx in waits {
            rx.await.map_err(|_| stopped())??;
        }
        rrx.await.map_err(|_| stopped())??;
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
    ) -> Result<u64> {
        self.ask(|reply| Request::HopAnswer {
            event,
            peer,
            outcome,
            proof,
            reply,
        })
        .await
    }

    /// Appends an event to the log (refusals, receipts sent, administrative acts).
    pub async fn record(&self, event: Event) -> Result<u64> {
        self.ask(|reply| Request::Record { event, reply }).await
    }

    /// Marks an inbox message as acknowledged by an officer; false if it is not in the inbox.
    pub async fn ack(&self, id: MessageId, by: String) -> Result<bool> {
        self.ask(|reply| Request::Ack { id, by, reply }).await
    }

    /// Signs a checkpoint of everything durable, if the log grew since the last one; returns
    /// the note.
    pub async fn checkpoint(&self) -> Result<Option<String>> {
        self.ask(|reply| Request::Checkpoint { reply }).await
    }

    /// Waits for every request sent so far to be committed, then stops the writer. Other
    /// handles fail from then on. The database closes when the last handle is dropped.
    pub async fn shutdown(&self) -> Result<()> {
        self.ask(|reply| Request::Shutdown { reply }).await
    }

    /// Stored envelope of a message (none if unknown or purged).
    pub fn envelope(&self, id: &MessageId) -> Result<Option<Envelope>> {
        match self.engine.get(&body_key(id))? {
            Some(b) => {
                Ok(Some(Envelope::decode(&b).map_err(|e| {
                    anyhow!("corrupt stored envelope {id}: {e}")
                })?))
            }
            None => Ok(None),
        }
    }

    /// Stored state of a message.
    pub fn state(&self, id: &MessageId) -> Result<Option<MessageState>> {
        self.engine
            .get(&state_key(id))?
            .map(|b| decode_state(&b))
            .transpose()
    }

    /// Up to `limit` outbox entries for `peer` with sequence ≥ `from`, in order.
    pub fn outbox(&self, peer: &NodeId, from: u64, limit: usize) -> Result<Vec<(u64, MessageId)>> {
        let prefix = outbox_prefix(peer);
        self.engine
            .scan(&prefix, &from.to_be_bytes(), limit)?
            .into_iter()
            .map(|(k, v)| {
                let seq = be_u64(&k).ok_or_else(|| anyhow!("corrupt outbox key"))?;
                let id: [u8; 32] = v.try_into().map_err(|_| anyhow!("corrupt outbox entry"))?;
                Ok((seq, MessageId(id)))
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
            .outbox_depth
            .read()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// Inbox entries with sequence ≥ `from`, up to `limit`.
    pub fn inbox(&self, from: u64, limit: usize) -> Result<Vec<InboxItem>> {
        let mut out = Vec::new();
        for (k, v) in self.engine.scan(b"I", &from.to_be_bytes(), limit)? {
            let seq = be_u64(&k).ok_or_else(|| anyhow!("corrupt inbox key"))?;
            let id: [u8; 32] = v.try_into().map_err(|_| anyhow!("corrupt inbox entry"))?;
            let state = self
                .state(&MessageId(id))?
                .ok_or_else(|| anyhow!("inbox entry without state"))?;
            out.push(InboxItem { seq, state });
        }
        Ok(out)
    }

    /// Inbox messages not yet acknowledged by an officer.
    pub fn unread(&self) -> u64 {
        self.shared
            .unread
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Messages of a case, by id.
    pub fn case_messages(&self, case: &CaseId) -> Result<Vec<MessageId>> {
        let mut prefix = vec![b'C'];
        prefix.extend_from_slice(case.as_str().as_bytes());
        prefix.push(0);
        self.engine
            .scan(&prefix, b"", usize::MAX)?
            .into_iter()
            .map(|(k, _)| {
                let id: [u8; 32] = k[k.len() - 32..]
                    .try_into()
                    .map_err(|_| anyhow!("corrupt case key"))?;
                Ok(MessageId(id))
            })
            .collect()
    }

    /// One log entry.
    pub fn log_entry(&self, index: u64) -> Result<Option<LogEntry>> {
        self.engine
            .get(&leaf_key(index))?
            .map(|b| LogEntry::decode(&b).map_err(|e| anyhow!("corrupt log leaf {index}: {e}")))
            .transpose()
    }

    /// Number of durable log entries.
    pub fn log_size(&self) -> u64 {
        self.shared.tree.read().map(|t| t.len()).unwrap_or(0)
    }

    /// Current tree root over the durable log.
    pub fn log_root(&self) -> liaison_protocol::merkle::Hash {
        self.shared
            .tree
            .read()
            .map(|t| t.root())
            .unwrap_or(liaison_protocol::merkle::EMPTY_ROOT)
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
        self.engine.size_on_disk()
    }
}

/// Reads every leaf in order, checks indices are dense from 0, and builds the tree.
pub fn rebuild_tree(engine: &dyn Engine) -> Result<MerkleTree> {
    let mut tree = MerkleTree::new();
    let mut from = 0u64;
    loop {
        let page = engine.scan(b"L", &from.to_be_bytes(), 65_536)?;
        if page.is_empty() {
            break;
        }
        for (k, v) in page {
            let i = be_u64(&k).ok_or_else(|| anyhow!("corrupt log key"))?;
            if i != tree.len() {
                bail!(
                    "log is not dense: expected entry {} but found {i}; the store was altered",
                    tree.len()
                );
            }
            tree.push(&v);
            from = i + 1;
        }
    }
    Ok(tree)
}

/// The single writer. Owns the sequence counters; everything else is in the engine.
struct Writer {
    engine: Arc<dyn Engine>,
    shared: Arc<Shared>,
    signer: Arc<Signer>,
    cp_path: std::path::PathBuf,
    next_inbox: u64,
    next_outbox: HashMap<NodeId, u64>,
    signals: Arc<RwLock<HashMap<NodeId, watch::Sender<u64>>>>,
}

/// Answers a request that will not be carried out.
fn fail(r: Request, why: &str) {
    let e = || anyhow!("{why}");
    match r {
        Request::Originate { reply, .. } => drop(reply.send(Err(e()))),
        Request::Accept { reply, .. } => drop(reply.send(Err(e()))),
        Request::HopAnswer { reply, .. } => drop(reply.send(Err(e()))),
        Request::Record { reply, .. } => drop(reply.send(Err(e()))),
        Request::Ack { reply, .. } => drop(reply.send(Err(e()))),
        Request::Checkpoint { reply } => drop(reply.send(Err(e()))),
        Request::Shutdown { reply } => drop(reply.send(Err(e()))),
    }
}

/// Replies to send once the batch is durable.
enum Reply {
    Index(oneshot::Sender<Result<u64>>, u64),
    Accepted(oneshot::Sender<Result<Accepted>>, Accepted),
    Bool(oneshot::Sender<Result<bool>>, bool),
    Checkpoint(oneshot::Sender<Result<Option<String>>>),
}

/// One group commit in the making: the batch plus an overlay of what it changes, so
/// requests later in the same group see earlier ones (a duplicate within one group is
/// still a duplicate).
struct Group<'a> {
    w: &'a mut Writer,
    batch: WriteBatch,
    leaves: Vec<Vec<u8>>,
    base: u64,
    states: HashMap<MessageId, Option<MessageState>>,
    outbox_delta: BTreeMap<NodeId, i64>,
    queued: HashSet<NodeId>,
    unread_delta: i64,
    now: Timestamp,
}

impl Group<'_> {
    fn append(&mut self, event: Event) -> u64 {
        let index = self.base + self.leaves.len() as u64;
        let leaf = LogEntry {
            at: self.now,
            event,
        }
        .encode();
        self.batch.put(leaf_key(index), leaf.clone());
        self.leaves.push(leaf);
        index
    }

    fn state(&mut self, id: &MessageId) -> Result<Option<MessageState>> {
        if let Some(s) = self.states.get(id) {
            return Ok(s.clone());
        }
        let s = self
            .w
            .engine
            .get(&state_key(id))?
            .map(|b| decode_state(&b))
            .transpose()?;
        self.states.insert(*id, s.clone());
        Ok(s)
    }

    fn put_state(&mut self, s: MessageState) {
        self.batch.put(state_key(&s.facts.id), encode(&s));
        self.states.insert(s.facts.id, Some(s));
    }

    fn enqueue(&mut self, peer: &NodeId, id: &MessageId) -> u64 {
        let seq = self.w.next_outbox.entry(peer.clone()).or_insert(0);
        let s = *seq;
        *seq += 1;
        self.batch.put(outbox_key(peer, s), id.as_bytes().to_vec());
        *self.outbox_delta.entry(peer.clone()).or_insert(0) += 1;
        self.queued.insert(peer.clone());
        s
    }

    #[allow(clippy::too_many_arguments)] // one call site each; a struct would only rename them
    fn store_new(
        &mut self,
        envelope: &Envelope,
        facts: MessageFacts,
        role: Role,
        from: Option<NodeId>,
        leaf: u64,
        next_hops: &[NodeId],
        deliver: bool,
    ) {
        let id = facts.id;
        if role == Role::Relayed {
            // Stored as it will be forwarded: the route so far plus this node, so a peer
            // session sends the bytes as they are.
            let mut env = envelope.clone();
            env.route.push(self.w.signer.node().clone());
            self.batch.put(body_key(&id), env.encode());
        } else {
            self.batch.put(body_key(&id), envelope.encode());
        }
        if let Some(case) = &facts.case {
            self.batch.put(case_key(case, &id), Vec::new());
        }
        let pending = next_hops
            .iter()
            .map(|p| (p.clone(), self.enqueue(p, &id)))
            .collect();
        let inbox_seq = deliver.then(|| {
            let s = self.w.next_inbox;
            self.w.next_inbox += 1;
            self.batch
                .put(key(b'I', &[&s.to_be_bytes()]), id.as_bytes().to_vec());
            self.batch
                .put(key(b'U', &[&s.to_be_bytes()]), id.as_bytes().to_vec());
            self.unread_delta += 1;
            s
        });
        self.put_state(MessageState {
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
        });
    }

    fn apply(&mut self, req: Request, replies: &mut Vec<Reply>) -> Result<()> {
        match req {
            Request::Originate {
                envelope,
                facts,
                next_hops,
                reply,
            } => {
                if self.state(&facts.id)?.is_some() {
                    let _ = reply.send(Err(anyhow!("message {} already exists", facts.id)));
                    return Ok(());
                }
                let leaf = self.append(Event::Sent {
                    msg: facts.clone(),
                    to: next_hops.clone(),
                });
                self.store_new(
                    &envelope,
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
                next_hops,
                reply,
            } => {
                if self.state(&facts.id)?.is_some() {
                    replies.push(Reply::Accepted(reply, Accepted::Duplicate));
                    return Ok(());
                }
                let event = if deliver && next_hops.is_empty() {
                    Event::Received {
                        msg: facts.clone(),
                        from: from.clone(),
                        route: envelope.route.clone(),
                    }
                } else {
                    Event::Relayed {
                        msg: facts.clone(),
                        from: from.clone(),
                        to: next_hops.clone(),
                    }
                };
                let leaf = self.append(event);
                let role = if deliver {
                    Role::Delivered
                } else {
                    Role::Relayed
                };
                self.store_new(
                    &envelope,
                    facts,
                    role,
                    Some(from),
                    leaf,
                    &next_hops,
                    deliver,
                );
                replies.push(Reply::Accepted(reply, Accepted::New(leaf)));
            }
            Request::HopAnswer {
                event,
                peer,
                outcome,
                proof,
                reply,
            } => {
                let leaf = self.append(event);
                for (id, result) in outcome {
                    let Some(mut s) = self.state(&id)? else {
                        continue;
                    };
                    let before = s.pending.len();
                    let mut removed = Vec::new();
                    s.pending.retain(|(p, seq)| {
                        if *p == peer {
                            removed.push(*seq);
                            false
                        } else {
                            true
                        }
                    });
                    for seq in removed {
                        self.batch.delete(outbox_key(&peer, seq));
                    }
                    if s.pending.len() != before {
                        *self.outbox_delta.entry(peer.clone()).or_insert(0) -=
                            (before - s.pending.len()) as i64;
                    }
                    s.leaves.push(leaf);
                    s.hops.push(HopRecord {
                        peer: peer.clone(),
                        outcome: result,
                        at: self.now,
                        leaf,
                        proof,
                    });
                    self.put_state(s);
                }
                replies.push(Reply::Index(reply, leaf));
            }
            Request::Record { event, reply } => {
                // A refusal joins the refused message's trail. A receipt we issue is not added
                // to every covered message's state: that would rewrite each state once more per
                // message; the receipt is in the log, found by its message ids.
                let ids = match &event {
                    Event::Refused { id: Some(id), .. } => vec![*id],
                    _ => vec![],
                };
                let leaf = self.append(event);
                for id in ids {
                    if let Some(mut s) = self.state(&id)? {
                        s.leaves.push(leaf);
                        self.put_state(s);
                    }
                }
                replies.push(Reply::Index(reply, leaf));
            }
            Request::Ack { id, by, reply } => match self.state(&id)? {
                Some(mut s) if s.inbox_seq.is_some() => {
                    if !s.acked {
                        if let Some(seq) = s.inbox_seq {
                            self.batch.delete(key(b'U', &[&seq.to_be_bytes()]));
                            self.unread_delta -= 1;
                        }
                        let leaf = self.append(Event::Acknowledged { id, by });
                        s.acked = true;
                        s.leaves.push(leaf);
                        self.put_state(s);
                    }
                    replies.push(Reply::Bool(reply, true));
                }
                _ => replies.push(Reply::Bool(reply, false)),
            },
            Request::Checkpoint { reply } => replies.push(Reply::Checkpoint(reply)),
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
            pending.push(first);
            while pending.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(r) => pending.push(r),
                    Err(_) => break,
                }
            }
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
                        other => fail(other, "the store is shutting down"),
                    }
                }
            }
            self.commit_group(std::mem::take(&mut pending));
            if stop.is_some() {
                break;
            }
        }
        rx.close();
        while let Ok(r) = rx.try_recv() {
            fail(r, "the store has shut down");
        }
        drop(self);
        if let Some(reply) = stop {
            let _ = reply.send(Ok(()));
        }
        tracing::debug!("store writer stopped");
    }

    fn commit_group(&mut self, requests: Vec<Request>) {
        let base = self.shared.tree.read().map(|t| t.len()).unwrap_or(0);
        let mut replies = Vec::with_capacity(requests.len());
        let mut group = Group {
            w: self,
            batch: WriteBatch::default(),
            leaves: Vec::new(),
            base,
            states: HashMap::new(),
            outbox_delta: BTreeMap::new(),
            queued: HashSet::new(),
            unread_delta: 0,
            now: now(),
        };
        let mut failure = None;
        for req in requests {
            if let Err(e) = group.apply(req, &mut replies) {
                failure = Some(e);
                break;
            }
        }
        let Group {
            batch,
            leaves,
            outbox_delta,
            queued,
            unread_delta,
            ..
        } = group;
        let result = match failure {
            Some(e) => Err(e),
            None if batch.is_empty() => Ok(()),
            None => self.engine.commit(batch),
        };
        if let Err(e) = result {
            // Nothing of this group is durable: fail every request in it. The in-memory state
            // (tree, counters) was not advanced for the leaves, so the next group starts clean.
            tracing::error!(error = %e, "store commit failed");
            let msg = format!("store commit failed: {e:#}");
            for r in replies {
                match r {
                    Reply::Index(tx, _) => drop(tx.send(Err(anyhow!(msg.clone())))),
                    Reply::Accepted(tx, _) => drop(tx.send(Err(anyhow!(msg.clone())))),
                    Reply::Bool(tx, _) => drop(tx.send(Err(anyhow!(msg.clone())))),
                    Reply::Checkpoint(tx) => drop(tx.send(Err(anyhow!(msg.clone())))),
                }
            }
            return;
        }
        if let Ok(mut tree) = self.shared.tree.write() {
            for leaf in &leaves {
                tree.push(leaf);
            }
        }
        if unread_delta >= 0 {
            self.shared
                .unread
                .fetch_add(unread_delta as u64, std::sync::atomic::Ordering::Relaxed);
        } else {
            self.shared.unread.fetch_sub(
                unread_delta.unsigned_abs(),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        if let Ok(mut depth) = self.shared.outbox_depth.write() {
            for (peer, d) in outbox_delta {
                let e = depth.entry(peer).or_insert(0);
                *e = (*e as i64 + d).max(0) as u64;
            }
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
            }
        }
    }

    /// Signs a checkpoint over the durable tree (everything in it has passed the barrier),
    /// if it grew since the last one, and writes it durably before returning it.
    fn sign_checkpoint(&mut self) -> Result<Option<String>> {
        let (size, root) = {
            let tree = self
                .shared
                .tree
                .read()
                .map_err(|_| anyhow!("tree lock poisoned"))?;
            (tree.len(), tree.root())
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
        let cp = Checkpoint::new(&origin, size, root).map_err(|e| anyhow!("checkpoint: {e}"))?;
        let signed = SignedCheckpoint::sign(cp, &origin, self.signer.key())
            .map_err(|e| anyhow!("checkpoint: {e}"))?;
        let note = signed.encode();
        checkpoint::write(&self.cp_path, &note)?;
        if let Ok(mut last) = self.shared.last_checkpoint.write() {
            *last = Some(note.clone());
        }
        Ok(Some(note))
    }
}
