//! Nothing on disk changes: data dirs written by an earlier build open unchanged.
//!
//! `tests/fixtures/datadir-v1/` holds the data dirs of the four nodes of `liaison demo` (alerts
//! across two gateways with every hop's receipt, a request and its reply, a refusal, consent
//! and onward sharing, a shared case with deconfliction, witnessing), as that build wrote
//! them, with the PKI needed to read them (node keys and certificates, network CAs and CRLs;
//! the API tokens are left out). Each is copied, opened by today's store, read in full and
//! audited offline; its journal and checkpoint files must come out byte for byte as they went
//! in. See `tests/fixtures/datadir-v1/README.md` for how the fixture was made.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use liaison_audit::Uncovered;
use liaison_certs::load::{load_signer, load_trust};
use liaison_node::store::{checkpoint, Store};
use liaison_protocol::log::LogEntry;
use liaison_tests::copy_dir;

const NODES: [&str; 4] = [
    "caricc.central-asia",
    "gcc-cic.gulf",
    "kz-dcu.central-asia",
    "om-dcu.gulf",
];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/datadir-v1")
}

/// The files whose bytes the store must never rewrite.
const KEPT: [&str; 3] = ["store/journal-v1", "checkpoint.note", "checkpoints.jsonl"];

#[tokio::test]
async fn data_dirs_of_an_earlier_build_open_read_and_audit_unchanged() {
    let f = fixture();
    let trust = load_trust([
        (
            f.join("pki/central-asia/ca.crt").as_path(),
            Some(f.join("pki/central-asia/crl.pem").as_path()),
        ),
        (
            f.join("pki/gulf/ca.crt").as_path(),
            Some(f.join("pki/gulf/crl.pem").as_path()),
        ),
    ])
    .expect("the fixture's trust");
    for node in NODES {
        let copy = tempfile::tempdir().expect("tmp");
        copy_dir(&f.join("nodes").join(node).join("data"), copy.path());
        let before: Vec<Vec<u8>> = KEPT
            .iter()
            .map(|k| std::fs::read(copy.path().join(k)).expect("fixture file"))
            .collect();
        let signer = load_signer(
            &f.join(format!("pki/nodes/{node}.crt")),
            &f.join(format!("pki/nodes/{node}.key")),
        )
        .expect("the node's key");
        let store = Store::open(copy.path(), Arc::new(signer)).expect("opens");

        // The log as the last checkpoint signed it.
        let note = store.last_checkpoint().expect("a checkpoint");
        let size = checkpoint::size_of(&note).expect("size");
        assert_eq!(
            store.log_size(),
            size,
            "{node}: the log its checkpoint covers"
        );
        assert!(size > 40, "{node}: {size} entries");
        for i in 0..size {
            let e: LogEntry = store
                .log_entry(i)
                .expect("reads")
                .expect("every entry is there");
            assert_eq!(e.index, i, "{node}");
        }
        // Every message it keeps reads back intact (or was purged), with its state.
        let ids = store.message_ids();
        assert!(ids.len() > 20, "{node}: {} messages", ids.len());
        for id in &ids {
            let state = store
                .state(id)
                .expect("state")
                .expect("every message has one");
            assert_eq!(&state.facts.id, id);
            if !state.purged {
                let env = store
                    .envelope(id)
                    .unwrap_or_else(|e| panic!("{node}: message {id}: {e}"))
                    .expect("stored");
                assert_eq!(env.signed.id(), *id);
            }
        }
        let report = store
            .scrub(&|_| Ok(None), &|| false)
            .expect("every body checks");
        assert!(
            report.damaged.is_empty() && report.unexplained.is_empty(),
            "{node}: {report:?}"
        );
        store.shutdown().await.expect("closes");
        drop(store);

        // Nothing it wrote was rewritten.
        for (k, bytes) in KEPT.iter().zip(before) {
            assert_eq!(
                std::fs::read(copy.path().join(k)).expect("still there"),
                bytes,
                "{node}: {k} changed"
            );
        }
        // And the auditor's offline check holds, strictly.
        let r = liaison_audit::verify(copy.path(), &trust, Uncovered::Refuse, |_, _, _| {})
            .expect("audits");
        assert!(r.ok(), "{node}: {:?}", r.problems);
        assert_eq!(r.entries, size);
        assert!(r.messages_verified > 20, "{node}: {r:?}");
    }
}
