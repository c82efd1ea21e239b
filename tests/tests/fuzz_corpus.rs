//! Bad input gets a clear error, never a crash (DESIGN promise 8), on the node's side: every
//! committed corpus file of the node-side fuzz targets (`fuzz/corpus/journal_replay/`,
//! `fuzz/corpus/api_json/`) is replayed through the fuzz harness itself (`fuzz/src/node.rs`,
//! compiled in by path), so a crash once found and committed as a seed stays fixed without
//! nightly or libFuzzer. The protocol's targets are replayed by
//! `protocol/tests/fuzz_corpus.rs`.
//!
//! Regenerating the seeds (after a change of the journal's format or of the API's requests):
//!
//! ```text
//! cargo test -p liaison-tests --test fuzz_corpus -- --ignored regenerate
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use liaison_node::case::CaseRequest;
use liaison_node::compose::SendRequest;
use liaison_node::store::journal::{self, MemMedium};
use liaison_node::store::Store;
use liaison_protocol::log::Event;
use liaison_protocol::{NodeId, ReceiptStatus};
use liaison_tests::{signer, stored_alert, TestPki};

#[allow(dead_code, missing_docs)]
#[path = "../../fuzz/src/node.rs"]
mod harness;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable corpus directory").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, bytes)
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no corpus for {target} in {}",
        dir.display()
    );
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    for (name, bytes) in corpus(target) {
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(outcome.is_ok(), "{target}: corpus file {name} panicked");
    }
}

#[test]
fn journal_replay_corpus_never_panics() {
    replay("journal_replay", harness::journal_replay);
}

#[test]
fn api_json_corpus_never_panics() {
    replay("api_json", harness::api_json);
}

