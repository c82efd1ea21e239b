//! Witnessing over real QUIC between real nodes: peers cosign each other's checkpoints, and a
//! node restored from an older copy of its data dir, after newer checkpoints were cosigned, is
//! caught by its witness (alarm on both sides, evidence kept, raised again after a restart).

use std::path::Path;
use std::time::Duration;

use liaison_node::node::Node;
use liaison_node::store::checkpoint::size_of;
use liaison_tests::cluster::{alert, start, wait_for, Cluster};
use liaison_tests::copy_dir;

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";
const B_COSIGNS: &str = "— liaison/caricc.central-asia ";
const LIMIT: Duration = Duration::from_secs(60);

fn pair() -> Cluster {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    c
}

/// Sends `n` alerts from `a` to B and waits until every one is receipted.
async fn exchange(a: &Node, n: usize, tag: &str) {
    for i in 0..n {
        liaison_node::node::send(a.ctx(), &alert(B, &format!("{tag} {i}")))
            .await
            .unwrap();
    }
    let store = a.store().clone();
    wait_for("A's outbox to drain", LIMIT, || {
        store.outbox_depths().values().sum::<u64>() == 0
    })
    .await;
}

/// Signs a checkpoint on `a` now and waits until B's cosignature is on it; returns its size.
async fn cosigned_checkpoint(a: &Node) -> u64 {
    let note = a.store().checkpoint().await.unwrap();
    let size = a
        .store()
        .last_checkpoint()
        .and_then(|n| size_of(&n))
        .unwrap();
    if let Some(n) = note {
        assert_eq!(size_of(&n), Some(size));
    }
    let store = a.store().clone();
    wait_for("B's cosignature on A's checkpoint", LIMIT, || {
        store
            .last_checkpoint()
            .is_some_and(|n| n.contains(B_COSIGNS) && size_of(&n) == Some(size))
    })
    .await;
    size
}

