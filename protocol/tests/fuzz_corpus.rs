//! Bad input gets a clear error, never a crash (DESIGN promise 8): every committed fuzz
//! corpus file under `fuzz/corpus/<target>/` is replayed through the fuzz harness itself
//! (`fuzz/src/lib.rs`, compiled in by path), so a crash once found and committed as a
//! seed stays fixed without nightly or libFuzzer.
//!
//! Regenerating the seeds (after a format change) and, if asked, the fixture PKI:
//!
//! ```text
//! cargo test -p liaison-protocol --test fuzz_corpus -- --ignored regenerate
//! LIAISON_FUZZ_NEW_KEYS=1 cargo test -p liaison-protocol --test fuzz_corpus -- --ignored regenerate
//! ```
// Tests read corpus files from disk; the protocol crate's no-I/O rule is for its library.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

use liaison_protocol::codec::{Envelope, FrameDecoder};
use liaison_protocol::ids::NodeId;
use liaison_protocol::signing::{SignedMessage, Signer, SigningKey};

#[allow(dead_code, missing_docs)]
#[path = "../../fuzz/src/lib.rs"]
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
fn frame_decode_corpus_never_panics() {
    replay("frame_decode", harness::frame_decode);
}

#[test]
fn verify_message_corpus_never_panics() {
    replay("verify_message", harness::verify_message);
}

#[test]
fn body_decode_corpus_never_panics_and_round_trips() {
    replay("body_decode", harness::body_decode);
}

/// The seeds are only useful if they still reach the deep paths: stale seeds (after a
/// format change) would leave the fuzzer starting from parse errors.
#[test]
fn seeds_are_current_valid_messages() {
    let fx = harness::fixture();
    for (name, bytes) in corpus("verify_message") {
        if let Some(kind) = name.strip_prefix("seed-envelope-") {
            let env =
                Envelope::decode(&bytes[1..]).unwrap_or_else(|e| panic!("{name}: {e}; {STALE}"));
            let v = env
                .signed
                .verify(&fx.trust)
                .unwrap_or_else(|e| panic!("{name}: {e}; {STALE}"));
            assert_eq!(v.body().kind.name(), kind, "{name}");
        }
    }
    for (name, bytes) in corpus("body_decode") {
        if name.starts_with("seed-") {
            let r = liaison_protocol::Body::decode(&bytes);
            assert!(r.is_ok(), "{name}: {r:?}; {STALE}");
        }
    }
    let frames = corpus("frame_decode");
    let decoder = FrameDecoder::default();
    for (name, bytes) in frames.iter().filter(|(n, _)| n.starts_with("seed-")) {
        let (frame, _) = decoder
            .decode(bytes)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("{name}: not a frame; {STALE}"));
        let env =
            Envelope::decode(frame.payload).unwrap_or_else(|e| panic!("{name}: {e}; {STALE}"));
        assert!(env.signed.verify(&fx.trust).is_ok(), "{name}: {STALE}");
    }
}

const STALE: &str = "fuzz seeds are stale: regenerate them (see protocol/tests/fuzz_corpus.rs)";

