//! The local officer API on real nodes: two in-process nodes over real loopback QUIC with
//! real certificates and real stores on disk, driven through HTTP exactly as the CLI and officers'
//! tools drive them — the token listener (ureq) and the officer-certificate HTTPS listener.

use std::time::Duration;

use liaison_certs::Role;
use liaison_node::node::Node;
use liaison_tests::api::{officer, poll, CertClient, TokenClient};
use liaison_tests::cluster::{start, Cluster};
use serde_json::{json, Value};

const A: &str = "caricc.central-asia";
const B: &str = "kz-dcu.central-asia";
const WAIT: Duration = Duration::from_secs(30);

struct Pair {
    rt: tokio::runtime::Runtime,
    c: Cluster,
    a: Node,
    b: Node,
    b_tls: std::net::SocketAddr,
}

/// A two-worker runtime, as a node gets in production on this machine.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

impl Pair {
    /// Two peered nodes; B also serves officers with certificates.
    fn start() -> Pair {
        let rt = runtime();
        let mut c = Cluster::new(&["central-asia"]);
        c.add(A);
        c.add(B);
        let cfg_a = c.config(A, &[B]);
        let mut cfg_b = c.config(B, &[A]);
        // Port 0: the node binds a port of its own and reports it (no race with other tests).
        cfg_b.api.tls_listen = Some("127.0.0.1:0".parse().expect("addr"));
        let a = rt.block_on(start(cfg_a));
        let b = rt.block_on(start(cfg_b));
        let b_tls = b.api_tls_addr().expect("B's HTTPS listener");
        Pair { rt, c, a, b, b_tls }
    }

    fn token(&self, node: &Node) -> TokenClient {
        TokenClient::new(node.api_addr(), &node.ctx().cfg.api.token_file)
    }

    fn shutdown(self) {
        self.rt.block_on(async {
            let (a, b) = tokio::join!(self.a.shutdown(), self.b.shutdown());
            a.expect("shutdown a");
            b.expect("shutdown b");
        });
    }
}

fn alert(to: &str, text: &str) -> Value {
    json!({
        "kind": "alert",
        "to": [to],
        "tlp": "AMBER",
        "release": ["network:central-asia"],
        "eval": "B2",
        "text": text,
        "lang": "en",
        "entities": ["phone=+77011234567", "container=MSCU1234565"],
    })
}

