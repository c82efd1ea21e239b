//! The auditor's offline tools against an attacker who can write the data dir: a journal
//! rewritten with valid checksums (they are not tamper protection) is caught by the Merkle
//! log, its signed checkpoints and the messages' own signatures, and named at the entry where
//! it happened; inclusion proofs and checkpoint consistency hold only for what the node
//! signed; `liaison audit …` reports all of it with its exit status.
//!
//! Every data dir comes from a real exchange: two nodes over loopback QUIC, each announces its
//! routes to the other as the session starts, A sends B alerts (sealed to B) in two waves with
//! a checkpoint between them, B receipts them, both stop. Tampering is done on copies of the
//! stopped nodes' data dirs; a copy of A's taken while it ran, after its early checkpoint,
//! holds entries no checkpoint covers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use liaison_node::audit::{self, AuditReport, ProofFile, Uncovered};
use liaison_node::node::Node;
use liaison_node::store::journal::{
    self, BatchBuf, FileMedium, Record, FILE_HEADER, HEADER, TAG_LEAF, TAG_NEW, TAG_UPDATE,
};
use liaison_node::store::{checkpoint, Store};
use liaison_protocol::log::{Event, LogEntry};
use liaison_protocol::{Body, Envelope, Kind, MessageId, NodeId, Timestamp, TrustStore};
use liaison_tests::cluster::{alert, start, wait_for, Cluster};
use liaison_tests::copy_dir;
use liaison_tests::TestPki;
use tempfile::TempDir;

const NETWORK: &str = "central-asia";
/// The sender.
const A: &str = "kz-dcu.central-asia";
/// The receiver.
const B: &str = "caricc.central-asia";
/// Alerts A sends before its early checkpoint.
const FIRST: usize = 3;
/// Alerts A sends after it.
const MORE: usize = 2;
const ALERTS: usize = FIRST + MORE;

fn n(s: &str) -> NodeId {
    s.parse().unwrap()
}

/// The text of alert `i` (sealed to the recipient: not readable in the stored bytes).
fn text(i: usize) -> String {
    format!("audit alert number {i}")
}

/// Two stopped nodes after a real exchange.
struct Exchange {
    c: Cluster,
    /// The alerts A sent B, in order.
    ids: Vec<MessageId>,
    /// A's checkpoint signed after the first wave.
    early: String,
    /// Log entries of A and B when they stopped.
    entries_a: u64,
    entries_b: u64,
    /// A copy of A's data dir taken while it ran, after the second wave: its newest
    /// checkpoint is the early one.
    running_a: TempDir,
    /// Log entries of `running_a` (the copy from before A's `stop` entry).
    running_entries_a: u64,
}

impl Exchange {
    fn data(&self, node: &str) -> PathBuf {
        self.c.node_dir(node).join("data")
    }

    /// The network CA certificate file, the auditor's only trust input.
    fn ca(&self) -> PathBuf {
        self.c.dir.path().join("pki").join(NETWORK).join("ca.crt")
    }

    fn trust(&self) -> TrustStore {
        self.c.pki.trust()
    }

    /// The last checkpoint a node signed (at shutdown, over its whole log).
    fn last_checkpoint(&self, node: &str) -> String {
        std::fs::read_to_string(self.data(node).join(checkpoint::FILE)).unwrap()
    }
}

/// Waits until B holds `sent` alerts and both outboxes are empty (every alert and each node's
/// announcement receipted; a node logs its receipt in the batch that stores what it
/// receipts, so both logs are then quiescent).
async fn settle(a: &Node, b: &Node, sent: usize) {
    let (store_a, store_b) = (a.store().clone(), b.store().clone());
    wait_for("B to hold the alerts", Duration::from_secs(60), || {
        store_b.inbox(0, usize::MAX).map(|i| i.len()).unwrap_or(0) >= sent
    })
    .await;
    wait_for("A's outbox to drain", Duration::from_secs(60), || {
        store_a.outbox_depths().values().sum::<u64>() == 0
    })
    .await;
    wait_for("B's outbox to drain", Duration::from_secs(60), || {
        store_b.outbox_depths().values().sum::<u64>() == 0
    })
    .await;
}

async fn exchange() -> Exchange {
    let mut c = Cluster::new(&[NETWORK]);
    c.add(A);
    c.add(B);
    let config = |node: &str, peer: &str| {
        let mut cfg = c.config(node, &[peer]);
        // No periodic checkpoints: only the early one and the one at shutdown (and B's
        // cosigned copies), whatever the machine's speed.
        cfg.checkpoints.interval_secs = 24 * 3600;
        cfg
    };
    let a = start(config(A, B)).await;
    let b = start(config(B, A)).await;
    let mut ids = Vec::new();
    for i in 0..FIRST {
        ids.push(a.send(&alert(B, &text(i))).await.unwrap().id);
    }
    settle(&a, &b, FIRST).await;
    let early = a.store().checkpoint().await.unwrap().expect("the log grew");
    for i in FIRST..ALERTS {
        ids.push(a.send(&alert(B, &text(i))).await.unwrap().id);
    }
    settle(&a, &b, ALERTS).await;
    let running_entries_a = a.store().log_size();
    // Each node's shutdown records its `stop`: one entry more than now.
    let (entries_a, entries_b) = (running_entries_a + 1, b.store().log_size() + 1);
    // Both logs are quiescent and no checkpoint is signed before shutdown (a day's
    // interval): the copy's checkpoint files and journal are those of this moment.
    let running_a = copy_of(&c.node_dir(A).join("data"));
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    Exchange {
        c,
        ids,
        early,
        entries_a,
        entries_b,
        running_a,
        running_entries_a,
    }
}

// ---------------------------------------------------------------------------------------
// The journal, as an attacker rewrites it: records in order, fresh salt, valid checksums.
// ---------------------------------------------------------------------------------------

