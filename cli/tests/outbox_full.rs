//! An officer's `liaison send` when the peer's outbox is at its limit: the real binary against
//! a node whose peer went away. The send is refused for now — exit status 5 (not 3, which
//! is a refusal that sending again will not change), `refused for now: outbox-full:` naming
//! the peer, what waits and how old it is, and when to try again — and nothing is sent.

use std::process::Command;
use std::time::Duration;

use liaison_tests::cluster::{start, wait_keys, Cluster};

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";

fn send(
    api: std::net::SocketAddr,
    token_file: &std::path::Path,
    text: &str,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_liaison"))
        .arg("--api")
        .arg(api.to_string())
        .arg("--token-file")
        .arg(token_file)
        .args([
            "send",
            "--to",
            B,
            "--kind",
            "request",
            "--urgency",
            "seven-days",
        ])
        .args(["--tlp", "AMBER", "--eval", "B2", "--text", text])
        .output()
        .expect("run liaison send")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_into_a_full_outbox_exits_5_and_says_when_to_try_again() {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let mut cfg_a = c.config(A, &[B]);
    cfg_a.peers[0].max_outbox_messages = Some(2);
    let b = start(c.config(B, &[A])).await;
    let a = start(cfg_a).await;
    wait_keys(&a, &[B]).await;
    b.shutdown().await.expect("B stops");
    let (api, token) = (a.api_addr(), a.ctx().config().api.token_file.clone());
    for i in 0..2 {
        let out = tokio::task::spawn_blocking({
            let token = token.clone();
            move || send(api, &token, &format!("bulk {i}"))
        })
        .await
        .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let out = tokio::task::spawn_blocking(move || send(api, &token, "one too many"))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        stderr.starts_with(&format!(
            "refused for now: outbox-full: outbox to {B} is full: 2 messages"
        )) && stderr.contains("oldest")
            && stderr.contains("(try again in "),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing reported as sent: {out:?}");
    let status = a.status();
    let p = status
        .peers
        .iter()
        .find(|p| p.node.as_str() == B)
        .expect("B is A's peer");
    assert_eq!((p.outbox, p.outbox_refused), (2, 1));
    tokio::time::timeout(Duration::from_secs(30), a.shutdown())
        .await
        .expect("A stops in time")
        .expect("A stops");
}
