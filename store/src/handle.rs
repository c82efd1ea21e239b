//! The store's handle: opening a data dir's store, and everything readers and callers do
//! with it (writes go to the writer, [`crate::writer`]).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use liaison_protocol::checkpoint::{log_origin, NoteVerifier};
use liaison_protocol::log::{Event, LogEntry, MessageFacts};
use liaison_protocol::merkle::{leaf_hash, Hash, RootBuilder};
use liaison_protocol::{CaseId, Envelope, MessageId, NodeId, Signer, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};

use crate::alarm::{AlarmKind, Alarms};
use crate::index::{Index, FRONTIERS, KEPT_PROOFS};
use crate::journal::{self, BatchBuf, FileMedium, Loc, Medium, ReplayEnd};
use crate::lock::DataDirLock;
use crate::scrub::ScrubReport;
use crate::writer::{Request, Writer, DEFAULT_LINGER, MAX_GROUP};
use crate::{
    check_envelope, checkpoint, decode_state, now, Accepted, InboxItem, MessageState, Offer,
    StoreError, StoreResult, Stored,
};

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

/// Shared state: the journal and the indexes over it.
pub(crate) struct Shared {
    pub(crate) medium: Arc<dyn Medium>,
    pub(crate) index: RwLock<Index>,
    pub(crate) last_checkpoint: RwLock<Option<String>>,
    /// Announced requests the writer has not received yet.
    pub(crate) announced: Arc<AtomicUsize>,
    /// Longest wait for them, µs.
    pub(crate) linger_us: AtomicU64,
    /// Group commits made since the store opened.
    pub(crate) commits: AtomicU64,
    /// Consistency proofs already computed, by (old size, new size). Held while one is
    /// computed, so witnesses offered the same checkpoint wait for it instead of each reading
    /// the same leaves again.
    pub(crate) proofs: Mutex<HashMap<(u64, u64), Vec<Hash>>>,
    /// Where damage and write failures are reported.
    pub(crate) alarms: Arc<Alarms>,
    /// This node (the route a relayed message is stored with ends with it).
    pub(crate) node: NodeId,
    /// Held while a scrub runs: one at a time.
    pub(crate) scrubbing: Mutex<()>,
    /// Purges (which overwrite bodies in place) hold it shared; a backup exclusively.
    pub(crate) purge_gate: tokio::sync::RwLock<()>,
    /// The last finished scrub's report.
    pub(crate) last_scrub: Mutex<Option<ScrubReport>>,
    /// Whether the start-up found no checkpoint files beside a non-empty log (accepted).
    pub(crate) opened_without_checkpoints: bool,
    /// What the metrics count.
    pub(crate) counters: crate::metrics::Counters,
}

impl Shared {
    pub(crate) fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Current state of message `n` (hot copy, or read from the journal).
    pub(crate) fn state_of(&self, n: u32) -> StoreResult<Option<MessageState>> {
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
    pub(crate) fn mark_damaged(&self, n: u32, id: &MessageId, why: &str) {
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

    pub(crate) fn number(&self, id: &MessageId) -> Option<u32> {
        self.index().number(id)
    }
}

/// A handle on the store: cheap to clone, used by every task of the node.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Request>,
    pub(crate) shared: Arc<Shared>,
    /// Bumped after every commit that queued outbox entries, per peer.
    outbox_signal: Arc<RwLock<HashMap<NodeId, watch::Sender<u64>>>>,
    /// The size of the last checkpoint signed, sent after each one.
    checkpoint_signal: Arc<watch::Sender<u64>>,
}

/// Zeroes the bodies of purged messages that still hold bytes: a purge writes its log entries
/// first, then overwrites the bodies; a crash in between leaves this to the next start.
fn finish_purges(medium: &dyn Medium, bodies: &[Loc]) -> StoreResult<()> {
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
            .map_err(|e| StoreError::io("cannot finish an interrupted purge", e))?;
    }
    Ok(())
}

/// Keeps the bytes a replay is about to cut off in a side file beside the journal, so an
/// operator can still look at them (a crash's torn write normally; evidence if not).
fn save_torn(medium: &dyn Medium, dir: &Path, end: ReplayEnd) -> StoreResult<()> {
    let mut bytes = vec![0u8; usize::try_from(end.torn).unwrap_or(usize::MAX)];
    medium.read_at(&mut bytes, end.valid)?;
    let path = dir.join(format!("{}.torn-at-{}", journal::FILE, end.valid));
    crate::files::write_durably(&path, &bytes)?;
    tracing::warn!(file = %path.display(), "the cut-off bytes are kept here");
    Ok(())
}

/// Opens the journal of a store in `data_dir`, refusing a directory from the sled-based
/// development builds (there is no migration: nothing was deployed on it).
fn open_medium(data_dir: &Path) -> StoreResult<FileMedium> {
    let dir = data_dir.join("store");
    if dir.join("db").exists() && !dir.join(journal::FILE).exists() {
        return Err(StoreError::Refused(format!(
            "{} holds a store written by an earlier development build (sled); this build keeps \
             its log in {}: start from an empty data dir",
            dir.display(),
            journal::FILE
        )));
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
    /// Ed25519 keys of this node's earlier certificates, which the caller checked chain to a
    /// trusted CA: after its certificate was re-issued with a new key (a rotation, a CA
    /// rollover), the newest checkpoint is signed by one of them. Start-up then accepts it and
    /// signs the same log again with the current key at once.
    pub earlier_keys: Vec<[u8; 32]>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            alarms: Arc::new(Alarms::new()),
            lock: None,
            accept_missing_checkpoints: false,
            medium: None,
            earlier_keys: Vec::new(),
        }
    }
}

