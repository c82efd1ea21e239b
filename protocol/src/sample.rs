//! Example messages: one body of every kind and a payload with every entity type, in
//! several scripts. Used by tests, benchmarks, fuzz seeds and `liaison demo`; they are
//! realistic in shape but entirely fictitious.

use crate::entity::{Attachment, DocumentKind, Entity, Name, PartialDate, Payload};
use crate::handling::{Evaluation, Handling, Recipient, Release, Tlp};
use crate::ids::{CaseId, MessageId, NodeId, Timestamp};
use crate::message::{Body, Header, Kind, Receipt, ReceiptStatus, Refusal, Urgency};

/// 2026-11-29T00:00:00Z, the fixed creation time of sample messages.
pub const SAMPLE_TIME: Timestamp = Timestamp(1_795_910_400_000);

fn node(s: &str) -> NodeId {
    s.parse()
        .unwrap_or_else(|_| unreachable!("sample node ids are valid"))
}

fn parse<T: std::str::FromStr>(s: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| unreachable!("sample values are valid"))
}

/// A payload carrying every entity type, with Arabic, Cyrillic and Chinese text.
pub fn rich_payload() -> Payload {
    let name = |v: &str, l: &str| Name {
        value: v.into(),
        language: Some(parse(l)),
    };
    Payload {
        language: parse("ru"),
        text: "Партия героина ожидается в контейнере; сообщение от источника B2. \
               المشتبه به يسافر عبر مسقط. 嫌疑人使用两个护照。"
            .into(),
        entities: vec![
            Entity::Person {
                names: vec![
                    name("Алибек Серикович Нурланов", "ru"),
                    name("Alibek Nurlanov", "en"),
                    name("علي بك نورلانوف", "ar"),
                ],
                date_of_birth: Some(PartialDate {
                    year: 1984,
                    month: Some(3),
                    day: None,
                }),
                nationalities: vec![parse("KZ")],
            },
            Entity::Organisation {
                names: vec![name("深圳远洋贸易有限公司", "zh-Hans")],
                country: Some(parse("CN")),
            },
            Entity::Document {
                kind: DocumentKind::Passport,
                number: "N12345678".into(),
                issuer: Some(parse("KZ")),
            },
            Entity::Phone {
                number: "+77011234567".into(),
            },
            Entity::Email {
                address: "trader@example.org".into(),
            },
            Entity::Vehicle {
                plate: Some("777 ABC 02".into()),
                vin: Some("WDB9634031L123456".into()),
                country: Some(parse("KZ")),
                description: Some("MAN TGX, white".into()),
            },
            Entity::Vessel {
                name: Some("AL NOOR".into()),
                imo: Some("9074729".into()),
                mmsi: Some("461000123".into()),
                flag: Some(parse("OM")),
            },
            Entity::Container {
                number: "MSCU1234565".into(),
            },
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
            Entity::CryptoWallet {
                currency: "USDT-TRC20".into(),
                address: "TQ5NsFvQb3tX9bX8m1b3XkQh4nV7Qj1uYe".into(),
            },
            Entity::Location {
                name: Some("ميناء صحار".into()),
                latitude_micro: Some(24_506_000),
                longitude_micro: Some(56_630_000),
                country: Some(parse("OM")),
            },
            Entity::Event {
                description: "Controlled delivery window".into(),
                at: Some(SAMPLE_TIME.plus_millis(4 * 86_400_000)),
            },
        ],
        attachments: vec![Attachment {
            name: "manifest.txt".into(),
            media_type: "text/plain".into(),
            content: b"container MSCU1234565, 18 t, declared: textiles".to_vec(),
        }],
    }
}

/// A handling block: the given TLP, released to the given entries, evaluation B2.
pub fn handling(tlp: Tlp, release: &[&str]) -> Handling {
    Handling {
        tlp,
        releasability: release.iter().map(|r| parse::<Release>(r)).collect(),
        originator_control: false,
        h0_crime_only: true,
        h1_no_judicial_use: false,
        h3_restrictions: None,
        evaluation: parse::<Evaluation>("B2"),
    }
}

/// A header from `from` to the given recipients, at [`SAMPLE_TIME`], hop limit 8.
pub fn header(from: &str, to: &[&str]) -> Header {
    Header {
        originator: node(from),
        created_at: SAMPLE_TIME,
        nonce: [7; 16],
        recipients: to.iter().map(|r| parse::<Recipient>(r)).collect(),
        case: None,
        in_reply_to: None,
        expires_at: None,
        hop_limit: 8,
    }
}

