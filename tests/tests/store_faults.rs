//! The store when its disk fails: a fault-injecting medium under a real journal file makes a
//! group commit fail as a full disk, a short write, a failed fsync, or a short write whose undo
//! fails too. Each time the requests of that group fail with a clear error (and an alarm),
//! nothing of them is acknowledged, later requests work (or, when the journal's end could not
//! be restored, fail until a restart), and after a restart the store holds exactly what was
//! acknowledged.

use std::path::Path;
use std::sync::Arc;

use liaison_node::alarm::AlarmKind;
use liaison_node::store::{Store, StoreError};
use liaison_protocol::{MessageId, NodeId, Signer};
use liaison_tests::faulty_disk::{Fault, FaultyDisk};
use liaison_tests::{signer, TestPki};

struct Setup {
    _pki: TestPki,
    kz: Arc<Signer>,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let pki = TestPki::new(&["central-asia"]);
    let kz = Arc::new(signer(&pki.node("kz-dcu.central-asia")));
    Setup {
        _pki: pki,
        kz,
        dir: tempfile::tempdir().unwrap(),
    }
}

fn open_faulty(s: &Setup) -> (Store, Arc<FaultyDisk>) {
    let disk = Arc::new(FaultyDisk::open(&s.dir.path().join("store")));
    let store = Store::open_with(disk.clone(), s.dir.path(), s.kz.clone()).unwrap();
    (store, disk)
}

async fn send(store: &Store, s: &Signer, i: u64) -> (MessageId, Result<u64, StoreError>) {
    let (env, facts) = liaison_tests::stored_alert(s, i, None);
    let id = facts.id;
    let to: NodeId = "caricc.central-asia".parse().unwrap();
    (id, store.originate(env, facts, vec![to]).await)
}

/// What is on disk after a restart: which of `ids` the store holds.
async fn held_after_restart(dir: &Path, kz: &Arc<Signer>, ids: &[MessageId]) -> Vec<bool> {
    let store = Store::open(dir, kz.clone()).unwrap();
    let held = ids
        .iter()
        .map(|id| store.envelope(id).unwrap().is_some())
        .collect();
    store.shutdown().await.unwrap();
    held
}

#[tokio::test]
async fn a_failed_write_acknowledges_nothing_and_the_store_goes_on() {
    for (fault, code, alarm) in [
        (Fault::DiskFull, "disk-full", AlarmKind::DiskFull),
        (
            Fault::ShortWrite,
            "storage-write-failed",
            AlarmKind::StorageWrite,
        ),
        (
            Fault::FsyncFails,
            "storage-write-failed",
            AlarmKind::StorageWrite,
        ),
    ] {
        let s = setup();
        let (store, disk) = open_faulty(&s);
        let (before, r) = send(&store, &s.kz, 1).await;
        r.unwrap();
        disk.set(Some(fault));
        let (failed, r) = send(&store, &s.kz, 2).await;
        let e = r.expect_err("the group fails");
        assert_eq!(e.reason_code(), code, "{fault:?}: {e}");
        assert!(
            store.alarms().has(alarm),
            "{fault:?}: {:?}",
            store.alarms().list()
        );
        // Nothing of the failed group is visible; the journal's end is where it was.
        assert!(store.state(&failed).unwrap().is_none(), "{fault:?}");
        assert_eq!(store.log_size(), 1, "{fault:?}");
        disk.set(None);
        let (after, r) = send(&store, &s.kz, 3).await;
        assert_eq!(
            r.unwrap(),
            1,
            "{fault:?}: the next group takes the next leaf"
        );
        store.checkpoint().await.unwrap();
        store.shutdown().await.unwrap();
        drop(store);
        drop(disk);
        assert_eq!(
            held_after_restart(s.dir.path(), &s.kz, &[before, failed, after]).await,
            [true, false, true],
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn a_write_that_cannot_be_undone_stops_writing_until_a_restart() {
    let s = setup();
    let (store, disk) = open_faulty(&s);
    let (before, r) = send(&store, &s.kz, 1).await;
    r.unwrap();
    disk.set(Some(Fault::ShortWriteUndoFails));
    let (failed, r) = send(&store, &s.kz, 2).await;
    assert_eq!(r.unwrap_err().reason_code(), "storage-write-failed");
    disk.set(None);
    // The journal's end is unknown: every later request fails, nothing is acknowledged.
    let (later, r) = send(&store, &s.kz, 3).await;
    let e = r.unwrap_err();
    assert_eq!(e.reason_code(), "store-stopped-writing", "{e}");
    assert!(e.to_string().contains("restart"), "{e}");
    store.shutdown().await.unwrap();
    drop(store);
    drop(disk);
    // The restart finds the half batch as a torn tail, keeps it aside and cuts it off.
    assert_eq!(
        held_after_restart(s.dir.path(), &s.kz, &[before, failed, later]).await,
        [true, false, false]
    );
    let torn = std::fs::read_dir(s.dir.path().join("store"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("torn-at")
        })
        .count();
    assert_eq!(torn, 1, "the cut-off bytes are kept aside");
}
