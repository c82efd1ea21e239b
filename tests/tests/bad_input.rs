//! Promise 8 on a live node: malformed frames, oversized frames, duplicates, messages for
//! someone else and messages from a skewed clock each get a specific answer, and the node
//! keeps serving.

use std::time::Duration;

use liaison_certs::tls::{TlsIdentity, TlsTrust};
use liaison_node::endpoint;
use liaison_protocol::message::Kind;
use liaison_protocol::{sample, Envelope, FrameDecoder, NodeId, SignedMessage, Tlp};
use liaison_tests::cluster::{start, Cluster};

const A: &str = "kz-dcu.central-asia";
const B: &str = "caricc.central-asia";
const C: &str = "tj-dcu.central-asia";

/// A raw QUIC client speaking as node A, for sending hand-made frames to B.
struct RawPeer {
    conn: quinn::Connection,
    _ep: quinn::Endpoint,
    signer: liaison_protocol::Signer,
}

async fn raw_peer(c: &Cluster) -> RawPeer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let d = c.node_dir(A);
    let identity = TlsIdentity::load(&d.join("node.crt"), &d.join("node.key")).unwrap();
    let net = &c.pki.networks["central-asia"];
    let trust = TlsTrust::new(&[(net.ca.cert_der().to_vec(), net.crl_der.clone())]).unwrap();
    let ep = endpoint::bind_with("127.0.0.1:0".parse().unwrap(), &identity, &trust).unwrap();
    let conn = endpoint::connect(&ep, &trust.trust_store(), &B.parse().unwrap(), c.addr(B))
        .await
        .unwrap();
    let signer = liaison_certs::load_signer(&d.join("node.crt"), &d.join("node.key")).unwrap();
    RawPeer {
        conn,
        _ep: ep,
        signer,
    }
}

fn now() -> liaison_protocol::Timestamp {
    liaison_node::store::now()
}

/// A signed alert from A with recipients and creation time as given.
fn signed(p: &RawPeer, to: &str, created: liaison_protocol::Timestamp, n: u8) -> SignedMessage {
    let mut body = sample::alert_of_size(200);
    body.header.originator = A.parse().unwrap();
    body.header.recipients = vec![to.parse().unwrap()];
    body.header.created_at = created;
    body.header.nonce = [n; 16];
    body.handling = sample::handling(Tlp::Amber, &["network:central-asia"]);
    p.signer.sign(&mut body).unwrap()
}

fn frame(m: &SignedMessage) -> Vec<u8> {
    Envelope {
        signed: m.clone(),
        route: vec![],
    }
    .to_frame(&FrameDecoder::default())
    .unwrap()
}

/// Sends frames on a new stream and reads the answers until `n` arrive.
async fn exchange(p: &RawPeer, bytes: &[u8], n: usize) -> Vec<Kind> {
    let (mut send, mut recv) = p.conn.open_bi().await.unwrap();
    send.write_all(bytes).await.unwrap();
    let decoder = FrameDecoder::default();
    let mut frames = liaison_node::wire::FrameReader::default();
    let mut out = Vec::new();
    while out.len() < n {
        let (_, payload) =
            tokio::time::timeout(Duration::from_secs(20), frames.next(&mut recv, &decoder))
                .await
                .expect("answer in time")
                .unwrap()
                .expect("a frame");
        let env = Envelope::decode(&payload).unwrap();
        let body = liaison_protocol::Body::decode(&env.signed.body).unwrap();
        assert_eq!(
            body.header.originator,
            B.parse::<NodeId>().unwrap(),
            "answers are signed by B"
        );
        out.push(body.kind);
    }
    out
}

