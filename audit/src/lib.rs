//! The auditor's offline tools over a copy of a node's data dir: full verification of the
//! log, inclusion proofs for a message and their check, and consistency between two
//! checkpoints. The only trust input is the network CA certificates; the node's own
//! certificates are in the data dir ([`checkpoint::CERTS_DIR`]) and must chain to one of them.
//! Formats: `docs/AUDIT.md`.

#![warn(unreachable_pub)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use liaison_store::StoreError;

/// What an audit could not do: the data dir, a proof file or a checkpoint is not what it must
/// be (what `verify` reports as problems is in its report, not here).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The input is not what it must be; the message says what and where.
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read.
    #[error("{what}: {source}")]
    Io {
        /// What was being read.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The journal could not be read.
    #[error("{what}: {source}")]
    Store {
        /// Which journal.
        what: String,
        /// The error.
        source: StoreError,
    },
}

impl AuditError {
    /// Stable reason code.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "audit-failed",
            Self::Io { .. } => "io-error",
            Self::Store { source, .. } => source.reason_code(),
        }
    }
}

impl From<StoreError> for AuditError {
    fn from(source: StoreError) -> Self {
        Self::Store {
            what: "the journal".into(),
            source,
        }
    }
}

/// An [`AuditError::Invalid`] from a format string.
macro_rules! fail {
    ($($t:tt)*) => {
        AuditError::Invalid(format!($($t)*))
    };
}

/// The audit's results.
pub type Result<T, E = AuditError> = std::result::Result<T, E>;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use liaison_protocol::checkpoint::{log_origin, open_checkpoint, NoteVerifier, SignedCheckpoint};
use liaison_protocol::log::{Event, LogEntry};
use liaison_protocol::merkle::{leaf_hash, verify_inclusion, Hash, MerkleTree, RootBuilder};
use liaison_protocol::{CaseId, Envelope, MessageId, NodeId, Timestamp, TrustStore};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use liaison_store::journal::{self, FileMedium, Medium, Record};
use liaison_store::{checkpoint, MessageState};

/// Format name written into every inclusion proof file.
pub const PROOF_FORMAT: &str = "liaison-inclusion-proof/1";

/// The `format` of a consistency proof file (`liaison audit consistency --out`).
pub const CONSISTENCY_FORMAT: &str = "liaison-consistency-proof/1";

/// Something that does not hold, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The log entry it concerns, if one.
    pub leaf: Option<u64>,
    /// What is wrong, in words an auditor can act on.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.leaf {
            Some(i) => write!(f, "entry {i}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// What `audit verify` found.
#[derive(Clone, Debug, Default)]
pub struct AuditReport {
    /// Whose log (from its certificates).
    pub node: Option<NodeId>,
    /// Log entries.
    pub entries: u64,
    /// Entries by event type.
    pub by_type: BTreeMap<&'static str, u64>,
    /// Root of the whole log.
    pub root: Hash,
    /// Signed checkpoints checked (history and last).
    pub checkpoints: u64,
    /// Size covered by the newest checkpoint.
    pub checkpoint_size: u64,
    /// Cosignatures that verified with a known key.
    pub cosignatures: u64,
    /// Signature lines by keys this audit has no certificate for (not checked).
    pub unknown_signatures: u64,
    /// Stored messages whose signature and certificate chain verified.
    pub messages_verified: u64,
    /// Signed receipts and refusals (sent and received) kept beside their log entries that
    /// verified and are the ones the entries name.
    pub answers_verified: u64,
    /// Messages whose body was purged (their log entries remain).
    pub purged: u64,
    /// Bytes of an incomplete last batch (a crash's torn write), not part of the log.
    pub torn_bytes: u64,
    /// Log entries after the newest checkpoint signed by the node's key (entries
    /// `checkpoint_size..entries`): nothing the node signed covers them.
    pub uncovered_entries: u64,
    /// What [`Uncovered::Allow`] accepted instead of failing: uncovered entries, and
    /// checkpoint files as a running or crashed node can leave them. Always empty under
    /// [`Uncovered::Refuse`], where each of these is a problem.
    pub warnings: Vec<String>,
    /// Everything that does not hold: checkpoint files first, then what concerns an entry,
    /// in log order, then the rest.
    pub problems: Vec<Problem>,
}

impl AuditReport {
    /// Whether everything holds (under the [`Uncovered`] policy the audit ran with).
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What [`verify`] makes of a log that the node's signed checkpoints do not wholly cover.
///
/// A node signs a checkpoint every interval and when it stops, appending it to its history
/// before it replaces `checkpoint.note`. So the data dir of a stopped node is covered to its
/// last entry and its two checkpoint files agree, while a copy of a running node normally lags
/// by at most one interval, and a crash can also stop the node between the two writes.
/// Entries no checkpoint covers are the ones an attacker can add, edit or remove without a
/// trace in anything the node signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uncovered {
    /// Each of these is a problem (the default for an audit: a stopped node's data dir).
    Refuse,
    /// Each is a warning in [`AuditReport::warnings`]: for a copy of a running node taken
    /// between checkpoints, or a data dir a crash left behind.
    Allow,
}

/// The certificates of witnesses kept in the data dir that chain to a trusted CA, as
/// verifiers of their cosignatures (under their own log origin); others are skipped.
fn witness_keys(data_dir: &Path, trust: &TrustStore) -> Vec<NoteVerifier> {
    let dir = data_dir.join(checkpoint::CERTS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return vec![];
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("witness-"))
        })
        .filter_map(|p| liaison_certs::load::read_cert(&p).ok())
        .filter_map(|der| trust.certify(&der).ok())
        .filter_map(|c| NoteVerifier::new(&log_origin(&c.node), c.public_key).ok())
        .collect()
}