/// Writes the fixture PKI (only if missing or `LIAISON_FUZZ_NEW_KEYS=1`) and the seeds.
/// Signatures are deterministic (Ed25519), so rerunning with the same fixtures rewrites
/// identical seeds. Ignored on purpose: it is a generator, not a check — it writes into the
/// source tree, which a test run must never do; the tests above check the committed seeds and
/// fail with "seeds are stale" when the format changes. Run it with
/// `cargo test -p liaison-protocol --test fuzz_corpus -- --ignored regenerate_fuzz_seeds`.
#[test]
#[ignore = "writes fuzz/fixtures and fuzz/corpus; run explicitly to regenerate"]
fn regenerate_fuzz_seeds() {
    let fixtures = fuzz_dir().join("fixtures");
    let new_keys = std::env::var_os("LIAISON_FUZZ_NEW_KEYS").is_some()
        || !fixtures.join("node-key.pk8").exists();
    if new_keys {
        let pki = new_fixture_pki();
        std::fs::create_dir_all(&fixtures).expect("mkdir fixtures");
        for (file, der) in [
            ("network-ca.der", &pki.ca),
            ("network-crl.der", &pki.crl),
            ("node-cert.der", &pki.node_cert),
            ("node-key.pk8", &pki.node_key),
        ] {
            std::fs::write(fixtures.join(file), der).expect("write fixture");
        }
    }
    let read = |f: &str| std::fs::read(fixtures.join(f)).expect("read fixture");
    let key = SigningKey::from_pkcs8_der(&read("node-key.pk8")).expect("fixture key");
    let signer = Signer::new(key, read("node-cert.der")).expect("fixture signer");
    let signed: Vec<SignedMessage> = harness::sample_bodies()
        .iter_mut()
        .map(|b| signer.sign(b).expect("sample signs"))
        .collect();

    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).expect("mkdir corpus");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
    };
    let kind = |m: &SignedMessage| {
        liaison_protocol::Body::decode(&m.body)
            .map(|b| b.kind.name())
            .expect("sample decodes")
    };
    let relay: NodeId = "relay.fuzz-net".parse().expect("node id");
    let decoder = FrameDecoder::default();
    for (i, m) in signed.iter().enumerate() {
        let name = if i == signed.len() - 1 {
            "alert-1k"
        } else {
            kind(m)
        };
        write("body_decode", name, &m.body);
    }
    let envelope = |m: &SignedMessage, route: Vec<NodeId>| Envelope {
        signed: m.clone(),
        route,
    };
    for m in signed.iter().take(5) {
        let mut raw = vec![0u8];
        raw.extend(envelope(m, vec![]).encode());
        write("verify_message", &format!("envelope-{}", kind(m)), &raw);
    }
    // Structured mode: [1, message index, (op, pos_hi, pos_lo, value)*]; see harness::apply_edit.
    for (name, bytes) in [
        ("edit-none", vec![1, 0]),
        ("edit-body-xor", vec![1, 0, 0, 0, 40, 0x01]),
        (
            "edit-body-insert-resign",
            vec![1, 1, 1, 0, 30, 0xff, 7, 0, 0, 0],
        ),
        (
            "edit-body-truncate-resign",
            vec![1, 3, 3, 1, 0, 0, 7, 0, 0, 0],
        ),
        ("edit-cert-xor", vec![1, 5, 4, 0, 200, 0x80]),
        (
            "edit-cert-truncate-resign",
            vec![1, 6, 5, 0, 150, 0, 7, 0, 0, 0],
        ),
        ("edit-signature-xor", vec![1, 8, 6, 0, 5, 0x01]),
    ] {
        write("verify_message", name, &bytes);
    }
    let frame = |m: &SignedMessage, route: Vec<NodeId>| {
        envelope(m, route)
            .to_frame(&decoder)
            .expect("sample fits a frame")
    };
    write("frame_decode", "alert", &frame(&signed[0], vec![]));
    write(
        "frame_decode",
        "request-relayed",
        &frame(&signed[1], vec![relay.clone()]),
    );
    let mut two = frame(&signed[8], vec![relay]);
    two.extend(frame(&signed[10], vec![]));
    write("frame_decode", "receipt-then-refusal", &two);
    eprintln!(
        "wrote seeds{}; rebuild before replaying (fixtures are compiled in)",
        if new_keys { " and new fixtures" } else { "" }
    );
}

struct FixturePki {
    ca: Vec<u8>,
    crl: Vec<u8>,
    node_cert: Vec<u8>,
    node_key: Vec<u8>,
}

/// A network CA for `fuzz-net`, its CRL (revoking an unused serial) and the certificate of
/// `node.fuzz-net`, following the profiles of `liaison-certs` (`certs/src/ca.rs`). Valid 2020–2100
/// so that sample messages (created 2026) verify for the life of the project.
fn new_fixture_pki() -> FixturePki {
    use rcgen::{
        date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams,
        DistinguishedName, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer,
        KeyIdMethod, KeyPair, KeyUsagePurpose, NameConstraints, RevokedCertParams, SerialNumber,
        PKCS_ED25519,
    };
    let ca_key = KeyPair::generate_for(&PKCS_ED25519).expect("CA key");
    let mut ca = CertificateParams::default();
    ca.not_before = date_time_ymd(2020, 1, 1);
    ca.not_after = date_time_ymd(2100, 1, 1);
    // 16-byte positive serials, as liaison-certs issues them.
    ca.serial_number = Some(SerialNumber::from_slice(b"Liaison fuzz CA!"));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "fuzz-net");
    dn.push(DnType::OrganizationalUnitName, "network CA");
    dn.push(DnType::OrganizationName, "Liaison");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName("fuzz-net".into())],
        excluded_subtrees: vec![],
    });
    let ca_cert = ca.self_signed(&ca_key).expect("CA self-signs");
    let issuer = Issuer::new(ca, ca_key);

    let node_key = KeyPair::generate_for(&PKCS_ED25519).expect("node key");
    let mut node = CertificateParams::new(vec![harness::NODE.to_string()]).expect("node params");
    node.not_before = date_time_ymd(2020, 1, 1);
    node.not_after = date_time_ymd(2100, 1, 1);
    node.serial_number = Some(SerialNumber::from_slice(b"Liaison fuzz nod"));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, harness::NODE);
    dn.push(DnType::OrganizationName, "node");
    node.distinguished_name = dn;
    node.is_ca = IsCa::ExplicitNoCa;
    node.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    node.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    node.use_authority_key_identifier_extension = true;
    let node_cert = node.signed_by(&node_key, &issuer).expect("CA signs node");

    let crl = CertificateRevocationListParams {
        this_update: date_time_ymd(2025, 1, 1),
        next_update: date_time_ymd(2100, 1, 1),
        crl_number: SerialNumber::from(1),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(0x99),
            revocation_time: date_time_ymd(2025, 1, 1),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .expect("CA signs CRL");
    FixturePki {
        ca: ca_cert.der().to_vec(),
        crl: crl.der().to_vec(),
        node_cert: node_cert.der().to_vec(),
        node_key: node_key.serialize_der(),
    }
}