#[test]
fn officer_sends_reads_acks_and_traces_a_message_through_the_api() {
    let p = Pair::start();
    let api_a = p.token(&p.a);
    let api_b = p.token(&p.b);

    let sent = api_a.post("/v1/messages", &alert(B, "Shipment via Aktau\nsecond line"));
    assert_eq!(sent.status, 201, "{sent:?}");
    let id = sent.body["id"].as_str().expect("id").to_owned();
    assert_eq!(id.len(), 64);
    assert_eq!(sent.body["next_hops"], json!([B]));

    // It reaches B's inbox (bounded wait on the condition itself).
    let item = poll("the alert in B's inbox", WAIT, || {
        let inbox = api_b.get("/v1/inbox");
        assert_eq!(inbox.status, 200, "{inbox:?}");
        inbox.body["items"]
            .as_array()?
            .iter()
            .find(|i| i["id"] == json!(id))
            .cloned()
    });
    assert_eq!(item["tlp"], "TLP:AMBER");
    assert_eq!(item["eval"], "B2");
    assert_eq!(item["kind"], "alert");
    assert_eq!(item["originator"], A);
    assert_eq!(item["from"], A);
    assert_eq!(item["acked"], false);
    assert_eq!(item["first_line"], "Shipment via Aktau");

    // Show: header, handling, content, state.
    let msg = api_b.get(&format!("/v1/messages/{id}"));
    assert_eq!(msg.status, 200, "{msg:?}");
    assert_eq!(msg.body["handling"]["tlp"], "TLP:AMBER");
    assert_eq!(
        msg.body["handling"]["releasability"],
        json!(["network:central-asia"])
    );
    assert_eq!(
        msg.body["payload"]["text"],
        "Shipment via Aktau\nsecond line"
    );
    assert_eq!(msg.body["payload"]["entities"][0]["type"], "phone");
    assert_eq!(msg.body["state"]["role"], "delivered");

    // Ack: logged, idempotent, and the unread filter hides it.
    let ack = api_b.post(&format!("/v1/messages/{id}/ack"), &json!({}));
    assert_eq!(ack.status, 200, "{ack:?}");
    assert_eq!(ack.body["already"], false);
    let again = api_b.post(&format!("/v1/messages/{id}/ack"), &json!({}));
    assert_eq!(again.body["already"], true);
    let unread = api_b.get("/v1/inbox?unread=true");
    assert!(!unread.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == json!(id)));
    let st = api_b.get("/v1/status");
    assert_eq!(st.status, 200);
    assert_eq!(st.body["unread"], 0);

    // B's trail: received, receipt sent, acknowledged by the token holder.
    let trail_b = api_b.get(&format!("/v1/messages/{id}/trail"));
    assert_eq!(trail_b.status, 200, "{trail_b:?}");
    let types: Vec<&str> = trail_b.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"]["type"].as_str())
        .collect();
    assert!(types.contains(&"received"), "{types:?}");
    assert!(types.contains(&"acknowledged"), "{types:?}");

    // A's trail shows B's signed "delivered" receipt.
    let hop = poll("B's delivered receipt in A's trail", WAIT, || {
        let t = api_a.get(&format!("/v1/messages/{id}/trail"));
        assert_eq!(t.status, 200, "{t:?}");
        t.body["hops"]
            .as_array()?
            .iter()
            .find(|h| h["peer"] == B)
            .cloned()
    });
    assert_eq!(hop["outcome"], "delivered");
    assert_eq!(hop["proof"].as_str().map(str::len), Some(64));
    let trail_a = api_a.get(&format!("/v1/messages/{id}/trail"));
    assert_eq!(trail_a.body["role"], "originated");
    assert_eq!(trail_a.body["pending"], json!([]));
    let first = &trail_a.body["entries"][0]["event"];
    assert_eq!(first["type"], "sent");
    assert_eq!(first["to"], json!([B]));

    // Status, peers, log, checkpoint for the token holder (a supervisor).
    let peers = api_a.get("/v1/peers");
    assert_eq!(peers.status, 200);
    assert_eq!(peers.body["peers"][0]["node"], B);
    let log = api_a.get("/v1/log?from=0&limit=5");
    assert_eq!(log.status, 200, "{log:?}");
    assert!(log.body["size"].as_u64().unwrap() >= 2);
    assert!(
        !log.body.to_string().contains("Shipment via Aktau"),
        "the log holds no content"
    );
    let cp = api_a.get("/v1/checkpoint");
    assert_eq!(cp.status, 200, "{cp:?}");
    assert!(cp
        .body
        .as_str()
        .unwrap()
        .starts_with(&format!("liaison/{A}\n")));

    p.shutdown();
}

#[test]
fn api_errors_are_json_with_reason_codes() {
    let p = Pair::start();
    let api_a = p.token(&p.a);

    // Unauthenticated: no token, wrong token.
    for client in [
        TokenClient::with_token(p.a.api_addr(), None),
        TokenClient::with_token(p.a.api_addr(), Some("00".repeat(32))),
    ] {
        let r = client.post("/v1/messages", &alert(B, "x"));
        assert_eq!(r.status, 401, "{r:?}");
        assert_eq!(r.error(), "unauthenticated");
        assert!(r
            .www_authenticate
            .as_deref()
            .unwrap_or("")
            .starts_with("Bearer"));
        assert_eq!(client.get("/v1/status").status, 401);
    }

    // Refused by the node's handling rules / routing: 422 with the refusal's reason code.
    let mut red = alert(B, "x");
    red["tlp"] = json!("RED");
    red["to"] = json!(["network:central-asia"]);
    let r = api_a.post("/v1/messages", &red);
    assert_eq!(r.status, 422, "{r:?}");
    assert!(
        !r.error().is_empty() && r.body["detail"].is_string(),
        "{r:?}"
    );
    let r = api_a.post("/v1/messages", &alert("nobody.central-asia", "x"));
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.error(), "no-route");

    // Malformed requests: 400.
    let r = api_a.post_raw("/v1/messages", "{not json");
    assert_eq!((r.status, r.error()), (400, "malformed-request"), "{r:?}");
    let r = api_a.post("/v1/messages", &json!({"kind": "alert", "surprise": 1}));
    assert_eq!((r.status, r.error()), (400, "malformed-request"), "{r:?}");
    let r = api_a.get("/v1/messages/not-an-id");
    assert_eq!((r.status, r.error()), (400, "malformed-request"), "{r:?}");
    let r = api_a.get("/v1/inbox?limit=many");
    assert_eq!((r.status, r.error()), (400, "malformed-request"), "{r:?}");

    // Unknown things: 404.
    let zero = "0".repeat(64);
    let r = api_a.get(&format!("/v1/messages/{zero}"));
    assert_eq!((r.status, r.error()), (404, "unknown-message"), "{r:?}");
    let r = api_a.post(&format!("/v1/messages/{zero}/ack"), &json!({}));
    assert_eq!((r.status, r.error()), (404, "unknown-message"), "{r:?}");
    let r = api_a.get("/v1/nothing-here");
    assert_eq!((r.status, r.error()), (404, "no-such-endpoint"), "{r:?}");
    let r = api_a.post("/v1/status", &json!({}));
    assert_eq!((r.status, r.error()), (405, "method-not-allowed"), "{r:?}");

    // A message this node sent is not in its inbox: it cannot be acknowledged here.
    let sent = api_a.post("/v1/messages", &alert(B, "y"));
    assert_eq!(sent.status, 201, "{sent:?}");
    let id = sent.body["id"].as_str().unwrap();
    let r = api_a.post(&format!("/v1/messages/{id}/ack"), &json!({}));
    assert_eq!((r.status, r.error()), (404, "not-in-inbox"), "{r:?}");

    p.shutdown();
}