/// The node's certificates kept in the data dir that chain to a trusted CA, as checkpoint
/// verifiers. Each must chain; a node of several networks (a gateway) keeps the certificate
/// of each of its identities, and those of the identity its checkpoints name are the log's.
fn node_keys(
    data_dir: &Path,
    trust: &TrustStore,
) -> Result<(NodeId, Vec<NoteVerifier>, Vec<Vec<u8>>)> {
    let dir = data_dir.join(checkpoint::CERTS_DIR);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| AuditError::Io {
            what: format!(
                "no node certificates in {} (a node writes them there when it starts)",
                dir.display()
            ),
            source: e,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("node-"))
        })
        .collect();
    files.sort();
    let mut certified = Vec::with_capacity(files.len());
    for path in files {
        let der =
            liaison_certs::load::read_cert(&path).map_err(|e| fail!("{}: {e}", path.display()))?;
        let c = trust.certify(&der).map_err(|e| {
            fail!(
                "{}: does not chain to a given CA: {e} ({})",
                path.display(),
                e.reason_code()
            )
        })?;
        certified.push((path, der, c));
    }
    let Some((first_path, _, first)) = certified.first() else {
        return Err(fail!("no node certificate (*.pem) in {}", dir.display()));
    };
    let node = if certified.iter().all(|(_, _, c)| c.node == first.node) {
        first.node.clone()
    } else {
        // Several identities: the log is the one its checkpoints name.
        match log_node(data_dir) {
            Some(n) if certified.iter().any(|(_, _, c)| c.node == n) => n,
            _ => {
                let other = certified
                    .iter()
                    .find(|(_, _, c)| c.node != first.node)
                    .map_or_else(String::new, |(p, _, c)| {
                        format!("{} names {}", p.display(), c.node)
                    });
                return Err(fail!(
                    "{}: names {}, {other}, and no checkpoint says whose log this is",
                    first_path.display(),
                    first.node
                ));
            }
        }
    };
    let mut verifiers = Vec::new();
    let mut ders = Vec::new();
    for (_, der, c) in certified.into_iter().filter(|(_, _, c)| c.node == node) {
        verifiers
            .push(NoteVerifier::new(&log_origin(&c.node), c.public_key).map_err(|e| fail!("{e}"))?);
        ders.push(der);
    }
    Ok((node, verifiers, ders))
}

/// The node whose log the data dir holds, as the origin of its newest checkpoint states it
/// (unverified: only the keys of that node's certificates then open the checkpoints).
fn log_node(data_dir: &Path) -> Option<NodeId> {
    let note = match last_note(data_dir) {
        Ok(Some(note)) => note,
        _ => checkpoint::history(data_dir).ok()?.pop()?,
    };
    note.lines()
        .next()?
        .strip_prefix(liaison_protocol::checkpoint::ORIGIN_PREFIX)?
        .parse()
        .ok()
}

/// Opens a checkpoint of `node`'s own log: signed by one of its `keys` (and only those are
/// given), with origin `liaison/<node>`. The error reads after "<which checkpoint> ".
fn open_own(note: &str, keys: &[NoteVerifier], node: &NodeId) -> Result<SignedCheckpoint> {
    let cp = open_checkpoint(note, keys).map_err(|e| {
        fail!(
            "does not verify with {node}'s key: {e} ({})",
            e.reason_code()
        )
    })?;
    if cp.checkpoint().origin() != log_origin(node) {
        return Err(fail!(
            "is the checkpoint of {}, not of {}",
            cp.checkpoint().origin(),
            log_origin(node)
        ));
    }
    Ok(cp)
}

/// `checkpoint.note`, if the data dir has one.
fn last_note(data_dir: &Path) -> Result<Option<String>> {
    let last = data_dir.join(checkpoint::FILE);
    match std::fs::read_to_string(&last) {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AuditError::Io {
            what: format!("cannot read {}", last.display()),
            source: e,
        }),
    }
}

/// "1 log entry" or "`n` log entries".
fn log_entries(n: u64) -> String {
    if n == 1 {
        "1 log entry".to_owned()
    } else {
        format!("{n} log entries")
    }
}

