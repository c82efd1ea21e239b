//! The local officer API on real nodes: two in-process nodes over real loopback QUIC with
//! real certificates and real stores on disk, driven through HTTP exactly as the CLI and officers'
//! tools drive them — the token listener (ureq) and the officer-certificate HTTPS listener.

use std::time::Duration;

use liaison_certs::Role;
use liaison_node::config::Config;
use liaison_node::node::Node;
use liaison_tests::api::{officer, poll, raw, CertClient, TokenClient};
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
        Self::start_with(|_| {})
    }

    /// [`Pair::start`], with `edit` applied to both configurations.
    fn start_with(edit: impl Fn(&mut Config)) -> Pair {
        let rt = runtime();
        let mut c = Cluster::new(&["central-asia"]);
        c.add(A);
        c.add(B);
        let mut cfg_a = c.config(A, &[B]);
        let mut cfg_b = c.config(B, &[A]);
        edit(&mut cfg_a);
        edit(&mut cfg_b);
        // Port 0: the node binds a port of its own and reports it (no race with other tests).
        cfg_b.api.tls_listen = Some("127.0.0.1:0".parse().expect("addr"));
        let a = rt.block_on(start(cfg_a));
        let b = rt.block_on(start(cfg_b));
        let b_tls = b.api_tls_addr().expect("B's HTTPS listener");
        Pair { rt, c, a, b, b_tls }
    }

    fn token(&self, node: &Node) -> TokenClient {
        TokenClient::new(node.api_addr(), &node.ctx().config().api.token_file)
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

/// The line of message `id` in the inbox `api` serves (its first page), if there.
fn inbox_item(api: &TokenClient, id: &str) -> Option<Value> {
    let inbox = api.get("/v1/inbox");
    assert_eq!(inbox.status, 200, "{inbox:?}");
    inbox.body["items"]
        .as_array()?
        .iter()
        .find(|i| i["id"] == json!(id))
        .cloned()
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
    let item = poll("the alert in B's inbox", WAIT, || inbox_item(&api_b, &id));
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
    assert_eq!((r.status, r.error()), (409, "not-in-inbox"), "{r:?}");

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
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.body["error"], "out-of-range", "{r:?}");

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

/// A request's headers without the blank line that ends them.
const HALF_SENT: &[u8] = b"GET /v1/status HTTP/1.1\r\nHost: x\r\n";

/// Reads from `sock` until the node closes it; panics if that takes longer than `limit`.
fn closed_by_node(mut sock: std::net::TcpStream, limit: Duration) -> Vec<u8> {
    use std::io::Read;
    sock.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    match sock.read_to_end(&mut got) {
        Ok(_) => got,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => got,
        Err(e) => panic!("the node did not close the connection within {limit:?}: {e}"),
    }
}

#[test]
fn three_thousand_half_open_connections_do_not_deny_the_api() {
    use std::io::Write;
    const HELD: usize = 3000;
    // Both ends of every connection live in this process, and the nodes need their own.
    let needed = 2 * HELD as u64 + 1000;
    let raised = liaison_node::fd_limit::raise().expect("open-file limit");
    if raised.after.is_some_and(|soft| soft < needed) {
        eprintln!(
            "skipped: this test needs {needed} open files, the hard limit allows {:?}",
            raised.hard
        );
        return;
    }
    let p = Pair::start();
    let api = p.token(&p.a);
    let addr = p.a.api_addr();
    let mut held = Vec::with_capacity(HELD);
    for _ in 0..HELD {
        let mut sock = std::net::TcpStream::connect(addr).expect("connect");
        sock.write_all(HALF_SENT).expect("half a request");
        held.push(sock);
    }

    // A newcomer is served at once: the connections that never finished their headers made
    // room, longest idle first.
    let start = std::time::Instant::now();
    let status = TokenClient::new(addr, &p.a.ctx().config().api.token_file).get("/v1/status");
    let took = start.elapsed();
    assert_eq!(status.status, 200, "{status:?}");
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    assert_eq!(status.body["alarms"], json!([]), "{status:?}");
    // The node still has descriptors for its own files: it signs a checkpoint.
    let sent = api.post("/v1/messages", &alert(B, "after the flood"));
    assert_eq!(sent.status, 201, "{sent:?}");
    let cp = api.get("/v1/checkpoint");
    assert_eq!(cp.status, 200, "{cp:?}");
    assert_eq!(api.get("/v1/status").body["alarms"], json!([]));
    // The node holds at most its cap; the rest were closed (the newest are still open).
    let cap = p.a.ctx().config().api.max_connections;
    let first = held.swap_remove(0);
    closed_by_node(first, WAIT);
    assert!(held.len() > cap);
    drop(held);
    p.shutdown();
}

#[test]
fn half_sent_requests_and_idle_connections_are_closed_after_their_timeouts() {
    use std::io::{Read, Write};
    let p = Pair::start_with(|cfg| {
        cfg.api.header_timeout_secs = 1;
        cfg.api.idle_timeout_secs = 2;
    });
    let addr = p.a.api_addr();
    let token = std::fs::read_to_string(&p.a.ctx().config().api.token_file).expect("token");

    // Headers never finished: closed, unanswered.
    let mut half = std::net::TcpStream::connect(addr).expect("connect");
    half.write_all(HALF_SENT).expect("write");
    assert_eq!(closed_by_node(half, Duration::from_secs(10)), b"");
    // Nothing sent at all: the same.
    let silent = std::net::TcpStream::connect(addr).expect("connect");
    assert_eq!(closed_by_node(silent, Duration::from_secs(10)), b"");

    // A complete request is answered, and the kept-alive connection closes once idle.
    let mut kept = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        kept,
        "GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        token.trim()
    )
    .expect("write");
    kept.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).expect("an answer");
    assert_eq!(&first, b"HTTP/1.1 200");
    let rest = closed_by_node(kept, Duration::from_secs(15));
    assert!(
        String::from_utf8_lossy(&rest).contains("\"alarms\""),
        "the whole answer came before the close"
    );
    p.shutdown();
}