fn witnessed_size(b_data: &Path) -> Option<u64> {
    let note = std::fs::read_to_string(b_data.join("witness").join(format!("{A}.note"))).ok()?;
    size_of(&note)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_cosign_each_others_checkpoints() {
    let c = pair();
    let (cfg_a, cfg_b) = (c.config(A, &[B]), c.config(B, &[A]));
    let (a_data, b_data) = (cfg_a.data_dir.clone(), cfg_b.data_dir.clone());
    let a = start(cfg_a).await;
    let b = start(cfg_b).await;

    exchange(&a, 3, "first").await;
    let s1 = cosigned_checkpoint(&a).await;
    assert_eq!(
        witnessed_size(&b_data),
        Some(s1),
        "B remembers what it cosigned"
    );

    // The next one is cosigned because it extends the first (consistency proof from s1).
    exchange(&a, 2, "second").await;
    let s2 = cosigned_checkpoint(&a).await;
    assert!(s2 > s1);
    assert_eq!(witnessed_size(&b_data), Some(s2));
    assert!(a.status().alarms.is_empty(), "{:?}", a.status().alarms);
    assert!(b.status().alarms.is_empty(), "{:?}", b.status().alarms);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();

    // An auditor with only the CA checks B's cosignatures on A's checkpoints.
    let report = liaison_node::audit::verify(
        &a_data,
        &c.pki.trust(),
        liaison_node::audit::Uncovered::Refuse,
        |_, _, _| {},
    )
    .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert!(report.cosignatures >= 2, "{report:?}");
    assert_eq!(report.unknown_signatures, 0);
}

/// A witness that cannot keep what it witnessed (here its note's path is a directory, which
/// no write or rename replaces, even as root) refuses with `witness-unavailable` and raises
/// `witness-state-not-kept`; once its disk is fixed, the log owner's same checkpoint is
/// cosigned without waiting for a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_a_witness_could_not_keep_is_offered_again() {
    let c = pair();
    let (mut cfg_a, cfg_b) = (c.config(A, &[B]), c.config(B, &[A]));
    // No later checkpoint to offer instead: A signs one at start, the next in an hour.
    cfg_a.checkpoints.interval_secs = 3600;
    let blocked = cfg_b.data_dir.join("witness").join(format!("{A}.note"));
    std::fs::create_dir_all(blocked.join("in-the-way")).unwrap();
    let b = start(cfg_b).await;
    let a = start(cfg_a).await;

    wait_for("B's alarm about its witness state", LIMIT, || {
        b.status().alarms.iter().any(|al| {
            al.code == liaison_node::alarm::AlarmKind::WitnessStateNotKept && al.subject == A
        })
    })
    .await;
    let store = a.store().clone();
    let before = store
        .last_checkpoint()
        .expect("A signed a checkpoint at start");
    assert!(!before.contains(B_COSIGNS), "{before}");

    std::fs::remove_dir_all(&blocked).unwrap();
    wait_for("B's cosignature on A's checkpoint", LIMIT, || {
        store
            .last_checkpoint()
            .is_some_and(|n| n.contains(B_COSIGNS))
    })
    .await;
    let after = store.last_checkpoint().unwrap();
    assert_eq!(
        size_of(&after),
        witnessed_size(b.ctx().config().data_dir.as_path()),
        "B keeps what it cosigned"
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_older_copy_is_caught_by_the_witness() {
    let c = pair();
    let (cfg_a, cfg_b) = (c.config(A, &[B]), c.config(B, &[A]));
    let (a_data, b_data) = (cfg_a.data_dir.clone(), cfg_b.data_dir.clone());
    let b = start(cfg_b.clone()).await;

    let a = start(cfg_a.clone()).await;
    exchange(&a, 2, "before the copy").await;
    let s1 = cosigned_checkpoint(&a).await;
    a.shutdown().await.unwrap();
    let snapshot = c.dir.path().join("a-snapshot");
    copy_dir(&a_data, &snapshot);

    let a = start(cfg_a.clone()).await;
    exchange(&a, 3, "after the copy").await;
    let s2 = cosigned_checkpoint(&a).await;
    assert!(s2 > s1);
    a.shutdown().await.unwrap();

    // The centre restores the older copy: its own start-up check passes (the copy is
    // self-consistent), but B cosigned a longer history.
    std::fs::remove_dir_all(&a_data).unwrap();
    copy_dir(&snapshot, &a_data);
    let a = start(cfg_a.clone()).await;
    exchange(&a, 6, "rewritten").await;
    a.store().checkpoint().await.unwrap();

    let ctx_b = b.ctx().clone();
    wait_for("B's alarm", LIMIT, || {
        ctx_b
            .alarms()
            .list()
            .iter()
            .any(|a| a.text.contains("presented a rewritten history"))
    })
    .await;
    let ctx_a = a.ctx().clone();
    wait_for("A's alarm", LIMIT, || {
        ctx_a
            .alarms()
            .list()
            .iter()
            .any(|a| a.text.contains("refuses this node's checkpoint"))
    })
    .await;
    assert_eq!(
        witnessed_size(&b_data),
        Some(s2),
        "B still vouches only for s2"
    );
    assert!(
        !a.store().last_checkpoint().unwrap().contains(B_COSIGNS),
        "the rewritten checkpoint is not cosigned"
    );

    // The evidence: both signed checkpoints, kept durably; B's log records the alarm.
    let evidence: Vec<_> = std::fs::read_dir(b_data.join("witness"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(".evidence-"))
        .collect();
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    let text = std::fs::read_to_string(&evidence[0]).unwrap();
    assert!(text.contains(&format!("liaison/{A}\n{s2}\n")), "{text}");
    assert_eq!(
        text.matches("— liaison/kz-dcu.central-asia ").count(),
        2,
        "{text}"
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();

    // After a restart, B still shows the alarm.
    let b = start(cfg_b).await;
    assert!(
        b.status()
            .alarms
            .iter()
            .any(|a| a.text.contains("inconsistent checkpoint")),
        "{:?}",
        b.status().alarms
    );
    b.shutdown().await.unwrap();
}