/// Verifies a copy of a node's data dir (the node stopped, or a copy taken at any moment):
/// recomputes the Merkle tree from every leaf and checks each leaf states its own position;
/// checks every checkpoint's signature and that the log matches it; re-verifies every
/// stored message's signature and certificate chain and that it is the message its log
/// entries name; and that every message the log names is stored or was purged.
/// Checks that checkpoints signed by the node cover the whole log and that its two
/// checkpoint files agree with the order the node writes them; `uncovered` says whether what
/// a running or crashed node leaves fails the audit. `progress(done, total)` is called with
/// journal bytes as it goes.
pub fn verify(
    data_dir: &Path,
    trust: &TrustStore,
    uncovered: Uncovered,
    mut progress: impl FnMut(&'static str, u64, u64),
) -> Result<AuditReport> {
    let mut r = AuditReport::default();
    let (node, verifiers, _) = node_keys(data_dir, trust)?;
    let origin = log_origin(&node);
    r.node = Some(node);
    // Checkpoints first: their sizes say where the replay must take roots.
    let mut all_keys = verifiers.clone();
    all_keys.extend(witness_keys(data_dir, trust));
    // Every checkpoint: the history, then the last one if the history lacks it. The last
    // one is read first: the node writes the history first, so on a running node's data
    // dir the history read afterwards holds it (or a newer one), never an older one.
    let last = last_note(data_dir)?;
    let history = checkpoint::history(data_dir)?;
    let mut notes: Vec<(String, &str)> = history
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("{} #{}", checkpoint::HISTORY, i + 1), n.as_str()))
        .collect();
    if let Some(n) = last.as_deref().filter(|n| !history.iter().any(|h| h == n)) {
        notes.push((checkpoint::FILE.to_owned(), n));
    }
    let mut signed: Vec<(String, SignedCheckpoint)> = Vec::new();
    // The sizes of the newest checkpoint in the history and of the last one, if they open.
    let (mut history_size, mut last_size) = (None::<u64>, None::<u64>);
    for (name, note) in notes {
        match open_checkpoint(note, &all_keys) {
            Ok(cp) if !verifiers.iter().any(|v| cp.is_signed_by(v)) => r.problems.push(Problem {
                leaf: None,
                what: format!("{name} is not signed by the node's key"),
            }),
            Ok(cp) if cp.checkpoint().origin() != origin => r.problems.push(Problem {
                leaf: None,
                what: format!(
                    "{name} is the checkpoint of {}, not of {origin}",
                    cp.checkpoint().origin()
                ),
            }),
            Ok(cp) => {
                let size = cp.checkpoint().size();
                if last.as_deref() == Some(note) {
                    last_size = Some(size);
                }
                if name != checkpoint::FILE {
                    history_size = Some(history_size.map_or(size, |h| h.max(size)));
                }
                signed.push((name, cp));
            }
            Err(e) => r.problems.push(Problem {
                leaf: None,
                what: format!("{name} does not verify: {e} ({})", e.reason_code()),
            }),
        }
    }
    let sizes: HashSet<u64> = signed.iter().map(|(_, c)| c.checkpoint().size()).collect();

    let dir = data_dir.join("store");
    let medium = FileMedium::open_read_only(&dir)?;
    let total = medium.size();
    let mut tree = ParallelRoot::new(&sizes);
    // Message id → the first entry about it (sent/received/relayed); purged ids.
    let mut logged: HashMap<MessageId, u64> = HashMap::new();
    let mut purged: HashSet<MessageId> = HashSet::new();
    // Stored message id → the first entry its state names.
    let mut stored: Vec<(MessageId, Option<u64>)> = Vec::new();
    // Stored messages whose state says their body was purged.
    let mut marked_purged: Vec<(MessageId, Option<u64>)> = Vec::new();
    let mut seen_purged: HashSet<MessageId> = HashSet::new();
    // The first position whose leaf states another index.
    let mut first_misplaced: Option<u64> = None;
    let mut problems = Vec::new();
    // Stored messages are re-verified on every core while the replay goes on: the replay
    // hands them over a chunk at a time. Whether one was purged may be known only later in
    // the log, so every outcome is kept with its id and judged after the replay.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (check_tx, check_rx) = std::sync::mpsc::channel::<Vec<Check>>();
    let check_rx = std::sync::Mutex::new(check_rx);
    let (outcome_tx, outcome_rx) = std::sync::mpsc::channel::<Result<Vec<Outcome>>>();
    let mut chunk: Vec<Check> = Vec::with_capacity(VERIFY_CHUNK);
    let mut queued = 0u64;
    // Log entries that name a signed receipt or refusal → its id; the envelopes kept for them.
    let mut answers_named: HashMap<u64, MessageId> = HashMap::new();
    let mut answers_kept: Vec<(u64, journal::Loc)> = Vec::new();
    let (end, outcomes) = std::thread::scope(|scope| {
        for _ in 0..workers {
            let (check_rx, outcome_tx, medium) = (&check_rx, outcome_tx.clone(), &medium);
            scope.spawn(move || loop {
                let next = check_rx.lock().map(|rx| rx.recv());
                let Ok(Ok(chunk)) = next else {
                    return;
                };
                let out = chunk
                    .iter()
                    .map(|c| check_message(medium, trust, c).map(|p| (c.0, p)))
                    .collect();
                if outcome_tx.send(out).is_err() {
                    return;
                }
            });
        }
        drop(outcome_tx);
        let end = journal::replay(&medium, |rec| {
            match rec {
                Record::Leaf { loc, bytes } => {
                    let i = tree.len();
                    tree.push(bytes);
                    progress("reading the log", loc.offset(), total);
                    match LogEntry::decode(bytes) {
                        Err(e) => problems.push(Problem {
                            leaf: Some(i),
                            what: format!("cannot be decoded: {e} ({})", e.reason_code()),
                        }),
                        Ok(entry) => {
                            if entry.index != i {
                                first_misplaced.get_or_insert(i);
                                problems.push(Problem {
                                    leaf: Some(i),
                                    what: format!(
                                        "the leaf at position {i} says it is entry {}: entries were removed, inserted or reordered here",
                                        entry.index
                                    ),
                                });
                            }
                            *r.by_type.entry(entry.event.name()).or_default() += 1;
                            match &entry.event {
                                Event::Sent { msg, .. }
                                | Event::Received { msg, .. }
                                | Event::Relayed { msg, .. } => {
                                    logged.entry(msg.id).or_insert(i);
                                }
                                Event::Purged { id, .. } => {
                                    purged.insert(*id);
                                }
                                Event::ReceiptSent { receipt, .. }
                                | Event::ReceiptReceived { receipt, .. }
                                | Event::RefusalReceived {
                                    refusal: receipt, ..
                                } => {
                                    answers_named.insert(i, *receipt);
                                }
                                _ => {}
                            }
                        }
                    }
                }
                Record::Signed { leaf, body } => answers_kept.push((leaf, body)),
                Record::New { bytes, body, .. } => {
                    let state: MessageState = match postcard::from_bytes(bytes) {
                        Ok(s) => s,
                        Err(e) => {
                            problems.push(Problem {
                                leaf: None,
                                what: format!("a message state at byte {} cannot be decoded: {e}", body.offset()),
                            });
                            return Ok(());
                        }
                    };
                    let leaf = state.leaves.first().copied();
                    let id = state.facts.id;
                    stored.push((id, leaf));
                    if state.purged {
                        seen_purged.insert(id);
                        marked_purged.push((id, leaf));
                        return Ok(());
                    }
                    chunk.push((id, leaf, body, "message"));
                    queued += 1;
                    if chunk.len() == VERIFY_CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(VERIFY_CHUNK));
                        // The workers hold the receiver until this scope ends.
                        let _ = check_tx.send(full);
                    }
                }
                Record::Update { bytes, .. } => {
                    // A purge replaces the state with one marked purged (its body is zeroed).
                    if let Ok(state) = postcard::from_bytes::<MessageState>(bytes) {
                        if state.purged && seen_purged.insert(state.facts.id) {
                            marked_purged.push((state.facts.id, state.leaves.first().copied()));
                        }
                    }
                }
            }
            Ok(())
        })
        .map_err(|e| AuditError::Store {
            what: medium.path().display().to_string(),
            source: e,
        });
        if !chunk.is_empty() {
            let _ = check_tx.send(std::mem::take(&mut chunk));
        }
        // The workers stop once what was sent is done.
        drop(check_tx);
        let end = end?;
        progress("reading the log", total, total);
        let mut outcomes = Vec::with_capacity(usize::try_from(queued).unwrap_or(0));
        for out in outcome_rx {
            outcomes.extend(out?);
            progress("verifying messages", outcomes.len() as u64, queued);
        }
        Ok::<_, AuditError>((end, outcomes))
    })?;
    for (id, problem) in outcomes {
        // A purged body is zeros, or is being zeroed: not a message to verify.
        if seen_purged.contains(&id) {
            continue;
        }
        match problem {
            None => r.messages_verified += 1,
            Some(p) => problems.push(p),
        }
    }
    // Every signed receipt and refusal the log names is kept beside it, and is that message.
    let mut answers = Vec::new();
    for (leaf, body) in answers_kept {
        match answers_named.remove(&leaf) {
            Some(id) => answers.push((id, Some(leaf), body, "receipt or refusal")),
            None => problems.push(Problem {
                leaf: Some(leaf),
                what: "a signed answer is kept for this entry, which names none".into(),
            }),
        }
    }
    for (leaf, id) in answers_named {
        problems.push(Problem {
            leaf: Some(leaf),
            what: format!("names the signed receipt or refusal {id}, which is not kept"),
        });
    }
    let (verified, bad) = verify_messages(&medium, trust, &answers, |done| {
        progress("verifying receipts", done, answers.len() as u64)
    })?;
    r.answers_verified = verified;
    problems.extend(bad);
    r.torn_bytes = end.torn;
    let (entries, root, roots) = tree.finish();
    r.entries = entries;
    r.root = root;
    r.purged = purged.len() as u64;

    for (id, leaf) in &stored {
        match (leaf, logged.get(id)) {
            (_, None) => problems.push(Problem {
                leaf: *leaf,
                what: format!("message {id} is stored but no log entry records it"),
            }),
            (Some(l), Some(first)) if l != first => problems.push(Problem {
                leaf: Some(*first),
                what: format!("message {id} is stored as logged at entry {l}, but the log records it at entry {first}"),
            }),
            _ => {}
        }
    }
    // The flag skips the body check above, so only a purge the log records may set it.
    for (id, leaf) in &marked_purged {
        if !purged.contains(id) {
            problems.push(Problem {
                leaf: *leaf,
                what: format!(
                    "message {id} is stored as purged, but no log entry records its purge"
                ),
            });
        }
    }
    let stored_ids: HashSet<MessageId> = stored.iter().map(|(id, _)| *id).collect();
    for (id, leaf) in &logged {
        if !stored_ids.contains(id) && !purged.contains(id) {
            problems.push(Problem {
                leaf: Some(*leaf),
                what: format!("records message {id}, which is neither stored nor purged"),
            });
        }
    }

    for (name, cp) in &signed {
        r.checkpoints += 1;
        let c = cp.checkpoint();
        r.checkpoint_size = r.checkpoint_size.max(c.size());
        for s in cp.signatures() {
            if verifiers
                .iter()
                .any(|v| v.name() == s.key_name() && v.key_id() == s.key_id())
            {
                continue;
            }
            if s.is_verified() {
                r.cosignatures += 1;
            } else {
                r.unknown_signatures += 1;
            }
        }
        match roots.get(&c.size()) {
            // Every leaf before the first misplaced one is where it says: removed entries
            // are there or after it; with none misplaced, at the end.
            None => problems.push(Problem {
                leaf: Some(first_misplaced.unwrap_or(r.entries)),
                what: format!(
                    "{name} signs a log of {} entries, but the log holds only {}: entries were removed {}",
                    c.size(),
                    r.entries,
                    match first_misplaced {
                        Some(i) => format!("at entry {i} or after it"),
                        None => "from its end".to_owned(),
                    }
                ),
            }),
            Some(root) if root != c.root() => problems.push(Problem {
                leaf: None,
                what: format!(
                    "the first {} entries do not hash to the root {name} signs: the log was rewritten",
                    c.size()
                ),
            }),
            Some(_) => {}
        }
    }
    r.uncovered_entries = r.entries.saturating_sub(r.checkpoint_size);
    let files = CheckpointFiles {
        last: last.is_some(),
        history: history.len(),
        last_size,
        history_size,
    };
    let (lost, lagging) = files.judge(r.entries, r.checkpoint_size);
    r.problems
        .extend(lost.map(|what| Problem { leaf: None, what }));
    match uncovered {
        Uncovered::Refuse => r
            .problems
            .extend(lagging.into_iter().map(|what| Problem { leaf: None, what })),
        Uncovered::Allow => r.warnings = lagging,
    }
    // Entry-specific problems first, in log order; then the rest.
    problems.sort_by_key(|p| p.leaf.unwrap_or(u64::MAX));
    r.problems.extend(problems);
    Ok(r)
}