#[test]
fn bodies_above_the_limit_get_413_and_just_below_are_read() {
    use std::io::{Read, Write};
    let p = Pair::start();
    let api = p.token(&p.a);
    let addr = p.a.api_addr();
    let limit = p.a.ctx().config().api.max_body_bytes;
    let token = std::fs::read_to_string(&p.a.ctx().config().api.token_file).expect("token");
    let token = token.trim();

    // Declared too large: refused before a byte of it is read.
    let r = raw(
        addr,
        format!(
            "POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            10 * 1024 * 1024
        )
        .as_bytes(),
        WAIT,
    )
    .expect("answer");
    assert_eq!((r.status, r.error()), (413, "payload-too-large"), "{r:?}");
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("api.max_body_bytes"));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(r.header("x-request-id").is_some(), "{r:?}");

    // No length declared (chunked): refused once the limit is passed.
    let mut sock = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        sock,
        "POST /v1/purge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .expect("head");
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent <= limit {
        let n = chunk.len().min(limit + 1 - sent);
        write!(sock, "{n:x}\r\n").expect("chunk size");
        sock.write_all(&chunk[..n]).expect("chunk");
        sent += n;
        // Nothing after the byte that passes the limit: bytes the node never reads would
        // make its close a reset, which can destroy the answer before it is read.
        if sent <= limit {
            sock.write_all(b"\r\n").expect("chunk end");
        }
    }
    sock.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut answer = Vec::new();
    sock.read_to_end(&mut answer).expect("answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload-too-large"), "{answer}");

    // Exactly at the limit: read and answered.
    let mut body = String::from("{\"dry_run\": true}");
    body.push_str(&" ".repeat(limit - body.len()));
    let r = api.post_raw("/v1/purge", &body);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["dry_run"], true);
    // A case action reads its body as bytes: the same limit, the same answer.
    let r = raw(
        addr,
        format!(
            "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: {}\r\n\r\n",
            limit + 1
        )
        .as_bytes(),
        WAIT,
    )
    .expect("answer");
    assert_eq!((r.status, r.error()), (413, "payload-too-large"), "{r:?}");
    p.shutdown();
}

