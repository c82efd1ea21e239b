//! The store's journal on real files: a restart rebuilds every in-memory index from it, an
//! incomplete last batch (a write a crash interrupted) is cut off and the rest kept, and damage
//! followed by valid data, or a journal behind the signed checkpoint, refuses to start.
//!
//! The tests alter `<data_dir>/store/journal-v1` directly, reading batch boundaries from the
//! documented format (a header: magic, meta length, bodies length, two checksums).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use liaison_certs::IssuedCert;
use liaison_node::store::journal::{self, FILE_HEADER, HEADER};

/// Where the first batch starts: after the journal's file header.
const B0: usize = FILE_HEADER as usize;
use liaison_node::audit::AuditReport;
use liaison_node::store::checkpoint::keep_cert;
use liaison_node::store::{Accepted, MessageState, Store};
use liaison_protocol::log::{Event, LogEntry, MessageFacts};
use liaison_protocol::merkle::Hash;
use liaison_protocol::{CaseId, Envelope, MessageId, NodeId, ReceiptStatus, Signer};
use liaison_tests::{signer, TestPki};

fn n(s: &str) -> NodeId {
    s.parse().unwrap()
}

struct Fixture {
    pki: TestPki,
    kz_cert: IssuedCert,
    /// This node.
    kz: Arc<Signer>,
    /// A remote originator whose messages this node receives.
    om: Signer,
}

fn fixture() -> Fixture {
    let pki = TestPki::new(&["central-asia", "gulf"]);
    let kz_cert = pki.node("kz-dcu.central-asia");
    let kz = Arc::new(signer(&kz_cert));
    let om = signer(&pki.node("om-dcu.gulf"));
    Fixture {
        pki,
        kz_cert,
        kz,
        om,
    }
}

impl Fixture {
    fn open(&self, dir: &Path) -> anyhow::Result<Store> {
        Ok(Store::open(dir, self.kz.clone())?)
    }

    /// The auditor's offline check (`liaison audit verify`, also run by `liaison demo`) on a
    /// stopped store's data dir; an error unless everything holds. A bare store signs a
    /// checkpoint only when asked (a node signs one every interval and when it stops), so
    /// entries after the last one are allowed.
    fn verify(&self, dir: &Path) -> anyhow::Result<AuditReport> {
        keep_cert(dir, &self.kz_cert.cert_der)?;
        let r = liaison_node::audit::verify(
            dir,
            &self.pki.trust(),
            liaison_node::audit::Uncovered::Allow,
            |_, _, _| {},
        )?;
        match r.problems.first() {
            None => Ok(r),
            Some(p) => anyhow::bail!("{p}"),
        }
    }
}

/// A freshly signed sample alert by `s` (distinct nonce per `i`), optionally in `case`.
fn message(s: &Signer, i: u64, case: Option<&CaseId>) -> (Envelope, MessageFacts) {
    liaison_tests::stored_alert(s, i, case)
}

/// Originates messages `range` to `to`, each awaited (so each is its own batch), and closes
/// the store.
async fn originate_each(store: Store, s: &Signer, range: std::ops::Range<u64>, to: &NodeId) {
    for i in range {
        let (env, facts) = message(s, i, None);
        store.originate(env, facts, vec![to.clone()]).await.unwrap();
    }
    store.shutdown().await.unwrap();
}

fn journal_path(dir: &Path) -> PathBuf {
    dir.join("store").join(journal::FILE)
}

fn file_len(dir: &Path) -> u64 {
    std::fs::metadata(journal_path(dir)).unwrap().len()
}

fn read_journal(dir: &Path) -> Vec<u8> {
    std::fs::read(journal_path(dir)).unwrap()
}

fn write_journal(dir: &Path, bytes: &[u8]) {
    std::fs::write(journal_path(dir), bytes).unwrap();
}