/// One journal record, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Rec {
    /// A log entry (the Merkle leaf).
    Leaf(Vec<u8>),
    /// A new message: its state (postcard) and its envelope.
    New { state: Vec<u8>, body: Vec<u8> },
    /// A replacement state.
    Update(Vec<u8>),
    /// A signed receipt or refusal kept for log entry `leaf`.
    Signed { leaf: u64, body: Vec<u8> },
}

fn journal_path(data: &Path) -> PathBuf {
    data.join("store").join(journal::FILE)
}

/// Every record of a data dir's journal, in order.
fn read_records(data: &Path) -> Vec<Rec> {
    let medium = FileMedium::open_read_only(&data.join("store")).unwrap();
    let mut recs = Vec::new();
    let end = journal::replay(&medium, |r| {
        recs.push(match r {
            Record::Leaf { bytes, .. } => Rec::Leaf(bytes.to_vec()),
            Record::New { bytes, body, .. } => Rec::New {
                state: bytes.to_vec(),
                body: journal::read(&medium, body)?,
            },
            Record::Update { bytes, .. } => Rec::Update(bytes.to_vec()),
            Record::Signed { leaf, body } => Rec::Signed {
                leaf,
                body: journal::read(&medium, body)?,
            },
        });
        Ok(())
    })
    .unwrap();
    assert_eq!(end.torn, 0, "a stopped node leaves no torn tail");
    recs
}

/// Replaces the journal with a fresh one (new salt) holding `recs` in one batch.
fn write_records(data: &Path, recs: &[Rec]) {
    let dir = data.join("store");
    std::fs::remove_file(journal_path(data)).unwrap();
    let medium = FileMedium::open(&dir).unwrap();
    let salt = journal::init(&medium).unwrap();
    let mut batch = BatchBuf::default();
    let mut bodies = journal::Bodies::default();
    for r in recs {
        match r {
            Rec::Leaf(bytes) => batch.record(TAG_LEAF, &[bytes]),
            Rec::New { state, body } => {
                bodies.push(body);
                let len = u32::try_from(body.len()).unwrap().to_le_bytes();
                batch.record(TAG_NEW, &[&len, state])
            }
            Rec::Update(state) => batch.record(TAG_UPDATE, &[state]),
            Rec::Signed { leaf, body } => {
                bodies.push(body);
                let len = u32::try_from(body.len()).unwrap().to_le_bytes();
                batch.record(journal::TAG_SIGNED, &[&leaf.to_le_bytes(), &len])
            }
        }
        .unwrap();
    }
    batch.commit(&medium, &salt, &bodies).unwrap();
}

/// Rewrites a data dir's journal after `edit` has changed its records, with valid checksums.
fn rewrite_journal(data: &Path, edit: impl FnOnce(&mut Vec<Rec>)) {
    let mut recs = read_records(data);
    edit(&mut recs);
    write_records(data, &recs);
}

/// Where log entry `index` is among the records.
fn leaf_at(recs: &[Rec], index: u64) -> usize {
    recs.iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Rec::Leaf(_)))
        .nth(index as usize)
        .map(|(at, _)| at)
        .expect("the log has that entry")
}

/// The decoded log of a data dir.
fn log_of(data: &Path) -> Vec<LogEntry> {
    read_records(data)
        .iter()
        .filter_map(|r| match r {
            Rec::Leaf(bytes) => Some(LogEntry::decode(bytes).unwrap()),
            _ => None,
        })
        .collect()
}

/// Positions of the entries that `pick` selects.
fn positions(log: &[LogEntry], pick: impl Fn(&Event) -> bool) -> Vec<u64> {
    log.iter()
        .filter(|e| pick(&e.event))
        .map(|e| e.index)
        .collect()
}

/// The ids of the messages of kind `kind` (`alert`, `announce`) that the log's entries of type
/// `event` (`sent`, `received`) record, in log order.
fn logged(log: &[LogEntry], event: &str, kind: &str) -> Vec<MessageId> {
    log.iter()
        .filter(|e| e.event.name() == event)
        .filter_map(|e| match &e.event {
            Event::Sent { msg, .. } | Event::Received { msg, .. } if msg.kind == kind => {
                Some(msg.id)
            }
            _ => None,
        })
        .collect()
}

/// Positions of the `sent` entries of the alerts `ids` (not of the announcements between
/// them), in log order.
fn alerts_sent(log: &[LogEntry], ids: &[MessageId]) -> Vec<u64> {
    let sent = positions(
        log,
        |e| matches!(e, Event::Sent { msg, .. } if ids.contains(&msg.id)),
    );
    assert_eq!(sent.len(), ids.len(), "every alert has its `sent` entry");
    sent
}

/// The first entry about message `id` (where its stored state says it was logged).
fn first_entry_about(log: &[LogEntry], id: &MessageId) -> u64 {
    log.iter()
        .find(|e| e.event.message_ids().contains(id))
        .map(|e| e.index)
        .expect("the message is logged")
}

/// The stored envelope of message `id`, as a mutable record body.
fn body_of<'a>(recs: &'a mut [Rec], id: &MessageId) -> (&'a mut Vec<u8>, &'a mut Vec<u8>) {
    recs.iter_mut()
        .find_map(|r| match r {
            Rec::New { state, body }
                if Envelope::decode(body).is_ok_and(|e| e.signed.id() == *id) =>
            {
                Some((state, body))
            }
            _ => None,
        })
        .expect("the message is stored")
}

/// The sealed text of a stored alert envelope: its ciphertext, the bytes that stand for the
/// alert's text in the signed body (and so in the journal).
fn ciphertext_of(stored: &[u8]) -> Vec<u8> {
    let env = Envelope::decode(stored).expect("a stored envelope");
    match Body::decode(&env.signed.body).expect("a signed body").kind {
        Kind::Sealed(s) if s.kind == "alert" => s.content.ciphertext,
        other => panic!("an alert is stored sealed, not as {}", other.name()),
    }
}

/// Where `needle` is in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("bytes present")
}

/// A copy of a data dir to tamper with.
fn copy_of(data: &Path) -> TempDir {
    let t = tempfile::tempdir().unwrap();
    copy_dir(data, t.path());
    t
}

