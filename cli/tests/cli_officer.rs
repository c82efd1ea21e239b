//! The officer CLI and `liaison node run` end to end: the real binary, a real node process
//! built from `liaison certs` output, talking over the local API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use liaison_tests::cluster::{free_tcp_addr, free_udp_addr};
use tempfile::TempDir;

const NODE: &str = "caricc.central-asia";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn liaison(cwd: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_liaison"))
        .args(args)
        .current_dir(cwd)
        .env_remove("LIAISON_CONFIG")
        .env_remove("LIAISON_API")
        .env_remove("LIAISON_TOKEN_FILE")
        .output()
        .expect("run liaison");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A CA, a node certificate and a `node.toml` (relative paths) in a temp dir.
fn node_files() -> (TempDir, PathBuf, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = liaison(
        d,
        &[
            "certs",
            "new-network",
            "--network",
            "central-asia",
            "--out",
            "ca",
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let r = liaison(
        d,
        &[
            "certs",
            "issue-node",
            "--ca",
            "ca",
            "--node",
            "caricc",
            "--out",
            "node",
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let api = free_tcp_addr();
    let config = format!(
        "node_id = \"{NODE}\"\n\
         data_dir = \"data\"\n\
         listen = \"{}\"\n\
         [identity]\n\
         cert = \"node/{NODE}.crt\"\n\
         key = \"node/{NODE}.key\"\n\
         [[trust]]\n\
         ca = \"ca/ca.crt\"\n\
         crl = \"ca/crl.pem\"\n\
         [api]\n\
         listen = \"{api}\"\n",
        free_udp_addr()
    );
    let path = d.join("node.toml");
    std::fs::write(&path, config).unwrap();
    (dir, path, api)
}

/// A `liaison node run` child process, killed if the test fails before stopping it.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_node(dir: &Path) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_liaison"))
        .args(["node", "run", "--config", "node.toml"])
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node");
    Daemon(child)
}

#[test]
fn cli_reports_a_node_that_is_not_running_with_the_fix() {
    let (dir, _config, api) = node_files();
    let r = liaison(dir.path(), &["--config", "node.toml", "status"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(
        r.stderr.trim(),
        format!(
            "error: node not running at {api} — start it with `liaison node run --config node.toml`"
        ),
        "{r:?}"
    );
    // No way to find a node at all: a usage hint.
    let r = liaison(dir.path(), &["inbox"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("--config <node.toml>"), "{r:?}");
    // Usage errors exit 2.
    let r = liaison(dir.path(), &["send", "--to", NODE]);
    assert_eq!(r.code, Some(2), "{r:?}");
}

#[test]
fn cli_talks_to_a_running_node_and_the_node_stops_cleanly_on_sigterm() {
    let (dir, _config, _api) = node_files();
    let d = dir.path();
    let mut node = start_node(d);

    // Wait for the API to answer (bounded; fail early if the node died).
    let start = Instant::now();
    let status = loop {
        if let Some(exit) = node.0.try_wait().unwrap() {
            panic!("the node exited early: {exit}");
        }
        let r = liaison(d, &["--config", "node.toml", "status"]);
        if r.code == Some(0) {
            break r;
        }
        assert!(
            r.stderr.contains("node not running") || r.stderr.contains("token file"),
            "{r:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "node did not come up: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.stdout.contains(NODE), "{status:?}");
    assert!(status.stdout.contains("log "), "{status:?}");

    let r = liaison(d, &["--config", "node.toml", "status", "--json"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("status JSON");
    assert_eq!(v["node"], NODE);
    assert!(v["log_size"].as_u64().unwrap() >= 1);

    // The token file was created private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("data/api.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A message the node refuses: exit 3, `refused: <reason-code>: …`.
    let r = liaison(
        d,
        &[
            "--config",
            "node.toml",
            "send",
            "--to",
            "kz-dcu.central-asia",
            "--tlp",
            "AMBER",
            "--eval",
            "B2",
            "--text",
            "hello",
        ],
    );
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stderr.starts_with("refused: no-route: "), "{r:?}");

    let r = liaison(d, &["--config", "node.toml", "inbox"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.contains("inbox is empty"), "{r:?}");
    let r = liaison(d, &["--config", "node.toml", "inbox", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("inbox JSON");
    assert_eq!(v["items"], serde_json::json!([]));

    let zero = "0".repeat(64);
    let r = liaison(d, &["--config", "node.toml", "show", &zero]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("unknown-message"), "{r:?}");

    let r = liaison(d, &["--config", "node.toml", "peers"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let r = liaison(d, &["--config", "node.toml", "checkpoint"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.starts_with(&format!("liaison/{NODE}\n")), "{r:?}");

    // The wrong token: the error names the token file and the fix.
    std::fs::write(d.join("other.token"), "ab".repeat(32)).unwrap();
    let r = liaison(
        d,
        &[
            "--config",
            "node.toml",
            "--token-file",
            "other.token",
            "status",
        ],
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("refused the API token from other.token"),
        "{r:?}"
    );

    // SIGTERM: a clean shutdown, exit 0, in bounded time.
    let pid = node.0.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = node.0.try_wait().unwrap() {
            break exit;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "node did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(0), "node exit status after SIGTERM");
    let r = liaison(d, &["--config", "node.toml", "status"]);
    assert!(r.stderr.contains("node not running"), "{r:?}");
}

#[test]
fn node_run_names_the_bad_configuration_key() {
    let (dir, config, _api) = node_files();
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("[api]\n", "[api]\nlisten_typo = 1\n")).unwrap();
    let r = liaison(dir.path(), &["node", "run", "--config", "node.toml"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("listen_typo"), "{r:?}");
}

#[test]
fn example_configuration_documents_every_key() {
    use liaison_node::config::Config;
    let text = include_str!("../../deploy/node.example.toml");
    let cfg: Config = toml::from_str(text).expect("deploy/node.example.toml parses as a Config");
    fn keys(prefix: &str, v: &toml::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.insert(p.clone());
                    keys(&p, v, out);
                }
            }
            toml::Value::Array(a) => {
                for v in a {
                    keys(prefix, v, out);
                }
            }
            _ => {}
        }
    }
    let mut example = Default::default();
    keys("", &toml::from_str(text).unwrap(), &mut example);
    let mut all = Default::default();
    keys(
        "",
        &toml::Value::try_from(&cfg).expect("Config serialises"),
        &mut all,
    );
    let missing: Vec<_> = all.difference(&example).collect();
    assert!(
        missing.is_empty(),
        "keys missing from deploy/node.example.toml: {missing:?}"
    );
}

#[test]
fn console_certificate_settings_are_checked_at_start_up() {
    let (dir, config, _api) = node_files();
    let text = std::fs::read_to_string(&config).unwrap();
    let with = |api_extra: &str| {
        std::fs::write(
            &config,
            text.replace("[api]\n", &format!("[api]\n{api_extra}")),
        )
        .unwrap();
        liaison(dir.path(), &["node", "run", "--config", "node.toml"])
    };
    let tls_listen = format!("tls_listen = \"{}\"\n", free_tcp_addr());
    let r = with("tls_cert = \"console/x.crt\"\n");
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("api.tls_key: required with api.tls_cert"),
        "{r:?}"
    );
    let r = with("tls_cert = \"console/x.crt\"\ntls_key = \"console/x.key\"\n");
    assert!(r.stderr.contains("api.tls_listen is not"), "{r:?}");
    let r = with(&format!(
        "{tls_listen}tls_cert = \"console/x.crt\"\ntls_key = \"console/x.key\"\n"
    ));
    assert!(
        r.stderr.contains("api.tls_cert: file") && r.stderr.contains("does not exist"),
        "{r:?}"
    );
    // A real console certificate with another certificate's key: refused, naming the key.
    let r = liaison(
        dir.path(),
        &[
            "certs",
            "console-tls",
            "--node",
            NODE,
            "--host",
            "127.0.0.1",
            "--out",
            "console",
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let r = with(&format!(
        "{tls_listen}tls_cert = \"console/{NODE}.console.crt\"\ntls_key = \"node/{NODE}.key\"\n"
    ));
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr
            .contains("api.tls_cert: cannot use this certificate and key"),
        "{r:?}"
    );
}

#[test]
fn a_trust_bundle_can_stand_for_ca_and_crl() {
    let (dir, config, _api) = node_files();
    let d = dir.path();
    let r = liaison(
        d,
        &["certs", "trust-bundle", "--ca", "ca", "--out", "trust.pem"],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let text = std::fs::read_to_string(&config).unwrap();
    let files = "ca = \"ca/ca.crt\"\ncrl = \"ca/crl.pem\"\n";
    assert!(text.contains(files));
    let with = |trust: &str| {
        std::fs::write(&config, text.replace(files, trust)).unwrap();
        liaison(d, &["node", "run", "--config", "node.toml"])
    };
    for (trust, says) in [
        (
            "bundle = \"trust.pem\"\nca = \"ca/ca.crt\"\n",
            "trust[0]: give either bundle or ca and crl, not both",
        ),
        ("ca = \"ca/ca.crt\"\n", "trust[0].crl: required with ca"),
        ("", "trust[0]: give ca and crl, or bundle"),
        ("bundle = \"nowhere.pem\"\n", "trust[0].bundle: file"),
        // Only the CA certificate: not a bundle.
        (
            "bundle = \"ca/ca.crt\"\n",
            "expected a CERTIFICATE section followed by an X509 CRL section",
        ),
    ] {
        let r = with(trust);
        assert_eq!(r.code, Some(1), "{trust}: {r:?}");
        assert!(r.stderr.contains(says), "{trust}: {r:?}");
    }
    // The bundle itself: the node starts and answers.
    std::fs::write(&config, text.replace(files, "bundle = \"trust.pem\"\n")).unwrap();
    let mut node = start_node(d);
    let start = Instant::now();
    loop {
        if let Some(exit) = node.0.try_wait().unwrap() {
            panic!("the node exited early: {exit}");
        }
        let r = liaison(d, &["--config", "node.toml", "status"]);
        if r.code == Some(0) {
            assert!(r.stdout.contains(NODE), "{r:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "node did not come up: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
