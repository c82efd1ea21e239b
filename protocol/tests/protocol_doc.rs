//! `docs/PROTOCOL.md` against the code: the worked example's hex, the kind numbers and the
//! frame type numbers written there must be what the encoder, the signer and the codec
//! produce, so the document cannot drift from the wire format.
//!
//! The document marks what is checked:
//!
//! * a fenced block whose info string is `hex id=<name>` holds hex bytes; on each line,
//!   everything from `#` on is an annotation, and whitespace is ignored;
//! * the rows between `<!-- check:kinds -->` and `<!-- /check:kinds -->` start with
//!   `| <number> | `<Variant>` |`, and likewise `check:frame-types` with `| <number> | `<Type>` |`.

use std::collections::BTreeMap;

use liaison_protocol::codec::{Envelope, FrameDecoder, FrameType};
use liaison_protocol::ids::{hex, unhex};
use liaison_protocol::message::{
    Body, ConsentAnswer, ConsentRequest, Header, HopReport, Kind, Refusal, SealedContent, Share,
};
use liaison_protocol::routing::{Announcement, Reach};
use liaison_protocol::sample;
use liaison_protocol::seal::{Sealed, SealingKey, WrappedKey};
use liaison_protocol::signing::{message_signing_input, SignedMessage, Signer, SigningKey};
use liaison_protocol::{Handling, MessageId, NodeId, Recipient, Release, Timestamp, TrustStore};

const DOC: &str = include_str!("../../docs/PROTOCOL.md");

/// The example's originator: a node of network `central-asia`.
const ORIGINATOR: &str = "caricc.central-asia";
/// The example's only recipient.
const RECIPIENT: &str = "kz-dcu.central-asia";
/// The example's creation time: 2026-11-29T00:00:00.000Z.
const CREATED_AT: Timestamp = Timestamp(1_795_910_400_000);

/// Ed25519 seed `first, first+1, …, first+31`.
fn seed(first: u8) -> [u8; 32] {
    std::array::from_fn(|i| first + i as u8)
}

/// The PKCS#8 v1 (RFC 8410) document of an Ed25519 key with the given seed.
fn pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = unhex("302e020100300506032b657004220420").expect("prefix is hex");
    der.extend_from_slice(seed);
    der
}

/// The example PKI: (CA certificate DER, node certificate DER), following the profiles of
/// `certs/src/ca.rs`, with fixed keys, serials and validity so that the bytes never change.
fn pki() -> (Vec<u8>, Vec<u8>) {
    use rcgen::{
        date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
        ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        NameConstraints, SerialNumber,
    };
    let ca_key = KeyPair::try_from(pkcs8(&seed(0x20)).as_slice()).expect("CA key");
    let mut ca = CertificateParams::default();
    ca.not_before = date_time_ymd(2026, 1, 1);
    ca.not_after = date_time_ymd(2028, 1, 1);
    ca.serial_number = Some(SerialNumber::from_slice(&std::array::from_fn::<u8, 16, _>(
        |i| 0x01 + i as u8,
    )));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "central-asia");
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
        permitted_subtrees: vec![GeneralSubtree::DnsName("central-asia".into())],
        excluded_subtrees: vec![],
    });
    let ca_cert = ca.self_signed(&ca_key).expect("CA self-signs");
    let issuer = Issuer::new(ca, ca_key);

    let node_key = KeyPair::try_from(pkcs8(&seed(0x00)).as_slice()).expect("node key");
    let mut node = CertificateParams::new(vec![ORIGINATOR.to_string()]).expect("node params");
    node.not_before = date_time_ymd(2026, 1, 1);
    node.not_after = date_time_ymd(2028, 1, 1);
    node.serial_number = Some(SerialNumber::from_slice(&std::array::from_fn::<u8, 16, _>(
        |i| 0x11 + i as u8,
    )));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, ORIGINATOR);
    dn.push(DnType::OrganizationName, "caricc");
    node.distinguished_name = dn;
    node.is_ca = IsCa::ExplicitNoCa;
    node.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    node.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    node.use_authority_key_identifier_extension = true;
    let node_cert = node.signed_by(&node_key, &issuer).expect("CA signs node");
    (ca_cert.der().to_vec(), node_cert.der().to_vec())
}