#[test]
fn officer_certificates_carry_roles_and_auditors_cannot_send_or_read_content() {
    let p = Pair::start();
    let api_a = p.token(&p.a);
    let sent = api_a.post("/v1/messages", &alert(B, "For officers only"));
    assert_eq!(sent.status, 201, "{sent:?}");
    let id = sent.body["id"].as_str().unwrap().to_owned();
    poll("the alert at B", WAIT, || {
        p.b.store().state(&id.parse().unwrap()).ok().flatten()
    });

    let auditor = CertClient::new(
        &p.c.pki,
        p.b_tls,
        B,
        &officer(&p.c.pki, B, "audit.one", Role::Auditor),
    );
    let r = auditor
        .request("POST", "/v1/messages", Some(&alert(A, "x")))
        .expect("https");
    assert_eq!((r.status, r.error()), (403, "forbidden-role"), "{r:?}");
    let r = auditor
        .request("GET", &format!("/v1/messages/{id}"), None)
        .expect("https");
    assert_eq!((r.status, r.error()), (403, "forbidden-role"), "{r:?}");
    let r = auditor
        .request("POST", &format!("/v1/messages/{id}/ack"), None)
        .expect("https");
    assert_eq!(r.status, 403, "{r:?}");
    let r = auditor.request("GET", "/v1/log", None).expect("https");
    assert_eq!(r.status, 200, "{r:?}");
    let r = auditor
        .request("GET", &format!("/v1/messages/{id}/trail"), None)
        .expect("https");
    assert_eq!(r.status, 200, "{r:?}");
    let r = auditor.request("GET", "/v1/inbox", None).expect("https");
    assert_eq!(r.status, 200, "{r:?}");
    let item = &r.body["items"][0];
    assert_eq!(item["id"], json!(id));
    assert!(
        item.get("first_line").is_none(),
        "auditors see no content: {item}"
    );
    assert!(!r.body.to_string().contains("For officers only"));

    // An officer reads and acknowledges; the log records who.
    let off = CertClient::new(
        &p.c.pki,
        p.b_tls,
        B,
        &officer(&p.c.pki, B, "a.karimova", Role::Officer),
    );
    let r = off
        .request("GET", &format!("/v1/messages/{id}"), None)
        .expect("https");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["payload"]["text"], "For officers only");
    let r = off.request("GET", "/v1/log", None).expect("https");
    assert_eq!(r.status, 403, "officers do not read the raw log: {r:?}");
    let r = off
        .request("POST", &format!("/v1/messages/{id}/ack"), None)
        .expect("https");
    assert_eq!(r.status, 200, "{r:?}");
    let trail = off
        .request("GET", &format!("/v1/messages/{id}/trail"), None)
        .expect("https");
    let by: Vec<&str> = trail.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == "acknowledged")
        .filter_map(|e| e["event"]["by"].as_str())
        .collect();
    assert_eq!(by, vec![format!("a.karimova@{B}")]);

    // Refused in the handshake: an officer of another node, a node certificate.
    let other = CertClient::new(
        &p.c.pki,
        p.b_tls,
        B,
        &officer(&p.c.pki, A, "a.karimova", Role::Supervisor),
    );
    assert!(
        other.request("GET", "/v1/status", None).is_err(),
        "officer of another node"
    );
    let node_cert = CertClient::new(&p.c.pki, p.b_tls, B, &p.c.pki.node(A));
    assert!(
        node_cert.request("GET", "/v1/status", None).is_err(),
        "node certificate"
    );

    p.shutdown();
}

