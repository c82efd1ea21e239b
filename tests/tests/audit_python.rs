//! An inclusion proof from `liaison audit prove`, and a consistency proof from `liaison audit
//! consistency --out`, check out with a verifier that shares no
//! code with Liaison: `tests/audit_check.py`, written from `docs/AUDIT.md` with Python's
//! `hashlib` and `cryptography`. It must accept a real proof from a real data dir, and reject
//! one flipped bit of a path hash or of the checkpoint signature, and a CA of the right
//! network name that did not issue the node's certificate.
//!
//! Needs `python3` with `cryptography` (`pip install cryptography`; `.ci/run` installs it).
//! Without them the test fails (as the STIX validator test does): a check that silently
//! skipped would prove nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use liaison_node::audit::ProofFile;
use liaison_node::store::checkpoint::keep_cert;
use liaison_node::store::Store;
use liaison_protocol::log::Event;
use liaison_protocol::{MessageId, NodeId, ReceiptStatus};
use liaison_tests::{signer, stored_alert, TestPki};

const INSTALL_HINT: &str = "the independent proof check needs python3 and its `cryptography` \
                            package: pip install cryptography";

/// Fails unless `python3` can import `cryptography`.
fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{INSTALL_HINT}");
    ok
}

/// Runs `tests/audit_check.py` with `cas` and `args`.
fn audit_check(cas: &[PathBuf], args: &[&Path]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("audit_check.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script);
    for ca in cas {
        cmd.arg("--ca").arg(ca);
    }
    let out = cmd.args(args).output().expect("run python3");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A stopped node's data dir whose log has nine entries, two of them about the returned
/// message (sent, then a peer's receipt), all under a signed checkpoint.
async fn data_dir(pki: &TestPki, dir: &Path) -> MessageId {
    let cert = pki.node("kz-dcu.central-asia");
    let kz = Arc::new(signer(&cert));
    let om: NodeId = "om-dcu.gulf".parse().unwrap();
    let store = Store::open(dir, kz.clone()).unwrap();
    let mut ids = Vec::new();
    for i in 0..8 {
        let (env, facts) = stored_alert(&kz, i, None);
        ids.push(facts.id);
        store.originate(env, facts, vec![om.clone()]).await.unwrap();
    }
    let covered = vec![ids[2], ids[5]];
    let receipt = MessageId([7; 32]);
    store
        .hop_answer(
            Event::ReceiptReceived {
                receipt,
                from: om.clone(),
                status: ReceiptStatus::Delivered,
                ids: covered.clone(),
            },
            om,
            covered
                .iter()
                .map(|id| (*id, "delivered".to_owned()))
                .collect(),
            receipt,
            // Kept as given; the proof covers the log entry, not the receipt's signature.
            b"om's signed receipt".to_vec(),
        )
        .await
        .unwrap();
    store.checkpoint().await.unwrap().expect("a checkpoint");
    store.shutdown().await.unwrap();
    drop(store);
    keep_cert(dir, &cert.cert_der).unwrap();
    ids[5]
}

fn write_ca(dir: &Path, name: &str, der: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, liaison_certs::load::to_pem("CERTIFICATE", der)).unwrap();
    path
}

#[tokio::test]
async fn python_checker_accepts_a_real_proof_and_rejects_tampering() {
    if !python_ready() {
        return;
    }
    let pki = TestPki::new(&["central-asia", "gulf"]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let id = data_dir(&pki, &data).await;
    let proof = liaison_node::audit::prove(&data, &pki.trust(), &id).unwrap();
    assert_eq!(proof.entries.len(), 2, "sent and receipt-received");
    let cas: Vec<PathBuf> = ["central-asia", "gulf"]
        .iter()
        .map(|n| write_ca(dir.path(), &format!("{n}.crt"), pki.ca(n).cert_der()))
        .collect();
    let write = |name: &str, p: &ProofFile| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(p).unwrap()).unwrap();
        path
    };
    let good = write("proof.json", &proof);

    let out = audit_check(&cas, &[&good]);
    assert_eq!(out.status.code(), Some(0), "a real proof must check out");
    assert!(
        stdout(&out).starts_with("OK 2 entries about message"),
        "{}",
        stdout(&out)
    );

    // One path hash replaced by another valid-looking hash.
    let mut bad = proof.clone();
    bad.entries[1].path[0] = bad.entries[0].path[0].clone();
    assert_ne!(bad.entries[1].path[0], proof.entries[1].path[0]);
    let out = audit_check(&cas, &[&write("tampered.json", &bad)]);
    assert_eq!(out.status.code(), Some(1), "a changed path hash must fail");
    assert!(
        stdout(&out).contains("not included in the checkpoint's tree"),
        "{}",
        stdout(&out)
    );

    // A CA with the right network name that did not issue the node's certificate.
    let impostor = TestPki::new(&["central-asia"]);
    let wrong = write_ca(
        dir.path(),
        "impostor.crt",
        impostor.ca("central-asia").cert_der(),
    );
    let out = audit_check(&[wrong], &[&good]);
    assert_eq!(out.status.code(), Some(1), "another CA must not vouch");
    assert!(
        stdout(&out).contains("signature does not verify"),
        "{}",
        stdout(&out)
    );

    // The script's own check that it can fail: a flipped path bit and signature bit.
    let out = audit_check(&cas, &[Path::new("--tamper-test"), &good]);
    assert_eq!(out.status.code(), Some(0), "the tamper test must pass");
    let text = stdout(&out);
    assert!(
        text.starts_with("OK tamper test") && text.matches("rejected").count() == 2,
        "{text}"
    );
}