fn append_journal(dir: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(journal_path(dir))
        .unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

fn truncate_journal(dir: &Path, len: u64) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(journal_path(dir))
        .unwrap();
    f.set_len(len).unwrap();
    f.sync_all().unwrap();
}

/// Start offsets of the batches of a well-formed journal, read from their headers, with the
/// file length last. Panics if the headers do not tile the file exactly.
fn batch_starts(bytes: &[u8]) -> Vec<u64> {
    let field = |at: usize| u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()));
    assert_eq!(&bytes[..4], b"LJF1", "journal file header");
    let mut starts = vec![FILE_HEADER];
    let mut pos = B0;
    while pos < bytes.len() {
        assert_eq!(&bytes[pos..pos + 4], b"LJB1", "batch header at byte {pos}");
        pos += (HEADER + field(pos + 4) + field(pos + 8)) as usize;
        starts.push(pos as u64);
    }
    assert_eq!(pos, bytes.len(), "batches tile the journal");
    starts
}

/// Deterministic filler bytes (xorshift), so a failure reproduces.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// Everything a caller can read from a store, for comparison across restarts.
#[derive(Debug, PartialEq)]
struct Snapshot {
    log_size: u64,
    log_root: Hash,
    entries: Vec<Option<LogEntry>>,
    outboxes: Vec<(NodeId, Vec<(u64, MessageId)>)>,
    depths: BTreeMap<NodeId, u64>,
    inbox: Vec<(u64, MessageState)>,
    unread: u64,
    states: Vec<(MessageId, Option<MessageState>)>,
    envelopes: Vec<(MessageId, Option<Vec<u8>>)>,
    case: Vec<MessageId>,
    size_on_disk: u64,
}