fn verify(data: &Path, trust: &TrustStore) -> AuditReport {
    audit::verify(data, trust, Uncovered::Refuse, |_, _, _| {})
        .unwrap_or_else(|e| panic!("verify: {e:#}"))
}

/// Asserts the report names a problem at `leaf` whose text contains `text`.
#[track_caller]
fn assert_problem(r: &AuditReport, leaf: Option<u64>, text: &str) {
    assert!(
        r.problems
            .iter()
            .any(|p| p.leaf == leaf && p.what.contains(text)),
        "no problem at {leaf:?} saying {text:?} in {:#?}",
        r.problems
    );
}

// ---------------------------------------------------------------------------------------
// audit::verify
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untouched_exchange_verifies_on_both_sides() {
    let x = exchange().await;
    let trust = x.trust();
    // Each node announces its routes to the other at the session's start (a message like any
    // other: sent, received, receipted), besides the alerts.
    let (log_a, log_b) = (log_of(&x.data(A)), log_of(&x.data(B)));
    assert_eq!(
        logged(&log_a, "sent", "alert"),
        x.ids,
        "every alert A sent, in order"
    );
    let mut received = logged(&log_b, "received", "alert");
    received.sort();
    let mut ids = x.ids.clone();
    ids.sort();
    assert_eq!(received, ids, "every alert B received");
    let announced_a = logged(&log_a, "sent", "announce").len() as u64;
    let announced_b = logged(&log_b, "sent", "announce").len() as u64;
    assert!(announced_a >= 1, "A announces to B");
    assert!(announced_b >= 1, "B announces to A");
    let heard_a = logged(&log_a, "received", "announce").len() as u64;
    let heard_b = logged(&log_b, "received", "announce").len() as u64;
    assert!(heard_a >= 1, "A heard B's announcement");
    assert!(heard_b >= 1, "B heard A's announcement");

    let a = verify(&x.data(A), &trust);
    assert!(a.ok(), "{:#?}", a.problems);
    assert_eq!(a.node, Some(n(A)));
    assert_eq!(a.entries, x.entries_a);
    // The early checkpoint and the one at shutdown, and B's cosigned copy of the early one
    // if it witnessed it in time.
    assert!(a.checkpoints >= 2, "{}", a.checkpoints);
    assert_eq!(
        a.checkpoint_size, x.entries_a,
        "shutdown signs the whole log"
    );
    let sent_a = ALERTS as u64 + announced_a;
    assert_eq!(
        a.by_type.get("sent"),
        Some(&sent_a),
        "A sent the alerts and its announcements, nothing else"
    );
    assert_eq!(
        a.by_type.get("received"),
        Some(&heard_a),
        "A received B's announcements, nothing else"
    );
    assert_eq!(
        a.messages_verified,
        sent_a + heard_a,
        "every alert and announcement A sent or received"
    );
    // The start (with the certificate, the CA and the keys it made) and the stop.
    let admin = 5;
    assert_eq!(a.by_type.get("admin"), Some(&admin), "{:?}", a.by_type);
    let receipts = a.by_type.get("receipt-received").copied().unwrap_or(0);
    assert!((1..=sent_a).contains(&receipts), "{:?}", a.by_type);
    let receipted = a.by_type.get("receipt-sent").copied().unwrap_or(0);
    assert!((1..=heard_a).contains(&receipted), "{:?}", a.by_type);
    assert_eq!(
        a.entries,
        admin + sent_a + heard_a + receipts + receipted,
        "{:?}",
        a.by_type
    );
    assert_eq!((a.purged, a.torn_bytes), (0, 0));
    assert_eq!(
        a.answers_verified,
        receipts + receipted,
        "every receipt A received or signed is kept and verifies"
    );

    let b = verify(&x.data(B), &trust);
    assert!(b.ok(), "{:#?}", b.problems);
    assert_eq!(b.node, Some(n(B)));
    assert_eq!(b.entries, x.entries_b);
    assert!(b.checkpoints >= 1, "the one at shutdown");
    assert_eq!(b.checkpoint_size, x.entries_b);
    let received_b = ALERTS as u64 + heard_b;
    assert_eq!(
        b.by_type.get("received"),
        Some(&received_b),
        "B received the alerts and A's announcements, nothing else"
    );
    assert_eq!(
        b.by_type.get("sent"),
        Some(&announced_b),
        "B sent its announcements, nothing else"
    );
    assert_eq!(
        b.messages_verified,
        received_b + announced_b,
        "every alert and announcement B received or sent"
    );
    let receipted = b.by_type.get("receipt-sent").copied().unwrap_or(0);
    assert!((1..=received_b).contains(&receipted), "{:?}", b.by_type);
    let receipts = b.by_type.get("receipt-received").copied().unwrap_or(0);
    assert!((1..=announced_b).contains(&receipts), "{:?}", b.by_type);
    assert_eq!(
        b.answers_verified,
        receipted + receipts,
        "every receipt B signed or received is kept and verifies"
    );

    // The rewriting helper the other tests use is faithful: the same records in a fresh
    // journal (new salt, one batch) verify exactly as the original.
    for (node, before) in [(A, &a), (B, &b)] {
        let copy = copy_of(&x.data(node));
        let original = std::fs::read(journal_path(copy.path())).unwrap();
        rewrite_journal(copy.path(), |_| {});
        assert_ne!(
            std::fs::read(journal_path(copy.path())).unwrap(),
            original,
            "{node}: the journal was really rewritten"
        );
        assert_eq!(read_records(copy.path()), read_records(&x.data(node)));
        let after = verify(copy.path(), &trust);
        assert!(after.ok(), "{node}: {:#?}", after.problems);
        assert_eq!(
            (after.entries, after.root, after.messages_verified),
            (before.entries, before.root, before.messages_verified),
            "{node}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_entry_is_named_where_it_was_removed() {
    let x = exchange().await;
    let copy = copy_of(&x.data(A));
    let log = log_of(copy.path());
    // The second alert's `sent` entry, which the early checkpoint covers.
    let k = alerts_sent(&log, &x.ids)[1];
    assert_eq!(log[k as usize].event.message_ids(), [x.ids[1]]);
    let early_size = checkpoint::size_of(&x.early).unwrap();
    assert!(
        k + 1 < early_size,
        "entry {k} is in the middle, under the early checkpoint"
    );
    rewrite_journal(copy.path(), |recs| {
        recs.remove(leaf_at(recs, k));
    });

    let r = verify(copy.path(), &x.trust());
    let first = &r.problems[0];
    assert_eq!(first.leaf, Some(k), "{:#?}", r.problems);
    assert_eq!(
        first.what,
        format!(
            "the leaf at position {k} says it is entry {}: entries were removed, inserted or reordered here",
            k + 1
        )
    );
    assert_eq!(r.entries, x.entries_a - 1);
    // The early checkpoint's root no longer matches; the last one signed an entry more than
    // the log now holds, and the removal is placed where the log stops being in order.
    assert_problem(
        &r,
        None,
        &format!("the first {early_size} entries do not hash to the root"),
    );
    assert_problem(
        &r,
        Some(k),
        &format!(
            "signs a log of {} entries, but the log holds only {}: entries were removed at entry {k} or after it",
            x.entries_a,
            x.entries_a - 1
        ),
    );
    // The deleted alert is still stored: the store names the entry it was logged at.
    assert_problem(
        &r,
        Some(k),
        &format!("message {} is stored but no log entry records it", x.ids[1]),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_entries_are_named_at_the_first_position() {
    let x = exchange().await;
    let copy = copy_of(&x.data(A));
    let log = log_of(copy.path());
    let sent = alerts_sent(&log, &x.ids);
    let (i, j) = (sent[0], sent[2]);
    rewrite_journal(copy.path(), |recs| {
        let (ri, rj) = (leaf_at(recs, i), leaf_at(recs, j));
        recs.swap(ri, rj);
    });

    let r = verify(copy.path(), &x.trust());
    assert!(!r.ok());
    assert_eq!(r.entries, x.entries_a, "nothing removed");
    let first = &r.problems[0];
    assert_eq!(first.leaf, Some(i), "{:#?}", r.problems);
    assert_eq!(
        first.what,
        format!(
            "the leaf at position {i} says it is entry {j}: entries were removed, inserted or reordered here"
        )
    );
    assert_problem(&r, Some(j), &format!("says it is entry {i}"));
    assert_problem(&r, None, "do not hash to the root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_message_body_is_named_by_its_id() {
    let x = exchange().await;
    let trust = x.trust();
    let log = log_of(&x.data(B));
    let id = x.ids[1];
    let at = first_entry_about(&log, &id);
    assert!(matches!(log[at as usize].event, Event::Received { .. }));
    let untouched = verify(&x.data(B), &trust);
    assert!(untouched.ok(), "{:#?}", untouched.problems);

    // One byte of the alert's sealed text, inside the signed body; the journal's checksums
    // are recomputed, so only the message's own id can tell.
    let copy = copy_of(&x.data(B));
    let mut sealed = Vec::new();
    rewrite_journal(copy.path(), |recs| {
        let (_, body) = body_of(recs, &id);
        sealed = ciphertext_of(body);
        let p = find(body, &sealed);
        body[p] ^= 1;
    });
    let r = verify(copy.path(), &trust);
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    assert_eq!(r.problems[0].leaf, Some(at));
    assert!(
        r.problems[0].what.starts_with(&format!(
            "stored message {id} was altered: its body now hashes to"
        )),
        "{}",
        r.problems[0]
    );
    assert_eq!(
        r.messages_verified,
        untouched.messages_verified - 1,
        "every other message (the alerts and A's announcements) still verifies"
    );

    // The crude attacker flips the byte in place without fixing any checksum. The alert is
    // not in the last batch, whose bodies are the only ones replay checksums: the id still
    // catches it.
    let copy = copy_of(&x.data(B));
    let path = journal_path(copy.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let p = find(&bytes, &sealed);
    bytes[p] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let r = verify(copy.path(), &trust);
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    assert_eq!(r.problems[0].leaf, Some(at));
    assert!(r.problems[0]
        .what
        .contains(&format!("stored message {id} was altered")));

    // A flipped byte in the first batch's records, with valid batches after it, is damage:
    // verification refuses and says where the damaged batch starts.
    let copy = copy_of(&x.data(B));
    let path = journal_path(copy.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(FILE_HEADER + HEADER) as usize + 5] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let err =
        audit::verify(copy.path(), &trust, Uncovered::Refuse, |_, _, _| {}).expect_err("damage");
    let msg = format!("{err:#}");
    assert!(
        msg.contains(&format!("damaged at byte {FILE_HEADER} (meta checksum)")),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_cut_below_its_checkpoint_is_reported_at_its_end() {
    let x = exchange().await;
    let copy = copy_of(&x.data(A));
    let kept = x.entries_a - 2;
    rewrite_journal(copy.path(), |recs| {
        for index in [kept + 1, kept] {
            recs.remove(leaf_at(recs, index));
        }
    });

    let r = verify(copy.path(), &x.trust());
    assert_eq!(r.entries, kept);
    assert_problem(
        &r,
        Some(kept),
        &format!(
            "signs a log of {} entries, but the log holds only {kept}: entries were removed from its end",
            x.entries_a
        ),
    );
    assert!(
        !r.problems
            .iter()
            .any(|p| p.what.contains("reordered") || p.what.contains("do not hash")),
        "the entries left are in place and match the early checkpoint: {:#?}",
        r.problems
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_checkpoint_note_does_not_verify() {
    let x = exchange().await;
    let note = x.last_checkpoint(A);
    let lines: Vec<String> = note.lines().map(str::to_owned).collect();
    assert_eq!(lines[1], x.entries_a.to_string(), "{note}");
    let root = lines[2].clone();
    let other = if root.starts_with('A') { "B" } else { "A" };

    for (what, line, value) in [
        ("size", 1, (x.entries_a - 1).to_string()),
        ("root", 2, format!("{other}{}", &root[1..])),
    ] {
        let copy = copy_of(&x.data(A));
        let mut edited = lines.clone();
        edited[line] = value;
        std::fs::write(copy.path().join(checkpoint::FILE), edited.join("\n") + "\n").unwrap();
        let r = verify(copy.path(), &x.trust());
        assert_eq!(r.problems.len(), 1, "{what}: {:#?}", r.problems);
        assert_eq!(r.problems[0].leaf, None, "{what}");
        assert!(
            r.problems[0]
                .what
                .starts_with(&format!("{} does not verify", checkpoint::FILE)),
            "{what}: {}",
            r.problems[0]
        );
    }
}

/// Without a purge in the log, a message's stored state cannot say its body was purged: else
/// an attacker sets the flag and rewrites the body, and nothing checks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_marked_purged_without_a_purge_entry_is_reported() {
    let x = exchange().await;
    let id = x.ids[2];
    let at = first_entry_about(&log_of(&x.data(B)), &id);
    let copy = copy_of(&x.data(B));
    rewrite_journal(copy.path(), |recs| {
        let (state, body) = body_of(recs, &id);
        // `purged` is the state's last field: postcard writes a bool as one byte.
        assert_eq!(state.last(), Some(&0));
        *state.last_mut().unwrap() = 1;
        let p = find(body, &ciphertext_of(body));
        body[p] ^= 1;
    });

    // The edit means what it says: the store reads the message as purged.
    let signer = liaison_certs::load_signer(
        &x.c.node_dir(B).join("node.crt"),
        &x.c.node_dir(B).join("node.key"),
    )
    .unwrap();
    let store = Store::open(copy.path(), std::sync::Arc::new(signer)).unwrap();
    assert!(store.state(&id).unwrap().unwrap().purged);
    store.shutdown().await.unwrap();
    drop(store);

    let r = verify(copy.path(), &x.trust());
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    assert_eq!(r.problems[0].leaf, Some(at), "{:#?}", r.problems);
    assert_eq!(
        r.problems[0].what,
        format!("message {id} is stored as purged, but no log entry records its purge")
    );
}

/// Deletes both checkpoint files of a data dir, as the tester did.
fn delete_checkpoint_files(data: &Path) {
    std::fs::remove_file(data.join(checkpoint::FILE)).unwrap();
    std::fs::remove_file(data.join(checkpoint::HISTORY)).unwrap();
    assert!(
        checkpoint::history(data).unwrap().is_empty(),
        "no checkpoint history left"
    );
}

/// The problem (or warning) a data dir of `entries` log entries without checkpoint files gets.
fn no_checkpoint(entries: u64) -> String {
    format!(
        "no checkpoint: {} and {} are both missing, so none of the {entries} log entries is \
         covered by a checkpoint signed by the node",
        checkpoint::FILE,
        checkpoint::HISTORY
    )
}

fn verify_allowing_uncovered(data: &Path, trust: &TrustStore) -> AuditReport {
    audit::verify(data, trust, Uncovered::Allow, |_, _, _| {})
        .unwrap_or_else(|e| panic!("verify: {e:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_fails_on_an_edited_copy_with_its_checkpoint_files_deleted() {
    let x = exchange().await;
    let trust = x.trust();
    let id = x.ids[1];
    let at = first_entry_about(&log_of(&x.data(B)), &id);
    // One byte of the alert's sealed text flipped in place, and nothing the node signed
    // left to compare the log with.
    let copy = copy_of(&x.data(B));
    let path = journal_path(copy.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let mut recs = read_records(copy.path());
    let sealed = ciphertext_of(body_of(&mut recs, &id).1);
    let p = find(&bytes, &sealed);
    bytes[p] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    delete_checkpoint_files(copy.path());

    let r = verify(copy.path(), &trust);
    assert_eq!(r.problems.len(), 2, "{:#?}", r.problems);
    assert_eq!(r.problems[0].leaf, None);
    assert_eq!(r.problems[0].what, no_checkpoint(x.entries_b));
    assert_problem(&r, Some(at), &format!("stored message {id} was altered"));
    assert_eq!((r.checkpoints, r.checkpoint_size), (0, 0));
    assert_eq!(r.uncovered_entries, x.entries_b);
    assert!(r.warnings.is_empty());

    // Allowing uncovered entries does not hide the altered message.
    let r = verify_allowing_uncovered(copy.path(), &trust);
    assert!(!r.ok());
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    assert_eq!(r.problems[0].leaf, Some(at));
    assert_eq!(r.warnings, [no_checkpoint(x.entries_b)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_fails_without_checkpoint_files() {
    let x = exchange().await;
    let trust = x.trust();
    let copy = copy_of(&x.data(A));
    delete_checkpoint_files(copy.path());

    let r = verify(copy.path(), &trust);
    assert!(!r.ok());
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    assert_eq!(r.problems[0].leaf, None);
    assert_eq!(r.problems[0].what, no_checkpoint(x.entries_a));
    assert_eq!(r.uncovered_entries, x.entries_a);

    let r = verify_allowing_uncovered(copy.path(), &trust);
    assert!(r.ok(), "{:#?}", r.problems);
    assert_eq!(r.warnings, [no_checkpoint(x.entries_a)]);
    assert_eq!((r.entries, r.uncovered_entries), (x.entries_a, x.entries_a));

    // The command: exit 1 and the problem; with --allow-uncovered, exit 0 and the warning.
    let ca = x.ca();
    let run = liaison(&["audit", "verify", "--data", s(copy.path()), "--ca", s(&ca)]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "FAILED: 1 problem(s); first: {}",
            no_checkpoint(x.entries_a)
        )),
        "{run:?}"
    );
    let run = liaison(&[
        "audit",
        "verify",
        "--data",
        s(copy.path()),
        "--ca",
        s(&ca),
        "--allow-uncovered",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("warning: {}\n", no_checkpoint(x.entries_a))),
        "{run:?}"
    );
    assert!(
        run.stdout.ends_with(
            "OK: everything holds but the 1 warning(s) above (accepted with --allow-uncovered)\n"
        ),
        "{run:?}"
    );
    let run = liaison(&[
        "audit",
        "verify",
        "--data",
        s(copy.path()),
        "--ca",
        s(&ca),
        "--json",
    ]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["uncovered_entries"], x.entries_a);
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(v["problems"][0]["what"], no_checkpoint(x.entries_a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_fails_on_uncovered_entries() {
    let x = exchange().await;
    let trust = x.trust();
    let early = checkpoint::size_of(&x.early).unwrap();
    let live = x.running_a.path();
    let r = verify(live, &trust);
    assert_eq!(
        r.entries, x.running_entries_a,
        "the copy holds the whole log"
    );
    let uncovered = x.running_entries_a - early;
    assert!(
        uncovered >= MORE as u64,
        "at least the second wave's alerts"
    );
    assert_eq!((r.checkpoint_size, r.uncovered_entries), (early, uncovered));
    let expected = format!(
        "{uncovered} log entries from entry {early} on are covered by no checkpoint signed by \
         the node (it signs one every interval and when it stops)"
    );
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    assert_eq!(r.problems[0].leaf, None);
    assert_eq!(r.problems[0].what, expected);

    let r = verify_allowing_uncovered(live, &trust);
    assert!(r.ok(), "{:#?}", r.problems);
    assert_eq!(r.warnings, std::slice::from_ref(&expected));

    let run = liaison(&["audit", "verify", "--data", s(live), "--ca", s(&x.ca())]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains(&expected), "{run:?}");

    // The same node stopped signed the rest: its data dir is covered to the end.
    let r = verify(&x.data(A), &trust);
    assert!(r.ok(), "{:#?}", r.problems);
    assert_eq!(r.uncovered_entries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_checks_the_last_checkpoint_against_the_history() {
    let x = exchange().await;
    let trust = x.trust();
    let (file, hist) = (checkpoint::FILE, checkpoint::HISTORY);
    let history = checkpoint::history(&x.data(A)).unwrap();
    let newest = x.entries_a;
    let early = checkpoint::size_of(&x.early).unwrap();

    // What a crash between the node's two writes (the history first, then the note) leaves:
    // a problem, or with uncovered entries allowed a warning.
    let missing = copy_of(&x.data(A));
    std::fs::remove_file(missing.path().join(file)).unwrap();
    let older = copy_of(&x.data(A));
    std::fs::write(older.path().join(file), &x.early).unwrap();
    for (copy, expected) in [
        (
            &missing,
            format!(
                "{file} is missing, though {hist} holds {} checkpoint(s)",
                history.len()
            ),
        ),
        (
            &older,
            format!(
                "{file} signs {early} entries, fewer than the newest checkpoint in {hist} \
                 ({newest})"
            ),
        ),
    ] {
        let r = verify(copy.path(), &trust);
        assert_eq!(r.problems.len(), 1, "{expected}: {:#?}", r.problems);
        assert!(
            r.problems[0].what.starts_with(&expected),
            "{:#?}",
            r.problems
        );
        assert_eq!(r.uncovered_entries, 0, "the history covers the whole log");
        let r = verify_allowing_uncovered(copy.path(), &trust);
        assert!(r.ok(), "{expected}: {:#?}", r.problems);
        assert_eq!(r.warnings.len(), 1, "{:#?}", r.warnings);
        assert!(r.warnings[0].starts_with(&expected), "{:#?}", r.warnings);
    }

    // The history without its last checkpoints (those of the whole log) while the note has
    // it: the node never leaves that, so it is a problem either way.
    let lost = copy_of(&x.data(A));
    std::fs::remove_file(lost.path().join(hist)).unwrap();
    let kept: Vec<&String> = history
        .iter()
        .filter(|n| checkpoint::size_of(n) != Some(newest))
        .collect();
    let left = kept.iter().filter_map(|n| checkpoint::size_of(n)).max();
    assert_eq!(left, Some(early), "the early checkpoint is left");
    for note in kept {
        checkpoint::append_history(&lost.path().join(file), note).unwrap();
    }
    let expected = format!(
        "{file} signs {newest} entries, but the newest checkpoint in {hist} signs only {early}: \
         the node writes every checkpoint to the history before {file}, so checkpoints were \
         lost from the history"
    );
    for allowed in [Uncovered::Refuse, Uncovered::Allow] {
        let r = audit::verify(lost.path(), &trust, allowed, |_, _, _| {}).unwrap();
        assert_eq!(r.problems.len(), 1, "{allowed:?}: {:#?}", r.problems);
        assert_eq!(r.problems[0].what, expected, "{allowed:?}");
        assert!(r.warnings.is_empty(), "{allowed:?}: {:#?}", r.warnings);
    }
}

// ---------------------------------------------------------------------------------------
// audit::prove, check_proof, consistency
// ---------------------------------------------------------------------------------------

/// The base64 of a PEM's DER (its lines between the markers).
fn pem_base64(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// `s` with its character at `at` replaced by another base64 letter.
fn other_char(s: &str, at: usize) -> String {
    let c = if s.as_bytes()[at] == b'A' { "B" } else { "A" };
    format!("{}{c}{}", &s[..at], &s[at + 1..])
}

/// The error `check_proof` gives, which must be one.
#[track_caller]
fn refused(proof: &ProofFile, trust: &TrustStore) -> String {
    match audit::check_proof(proof, trust) {
        Ok(c) => panic!("accepted: {} entries", c.entries.len()),
        Err(e) => format!("{e:#}"),
    }
}

#[track_caller]
fn assert_refused(what: &str, proof: &ProofFile, trust: &TrustStore, expected: &str) {
    let msg = refused(proof, trust);
    assert!(msg.contains(expected), "{what}: {msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_proof_checks_and_every_tampering_is_refused() {
    let x = exchange().await;
    let trust = x.trust();
    let data = x.data(B);
    let id = x.ids[0];

    let proof = audit::prove(&data, &trust, &id).unwrap();
    let checked = audit::check_proof(&proof, &trust).unwrap();
    assert_eq!(checked.node, n(B));
    assert_eq!(checked.size, x.entries_b);
    let about: Vec<LogEntry> = log_of(&data)
        .into_iter()
        .filter(|e| e.event.message_ids().contains(&id))
        .collect();
    assert_eq!(checked.entries, about, "every entry about the message");
    let names: Vec<&str> = checked.entries.iter().map(|e| e.event.name()).collect();
    assert_eq!(names, ["received", "receipt-sent"]);
    let i = proof.entries[0].index;

    let mut p = proof.clone();
    p.entries[0].path[0] = other_char(&p.entries[0].path[0], 0);
    assert_refused(
        "a path hash changed",
        &p,
        &trust,
        &format!("entry {i}: not included in the checkpoint's tree"),
    );

    let mut p = proof.clone();
    let mid = p.entries[0].leaf.len() / 2;
    p.entries[0].leaf = other_char(&p.entries[0].leaf, mid);
    assert_refused(
        "the leaf changed",
        &p,
        &trust,
        &format!("entry {i}: not included in the checkpoint's tree"),
    );

    let mut p = proof.clone();
    p.checkpoint = p.checkpoint.replacen(
        &format!("\n{}\n", x.entries_b),
        &format!("\n{}\n", x.entries_b + 1),
        1,
    );
    assert_ne!(p.checkpoint, proof.checkpoint);
    assert_refused(
        "the checkpoint's size changed",
        &p,
        &trust,
        &format!("the checkpoint does not verify with {B}'s key"),
    );

    let mut p = proof.clone();
    p.message = x.ids[1].to_string();
    assert_refused(
        "another message named",
        &p,
        &trust,
        &format!("entry {i}: is not about message {}", x.ids[1]),
    );

    // Another node's certificate, from the trusted CA: the checkpoint is not its.
    let mut p = proof.clone();
    let a_pem = std::fs::read_to_string(x.c.node_dir(A).join("node.crt")).unwrap();
    p.node_certificates = vec![pem_base64(&a_pem)];
    assert_refused(
        "A's certificate",
        &p,
        &trust,
        &format!("the checkpoint does not verify with {A}'s key"),
    );

    // A certificate for B from an impostor CA claiming the same network, and one from a
    // network the auditor does not trust at all.
    let impostor = TestPki::new(&[NETWORK]);
    let mut p = proof.clone();
    p.node_certificates = vec![pem_base64(&impostor.node(B).cert_pem)];
    assert_refused(
        "an impostor CA's certificate",
        &p,
        &trust,
        "node certificate 1: certificate does not chain to a trusted CA of its network",
    );
    let gulf = TestPki::new(&["gulf"]);
    let mut p = proof.clone();
    p.node_certificates = vec![pem_base64(&gulf.node("om-dcu.gulf").cert_pem)];
    assert_refused(
        "an untrusted network's certificate",
        &p,
        &trust,
        "node certificate 1: ",
    );
    assert!(refused(&p, &trust).contains("(unknown-ca)"));

    // The genuine proof, checked with only the wrong CA.
    assert_refused(
        "only the impostor CA",
        &proof,
        &impostor.trust(),
        "node certificate 1: certificate does not chain to a trusted CA of its network",
    );
    assert_refused(
        "only another network's CA",
        &proof,
        &gulf.trust(),
        "(unknown-ca)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistency_holds_between_real_checkpoints_only() {
    let x = exchange().await;
    let trust = x.trust();
    let data = x.data(A);
    let (old, new) = (x.early.clone(), x.last_checkpoint(A));
    let old_size = checkpoint::size_of(&old).unwrap();
    assert!(old_size < x.entries_a);
    assert_eq!(checkpoint::size_of(&new), Some(x.entries_a));

    let hashes = audit::consistency(&data, &trust, &old, &new).unwrap();
    assert!(!hashes.is_empty());

    let err = audit::consistency(&data, &trust, &new, &old).expect_err("swapped");
    assert_eq!(
        err.to_string(),
        format!(
            "the old checkpoint ({} entries) is larger than the new one ({old_size})",
            x.entries_a
        )
    );

    let b_note = x.last_checkpoint(B);
    let err = audit::consistency(&data, &trust, &old, &b_note).expect_err("B's checkpoint");
    assert!(
        err.to_string().starts_with(&format!(
            "the new checkpoint does not verify with {A}'s key"
        )),
        "{err:#}"
    );

    // A log rewritten after the old checkpoint (one entry's time moved by a millisecond)
    // cannot prove the two signed checkpoints consistent.
    let copy = copy_of(&data);
    rewrite_journal(copy.path(), |recs| {
        let at = leaf_at(recs, old_size);
        let Rec::Leaf(bytes) = &recs[at] else {
            unreachable!()
        };
        let mut e = LogEntry::decode(bytes).unwrap();
        e.at = Timestamp(e.at.0 + 1);
        recs[at] = Rec::Leaf(e.encode());
    });
    let err = audit::consistency(copy.path(), &trust, &old, &new).expect_err("rewritten");
    assert!(
        err.to_string()
            .starts_with("the checkpoints are not consistent"),
        "{err:#}"
    );
}

// ---------------------------------------------------------------------------------------
// `liaison audit …`
// ---------------------------------------------------------------------------------------

/// The `liaison` binary, built on first use: cargo builds a dependency's library for this
/// crate's tests, not its binaries (`LIAISON_BIN` names a prebuilt one instead).
fn liaison_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("LIAISON_BIN") {
            return bin.into();
        }
        // This test runs from <target>/<profile>/deps/.
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "-p", "liaison-cli", "--bin", "liaison"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        let profile = dir.file_name().and_then(|p| p.to_str()).unwrap_or("debug");
        if profile != "debug" {
            build.args(["--profile", profile]);
        }
        let out = build.output().expect("run cargo");
        assert!(
            out.status.success(),
            "cargo build -p liaison-cli --bin liaison:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir.join("liaison")
    })
}

/// A finished `liaison` run.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn liaison(args: &[&str]) -> Run {
    let out = Command::new(liaison_bin())
        .args(args)
        .env_remove("LIAISON_CONFIG")
        .env_remove("LIAISON_API")
        .env_remove("LIAISON_TOKEN_FILE")
        .output()
        .expect("run liaison");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_audit_verify_exits_by_whether_everything_holds() {
    let x = exchange().await;
    let ca = x.ca();
    let data = x.data(A);

    let run = liaison(&["audit", "verify", "--data", s(&data), "--ca", s(&ca)]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("OK: everything holds"), "{run:?}");
    assert!(
        run.stdout
            .contains(&format!("log of {A}: {} entries", x.entries_a)),
        "{run:?}"
    );

    let copy = copy_of(&data);
    let sent = alerts_sent(&log_of(&data), &x.ids);
    let (i, j) = (sent[0], sent[1]);
    rewrite_journal(copy.path(), |recs| {
        let (ri, rj) = (leaf_at(recs, i), leaf_at(recs, j));
        recs.swap(ri, rj);
    });
    let run = liaison(&["audit", "verify", "--data", s(copy.path()), "--ca", s(&ca)]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("FAILED: "), "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "first: entry {i}: the leaf at position {i} says it is entry {j}"
        )),
        "{run:?}"
    );

    let run = liaison(&[
        "audit",
        "verify",
        "--data",
        s(copy.path()),
        "--ca",
        s(&ca),
        "--json",
    ]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["entries"], x.entries_a);
    assert_eq!(v["problems"][0]["leaf"], i);
    assert!(v["problems"][0]["what"]
        .as_str()
        .unwrap()
        .contains("reordered"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_audit_prove_check_and_export() {
    let x = exchange().await;
    let ca = x.ca();
    let data = x.data(B);
    let out = tempfile::tempdir().unwrap();
    let proof = out.path().join("proof.json");
    let id = x.ids[0].to_string();

    let run = liaison(&[
        "audit",
        "prove",
        "--data",
        s(&data),
        "--ca",
        s(&ca),
        "--id",
        &id,
        "--out",
        s(&proof),
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let run = liaison(&["audit", "check-proof", s(&proof), "--ca", s(&ca)]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.starts_with(&format!(
            "OK: 2 entries about message {id} are in the log of {B}"
        )),
        "{run:?}"
    );

    // Checked against a CA that did not issue B's certificate, it fails.
    let impostor = TestPki::new(&[NETWORK]);
    let wrong_ca = out.path().join("impostor-ca.crt");
    std::fs::write(
        &wrong_ca,
        liaison_certs::load::to_pem("CERTIFICATE", impostor.ca(NETWORK).cert_der()),
    )
    .unwrap();
    let run = liaison(&["audit", "check-proof", s(&proof), "--ca", s(&wrong_ca)]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("node certificate 1"), "{run:?}");

    let run = liaison(&[
        "audit",
        "export",
        "--data",
        s(&data),
        "--ca",
        s(&ca),
        "--format",
        "jsonl",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["record"], "checkpoint");
    assert_eq!(lines[0]["size"], x.entries_b);
    assert_eq!(lines[0]["note"], x.last_checkpoint(B));
    let log = log_of(&data);
    assert_eq!(
        lines.len() - 1,
        log.len(),
        "every entry the checkpoint covers"
    );
    for (line, e) in lines[1..].iter().zip(&log) {
        assert_eq!(line["leaf"], e.index, "{line}");
        assert_eq!(line["event"], e.event.name(), "{line}");
    }

    let run = liaison(&[
        "audit",
        "export",
        "--data",
        s(&data),
        "--ca",
        s(&ca),
        "--format",
        "csv",
    ]);
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("--out"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_receipts_prove_delivery_and_cannot_be_altered() {
    let x = exchange().await;
    let trust = x.trust();
    // B's receipts of the alerts, as A logged them (A also keeps B's receipts of its
    // announcements and the receipts it signed for B's: not those).
    let about_alerts = |ids: &[MessageId]| ids.iter().any(|id| x.ids.contains(id));
    let delivered = positions(
        &log_of(&x.data(A)),
        |e| matches!(e, Event::ReceiptReceived { ids, .. } if about_alerts(ids)),
    );
    let is_delivery = |r: &Rec| matches!(r, Rec::Signed { leaf, .. } if delivered.contains(leaf));
    // A kept receipt (B's signature over the ids it received) altered in A's journal, with
    // checksums fixed: named at its entry.
    let copy = copy_of(&x.data(A));
    let mut at = None;
    rewrite_journal(copy.path(), |recs| {
        if let Some(Rec::Signed { leaf, body }) = recs.iter_mut().find(|r| is_delivery(r)) {
            let last = body.len() - 1;
            body[last] ^= 1;
            at = Some(*leaf);
        }
    });
    let at = at.expect("A keeps B's receipts");
    let r = verify(copy.path(), &trust);
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    assert_eq!(r.problems[0].leaf, Some(at));
    assert!(
        r.problems[0].what.contains("receipt or refusal"),
        "{}",
        r.problems[0]
    );

    // Removed: the entry still names it, so its absence is reported there.
    let copy = copy_of(&x.data(A));
    rewrite_journal(copy.path(), |recs| {
        let i = recs.iter().position(is_delivery).unwrap();
        recs.remove(i);
    });
    let r = verify(copy.path(), &trust);
    assert_eq!(r.problems.len(), 1, "{:#?}", r.problems);
    assert_eq!(r.problems[0].leaf, Some(at));
    assert!(
        r.problems[0].what.contains("which is not kept"),
        "{}",
        r.problems[0]
    );
}
