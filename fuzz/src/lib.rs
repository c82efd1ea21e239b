//! The fuzz harness for liaison-protocol: one function per fuzz target, each feeding
//! arbitrary bytes through the same decode and verify paths a node runs on peer input,
//! and asserting the invariants those paths promise.
//!
//! This file is compiled twice: by the fuzz targets in `../fuzz_targets/` (through this
//! crate), and by the ordinary workspace test `protocol/tests/fuzz_corpus.rs` (by
//! `#[path]`), which replays every committed corpus file through exactly these functions.
//! So it may use only `std` and `liaison_protocol`.
//!
//! The verification target trusts one fixed network CA, `fuzz-net`, whose CA certificate,
//! CRL, node certificate (`node.fuzz-net`) and node key are committed under
//! `../fixtures/` and compiled in. Fixed keys make the committed seeds verify, so the
//! fuzzer starts from inputs that reach the signature check, not only the parsers. They
//! are test material for a fictitious network and protect nothing.

use std::sync::OnceLock;

/// The node-side targets (store journal, officer API). Not part of this file's second
/// compilation: `protocol/tests/fuzz_corpus.rs` compiles this file as a test module
/// (`cfg(test)`) without liaison-node, and `tests/tests/fuzz_corpus.rs` compiles `node.rs`
/// by path itself.
#[cfg(not(test))]
pub mod node;

use liaison_protocol::codec::{Envelope, FrameDecoder};
use liaison_protocol::limits::{DEFAULT_MAX_FRAME, FRAME_HEADER_LEN};
use liaison_protocol::message::Body;
use liaison_protocol::sample;
use liaison_protocol::signing::{SignedMessage, Signer, SigningKey};
use liaison_protocol::trust::{node_id_from_cert, TrustStore};

/// The fixture network CA certificate (DER).
pub const CA_DER: &[u8] = include_bytes!("../fixtures/network-ca.der");
/// The fixture network's CRL (DER); it revokes a serial no fixture certificate uses.
pub const CRL_DER: &[u8] = include_bytes!("../fixtures/network-crl.der");
/// The certificate of `node.fuzz-net` (DER).
pub const NODE_CERT_DER: &[u8] = include_bytes!("../fixtures/node-cert.der");
/// The PKCS#8 key of `node.fuzz-net`. Test material only.
pub const NODE_KEY_PKCS8: &[u8] = include_bytes!("../fixtures/node-key.pk8");
/// The node the fixture certificate names.
pub const NODE: &str = "node.fuzz-net";

/// What the verification target needs, built once per process.
pub struct Fixture {
    /// Trusts the fixture network, with its CRL.
    pub trust: TrustStore,
    /// Signs as `node.fuzz-net`.
    pub signer: Signer,
    /// Valid messages: one of every kind, signed by `signer`.
    pub valid: Vec<SignedMessage>,
}

/// The process-wide fixture (built on first use).
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut trust = TrustStore::new();
        trust
            .add_ca(CA_DER, Some(CRL_DER))
            .expect("fixture CA and CRL load");
        let key = SigningKey::from_pkcs8_der(NODE_KEY_PKCS8).expect("fixture key loads");
        let signer = Signer::new(key, NODE_CERT_DER.to_vec()).expect("fixture key matches cert");
        let valid = sample_bodies()
            .iter_mut()
            .map(|b| signer.sign(b).expect("sample bodies sign"))
            .collect();
        Fixture {
            trust,
            signer,
            valid,
        }
    })
}

/// The sample bodies (one of every kind), re-addressed from the fixture node.
pub fn sample_bodies() -> Vec<Body> {
    let node = NODE.parse().expect("fixture node id parses");
    let mut bodies = sample::every_kind();
    bodies.push(sample::alert_of_size(1024));
    for b in &mut bodies {
        b.header.originator = Clone::clone(&node);
        b.normalise();
    }
    bodies
}

/// Target `body_decode`: whatever decodes re-encodes to exactly the same bytes, and
/// decodes again to the same value. Signatures cover bytes, so a body with two encodings
/// would give one message two ids.
pub fn body_decode(data: &[u8]) {
    let Ok(body) = Body::decode(data) else {
        return;
    };
    let again = body
        .encode()
        .expect("a body that decoded must encode (decode validated it)");
    assert_eq!(again, data, "decode accepted a non-canonical encoding");
    let back = Body::decode(&again).expect("a canonical re-encoding must decode");
    assert_eq!(back, body, "decode(encode(body)) != body");
}