fn node(s: &str) -> NodeId {
    s.parse().expect("example node ids are valid")
}

/// The worked example's body: `caricc.central-asia` refuses message `42…42` of its peer
/// `kz-dcu.central-asia`, as a node signs a refusal it sends back on a stream.
fn example_body() -> Body {
    let target = MessageId([0x42; 32]);
    Body {
        header: Header {
            originator: node(ORIGINATOR),
            created_at: CREATED_AT,
            nonce: std::array::from_fn(|i| 0x11 * i as u8),
            recipients: vec![Recipient::Node(node(RECIPIENT))],
            case: None,
            in_reply_to: Some(target),
            expires_at: None,
            hop_limit: 1,
        },
        handling: Handling {
            tlp: liaison_protocol::Tlp::Green,
            releasability: vec![Release::Node(node(RECIPIENT))],
            originator_control: false,
            h0_crime_only: false,
            h1_no_judicial_use: false,
            h3_restrictions: None,
            evaluation: "A1".parse().expect("A1 is an evaluation"),
        },
        kind: Kind::Refusal(Refusal {
            target,
            reason_code: "message-expired".into(),
            detail: "message expired".into(),
        }),
    }
}

/// Every ```` ```hex id=<name> ```` block of the document, as bytes.
fn hex_blocks(doc: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.trim().strip_prefix("```hex") else {
            continue;
        };
        let Some(name) = info.split_whitespace().find_map(|w| w.strip_prefix("id=")) else {
            continue;
        };
        let mut digits = String::new();
        for l in lines.by_ref() {
            if l.trim().starts_with("```") {
                break;
            }
            let data = l.split('#').next().unwrap_or("");
            digits.extend(data.chars().filter(|c| !c.is_whitespace()));
        }
        let bytes = unhex(&digits)
            .unwrap_or_else(|| panic!("block {name} of docs/PROTOCOL.md is not hex: {digits}"));
        assert!(
            !bytes.is_empty(),
            "block {name} of docs/PROTOCOL.md is empty"
        );
        assert!(
            out.insert(name.to_owned(), bytes).is_none(),
            "block {name} appears twice in docs/PROTOCOL.md"
        );
    }
    out
}

/// The rows `| <number> | `<name>` | …` between `<!-- check:<what> -->` and its end marker.
fn numbered_rows(doc: &str, what: &str) -> Vec<(u32, String)> {
    let begin = format!("<!-- check:{what} -->");
    let end = format!("<!-- /check:{what} -->");
    let start = doc
        .find(&begin)
        .unwrap_or_else(|| panic!("docs/PROTOCOL.md has no {begin}"));
    let len = doc[start..]
        .find(&end)
        .unwrap_or_else(|| panic!("docs/PROTOCOL.md has no {end}"));
    doc[start..start + len]
        .lines()
        .filter_map(|l| {
            let mut cells = l.split('|').map(str::trim).skip(1);
            let number = cells.next()?.parse().ok()?;
            let name = cells.next()?.trim_matches('`').to_owned();
            Some((number, name))
        })
        .collect()
}

/// A block of the document, or a failure naming it.
fn block<'a>(blocks: &'a BTreeMap<String, Vec<u8>>, name: &str) -> &'a [u8] {
    blocks
        .get(name)
        .unwrap_or_else(|| panic!("docs/PROTOCOL.md has no ```hex id={name} block"))
}

/// Compares a block of the document with what the code produces, showing both in hex.
fn same(blocks: &BTreeMap<String, Vec<u8>>, name: &str, produced: &[u8]) {
    assert_eq!(
        hex(block(blocks, name)),
        hex(produced),
        "block {name} of docs/PROTOCOL.md (left) differs from what the code produces (right)"
    );
}

