//! STIX 2.1 export: every kind, every entity, every TLP level, in several scripts.
//!
//! Structure is asserted here; conformance is checked by the OASIS tools through
//! `tests/stix_validate.py` (`stix2-validator` and `stix2`), which must be installed:
//! `pip install stix2 stix2-validator`. A missing validator fails the test, never skips it.
//! Set `LIAISON_KEEP_STIX=1` to keep the exported bundles for inspection.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

use liaison_protocol::entity::DocumentKind;
use liaison_protocol::message::Receipt;
use liaison_protocol::stix::{
    object_id, tlp_marking_id, to_stix_bundle, to_stix_json, CUSTOM_PROPERTIES, CUSTOM_TYPES,
    EXTENSION_ID, PUBLISHER_ID, TLP2_EXTENSION_ID,
};
use liaison_protocol::{
    Attachment, Body, CaseId, Entity, Handling, Header, Kind, MessageId, Name, PartialDate,
    Payload, ReceiptStatus, Refusal, Timestamp, Tlp, Urgency,
};

/// 2026-11-29T00:00:00.000Z.
const CREATED: Timestamp = Timestamp(1_795_910_400_000);
const CREATED_STR: &str = "2026-11-29T00:00:00.000Z";

const CYRILLIC: &str = "Алибек Серикович Нурланов";
const ARABIC: &str = "علي بك نورلانوف";
const CHINESE: &str = "深圳远洋贸易有限公司";
const TEXT: &str = "Партия героина ожидается в контейнере MSCU1234565. \
                    المشتبه به يسافر عبر مسقط. 嫌疑人使用两个护照。";

fn p<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().unwrap()
}

fn name(value: &str, language: Option<&str>) -> Name {
    Name {
        value: value.into(),
        language: language.map(p),
    }
}

/// One of each entity variant (and the mapping's edge cases), with the STIX type each must become.
fn every_entity() -> Vec<(Entity, &'static str)> {
    vec![
        (
            Entity::Person {
                names: vec![
                    name(CYRILLIC, Some("ru")),
                    name(ARABIC, Some("ar")),
                    name("Alibek Nurlanov", Some("en")),
                ],
                date_of_birth: Some(PartialDate {
                    year: 1984,
                    month: Some(3),
                    day: None,
                }),
                nationalities: vec![p("KZ"), p("RU")],
            },
            "identity",
        ),
        (
            Entity::Person {
                names: vec![name("王伟", None)],
                date_of_birth: None,
                nationalities: vec![],
            },
            "identity",
        ),
        (
            Entity::Organisation {
                names: vec![name(CHINESE, Some("zh-Hans"))],
                country: Some(p("CN")),
            },
            "identity",
        ),
        (
            Entity::Document {
                kind: DocumentKind::Passport,
                number: "N12345678".into(),
                issuer: Some(p("KZ")),
            },
            "x-liaison-document",
        ),
        (
            Entity::Document {
                kind: DocumentKind::Other("Удостоверение моряка".into()),
                number: "SB-0042".into(),
                issuer: None,
            },
            "x-liaison-document",
        ),
        (
            Entity::Phone {
                number: "+77011234567".into(),
            },
            "x-liaison-phone",
        ),
        (
            Entity::Email {
                address: "trader@example.org".into(),
            },
            "email-addr",
        ),
        (
            Entity::Vehicle {
                plate: Some("777 ABC 02".into()),
                vin: Some("WDB9634031L123456".into()),
                country: Some(p("KZ")),
                description: Some("MAN TGX, белый".into()),
            },
            "x-liaison-vehicle",
        ),
        (
            Entity::Vessel {
                name: Some("النور".into()),
                imo: Some("9074729".into()),
                mmsi: Some("461000123".into()),
                flag: Some(p("OM")),
            },
            "x-liaison-vessel",
        ),
        (
            Entity::Container {
                number: "MSCU1234565".into(),
            },
            "x-liaison-container",
        ),
        (
            Entity::Flight {
                number: "KC 901".into(),
                date: Some(PartialDate {
                    year: 2026,
                    month: Some(12),
                    day: Some(3),
                }),
                from: Some("ALA".into()),
                to: Some("MCT".into()),
            },
            "x-liaison-flight",
        ),
        (
            Entity::CryptoWallet {
                currency: "USDT-TRC20".into(),
                address: "TQ5NsFvQb3tX9bX8m1b3XkQh4nV7Qj1uYe".into(),
            },
            "x-liaison-crypto-wallet",
        ),
        (
            Entity::Location {
                name: Some("ميناء صحار".into()),
                latitude_micro: Some(24_506_000),
                longitude_micro: Some(56_630_000),
                country: Some(p("OM")),
            },
            "location",
        ),
        (
            Entity::Location {
                name: Some("Алматы, рынок «Барахолка»".into()),
                latitude_micro: None,
                longitude_micro: None,
                country: None,
            },
            "x-liaison-location",
        ),
        (
            Entity::Location {
                name: None,
                latitude_micro: Some(-33_856_000),
                longitude_micro: None,
                country: Some(p("AU")),
            },
            "location",
        ),
        (
            Entity::Event {
                description: "Controlled delivery window / контролируемая поставка".into(),
                at: Some(CREATED.plus_millis(4 * 86_400_000)),
            },
            "x-liaison-event",
        ),
        (
            Entity::Event {
                description: "Meeting in Sohar, date unknown".into(),
                at: None,
            },
            "x-liaison-event",
        ),
    ]
}

