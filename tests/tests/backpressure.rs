//! Back-pressure at the officer API on real nodes (loopback QUIC, real certificates, stores on
//! disk): a node whose peer is away does not let the peer's outbox grow without bound.
//!
//! * Bulk traffic into a full outbox is refused with 503 `outbox-full` and `Retry-After`,
//!   naming the peer, what waits and how old it is; nothing is sent.
//! * Alerts and urgent requests still get in, up to the ceiling above the limit.
//! * `status` and the metrics show the full outbox and the refusals.
//! * Once the peer is back every accepted message is delivered exactly once, and bulk
//!   traffic is taken again.

use std::collections::BTreeSet;
use std::time::Duration;

use liaison_tests::api::{poll, TokenClient};
use liaison_tests::cluster::{runtime, start, wait_keys, Cluster};
use serde_json::{json, Value};

const A: &str = "caricc.central-asia";
const B: &str = "kz-dcu.central-asia";
const WAIT: Duration = Duration::from_secs(60);

/// Bulk traffic to B is refused at this many messages waiting.
const LIMIT: u64 = 30;
/// Alerts and urgent requests at this many (50 % above).
const CEILING: u64 = 45;

fn message(kind: &str, urgency: Option<&str>, text: &str) -> Value {
    let mut m = json!({
        "kind": kind,
        "to": [B],
        "tlp": "AMBER",
        "release": ["network:central-asia"],
        "eval": "B2",
        "text": text,
        "lang": "en",
    });
    if let Some(u) = urgency {
        m["urgency"] = json!(u);
    }
    m
}

fn b_peer(api: &TokenClient) -> Value {
    let status = api.get("/v1/status");
    assert_eq!(status.status, 200, "{status:?}");
    status.body["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .find(|p| p["node"] == B)
        .cloned()
        .expect("B in A's status")
}

#[test]
fn a_full_outbox_refuses_bulk_traffic_lets_urgent_through_and_loses_nothing() {
    let rt = runtime();
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    let mut cfg_a = c.config(A, &[B]);
    cfg_a.peers[0].max_outbox_messages = Some(LIMIT);
    cfg_a.outbox.urgent_headroom_percent = 50;
    let cfg_b = c.config(B, &[A]);
    let a = rt.block_on(start(cfg_a));
    let b = rt.block_on(start(cfg_b.clone()));
    rt.block_on(wait_keys(&a, &[B]));
    // B goes away: everything A accepts for it waits in A's outbox.
    rt.block_on(b.shutdown()).expect("B stops");
    let api = TokenClient::new(a.api_addr(), &a.ctx().config().api.token_file);

    let mut accepted = BTreeSet::new();
    let mut send = |m: &Value| {
        let r = api.post("/v1/messages", m);
        if r.status == 201 {
            accepted.insert(r.body["id"].as_str().expect("id").to_owned());
        }
        r
    };
    // Bulk traffic (a standard request) fills the outbox to its limit, then is refused.
    for i in 0..LIMIT {
        let r = send(&message(
            "request",
            Some("seven-days"),
            &format!("bulk {i}"),
        ));
        assert_eq!(r.status, 201, "bulk message {i} below the limit: {r:?}");
    }
    let r = send(&message("request", Some("three-days"), "one too many"));
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.error(), "outbox-full");
    assert_eq!(
        r.header("retry-after"),
        Some("30"),
        "B is not connected: {r:?}"
    );
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&format!("outbox to {B} is full: {LIMIT} messages"))
            && detail.contains("oldest")
            && detail.contains("not connected"),
        "{detail}"
    );
    let peer = b_peer(&api);
    assert_eq!(peer["outbox"], LIMIT, "{peer}");
    assert_eq!(peer["outbox_full"], true, "{peer}");
    assert_eq!(peer["outbox_max_messages"], LIMIT, "{peer}");
    assert_eq!(peer["outbox_refused"], 1, "{peer}");
    assert!(
        peer["outbox_bytes"].as_u64().expect("bytes") > LIMIT * 500,
        "{peer}"
    );

    // Alerts and urgent requests still get in, up to the ceiling.
    for i in LIMIT..CEILING {
        let m = if i % 2 == 0 {
            message("alert", None, &format!("urgent alert {i}"))
        } else {
            message("request", Some("urgent"), &format!("urgent request {i}"))
        };
        let r = send(&m);
        assert_eq!(r.status, 201, "urgent message {i} below the ceiling: {r:?}");
    }
    let r = send(&message("alert", None, "past the ceiling"));
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.error(), "outbox-full");
    let r = send(&message(
        "request",
        Some("seven-days"),
        "bulk, still refused",
    ));
    assert_eq!(r.status, 503, "{r:?}");

    let metrics = api.get("/metrics");
    let text = metrics.body.as_str().expect("metrics text");
    assert!(
        text.contains(&format!("liaison_peer_outbox_full{{peer=\"{B}\"}} 1"))
            && text.contains(&format!(
                "liaison_peer_outbox_refused_total{{peer=\"{B}\"}} 3"
            ))
            && text.contains(&format!(
                "liaison_peer_outbox_messages{{peer=\"{B}\"}} {CEILING}"
            )),
        "{text}"
    );
    assert_eq!(accepted.len() as u64, CEILING);

    // B comes back: every accepted message reaches it exactly once, and the outbox drains.
    let b = rt.block_on(start(cfg_b));
    let api_b = TokenClient::new(b.api_addr(), &b.ctx().config().api.token_file);
    let delivered = poll("every accepted message in B's inbox", WAIT, || {
        let inbox = api_b.get("/v1/inbox?limit=1000");
        assert_eq!(inbox.status, 200, "{inbox:?}");
        let ids: Vec<String> = inbox.body["items"]
            .as_array()?
            .iter()
            .filter_map(|i| i["id"].as_str().map(str::to_owned))
            .collect();
        (ids.len() as u64 >= CEILING).then_some(ids)
    });
    let unique: BTreeSet<String> = delivered.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "delivered twice: {delivered:?}"
    );
    assert_eq!(unique, accepted, "B's inbox holds exactly what A accepted");
    poll("A's outbox to B empty", WAIT, || {
        let peer = b_peer(&api);
        (peer["outbox"] == 0 && peer["outbox_full"] == false).then_some(())
    });
    let r = api.post(
        "/v1/messages",
        &message("request", Some("seven-days"), "bulk again"),
    );
    assert_eq!(r.status, 201, "bulk traffic is taken once drained: {r:?}");

    rt.block_on(async {
        let (a, b) = tokio::join!(a.shutdown(), b.shutdown());
        a.expect("shutdown a");
        b.expect("shutdown b");
    });
}