#[test]
fn a_body_that_stops_arriving_gets_408() {
    let p = Pair::start_with(|cfg| cfg.api.body_timeout_secs = 1);
    let token = std::fs::read_to_string(&p.a.ctx().config().api.token_file).expect("token");
    let r = raw(
        p.a.api_addr(),
        format!(
            "POST /v1/purge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"dry_run\"",
            token.trim()
        )
        .as_bytes(),
        Duration::from_secs(15),
    )
    .expect("answer");
    assert_eq!((r.status, r.error()), (408, "request-timeout"), "{r:?}");
    p.shutdown();
}

#[test]
fn a_500_carries_a_request_id_and_no_internal_detail() {
    let logs = liaison_tests::logs::captured();
    let p = Pair::start();
    let api = p.token(&p.a);
    let sent = api.post("/v1/messages", &alert(B, "to be proven"));
    assert_eq!(sent.status, 201, "{sent:?}");
    let id = sent.body["id"].as_str().unwrap().to_owned();

    // Every answer has an id of its own.
    let ok = api.get("/v1/status");
    let other = api.get("/v1/nothing-here");
    let (a, b) = (ok.header("x-request-id"), other.header("x-request-id"));
    assert!(a.is_some_and(|a| a.len() == 32) && a != b, "{a:?} {b:?}");
    assert_eq!(other.body["request_id"].as_str(), b);

    // The node's own certificate copy, which proofs are built with, is damaged on disk.
    let data_dir = p.a.ctx().config().data_dir.clone();
    let certs = data_dir.join(liaison_node::store::checkpoint::CERTS_DIR);
    for f in std::fs::read_dir(&certs).expect("certs dir") {
        let path = f.expect("entry").path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("node-")
        {
            std::fs::write(&path, "not a certificate").expect("damage");
        }
    }
    let r = api.get(&format!("/v1/proofs/{id}"));
    assert_eq!((r.status, r.error()), (500, "internal-error"), "{r:?}");
    let request_id = r.header("x-request-id").expect("X-Request-Id").to_owned();
    assert_eq!(r.body["request_id"], json!(request_id));
    assert_eq!(
        r.body["detail"],
        json!(format!(
            "internal error; the node's log has the details under request id {request_id}"
        ))
    );
    let text = r.body.to_string();
    for leak in [data_dir.to_string_lossy().as_ref(), "certs", ".pem", "/"] {
        assert!(!text.contains(leak), "{leak:?} in {text}");
    }
    // The node's log has the cause, under the same id.
    let line = poll("the internal error in the log", WAIT, || {
        logs.text()
            .lines()
            .find(|l| l.contains(&request_id) && l.contains("internal error"))
            .map(str::to_owned)
    });
    assert!(line.contains(".pem"), "{line}");
    p.shutdown();
}

#[test]
fn repeated_wrong_tokens_are_refused_for_a_while_then_the_right_one_works() {
    let p = Pair::start();
    let addr = p.a.api_addr();
    let wrong = TokenClient::with_token(addr, Some("00".repeat(32)));
    let right = p.token(&p.a);

    // A few mistakes are free.
    for _ in 0..liaison_node::api::backoff::FREE_FAILURES {
        let r = wrong.get("/v1/status");
        assert_eq!((r.status, r.error()), (401, "unauthenticated"), "{r:?}");
    }
    // Then the source is refused; each further failure doubles the wait.
    let refused = poll("a refusal", WAIT, || {
        let r = wrong.get("/v1/status");
        (r.status == 429).then_some(r)
    });
    assert_eq!(refused.error(), "too-many-attempts", "{refused:?}");
    let wait: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(refused.header("x-request-id").is_some());

    // Once the wait is over, the right token gets in, and clears the count.
    let ok = poll("the right token accepted", Duration::from_secs(70), || {
        let r = right.get("/v1/status");
        (r.status != 429).then_some(r)
    });
    assert_eq!(ok.status, 200, "{ok:?}");
    let r = wrong.get("/v1/status");
    assert_eq!(r.status, 401, "the count started again: {r:?}");
    // A request without any token guesses nothing and is not counted.
    let anonymous = TokenClient::with_token(addr, None);
    for _ in 0..2 * liaison_node::api::backoff::FREE_FAILURES {
        assert_eq!(anonymous.get("/v1/status").status, 401);
    }
    assert_eq!(right.get("/v1/status").status, 200);
    p.shutdown();
}

