//! A relay killed between its two steps after a next hop answers — recording the answer and
//! queuing the report that carries it back to the sender — loses neither: after its restart
//! the sender's trail holds the receiver's answer, once.
//!
//! The relay is a real `liaison node run` process, built with the `crash-points` feature that
//! test builds enable; `LIAISON_CRASH_AT=relay-answer` makes it SIGKILL itself at exactly that
//! point, which no timed `kill -9` from outside could hit reliably.

use std::time::Duration;

use liaison_node::config::{RelayRule, RouteConfig};
use liaison_tests::cluster::{alert, start, wait_for, wait_keys, Cluster};

const A: &str = "kz-dcu.central-asia";
const G: &str = "gw.central-asia";
const B: &str = "uz-dcu.central-asia";
const WAIT: Duration = Duration::from_secs(60);

/// Kills the process when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_relay(config: &std::path::Path, log: &std::path::Path, crash: bool) -> KillOnDrop {
    let log = std::fs::File::create(log).expect("log file");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_liaison"));
    cmd.args(["node", "run", "--config"])
        .arg(config)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log);
    if crash {
        cmd.env("LIAISON_CRASH_AT", "relay-answer");
    } else {
        cmd.env_remove("LIAISON_CRASH_AT");
    }
    KillOnDrop(cmd.spawn().expect("start the relay"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_between_recording_an_answer_and_reporting_it_loses_neither() {
    let mut c = Cluster::new(&["central-asia"]);
    for n in [A, G, B] {
        c.add(n);
    }
    let mut cfg_a = c.config(A, &[G]);
    cfg_a.routes = vec![RouteConfig {
        to: B.into(),
        via: G.parse().unwrap(),
        distance: 0,
    }];
    let mut cfg_g = c.config(G, &[A, B]);
    cfg_g.relay = vec![RelayRule {
        from: "central-asia".parse().unwrap(),
        to: vec!["central-asia".parse().unwrap()],
    }];
    let files = c.node_toml(cfg_g);
    let dir = c.node_dir(G);
    let a = start(cfg_a).await;
    let b = start(c.config(B, &[G])).await;
    // A first run of the relay carries the two units' sealing keys; it stops cleanly, and the
    // relay that will crash starts with nothing left to answer.
    let first = spawn_relay(&files.config, &dir.join("node-0.log"), false);
    wait_keys(&a, &[B]).await;
    wait_keys(&b, &[A]).await;
    stop(first);
    let mut relay = spawn_relay(&files.config, &dir.join("node-1.log"), true);

    let id = a
        .send(&alert(B, "through a relay that crashes"))
        .await
        .unwrap()
        .id;
    // The relay hands the alert on, B answers, and the relay kills itself between its two
    // steps: the alert is at B, the relay's process is gone.
    let status = tokio::task::spawn_blocking(move || {
        let s = relay.0.wait().expect("wait");
        (relay, s)
    });
    let (relay, exit) = tokio::time::timeout(WAIT, status)
        .await
        .expect("the relay reached its crash point")
        .unwrap();
    assert!(!exit.success(), "the relay was killed: {exit}");
    let store_b = b.store().clone();
    assert!(
        store_b.state(&id).unwrap().is_some(),
        "B held the alert before the relay crashed"
    );

    drop(relay);
    let relay = spawn_relay(&files.config, &dir.join("node-2.log"), false);
    let store_a = a.store().clone();
    let answers = |signer: &str| -> Vec<String> {
        store_a
            .state(&id)
            .ok()
            .flatten()
            .map(|s| {
                s.hops
                    .iter()
                    .filter(|h| h.peer.as_str() == signer)
                    .map(|h| h.outcome.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    wait_for("B's answer in the sender's trail", WAIT, || {
        !answers(B).is_empty() && !answers(G).is_empty()
    })
    .await;
    // A later report of the same answer (the relay hands the alert on again after its restart,
    // B acknowledges the repeat) must not add it twice: wait until the relay has nothing left
    // to send, then count.
    let api = files.api;
    let token = files.token_file.clone();
    wait_for("the relay's outboxes to drain", WAIT, || {
        relay_outbox(api, &token) == Some(0)
    })
    .await;
    wait_for("A's outbox to drain", WAIT, || {
        a.store().outbox_depths().values().sum::<u64>() == 0
    })
    .await;
    assert_eq!(answers(B), ["delivered"], "B's answer once");
    assert_eq!(answers(G), ["relayed"], "the relay's answer once");
    assert_eq!(store_b.inbox_len(), 1, "the alert reached B once");

    stop(relay);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// Stops a relay with SIGTERM and checks it stopped cleanly.
fn stop(mut relay: KillOnDrop) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &relay.0.id().to_string()])
        .status();
    assert!(relay.0.wait().unwrap().success(), "the relay stops cleanly");
}

/// The relay's total outbox, from its status; `None` while it does not answer.
fn relay_outbox(api: std::net::SocketAddr, token_file: &std::path::Path) -> Option<u64> {
    let body = liaison_tests::cluster::api_get(api, token_file, "/status")?;
    let s: serde_json::Value = serde_json::from_str(&body).ok()?;
    s["peers"]
        .as_array()?
        .iter()
        .map(|p| p["outbox"].as_u64())
        .sum()
}