/// The root a checkpoint note states.
fn note_root(note: &str) -> (u64, liaison_protocol::merkle::Hash) {
    let body = note.split_once("\n\n").unwrap().0;
    let cp = liaison_protocol::checkpoint::Checkpoint::parse_body(&format!("{body}\n")).unwrap();
    (cp.size(), *cp.root())
}

#[test]
fn auditors_read_checkpoints_and_proofs_over_the_api() {
    use base64::Engine as _;
    let p = Pair::start();
    let api_a = p.token(&p.a);
    let auditor = CertClient::new(
        &p.c.pki,
        p.b_tls,
        B,
        &officer(&p.c.pki, B, "audit.two", Role::Auditor),
    );
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    for text in ["first", "second"] {
        let sent = api_a.post("/v1/messages", &alert(B, text));
        assert_eq!(sent.status, 201, "{sent:?}");
        let id = sent.body["id"].as_str().unwrap().to_owned();
        poll("the alert at B", WAIT, || {
            p.b.store().state(&id.parse().unwrap()).ok().flatten()
        });
        let r = auditor
            .request("GET", "/v1/checkpoint", None)
            .expect("https");
        assert_eq!(r.status, 200, "{r:?}");
        sizes.push(note_root(r.body.as_str().unwrap()));
        ids.push(id);
    }
    let r = auditor
        .request("GET", "/v1/checkpoints", None)
        .expect("https");
    assert_eq!(r.status, 200, "{r:?}");
    let notes = r.body["checkpoints"].as_array().unwrap();
    assert!(notes.len() >= 2, "{r:?}");

    // An inclusion proof that checks with nothing but the CA.
    let r = auditor
        .request("GET", &format!("/v1/proofs/{}", ids[0]), None)
        .expect("https");
    assert_eq!(r.status, 200, "{r:?}");
    let proof: liaison_node::audit::ProofFile = serde_json::from_value(r.body.clone()).unwrap();
    let checked = liaison_node::audit::check_proof(&proof, &p.c.pki.trust()).unwrap();
    assert!(checked.entries.iter().any(|e| e.event.name() == "received"));

    // A consistency proof between the two checkpoints.
    let ((s1, r1), (s2, r2)) = (sizes[0], sizes[1]);
    assert!(s2 > s1);
    let r = auditor
        .request("GET", &format!("/v1/consistency?old={s1}&new={s2}"), None)
        .expect("https");
    assert_eq!(r.status, 200, "{r:?}");
    let hashes = r.body["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let b = base64::engine::general_purpose::STANDARD
                .decode(h.as_str().unwrap())
                .unwrap();
            <[u8; 32]>::try_from(b.as_slice()).unwrap()
        })
        .collect::<Vec<_>>();
    liaison_protocol::merkle::verify_consistency(s1, s2, &r1, &r2, &hashes).unwrap();
    let r = auditor
        .request("GET", &format!("/v1/consistency?old={s2}&new={s1}"), None)
        .expect("https");
    assert_eq!(r.status, 400, "{r:?}");

    // Officers do not read proofs; unknown ids are 404.
    let off = CertClient::new(
        &p.c.pki,
        p.b_tls,
        B,
        &officer(&p.c.pki, B, "b.officer", Role::Officer),
    );
    let r = off
        .request("GET", &format!("/v1/proofs/{}", ids[0]), None)
        .expect("https");
    assert_eq!((r.status, r.error()), (403, "forbidden-role"), "{r:?}");
    let r = auditor
        .request("GET", &format!("/v1/proofs/{}", "ab".repeat(32)), None)
        .expect("https");
    assert_eq!(r.status, 404, "{r:?}");
    p.shutdown();
}