#[test]
fn failed_console_logins_count_with_wrong_tokens() {
    let p = Pair::start();
    let addr = p.a.api_addr();
    let wrong = TokenClient::with_token(addr, Some("00".repeat(32)));
    let free = liaison_node::api::backoff::FREE_FAILURES;
    for _ in 0..free - 1 {
        assert_eq!(wrong.get("/v1/status").status, 401);
    }
    // The login form's CSRF check is a double submit: any value, as cookie and as field.
    let login_cookie = liaison_node::login_cookie_name(p.a.ctx().id().as_str());
    let login = |token: &str| {
        let form = format!("csrf=abc123&token={token}");
        raw(
            addr,
            format!(
                "POST /console/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
                 Cookie: {login_cookie}=abc123\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: {}\r\n\r\n{form}",
                form.len()
            )
            .as_bytes(),
            WAIT,
        )
        .expect("answer")
    };
    let r = login("wrong");
    assert_eq!(r.status, 401, "{r:?}");
    // That was the last free failure. (Polled: were the machine slow enough for the first
    // wait to pass, the next failure would only double it.)
    let r = poll("a refused login", WAIT, || {
        let r = login("wrong");
        (r.status == 429).then_some(r)
    });
    assert!(r.header("retry-after").is_some(), "{r:?}");
    assert!(
        r.body.as_str().unwrap_or("").contains("too-many-attempts"),
        "{r:?}"
    );
    // One table: the bearer token is refused from there too.
    poll("a refused token", WAIT, || {
        (wrong.get("/v1/status").status == 429).then_some(())
    });
    p.shutdown();
}