/// A consistency proof written as `liaison audit consistency --out` writes it checks out with
/// the same independent checker (RFC 9162 §2.1.4.2 in Python), which rejects a flipped proof
/// bit and the two notes swapped.
#[tokio::test]
async fn python_checker_accepts_a_real_consistency_proof_and_rejects_tampering() {
    if !python_ready() {
        return;
    }
    let pki = TestPki::new(&["central-asia", "gulf"]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cert = pki.node("kz-dcu.central-asia");
    let kz = Arc::new(signer(&cert));
    let om: NodeId = "om-dcu.gulf".parse().unwrap();
    let store = Store::open(&data, kz.clone()).unwrap();
    let mut notes = Vec::new();
    // Five entries, then eleven more: neither size a power of two.
    for (from, to) in [(0, 5), (5, 16)] {
        for i in from..to {
            let (env, facts) = stored_alert(&kz, i, None);
            store.originate(env, facts, vec![om.clone()]).await.unwrap();
        }
        notes.push(store.checkpoint().await.unwrap().expect("a checkpoint"));
    }
    store.shutdown().await.unwrap();
    drop(store);
    keep_cert(&data, &cert.cert_der).unwrap();

    let proof = liaison_audit::consistency_file(&data, &pki.trust(), &notes[0], &notes[1])
        .expect("the newer checkpoint extends the older");
    assert_eq!(proof.format, liaison_audit::CONSISTENCY_FORMAT);
    assert!(proof.old_size < proof.new_size, "{proof:?}");
    assert!(!proof.hashes.is_empty());
    let cas: Vec<PathBuf> = ["central-asia", "gulf"]
        .iter()
        .map(|n| write_ca(dir.path(), &format!("{n}.crt"), pki.ca(n).cert_der()))
        .collect();
    let path = dir.path().join("consistency.json");
    std::fs::write(&path, serde_json::to_string_pretty(&proof).unwrap()).unwrap();

    let out = audit_check(&cas, &[&path]);
    assert_eq!(out.status.code(), Some(0), "a real proof must check out");
    assert!(
        stdout(&out).starts_with(&format!(
            "OK the log of kz-dcu.central-asia at {} entries",
            proof.new_size
        )),
        "{}",
        stdout(&out)
    );
    let out = audit_check(&cas, &[Path::new("--tamper-test"), &path]);
    assert_eq!(out.status.code(), Some(0), "the tamper test must pass");
    let text = stdout(&out);
    assert!(
        text.starts_with("OK tamper test") && text.matches("rejected").count() == 2,
        "{text}"
    );
}
