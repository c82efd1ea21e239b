//! The frames of a real exchange, captured byte for byte on the QUIC streams, decode and check
//! out with a decoder that shares no code with Liaison: `tests/wire_check.py`, written from
//! `docs/PROTOCOL.md` with Python's standard library and `cryptography`.
//!
//! A real node (B, in-process, real data dir, real QUIC on loopback) and this test, speaking as
//! its configured peer A with A's real node certificate: B dials A and sends its route
//! announcement (A receipts it); A dials B and sends a sealed alert (receipted), an alert with a
//! flipped signature bit (refused: `bad-signature`), an alert for B's other peer C whose hop
//! limit of 1 allows no relay (refused: `hop-limit-exceeded`) and one message of every other
//! content kind in the clear (every entity type among them; B answers each as its rules say),
//! then asks B to cosign a checkpoint on a witnessing stream. B also hands A the network's
//! CRL on a stream of its own.
//! Every byte written and read on those streams is written to files, with the network CA and
//! the node certificates; the checker must decode every frame, recompute every message id,
//! verify every signature and certificate chain, match every receipt and refusal to a message
//! sent the other way, agree with B about the message it refused for its signature, and reject
//! a flipped bit of a signature and of a signed body (`--tamper-test`).
//!
//! Needs `python3` with `cryptography` (`pip install cryptography`; `.ci/run` installs it).
//! Without them the test fails: a check that silently skipped would prove nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use liaison_certs::tls::{TlsIdentity, TlsTrust};
use liaison_node::config::RelayRule;
use liaison_node::endpoint;
use liaison_protocol::checkpoint::{
    log_origin, open_note, Checkpoint, NoteVerifier, SignedCheckpoint,
};
use liaison_protocol::log::Event;
use liaison_protocol::message::{Header, Kind, Receipt, ReceiptStatus};
use liaison_protocol::seal::{seal_kind, SealingSecret, SenderShare};
use liaison_protocol::witness::{WitnessReply, WitnessRequest};
use liaison_protocol::{
    merkle, sample, Body, Envelope, Evaluation, FrameDecoder, FrameType, Handling, MessageId,
    NodeId, Recipient, Release, SignedMessage, Signer, Tlp, TrustStore,
};
use liaison_tests::cluster::{start, wait_for, Cluster};
use ring::rand::{SecureRandom, SystemRandom};

/// Played by this test, with its real node certificate.
const A: &str = "kz-dcu.central-asia";
/// The real node.
const B: &str = "caricc.central-asia";
/// A configured peer of B that never runs: a message for it would have to be relayed by B.
const C: &str = "tj-dcu.central-asia";
/// Any one step of the exchange must finish within this.
const LIMIT: Duration = Duration::from_secs(30);
/// The text of the sealed alert, which B must open.
const TEXT: &str = "Container MSCU1234565 leaves Aktau tonight";

const INSTALL_HINT: &str = "the independent wire check needs python3 and its `cryptography` \
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

