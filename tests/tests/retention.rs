//! Retention: `POST /v1/purge` (the supervisor's `liaison purge`) deletes the bodies the
//! policy says are due — the text is gone from the data dir's files — writes a purge entry
//! per message, leaves every other body, and every proof over the log stays valid.

use std::path::Path;
use std::time::Duration;

use liaison_node::config::RetentionRule;
use liaison_tests::api::TokenClient;
use liaison_tests::cluster::{alert, start, wait_for, Cluster};
use serde_json::json;

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";
const LIMIT: Duration = Duration::from_secs(60);

/// Whether any file under `dir` contains `marker`.
fn found_in(dir: &Path, marker: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let p = e.unwrap().path();
        if p.is_dir() {
            found_in(&p, marker)
        } else {
            let bytes = std::fs::read(&p).unwrap();
            bytes.windows(marker.len()).any(|w| w == marker)
        }
    })
}

/// The sealed content of a stored message: what a purge must remove from the disk (the
/// text itself is never on disk in the clear).
fn content_of(node: &liaison_node::node::Node, id: &liaison_protocol::MessageId) -> Vec<u8> {
    let env = node.store().envelope(id).unwrap().unwrap();
    match liaison_protocol::Body::decode(&env.signed.body)
        .unwrap()
        .kind
    {
        liaison_protocol::message::Kind::Sealed(s) => s.content.ciphertext,
        other => panic!("a {} body is not sealed", other.name()),
    }
}

#[test]
fn purge_deletes_due_bodies_and_every_proof_stays_valid() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let mut cfg_b = c.config(B, &[A]);
    cfg_b.retention.rules = vec![RetentionRule {
        name: "green-alerts-now".into(),
        kinds: vec!["alert".into()],
        tlp: vec!["GREEN".into()],
        after_days: 0,
    }];
    let b_data = cfg_b.data_dir.clone();
    let a = rt.block_on(start(c.config(A, &[B])));
    let b = rt.block_on(start(cfg_b.clone()));

    let mut due = Vec::new();
    for i in 0..3 {
        let mut req = alert(B, &format!("PURGE-MARKER-{i} container MSCU1234565"));
        req.tlp = "GREEN".into();
        due.push(
            rt.block_on(liaison_node::node::send(a.ctx(), &req))
                .unwrap()
                .id,
        );
    }
    let kept = rt
        .block_on(liaison_node::node::send(
            a.ctx(),
            &alert(B, "KEEP-MARKER amber"),
        ))
        .unwrap()
        .id;
    let store_b = b.store().clone();
    rt.block_on(wait_for("four messages at B", LIMIT, || {
        store_b.inbox_len() >= 4
    }));
    let store_a = a.store().clone();
    rt.block_on(wait_for("A's outbox to drain", LIMIT, || {
        store_a.outbox_depths().values().sum::<u64>() == 0
    }));

    // The originator holds the same signed bytes: the sealed content B stored.
    let content: Vec<Vec<u8>> = due.iter().map(|id| content_of(&a, id)).collect();
    let kept_content = content_of(&a, &kept);
    assert!(
        !found_in(&b_data, b"PURGE-MARKER-1"),
        "sealed: never in the clear"
    );
    let api = TokenClient::new(b.api_addr(), &cfg_b.api.token_file);
    let dry = api.post("/v1/purge", &json!({ "dry_run": true }));
    assert_eq!(dry.status, 200, "{dry:?}");
    assert_eq!(dry.body["due"].as_array().unwrap().len(), 3, "{dry:?}");
    assert!(dry.body["purged"].as_array().unwrap().is_empty());
    assert!(found_in(&b_data, &content[1]), "a dry run deletes nothing");

    let journal = b_data.join("store").join("journal-v1");
    let before_purge = std::fs::read(&journal).unwrap();
    let r = api.post("/v1/purge", &json!({}));
    assert_eq!(r.status, 200, "{r:?}");
    let mut purged: Vec<String> = r.body["purged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    purged.sort();
    let mut expected: Vec<String> = due.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(purged, expected);

    // The bodies are gone from every file of the data dir; the kept one is there.
    for (i, c) in content.iter().enumerate() {
        assert!(!found_in(&b_data, c), "body {i}");
    }
    assert!(found_in(&b_data, &kept_content));
    let show = api.get(&format!("/v1/messages/{}", due[0]));
    assert_eq!(
        (show.status, show.error()),
        (410, "message-purged"),
        "{show:?}"
    );
    assert_eq!(api.get(&format!("/v1/messages/{kept}")).status, 200);
    // A second purge finds nothing due; JSON `null` is the same request as `{}` or no body,
    // and anything else that is not an object is refused.
    for body in ["null", "{}", ""] {
        let again = api.post_raw("/v1/purge", body);
        assert_eq!(again.status, 200, "{body:?}: {again:?}");
        assert!(
            again.body["purged"].as_array().unwrap().is_empty(),
            "{again:?}"
        );
    }
    for body in ["[]", "true", "\"dry_run\""] {
        let refused = api.post_raw("/v1/purge", body);
        assert_eq!(
            (refused.status, refused.error()),
            (400, "malformed-request"),
            "{body:?}: {refused:?}"
        );
    }
    let log = api.get("/v1/log?limit=1000");
    let events: Vec<&str> = log.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"]["type"].as_str())
        .collect();
    assert_eq!(events.iter().filter(|t| **t == "purged").count(), 3);
    assert!(events.contains(&"admin"));

    rt.block_on(async {
        a.shutdown().await.unwrap();
        b.shutdown().await.unwrap();
    });

    // The auditor: the log verifies, purged entries are reported as purged, and a purged
    // message's entries are still provable.
    let trust = c.pki.trust();
    let report = liaison_node::audit::verify(
        &b_data,
        &trust,
        liaison_node::audit::Uncovered::Refuse,
        |_, _, _| {},
    )
    .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.purged, 3);
    let stored = ["received", "sent"]
        .iter()
        .map(|t| report.by_type.get(*t).copied().unwrap_or(0))
        .sum::<u64>();
    assert_eq!(
        report.messages_verified + 3,
        stored,
        "every body B holds (alerts received, announcements both ways) verifies, except the three purged ones"
    );
    let proof = liaison_node::audit::prove(&b_data, &trust, &due[1]).unwrap();
    let checked = liaison_node::audit::check_proof(&proof, &trust).unwrap();
    let kinds: Vec<&str> = checked.entries.iter().map(|e| e.event.name()).collect();
    assert!(
        kinds.contains(&"received") && kinds.contains(&"purged"),
        "{kinds:?}"
    );

    // A crash between the purge entries and the overwrite: the bodies are back on disk (the
    // journal before the purge, under the entries appended since). The next start finishes it.
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[..before_purge.len()].copy_from_slice(&before_purge);
    std::fs::write(&journal, &bytes).unwrap();
    assert!(found_in(&b_data, &content[2]));

    // It stays so after a restart.
    let b = rt.block_on(start(cfg_b));
    assert!(
        !found_in(&b_data, &content[2]),
        "the interrupted purge was finished"
    );
    let api = TokenClient::new(b.api_addr(), &b.ctx().config().api.token_file);
    assert_eq!(api.get(&format!("/v1/messages/{}", due[2])).status, 410);
    rt.block_on(b.shutdown()).unwrap();
}