/// What the two checkpoint files hold, as `verify` found them.
#[derive(Clone, Copy, Debug, Default)]
struct CheckpointFiles {
    /// Whether `checkpoint.note` exists.
    last: bool,
    /// Checkpoints in the history.
    history: usize,
    /// The size `checkpoint.note` signs, if it opened with the node's key.
    last_size: Option<u64>,
    /// The largest size a checkpoint in the history signs, of those that opened.
    history_size: Option<u64>,
}

impl CheckpointFiles {
    /// Judges the files and the coverage of a log of `entries`, whose newest checkpoint
    /// signed by the node covers `covered`: what is wrong in any case (the history lost
    /// checkpoints), and what a running or crashed node can leave (uncovered entries, no
    /// checkpoint files, or a `checkpoint.note` missing or behind the history).
    fn judge(&self, entries: u64, covered: u64) -> (Option<String>, Vec<String>) {
        let (file, hist) = (checkpoint::FILE, checkpoint::HISTORY);
        let mut lagging = Vec::new();
        if !self.last && self.history == 0 {
            if entries > 0 {
                lagging.push(format!(
                    "no checkpoint: {file} and {hist} are both missing, so none of the {} is \
                     covered by a checkpoint signed by the node",
                    log_entries(entries)
                ));
            }
            return (None, lagging);
        }
        if !self.last {
            lagging.push(format!(
                "{file} is missing, though {hist} holds {} checkpoint(s): the node writes the \
                 history first and then {file}, so {file} was deleted or the node stopped \
                 between the two writes",
                self.history
            ));
        }
        // A node appends every checkpoint to the history before it replaces the note: a
        // note newer than the whole history means checkpoints were lost from the history.
        let lost = |newest: String| {
            format!(
                "{file} {}, but {newest}: the node writes every checkpoint to the history \
                 before {file}, so checkpoints were lost from the history",
                self.last_size
                    .map_or("exists".to_owned(), |l| format!("signs {l} entries"))
            )
        };
        let lost = match (self.last_size, self.history_size) {
            _ if self.last && self.history == 0 => {
                Some(lost(format!("{hist} holds no checkpoint")))
            }
            (Some(l), Some(h)) if l > h => Some(lost(format!(
                "the newest checkpoint in {hist} signs only {h}"
            ))),
            (Some(l), Some(h)) if l < h => {
                lagging.push(format!(
                    "{file} signs {l} entries, fewer than the newest checkpoint in {hist} \
                     ({h}): the node writes the history first and then {file}, so {file} was \
                     replaced by an older one or the node stopped between the two writes"
                ));
                None
            }
            _ => None,
        };
        let uncovered = entries.saturating_sub(covered);
        if uncovered > 0 {
            lagging.push(format!(
                "{} from entry {covered} on {} covered by no checkpoint signed by the node (it \
                 signs one every interval and when it stops)",
                log_entries(uncovered),
                if uncovered == 1 { "is" } else { "are" }
            ));
        }
        (lost, lagging)
    }
}