fn attachments() -> Vec<Attachment> {
    vec![
        Attachment {
            name: "манифест.txt".into(),
            media_type: "text/plain".into(),
            content: "контейнер MSCU1234565, 18 т, заявлено: текстиль"
                .as_bytes()
                .to_vec(),
        },
        Attachment {
            name: "photo.jpg".into(),
            media_type: "image/jpeg".into(),
            content: vec![
                0xff, 0xd8, 0xff, 0xe0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 0xff, 0xd9,
            ],
        },
    ]
}

fn rich_payload() -> Payload {
    Payload {
        language: p("ru"),
        text: TEXT.into(),
        entities: every_entity().into_iter().map(|(e, _)| e).collect(),
        attachments: attachments(),
    }
}

fn handling(tlp: Tlp) -> Handling {
    Handling {
        tlp,
        releasability: vec![p("network:central-asia"), p("network:gulf")],
        originator_control: true,
        h0_crime_only: true,
        h1_no_judicial_use: true,
        h3_restrictions: Some("Не передавать третьим странам".into()),
        evaluation: p("B2"),
    }
}

fn header() -> Header {
    Header {
        originator: p("kz-dcu.central-asia"),
        created_at: CREATED,
        nonce: [7; 16],
        recipients: vec![p("om-dcu.gulf"), p("caricc.central-asia")],
        case: None,
        in_reply_to: None,
        expires_at: Some(CREATED.plus_millis(30 * 86_400_000)),
        hop_limit: 8,
    }
}

/// Normalises, validates and encodes a body; returns it with its message id.
fn finish(mut body: Body) -> (Body, MessageId) {
    body.normalise();
    body.validate().expect("test body is valid");
    let bytes = body.encode().expect("test body encodes");
    let id = MessageId::of_body(&bytes);
    (body, id)
}

const EARLIER: MessageId = MessageId([0x42; 32]);

/// One body of every kind, TLP levels in rotation, each valid.
fn every_kind() -> Vec<(Body, MessageId)> {
    let case: CaseId = p("CARICC-2026-0042");
    let kinds = vec![
        Kind::Alert(rich_payload()),
        Kind::Request {
            payload: rich_payload(),
            urgency: Urgency::Urgent,
            reply_by: CREATED.plus_millis(Urgency::Urgent.deadline_millis()),
        },
        Kind::Reply(rich_payload()),
        Kind::CaseOpen {
            title: "Операция «Караван» / عملية القافلة / 商队行动".into(),
            payload: rich_payload(),
            lead: p("caricc.central-asia"),
        },
        Kind::CaseInvite {
            invitee: p("om-dcu.gulf"),
            note: Payload::text(p("en"), "Please join the controlled delivery."),
            title: "Caravan".into(),
            summary: Payload::text(p("en"), "Controlled delivery."),
            lead: p("caricc.central-asia"),
            members: vec![p("caricc.central-asia")],
            pending: vec![],
        },
        Kind::CaseJoin { accept: true },
        Kind::CaseUpdate(rich_payload()),
        Kind::CaseClose {
            reason: "Arrests made in Almaty and Sohar".into(),
        },
        Kind::Receipt(Receipt {
            status: ReceiptStatus::Delivered,
            ids: vec![MessageId([2; 32]), MessageId([1; 32])],
        }),
        Kind::Retraction {
            reason: "Wrong container number".into(),
        },
        Kind::Refusal(Refusal {
            target: EARLIER,
            reason_code: "releasability-violation".into(),
            detail: "om-dcu.gulf is not covered by the message's releasability".into(),
        }),
    ];
    let tlps = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| {
            let mut h = header();
            match &kind {
                Kind::Reply(_) | Kind::Retraction { .. } => h.in_reply_to = Some(EARLIER),
                Kind::CaseOpen { .. }
                | Kind::CaseInvite { .. }
                | Kind::CaseJoin { .. }
                | Kind::CaseUpdate(_)
                | Kind::CaseClose { .. } => h.case = Some(case.clone()),
                _ => {}
            }
            finish(Body {
                header: h,
                handling: handling(tlps[i % tlps.len()]),
                kind,
            })
        })
        .collect()
}