#[test]
fn node_refuses_to_start_with_a_token_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let rt = runtime();
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    let cfg = c.config(A, &[]);
    let token = cfg.api.token_file.clone();
    std::fs::create_dir_all(token.parent().unwrap()).unwrap();
    std::fs::write(&token, "ab".repeat(32)).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let err = match rt.block_on(Node::start(cfg)) {
        Ok(_) => panic!("a node must not start with a world-readable token file"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("api.token_file") && err.contains("chmod 600"),
        "{err}"
    );
}

/// `(status, reason code, detail)` of an answer.
fn refusal(r: &liaison_tests::api::Answer) -> (u16, &str, &str) {
    (r.status, r.error(), r.body["detail"].as_str().unwrap_or(""))
}

/// Four officers' tools at once each send a message naming 40,000 recipients with a
/// releasability list of 10,001 entries. Each is refused for its recipients before any work
/// whose cost grows with them (parsing 40,000 node ids, comparing each with the
/// releasability list), so `/v1/status`, asked again and again on another connection from
/// before the first send until after the last answer, keeps answering at once.
#[test]
fn four_sends_with_forty_thousand_recipients_are_refused_while_status_answers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Barrier;
    use std::time::Instant;

    let p = Pair::start();
    // Every recipient is released, by the last entry of the list (`network:zz` sorts after
    // `network:x…`): checking each recipient against the list would be 40,000 × 10,001.
    let mut big = alert(B, "x");
    big["to"] = json!((0..40_000).map(|i| format!("n{i}.zz")).collect::<Vec<_>>());
    big["release"] = json!((0..10_000)
        .map(|i| format!("network:x{i}"))
        .chain(["network:zz".to_owned()])
        .collect::<Vec<_>>());
    let big = big.to_string();
    // Within the API's body limit (axum's default, 2 MiB): the node's own limit must answer.
    assert!(big.len() < 2 * 1024 * 1024, "{} bytes", big.len());

    let sent = AtomicBool::new(false);
    let start = Barrier::new(5);
    let (answers, status_times) = std::thread::scope(|s| {
        let status = s.spawn(|| {
            let api = p.token(&p.a);
            let mut times = Vec::new();
            loop {
                let t = Instant::now();
                let r = api.get("/v1/status");
                times.push(t.elapsed());
                assert_eq!(r.status, 200, "{r:?}");
                if times.len() == 1 {
                    start.wait();
                } else if sent.load(Ordering::SeqCst) {
                    return times;
                }
            }
        });
        let sends: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let api = p.token(&p.a);
                    start.wait();
                    api.post_raw("/v1/messages", &big)
                })
            })
            .collect();
        let answers: Vec<_> = sends
            .into_iter()
            .map(|h| h.join().expect("send thread"))
            .collect();
        sent.store(true, Ordering::SeqCst);
        (answers, status.join().expect("status thread"))
    });
    for r in &answers {
        assert_eq!(
            refusal(r),
            (422, "limit-exceeded", "recipients has 40000, limit is 256"),
            "{r:?}"
        );
    }
    let slowest = status_times.iter().max().expect("status answered");
    assert!(
        *slowest < Duration::from_millis(100),
        "/v1/status took up to {slowest:?} ({} answers) while the sends were refused",
        status_times.len()
    );
    p.shutdown();
}