fn snapshot(store: &Store, peers: &[NodeId], ids: &[MessageId], case: &CaseId) -> Snapshot {
    let log_size = store.log_size();
    Snapshot {
        log_size,
        log_root: store.log_root(),
        // One past the end too: it must stay absent.
        entries: (0..=log_size)
            .map(|i| store.log_entry(i).unwrap())
            .collect(),
        outboxes: peers
            .iter()
            .map(|p| (p.clone(), store.outbox(p, 0, 1000).unwrap()))
            .collect(),
        depths: store.outbox_depths(),
        inbox: store
            .inbox(0, 1000)
            .unwrap()
            .into_iter()
            .map(|item| (item.seq, item.state))
            .collect(),
        unread: store.unread(),
        states: ids
            .iter()
            .map(|id| (*id, store.state(id).unwrap()))
            .collect(),
        envelopes: ids
            .iter()
            .map(|id| (*id, store.envelope_bytes(id).unwrap()))
            .collect(),
        case: store.case_messages(case).unwrap(),
        size_on_disk: store.size_on_disk(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_rebuilds_every_index() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let (om, bh, caricc) = (n("om-dcu.gulf"), n("bh-dcu.gulf"), n("caricc.central-asia"));
    let peers = [om.clone(), bh.clone()];
    let case: CaseId = "CARICC-2026-0042".parse().unwrap();
    let store = f.open(dir.path()).unwrap();

    // Originated: o0..o2 to om one by one, o3 and o4 to both peers in one go, o5 to bh.
    let mut originated = Vec::new();
    for i in 0..3 {
        let (env, facts) = message(&f.kz, i, None);
        originated.push(facts.id);
        store.originate(env, facts, vec![om.clone()]).await.unwrap();
    }
    let (e3, f3) = message(&f.kz, 3, None);
    let (e4, f4) = message(&f.kz, 4, None);
    originated.extend([f3.id, f4.id]);
    let (a, b) = tokio::join!(
        store.originate(e3, f3, peers.to_vec()),
        store.originate(e4, f4, peers.to_vec()),
    );
    a.unwrap();
    b.unwrap();
    let (e5, f5) = message(&f.kz, 5, None);
    originated.push(f5.id);
    store.originate(e5, f5, vec![bh.clone()]).await.unwrap();

    // Received: d0..d3 delivered here (d1 and d2 in a case), r0 relayed to bh, d4 both
    // delivered here and relayed to om.
    let mut delivered = Vec::new();
    for i in 0..4 {
        let in_case = (i == 1 || i == 2).then_some(&case);
        let (env, facts) = message(&f.om, 100 + i, in_case);
        delivered.push(facts.id);
        let got = store
            .accept(env, facts, caricc.clone(), true, vec![])
            .await
            .unwrap();
        assert!(matches!(got, Accepted::New(_)));
    }
    let (er, fr) = message(&f.om, 200, None);
    let relayed = fr.id;
    store
        .accept(er, fr, caricc.clone(), false, vec![bh.clone()])
        .await
        .unwrap();
    let (ed4, fd4) = message(&f.om, 104, None);
    delivered.push(fd4.id);
    store
        .accept(ed4, fd4, caricc.clone(), true, vec![om.clone()])
        .await
        .unwrap();

    assert!(store
        .ack(delivered[1], "officer aigerim".into())
        .await
        .unwrap());

    // om's receipt covers o0, o3, o4 and d4 (its highest outbox sequences among them).
    let covered = [originated[0], originated[3], originated[4], delivered[4]];
    let receipt = MessageId([9; 32]);
    store
        .hop_answer(
            Event::ReceiptReceived {
                receipt,
                from: om.clone(),
                status: ReceiptStatus::Delivered,
                ids: covered.to_vec(),
            },
            om.clone(),
            covered
                .iter()
                .map(|id| (*id, "delivered".to_string()))
                .collect(),
            receipt,
            // The signed receipt's bytes are kept as given; this test is about the indexes.
            b"om's signed receipt".to_vec(),
        )
        .await
        .unwrap();
    // A refusal we logged about o1 joins o1's trail.
    store
        .record(Event::Refused {
            id: Some(originated[1]),
            msg: None,
            peer: om.clone(),
            reason_code: "peer-unreachable".into(),
        })
        .await
        .unwrap();

    // What the indexes hold before the restart (so the comparison below is not vacuous).
    let ids: Vec<MessageId> = originated
        .iter()
        .chain(&delivered)
        .chain([&relayed])
        .copied()
        .collect();
    let before = snapshot(&store, &peers, &ids, &case);
    assert_eq!(before.log_size, 6 + 6 + 1 + 1 + 1);
    assert_eq!(
        before.depths,
        BTreeMap::from([(om.clone(), 2), (bh.clone(), 4)]),
        "om: o1, o2 left; bh: o3, o4, o5, r0"
    );
    assert_eq!(
        before.outboxes[0].1,
        vec![(1, originated[1]), (2, originated[2])]
    );
    assert_eq!(before.unread, 4);
    assert_eq!(
        before
            .inbox
            .iter()
            .map(|(seq, s)| (*seq, s.facts.id))
            .collect::<Vec<_>>(),
        delivered
            .iter()
            .copied()
            .enumerate()
            .map(|(i, id)| (i as u64, id))
            .collect::<Vec<_>>(),
        "arrival order"
    );
    assert_eq!(before.case, vec![delivered[1], delivered[2]]);
    let acked = store.state(&delivered[1]).unwrap().unwrap();
    assert!(acked.acked);
    assert_eq!(acked.inbox_seq, Some(1));
    let o3 = store.state(&originated[3]).unwrap().unwrap();
    assert_eq!(o3.pending.len(), 1, "bh still owes a receipt");
    assert_eq!(o3.pending[0].0, bh);
    assert_eq!(o3.hops.len(), 1);
    assert_eq!(o3.hops[0].peer, om);
    assert_eq!(
        store.state(&originated[1]).unwrap().unwrap().leaves.len(),
        2
    );
    assert_eq!(before.size_on_disk, file_len(dir.path()));

    store.shutdown().await.unwrap();
    drop(store);

    let store = f.open(dir.path()).unwrap();
    let after = snapshot(&store, &peers, &ids, &case);
    assert_eq!(after, before, "the reopened store reads exactly as before");

    // The counters behind the indexes were rebuilt too: outbox sequences are not reused (om's
    // highest, 5, went out with the receipt), the inbox continues, acks are remembered.
    let (e6, f6) = message(&f.kz, 6, None);
    let o6 = f6.id;
    store.originate(e6, f6, vec![om.clone()]).await.unwrap();
    assert_eq!(
        store.outbox(&om, 0, 10).unwrap().last(),
        Some(&(6, o6)),
        "next outbox sequence for om"
    );
    let (ed5, fd5) = message(&f.om, 105, Some(&case));
    let d5 = fd5.id;
    store
        .accept(ed5, fd5, caricc.clone(), true, vec![])
        .await
        .unwrap();
    assert_eq!(store.state(&d5).unwrap().unwrap().inbox_seq, Some(5));
    assert_eq!(store.unread(), 5);
    let size = store.log_size();
    assert!(store.ack(delivered[1], "again".into()).await.unwrap());
    assert_eq!(
        store.log_size(),
        size,
        "an acked message is not acked twice"
    );
    assert_eq!(store.unread(), 5);
    assert!(store
        .ack(delivered[0], "officer aigerim".into())
        .await
        .unwrap());
    assert_eq!(store.unread(), 4);
    assert_eq!(
        store.case_messages(&case).unwrap(),
        vec![delivered[1], delivered[2], d5]
    );

    // And a second restart over batches written by both runs reads the same again.
    let ids: Vec<MessageId> = ids.into_iter().chain([o6, d5]).collect();
    let before = snapshot(&store, &peers, &ids, &case);
    store.shutdown().await.unwrap();
    drop(store);
    let store = f.open(dir.path()).unwrap();
    assert_eq!(snapshot(&store, &peers, &ids, &case), before);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn torn_tail_is_cut_off_and_the_rest_kept() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let (om, caricc) = (n("om-dcu.gulf"), n("caricc.central-asia"));
    let store = f.open(dir.path()).unwrap();
    for i in 0..2 {
        let (env, facts) = message(&f.kz, i, None);
        store.originate(env, facts, vec![om.clone()]).await.unwrap();
        let (env, facts) = message(&f.om, 100 + i, None);
        store
            .accept(env, facts, caricc.clone(), true, vec![])
            .await
            .unwrap();
    }
    store.shutdown().await.unwrap();
    drop(store);

    let pristine = read_journal(dir.path());
    let starts = batch_starts(&pristine);
    let first_header = &pristine[B0..B0 + HEADER as usize];
    let last_batch = &pristine[starts[starts.len() - 2] as usize..];
    let mut bad_bodies = last_batch.to_vec();
    *bad_bodies.last_mut().unwrap() ^= 0x40;
    let tails: Vec<(&str, Vec<u8>)> = vec![
        (
            "the first 12 bytes of a real header",
            first_header[..12].to_vec(),
        ),
        (
            "magic and 26 random bytes",
            [b"LJB1".as_slice(), &noise(26, 1)].concat(),
        ),
        (
            "magic and 200 random bytes",
            [b"LJB1".as_slice(), &noise(200, 3)].concat(),
        ),
        (
            "a whole header whose lengths reach past the end",
            [first_header, &noise(40, 2)].concat(),
        ),
        ("500 zero bytes", vec![0u8; 500]),
        (
            "a complete batch whose bodies miss their checksum",
            bad_bodies,
        ),
    ];

    for (extra, (what, tail)) in (0u64..).zip(tails) {
        let store = f.open(dir.path()).unwrap();
        let (size, root) = (store.log_size(), store.log_root());
        let inbox: Vec<_> = store
            .inbox(0, 100)
            .unwrap()
            .into_iter()
            .map(|i| (i.seq, i.state))
            .collect();
        let outbox = store.outbox(&om, 0, 100).unwrap();
        store.shutdown().await.unwrap();
        drop(store);
        let valid = file_len(dir.path());

        append_journal(dir.path(), &tail);
        assert_eq!(file_len(dir.path()), valid + tail.len() as u64);
        let store = f
            .open(dir.path())
            .unwrap_or_else(|e| panic!("{what}: must open, got {e:#}"));
        assert_eq!(
            file_len(dir.path()),
            valid,
            "{what}: cut back to the valid end"
        );
        assert_eq!(store.size_on_disk(), valid, "{what}");
        let kept = dir
            .path()
            .join("store")
            .join(format!("{}.torn-at-{valid}", journal::FILE));
        assert_eq!(
            std::fs::read(&kept).unwrap_or_default(),
            tail,
            "{what}: the cut-off bytes are kept beside the journal"
        );
        assert_eq!(store.log_size(), size, "{what}");
        assert_eq!(store.log_root(), root, "{what}");
        let inbox_now: Vec<_> = store
            .inbox(0, 100)
            .unwrap()
            .into_iter()
            .map(|i| (i.seq, i.state))
            .collect();
        assert_eq!(inbox_now, inbox, "{what}");
        assert_eq!(store.outbox(&om, 0, 100).unwrap(), outbox, "{what}");

        // New writes land after the valid end and survive a restart.
        let (env, facts) = message(&f.om, 1000 + extra, None);
        let id = facts.id;
        store
            .accept(env.clone(), facts, caricc.clone(), true, vec![])
            .await
            .unwrap();
        store.shutdown().await.unwrap();
        drop(store);
        assert!(file_len(dir.path()) > valid, "{what}");
        batch_starts(&read_journal(dir.path()));
        let store = f.open(dir.path()).unwrap();
        assert_eq!(store.log_size(), size + 1, "{what}");
        assert_eq!(store.envelope(&id).unwrap(), Some(env), "{what}");
        let last = store.inbox(0, 100).unwrap().pop().unwrap();
        assert_eq!(
            (last.seq, last.state.facts.id),
            (inbox.len() as u64, id),
            "{what}"
        );
        assert_eq!(store.size_on_disk(), file_len(dir.path()), "{what}");
        store.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn truncated_last_batch_is_dropped_and_earlier_batches_kept() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let (om, caricc) = (n("om-dcu.gulf"), n("caricc.central-asia"));
    let store = f.open(dir.path()).unwrap();
    let (e1, f1) = message(&f.kz, 1, None);
    let first = f1.id;
    store
        .originate(e1.clone(), f1, vec![om.clone()])
        .await
        .unwrap();
    let (size1, root1, len1) = (store.log_size(), store.log_root(), file_len(dir.path()));
    let (e2, f2) = message(&f.om, 2, None);
    let second = f2.id;
    store
        .accept(e2, f2, caricc.clone(), true, vec![])
        .await
        .unwrap();
    assert_eq!(store.log_size(), size1 + 1);
    store.shutdown().await.unwrap();
    drop(store);
    let final_len = file_len(dir.path());
    assert_eq!(
        batch_starts(&read_journal(dir.path())),
        vec![FILE_HEADER, len1, final_len]
    );

    truncate_journal(dir.path(), final_len - 3);
    let store = f.open(dir.path()).unwrap();
    assert_eq!(store.log_size(), size1);
    assert_eq!(store.log_root(), root1);
    assert_eq!(file_len(dir.path()), len1);
    assert_eq!(
        store.state(&second).unwrap(),
        None,
        "the torn message is gone"
    );
    assert!(store.inbox(0, 10).unwrap().is_empty());
    assert_eq!(store.unread(), 0);
    assert_eq!(store.envelope(&first).unwrap(), Some(e1));
    assert_eq!(store.outbox(&om, 0, 10).unwrap(), vec![(0, first)]);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn damage_before_valid_data_refuses_to_start() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let om = n("om-dcu.gulf");
    originate_each(f.open(dir.path()).unwrap(), &f.kz, 0..3, &om).await;
    let pristine = read_journal(dir.path());
    let starts = batch_starts(&pristine);
    assert_eq!(starts.len(), 4, "three batches");
    let report = f.verify(dir.path()).unwrap();
    assert_eq!((report.entries, report.messages_verified), (3, 3));

    let meta_len = u32::from_le_bytes(pristine[B0 + 4..B0 + 8].try_into().unwrap()) as usize;
    let in_meta = B0 + HEADER as usize + 5;
    assert!(
        in_meta < B0 + HEADER as usize + meta_len,
        "inside the first batch's meta"
    );
    for (what, at) in [("meta", in_meta), ("header magic", B0)] {
        let mut bytes = pristine.clone();
        bytes[at] ^= 0x20;
        write_journal(dir.path(), &bytes);

        let err = f
            .open(dir.path())
            .err()
            .unwrap_or_else(|| panic!("{what}: a damaged first batch must refuse to start"));
        let msg = format!("{err:#}");
        assert!(
            msg.contains("ALARM") && msg.contains("damaged"),
            "{what}: {msg}"
        );
        assert_eq!(
            read_journal(dir.path()),
            bytes,
            "{what}: the refusal leaves the journal as found"
        );
        let err = f
            .verify(dir.path())
            .err()
            .unwrap_or_else(|| panic!("{what}: the offline check must fail"));
        assert!(format!("{err:#}").contains("damaged"), "{what}: {err:#}");
    }

    // Restored, it opens again with everything in it.
    write_journal(dir.path(), &pristine);
    let store = f.open(dir.path()).unwrap();
    assert_eq!(store.log_size(), 3);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn damaged_length_in_first_batch_header_refuses_to_start() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let om = n("om-dcu.gulf");
    let store = f.open(dir.path()).unwrap();
    for i in 0..3 {
        let (env, facts) = message(&f.kz, i, None);
        store.originate(env, facts, vec![om.clone()]).await.unwrap();
    }
    store.checkpoint().await.unwrap().expect("a checkpoint");
    store.shutdown().await.unwrap();
    drop(store);
    let pristine = read_journal(dir.path());
    assert_eq!(batch_starts(&pristine).len(), 4, "three batches");
    let cp_path = dir.path().join("checkpoint.note");
    let cp = std::fs::read(&cp_path).unwrap();

    // One flipped bit in the high byte of a length field makes the first batch claim to
    // reach past the end of the file, with two valid batches after it: damage, not a torn
    // tail. Every case is tried before failing, so a failure lists them all.
    let mut wrong = Vec::new();
    for (what, at, with_checkpoint) in [
        ("meta length", B0 + 7, false),
        ("bodies length", B0 + 11, false),
        ("meta length, under a checkpoint", B0 + 7, true),
    ] {
        let mut bytes = pristine.clone();
        bytes[at] ^= 0x01;
        write_journal(dir.path(), &bytes);
        if with_checkpoint {
            std::fs::write(&cp_path, &cp).unwrap();
        } else {
            let _ = std::fs::remove_file(&cp_path);
        }
        match f.open(dir.path()) {
            Err(err) => {
                let msg = format!("{err:#}");
                if !msg.contains("damaged") {
                    wrong.push(format!("{what}: refused, but not as damage: {msg}"));
                }
            }
            Ok(store) => {
                wrong.push(format!(
                    "{what}: opened with {} log entries (3 were stored)",
                    store.log_size()
                ));
                store.shutdown().await.unwrap();
            }
        }
        let now = file_len(dir.path());
        if read_journal(dir.path()) != bytes {
            wrong.push(format!(
                "{what}: the journal was changed: now {now} bytes (was {})",
                bytes.len()
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn journal_rolled_back_below_the_checkpoint_refuses_to_start() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let om = n("om-dcu.gulf");
    originate_each(f.open(dir.path()).unwrap(), &f.kz, 0..2, &om).await;
    let old = read_journal(dir.path());

    let store = f.open(dir.path()).unwrap();
    for i in 2..5 {
        let (env, facts) = message(&f.kz, i, None);
        store.originate(env, facts, vec![om.clone()]).await.unwrap();
    }
    let note = store.checkpoint().await.unwrap().expect("a checkpoint");
    assert!(note.contains("\n5\n"), "{note}");
    store.shutdown().await.unwrap();
    drop(store);

    // The journal only grew: the old copy is a prefix ending on a batch boundary, so putting
    // it back is the same as cutting the journal back to that boundary.
    let new = read_journal(dir.path());
    assert!(new.starts_with(&old), "append-only");
    assert!(batch_starts(&new).contains(&(old.len() as u64)));
    let cp_path = dir.path().join("checkpoint.note");
    let cp = std::fs::read(&cp_path).unwrap();

    truncate_journal(dir.path(), old.len() as u64);
    assert_eq!(read_journal(dir.path()), old);
    let err = f.open(dir.path()).err().expect("must refuse");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("ALARM") && msg.contains("rolled back"),
        "{msg}"
    );
    assert_eq!(
        read_journal(dir.path()),
        old,
        "the refusal leaves the journal as found"
    );
    assert_eq!(std::fs::read(&cp_path).unwrap(), cp, "and the checkpoint");
    let err = f
        .verify(dir.path())
        .expect_err("the offline check must fail");
    assert!(
        format!("{err:#}").contains("entries were removed from its end"),
        "{err:#}"
    );

    // The whole journal back: it opens, the checkpoint matches.
    write_journal(dir.path(), &new);
    let store = f.open(dir.path()).unwrap();
    assert_eq!(store.log_size(), 5);
    assert_eq!(store.last_checkpoint().as_deref(), Some(note.as_str()));
    store.shutdown().await.unwrap();
}

/// A peer chooses message bytes: text that imitates journal batches (here, empty batches with
/// zero checksums, over and over, which the first, unsalted version of the torn-or-damaged rule
/// took for valid data) must not make a crash's torn tail look like damage.
#[tokio::test]
async fn message_bytes_that_imitate_batches_do_not_turn_a_crash_into_damage() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let om = n("om-dcu.gulf");
    let store = f.open(dir.path()).unwrap();
    let (e1, f1) = message(&f.kz, 1, None);
    store.originate(e1, f1, vec![om.clone()]).await.unwrap();
    let len1 = file_len(dir.path());

    let (mut env, _) = message(&f.kz, 2, None);
    let mut body = liaison_protocol::Body::decode(&env.signed.body).unwrap();
    if let liaison_protocol::Kind::Alert(p) = &mut body.kind {
        p.text = format!("LJB1{}", "\0".repeat(20)).repeat(64);
    }
    let facts;
    (env, facts) = liaison_tests::signed_envelope(&f.kz, body);
    store.originate(env, facts, vec![om]).await.unwrap();
    store.shutdown().await.unwrap();
    drop(store);
    let len2 = file_len(dir.path());
    assert!(len2 > len1 + 64 * 24, "the imitation is in the last batch");

    // A crash tore the last batch a few bytes short of its end.
    let mut bytes = read_journal(dir.path());
    bytes.truncate((len2 - 3) as usize);
    write_journal(dir.path(), &bytes);
    let store = f
        .open(dir.path())
        .unwrap_or_else(|e| panic!("a torn tail must open, got {e:#}"));
    assert_eq!(
        store.log_size(),
        1,
        "the torn message is dropped, the first kept"
    );
    assert_eq!(file_len(dir.path()), len1);
    store.shutdown().await.unwrap();
}
