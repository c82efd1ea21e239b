//! Promise 3 under SIGKILL: a sending node is killed mid-stream and restarted; every message it
//! had acknowledged to the officer is delivered exactly once.

use std::collections::HashSet;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use liaison_tests::cluster::{alert, start, wait_for, Cluster};

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";

fn spawn_node(config: &std::path::Path, log: &std::path::Path) -> Child {
    liaison_tests::cluster::spawn_node(env!("CARGO_BIN_EXE_liaison"), config, log)
}

/// POSTs one alert; `Some(id)` only on 201 (acknowledged to the officer).
fn post(agent: &ureq::Agent, api: std::net::SocketAddr, token: &str, i: usize) -> Option<String> {
    let body = serde_json::to_string(&alert(B, &format!("crash test {i}"))).unwrap();
    let mut r = agent
        .post(format!("http://{api}/v1/messages"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(body)
        .ok()?;
    if r.status().as_u16() != 201 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()?;
    v["id"].as_str().map(str::to_owned)
}

fn wait_token(path: &std::path::Path, api: std::net::SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(t) = std::fs::read_to_string(path) {
            if std::net::TcpStream::connect(api).is_ok() {
                return t.trim().to_owned();
            }
        }
        assert!(Instant::now() < deadline, "node did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill_of_the_sender_exactly_once() {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let b = start(c.config(B, &[A])).await;
    let home = c.node_dir(A);
    let liaison_tests::cluster::NodeFiles {
        config,
        api,
        token_file,
    } = c.node_toml(c.config(A, &[B]));

    let mut child = spawn_node(&config, &home.join("node-1.log"));
    let token = wait_token(&token_file, api);

    // An officer script sends as fast as the node acknowledges; we SIGKILL the node while it
    // is sending and receiving receipts.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let acked = acked.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(5)))
                .build()
                .into();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Some(id) = post(&agent, api, &token, i) {
                    acked.lock().unwrap().push(id);
                }
                i += 1;
            }
        })
    };
    let acked_watch = acked.clone();
    wait_for(
        "the officer to get 300 acknowledgements",
        Duration::from_secs(120),
        || acked_watch.lock().unwrap().len() >= 300,
    )
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(acked.len() >= 300);

    // Restart the sender on the same data dir: it must deliver its durable outbox.
    let mut child = spawn_node(&config, &home.join("node-2.log"));
    let store_b = b.store().clone();
    let want: HashSet<String> = acked.iter().cloned().collect();
    wait_for(
        "B to hold every acknowledged message",
        Duration::from_secs(120),
        || {
            let have: HashSet<String> = store_b
                .inbox(0, usize::MAX)
                .unwrap()
                .iter()
                .map(|i| i.state.facts.id.to_string())
                .collect();
            want.is_subset(&have)
        },
    )
    .await;
    let inbox: Vec<String> = store_b
        .inbox(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|i| i.state.facts.id.to_string())
        .collect();
    let unique: HashSet<&String> = inbox.iter().collect();
    assert_eq!(
        unique.len(),
        inbox.len(),
        "no message reached the inbox twice"
    );
    for id in &acked {
        assert_eq!(
            inbox.iter().filter(|x| *x == id).count(),
            1,
            "{id} exactly once"
        );
    }
    // Messages the node made durable but could not acknowledge before the kill may also
    // arrive (at-least-once); anything else would be a message the sender never logged.
    assert!(inbox.len() >= acked.len());

    child.kill().unwrap();
    child.wait().unwrap();
    b.shutdown().await.unwrap();
}