/// Target `frame_decode`: split a byte stream into frames as a peer session does, decode
/// each envelope and the signed body inside it.
pub fn frame_decode(data: &[u8]) {
    let decoder = FrameDecoder::new(DEFAULT_MAX_FRAME);
    let mut rest = data;
    loop {
        let header = decoder.check_header(rest);
        let frame = match decoder.decode(rest) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                // "Need more bytes" must mean exactly that.
                if let Ok(Some(total)) = header {
                    assert!(
                        total > rest.len(),
                        "whole frame buffered but decode said incomplete"
                    );
                }
                return;
            }
            Err(_) => return,
        };
        let (frame, used) = frame;
        assert_eq!(header, Ok(Some(used)), "check_header and decode disagree");
        assert!(used > FRAME_HEADER_LEN && used <= rest.len());
        let encoded = decoder
            .encode(frame.frame_type, frame.payload)
            .expect("a frame that decoded fits the same decoder");
        assert_eq!(
            encoded,
            rest[..used],
            "frame did not re-encode to its bytes"
        );
        if let Ok(env) = Envelope::decode(frame.payload) {
            let back = Envelope::decode(&env.encode()).expect("an encoded envelope decodes");
            assert_eq!(back, env, "envelope did not round-trip");
            body_decode(&env.signed.body);
        }
        rest = &rest[used..];
    }
}

/// Target `verify_message`. The first byte picks the mode:
///
/// * even: the rest is an envelope payload from a peer; decode and verify it.
/// * odd: structured. The second byte picks one of the fixture's valid signed messages,
///   and the rest is a list of 4-byte edits `[op, pos_hi, pos_lo, value]` applied to it
///   before verification (see [`apply_edit`]). This reaches the signature and certificate
///   checks far more often than random bytes can.
///
/// Invariants: a verified message's body re-encodes to its signed bytes; the originator is
/// the node its certificate names; and in structured mode, unless the fixture re-signed
/// the edited body, only bytes the fixture really signed can verify.
pub fn verify_message(data: &[u8]) {
    let fx = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(env) = Envelope::decode(rest) {
            check_verified(env.signed, fx, true);
        }
        return;
    }
    let Some((&pick, edits)) = rest.split_first() else {
        return;
    };
    let mut msg = fx.valid[pick as usize % fx.valid.len()].clone();
    let mut resigned = false;
    for edit in edits.chunks_exact(4) {
        resigned |= apply_edit(
            &mut msg,
            fx,
            edit[0],
            u16::from_be_bytes([edit[1], edit[2]]),
            edit[3],
        );
    }
    check_verified(msg, fx, resigned);
}

/// Applies one structured edit to a signed message; returns true if it re-signed the body.
///
/// `op % 8`: 0 xor a body byte, 1 insert a body byte, 2 remove a body byte, 3 truncate the
/// body, 4 xor a certificate byte, 5 truncate the certificate, 6 xor a signature byte,
/// 7 re-sign the (edited) body with the fixture key, so that the decoder, not the
/// signature, is what must refuse a malformed body.
pub fn apply_edit(msg: &mut SignedMessage, fx: &Fixture, op: u8, pos: u16, value: u8) -> bool {
    let pos = pos as usize;
    let at = |v: &Vec<u8>| if v.is_empty() { 0 } else { pos % v.len() };
    match op % 8 {
        0 => {
            let i = at(&msg.body);
            if let Some(b) = msg.body.get_mut(i) {
                *b ^= value;
            }
        }
        1 => {
            let i = pos % (msg.body.len() + 1);
            msg.body.insert(i, value);
        }
        2 => {
            if !msg.body.is_empty() {
                let i = at(&msg.body);
                msg.body.remove(i);
            }
        }
        3 => {
            let i = pos % (msg.body.len() + 1);
            msg.body.truncate(i);
        }
        4 => {
            let i = at(&msg.signer_cert);
            if let Some(b) = msg.signer_cert.get_mut(i) {
                *b ^= value;
            }
        }
        5 => {
            let i = pos % (msg.signer_cert.len() + 1);
            msg.signer_cert.truncate(i);
        }
        6 => {
            let i = at(&msg.signature);
            if let Some(b) = msg.signature.get_mut(i) {
                *b ^= value;
            }
        }
        _ => {
            let cert = std::mem::take(&mut msg.signer_cert);
            *msg = fx.signer.sign_encoded(std::mem::take(&mut msg.body));
            // Keep an edited certificate: the signature is then over a valid key, but the
            // certificate check must still refuse a certificate that does not chain.
            msg.signer_cert = cert;
            return true;
        }
    }
    false
}

fn check_verified(msg: SignedMessage, fx: &Fixture, may_be_new: bool) {
    let Ok(verified) = msg.verify(&fx.trust) else {
        return;
    };
    let signed = verified.signed();
    let again = verified.body().encode().expect("a verified body encodes");
    assert_eq!(again, signed.body, "verified body is not canonical");
    let cert_node = node_id_from_cert(&signed.signer_cert).expect("a verified certificate parses");
    assert_eq!(
        &cert_node,
        verified.originator(),
        "originator is not the certificate's node"
    );
    assert_eq!(
        verified.id(),
        signed.id(),
        "id is not the hash of the signed bytes"
    );
    if !may_be_new {
        assert!(
            fx.valid.iter().any(|v| v.body == signed.body),
            "an edited body verified under the original signature"
        );
    }
}