#[test]
fn checkpoint_history_is_paged_for_auditors_and_supervisors_only() {
    let p = Pair::start_with(|cfg| cfg.checkpoints.interval_secs = 3600);
    let api_a = p.token(&p.a);
    let cert =
        |name: &str, role| CertClient::new(&p.c.pki, p.b_tls, B, &officer(&p.c.pki, B, name, role));
    let auditor = cert("audit.three", Role::Auditor);
    for text in ["one", "two", "three"] {
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
    }
    let get = |client: &CertClient, path: &str| {
        let r = client.request("GET", path, None).expect("https");
        assert_eq!(r.status, 200, "{path}: {r:?}");
        r.body
    };

    let first = get(&auditor, "/v1/checkpoints?limit=2");
    let total = first["total"].as_u64().unwrap();
    assert!(total >= 3, "{first}");
    assert_eq!(first["from"], 0);
    assert_eq!(first["checkpoints"].as_array().unwrap().len(), 2);
    assert_eq!(first["next"], 2);
    let rest = get(&auditor, "/v1/checkpoints?from=2&limit=1000");
    let rest_notes = rest["checkpoints"].as_array().unwrap();
    assert_eq!(
        rest_notes.len() as u64 + 2,
        rest["total"].as_u64().unwrap(),
        "{rest}"
    );
    assert!(
        rest.get("next").is_none(),
        "no next page after the last: {rest}"
    );
    // The history only grows: the pages are its beginning, in order.
    let supervisor = cert("chief", Role::Supervisor);
    let all = get(&supervisor, "/v1/checkpoints");
    let all_notes = all["checkpoints"].as_array().unwrap();
    assert_eq!(
        &all_notes[..2],
        &first["checkpoints"].as_array().unwrap()[..]
    );
    assert_eq!(&all_notes[2..2 + rest_notes.len()], &rest_notes[..]);
    assert!(all_notes[0]
        .as_str()
        .unwrap()
        .starts_with(&format!("liaison/{B}\n")));
    let beyond = get(&auditor, "/v1/checkpoints?from=100000");
    assert_eq!(beyond["checkpoints"], json!([]));
    assert!(beyond.get("next").is_none());

    // Officers read the latest checkpoint, not the history.
    let off = cert("c.officer", Role::Officer);
    let r = off.request("GET", "/v1/checkpoints", None).expect("https");
    assert_eq!((r.status, r.error()), (403, "forbidden-role"), "{r:?}");
    let r = off.request("GET", "/v1/checkpoint", None).expect("https");
    assert_eq!(r.status, 200, "{r:?}");
    // The token holder is a supervisor; a page of nothing is refused.
    assert_eq!(p.token(&p.b).get("/v1/checkpoints?limit=1").status, 200);
    let r = p.token(&p.b).get("/v1/checkpoints?limit=0");
    assert_eq!((r.status, r.error()), (400, "malformed-request"), "{r:?}");
    p.shutdown();
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

/// Every request body is a JSON object. A case action's body is optional: no body, JSON
/// `null` and `{}` are the same empty request (read, then refused here for the case this
/// node does not know); anything else that is not an object is not a request.
#[test]
fn request_bodies_are_objects_and_a_case_action_reads_none_null_and_empty_alike() {
    let p = Pair::start();
    let api = p.token(&p.a);
    for body in ["", "null", "{}", " null "] {
        let r = api.post_raw("/v1/cases/CARICC-2026-0001/accept", body);
        assert_eq!(
            (r.status, r.error()),
            (422, "unknown-case"),
            "{body:?}: {r:?}"
        );
    }
    for body in ["[]", "1", "\"accept\""] {
        let r = api.post_raw("/v1/cases/CARICC-2026-0001/accept", body);
        assert_eq!(
            (r.status, r.error()),
            (400, "malformed-request"),
            "{body:?}: {r:?}"
        );
    }
    // A message request's fields in order, as an array: serde alone would read it.
    let positional = json!([
        "alert",
        [B],
        "AMBER",
        [],
        false,
        false,
        false,
        null,
        "B2",
        "text",
        "en",
        [],
        null,
        null,
        null,
        null
    ]);
    let r = api.post("/v1/messages", &positional);
    assert_eq!((r.status, r.error()), (400, "malformed-request"), "{r:?}");
    let r = api.post(
        "/v1/messages/{}/share"
            .replace("{}", &"0".repeat(64))
            .as_str(),
        &json!([[B], ""]),
    );
    assert_eq!((r.status, r.error()), (400, "malformed-request"), "{r:?}");
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

/// A request is answered once its addressee replies: the addressee's inbox and the
/// requester's view both say so, and neither calls it overdue (only an open request can be).
#[test]
fn a_request_is_answered_by_its_addressees_reply_at_both_ends() {
    let p = Pair::start();
    let api_a = p.token(&p.a);
    let api_b = p.token(&p.b);
    let mut req = alert(B, "Who owns +77011234567?");
    req["kind"] = json!("request");
    req["urgency"] = json!("urgent");
    let sent = api_a.post("/v1/messages", &req);
    assert_eq!(sent.status, 201, "{sent:?}");
    let id = sent.body["id"].as_str().expect("id").to_owned();
    let item = poll("the request in B's inbox", WAIT, || inbox_item(&api_b, &id));
    assert_eq!(item["answered"], false, "{item}");
    assert_eq!(item["overdue"], false, "{item}");
    let shown = api_a.get(&format!("/v1/messages/{id}"));
    assert_eq!(shown.body["request"]["answered"], false, "{shown:?}");

    let mut reply = alert(A, "A subscriber in Aktau; details follow.");
    reply["kind"] = json!("reply");
    reply["in_reply_to"] = json!(id);
    let replied = api_b.post("/v1/messages", &reply);
    assert_eq!(replied.status, 201, "{replied:?}");
    let item = inbox_item(&api_b, &id).expect("still in B's inbox");
    assert_eq!(item["answered"], true, "B replied: {item}");
    assert_eq!(item["overdue"], false, "{item}");
    poll("the requester sees its request answered", WAIT, || {
        let shown = api_a.get(&format!("/v1/messages/{id}"));
        assert_eq!(shown.status, 200, "{shown:?}");
        (shown.body["request"]["answered"] == true).then_some(())
    });
    let shown = api_a.get(&format!("/v1/messages/{id}"));
    assert_eq!(shown.body["request"]["overdue"], false, "{shown:?}");
    p.shutdown();
}