/// A signed message to re-verify: the id the log names, its entry, where its envelope is
/// kept, and what it is (for the report).
type Check = (MessageId, Option<u64>, journal::Loc, &'static str);

/// What the check of one stored message found: its id, and the problem if it does not verify.
type Outcome = (MessageId, Option<Problem>);

/// Messages handed to a verification worker at a time.
const VERIFY_CHUNK: usize = 256;

/// Checks one stored message: its envelope decodes, its signature and certificate chain
/// verify at its creation time, and it is the message its id names.
fn check_message(
    medium: &FileMedium,
    trust: &TrustStore,
    (id, leaf, body, kind): &Check,
) -> Result<Option<Problem>> {
    let (id, leaf) = (*id, *leaf);
    let bytes = journal::read(medium as &dyn Medium, *body)?;
    let bad = |what: String| Ok(Some(Problem { leaf, what }));
    let env = match Envelope::decode(&bytes) {
        Ok(env) => env,
        Err(e) => {
            return bad(format!(
                "stored {kind} {id} cannot be decoded: {e} ({})",
                e.reason_code()
            ))
        }
    };
    // Verification hashes the body once; only a failure pays for hashing it again.
    match env.signed.verify(trust) {
        Ok(v) if v.id() == id => Ok(None),
        Ok(v) => bad(format!(
            "stored {kind} {id} was replaced by another signed message, {}",
            v.id()
        )),
        Err(e) => match Envelope::decode(&bytes).map(|env| env.signed.id()) {
            Ok(now) if now != id => bad(format!(
                "stored {kind} {id} was altered: its body now hashes to {now}"
            )),
            _ => bad(format!(
                "stored {kind} {id} does not verify: {e} ({})",
                e.reason_code()
            )),
        },
    }
}

/// Re-verifies stored messages (signature, certificate chain at their creation time, and
/// that each is the message its id names) on every core; returns how many verified and the
/// problems. `progress(done)` is called from this thread as work completes.
fn verify_messages(
    medium: &FileMedium,
    trust: &TrustStore,
    messages: &[Check],
    mut progress: impl FnMut(u64),
) -> Result<(u64, Vec<Problem>)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const CHUNK: usize = 256;
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (tx, rx) = std::sync::mpsc::channel::<Result<(u64, Vec<Problem>)>>();
    let check = |c: &Check| check_message(medium, trust, c);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, check) = (&next, &check);
            scope.spawn(move || loop {
                let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                let Some(chunk) = messages.get(start..(start + CHUNK).min(messages.len())) else {
                    return;
                };
                if chunk.is_empty() {
                    return;
                }
                let mut ok = 0;
                let mut problems = Vec::new();
                for m in chunk {
                    match check(m) {
                        Ok(None) => ok += 1,
                        Ok(Some(p)) => problems.push(p),
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                if tx.send(Ok((ok, problems))).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let (mut verified, mut problems, mut done) = (0u64, Vec::new(), 0u64);
        for r in rx {
            let (ok, mut p) = r?;
            done += ok + p.len() as u64;
            verified += ok;
            problems.append(&mut p);
            progress(done);
        }
        Ok((verified, problems))
    })
}

/// The Merkle root of a stream of leaves, with the leaf hashes computed on every core: leaves
/// are buffered, hashed in parallel a block at a time, and folded into a [`RootBuilder`] in
/// order (the roots at `sizes` are kept on the way).
struct ParallelRoot<'a> {
    tree: RootBuilder,
    bytes: Vec<u8>,
    ends: Vec<usize>,
    sizes: &'a HashSet<u64>,
    roots: HashMap<u64, Hash>,
}

/// Leaves hashed per block.
const ROOT_BLOCK: usize = 16_384;

impl<'a> ParallelRoot<'a> {
    fn new(sizes: &'a HashSet<u64>) -> Self {
        let mut roots = HashMap::new();
        if sizes.contains(&0) {
            roots.insert(0, RootBuilder::new().root());
        }
        Self {
            tree: RootBuilder::new(),
            bytes: Vec::new(),
            ends: Vec::with_capacity(ROOT_BLOCK),
            sizes,
            roots,
        }
    }

    /// Leaves pushed so far.
    fn len(&self) -> u64 {
        self.tree.len() + self.ends.len() as u64
    }