fn alert(tlp: Tlp) -> (Body, MessageId) {
    finish(Body {
        header: header(),
        handling: handling(tlp),
        kind: Kind::Alert(rich_payload()),
    })
}

fn objects(bundle: &Value) -> &Vec<Value> {
    bundle["objects"].as_array().expect("objects is an array")
}

fn by_id(bundle: &Value) -> BTreeMap<String, &Value> {
    objects(bundle)
        .iter()
        .map(|o| (o["id"].as_str().unwrap().to_owned(), o))
        .collect()
}

fn report<'a>(bundle: &'a Value, id: &MessageId) -> &'a Value {
    by_id(bundle)[&object_id("report", id, "report")]
}

/// The objects that belong to the message (not the TLP marking or Liaison's constants).
fn message_objects(bundle: &Value) -> Vec<&Value> {
    objects(bundle)
        .iter()
        .filter(|o| {
            let id = o["id"].as_str().unwrap();
            o["type"] != "marking-definition" && id != EXTENSION_ID && id != PUBLISHER_ID
        })
        .collect()
}

#[test]
fn export_is_deterministic_and_ids_derive_from_the_message_id() {
    for (body, id) in every_kind() {
        let a = to_stix_json(&body, &id);
        let b = to_stix_json(&body.clone(), &id);
        assert_eq!(a, b, "{} export not byte-identical", body.kind.name());
        let bundle = to_stix_bundle(&body, &id);
        assert_eq!(bundle["id"], object_id("bundle", &id, "bundle"));
        let r = report(&bundle, &id);
        assert_eq!(r["type"], "report");
        assert_eq!(r["created"], CREATED_STR);
        assert_eq!(r["modified"], CREATED_STR);
        assert_eq!(r["published"], CREATED_STR);
        assert_eq!(r["x_liaison_message_id"], id.to_string());
        assert_eq!(r["x_liaison_kind"], body.kind.name());
        for o in message_objects(&bundle) {
            let sid = o["id"].as_str().unwrap();
            let (ty, uuid) = sid.split_once("--").unwrap();
            assert_eq!(o["type"], ty);
            // UUIDv5: version nibble 5, RFC 4122 variant.
            assert_eq!(&uuid[14..15], "5", "{sid} is not UUIDv5");
            assert!(
                "89ab".contains(&uuid[19..20]),
                "{sid} has a non-RFC 4122 variant"
            );
            if o.get("created").is_some() {
                assert_eq!(o["created"], CREATED_STR, "{sid}");
            }
        }
    }
    // Known answers, computed independently (Python: uuid.uuid5(NAMESPACE, f"{hex}/report")),
    // so consumers can rely on the derivation.
    let (body, _) = alert(Tlp::Amber);
    let bundle = to_stix_bundle(&body, &EARLIER);
    let ids = by_id(&bundle);
    for sid in [
        "bundle--8cedd194-c519-5734-9392-a92fc4ced03a",
        "report--f9d4b79a-4c5c-529f-be9b-22df2c5884f9",
        "identity--8b5a5162-7c09-551e-8332-367208357179",
        "identity--a8623103-13e9-5512-8964-9f5940305294",
        "artifact--23fbe04d-e951-5d81-b082-561917ee5aa7",
    ] {
        assert!(
            sid == bundle["id"] || ids.contains_key(sid),
            "{sid} missing"
        );
    }

    // A different message gives different ids for every object.
    let (body, id) = alert(Tlp::Amber);
    let other = MessageId([9; 32]);
    let a: BTreeSet<String> = by_id(&to_stix_bundle(&body, &id)).into_keys().collect();
    let b: BTreeSet<String> = by_id(&to_stix_bundle(&body, &other)).into_keys().collect();
    let shared: Vec<_> = a.intersection(&b).collect();
    for s in &shared {
        assert!(
            s.starts_with("marking-definition--") || *s == EXTENSION_ID || *s == PUBLISHER_ID,
            "{s} is shared between two messages"
        );
    }
}

