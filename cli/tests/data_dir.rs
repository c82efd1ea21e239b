//! A data dir belongs to one node process, and everything in it is private to the node's user:
//! real `liaison node run` processes on real data dirs.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use liaison_node::config::Config;
use liaison_tests::cluster::{alert, free_tcp_addr, free_udp_addr, start, wait_for, Cluster};

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";
const LIMIT: Duration = Duration::from_secs(60);

/// `liaison node run --config <config>`, under the shell's `umask` given.
fn node_command(config: &Path, umask: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!(
            "umask {umask} && exec \"$0\" node run --config \"$1\""
        ))
        .arg(env!("CARGO_BIN_EXE_liaison"))
        .arg(config)
        .stdin(Stdio::null());
    c
}

fn spawn_node(config: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    node_command(config, "022")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Runs a node process that is expected to stop by itself (a refusal), with a bound.
fn run_to_exit(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + LIMIT;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the node process did not stop by itself");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write_config(cfg: &Config, path: &Path) {
    std::fs::write(path, toml::to_string(cfg).unwrap()).unwrap();
}

fn token(cfg: &Config) -> String {
    std::fs::read_to_string(&cfg.api.token_file)
        .unwrap()
        .trim()
        .to_owned()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Waits until the node process at `cfg` answers its API.
fn wait_api(cfg: &Config) {
    let deadline = Instant::now() + LIMIT;
    loop {
        if cfg.api.token_file.exists() {
            let r = agent()
                .get(format!("http://{}/v1/status", cfg.api.listen))
                .header("Authorization", format!("Bearer {}", token(cfg)))
                .call();
            if r.is_ok_and(|r| r.status() == 200) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the node did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends alerts to B through the API until `n` are acknowledged (201); returns their ids.
fn send_acknowledged(cfg: &Config, n: usize, tag: &str) -> Vec<String> {
    let agent = agent();
    let mut ids = Vec::new();
    let deadline = Instant::now() + LIMIT;
    let mut i = 0;
    while ids.len() < n {
        assert!(
            Instant::now() < deadline,
            "the node did not acknowledge {n} sends"
        );
        let body = serde_json::to_string(&alert(B, &format!("{tag} {i}"))).unwrap();
        i += 1;
        let Ok(mut r) = agent
            .post(format!("http://{}/v1/messages", cfg.api.listen))
            .header("Authorization", format!("Bearer {}", token(cfg)))
            .header("Content-Type", "application/json")
            .send(body)
        else {
            continue;
        };
        if r.status() == 201 {
            let v: serde_json::Value =
                serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
            ids.push(v["id"].as_str().unwrap().to_owned());
        } else {
            // The first sends wait for B's sealing key; nothing else may fail.
            let text = r.body_mut().read_to_string().unwrap_or_default();
            assert!(text.contains("no-sealing-key"), "{text}");
        }
    }
    ids
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "the node stopped cleanly: {status}");
}

struct Setup {
    c: Cluster,
    cfg: Config,
    config: PathBuf,
}

fn setup() -> Setup {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let mut cfg = c.config(A, &[B]);
    cfg.api.listen = free_tcp_addr();
    let config = c.node_dir(A).join("node.toml");
    write_config(&cfg, &config);
    Setup { c, cfg, config }
}

/// A second `liaison node run` on a data dir in use — with the same configuration, or with
/// other ports — is refused at once, naming the dir and the first process, before it reads or
/// writes anything in the store; the first keeps working, and after a restart every message
/// it acknowledged is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_a_data_dir_is_refused_and_the_first_loses_nothing() {
    let s = setup();
    let b = start(s.c.config(B, &[A])).await;
    let home = s.c.node_dir(A);
    let first = spawn_node(&s.config, &home.join("first.log"));
    let (cfg, pid) = (s.cfg.clone(), first.id());
    let mut acked = tokio::task::spawn_blocking(move || {
        wait_api(&cfg);
        send_acknowledged(&cfg, 40, "before")
    })
    .await
    .unwrap();

    let journal = s.cfg.data_dir.join("store").join("journal-v1");
    let torn_files = |dir: &Path| -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("torn")
            })
            .count()
    };
    // The same configuration, then the same data dir on other ports.
    let mut other = s.cfg.clone();
    other.listen = free_udp_addr();
    other.api.listen = free_tcp_addr();
    let other_config = home.join("other.toml");
    write_config(&other, &other_config);
    for config in [&s.config, &other_config] {
        let out = run_to_exit(node_command(config, "022"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains(&format!(
                "data_dir {} is in use by another liaison process (pid {pid})",
                s.cfg.data_dir.display()
            )),
            "{err}"
        );
        // Refused before the store was opened: it never replayed or cut anything.
        assert!(!err.contains("journal"), "{err}");
        assert_eq!(torn_files(journal.parent().unwrap()), 0);
    }

    // The first process is unaffected.
    let cfg = s.cfg.clone();
    acked.extend(
        tokio::task::spawn_blocking(move || send_acknowledged(&cfg, 40, "after"))
            .await
            .unwrap(),
    );
    stop(first);

    // Restarted, it holds every message it acknowledged, and B gets each exactly once.
    let second = spawn_node(&s.config, &home.join("restart.log"));
    let cfg = s.cfg.clone();
    let ids = acked.clone();
    tokio::task::spawn_blocking(move || {
        wait_api(&cfg);
        let agent = agent();
        for id in &ids {
            let r = agent
                .get(format!("http://{}/v1/messages/{id}", cfg.api.listen))
                .header("Authorization", format!("Bearer {}", token(&cfg)))
                .call()
                .unwrap();
            assert_eq!(r.status(), 200, "acknowledged message {id} is there");
        }
    })
    .await
    .unwrap();
    let store_b = b.store().clone();
    let want: HashSet<String> = acked.iter().cloned().collect();
    assert_eq!(want.len(), 80);
    wait_for("B to hold all 80 acknowledged messages", LIMIT, || {
        let have: HashSet<String> = store_b
            .inbox(0, usize::MAX)
            .unwrap()
            .iter()
            .map(|i| i.state.facts.id.to_string())
            .collect();
        want.is_subset(&have)
    })
    .await;
    let inbox = store_b.inbox(0, usize::MAX).unwrap();
    assert_eq!(inbox.len(), 80, "each exactly once");
    stop(second);
    b.shutdown().await.unwrap();
}

/// Whatever the umask, the data dir is 0700 and every file the node writes in it is 0600; a
/// node key that others can read is refused with the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_dir_is_private_and_a_readable_key_is_refused() {
    let s = setup();
    let home = s.c.node_dir(A);
    // A key readable by others: refused, naming the file and the fix.
    std::fs::set_permissions(&s.cfg.identity.key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run_to_exit(node_command(&s.config, "022"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("identity.key")
            && err.contains(&s.cfg.identity.key.display().to_string())
            && err.contains("mode 0644")
            && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(&s.cfg.identity.key, std::fs::Permissions::from_mode(0o600)).unwrap();

    // Under umask 000, with traffic (messages, receipts, checkpoints, witnessing).
    let b = start(s.c.config(B, &[A])).await;
    let log = std::fs::File::create(home.join("node.log")).unwrap();
    let node = node_command(&s.config, "000")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let cfg = s.cfg.clone();
    tokio::task::spawn_blocking(move || {
        wait_api(&cfg);
        send_acknowledged(&cfg, 5, "private")
    })
    .await
    .unwrap();
    let store_b = b.store().clone();
    wait_for("B to get the messages", LIMIT, || store_b.inbox_len() >= 5).await;
    stop(node);
    b.shutdown().await.unwrap();
    let mut checked = 0;
    let mut stack = vec![s.cfg.data_dir.clone()];
    while let Some(dir) = stack.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", p.display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "{checked} files checked");
}