#[test]
fn worked_example_in_protocol_md_matches_the_encoder() {
    let blocks = hex_blocks(DOC);
    let (ca_der, cert_der) = pki();

    // Keys and certificates.
    same(&blocks, "node-seed", &seed(0x00));
    same(&blocks, "ca-seed", &seed(0x20));
    let key = SigningKey::from_pkcs8_der(&pkcs8(&seed(0x00))).expect("node key loads");
    same(&blocks, "node-public-key", &key.public_key());
    same(&blocks, "ca-cert", &ca_der);
    same(&blocks, "node-cert", &cert_der);

    // Body, id, signing input, signature.
    let signer = Signer::new(key, cert_der.clone()).expect("key matches certificate");
    let mut body = example_body();
    let (signed, id) = signer.sign_with_id(&mut body).expect("example signs");
    same(&blocks, "body", &signed.body);
    same(&blocks, "message-id", id.as_bytes());
    let input = message_signing_input(&id);
    same(&blocks, "signing-input", &input);
    same(&blocks, "signature", &signed.signature);

    // The frame that carries it back to the peer (no relays: an empty route).
    let frame = Envelope {
        signed: signed.clone(),
        route: vec![],
    }
    .to_frame(&FrameDecoder::default())
    .expect("fits a frame");
    same(&blocks, "frame", &frame);

    // What the document shows is a valid message: it decodes, and verifies against the CA.
    let (f, used) = FrameDecoder::default()
        .decode(block(&blocks, "frame"))
        .expect("frame decodes")
        .expect("whole frame");
    assert_eq!(used, frame.len());
    assert_eq!(f.frame_type, FrameType::Envelope);
    let env = Envelope::decode(f.payload).expect("envelope decodes");
    let mut trust = TrustStore::new();
    trust.add_ca(block(&blocks, "ca-cert"), None).expect("CA");
    let verified = env.signed.verify(&trust).expect("example verifies");
    assert_eq!(verified.id(), id);
    assert_eq!(verified.body(), &example_body());
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ED25519,
        block(&blocks, "node-public-key"),
    );
    public
        .verify(block(&blocks, "signing-input"), block(&blocks, "signature"))
        .expect("the signature in the document verifies over the signing input");
}

/// The name of a kind's variant, as the kind table writes it. Exhaustive on purpose: a new
/// variant does not compile until it has a name here (and a row in the document).
fn variant(kind: &Kind) -> &'static str {
    match kind {
        Kind::Alert(_) => "Alert",
        Kind::Request { .. } => "Request",
        Kind::Reply(_) => "Reply",
        Kind::CaseOpen { .. } => "CaseOpen",
        Kind::CaseInvite { .. } => "CaseInvite",
        Kind::CaseJoin { .. } => "CaseJoin",
        Kind::CaseUpdate(_) => "CaseUpdate",
        Kind::CaseClose { .. } => "CaseClose",
        Kind::Receipt(_) => "Receipt",
        Kind::Retraction { .. } => "Retraction",
        Kind::Refusal(_) => "Refusal",
        Kind::HopReport(_) => "HopReport",
        Kind::Sealed(_) => "Sealed",
        Kind::SealingKey(_) => "SealingKey",
        Kind::Announce(_) => "Announce",
        Kind::ConsentRequest(_) => "ConsentRequest",
        Kind::ConsentAnswer(_) => "ConsentAnswer",
        Kind::Share(_) => "Share",
        Kind::CaseRemove { .. } => "CaseRemove",
        Kind::CaseStatus { .. } => "CaseStatus",
        Kind::CaseTask(_) => "CaseTask",
        Kind::Selectors(_) => "Selectors",
        Kind::Deconfliction(_) => "Deconfliction",
    }
}