fn cluster() -> Cluster {
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    c.add(B);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_is_recognised_and_receipted_again() {
    let c = cluster();
    let _a_cfg = c.config(A, &[B]);
    let b = start(c.config(B, &[A])).await;
    let p = raw_peer(&c).await;
    let m = signed(&p, B, now(), 1);
    let first = exchange(&p, &frame(&m), 1).await;
    let second = exchange(&p, &frame(&m), 1).await;
    for k in [first, second] {
        match &k[0] {
            Kind::Receipt(r) => assert_eq!(r.ids, vec![m.id()]),
            other => panic!("expected a receipt, got {other:?}"),
        }
    }
    assert_eq!(b.store().inbox(0, 10).unwrap().len(), 1, "one inbox entry");
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversized_frames_reset_the_stream_and_the_node_serves_on() {
    let mut c = cluster();
    c.add(C);
    let _a_cfg = c.config(A, &[B]);
    let b = start(c.config(B, &[A, C])).await;
    let other = start(c.config(C, &[B])).await;
    let p = raw_peer(&c).await;

    for bad in [
        // A well-formed length with an unknown frame type.
        vec![0, 0, 0, 3, 0x7f, 1, 2],
        // A frame type 1 whose payload is garbage.
        vec![0, 0, 0, 4, 1, 0xde, 0xad, 0xbe],
        // A length prefix of 64 MiB: refused before any allocation.
        vec![4, 0, 0, 0, 1, 0],
    ] {
        let (mut send, mut recv) = p.conn.open_bi().await.unwrap();
        send.write_all(&bad).await.unwrap();
        let _ = send.finish();
        let mut buf = [0u8; 64];
        let r = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match recv.read(&mut buf).await {
                    Ok(Some(_)) => continue,
                    other => return other,
                }
            }
        })
        .await
        .expect("B answers in time");
        match r {
            Err(quinn::ReadError::Reset(code)) => {
                assert_eq!(code, liaison_node::wire::code::BAD_FRAME.into())
            }
            // Garbage inside a well-formed frame is refused with a signed refusal instead.
            Ok(None) => {}
            other => panic!("unexpected stream outcome {other:?}"),
        }
    }
    // The node still serves this peer on a new stream, and its other peers.
    let m = signed(&p, B, now(), 2);
    assert!(matches!(
        exchange(&p, &frame(&m), 1).await[0],
        Kind::Receipt(_)
    ));
    let sent = other
        .send(&liaison_tests::cluster::alert(B, "from another peer"))
        .await
        .unwrap();
    let store_b = b.store().clone();
    liaison_tests::cluster::wait_for("C's message at B", Duration::from_secs(30), || {
        store_b.state(&sent.id).unwrap().is_some()
    })
    .await;
    other.shutdown().await.unwrap();
    // And every refusal is in B's log with its reason code.
    let codes: Vec<String> = (0..b.store().log_size())
        .filter_map(|i| b.store().log_entry(i).unwrap())
        .filter_map(|e| match e.event {
            liaison_protocol::log::Event::Refused { reason_code, .. } => Some(reason_code),
            _ => None,
        })
        .collect();
    assert!(
        codes.contains(&"unknown-frame-type".to_string()),
        "{codes:?}"
    );
    assert!(codes.contains(&"frame-too-large".to_string()), "{codes:?}");
    assert!(codes.contains(&"malformed".to_string()), "{codes:?}");
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_for_someone_else_or_from_a_skewed_clock_is_refused_with_a_reason() {
    let c = cluster();
    let _a_cfg = c.config(A, &[B]);
    let b = start(c.config(B, &[A])).await;
    let p = raw_peer(&c).await;
    let other = signed(&p, "tj-dcu.central-asia", now(), 3);
    let skewed = signed(&p, B, now().plus_millis(3_600_000), 4);
    let mut bytes = frame(&other);
    bytes.extend(frame(&skewed));
    let answers = exchange(&p, &bytes, 2).await;
    let mut codes: Vec<_> = answers
        .iter()
        .map(|k| match k {
            Kind::Refusal(r) => (r.target, r.reason_code.clone()),
            other => panic!("expected refusals, got {other:?}"),
        })
        .collect();
    codes.sort();
    let mut want = vec![
        (other.id(), "not-a-recipient".to_string()),
        (skewed.id(), "clock-skew".to_string()),
    ];
    want.sort();
    assert_eq!(codes, want);
    assert!(b.store().inbox(0, 10).unwrap().is_empty());
    b.shutdown().await.unwrap();
}

/// A peer's message naming 40,000 recipients (within the frame limit), each released by the
/// last of 10,001 releasability entries: refused for its recipients, with the limit and the
/// value, before its handling rules (40,000 × 10,001 comparisons) or its routing; the node
/// serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_message_naming_forty_thousand_recipients_is_refused_for_its_count() {
    let c = cluster();
    let _a_cfg = c.config(A, &[B]);
    let b = start(c.config(B, &[A])).await;
    let p = raw_peer(&c).await;
    let mut body = sample::alert_of_size(200);
    body.header.originator = A.parse().unwrap();
    body.header.created_at = now();
    body.header.recipients = (0..40_000)
        .map(|i| format!("n{i}.zz").parse().unwrap())
        .collect();
    body.handling.releasability = (0..10_000)
        .map(|i| format!("network:x{i}"))
        .chain(["network:zz".to_owned()])
        .map(|r| r.parse().unwrap())
        .collect();
    body.normalise();
    // Encoded and signed as a careless or hostile originator would: `encode` refuses it.
    let mut bytes = vec![liaison_protocol::message::FORMAT_VERSION];
    bytes.extend(postcard::to_stdvec(&body).unwrap());
    let big = p.signer.sign_encoded(bytes);
    let answers = exchange(&p, &frame(&big), 1).await;
    match &answers[0] {
        Kind::Refusal(r) => {
            assert_eq!(r.target, big.id());
            assert_eq!(r.reason_code, "limit-exceeded");
            assert_eq!(r.detail, "recipients has 40000, limit is 256");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let m = signed(&p, B, now(), 5);
    assert!(matches!(
        exchange(&p, &frame(&m), 1).await[0],
        Kind::Receipt(_)
    ));
    b.shutdown().await.unwrap();
}
