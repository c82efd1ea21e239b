//! A peer that stops answering without restarting — its host hung, its link cut, its process
//! frozen — sends no reset and no close: its sender learns of it only by probing. Here a real
//! `liaison node run` process is frozen with `SIGSTOP` while a node sends to it:
//!
//! * the sender's status stops showing the peer as connected soon after (the probe's bound,
//!   not the old 30 s idle timeout; the figure is printed and kept in docs/PERFORMANCE.md);
//! * what the officer sends meanwhile is acknowledged and waits in the outbox;
//! * after `SIGCONT` the two reconnect and every message is delivered exactly once.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use liaison_tests::cluster::{alert, start, wait_for, Cluster};

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";

/// Far above the probe's bound, far below the 30 s a silent connection used to be kept: a
/// sender that only waited for QUIC's idle timeout fails here.
const NOTICE_LIMIT: Duration = Duration::from_secs(10);
const WAIT: Duration = Duration::from_secs(60);

/// The ids in a node's inbox, read through its officer API; `None` while it does not answer.
fn inbox_ids(api: SocketAddr, token_file: &Path) -> Option<Vec<String>> {
    let body = liaison_tests::cluster::api_get(api, token_file, "/inbox?limit=1000")?;
    let page: serde_json::Value = serde_json::from_str(&body).ok()?;
    assert!(
        page["next_from"].is_null(),
        "one page holds this test's inbox"
    );
    Some(
        page["items"]
            .as_array()?
            .iter()
            .filter_map(|i| i["id"].as_str().map(str::to_owned))
            .collect(),
    )
}

/// Kills the process when the test ends, however it ends: a frozen process must not outlive it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_peer_is_noticed_by_probing_and_gets_everything_after_it_wakes() {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let files = c.node_toml(c.config(B, &[A]));
    let mut child = KillOnDrop(liaison_tests::cluster::spawn_node(
        env!("CARGO_BIN_EXE_liaison"),
        &files.config,
        &c.node_dir(B).join("node.log"),
    ));
    let a = start(c.config(A, &[B])).await;
    let peer = |a: &liaison_node::node::Node| {
        a.status()
            .peers
            .into_iter()
            .find(|p| p.node.as_str() == B)
            .expect("B is a peer of A")
    };

    // Traffic flows: one message delivered and its receipt back.
    let mut sent = vec![a.send(&alert(B, "before the freeze")).await.unwrap().id];
    wait_for("the first receipt", WAIT, || {
        let p = peer(&a);
        p.state.connected && p.state.receipts >= 1
    })
    .await;

    signal(child.0.id(), "-STOP");
    let frozen = Instant::now();
    // An officer keeps sending: each message is acknowledged (durable here) and waits.
    for i in 0..20 {
        sent.push(
            a.send(&alert(B, &format!("while frozen {i}")))
                .await
                .unwrap()
                .id,
        );
    }
    wait_for("A to stop showing B as connected", NOTICE_LIMIT, || {
        !peer(&a).state.connected
    })
    .await;
    let noticed = frozen.elapsed();
    println!("frozen peer noticed after {} ms", noticed.as_millis());
    let p = peer(&a);
    assert!(
        p.outbox >= 20,
        "the messages wait for B: outbox {}",
        p.outbox
    );
    assert!(p.state.last_error.is_some(), "the status says why");

    signal(child.0.id(), "-CONT");
    let want: HashSet<String> = sent.iter().map(|id| id.to_string()).collect();
    wait_for("B to hold every message", WAIT, || {
        inbox_ids(files.api, &files.token_file)
            .is_some_and(|have| want.iter().all(|id| have.contains(id)))
    })
    .await;
    wait_for("A's outbox to B to drain", WAIT, || {
        let p = peer(&a);
        p.state.connected && p.outbox == 0
    })
    .await;
    let mut have = inbox_ids(files.api, &files.token_file).unwrap();
    have.sort();
    let mut want: Vec<String> = want.into_iter().collect();
    want.sort();
    assert_eq!(have, want, "each message once, nothing else");

    signal(child.0.id(), "-TERM");
    assert!(child.0.wait().unwrap().success(), "B stops cleanly");
    a.shutdown().await.unwrap();
}