#[test]
fn kind_numbers_in_protocol_md_match_the_encoding() {
    let shaped = SignedMessage {
        body: vec![1],
        signer_cert: vec![0x30],
        signature: vec![0; 64],
    };
    let sealed = SealedContent {
        kind: "alert".into(),
        content: Sealed {
            recipients: vec![WrappedKey {
                node: node(RECIPIENT),
                ephemeral: [9; 32],
                wrapped: vec![0; 48],
            }],
            nonce: [0; 12],
            ciphertext: vec![0; 16],
        },
    };
    let mut kinds: Vec<Kind> = sample::every_kind().into_iter().map(|b| b.kind).collect();
    kinds.extend([
        Kind::HopReport(HopReport {
            answers: vec![shaped.clone()],
        }),
        Kind::Sealed(sealed.clone()),
        Kind::SealingKey(SealingKey {
            key: [7; 32],
            not_after: CREATED_AT,
        }),
        Kind::Announce(Announcement {
            reach: vec![Reach {
                dest: Recipient::Node(node(RECIPIENT)),
                distance: 0,
            }],
            keys: vec![],
        }),
        Kind::ConsentRequest(ConsentRequest {
            target: MessageId([1; 32]),
            to: vec![node(RECIPIENT)],
            reason: String::new(),
        }),
        Kind::ConsentAnswer(ConsentAnswer {
            target: MessageId([1; 32]),
            to: vec![node(RECIPIENT)],
            granted: true,
            expires_at: None,
            resealed: Some(sealed),
            reason: String::new(),
        }),
        Kind::Share(Share {
            original: shaped.clone(),
            grants: vec![shaped],
        }),
    ]);
    let mut produced: BTreeMap<u32, String> = BTreeMap::new();
    for kind in &kinds {
        let bytes = postcard::to_stdvec(kind).expect("kinds encode");
        assert!(bytes[0] < 0x80, "kind numbers fit one varint byte");
        let previous = produced.insert(u32::from(bytes[0]), variant(kind).to_owned());
        assert!(previous.is_none(), "{} built twice", variant(kind));
    }
    let rows = numbered_rows(DOC, "kinds");
    let documented: BTreeMap<u32, String> = rows.iter().cloned().collect();
    assert_eq!(documented.len(), rows.len(), "a kind number appears twice");
    assert_eq!(
        documented, produced,
        "the kind table of docs/PROTOCOL.md (left) differs from the encoding (right)"
    );
}

#[test]
fn frame_types_in_protocol_md_match_the_codec() {
    let rows = numbered_rows(DOC, "frame-types");
    let all = [
        FrameType::Envelope,
        FrameType::WitnessRequest,
        FrameType::WitnessReply,
        FrameType::Crl,
    ];
    assert_eq!(rows.len(), all.len(), "one row per frame type");
    for (number, name) in rows {
        let byte = u8::try_from(number).expect("a frame type is one byte");
        let t = FrameType::from_byte(byte).expect("documented frame types are known");
        assert_eq!(format!("{t:?}"), name, "frame type {number}");
        assert_eq!(t.to_byte(), byte);
    }
    assert!(FrameType::from_byte(0).is_err() && FrameType::from_byte(5).is_err());
}

/// A helper for whoever edits the document: prints the worked example's values
/// (`cargo test -p liaison-protocol --test protocol_doc -- --ignored --nocapture`). Ignored
/// because it checks nothing itself: the tests above check every value the document prints
/// against the encoder, so a run of the suite loses nothing by skipping it.
#[test]
#[ignore = "prints the worked example; run by hand when the document is edited"]
fn print_worked_example() {
    let (ca_der, cert_der) = pki();
    let key = SigningKey::from_pkcs8_der(&pkcs8(&seed(0x00))).expect("node key loads");
    println!("node-public-key {}", hex(&key.public_key()));
    println!("ca-cert {}", hex(&ca_der));
    println!("node-cert {}", hex(&cert_der));
    let signer = Signer::new(key, cert_der).expect("key matches certificate");
    let mut body = example_body();
    let (signed, id) = signer.sign_with_id(&mut body).expect("example signs");
    println!("body {}", hex(&signed.body));
    println!("message-id {}", hex(id.as_bytes()));
    println!("signing-input {}", hex(&message_signing_input(&id)));
    println!("signature {}", hex(&signed.signature));
    let frame = Envelope {
        signed,
        route: vec![],
    }
    .to_frame(&FrameDecoder::default())
    .expect("fits a frame");
    println!("frame {}", hex(&frame));
}