    fn push(&mut self, leaf: &[u8]) {
        self.bytes.extend_from_slice(leaf);
        self.ends.push(self.bytes.len());
        if self.ends.len() == ROOT_BLOCK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let (bytes, ends) = (&self.bytes, &self.ends);
        let leaf = |i: usize| &bytes[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = ends.len().div_ceil(threads).max(1);
        let hashes: Vec<Hash> = std::thread::scope(|scope| {
            let parts: Vec<_> = (0..ends.len())
                .step_by(per)
                .map(|start| {
                    let end = (start + per).min(ends.len());
                    scope
                        .spawn(move || (start..end).map(|i| leaf_hash(leaf(i))).collect::<Vec<_>>())
                })
                .collect();
            parts
                .into_iter()
                // A worker that panicked would leave the root wrong: panic here too.
                .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        for h in hashes {
            self.tree.push_leaf_hash(h);
            if self.sizes.contains(&self.tree.len()) {
                self.roots.insert(self.tree.len(), self.tree.root());
            }
        }
        self.bytes.clear();
        self.ends.clear();
    }

    /// Size, root, and the roots at the requested sizes the log reached.
    fn finish(mut self) -> (u64, Hash, HashMap<u64, Hash>) {
        self.flush();
        (self.tree.len(), self.tree.root(), self.roots)
    }
}

/// Recomputes the Merkle root of a data dir's whole log (leaf hashes on every core), as
/// `verify` does: the log's size and root.
pub fn recompute_root(data_dir: &Path) -> Result<(u64, Hash)> {
    let medium = FileMedium::open_read_only(&data_dir.join("store"))?;
    let none = HashSet::new();
    let mut tree = ParallelRoot::new(&none);
    journal::replay(&medium, |rec| {
        if let Record::Leaf { bytes, .. } = rec {
            tree.push(bytes);
        }
        Ok(())
    })?;
    let (size, root, _) = tree.finish();
    Ok((size, root))
}

/// One entry of an inclusion proof file.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProvenEntry {
    /// Position in the log.
    pub index: u64,
    /// The leaf bytes, base64.
    pub leaf: String,
    /// The audit path, leaf level first, base64 hashes.
    pub path: Vec<String>,
}

/// An inclusion proof file: every log entry about one message, proven against a signed
/// checkpoint, with the node's certificates to check the checkpoint from the CAs alone.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProofFile {
    /// Always `liaison-inclusion-proof/1`.
    #[schema(pattern = "^liaison-inclusion-proof/1$")]
    pub format: String,
    /// The message, hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub message: String,
    /// The signed checkpoint note the proofs are against.
    pub checkpoint: String,
    /// The node's certificates (DER, base64).
    pub node_certificates: Vec<String>,
    /// The entries about the message that the checkpoint covers.
    pub entries: Vec<ProvenEntry>,
}

/// Builds an inclusion proof for every entry about message `id` that the node's last
/// checkpoint covers.
pub fn prove(data_dir: &Path, trust: &TrustStore, id: &MessageId) -> Result<ProofFile> {
    let (node, verifiers, ders) = node_keys(data_dir, trust)?;
    let last = data_dir.join(checkpoint::FILE);
    let note = std::fs::read_to_string(&last).map_err(|e| AuditError::Io {
        what: format!(
            "no checkpoint in {} yet: run `liaison checkpoint` on the node first",
            data_dir.display()
        ),
        source: e,
    })?;
    let cp = open_own(&note, &verifiers, &node).map_err(|e| fail!("{} {e}", last.display()))?;
    let size = cp.checkpoint().size();
    let (tree, leaves) = read_tree(data_dir, |e| e.event.message_ids().contains(id))?;
    if tree.len() < size {
        return Err(fail!(
            "the log holds {} entries but its checkpoint signs {size}: run `liaison audit verify`",
            tree.len()
        ));
    }
    if &tree.root_at(size).map_err(|e| fail!("{e}"))? != cp.checkpoint().root() {
        return Err(fail!(
            "the log does not match its checkpoint: run `liaison audit verify`"
        ));
    }
    if leaves.is_empty() {
        return Err(fail!("message {id} is not in the log of {node}"));
    }
    let mut entries = Vec::new();
    for (index, leaf) in &leaves {
        if *index >= size {
            continue;
        }
        let proof = tree
            .inclusion_proof(*index, size)
            .map_err(|e| fail!("{e}"))?;
        entries.push(ProvenEntry {
            index: *index,
            leaf: B64.encode(leaf),
            path: proof.hashes.iter().map(|h| B64.encode(h)).collect(),
        });
    }
    if entries.is_empty() {
        return Err(fail!(
            "message {id} was logged at entry {} but the last checkpoint covers {size} entries: \
             sign a new checkpoint on the node (`liaison checkpoint`) and prove again",
            leaves[0].0
        ));
    }
    Ok(ProofFile {
        format: PROOF_FORMAT.to_owned(),
        message: id.to_string(),
        checkpoint: note,
        node_certificates: ders.iter().map(|d| B64.encode(d)).collect(),
        entries,
    })
}

/// A leaf's position and bytes.
type Kept = (u64, Vec<u8>);

/// The whole tree of a data dir's log, and the leaves `keep` selects (with their positions).
fn read_tree(
    data_dir: &Path,
    mut keep: impl FnMut(&LogEntry) -> bool,
) -> Result<(MerkleTree, Vec<Kept>)> {
    let medium = FileMedium::open_read_only(&data_dir.join("store"))?;
    let mut tree = MerkleTree::new();
    let mut kept = Vec::new();
    journal::replay(&medium, |rec| {
        if let Record::Leaf { bytes, .. } = rec {
            let i = tree.push(bytes);
            if LogEntry::decode(bytes).is_ok_and(|e| keep(&e)) {
                kept.push((i, bytes.to_vec()));
            }
        }
        Ok(())
    })?;
    Ok((tree, kept))
}

/// What a checked proof file shows.
#[derive(Clone, Debug)]
pub struct CheckedProof {
    /// Whose log.
    pub node: NodeId,
    /// The checkpoint's size.
    pub size: u64,
    /// The proven entries, decoded.
    pub entries: Vec<LogEntry>,
}

/// Checks a proof file with nothing but the trusted CAs: the node certificates chain to one,
/// the checkpoint is signed by the node, every entry is about the message, states its own
/// position, and is included in the checkpoint's tree.
pub fn check_proof(file: &ProofFile, trust: &TrustStore) -> Result<CheckedProof> {
    if file.format != PROOF_FORMAT {
        return Err(fail!(
            "not a {PROOF_FORMAT} file (format {:?})",
            file.format
        ));
    }
    let id: MessageId = file.message.parse().map_err(|e| fail!("message: {e}"))?;
    let mut node: Option<NodeId> = None;
    let mut verifiers = Vec::new();
    for (i, c) in file.node_certificates.iter().enumerate() {
        let der = B64
            .decode(c)
            .map_err(|e| fail!("node certificate {}: {e}", i + 1))?;
        let c = trust
            .certify(&der)
            .map_err(|e| fail!("node certificate {}: {e} ({})", i + 1, e.reason_code()))?;
        if node.as_ref().is_some_and(|n| n != &c.node) {
            return Err(fail!("the node certificates name different nodes"));
        }
        verifiers
            .push(NoteVerifier::new(&log_origin(&c.node), c.public_key).map_err(|e| fail!("{e}"))?);
        node = Some(c.node);
    }
    let node = node.ok_or_else(|| fail!("the proof carries no node certificate"))?;
    let cp =
        open_own(&file.checkpoint, &verifiers, &node).map_err(|e| fail!("the checkpoint {e}"))?;
    let (size, root) = (cp.checkpoint().size(), *cp.checkpoint().root());
    if file.entries.is_empty() {
        return Err(fail!("the proof holds no entries"));
    }
    let mut entries = Vec::new();
    for e in &file.entries {
        let leaf = B64
            .decode(&e.leaf)
            .map_err(|x| fail!("entry {}: leaf: {x}", e.index))?;
        let path = e
            .path
            .iter()
            .map(|h| {
                B64.decode(h)
                    .ok()
                    .and_then(|b| Hash::try_from(b.as_slice()).ok())
                    .ok_or_else(|| {
                        fail!("entry {}: a path hash is not 32 bytes of base64", e.index)
                    })
            })
            .collect::<Result<Vec<Hash>>>()?;
        verify_inclusion(&leaf_hash(&leaf), e.index, size, &path, &root).map_err(|x| {
            fail!(
                "entry {}: not included in the checkpoint's tree: {x}",
                e.index
            )
        })?;
        let entry = LogEntry::decode(&leaf).map_err(|x| fail!("entry {}: {x}", e.index))?;
        if entry.index != e.index {
            return Err(fail!(
                "entry {}: the leaf says it is entry {}",
                e.index,
                entry.index
            ));
        }
        if !entry.event.message_ids().contains(&id) {
            return Err(fail!("entry {}: is not about message {id}", e.index));
        }
        entries.push(entry);
    }
    Ok(CheckedProof {
        node,
        size,
        entries,
    })
}

/// A consistency proof between two signed checkpoints, with what an independent verifier
/// needs to check it without the node: both notes, the node's certificates (to check the
/// notes' signatures against the network CA) and the RFC 9162 §2.1.4 proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyFile {
    /// Always [`CONSISTENCY_FORMAT`].
    pub format: String,
    /// The older signed checkpoint note.
    pub old: String,
    /// The newer signed checkpoint note.
    pub new: String,
    /// The older checkpoint's tree size.
    pub old_size: u64,
    /// The newer checkpoint's tree size.
    pub new_size: u64,
    /// The node's certificates (DER, base64).
    pub node_certificates: Vec<String>,
    /// The proof's hashes, base64, in RFC 9162 order.
    pub hashes: Vec<String>,
}

