//! `SIGHUP` makes a running `liaison node run` process read its trust again: a newer CRL
//! put where the node keeps CRLs is in force at once, and the log says why it was read.

use std::process::Command;
use std::time::Duration;

use liaison_tests::cluster::{wait_for, Cluster};

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";

/// The node's log as its API serves it (JSON text), once it answers.
fn log_text(api: std::net::SocketAddr, token_file: &std::path::Path) -> String {
    let Ok(token) = std::fs::read_to_string(token_file) else {
        return String::new();
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    agent
        .get(format!("http://{api}/v1/log?limit=1000"))
        .header("Authorization", format!("Bearer {}", token.trim()))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_puts_a_newer_crl_in_force() {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let cfg = c.config(A, &[]);
    let kept = cfg.data_dir.join("crls");
    let liaison_tests::cluster::NodeFiles {
        config,
        api,
        token_file,
    } = c.node_toml(cfg);
    let mut node = liaison_tests::cluster::spawn_node(
        env!("CARGO_BIN_EXE_liaison"),
        &config,
        &c.node_dir(A).join("node.log"),
    );
    wait_for("the node's API", Duration::from_secs(60), || {
        log_text(api, &token_file).contains("\"start\"")
    })
    .await;

    // B revoked: a newer CRL, placed where the node keeps the CRLs peers hand it. The
    // configured files do not change, so only the signal makes the node read it.
    let b = c.pki.node(B);
    c.pki
        .revoke("central-asia", &b, time::OffsetDateTime::now_utc());
    std::fs::create_dir_all(&kept).expect("mkdir");
    std::fs::write(
        kept.join("from-the-ca.crl"),
        &c.pki.networks["central-asia"].crl_der,
    )
    .expect("crl");
    let hup = Command::new("kill")
        .args(["-HUP", &node.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    wait_for(
        "the CRL in force, read on SIGHUP",
        Duration::from_secs(30),
        || {
            let text = log_text(api, &token_file);
            text.contains("crl-applied") && text.contains("SIGHUP") && text.contains(&b.serial)
        },
    )
    .await;
    assert!(
        node.try_wait().expect("status").is_none(),
        "SIGHUP does not stop the node"
    );
    node.kill().expect("stop");
    node.wait().expect("wait");
}