impl Store {
    /// Opens the store in `data_dir`: takes the data dir's lock, replays the journal (cutting
    /// off an incomplete last batch, which no one was told about), recomputes the log's root,
    /// checks it against the newest signed checkpoints (refusing to run if storage is behind
    /// or disagrees), and starts the writer. `signer` signs checkpoints.
    pub fn open(data_dir: &Path, signer: Arc<Signer>) -> StoreResult<Self> {
        Self::open_with_options(data_dir, signer, StoreOptions::default())
    }

    /// As [`Store::open`], on an explicit medium.
    pub fn open_with(
        medium: Arc<dyn Medium>,
        data_dir: &Path,
        signer: Arc<Signer>,
    ) -> StoreResult<Self> {
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
    ) -> StoreResult<Self> {
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
        let origin = log_origin(signer.node());
        let current = signer.key().public_key();
        let verifiers = std::iter::once(current)
            .chain(opts.earlier_keys.iter().copied().filter(|k| *k != current))
            .map(|k| NoteVerifier::new(&origin, k))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Checkpoint(format!("checkpoint key: {e}")))?;
        let checked = checkpoint::check_rollback(
            data_dir,
            index.root.len(),
            &roots,
            &verifiers,
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
        let (found, by_earlier_key) = (checked.found, checked.by_earlier_key);
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
            medium.truncate(end.valid).map_err(|e| {
                StoreError::io("cannot cut off the incomplete end of the journal", e)
            })?;
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
            purge_gate: tokio::sync::RwLock::new(()),
            last_scrub: Mutex::new(None),
            opened_without_checkpoints: accepted_missing,
            counters: Default::default(),
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
            writer.sign_checkpoint().map_err(|e| {
                StoreError::Checkpoint(format!("cannot sign the first checkpoint: {e}"))
            })?;
        } else if by_earlier_key {
            // The newest checkpoint is signed by a key this node no longer has: sign the log
            // again with the current one, so that peers witnessing it, and this node's next
            // start (when the earlier certificate may no longer be trusted), find a checkpoint
            // of the current key.
            tracing::info!(
                "the newest checkpoint is signed by an earlier key of this node; signing it again with the current key"
            );
            writer.sign_checkpoint_again().map_err(|e| {
                StoreError::Checkpoint(format!(
                    "cannot sign the checkpoint again with the current key: {e}"
                ))
            })?;
        }
        std::thread::Builder::new()
            .name("liaison-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::io("cannot start the store writer", e))?;
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
        rules: &[crate::RetentionRule],
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
        let _no_backup = self.shared.purge_gate.read().await;
        self.ask(|reply| Request::Purge { ids, reply }).await
    }

    /// Writes a consistent copy of the data dir (`data_dir`, the store's) to `sink` as a tar
    /// stream while the node runs, and returns what it holds (see [`crate::backup`]). Writes
    /// go on meanwhile; purges wait until it ends.
    pub async fn backup<W: std::io::Write + Send + 'static>(
        &self,
        data_dir: std::path::PathBuf,
        sink: W,
    ) -> StoreResult<crate::backup::Manifest> {
        let _no_purge = self.shared.purge_gate.write().await;
        let point = self.ask(|reply| Request::Backup { reply }).await?;
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            crate::backup::write(
                &data_dir,
                shared.node.as_str(),
                shared.medium.as_ref(),
                point,
                sink,
            )
        })
        .await
        .map_err(|e| StoreError::io("backup", std::io::Error::other(e.to_string())))?
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
        idx.owed
            .outbox(peer, from, limit)
            .into_iter()
            .map(|(seq, n)| {
                let id = idx.ids.get(n as usize).ok_or_else(|| {
                    StoreError::Corrupt(format!("outbox entry {seq} of {peer} without a message"))
                })?;
                Ok((seq, *id))
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
            .owed
            .depths()
            .map(|(p, len, _)| (p.clone(), len as u64))
            .collect()
    }

    /// Messages and bytes (of their envelopes) in `peer`'s outbox.
    pub fn outbox_load(&self, peer: &NodeId) -> (u64, u64) {
        let (messages, bytes) = self.shared.index().owed.depth(peer);
        (messages as u64, bytes)
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

    /// The nodes that sent replies to message `id` held here (each once, in the order the
    /// replies were logged): what tells a request answered, and by whom.
    pub fn repliers(&self, id: &MessageId) -> StoreResult<Vec<NodeId>> {
        let numbers = self
            .shared
            .index()
            .replies
            .get(id)
            .cloned()
            .unwrap_or_default();
        let mut out: Vec<NodeId> = Vec::new();
        for n in numbers {
            if let Some(s) = self.shared.state_of(n)? {
                if !out.contains(&s.facts.originator) {
                    out.push(s.facts.originator);
                }
            }
        }
        Ok(out)
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

    /// The counters of the node's metrics, now.
    pub fn metrics(&self) -> crate::metrics::MetricsSnapshot {
        self.shared.counters.snapshot()
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
