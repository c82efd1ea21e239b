//! Promise 1, authenticity end to end: a message signed by its originator verifies at any hop
//! from its bytes and the trusted CA roots alone, and every alteration or wrong certificate is
//! refused with the right reason code.

use liaison_certs::Validity;
use liaison_protocol::codec::{Envelope, FrameDecoder};
use liaison_protocol::handling::{check_hop, Hop};
use liaison_protocol::message::Body;
use liaison_protocol::signing::message_signing_input;
use liaison_protocol::{sample, NodeId, SignedMessage, Tlp, TrustStore};
use liaison_tests::{key_of, signer, TestPki};
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ts(t: OffsetDateTime) -> liaison_protocol::Timestamp {
    liaison_certs::timestamp(t)
}

fn pki() -> TestPki {
    TestPki::new(&["central-asia", "gulf", "inter-regional"])
}

/// The sample alert from kz-dcu to om-dcu, created at `at`, released across all three networks.
fn alert_at(at: OffsetDateTime) -> Body {
    let mut b = sample::alert();
    b.header.created_at = ts(at);
    b.handling = sample::handling(
        Tlp::Amber,
        &[
            "network:central-asia",
            "network:gulf",
            "network:inter-regional",
        ],
    );
    b.normalise();
    b
}

fn n(s: &str) -> NodeId {
    s.parse().unwrap()
}

#[test]
fn signature_survives_three_relays_byte_for_byte() {
    let pki = pki();
    let kz = signer(&pki.node("kz-dcu.central-asia"));
    let original = kz.sign(&mut alert_at(now())).unwrap();
    let id = original.id();
    let frames = FrameDecoder::default();

    let dest = n("om-dcu.gulf");
    let relays = [
        n("caricc.central-asia"),
        n("caricc.inter-regional"),
        n("gcc-cic.gulf"),
    ];
    let mut wire = Envelope {
        signed: original.clone(),
        route: vec![],
    }
    .to_frame(&frames)
    .unwrap();

    // Each relay: decode the frame, verify with its own trust store, check the next hop,
    // add itself to the route and forward the signed bytes unchanged.
    let hops: Vec<&NodeId> = relays.iter().chain([&dest]).collect();
    for (i, relay) in relays.iter().enumerate() {
        let trust = pki.trust();
        let (frame, used) = frames.decode(&wire).unwrap().unwrap();
        assert_eq!(used, wire.len());
        let env = Envelope::decode(frame.payload).unwrap();
        let verified = env.signed.clone().verify(&trust).unwrap();
        assert_eq!(verified.id(), id);
        assert_eq!(verified.originator(), &n("kz-dcu.central-asia"));
        let mut route = env.route.clone();
        route.push(relay.clone());
        check_hop(
            &verified.body().addressing(),
            &Hop {
                next: hops[i + 1],
                destination: &dest,
                route: &route,
                now: ts(now()),
                consented: &[],
            },
        )
        .unwrap();
        wire = Envelope {
            signed: env.signed,
            route,
        }
        .to_frame(&frames)
        .unwrap();
    }

    let (frame, _) = frames.decode(&wire).unwrap().unwrap();
    let env = Envelope::decode(frame.payload).unwrap();
    assert_eq!(env.route, relays.to_vec());
    assert_eq!(
        env.signed, original,
        "relays forwarded the signed bytes unchanged"
    );
    // The destination trusts only its own network and the sender's: enough to verify.
    let verified = env
        .signed
        .verify(&pki.trust_only(&["central-asia", "gulf"]))
        .unwrap();
    assert_eq!(verified.id(), id);
    assert_eq!(verified.body(), &alert_at_body_of(&original));
}

fn alert_at_body_of(s: &SignedMessage) -> Body {
    Body::decode(&s.body).unwrap()
}

/// The bytes of a signed message as they travel (body, certificate, signature with their
/// length prefixes): an envelope with an empty route, minus the route's one count byte.
fn signed_bytes(s: &SignedMessage) -> Vec<u8> {
    let mut v = Envelope {
        signed: s.clone(),
        route: vec![],
    }
    .encode();
    assert_eq!(v.pop(), Some(0));
    v
}

fn verify_bytes(bytes: &[u8], trust: &TrustStore) -> Result<(), String> {
    let mut b = bytes.to_vec();
    b.push(0);
    let env = Envelope::decode(&b).map_err(|e| e.reason_code().to_string())?;
    env.signed
        .verify(trust)
        .map(|_| ())
        .map_err(|e| e.reason_code().to_string())
}

#[test]
fn every_single_bit_flip_of_a_signed_message_is_rejected() {
    let pki = pki();
    let trust = pki.trust();
    let kz = signer(&pki.node("kz-dcu.central-asia"));
    let mut body = sample::alert_of_size(64);
    body.header.created_at = ts(now());
    body.normalise();
    let signed = kz.sign(&mut body).unwrap();
    let bytes = signed_bytes(&signed);
    verify_bytes(&bytes, &trust).unwrap();

    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..bytes.len() * 8 {
        let mut c = bytes.clone();
        c[i / 8] ^= 1 << (i % 8);
        match verify_bytes(&c, &trust) {
            Ok(()) => panic!("flip of bit {i} (byte {}) was accepted", i / 8),
            Err(code) => *reasons.entry(code).or_default() += 1,
        }
    }
    // Flips land in the body, the certificate and the signature: each is caught.
    assert!(reasons.contains_key("bad-signature"), "{reasons:?}");
    println!("{} flips, all refused: {reasons:?}", bytes.len() * 8);
}