/// Runs `tests/wire_check.py` with `args`.
fn wire_check(args: &[&Path]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("wire_check.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// What the checker printed.
fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A node id from a constant.
fn node(s: &str) -> NodeId {
    s.parse().expect("node id")
}

/// How the checker names a message id: its first four bytes in hex.
fn short(id: &MessageId) -> String {
    let hex: String = id.0[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}…")
}

/// Writes `bytes` on `send`, and records them as sent.
async fn put(send: &mut quinn::SendStream, tape: &mut Vec<u8>, bytes: &[u8]) {
    tokio::time::timeout(LIMIT, send.write_all(bytes))
        .await
        .expect("written in time")
        .expect("write");
    tape.extend_from_slice(bytes);
}

/// Reads exactly one frame from `recv` (and not a byte more), records its bytes as they
/// arrived, and returns its type and payload.
async fn take(recv: &mut quinn::RecvStream, tape: &mut Vec<u8>) -> (FrameType, Vec<u8>) {
    let mut head = [0u8; 4];
    tokio::time::timeout(LIMIT, recv.read_exact(&mut head))
        .await
        .expect("a frame in time")
        .expect("a frame header");
    let len = u32::from_be_bytes(head) as usize;
    assert!((1..=1 << 20).contains(&len), "frame length {len}");
    let mut rest = vec![0u8; len];
    tokio::time::timeout(LIMIT, recv.read_exact(&mut rest))
        .await
        .expect("the frame in time")
        .expect("the whole frame");
    tape.extend_from_slice(&head);
    tape.extend_from_slice(&rest);
    // The protocol crate's own reading of the same bytes.
    let mut whole = head.to_vec();
    whole.extend_from_slice(&rest);
    let (frame, used) = FrameDecoder::default()
        .decode(&whole)
        .expect("a valid frame")
        .expect("a whole frame");
    assert_eq!(used, whole.len());
    (frame.frame_type, frame.payload.to_vec())
}

/// The verified body of an envelope frame's payload.
fn open_envelope(payload: &[u8], trust: &TrustStore) -> (SignedMessage, Body) {
    let env = Envelope::decode(payload).expect("an envelope");
    let v = env
        .signed
        .clone()
        .verify(trust)
        .expect("a verified message");
    (env.signed, v.body().clone())
}

/// A header from A to `to`, created now, with a fresh nonce.
fn header_to(to: Recipient, hop_limit: u8) -> Header {
    let mut nonce = [0u8; 16];
    SystemRandom::new().fill(&mut nonce).expect("random");
    Header {
        originator: node(A),
        created_at: liaison_node::store::now(),
        nonce,
        recipients: vec![to],
        case: None,
        in_reply_to: None,
        expires_at: None,
        hop_limit,
    }
}

/// A's signed receipt of `ids` for B, as a node writes one (PROTOCOL.md §8.1).
fn receipt(a: &Signer, ids: Vec<MessageId>) -> SignedMessage {
    let mut body = Body {
        header: header_to(Recipient::Node(node(B)), 1),
        handling: Handling {
            tlp: Tlp::Green,
            releasability: vec![Release::Node(node(B))],
            originator_control: false,
            h0_crime_only: false,
            h1_no_judicial_use: false,
            h3_restrictions: None,
            evaluation: "A1".parse::<Evaluation>().expect("evaluation"),
        },
        kind: Kind::Receipt(Receipt {
            status: ReceiptStatus::Delivered,
            ids,
        }),
    };
    a.sign(&mut body).expect("a receipt signs")
}

/// An AMBER alert from A to B with `TEXT`, sealed to B's key and to A's own, signed by A.
fn sealed_alert(a: &Signer, b_key: &[u8; 32], a_key: &[u8; 32]) -> SignedMessage {
    let rng = SystemRandom::new();
    let mut body = sample::alert_of_size(200);
    body.header = header_to(Recipient::Node(node(B)), 8);
    body.handling = sample::handling(Tlp::Amber, &["network:central-asia"]);
    if let Kind::Alert(p) = &mut body.kind {
        p.text = TEXT.into();
    }
    let shares = [
        SenderShare::new(&node(A), a_key, &rng).expect("share with A"),
        SenderShare::new(&node(B), b_key, &rng).expect("share with B"),
    ];
    let sealed =
        seal_kind(&body.kind, &body.header, &[&shares[0], &shares[1]], &rng).expect("sealed");
    body.kind = Kind::Sealed(sealed);
    a.sign(&mut body).expect("a sealed alert signs")
}

/// One message from A to B of every content kind but the alert, in the clear, signed now.
fn every_content_kind(a: &Signer) -> Vec<SignedMessage> {
    sample::every_kind()
        .into_iter()
        .filter(|b| b.kind.is_content() && !matches!(b.kind, Kind::Alert(_)))
        .map(|mut body| {
            let header = header_to(Recipient::Node(node(B)), 8);
            let created = header.created_at;
            body.header = Header {
                case: body.header.case.take(),
                in_reply_to: body.header.in_reply_to,
                ..header
            };
            body.handling = sample::handling(Tlp::Amber, &["network:central-asia"]);
            if let Kind::Request { reply_by, .. } = &mut body.kind {
                *reply_by = created.plus_millis(8 * 3_600_000);
            }
            a.sign(&mut body).expect("a sample body signs")
        })
        .collect()
}

/// `m` as an envelope frame with an empty route, as its originator sends it.
fn frame(m: &SignedMessage) -> Vec<u8> {
    Envelope {
        signed: m.clone(),
        route: vec![],
    }
    .to_frame(&FrameDecoder::default())
    .expect("a frame")
}

/// Writes one file of the capture.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write capture");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_decoder_checks_every_frame_of_a_real_exchange() {
    if !python_ready() {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut c = Cluster::new(&["central-asia"]);
    for n in [A, B, C] {
        c.add(n);
    }
    // A's certificate and key, issued by the network CA as for any node.
    let _ = c.config(A, &[B]);
    let d = c.node_dir(A);
    let identity = TlsIdentity::load(&d.join("node.crt"), &d.join("node.key")).expect("identity");
    let a = liaison_certs::load_signer(&d.join("node.crt"), &d.join("node.key")).expect("signer");
    let net = &c.pki.networks["central-asia"];
    let tls = TlsTrust::new(&[(net.ca.cert_der().to_vec(), net.crl_der.clone())]).expect("trust");
    let trust = &tls.trust_store();
    // A listens where B dials it, and dials B from the same endpoint, as a node does.
    let ep = endpoint::bind_with(c.addr(A), &identity, &tls).expect("bind A");
    // B relays within its network, so a message for C is B's to relay or refuse.
    let mut b_cfg = c.config(B, &[A, C]);
    b_cfg.relay = vec![RelayRule {
        from: "central-asia".parse().expect("network"),
        to: vec!["central-asia".parse().expect("network")],
    }];
    let b = start(b_cfg).await;

    // --- B dials A: its session stream carries its announcement; A receipts it. ---
    let incoming = tokio::time::timeout(LIMIT, ep.accept())
        .await
        .expect("B dials A in time")
        .expect("endpoint open");
    let (dialled, peer) = endpoint::accept(incoming, trust, |id| id.as_str() == B)
        .await
        .expect("B's connection");
    assert_eq!(peer.as_str(), B);
    // B's session stream, and the stream on which it hands over the CRLs it has in force.
    let mut session = None;
    let mut crl_out = None;
    while session.is_none() || crl_out.is_none() {
        let (send, mut recv) = tokio::time::timeout(LIMIT, dialled.accept_bi())
            .await
            .expect("a stream from B in time")
            .expect("a stream");
        let mut tape = Vec::new();
        let (ty, payload) = take(&mut recv, &mut tape).await;
        match ty {
            FrameType::Envelope => session = Some((send, recv, tape, payload)),
            FrameType::Crl => {
                let rest = tokio::time::timeout(LIMIT, recv.read_to_end(1 << 20))
                    .await
                    .expect("the CRL stream's end in time")
                    .expect("the CRL stream");
                assert!(rest.is_empty(), "one network, one CRL");
                crl_out = Some(tape);
            }
            // B also offers its checkpoints, on streams of their own: not part of this capture.
            _ => {}
        }
    }
    let (mut b_send, b_recv, b_out, announce_payload) = session.expect("B's session stream");
    let crl_out = crl_out.expect("B's CRL stream");
    let mut b_in = Vec::new();
    let (announce, body) = open_envelope(&announce_payload, trust);
    let Kind::Announce(ann) = &body.kind else {
        panic!("B's first message is its announcement, not {:?}", body.kind);
    };
    assert_eq!(body.header.originator, node(B));
    let statements = ann.keys.len();
    let b_key = ann
        .keys
        .iter()
        .find_map(|k| {
            let v = k.clone().verify(trust).ok()?;
            match v.body().kind {
                Kind::SealingKey(ref s) if v.originator() == &node(B) => Some(s.key),
                _ => None,
            }
        })
        .expect("B announces its sealing key");
    put(
        &mut b_send,
        &mut b_in,
        &frame(&receipt(&a, vec![announce.id()])),
    )
    .await;
    let store_b = b.store().clone();
    wait_for("B to log A's receipt of its announcement", LIMIT, || {
        (0..store_b.log_size())
            .filter_map(|i| store_b.log_entry(i).ok().flatten())
            .any(|e| matches!(e.event, Event::ReceiptReceived { ref ids, .. } if ids.contains(&announce.id())))
    })
    .await;

    // --- A dials B: a session stream with A's messages, then a witnessing stream. ---
    let conn = endpoint::connect(&ep, trust, &node(B), c.addr(B))
        .await
        .expect("A's connection to B");
    let a_secret = SealingSecret::generate(&SystemRandom::new()).expect("A's sealing key");
    let good = sealed_alert(&a, &b_key, &a_secret.public());
    let mut forged = sealed_alert(&a, &b_key, &a_secret.public());
    forged.signature[17] ^= 0x04;
    // For C, through B, but with a hop limit of one link: A to B.
    let mut far = sample::alert_of_size(200);
    far.header = header_to(Recipient::Node(node(C)), 1);
    far.handling = sample::handling(Tlp::Amber, &["network:central-asia"]);
    let far = a.sign(&mut far).expect("an alert for C signs");
    let every = every_content_kind(&a);
    let (mut send, mut recv) = conn.open_bi().await.expect("a session stream");
    let (mut s_out, mut s_in) = (Vec::new(), Vec::new());
    let mut bytes = Vec::new();
    for m in [&good, &forged, &far].into_iter().chain(&every) {
        bytes.extend(frame(m));
    }
    put(&mut send, &mut s_out, &bytes).await;
    // B answers in batches: one receipt per status per batch, one refusal per message.
    let sent: Vec<MessageId> = [&good, &forged, &far]
        .into_iter()
        .chain(&every)
        .map(SignedMessage::id)
        .collect();
    let mut outcomes = std::collections::BTreeMap::new();
    let (mut receipts, mut refusals) = (0, 0);
    while outcomes.len() < sent.len() {
        let (ty, payload) = take(&mut recv, &mut s_in).await;
        assert!(matches!(ty, FrameType::Envelope));
        let (_, body) = open_envelope(&payload, trust);
        assert_eq!(body.header.originator, node(B), "answers are B's");
        match body.kind {
            Kind::Receipt(r) => {
                receipts += 1;
                for id in r.ids {
                    outcomes.insert(id, format!("{:?}", r.status));
                }
            }
            Kind::Refusal(r) => {
                refusals += 1;
                outcomes.insert(r.target, r.reason_code);
            }
            other => panic!("B answered with {other:?}"),
        }
    }
    assert_eq!(outcomes.keys().copied().collect::<Vec<_>>(), {
        let mut s = sent.clone();
        s.sort();
        s
    });
    assert_eq!(outcomes[&good.id()], "Delivered");
    assert_eq!(outcomes[&forged.id()], "bad-signature");
    assert_eq!(outcomes[&far.id()], "hop-limit-exceeded");
    for m in &every {
        let kind = Body::decode(&m.body).expect("body").kind;
        println!("{}: {}", kind.name(), outcomes[&m.id()]);
    }
    // B opened the sealed alert: it holds the text A sealed.
    let env = b
        .store()
        .envelope(&good.id())
        .expect("store")
        .expect("held");
    let held = Body::decode(&env.signed.body).expect("body");
    let (opened, why) = liaison_node::sealing::open_body(b.ctx().keys(), held);
    assert_eq!(why, None);
    assert_eq!(opened.kind.payload().map(|p| p.text.as_str()), Some(TEXT));

    // A offers B a checkpoint of a two-entry log; B cosigns it with its node key.
    let root = merkle::node_hash(
        &merkle::leaf_hash(good.id().0.as_slice()),
        &merkle::leaf_hash(far.id().0.as_slice()),
    );
    let checkpoint = Checkpoint::new(log_origin(&node(A)), 2, root).expect("checkpoint");
    let note = SignedCheckpoint::sign(checkpoint, &log_origin(&node(A)), a.key())
        .expect("signed checkpoint")
        .encode();
    let request = WitnessRequest {
        note,
        old_size: 0,
        proof: vec![],
    };
    let (mut wsend, mut wrecv) = conn.open_bi().await.expect("a witnessing stream");
    let (mut w_out, mut w_in) = (Vec::new(), Vec::new());
    let bytes = FrameDecoder::default()
        .encode(FrameType::WitnessRequest, &request.encode())
        .expect("frame");
    put(&mut wsend, &mut w_out, &bytes).await;
    let (ty, payload) = take(&mut wrecv, &mut w_in).await;
    assert!(matches!(ty, FrameType::WitnessReply));
    let WitnessReply::Cosigned { note } = WitnessReply::decode(&payload).expect("reply") else {
        panic!("B did not cosign");
    };
    let b_cert = c.node_dir(B).join("node.crt");
    let b_signer = liaison_certs::load_signer(&b_cert, &c.node_dir(B).join("node.key")).expect("B");
    let b_verifier =
        NoteVerifier::new(&log_origin(&node(B)), b_signer.key().public_key()).expect("verifier");
    let opened = open_note(&note, std::slice::from_ref(&b_verifier)).expect("the cosigned note");
    assert!(opened.is_signed_by(&b_verifier), "B's cosignature verifies");

    // The capture, and what the checker needs to check it.
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_pem = liaison_certs::load::to_pem("CERTIFICATE", net.ca.cert_der());
    let ca = write(dir.path(), "central-asia.ca.pem", ca_pem.as_bytes());
    let certs = [
        write(
            dir.path(),
            "a.pem",
            &std::fs::read(d.join("node.crt")).expect("A's cert"),
        ),
        write(
            dir.path(),
            "b.pem",
            &std::fs::read(&b_cert).expect("B's cert"),
        ),
    ];
    let streams = [
        write(dir.path(), "b-dials-a.session.b-to-a.bin", &b_out),
        write(dir.path(), "b-dials-a.session.a-to-b.bin", &b_in),
        write(dir.path(), "a-dials-b.session.a-to-b.bin", &s_out),
        write(dir.path(), "a-dials-b.session.b-to-a.bin", &s_in),
        write(dir.path(), "a-dials-b.witness.a-to-b.bin", &w_out),
        write(dir.path(), "a-dials-b.witness.b-to-a.bin", &w_in),
        write(dir.path(), "b-dials-a.crl.b-to-a.bin", &crl_out),
    ];
    drop((b_send, b_recv, send, recv, wsend, wrecv));
    conn.close(0u32.into(), b"bye");
    dialled.close(0u32.into(), b"bye");
    b.shutdown().await.expect("B stops");

    let mut args: Vec<&Path> = vec![Path::new("--ca"), &ca];
    for cert in &certs {
        args.extend([Path::new("--cert"), cert.as_path()]);
    }
    args.extend(streams.iter().map(PathBuf::as_path));
    let out = wire_check(&args);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the capture must check out: {text}"
    );
    // Every frame by its id, kind and verdict; the summary with every count.
    let line = |needle: &str| {
        let found: Vec<&str> = text.lines().filter(|l| l.contains(needle)).collect();
        assert_eq!(found.len(), 1, "one line with {needle:?}:\n{text}");
        found[0].to_owned()
    };
    // The receipt covering `id`, among whatever else its batch held.
    let receipt_of = |id: &MessageId| {
        let found: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("envelope, receipt id") && l.contains(&short(id)))
            .collect();
        assert_eq!(found.len(), 1, "one receipt of {}:\n{text}", short(id));
        found[0].to_owned()
    };
    assert!(line(&format!("announce id {}", short(&announce.id()))).ends_with("signature OK"));
    assert!(receipt_of(&announce.id()).contains(&format!("delivered [{}]", short(&announce.id()))));
    let l = line(&format!("sealed alert id {}", short(&good.id())));
    assert!(l.contains("sealed to caricc.central-asia,kz-dcu.central-asia") && l.ends_with("OK"));
    assert!(line(&format!("sealed alert id {}", short(&forged.id())))
        .contains("bad-signature: the signature does not verify"));
    assert!(line(&format!("alert id {} from {A} to {C}", short(&far.id()))).ends_with("OK"));
    let l = receipt_of(&good.id());
    assert!(
        l.contains(" delivered [") && l.ends_with("signature OK"),
        "{l}"
    );
    assert!(line(&format!("of {} bad-signature", short(&forged.id()))).ends_with("signature OK"));
    assert!(line(&format!("of {} hop-limit-exceeded", short(&far.id()))).ends_with("signature OK"));
    assert!(
        line("witness request").contains("liaison/kz-dcu.central-asia size 2, 1 signature(s) OK")
    );
    assert!(line("witness reply")
        .contains("cosigned liaison/kz-dcu.central-asia size 2, 2 signature(s) OK"));
    // Envelopes: B's announcement and A's receipt; A's messages and B's answers. Signatures:
    // every envelope's but the forged one, the statements carried in the announcement, and
    // the checkpoint signatures (A's on the request; A's and B's on the reply), and the CRL's.
    let envelopes = 2 + sent.len() + receipts + refusals;
    assert!(line("CRL of central-asia number 1, 0 revoked").ends_with("signature OK"));
    // … and B's CRL, signed by the network CA.
    let summary = format!(
        "OK {} frames in 7 streams ({envelopes} envelopes, 2 witness frames, 1 CRL frames): {} \
         messages, {} receipts, {refusals} refusals; {} signatures verified ({statements} \
         carried inside messages); 1 refused by the receiver for the fault found here \
         (bad-signature); 0 unanswered; every answer refers to a message sent the other way",
        envelopes + 3,
        1 + sent.len(),
        1 + receipts,
        envelopes - 1 + statements + 3 + 1
    );
    assert_eq!(text.lines().last(), Some(summary.as_str()), "{text}");

    // Another CA of the same network name did not issue these certificates.
    let impostor = liaison_tests::TestPki::new(&["central-asia"]);
    let pem = liaison_certs::load::to_pem("CERTIFICATE", impostor.ca("central-asia").cert_der());
    let wrong = write(dir.path(), "impostor.ca.pem", pem.as_bytes());
    let mut args: Vec<&Path> = vec![Path::new("--ca"), &wrong];
    args.extend(streams.iter().map(PathBuf::as_path));
    let out = wire_check(&args);
    assert_eq!(out.status.code(), Some(1), "another CA must not vouch");
    assert!(
        stdout(&out).contains("bad-certificate-chain"),
        "{}",
        stdout(&out)
    );

    // The checker's own proof that it can fail: a flipped signature bit, a flipped body bit.
    let mut args: Vec<&Path> = vec![Path::new("--tamper-test"), Path::new("--ca"), &ca];
    args.extend(streams.iter().map(PathBuf::as_path));
    let out = wire_check(&args);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the tamper test must pass: {text}"
    );
    assert!(
        text.starts_with("OK tamper test") && text.matches("rejected").count() == 2,
        "{text}"
    );
}