/// [`consistency`], as a file an independent verifier checks on its own.
pub fn consistency_file(
    data_dir: &Path,
    trust: &TrustStore,
    old: &str,
    new: &str,
) -> Result<ConsistencyFile> {
    let hashes = consistency(data_dir, trust, old, new)?;
    let (_, _, ders) = node_keys(data_dir, trust)?;
    let size = |note: &str| {
        checkpoint::size_of(note).ok_or_else(|| fail!("a checkpoint note without a tree size"))
    };
    Ok(ConsistencyFile {
        format: CONSISTENCY_FORMAT.into(),
        old: old.into(),
        new: new.into(),
        old_size: size(old)?,
        new_size: size(new)?,
        node_certificates: ders.iter().map(|d| B64.encode(d)).collect(),
        hashes: hashes.iter().map(|h| B64.encode(h)).collect(),
    })
}

/// Checks that checkpoint `new` extends `old` (both signed by the node whose data dir this
/// is) and returns the consistency proof's hashes.
pub fn consistency(data_dir: &Path, trust: &TrustStore, old: &str, new: &str) -> Result<Vec<Hash>> {
    let (node, verifiers, _) = node_keys(data_dir, trust)?;
    let open = |which: &str, note: &str| {
        open_own(note, &verifiers, &node).map_err(|e| fail!("the {which} checkpoint {e}"))
    };
    let (o, n) = (open("old", old)?, open("new", new)?);
    let (o, n) = (o.checkpoint(), n.checkpoint());
    if o.size() > n.size() {
        return Err(fail!(
            "the old checkpoint ({} entries) is larger than the new one ({})",
            o.size(),
            n.size()
        ));
    }
    let (tree, _) = read_tree(data_dir, |_| false)?;
    if tree.len() < n.size() {
        return Err(fail!(
            "the log holds {} entries, fewer than the new checkpoint's {}",
            tree.len(),
            n.size()
        ));
    }
    let proof = tree
        .consistency_proof(o.size(), n.size())
        .map_err(|e| fail!("{e}"))?;
    proof.verify(o.root(), n.root()).map_err(|e| {
        fail!("the checkpoints are not consistent: {e} — the log was rewritten between them")
    })?;
    Ok(proof.hashes)
}

/// Which entries `audit export` writes.
#[derive(Clone, Debug, Default)]
pub struct ExportFilter {
    /// From this time (inclusive).
    pub from: Option<Timestamp>,
    /// Until this time (inclusive).
    pub to: Option<Timestamp>,
    /// Only entries about messages of this case.
    pub case: Option<CaseId>,
    /// Only entries naming this peer (as sender, next hop or answering hop).
    pub peer: Option<NodeId>,
}

/// One exported log entry: who, what, to whom, when, under which handling; no content.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ExportRecord {
    /// Position in the log.
    pub leaf: u64,
    /// SHA-256 leaf hash (RFC 6962, hex) of the entry, as the checkpoint's tree holds it.
    pub leaf_hash: String,
    /// When the node logged it (RFC 3339, UTC).
    pub time: String,
    /// Event type (`sent`, `received`, `receipt-received`, …).
    pub event: String,
    /// Message id(s), space-separated (a batch receipt covers several).
    pub message: String,
    /// The signed receipt or refusal's own id, if the event is one.
    pub proof: String,
    /// Kind of message.
    pub kind: String,
    /// Originating node.
    pub originator: String,
    /// Named recipients, space-separated.
    pub recipients: String,
    /// The peer it came from.
    pub from: String,
    /// The next hop(s) or the peer answered, space-separated.
    pub to: String,
    /// Relays it passed before reaching this node, space-separated.
    pub route: String,
    /// Case id.
    pub case: String,
    /// TLP level.
    pub tlp: String,
    /// EU handling codes, space-separated.
    pub h_codes: String,
    /// Releasability, space-separated.
    pub releasability: String,
    /// 4x4 evaluation.
    pub evaluation: String,
    /// Receipt status or refusal reason code.
    pub outcome: String,
    /// Admin act details, acknowledging officer or purge rule.
    pub detail: String,
}

fn joined<T: ToString>(list: &[T]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

impl ExportRecord {
    /// The record of entry `index`.
    pub fn of(index: u64, leaf: &[u8], e: &LogEntry) -> Self {
        let mut r = ExportRecord {
            leaf: index,
            leaf_hash: liaison_protocol::ids::hex(&leaf_hash(leaf)),
            time: e.at.to_rfc3339(),
            event: e.event.name().to_owned(),
            ..Default::default()
        };
        let facts = |f: &liaison_protocol::log::MessageFacts, r: &mut ExportRecord| {
            r.message = f.id.to_string();
            r.kind = f.kind.clone();
            r.originator = f.originator.to_string();
            r.recipients = joined(&f.recipients);
            r.case = f.case.as_ref().map(ToString::to_string).unwrap_or_default();
            r.tlp = f.tlp.label().to_owned();
            r.h_codes = f.eu_codes.join(" ");
            r.releasability = joined(&f.releasability);
            r.evaluation = f.evaluation.to_string();
        };
        match &e.event {
            Event::Sent { msg, to } => {
                facts(msg, &mut r);
                r.to = joined(to);
            }
            Event::Received { msg, from, route } => {
                facts(msg, &mut r);
                r.from = from.to_string();
                r.route = joined(route);
            }
            Event::Relayed { msg, from, to } => {
                facts(msg, &mut r);
                r.from = from.to_string();
                r.to = joined(to);
            }
            Event::Refused {
                id,
                msg,
                peer,
                reason_code,
            } => {
                if let Some(m) = msg {
                    facts(m, &mut r);
                }
                r.message = id.map(|i| i.to_string()).unwrap_or_default();
                r.from = peer.to_string();
                r.outcome = reason_code.clone();
            }
            Event::ReceiptSent {
                receipt,
                to,
                status,
                ids,
            } => {
                r.message = joined(ids);
                r.proof = receipt.to_string();
                r.to = to.to_string();
                r.outcome = status.name().to_owned();
            }
            Event::ReceiptReceived {
                receipt,
                from,
                status,
                ids,
            } => {
                r.message = joined(ids);
                r.proof = receipt.to_string();
                r.from = from.to_string();
                r.outcome = status.name().to_owned();
            }
            Event::RefusalReceived {
                refusal,
                id,
                from,
                reason_code,
            } => {
                r.message = id.to_string();
                r.proof = refusal.to_string();
                r.from = from.to_string();
                r.outcome = reason_code.clone();
            }
            Event::Acknowledged { id, by } => {
                r.message = id.to_string();
                r.detail = format!("by {by}");
            }
            Event::Admin { act, detail } => r.detail = format!("{act}: {detail}"),
            Event::Purged { id, rule } => {
                r.message = id.to_string();
                r.detail = format!("rule {rule}");
            }
        }
        r
    }

    fn matches(&self, e: &LogEntry, f: &ExportFilter) -> bool {
        let peer_named = |p: &NodeId| {
            let p = p.as_str();
            self.from == p || self.to.split(' ').any(|t| t == p)
        };
        f.from.is_none_or(|t| e.at >= t)
            && f.to.is_none_or(|t| e.at <= t)
            && f.case.as_ref().is_none_or(|c| self.case == c.as_str())
            && f.peer.as_ref().is_none_or(peer_named)
    }
}

/// The export's anchor: the checkpoint (signed note) covering the exported entries.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportAnchor {
    /// Always `checkpoint`.
    pub record: String,
    /// Entries the checkpoint covers.
    pub size: u64,
    /// The signed note.
    pub note: String,
}