#[test]
fn revoked_certificate_is_refused_from_its_revocation_time() {
    let mut pki = pki();
    let since_yesterday = Validity::new(now() - Duration::days(1), now() + Duration::days(365));
    let cert = pki.node_valid("kz-dcu.central-asia", since_yesterday.unwrap());
    let kz = signer(&cert);
    let before = kz.sign(&mut alert_at(now() - Duration::hours(2))).unwrap();
    pki.revoke("central-asia", &cert, now() - Duration::hours(1));
    let after = kz.sign(&mut alert_at(now())).unwrap();
    let trust = pki.trust();

    let err = after.verify(&trust).unwrap_err();
    assert_eq!(err.reason_code(), "revoked-certificate", "{err}");
    // A message signed before the revocation stays verifiable (auditors, years later).
    before.verify(&trust).unwrap();
}

#[test]
fn expired_certificate_is_refused() {
    let pki = pki();
    let past = Validity::new(now() - Duration::days(400), now() - Duration::days(35)).unwrap();
    let cert = pki.node_valid("kz-dcu.central-asia", past);
    let kz = signer(&cert);
    let err = kz
        .sign(&mut alert_at(now()))
        .unwrap()
        .verify(&pki.trust())
        .unwrap_err();
    assert_eq!(err.reason_code(), "certificate-expired", "{err}");
    // Signed while the certificate was valid: still verifies.
    kz.sign(&mut alert_at(now() - Duration::days(100)))
        .unwrap()
        .verify(&pki.trust())
        .unwrap();
    // Signed before it was valid.
    let err = kz
        .sign(&mut alert_at(now() - Duration::days(500)))
        .unwrap()
        .verify(&pki.trust())
        .unwrap_err();
    assert_eq!(err.reason_code(), "certificate-not-yet-valid", "{err}");
}

#[test]
fn other_network_certificate_is_refused() {
    let pki = pki();
    // A gulf-CA certificate for a gulf node, used to sign a message claiming a central-asia origin.
    let gulf_cert = pki.node("kz-dcu.gulf");
    let body = alert_at(now()).encode().unwrap();
    let forged = SignedMessage {
        signature: key_of(&gulf_cert)
            .sign(&message_signing_input(
                &liaison_protocol::MessageId::of_body(&body),
            ))
            .to_vec(),
        body,
        signer_cert: gulf_cert.cert_der.clone(),
    };
    let err = forged.verify(&pki.trust()).unwrap_err();
    assert_eq!(err.reason_code(), "signer-mismatch", "{err}");

    // A rogue CA calling itself central-asia is not the trusted one.
    let rogue = TestPki::new(&["central-asia"]);
    let rogue_signer = signer(&rogue.node("kz-dcu.central-asia"));
    let err = rogue_signer
        .sign(&mut alert_at(now()))
        .unwrap()
        .verify(&pki.trust())
        .unwrap_err();
    assert_eq!(err.reason_code(), "bad-certificate-chain", "{err}");

    // A network nobody trusts.
    let err = signer(&pki.node("kz-dcu.central-asia"))
        .sign(&mut alert_at(now()))
        .unwrap()
        .verify(&pki.trust_only(&["gulf"]))
        .unwrap_err();
    assert_eq!(err.reason_code(), "unknown-ca", "{err}");
}

#[test]
fn officer_certificate_cannot_sign_messages() {
    let pki = pki();
    let officer = pki
        .ca("central-asia")
        .issue_officer(
            &"kz-dcu".parse().unwrap(),
            &"aigerim".parse().unwrap(),
            liaison_certs::Role::Officer,
            liaison_certs::OfficerKey::Ed25519,
            Validity::days_from(now(), 30).unwrap(),
        )
        .unwrap();
    let body = alert_at(now()).encode().unwrap();
    let msg = SignedMessage {
        signature: key_of(&officer)
            .sign(&message_signing_input(
                &liaison_protocol::MessageId::of_body(&body),
            ))
            .to_vec(),
        body,
        signer_cert: officer.cert_der.clone(),
    };
    let err = msg.verify(&pki.trust()).unwrap_err();
    assert_eq!(err.reason_code(), "not-node-certificate", "{err}");
    assert!(liaison_protocol::Signer::new(key_of(&officer), officer.cert_der.clone()).is_err());
}

#[test]
fn a_node_cannot_sign_for_another() {
    let pki = pki();
    let om = signer(&pki.node("om-dcu.gulf"));
    assert!(
        om.sign(&mut alert_at(now())).is_err(),
        "originator is kz-dcu"
    );
    let wrong_key = liaison_protocol::Signer::new(
        key_of(&pki.node("om-dcu.gulf")),
        pki.node("kz-dcu.central-asia").cert_der,
    );
    assert!(wrong_key.is_err(), "key must match certificate");
}