/// The seeds are only useful if they still reach the deep paths: a stale journal seed (after
/// a format change) would leave the fuzzer starting from a refused file header, a stale API
/// seed from a parse error.
#[test]
fn seeds_reach_the_record_decoder_and_the_checks_before_signing() {
    for (name, bytes) in corpus("journal_replay") {
        let Some(file) = name
            .starts_with("seed-store-")
            .then(|| bytes.strip_prefix(&[0]))
            .flatten()
        else {
            continue;
        };
        let medium = MemMedium::new(file.to_vec());
        let mut leaves = 0;
        let end = journal::replay(&medium, |r| {
            leaves += u64::from(matches!(r, journal::Record::Leaf { .. }));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert!(leaves >= 5, "{name}: {leaves} log entries");
        assert_eq!(end.torn > 0, name.ends_with("-torn"), "{name}: {end:?}");
    }
    for (name, bytes) in corpus("journal_replay") {
        if let Some(ops) = name
            .starts_with("seed-written-")
            .then(|| bytes.strip_prefix(&[1]))
            .flatten()
        {
            let (_, written) = harness::write_journal(ops);
            assert_eq!(
                written.is_none(),
                name.contains("-edited"),
                "{name}: edited or not"
            );
        }
    }

    let me: NodeId = harness::NODE.parse().unwrap();
    for (name, bytes) in corpus("api_json") {
        if !name.starts_with("seed-") {
            continue;
        }
        let (&which, json) = bytes.split_first().expect("a selector byte");
        let parsed = match usize::from(which) % harness::API_REQUESTS.len() {
            0 => serde_json::from_slice::<SendRequest>(json).map(|req| {
                if let Err(e) = liaison_node::compose::body(&me, &req, harness::NOW, harness::NONCE)
                {
                    panic!("{name}: refused before signing: {e:?}");
                }
            }),
            1 => serde_json::from_slice::<CaseRequest>(json).map(|req| {
                if name.starts_with("seed-case-open") {
                    let id = liaison_node::case::case_id(harness::CASE).unwrap();
                    if let Err(e) = liaison_node::case::open_body(
                        &me,
                        std::slice::from_ref(&me),
                        &id,
                        &req,
                        harness::NOW,
                        harness::NONCE,
                    ) {
                        panic!("{name}: refused before signing: {e:#}");
                    }
                }
            }),
            2 => serde_json::from_slice::<liaison_node::api::NodesRequest>(json).map(|req| {
                req.nodes().unwrap_or_else(|e| panic!("{name}: {e}"));
            }),
            3 => serde_json::from_slice::<liaison_node::api::ConsentRequestAnswer>(json).map(drop),
            _ => serde_json::from_slice::<liaison_node::api::PurgeRequest>(json).map(drop),
        };
        parsed.unwrap_or_else(|e| panic!("{name}: does not parse: {e}"));
    }
}

/// Officer API request bodies, as the docs and the API tests write them: (seed name, request
/// type (`harness::API_REQUESTS`), JSON).
const API_SEEDS: &[(&str, u8, &str)] = &[
    // docs/openapi.yaml, POST /v1/messages
    (
        "send-alert",
        0,
        r#"{"kind":"alert","to":["kz-dcu.central-asia"],"tlp":"AMBER","release":["network:central-asia"],"eval":"B2","text":"Container MSCU1234565 expected at Aktau on 12 May","lang":"en","entities":["container=MSCU1234565","phone=+77011234567"]}"#,
    ),
    (
        "send-request",
        0,
        r#"{"kind":"request","to":["network:central-asia","caricc.central-asia"],"tlp":"AMBER","eval":"A1","text":"Who holds wallet BTC:bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh?","lang":"ru","entities":["wallet=BTC:bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh","imo=9074729"],"urgency":"urgent","case":"CARICC-2026-0042","h0":true,"h1":true,"h3":"no onward use in court","originator_control":true,"expires_in_secs":604800}"#,
    ),
    (
        "send-reply",
        0,
        r#"{"kind":"reply","to":["kz-dcu.central-asia"],"tlp":"GREEN","eval":"B2","text":"Vessel arrives Thursday","lang":"ar","in_reply_to":"f1f4ca54269d44c8885dcfb935e40cb6eefe027958963f98d22f384bc154f500"}"#,
    ),
    // docs/openapi.yaml, POST /v1/cases and /v1/cases/{case}/{action}
    (
        "case-open",
        1,
        r#"{"title":"Операция «Караван»","nodes":["kz-dcu.central-asia","gcc-cic.gulf"],"tlp":"AMBER","eval":"B2","text":"Контролируемая поставка","lang":"ru","entities":["phone=+77011234567"]}"#,
    ),
    (
        "case-open-with-attachment",
        1,
        r#"{"id":"OM-2026-0042","title":"Manifest","lead":"om-dcu.gulf","tlp":"GREEN","release":["network:gulf"],"eval":"C3","text":"Manifest attached","lang":"en","attachments":[{"name":"manifest.txt","media_type":"text/plain","content_base64":"TVNDVTEyMzQ1NjUK"}]}"#,
    ),
    (
        "case-update",
        1,
        r#"{"text":"السفينة تصل يوم الخميس","lang":"ar"}"#,
    ),
    (
        "case-task",
        1,
        r#"{"title":"Check the container at Aktau","assignee":"kz-dcu.central-asia","due":"2026-12-01","status":"in-progress","text":"before the vessel leaves","lang":"en"}"#,
    ),
    (
        "case-remove",
        1,
        r#"{"nodes":["gcc-cic.gulf"],"text":"left the operation"}"#,
    ),
    // docs/openapi.yaml, consent and share
    (
        "consent-request",
        2,
        r#"{"to":["om-dcu.gulf"],"reason":"joint operation"}"#,
    ),
    (
        "consent-answer",
        3,
        r#"{"grant":true,"expires_in_secs":86400,"reason":"for the operation"}"#,
    ),
    ("purge", 4, r#"{"dry_run":true}"#),
];

/// Structured journal seeds (`harness::write_journal`): (name, operations).
const WRITTEN_SEEDS: &[(&str, &[u8])] = &[
    (
        "written-batches",
        &[
            0, 5, b'l', b'e', b'a', b'f', b'0', // leaf
            1, 3, b's', b't', b'1', 4, b'b', b'o', b'd', b'y', // new, with its body
            2, 3, b's', b't', b'2', // update
            3, 1, 3, b'a', b'c', b'k', // signed answer for entry 1
            4,    // commit
            0, 5, b'l', b'e', b'a', b'f', b'1', 4, // a second batch
        ],
    ),
    (
        "written-then-edited",
        &[
            0, 5, b'l', b'e', b'a', b'f', b'0', 4, // a batch
            5, 0, 42, 0x20, // a flipped bit in its records
            0, 5, b'l', b'e', b'a', b'f', b'1', 4, // a valid batch after it
        ],
    ),
];

/// Writes the seeds of the node's fuzz targets (`journal_replay`, `api_json`) into
/// `fuzz/corpus`. Ignored on purpose: it is a generator, not a check — it writes into the
/// source tree, which a test run must never do; the tests above run every committed seed
/// through the same harness. Run it with
/// `cargo test -p liaison-tests --test fuzz_corpus -- --ignored regenerate_node_fuzz_seeds`.
#[tokio::test]
#[ignore = "writes fuzz/corpus; run explicitly to regenerate"]
async fn regenerate_node_fuzz_seeds() {
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).expect("mkdir corpus");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
    };
    for (name, which, json) in API_SEEDS {
        let mut bytes = vec![*which];
        bytes.extend_from_slice(json.as_bytes());
        write("api_json", name, &bytes);
    }
    for (name, ops) in WRITTEN_SEEDS {
        let mut bytes = vec![1];
        bytes.extend_from_slice(ops);
        write("journal_replay", name, &bytes);
    }

    // A real store's journal: messages originated, one received and acknowledged, a signed
    // answer kept beside its entry, an administrative act; each its own batch.
    let pki = TestPki::new(&["central-asia", "gulf"]);
    let kz = Arc::new(signer(&pki.node("kz-dcu.central-asia")));
    let om_signer = signer(&pki.node("om-dcu.gulf"));
    let om: NodeId = "om-dcu.gulf".parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), kz.clone()).unwrap();
    for i in 0..2 {
        let (env, facts) = stored_alert(&kz, i, None);
        store.originate(env, facts, vec![om.clone()]).await.unwrap();
    }
    let (env, facts) = stored_alert(&om_signer, 10, None);
    let received = facts.id;
    store
        .accept(env, facts, om.clone(), true, vec![])
        .await
        .unwrap();
    assert!(store.ack(received, "officer".into()).await.unwrap());
    let (answer, _) = stored_alert(&kz, 11, None);
    store
        .record_signed(
            Event::ReceiptSent {
                receipt: answer.signed.id(),
                to: om.clone(),
                status: ReceiptStatus::Delivered,
                ids: vec![received],
            },
            answer.encode(),
        )
        .await
        .unwrap();
    store
        .record(Event::Admin {
            act: "fuzz-seed".into(),
            detail: "a journal for the fuzzer".into(),
        })
        .await
        .unwrap();
    store.shutdown().await.unwrap();
    drop(store);
    let file = std::fs::read(dir.path().join("store").join(journal::FILE)).unwrap();
    let mut bytes = vec![0];
    bytes.extend_from_slice(&file);
    write("journal_replay", "store-journal", &bytes);
    // The same, cut inside its last batch, as a crash leaves it.
    bytes.truncate(bytes.len() - 7);
    write("journal_replay", "store-journal-torn", &bytes);
    eprintln!("wrote the journal_replay and api_json seeds");
}