/// The entries of a data dir's log that `filter` selects and that its last checkpoint covers
/// (entries after it are not yet signed and so not exported), with that checkpoint. The log
/// must match the checkpoint (else run `audit verify`).
pub fn export(
    data_dir: &Path,
    trust: &TrustStore,
    filter: &ExportFilter,
) -> Result<(ExportAnchor, Vec<ExportRecord>)> {
    let (node, verifiers, _) = node_keys(data_dir, trust)?;
    let last = data_dir.join(checkpoint::FILE);
    let note = std::fs::read_to_string(&last).map_err(|e| AuditError::Io {
        what: format!(
            "no checkpoint in {} yet: run `liaison checkpoint` on the node first",
            data_dir.display()
        ),
        source: e,
    })?;
    let cp = open_own(&note, &verifiers, &node).map_err(|e| fail!("{} {e}", last.display()))?;
    let size = cp.checkpoint().size();
    let medium = FileMedium::open_read_only(&data_dir.join("store"))?;
    let mut tree = RootBuilder::new();
    let mut root = (size == 0).then(|| tree.root());
    let mut out = Vec::new();
    journal::replay(&medium, |rec| {
        let Record::Leaf { bytes, .. } = rec else {
            return Ok(());
        };
        let i = tree.len();
        if i >= size {
            return Ok(());
        }
        tree.push(bytes);
        if tree.len() == size {
            root = Some(tree.root());
        }
        let e =
            LogEntry::decode(bytes).map_err(|e| StoreError::Corrupt(format!("entry {i}: {e}")))?;
        let r = ExportRecord::of(i, bytes, &e);
        if r.matches(&e, filter) {
            out.push(r);
        }
        Ok(())
    })?;
    if root.as_ref() != Some(cp.checkpoint().root()) {
        return Err(fail!(
            "the log does not match its checkpoint: run `liaison audit verify` to find where"
        ));
    }
    Ok((
        ExportAnchor {
            record: "checkpoint".into(),
            size,
            note,
        },
        out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `judge` for a log of 10 entries covered to `covered`, with the texts' heads only.
    fn judged(files: CheckpointFiles, covered: u64) -> (Option<String>, Vec<String>) {
        let head = |s: String| s.split(':').next().unwrap_or_default().to_owned();
        let (lost, lagging) = files.judge(10, covered);
        (lost.map(head), lagging.into_iter().map(head).collect())
    }

    fn files(last: Option<u64>, history: &[u64]) -> CheckpointFiles {
        CheckpointFiles {
            last: last.is_some(),
            history: history.len(),
            last_size: last,
            history_size: history.iter().copied().max(),
        }
    }

    #[test]
    fn a_stopped_nodes_checkpoint_files_agree_and_cover_its_log() {
        assert_eq!(judged(files(Some(10), &[4, 10]), 10), (None, vec![]));
        // A cosigned copy of an older checkpoint is appended to the history after the newest.
        assert_eq!(judged(files(Some(10), &[4, 10, 4]), 10), (None, vec![]));
        // An empty log needs no checkpoint.
        assert_eq!(files(None, &[]).judge(0, 0), (None, vec![]));
    }

    #[test]
    fn what_a_running_or_crashed_node_leaves_is_lagging() {
        assert_eq!(
            judged(files(None, &[]), 0),
            (None, vec!["no checkpoint".to_owned()])
        );
        assert_eq!(
            files(Some(4), &[4]).judge(10, 4).1,
            [
                "6 log entries from entry 4 on are covered by no checkpoint signed by the node \
              (it signs one every interval and when it stops)"
            ]
        );
        assert!(
            files(Some(9), &[9]).judge(10, 9).1[0].starts_with("1 log entry from entry 9 on is ")
        );
        assert_eq!(
            judged(files(None, &[4, 10]), 10),
            (
                None,
                vec![
                    "checkpoint.note is missing, though checkpoints.jsonl holds 2 checkpoint(s)"
                        .to_owned()
                ]
            )
        );
        assert_eq!(
            judged(files(Some(4), &[4, 10]), 10),
            (
                None,
                vec!["checkpoint.note signs 4 entries, fewer than the newest checkpoint in checkpoints.jsonl (10)".to_owned()]
            )
        );
    }

    #[test]
    fn a_note_newer_than_its_history_means_the_history_lost_checkpoints() {
        let lost = "checkpoints were lost from the history";
        let (l, lagging) = files(Some(10), &[4]).judge(10, 10);
        assert!(l.as_deref().is_some_and(|l| l.starts_with(
            "checkpoint.note signs 10 entries, but the newest checkpoint in checkpoints.jsonl signs only 4"
        ) && l.ends_with(lost)), "{l:?}");
        assert!(lagging.is_empty());
        let (l, _) = files(Some(10), &[]).judge(10, 10);
        assert!(
            l.as_deref().is_some_and(|l| l.starts_with(
                "checkpoint.note signs 10 entries, but checkpoints.jsonl holds no checkpoint"
            )),
            "{l:?}"
        );
        // A note that does not open (a problem of its own) beside no history at all.
        let unopened = CheckpointFiles {
            last: true,
            ..Default::default()
        };
        assert!(unopened
            .judge(10, 0)
            .0
            .is_some_and(|l| l.starts_with("checkpoint.note exists, but")));
    }
}
