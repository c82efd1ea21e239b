//! Online backup and restore, with real processes: `liaison backup` copies a running node's
//! data dir under load; `liaison audit verify` verifies the copy as it is; `liaison node
//! restore` refuses to put it back over a data dir that logged more (its witness would see
//! the log rolled back), and after a lost disk puts it back so that the node goes on with
//! its witness silent.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use liaison_tests::cluster::{alert, start, wait_for, Cluster};

/// The node backed up and restored: a separate `liaison node run` process.
const A: &str = "kz-dcu.central-asia";
/// Its peer and witness, sending to it: in this process.
const B: &str = "caricc.central-asia";
const WAIT: Duration = Duration::from_secs(60);

fn liaison(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liaison"))
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .output()
        .expect("run liaison")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `liaison backup --out <out>` against the node of `config`, off the test's runtime (B runs on
/// it and keeps answering A meanwhile); checks it succeeded.
async fn backup(config: &Path, out: &Path) -> Output {
    let (config, out) = (config.to_owned(), out.to_owned());
    let done = tokio::task::spawn_blocking(move || {
        liaison(&["backup", "--out", out.to_str().expect("path")], &config)
    })
    .await
    .expect("backup");
    assert!(done.status.success(), "{}", text(&done));
    done
}

fn spawn_node(config: &Path, log: &Path) -> Child {
    liaison_tests::cluster::spawn_node(env!("CARGO_BIN_EXE_liaison"), config, log)
}

/// `GET /v1{path}` on A's API, once it answers 200.
fn api_text(api: std::net::SocketAddr, token_file: &Path, path: &str) -> Option<String> {
    liaison_tests::cluster::api_get(api, token_file, path)
}

fn api_get(api: std::net::SocketAddr, token_file: &Path, path: &str) -> Option<serde_json::Value> {
    serde_json::from_str(&api_text(api, token_file, path)?).ok()
}

/// A's newest checkpoint, if B has cosigned it: its size.
fn cosigned_by_b(api: std::net::SocketAddr, token_file: &Path) -> Option<u64> {
    let note = api_text(api, token_file, "/checkpoint")?;
    note.contains(&format!("liaison/{B}"))
        .then(|| liaison_store::checkpoint::size_of(&note))
        .flatten()
}

fn log_size(api: std::net::SocketAddr, token_file: &Path) -> u64 {
    api_get(api, token_file, "/status")
        .and_then(|s| s["log_size"].as_u64())
        .unwrap_or(0)
}

fn backup_size(dir: &Path) -> u64 {
    liaison_store::backup::read_manifest(dir)
        .expect("manifest")
        .log_size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_verifies_and_restores_without_false_witness_alarms() {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let b = start(c.config(B, &[A])).await;
    let cfg = c.config(A, &[B]);
    let data = cfg.data_dir.clone();
    let home = c.node_dir(A);
    let liaison_tests::cluster::NodeFiles {
        config,
        api,
        token_file,
    } = c.node_toml(cfg);
    let ca = c.dir.path().join("pki/central-asia/ca.crt");
    let mut node = spawn_node(&config, &home.join("node-1.log"));
    wait_for("A's API", WAIT, || log_size(api, &token_file) > 0).await;
    liaison_tests::cluster::wait_keys(&b, &[A]).await;

    // B sends to A without pause while A is backed up.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (ctx, stop, sent) = (b.ctx().clone(), stop.clone(), sent.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                liaison_node::node::send(&ctx, &alert(A, &format!("under load {i}")))
                    .await
                    .expect("send");
                sent.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };
    wait_for("traffic into A", WAIT, || log_size(api, &token_file) > 100).await;

    let copy: PathBuf = c.dir.path().join("backup-1");
    let out = backup(&config, &copy).await;
    assert!(
        text(&out).contains("backed up kz-dcu.central-asia"),
        "{}",
        text(&out)
    );
    let at = backup_size(&copy);
    // The copy is a data dir that verifies as it is: its checkpoint covers all of it.
    let verified = Command::new(env!("CARGO_BIN_EXE_liaison"))
        .args(["audit", "verify", "--data"])
        .arg(&copy)
        .arg("--ca")
        .arg(&ca)
        .output()
        .expect("audit verify");
    assert!(verified.status.success(), "{}", text(&verified));

    // A goes on logging after the copy; then it stops.
    wait_for("A to log past the copy", WAIT, || {
        log_size(api, &token_file) > at + 50
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    sender.await.expect("sender");
    assert!(sent.load(Ordering::Relaxed) > 0);
    wait_for("B's outbox to A drained", WAIT, || {
        b.store().outbox_depths().values().sum::<u64>() == 0
    })
    .await;
    // Until B has cosigned a checkpoint of A beyond the copy.
    wait_for("B to cosign A past the copy", WAIT, || {
        cosigned_by_b(api, &token_file).is_some_and(|s| s > at)
    })
    .await;
    node.kill().expect("kill A");
    node.wait().expect("wait");

    // Putting the copy back over the data dir that logged more is refused, with the reason.
    let refused = liaison(
        &["node", "restore", "--from", copy.to_str().expect("path")],
        &config,
    );
    assert!(!refused.status.success(), "{}", text(&refused));
    let why = text(&refused);
    assert!(
        why.contains("roll its log back") && why.contains(B),
        "{why}"
    );
    assert!(
        data.join("store").exists(),
        "the data dir is left as it was"
    );

    // A fresh copy at a quiet moment, then A crashes and its disk is lost.
    let restarted = liaison_store::now();
    let mut node = spawn_node(&config, &home.join("node-2.log"));
    wait_for("A's API again", WAIT, || log_size(api, &token_file) > 0).await;
    // B's connection to A's new process, not the one to the killed process, which B shows as
    // connected until its next packet meets the new process's reset: the new connection is
    // what carries B's announcement to A.
    wait_for("B connected to A's new process", WAIT, || {
        b.status()
            .peers
            .iter()
            .any(|p| p.state.connected && p.state.since.is_some_and(|t| t >= restarted))
    })
    .await;
    // A quiet moment: the start-up traffic both ways (each side's announcement and the
    // receipt for it) is over, and B has cosigned all that A logged; nothing moves until the
    // copy is made.
    wait_for("A quiet and all of its log cosigned", WAIT, || {
        let Some(status) = api_get(api, &token_file, "/status") else {
            return false;
        };
        let idle = status["peers"]
            .as_array()
            .is_some_and(|p| p.iter().all(|p| p["connected"] == true && p["outbox"] == 0));
        idle && b.store().outbox_depths().values().sum::<u64>() == 0
            && cosigned_by_b(api, &token_file) == status["log_size"].as_u64()
    })
    .await;
    let quiet: PathBuf = c.dir.path().join("backup-2");
    backup(&config, &quiet).await;
    let at = backup_size(&quiet);
    // B cosigns the copy's own checkpoint (the same size and root): nothing after it. If it
    // does not, say what A logged after the copy.
    let cosigned = tokio::time::timeout(WAIT, async {
        while cosigned_by_b(api, &token_file) != Some(at) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        cosigned.is_ok(),
        "B did not cosign the copy's checkpoint of {at} entries; B cosigned {:?}; A logged after \
         the copy: {:#}",
        cosigned_by_b(api, &token_file),
        api_get(api, &token_file, &format!("/log?from={at}")).unwrap_or_default()
    );
    assert_eq!(
        log_size(api, &token_file),
        at,
        "nothing logged after the copy"
    );
    node.kill().expect("kill A");
    node.wait().expect("wait");
    std::fs::remove_dir_all(&data).expect("the disk is lost");

    let restored = liaison(
        &["node", "restore", "--from", quiet.to_str().expect("path")],
        &config,
    );
    assert!(restored.status.success(), "{}", text(&restored));
    assert!(
        text(&restored).contains("restored kz-dcu.central-asia"),
        "{}",
        text(&restored)
    );

    // A goes on from the copy: new messages arrive, B cosigns the longer log, no alarm.
    let mut node = spawn_node(&config, &home.join("node-3.log"));
    wait_for("A's API after the restore", WAIT, || {
        log_size(api, &token_file) >= at
    })
    .await;
    let after = Instant::now();
    b.send(&alert(A, "after the restore")).await.expect("send");
    wait_for("B to cosign A's log beyond the copy", WAIT, || {
        cosigned_by_b(api, &token_file).is_some_and(|s| s > at)
    })
    .await;
    println!("witnessed again {:?} after the restart", after.elapsed());
    assert!(b.status().alarms.is_empty(), "B: {:?}", b.status().alarms);
    let alarms = api_get(api, &token_file, "/status").expect("status")["alarms"].clone();
    assert_eq!(alarms, serde_json::json!([]), "A: {alarms}");
    node.kill().expect("kill A");
    node.wait().expect("wait");
    b.shutdown().await.expect("stop B");
}
