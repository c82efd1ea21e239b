//! The officer API keeps its published contract: Schemathesis, an OpenAPI fuzzer nobody here
//! wrote, drives every operation of `docs/openapi.yaml` (GET and POST, examples, coverage,
//! fuzzing and the stateful links between operations) against a real `liaison node run`
//! process holding real data, with a fixed seed, and every check must pass: no server
//! error, only documented status codes and content types, responses that match their
//! schemas, requests the document forbids refused and those it allows accepted (or refused
//! by the node's rules with 422; `tests/schemathesis.toml` says why).
//!
//! Needs `schemathesis` (`pip install schemathesis`; `.ci/run` installs it). Without it the
//! test fails with that hint: a contract check that silently skipped would prove nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Stops the node process whatever happens.
struct NodeProcess(Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
    }
}

fn schemathesis_ready() {
    let ok = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the API contract check needs Schemathesis: pip install schemathesis"
    );
}

/// `key = "value"` from a node's configuration file, in the table `[table]` (`""`: before
/// any table).
fn setting(config: &str, table: &str, key: &str) -> String {
    let mut in_table = table.is_empty();
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_table = line == format!("[{table}]");
        } else if in_table {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    return v.trim().trim_matches('"').to_owned();
                }
            }
        }
    }
    panic!("no {key} in [{table}] of the node's configuration");
}

#[test]
fn schemathesis_finds_nothing_against_a_real_node() {
    schemathesis_ready();
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = dir.path().join("demo");
    // A federation with real traffic (alerts, a request and reply, refusals, consent, a
    // case), so that the API has something to show; then one of its nodes runs again.
    let out = Command::new(env!("CARGO_BIN_EXE_liaison"))
        .args(["demo", "--dir"])
        .arg(&demo)
        .output()
        .expect("run liaison demo");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let node_dir = demo.join("nodes").join("kz-dcu.central-asia");
    let config_path = node_dir.join("node.toml");
    let config = std::fs::read_to_string(&config_path).expect("node.toml");
    let api = setting(&config, "api", "listen");
    let data = PathBuf::from(setting(&config, "", "data_dir"));
    let token_file = setting(&config, "api", "token_file");
    let token_path = if Path::new(&token_file).is_absolute() {
        PathBuf::from(&token_file)
    } else {
        data.join(&token_file)
    };
    let log = std::fs::File::create(dir.path().join("node.log")).expect("log file");
    let _node = NodeProcess(
        Command::new(env!("CARGO_BIN_EXE_liaison"))
            .args(["node", "run", "--config"])
            .arg(&config_path)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the node"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(&api).is_err() {
        assert!(Instant::now() < deadline, "the node's API did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let token = std::fs::read_to_string(&token_path).expect("the API token");

    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("schemathesis")
        .arg("--config-file")
        .arg(repo.join("tests/schemathesis.toml"))
        .arg("run")
        .arg(repo.join("docs/openapi.yaml"))
        .args(["--url", &format!("http://{api}")])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", token.trim()),
        ])
        .args(["--checks", "all"])
        .args(["--max-examples", "100"])
        .args(["--seed", "1"])
        // Schemathesis's own generator is not thread-safe in every version: one worker.
        .args(["--workers", "1"])
        // Its cache (.schemathesis/) goes with the test's files, not into the checkout.
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run schemathesis");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{report}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "Schemathesis found failures:\n{report}"
    );
    assert!(report.contains("passed"), "{report}");
}