/// Lists in requests are bounded like the messages they become, and checked before any
/// work: before a node id is parsed, a message or case is read, a case is derived. The
/// message and case named here do not even exist: the limit answers first.
#[test]
fn requests_naming_too_many_nodes_are_refused_before_any_work() {
    let p = Pair::start();
    let api = p.token(&p.a);
    let many: Vec<String> = (0..257).map(|i| format!("n{i}.central-asia")).collect();
    let zero = "0".repeat(64);

    let r = api.post(
        "/v1/cases/CARICC-2026-0001/invite",
        &json!({ "nodes": many, "text": "join us", "lang": "en" }),
    );
    assert_eq!(
        refusal(&r),
        (422, "limit-exceeded", "nodes has 257, limit is 256"),
        "{r:?}"
    );
    let r = api.post(
        "/v1/cases/CARICC-2026-0001/update",
        &json!({ "to": many, "text": "update", "lang": "en" }),
    );
    assert_eq!(
        refusal(&r),
        (422, "limit-exceeded", "recipients has 257, limit is 256"),
        "{r:?}"
    );
    let r = api.post(
        "/v1/cases",
        &json!({ "title": "t", "tlp": "AMBER", "eval": "B2", "release": many }),
    );
    assert_eq!(
        refusal(&r),
        (422, "limit-exceeded", "releasability has 257, limit is 256"),
        "{r:?}"
    );
    let r = api.post(
        &format!("/v1/messages/{zero}/consent-request"),
        &json!({ "to": many, "reason": "court" }),
    );
    assert_eq!(
        refusal(&r),
        (422, "limit-exceeded", "consent nodes has 257, limit is 256"),
        "{r:?}"
    );
    let r = api.post(
        &format!("/v1/messages/{zero}/share"),
        &json!({ "to": many }),
    );
    assert_eq!(
        refusal(&r),
        (422, "limit-exceeded", "recipients has 257, limit is 256"),
        "{r:?}"
    );
    // At the limit, the request goes on to the next check.
    let r = api.post(
        &format!("/v1/messages/{zero}/share"),
        &json!({ "to": many[..256] }),
    );
    assert_eq!((r.status, r.error()), (422, "unknown-message"), "{r:?}");
    p.shutdown();
}

/// Free text in requests is bounded as in the messages it becomes, before any work.
#[test]
fn requests_with_too_long_text_are_refused_before_any_work() {
    let p = Pair::start();
    let api = p.token(&p.a);
    let long = "x".repeat(1025);
    let zero = "0".repeat(64);

    let r = api.post(
        "/v1/cases",
        &json!({ "title": long, "tlp": "AMBER", "eval": "B2" }),
    );
    assert_eq!(
        refusal(&r),
        (422, "limit-exceeded", "case title has 1025, limit is 1024"),
        "{r:?}"
    );
    let r = api.post(
        &format!("/v1/messages/{zero}/consent-request"),
        &json!({ "to": [B], "reason": long }),
    );
    assert_eq!(
        refusal(&r),
        (
            422,
            "limit-exceeded",
            "consent reason has 1025, limit is 1024"
        ),
        "{r:?}"
    );
    let r = api.post(
        &format!("/v1/messages/{zero}/consent"),
        &json!({ "grant": true, "reason": long }),
    );
    assert_eq!(
        refusal(&r),
        (
            422,
            "limit-exceeded",
            "consent reason has 1025, limit is 1024"
        ),
        "{r:?}"
    );
    let mut send = alert(B, "x");
    send["h3"] = json!(long);
    let r = api.post("/v1/messages", &send);
    assert_eq!(
        refusal(&r),
        (
            422,
            "limit-exceeded",
            "H3 restrictions has 1025, limit is 1024"
        ),
        "{r:?}"
    );
    p.shutdown();
}

/// Attachments and entities of a case request are counted, and attachments measured in
/// their base64 form, before anything is decoded or parsed.
#[test]
fn case_requests_with_too_many_or_too_large_attachments_are_refused_before_decoding() {
    let p = Pair::start();
    let api = p.token(&p.a);
    let attachment = |content: String| json!({ "name": "a.txt", "media_type": "text/plain", "content_base64": content });

    let r = api.post(
        "/v1/cases/CARICC-2026-0001/update",
        &json!({ "text": "u", "lang": "en", "attachments": vec![attachment("AAAA".into()); 17] }),
    );
    assert_eq!(
        refusal(&r),
        (422, "limit-exceeded", "attachments has 17, limit is 16"),
        "{r:?}"
    );
    // Not even base64: a decode before the size check would say so.
    let r = api.post(
        "/v1/cases/CARICC-2026-0001/update",
        &json!({ "text": "u", "lang": "en", "attachments": [attachment("!".repeat(349_529))] }),
    );
    assert_eq!(
        refusal(&r),
        (
            422,
            "limit-exceeded",
            "attachment content (base64) has 349529, limit is 349528"
        ),
        "{r:?}"
    );
    let r = api.post(
        "/v1/cases/CARICC-2026-0001/update",
        &json!({ "text": "u", "lang": "en", "entities": vec!["phone=+77011234567"; 1025] }),
    );
    assert_eq!(
        refusal(&r),
        (422, "limit-exceeded", "entities has 1025, limit is 1024"),
        "{r:?}"
    );
    p.shutdown();
}