/// An AMBER alert from `kz-dcu.central-asia` to `om-dcu.gulf` carrying [`rich_payload`].
pub fn alert() -> Body {
    let mut b = Body {
        header: header("kz-dcu.central-asia", &["om-dcu.gulf"]),
        handling: handling(Tlp::Amber, &["network:central-asia", "network:gulf"]),
        kind: Kind::Alert(rich_payload()),
    };
    b.normalise();
    b
}

/// An alert whose text is padded to about `size` bytes (for benchmarks).
pub fn alert_of_size(size: usize) -> Body {
    let mut b = alert();
    if let Kind::Alert(p) = &mut b.kind {
        p.entities.truncate(1);
        p.attachments.clear();
        p.text = "x".repeat(size.saturating_sub(200));
    }
    b
}

/// One body of every kind, all valid.
pub fn every_kind() -> Vec<Body> {
    let case: CaseId = parse("CARICC-2026-0042");
    let other = MessageId([0x42; 32]);
    let p = rich_payload;
    let mut kinds = vec![
        Kind::Alert(p()),
        Kind::Request {
            payload: p(),
            urgency: Urgency::Urgent,
            reply_by: SAMPLE_TIME.plus_millis(Urgency::Urgent.deadline_millis()),
        },
        Kind::Reply(p()),
        Kind::CaseOpen {
            title: "Операция «Караван» / عملية القافلة".into(),
            payload: p(),
            lead: node("caricc.central-asia"),
        },
        Kind::CaseInvite {
            invitee: node("om-dcu.gulf"),
            note: Payload::text(parse("en"), "Please join the controlled delivery."),
            title: "Операция «Караван» / عملية القافلة".into(),
            summary: Payload::text(parse("en"), "Controlled delivery Almaty to Sohar."),
            lead: node("caricc.central-asia"),
            members: vec![node("caricc.central-asia"), node("kz-dcu.central-asia")],
            pending: vec![],
        },
        Kind::CaseJoin { accept: true },
        Kind::CaseUpdate(p()),
        Kind::CaseClose {
            reason: "Arrests made in Almaty and Sohar".into(),
        },
        Kind::CaseRemove {
            participant: node("om-dcu.gulf"),
            reason: "Left the operation".into(),
        },
        Kind::CaseStatus {
            suspended: true,
            reason: "Waiting for the vessel".into(),
        },
        Kind::CaseTask(crate::case::TaskChange {
            task: None,
            title: "Watch the port of Sohar".into(),
            assignee: node("om-dcu.gulf"),
            due: Some(SAMPLE_TIME.plus_millis(86_400_000)),
            status: crate::case::TaskStatus::Open,
            note: String::new(),
        }),
        Kind::Selectors(crate::selector::Selectors {
            hashes: vec![crate::selector::SelectorHash {
                kind: crate::selector::SelectorKind::Phone,
                hash: [0x5e; 32],
            }],
        }),
        Kind::Deconfliction(crate::selector::Overlap {
            kind: crate::selector::SelectorKind::Phone,
            yours: other,
            your_case: Some(case.clone()),
            other: node("om-dcu.gulf"),
            other_since: SAMPLE_TIME,
        }),
        Kind::Receipt(Receipt {
            status: ReceiptStatus::Delivered,
            ids: vec![MessageId([1; 32]), MessageId([2; 32])],
        }),
        Kind::Retraction {
            reason: "Wrong container number".into(),
        },
        Kind::Refusal(Refusal {
            target: other,
            reason_code: "releasability-violation".into(),
            detail: "om-dcu.gulf is not covered by the message's releasability".into(),
        }),
    ];
    kinds
        .drain(..)
        .map(|kind| {
            let mut header = header(
                "kz-dcu.central-asia",
                &["om-dcu.gulf", "caricc.central-asia"],
            );
            match &kind {
                Kind::Reply(_) | Kind::Retraction { .. } | Kind::Selectors(_) => {
                    header.in_reply_to = Some(other)
                }
                Kind::CaseOpen { .. }
                | Kind::CaseInvite { .. }
                | Kind::CaseJoin { .. }
                | Kind::CaseUpdate(_)
                | Kind::CaseClose { .. }
                | Kind::CaseRemove { .. }
                | Kind::CaseStatus { .. }
                | Kind::CaseTask(_) => header.case = Some(case.clone()),
                _ => {}
            }
            let mut b = Body {
                header,
                handling: handling(Tlp::Amber, &["network:central-asia", "network:gulf"]),
                kind,
            };
            b.normalise();
            b
        })
        .collect()
}
