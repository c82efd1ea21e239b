//! A node whose disk fails under it, seen from outside: the sending node's journal is written
//! through a fault-injecting medium (a full disk, a short write, a failed fsync, a short write
//! whose undo fails too) while an officer sends through its API over HTTP to a peer over real
//! QUIC. For each fault, the officer gets a clear error with the store's reason code and no
//! message id, the alarm is raised, the peer never receives the message that failed, and after
//! a restart on the same data dir the node holds exactly what it had acknowledged (its log
//! names every acknowledged message once and the failed one nowhere).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use liaison_node::alarm::AlarmKind;
use liaison_node::node::{Node, StartOptions};
use liaison_tests::api::{poll, TokenClient};
use liaison_tests::cluster::{start, wait_keys, Cluster};
use liaison_tests::faulty_disk::{Fault, FaultyDisk};
use serde_json::{json, Value};

const KZ: &str = "kz-dcu.central-asia";
const CARICC: &str = "caricc.central-asia";
const WAIT: Duration = Duration::from_secs(30);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn alert(text: &str) -> Value {
    json!({
        "kind": "alert",
        "to": [CARICC],
        "tlp": "AMBER",
        "release": ["network:central-asia"],
        "eval": "B2",
        "text": text,
        "lang": "en",
    })
}

fn token(node: &Node) -> TokenClient {
    TokenClient::new(node.api_addr(), &node.ctx().config().api.token_file)
}

/// The ids of the messages in `api`'s inbox.
fn inbox_ids(api: &TokenClient) -> BTreeSet<String> {
    let inbox = api.get("/v1/inbox?limit=1000");
    assert_eq!(inbox.status, 200, "{inbox:?}");
    inbox.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The ids of the alerts the node's log says it sent, each as often as it says so.
fn sent_in_log(api: &TokenClient) -> Vec<String> {
    let log = api.get("/v1/log?limit=1000");
    assert_eq!(log.status, 200, "{log:?}");
    log.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["event"]["type"] == "sent" && e["event"]["message"]["kind"] == "alert")
        .map(|e| e["event"]["message"]["id"].as_str().expect("id").to_owned())
        .collect()
}

fn sent_id(answer: &liaison_tests::api::Answer) -> String {
    assert_eq!(answer.status, 201, "{answer:?}");
    answer.body["id"].as_str().expect("id").to_owned()
}

/// One fault, from the first acknowledged message to the restart.
fn fault_seen_from_outside(fault: Fault, status: u16, codes: &[&str], alarm: AlarmKind) {
    let rt = runtime();
    let mut c = Cluster::new(&["central-asia"]);
    c.add(KZ);
    c.add(CARICC);
    let cfg_kz = c.config(KZ, &[CARICC]);
    let cfg_caricc = c.config(CARICC, &[KZ]);
    let disk = Arc::new(FaultyDisk::open(&cfg_kz.data_dir.join("store")));
    let opts = StartOptions {
        medium: Some(disk.clone()),
        ..Default::default()
    };
    let (kz, caricc) = rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kz = Node::start_with(cfg_kz.clone(), opts)
            .await
            .expect("KZ starts");
        let caricc = start(cfg_caricc).await;
        wait_keys(&kz, &[CARICC]).await;
        (kz, caricc)
    });
    let officer = token(&kz);
    let peer = token(&caricc);

    let before = sent_id(&officer.post("/v1/messages", &alert("before the fault")));
    poll("the first alert at CARICC", WAIT, || {
        inbox_ids(&peer).contains(&before).then_some(())
    });

    disk.set(Some(fault));
    let failed = officer.post("/v1/messages", &alert("while the disk fails"));
    assert_eq!(failed.status, status, "{fault:?}: {failed:?}");
    assert!(
        codes.iter().any(|c| failed.body["error"] == *c),
        "{fault:?}: {failed:?}"
    );
    assert!(failed.body.get("id").is_none(), "{fault:?}: {failed:?}");
    assert!(kz.store().alarms().has(alarm), "{fault:?}");
    assert_eq!(
        sent_in_log(&officer),
        std::slice::from_ref(&before),
        "{fault:?}: nothing of the failed message is in the log"
    );
    disk.set(None);

    let after = officer.post("/v1/messages", &alert("after the fault"));
    let mut acknowledged = vec![before.clone()];
    if fault == Fault::ShortWriteUndoFails {
        // The journal's end is unknown until a restart: the node refuses to write at all.
        assert_eq!(after.status, 500, "{after:?}");
        assert_eq!(after.body["error"], "store-stopped-writing", "{after:?}");
    } else {
        let after = sent_id(&after);
        poll("the alert sent after the fault at CARICC", WAIT, || {
            inbox_ids(&peer).contains(&after).then_some(())
        });
        acknowledged.push(after);
    }
    rt.block_on(async { kz.shutdown().await.expect("KZ stops") });
    drop(disk);

    // Restarted on the same data dir, on the journal file itself.
    let kz = rt.block_on(start(cfg_kz));
    let officer = token(&kz);
    let mut logged = sent_in_log(&officer);
    logged.sort();
    acknowledged.sort();
    assert_eq!(logged, acknowledged, "{fault:?}: the log after the restart");
    for id in &acknowledged {
        let shown = officer.get(&format!("/v1/messages/{id}"));
        assert_eq!(shown.status, 200, "{fault:?}: {shown:?}");
    }
    // The restarted node sends again, and CARICC holds exactly the acknowledged messages.
    let last = sent_id(&officer.post("/v1/messages", &alert("after the restart")));
    rt.block_on(async { wait_keys(&kz, &[CARICC]).await });
    poll("the alert sent after the restart at CARICC", WAIT, || {
        inbox_ids(&peer).contains(&last).then_some(())
    });
    acknowledged.push(last);
    let held: BTreeSet<String> = inbox_ids(&peer);
    assert_eq!(
        held,
        acknowledged.into_iter().collect::<BTreeSet<_>>(),
        "{fault:?}: what CARICC received"
    );
    rt.block_on(async {
        let (a, b) = tokio::join!(kz.shutdown(), caricc.shutdown());
        a.expect("KZ stops");
        b.expect("CARICC stops");
    });
}

#[test]
fn a_full_disk_fails_the_send_with_507_and_loses_nothing_acknowledged() {
    fault_seen_from_outside(Fault::DiskFull, 507, &["disk-full"], AlarmKind::DiskFull);
}

#[test]
fn a_short_write_fails_the_send_and_loses_nothing_acknowledged() {
    fault_seen_from_outside(
        Fault::ShortWrite,
        500,
        &["storage-write-failed"],
        AlarmKind::StorageWrite,
    );
}

#[test]
fn a_failed_fsync_fails_the_send_and_loses_nothing_acknowledged() {
    fault_seen_from_outside(
        Fault::FsyncFails,
        500,
        &["storage-write-failed"],
        AlarmKind::StorageWrite,
    );
}

#[test]
fn a_write_that_cannot_be_undone_stops_sending_until_a_restart() {
    fault_seen_from_outside(
        Fault::ShortWriteUndoFails,
        500,
        // The node's own background writes (receipts, checkpoints) may meet the fault first,
        // and then the officer's send finds the store already stopped.
        &["storage-write-failed", "store-stopped-writing"],
        AlarmKind::StorageWrite,
    );
}