#[test]
fn every_entity_becomes_its_stix_object() {
    let (body, id) = alert(Tlp::Amber);
    let bundle = to_stix_bundle(&body, &id);
    let objs = by_id(&bundle);
    let originator = object_id("identity", &id, "originator");

    for (i, (entity, ty)) in every_entity().iter().enumerate() {
        let sid = object_id(ty, &id, &format!("entity/{i}"));
        let o = objs
            .get(&sid)
            .unwrap_or_else(|| panic!("entity {i} ({}) missing as {ty}", entity.type_name()));
        assert_eq!(o["type"], *ty);
        if o["type"] != "email-addr" {
            assert_eq!(o["created_by_ref"], originator, "{sid}");
        }
        if ty.starts_with("x-") {
            assert_eq!(o["extensions"][EXTENSION_ID]["extension_type"], "new-sdo");
        }
    }
    for (i, a) in attachments().iter().enumerate() {
        let sid = object_id("artifact", &id, &format!("attachment/{i}"));
        let o = objs[&sid];
        assert_eq!(o["mime_type"], a.media_type.as_str());
        assert_eq!(o["x_liaison_file_name"], a.name.as_str());
        let bin = base64::engine::general_purpose::STANDARD
            .decode(o["payload_bin"].as_str().unwrap())
            .unwrap();
        assert_eq!(bin, a.content);
        assert_eq!(o["hashes"]["SHA-256"].as_str().unwrap().len(), 64);
    }

    let e = |i: usize, ty: &str| objs[&object_id(ty, &id, &format!("entity/{i}"))];
    let person = e(0, "identity");
    assert_eq!(person["identity_class"], "individual");
    assert_eq!(person["name"], CYRILLIC);
    assert_eq!(person["lang"], "ru");
    assert_eq!(person["x_liaison_names"][1]["value"], ARABIC);
    assert_eq!(person["x_liaison_names"][1]["language"], "ar");
    assert_eq!(person["x_liaison_date_of_birth"], "1984-03");
    assert_eq!(
        person["x_liaison_nationalities"],
        serde_json::json!(["KZ", "RU"])
    );
    assert!(e(1, "identity").get("lang").is_none());
    let org = e(2, "identity");
    assert_eq!(org["identity_class"], "organization");
    assert_eq!(org["name"], CHINESE);
    assert_eq!(org["x_liaison_country"], "CN");
    assert_eq!(org["lang"], "zh", "lang is the primary subtag");
    assert_eq!(org["x_liaison_names"][0]["language"], "zh-Hans");
    assert_eq!(e(4, "x-liaison-document")["document_kind"], "other");
    assert_eq!(
        e(4, "x-liaison-document")["document_kind_name"],
        "Удостоверение моряка"
    );
    assert_eq!(e(6, "email-addr")["value"], "trader@example.org");
    let loc = e(12, "location");
    assert_eq!(loc["latitude"].as_f64(), Some(24.506));
    assert_eq!(loc["longitude"].as_f64(), Some(56.63));
    assert_eq!(loc["country"], "OM");
    assert_eq!(loc["name"], "ميناء صحار");
    let lone = e(14, "location");
    assert!(lone.get("latitude").is_none());
    assert_eq!(lone["x_liaison_latitude"].as_f64(), Some(-33.856));
    assert_eq!(e(15, "x-liaison-event")["time"], "2026-12-03T00:00:00.000Z");

    // The report lists every message object, and every custom name is declared.
    let r = report(&bundle, &id);
    let refs: BTreeSet<&str> = r["object_refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = message_objects(&bundle)
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .filter(|s| !s.starts_with("report--"))
        .collect();
    assert_eq!(refs, expected);
    assert_eq!(refs.len(), 1 + every_entity().len() + attachments().len());
    assert_eq!(r["created_by_ref"], originator);
    assert_eq!(r["lang"], "ru");
    assert_eq!(r["x_liaison_language"], "ru");
    assert_eq!(r["description"], TEXT);
    assert_eq!(
        r["x_liaison_handling_codes"],
        serde_json::json!(["H0", "H1", "H2", "H3"])
    );
    assert_eq!(r["x_liaison_originator_control"], true);
    assert_eq!(r["x_liaison_evaluation"], "B2");
    assert_eq!(
        r["x_liaison_releasability"],
        serde_json::json!(["network:central-asia", "network:gulf"])
    );
    assert_eq!(
        r["x_liaison_recipients"],
        serde_json::json!(["caricc.central-asia", "om-dcu.gulf"])
    );
    for o in objects(&bundle) {
        for key in o.as_object().unwrap().keys() {
            if key.starts_with("x_") {
                assert!(
                    CUSTOM_PROPERTIES.contains(&key.as_str()),
                    "{key} undeclared"
                );
                assert!(
                    o["extensions"][EXTENSION_ID].is_object(),
                    "{key} without extension"
                );
            }
        }
        let ty = o["type"].as_str().unwrap();
        if ty.starts_with("x-") {
            assert!(CUSTOM_TYPES.contains(&ty), "{ty} undeclared");
        }
    }
}

#[test]
fn tlp_marking_is_the_official_tlp2_definition_on_every_object() {
    let official = [
        (Tlp::Clear, "94868c89-83c2-464b-929b-a1a8aa3c8487", "clear"),
        (Tlp::Green, "bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "green"),
        (Tlp::Amber, "55d920b0-5e8b-4f79-9ee9-91f868d9b421", "amber"),
        (
            Tlp::AmberStrict,
            "939a9414-2ddd-4d32-a0cd-375ea402b003",
            "amber+strict",
        ),
        (Tlp::Red, "e828b379-4e03-4974-9ac4-e53a884c97c1", "red"),
    ];
    for (tlp, uuid, level) in official {
        let marking = format!("marking-definition--{uuid}");
        assert_eq!(tlp_marking_id(tlp), marking);
        let (body, id) = alert(tlp);
        let bundle = to_stix_bundle(&body, &id);
        let markings: Vec<&Value> = objects(&bundle)
            .iter()
            .filter(|o| o["type"] == "marking-definition")
            .collect();
        assert_eq!(markings.len(), 1, "{tlp:?}");
        let m = markings[0];
        assert_eq!(m["id"], marking);
        assert_eq!(m["name"], tlp.label());
        assert_eq!(m["created"], "2022-10-01T00:00:00.000Z");
        assert_eq!(m["extensions"][TLP2_EXTENSION_ID]["tlp_2_0"], level);
        for o in message_objects(&bundle) {
            assert_eq!(
                o["object_marking_refs"],
                serde_json::json!([marking]),
                "{} under {tlp:?}",
                o["id"]
            );
        }
        assert_eq!(report(&bundle, &id)["x_liaison_tlp"], tlp.label());
    }
}

#[test]
fn unicode_passes_through_unescaped() {
    let (body, id) = alert(Tlp::Red);
    let json = to_stix_json(&body, &id);
    for s in [
        CYRILLIC,
        ARABIC,
        CHINESE,
        "王伟",
        "ميناء صحار",
        "манифест.txt",
        TEXT,
    ] {
        assert!(json.contains(s), "{s} not found verbatim in the JSON");
    }
    assert!(!json.contains("\\u"), "non-ASCII escaped to \\u sequences");
    let back: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back, to_stix_bundle(&body, &id));
}

#[test]
fn payloadless_kinds_export_their_facts() {
    let all = every_kind();
    let find = |k: &str| all.iter().find(|(b, _)| b.kind.name() == k).unwrap();
    let facts = |k: &str| {
        let (body, id) = find(k);
        let bundle = to_stix_bundle(body, id);
        // Only the marking, the two constants, the originator and the report.
        assert_eq!(objects(&bundle).len(), 5, "{k}");
        report(&bundle, id).clone()
    };
    let r = facts("receipt");
    assert_eq!(r["x_liaison_receipt_status"], "delivered");
    assert_eq!(
        r["x_liaison_receipt_ids"],
        serde_json::json!([
            MessageId([1; 32]).to_string(),
            MessageId([2; 32]).to_string()
        ])
    );
    let r = facts("refusal");
    assert_eq!(r["x_liaison_refused_message"], EARLIER.to_string());
    assert_eq!(r["x_liaison_reason_code"], "releasability-violation");
    let r = facts("case-join");
    assert_eq!(r["x_liaison_accept"], true);
    assert_eq!(r["x_liaison_case_id"], "CARICC-2026-0042");
    let r = facts("retraction");
    assert_eq!(r["x_liaison_in_reply_to"], EARLIER.to_string());
    assert_eq!(r["x_liaison_reason"], "Wrong container number");
    let r = facts("case-close");
    assert_eq!(r["x_liaison_reason"], "Arrests made in Almaty and Sohar");

    let (body, id) = find("request");
    let r = report(&to_stix_bundle(body, id), id).clone();
    assert_eq!(r["x_liaison_urgency"], "urgent");
    assert_eq!(r["x_liaison_reply_by"], "2026-11-29T08:00:00.000Z");
    let (body, id) = find("case-open");
    let r = report(&to_stix_bundle(body, id), id).clone();
    assert!(r["name"].as_str().unwrap().contains("عملية القافلة"));
    assert_eq!(r["x_liaison_case_lead"], "caricc.central-asia");
}

/// A fresh directory under the system temp dir (no clock: pid + test name).
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("liaison-stix-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

const INSTALL_HINT: &str = "the STIX validators are required: pip install stix2 stix2-validator";

/// Runs `tests/stix_validate.py` on `files`; returns its exit code, stdout and stderr.
/// Fails the test (never skips it) when python3 or the validators are missing.
fn validate(files: &[PathBuf]) -> (i32, String, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stix_validate.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {INSTALL_HINT}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("{stdout}");
    eprintln!("{stderr}");
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("stix_validate.py killed: {}", out.status));
    if code == 2 {
        panic!("stix_validate.py could not run: {stderr}\n{INSTALL_HINT}");
    }
    (code, stdout, stderr)
}

#[test]
// The protocol crate does no I/O; this test must, to hand bundles to the external validator.
#[allow(clippy::disallowed_methods)]
fn bundles_pass_the_oasis_validators() {
    let dir = temp_dir("validate");
    let mut files = Vec::new();
    let mut write = |label: String, body: &Body, id: &MessageId| {
        let path = dir.join(format!("{label}.json"));
        std::fs::write(&path, to_stix_json(body, id)).expect("write bundle");
        files.push(path);
    };
    for (i, (body, id)) in every_kind().iter().enumerate() {
        write(format!("{i:02}-{}", body.kind.name()), body, id);
    }
    for tlp in [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ] {
        let (body, id) = alert(tlp);
        let label = tlp.label().replace([':', '+'], "-").to_lowercase();
        write(format!("alert-{label}"), &body, &id);
    }
    for (i, body) in liaison_protocol::sample::every_kind()
        .into_iter()
        .enumerate()
    {
        let (body, id) = finish(body);
        write(format!("sample-{i:02}-{}", body.kind.name()), &body, &id);
    }

    let (code, stdout, stderr) = validate(&files);
    assert!(
        code == 0,
        "STIX validation failed (exit {code}); bundles kept in {}\n{stdout}\n{stderr}",
        dir.display()
    );
    assert!(stdout.contains(&format!("{} valid, 0 invalid", files.len())));
    if std::env::var_os("LIAISON_KEEP_STIX").is_some() {
        println!("bundles kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
#[allow(clippy::disallowed_methods)]
fn validator_rejects_broken_bundles() {
    // Guards the guard: the script must fail on a schema error and on a dangling reference.
    let dir = temp_dir("reject");
    let (body, id) = alert(Tlp::Green);
    let good = to_stix_bundle(&body, &id);
    let report_id = object_id("report", &id, "report");
    let mut files = Vec::new();
    for label in ["no-report-name", "dangling-ref"] {
        let mut bad = good.clone();
        let report = bad["objects"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|o| o["id"] == report_id)
            .unwrap();
        match label {
            "no-report-name" => {
                report.as_object_mut().unwrap().remove("name");
            }
            _ => report["created_by_ref"] = "identity--00000000-0000-4000-8000-000000000000".into(),
        }
        let path = dir.join(format!("{label}.json"));
        std::fs::write(&path, format!("{bad:#}")).expect("write bundle");
        files.push(path);
    }
    let (code, stdout, _) = validate(&files);
    assert_eq!(code, 1, "broken bundles were accepted");
    assert!(stdout.contains("0 valid, 2 invalid"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
