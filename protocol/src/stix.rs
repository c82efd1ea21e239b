//! Export of one message as a STIX 2.1 bundle, for MISP, OpenCTI and other CTI platforms.
//!
//! STIX is the vocabulary inside our envelope, not the envelope: the export is a one-way view
//! of a body an officer already holds, and nothing here is signed or sent. The export is pure
//! and deterministic: the same body and message id give byte-identical JSON, because every
//! STIX id is a UUIDv5 in Liaison's namespace ([`NAMESPACE`]) named
//! `"<message id hex>/<discriminator>"`, every timestamp is the header's `created_at`, and
//! object and key order are fixed.
//!
//! # What a bundle holds, in order
//!
//! 1. the official TLP 2.0 `marking-definition` for the message's TLP
//!    (ids from OASIS `cti-stix-common-objects`, extension [`TLP2_EXTENSION_ID`]);
//! 2. Liaison's `extension-definition` ([`EXTENSION_ID`]), declaring the `x-liaison-*`
//!    object types (`new-sdo`) and the `x_liaison_*` properties
//!    (`toplevel-property-extension`), and the `identity` that publishes it
//!    ([`PUBLISHER_ID`]); both are constants, the same in every bundle;
//! 3. an `identity` (`organization`) for the originating node, the `created_by_ref` of every
//!    object below;
//! 4. a `report` for the message itself;
//! 5. one object per entity, then one `artifact` per attachment.
//!
//! Every object from 3 on carries the TLP marking in `object_marking_refs`; the report's
//! `object_refs` lists every object from 3 on.
//!
//! # The report
//!
//! `name` is `"<kind> from <originator>"` (plus the case title for `case-open` and the case
//! id when there is one), `description` the payload text (or a one-line statement of the
//! facts for kinds without payload), `lang` the payload language's primary subtag (the full
//! tag is in `x_liaison_language`; see *Language tags*), `published` the creation
//! time, `report_types` `["threat-report"]`, and an external reference `liaison` carrying the
//! message id. The rest of the header and handling block travel as custom properties:
//!
//! | property | content |
//! |---|---|
//! | `x_liaison_message_id`, `x_liaison_kind` | message id (hex), kind name (`alert`, `case-open`…) |
//! | `x_liaison_language` | the payload's full BCP 47 tag, e.g. `kk-Cyrl-KZ` |
//! | `x_liaison_originator`, `x_liaison_recipients` | node ids; `network:<id>` for a whole network |
//! | `x_liaison_case_id`, `x_liaison_in_reply_to`, `x_liaison_expires_at` | when present |
//! | `x_liaison_tlp` | `TLP:AMBER+STRICT` etc. (also the marking) |
//! | `x_liaison_releasability` | `network:<id>`, `centre:<id>` or a node id |
//! | `x_liaison_handling_codes`, `x_liaison_originator_control`, `x_liaison_h3_restrictions` | EU H-codes (`H0`…`H3`), H2 as a flag, H3 text |
//! | `x_liaison_evaluation` | 4x4 evaluation, e.g. `B2` |
//! | `x_liaison_urgency`, `x_liaison_reply_by` | requests |
//! | `x_liaison_case_title`, `x_liaison_case_lead`, `x_liaison_invitee`, `x_liaison_accept` | case kinds |
//! | `x_liaison_reason` | case close, retraction |
//! | `x_liaison_receipt_status`, `x_liaison_receipt_ids` | receipts |
//! | `x_liaison_refused_message`, `x_liaison_reason_code`, `x_liaison_refusal_detail` | refusals |
//!
//! # Entities
//!
//! | entity | STIX object | properties |
//! |---|---|---|
//! | `Person` | `identity`, `identity_class: individual` | `name` = first name, `lang` = its language (primary subtag); `x_liaison_names` (every name with its language), `x_liaison_date_of_birth` (ISO 8601, possibly partial), `x_liaison_nationalities` |
//! | `Organisation` | `identity`, `identity_class: organization` | as `Person`; `x_liaison_country` |
//! | `Email` | `email-addr` (SCO) | `value` |
//! | `Location` with a country or both coordinates | `location` | `name`, `latitude`/`longitude` in degrees, `country`; a lone coordinate goes to `x_liaison_latitude`/`x_liaison_longitude` |
//! | `Location` with neither | `x-liaison-location` | `name`, `latitude`, `longitude` (STIX's `location` needs a region, a country or both coordinates) |
//! | `Phone` | `x-liaison-phone` | `number` |
//! | `Document` | `x-liaison-document` | `document_kind` (`passport`, `identity-card`, `driving-licence`, `residence-permit`, `other` + `document_kind_name`), `number`, `issuer` |
//! | `Vehicle` | `x-liaison-vehicle` | `plate`, `vin`, `country`, `description` |
//! | `Vessel` | `x-liaison-vessel` | `name`, `imo`, `mmsi`, `flag` |
//! | `Container` | `x-liaison-container` | `number` (ISO 6346) |
//! | `Flight` | `x-liaison-flight` | `number`, `date`, `origin`, `destination` (IATA) |
//! | `CryptoWallet` | `x-liaison-crypto-wallet` | `currency`, `address` |
//! | `Event` | `x-liaison-event` | `description`, `time` |
//! | attachment | `artifact` (SCO) | `payload_bin` (base64), `mime_type`, `hashes.SHA-256`, `x_liaison_file_name` |
//!
//! The `x-liaison-*` types are custom SDOs declared through [`EXTENSION_ID`] (STIX 2.1's
//! `new-sdo` mechanism), with the common SDO properties (`created`, `modified`,
//! `created_by_ref`, markings). An `Event` stays custom rather than becoming `observed-data`:
//! `observed-data` must point at observables and records what *was* seen, while our events
//! are often expected ones ("controlled delivery window").
//!
//! # Language tags
//!
//! `lang` holds only the primary language subtag (`zh`, not `zh-Hans`). Both are valid
//! RFC 5646, but `stix2-validator` checks `lang` against a fixed list of some 230 locale
//! codes that has almost no script subtags, and consumers match on the language anyway; the
//! full tags stay in
//! `x_liaison_language` and `x_liaison_names`. A payload-less message's generated
//! description is English (`en`). (The validator's list also lacks a few languages
//! outright, e.g. Tajik `tg` and Turkmen `tk`: the validator calls such exports invalid
//! although they conform to STIX.)
//!
//! # Ids
//!
//! SDOs, SMOs and the bundle use UUIDv5, which STIX 2.1 (section 2.9) allows in place of the
//! recommended UUIDv4 with a namespace of one's own; `stix2-validator` reports it as a
//! `uuid-check` warning, which `protocol/tests/stix_validate.py` accepts on purpose. SCOs
//! (`email-addr`, `artifact`) are UUIDv5 too, but in Liaison's namespace and per message,
//! not in STIX's SCO namespace over their ID-contributing properties (a SHOULD): an export
//! never claims that an object in one message is the same object as in another, markings
//! included; platforms deduplicate observables by value themselves.

use base64::Engine as _;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::entity::{Attachment, DocumentKind, Entity, Name, Payload};
use crate::handling::Tlp;
use crate::ids::{LanguageTag, MessageId, NodeId, Timestamp};
use crate::message::{Body, Kind, ReceiptStatus, Urgency};

/// Liaison's UUIDv5 namespace for STIX ids: `uuid5(NAMESPACE_URL, "urn:liaison:stix:v1")`.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6b04_5052_bf92_56a8_9300_dbbc_dee8_c44a);

/// The STIX version every object is written in.
pub const SPEC_VERSION: &str = "2.1";

/// The OASIS extension definition that TLP 2.0 marking definitions use.
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// `created` of the official TLP 2.0 marking definitions.
pub const TLP2_CREATED: &str = "2022-10-01T00:00:00.000Z";

/// Liaison's extension definition: `uuid5(NAMESPACE, "extension-definition/v1")`.
pub const EXTENSION_ID: &str = "extension-definition--ee12ead4-72a1-5bbf-8f38-f7ecb8d595a7";

/// The identity that publishes [`EXTENSION_ID`]: `uuid5(NAMESPACE, "identity/publisher")`.
pub const PUBLISHER_ID: &str = "identity--87294a57-98f5-522d-8830-50d678a57ace";

/// `created`/`modified` of the constant objects ([`EXTENSION_ID`], [`PUBLISHER_ID`]):
/// the date of version 1 of this mapping. Change the ids and this date together.
const CONSTANTS_CREATED: &str = "2026-01-01T00:00:00.000Z";

/// Every custom property the export writes on standard objects (declared by [`EXTENSION_ID`]).
pub const CUSTOM_PROPERTIES: &[&str] = &[
    "x_liaison_accept",
    "x_liaison_case_id",
    "x_liaison_case_lead",
    "x_liaison_case_title",
    "x_liaison_country",
    "x_liaison_date_of_birth",
    "x_liaison_evaluation",
    "x_liaison_expires_at",
    "x_liaison_file_name",
    "x_liaison_h3_restrictions",
    "x_liaison_handling_codes",
    "x_liaison_in_reply_to",
    "x_liaison_invitee",
    "x_liaison_kind",
    "x_liaison_language",
    "x_liaison_latitude",
    "x_liaison_longitude",
    "x_liaison_message_id",
    "x_liaison_names",
    "x_liaison_nationalities",
    "x_liaison_node_id",
    "x_liaison_originator",
    "x_liaison_originator_control",
    "x_liaison_reason",
    "x_liaison_reason_code",
    "x_liaison_receipt_ids",
    "x_liaison_receipt_status",
    "x_liaison_recipients",
    "x_liaison_refusal_detail",
    "x_liaison_refused_message",
    "x_liaison_releasability",
    "x_liaison_reply_by",
    "x_liaison_tlp",
    "x_liaison_urgency",
];

/// Every custom object type the export writes (declared by [`EXTENSION_ID`] as `new-sdo`).
pub const CUSTOM_TYPES: &[&str] = &[
    "x-liaison-container",
    "x-liaison-crypto-wallet",
    "x-liaison-document",
    "x-liaison-event",
    "x-liaison-flight",
    "x-liaison-location",
    "x-liaison-phone",
    "x-liaison-vehicle",
    "x-liaison-vessel",
];

/// The id of the official TLP 2.0 marking definition for a TLP level.
pub fn tlp_marking_id(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// The official TLP 2.0 marking-definition object for a TLP level, exactly as OASIS publishes it.
pub fn tlp_marking_definition(tlp: Tlp) -> Value {
    let level = match tlp {
        Tlp::Clear => "clear",
        Tlp::Green => "green",
        Tlp::Amber => "amber",
        Tlp::AmberStrict => "amber+strict",
        Tlp::Red => "red",
    };
    json!({
        "type": "marking-definition",
        "spec_version": SPEC_VERSION,
        "id": tlp_marking_id(tlp),
        "created": TLP2_CREATED,
        "name": tlp.label(),
        "extensions": {
            TLP2_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": level,
            }
        },
    })
}

/// The STIX id `<type>--<uuid5(NAMESPACE, "<message id hex>/<discriminator>")>`.
pub fn object_id(stix_type: &str, message: &MessageId, discriminator: &str) -> String {
    let name = format!("{message}/{discriminator}");
    format!(
        "{stix_type}--{}",
        Uuid::new_v5(&NAMESPACE, name.as_bytes()).hyphenated()
    )
}

/// Exports a message as a STIX 2.1 bundle (see the module documentation for the mapping).
pub fn to_stix_bundle(body: &Body, id: &MessageId) -> Value {
    Exporter::new(body, id).bundle()
}

/// [`to_stix_bundle`] as pretty-printed JSON (UTF-8, non-ASCII text unescaped).
pub fn to_stix_json(body: &Body, id: &MessageId) -> String {
    format!("{:#}", to_stix_bundle(body, id))
}

/// Liaison's extension definition, the same in every bundle.
fn extension_definition() -> Value {
    json!({
        "type": "extension-definition",
        "spec_version": SPEC_VERSION,
        "id": EXTENSION_ID,
        "created_by_ref": PUBLISHER_ID,
        "created": CONSTANTS_CREATED,
        "modified": CONSTANTS_CREATED,
        "name": "Liaison message export",
        "description": "Custom objects (x-liaison-*) for the entities of Liaison intelligence \
                        messages that STIX 2.1 has no object for, and custom properties \
                        (x_liaison_*) carrying Liaison's header and handling block: EU \
                        handling codes, releasability, originator control, 4x4 evaluation.",
        "schema": "Defined by the documentation of the Rust module liaison_protocol::stix \
                   (Liaison STIX mapping, version 1).",
        "version": "1.0.0",
        "extension_types": ["new-sdo", "toplevel-property-extension"],
        "extension_properties": CUSTOM_PROPERTIES,
    })
}

/// The identity that publishes Liaison's extension definition, the same in every bundle.
fn publisher_identity() -> Value {
    json!({
        "type": "identity",
        "spec_version": SPEC_VERSION,
        "id": PUBLISHER_ID,
        "created": CONSTANTS_CREATED,
        "modified": CONSTANTS_CREATED,
        "name": "Liaison",
        "identity_class": "system",
        "description": "Liaison, the criminal-intelligence exchange node; \
                        publisher of the Liaison STIX extension.",
    })
}

/// The `lang` value for a language tag: its primary language subtag, lower case.
///
/// STIX allows any RFC 5646 tag, but `stix2-validator` checks `lang` against a fixed list of
/// locale codes that lacks most script subtags (`zh-Hans`, `kk-Cyrl`); the primary subtag is what
/// consumers match on, and the full tag stays in `x_liaison_language` / `x_liaison_names`.
fn lang(tag: &LanguageTag) -> String {
    let s = tag.as_str();
    s.split('-').next().unwrap_or(s).to_ascii_lowercase()
}

fn urgency_name(u: Urgency) -> &'static str {
    match u {
        Urgency::Urgent => "urgent",
        Urgency::ThreeDays => "three-days",
        Urgency::SevenDays => "seven-days",
    }
}

fn micro_to_degrees(v: i32) -> f64 {
    f64::from(v) / 1_000_000.0
}

fn names_value(names: &[Name]) -> Value {
    names
        .iter()
        .map(|n| {
            let mut o = Map::new();
            o.insert("value".into(), json!(n.value));
            if let Some(l) = &n.language {
                o.insert("language".into(), json!(l.as_str()));
            }
            Value::Object(o)
        })
        .collect()
}

/// Inserts `key: value` when the value is present.
fn put_opt<T: Into<Value>>(o: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        o.insert(key.into(), v.into());
    }
}

fn strings<T: ToString>(items: &[T]) -> Value {
    items.iter().map(|i| json!(i.to_string())).collect()
}

struct Exporter<'a> {
    body: &'a Body,
    id: &'a MessageId,
    created: String,
    marking: &'static str,
    originator: String,
}

impl<'a> Exporter<'a> {
    fn new(body: &'a Body, id: &'a MessageId) -> Self {
        Self {
            body,
            id,
            created: body.header.created_at.to_rfc3339(),
            marking: tlp_marking_id(body.handling.tlp),
            originator: object_id("identity", id, "originator"),
        }
    }

    fn bundle(&self) -> Value {
        let originator = self.originator_identity();
        let content = self
            .body
            .kind
            .payload()
            .map_or_else(Vec::new, |p| self.payload_objects(p));
        let refs = std::iter::once(&originator)
            .chain(&content)
            .map(|o| o["id"].clone())
            .collect();
        let mut objects = vec![
            tlp_marking_definition(self.body.handling.tlp),
            extension_definition(),
            publisher_identity(),
            originator,
            self.report(refs),
        ];
        objects.extend(content);
        json!({
            "type": "bundle",
            "id": object_id("bundle", self.id, "bundle"),
            "objects": objects,
        })
    }

    /// Common properties of a per-message SDO; `extension` is the extension type it uses, if any.
    fn sdo(
        &self,
        stix_type: &str,
        discriminator: &str,
        extension: Option<&str>,
    ) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("type".into(), json!(stix_type));
        o.insert("spec_version".into(), json!(SPEC_VERSION));
        o.insert(
            "id".into(),
            json!(object_id(stix_type, self.id, discriminator)),
        );
        o.insert("created".into(), json!(self.created));
        o.insert("modified".into(), json!(self.created));
        o.insert("object_marking_refs".into(), json!([self.marking]));
        if let Some(ext) = extension {
            o.insert(
                "extensions".into(),
                json!({ EXTENSION_ID: { "extension_type": ext } }),
            );
        }
        o
    }

    /// Common properties of a per-message SCO.
    fn sco(&self, stix_type: &str, discriminator: &str) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("type".into(), json!(stix_type));
        o.insert("spec_version".into(), json!(SPEC_VERSION));
        o.insert(
            "id".into(),
            json!(object_id(stix_type, self.id, discriminator)),
        );
        o.insert("object_marking_refs".into(), json!([self.marking]));
        o
    }

    fn originator_identity(&self) -> Value {
        let node: &NodeId = &self.body.header.originator;
        let mut o = self.sdo("identity", "originator", Some(PROPERTY_EXTENSION));
        o.insert("name".into(), json!(node.as_str()));
        o.insert("identity_class".into(), json!("organization"));
        o.insert(
            "description".into(),
            json!(format!(
                "Liaison node {node} (centre {}, network {})",
                node.centre_str(),
                node.network_str()
            )),
        );
        o.insert("x_liaison_node_id".into(), json!(node.as_str()));
        Value::Object(o)
    }

    fn report(&self, object_refs: Vec<Value>) -> Value {
        let (h, hd, kind) = (&self.body.header, &self.body.handling, &self.body.kind);
        let mut o = self.sdo("report", "report", Some(PROPERTY_EXTENSION));
        o.insert("created_by_ref".into(), json!(self.originator));

        let mut name = format!("{} from {}", kind.name(), h.originator);
        if let Kind::CaseOpen { title, .. } = kind {
            name.push_str(": ");
            name.push_str(title);
        }
        if let Some(case) = &h.case {
            name.push_str(&format!(" (case {case})"));
        }
        o.insert("name".into(), json!(name));
        match kind.payload() {
            Some(p) => {
                if !p.text.is_empty() {
                    o.insert("description".into(), json!(p.text));
                }
                o.insert("lang".into(), json!(lang(&p.language)));
                o.insert("x_liaison_language".into(), json!(p.language.as_str()));
            }
            None => {
                o.insert("description".into(), json!(self.facts()));
                o.insert("lang".into(), json!("en"));
            }
        }
        o.insert("report_types".into(), json!(["threat-report"]));
        o.insert("published".into(), json!(self.created));
        o.insert("object_refs".into(), Value::Array(object_refs));
        o.insert(
            "external_references".into(),
            json!([{
                "source_name": "liaison",
                "external_id": self.id.to_string(),
                "description": "Liaison message id: SHA-256 of the signed body bytes",
            }]),
        );

        o.insert("x_liaison_message_id".into(), json!(self.id.to_string()));
        o.insert("x_liaison_kind".into(), json!(kind.name()));
        o.insert("x_liaison_originator".into(), json!(h.originator.as_str()));
        o.insert("x_liaison_recipients".into(), strings(&h.recipients));
        put_opt(
            &mut o,
            "x_liaison_case_id",
            h.case.as_ref().map(|c| c.as_str()),
        );
        put_opt(
            &mut o,
            "x_liaison_in_reply_to",
            h.in_reply_to.map(|m| m.to_string()),
        );
        put_opt(
            &mut o,
            "x_liaison_expires_at",
            h.expires_at.map(Timestamp::to_rfc3339),
        );
        o.insert("x_liaison_tlp".into(), json!(hd.tlp.label()));
        o.insert("x_liaison_releasability".into(), strings(&hd.releasability));
        o.insert("x_liaison_handling_codes".into(), json!(hd.eu_codes()));
        o.insert(
            "x_liaison_originator_control".into(),
            json!(hd.originator_control),
        );
        put_opt(
            &mut o,
            "x_liaison_h3_restrictions",
            hd.h3_restrictions.as_deref(),
        );
        o.insert(
            "x_liaison_evaluation".into(),
            json!(hd.evaluation.to_string()),
        );

        match kind {
            Kind::Request {
                urgency, reply_by, ..
            } => {
                o.insert("x_liaison_urgency".into(), json!(urgency_name(*urgency)));
                o.insert("x_liaison_reply_by".into(), json!(reply_by.to_rfc3339()));
            }
            Kind::CaseOpen { title, lead, .. } => {
                o.insert("x_liaison_case_title".into(), json!(title));
                o.insert("x_liaison_case_lead".into(), json!(lead.as_str()));
            }
            Kind::CaseInvite { invitee, .. } => {
                o.insert("x_liaison_invitee".into(), json!(invitee.as_str()));
            }
            Kind::CaseJoin { accept } => {
                o.insert("x_liaison_accept".into(), json!(accept));
            }
            Kind::CaseClose { reason } | Kind::Retraction { reason } => {
                o.insert("x_liaison_reason".into(), json!(reason));
            }
            Kind::CaseRemove {
                participant,
                reason,
            } => {
                o.insert("x_liaison_participant".into(), json!(participant.as_str()));
                o.insert("x_liaison_reason".into(), json!(reason));
            }
            Kind::CaseStatus { suspended, reason } => {
                o.insert("x_liaison_suspended".into(), json!(suspended));
                o.insert("x_liaison_reason".into(), json!(reason));
            }
            Kind::CaseTask(t) => {
                o.insert("x_liaison_task_title".into(), json!(t.title));
                o.insert("x_liaison_task_assignee".into(), json!(t.assignee.as_str()));
                o.insert("x_liaison_task_status".into(), json!(t.status.name()));
                put_opt(
                    &mut o,
                    "x_liaison_task_due",
                    t.due.map(Timestamp::to_rfc3339),
                );
            }
            Kind::Deconfliction(n) => {
                o.insert("x_liaison_selector_kind".into(), json!(n.kind.name()));
                o.insert("x_liaison_overlap_with".into(), json!(n.other.as_str()));
            }
            Kind::Selectors(_) => {}
            Kind::Receipt(r) => {
                let status = match r.status {
                    ReceiptStatus::Relayed => "relayed",
                    ReceiptStatus::Delivered => "delivered",
                };
                o.insert("x_liaison_receipt_status".into(), json!(status));
                o.insert("x_liaison_receipt_ids".into(), strings(&r.ids));
            }
            Kind::Refusal(r) => {
                o.insert(
                    "x_liaison_refused_message".into(),
                    json!(r.target.to_string()),
                );
                o.insert("x_liaison_reason_code".into(), json!(r.reason_code));
                o.insert("x_liaison_refusal_detail".into(), json!(r.detail));
            }
            Kind::HopReport(r) => {
                let carried: Vec<String> = r.answers.iter().map(|a| a.id().to_string()).collect();
                o.insert("x_liaison_report_answers".into(), json!(carried));
            }
            Kind::ConsentRequest(r) => {
                o.insert(
                    "x_liaison_consent_target".into(),
                    json!(r.target.to_string()),
                );
                o.insert("x_liaison_consent_nodes".into(), strings(&r.to));
            }
            Kind::ConsentAnswer(a) => {
                o.insert(
                    "x_liaison_consent_target".into(),
                    json!(a.target.to_string()),
                );
                o.insert("x_liaison_consent_nodes".into(), strings(&a.to));
                o.insert("x_liaison_consent_granted".into(), json!(a.granted));
            }
            Kind::Sealed(_) | Kind::SealingKey(_) | Kind::Announce(_) | Kind::Share(_) => {}
            Kind::Alert(_) | Kind::Reply(_) | Kind::CaseUpdate(_) => {}
        }
        Value::Object(o)
    }

    /// A one-line English statement of a payload-less message's facts, for `description`.
    fn facts(&self) -> String {
        let h = &self.body.header;
        let case = h.case.as_ref().map_or("?", |c| c.as_str());
        match &self.body.kind {
            Kind::CaseJoin { accept: true } => {
                format!("{} accepts the invitation to case {case}", h.originator)
            }
            Kind::CaseJoin { accept: false } => {
                format!("{} declines the invitation to case {case}", h.originator)
            }
            Kind::CaseClose { reason } => format!("Case {case} closed: {reason}"),
            Kind::CaseRemove {
                participant,
                reason,
            } if participant == &h.originator => {
                format!("{participant} leaves case {case}: {reason}")
            }
            Kind::CaseRemove {
                participant,
                reason,
            } => format!("{participant} removed from case {case}: {reason}"),
            Kind::CaseStatus {
                suspended: true,
                reason,
            } => format!("Case {case} suspended: {reason}"),
            Kind::CaseStatus {
                suspended: false,
                reason,
            } => format!("Case {case} resumed: {reason}"),
            Kind::CaseTask(t) => format!(
                "Task in case {case} for {}: {} ({})",
                t.assignee,
                t.title,
                t.status.name()
            ),
            Kind::Deconfliction(n) => format!(
                "Deconfliction: a {} selector is also held by {}",
                n.kind.name(),
                n.other
            ),
            Kind::Retraction { reason } => match &h.in_reply_to {
                Some(m) => format!("Retracts message {m}: {reason}"),
                None => format!("Retraction: {reason}"),
            },
            Kind::Receipt(r) => {
                let status = match r.status {
                    ReceiptStatus::Relayed => "relayed",
                    ReceiptStatus::Delivered => "delivered",
                };
                format!("Receipt: {} message(s) {status}", r.ids.len())
            }
            Kind::Refusal(r) => format!(
                "Refused message {}: {}: {}",
                r.target, r.reason_code, r.detail
            ),
            other => format!("{} message", other.name()),
        }
    }

    fn payload_objects(&self, p: &Payload) -> Vec<Value> {
        let entities = p
            .entities
            .iter()
            .enumerate()
            .map(|(i, e)| self.entity(&format!("entity/{i}"), e));
        let attachments = p
            .attachments
            .iter()
            .enumerate()
            .map(|(i, a)| self.attachment(&format!("attachment/{i}"), a));
        entities.chain(attachments).collect()
    }

    /// A per-message SDO created by the originator.
    fn created(&self, stix_type: &str, disc: &str, ext: Option<&str>) -> Map<String, Value> {
        let mut o = self.sdo(stix_type, disc, ext);
        o.insert("created_by_ref".into(), json!(self.originator));
        o
    }

    fn custom(&self, stix_type: &str, disc: &str) -> Map<String, Value> {
        self.created(stix_type, disc, Some("new-sdo"))
    }

    fn identity(&self, disc: &str, class: &str, names: &[Name]) -> Map<String, Value> {
        let mut o = self.created("identity", disc, Some(PROPERTY_EXTENSION));
        let first = names.first();
        let name = first.map_or("(unnamed)", |n| n.value.as_str());
        o.insert("name".into(), json!(name));
        o.insert("identity_class".into(), json!(class));
        put_opt(
            &mut o,
            "lang",
            first.and_then(|n| n.language.as_ref()).map(lang),
        );
        o.insert("x_liaison_names".into(), names_value(names));
        o
    }

    fn entity(&self, disc: &str, e: &Entity) -> Value {
        let o = match e {
            Entity::Person {
                names,
                date_of_birth,
                nationalities,
            } => {
                let mut o = self.identity(disc, "individual", names);
                put_opt(
                    &mut o,
                    "x_liaison_date_of_birth",
                    date_of_birth.map(|d| d.to_iso()),
                );
                if !nationalities.is_empty() {
                    o.insert("x_liaison_nationalities".into(), strings(nationalities));
                }
                o
            }
            Entity::Organisation { names, country } => {
                let mut o = self.identity(disc, "organization", names);
                put_opt(&mut o, "x_liaison_country", country.map(|c| c.to_string()));
                o
            }
            Entity::Email { address } => {
                let mut o = self.sco("email-addr", disc);
                o.insert("value".into(), json!(address));
                o
            }
            Entity::Location {
                name,
                latitude_micro,
                longitude_micro,
                country,
            } => {
                let lat = latitude_micro.map(micro_to_degrees);
                let lon = longitude_micro.map(micro_to_degrees);
                let both = lat.is_some() && lon.is_some();
                if country.is_some() || both {
                    let ext =
                        (!both && (lat.is_some() || lon.is_some())).then_some(PROPERTY_EXTENSION);
                    let mut o = self.created("location", disc, ext);
                    put_opt(&mut o, "name", name.as_deref());
                    put_opt(&mut o, "country", country.map(|c| c.to_string()));
                    let (lat_key, lon_key) = if both {
                        ("latitude", "longitude")
                    } else {
                        ("x_liaison_latitude", "x_liaison_longitude")
                    };
                    put_opt(&mut o, lat_key, lat);
                    put_opt(&mut o, lon_key, lon);
                    o
                } else {
                    let mut o = self.custom("x-liaison-location", disc);
                    put_opt(&mut o, "name", name.as_deref());
                    put_opt(&mut o, "latitude", lat);
                    put_opt(&mut o, "longitude", lon);
                    o
                }
            }
            Entity::Phone { number } => {
                let mut o = self.custom("x-liaison-phone", disc);
                o.insert("number".into(), json!(number));
                o
            }
            Entity::Document {
                kind,
                number,
                issuer,
            } => {
                let mut o = self.custom("x-liaison-document", disc);
                let k = match kind {
                    DocumentKind::Passport => "passport",
                    DocumentKind::IdentityCard => "identity-card",
                    DocumentKind::DrivingLicence => "driving-licence",
                    DocumentKind::ResidencePermit => "residence-permit",
                    DocumentKind::Other(other) => {
                        o.insert("document_kind_name".into(), json!(other));
                        "other"
                    }
                };
                o.insert("document_kind".into(), json!(k));
                o.insert("number".into(), json!(number));
                put_opt(&mut o, "issuer", issuer.map(|c| c.to_string()));
                o
            }
            Entity::Vehicle {
                plate,
                vin,
                country,
                description,
            } => {
                let mut o = self.custom("x-liaison-vehicle", disc);
                put_opt(&mut o, "plate", plate.as_deref());
                put_opt(&mut o, "vin", vin.as_deref());
                put_opt(&mut o, "country", country.map(|c| c.to_string()));
                put_opt(&mut o, "description", description.as_deref());
                o
            }
            Entity::Vessel {
                name,
                imo,
                mmsi,
                flag,
            } => {
                let mut o = self.custom("x-liaison-vessel", disc);
                put_opt(&mut o, "name", name.as_deref());
                put_opt(&mut o, "imo", imo.as_deref());
                put_opt(&mut o, "mmsi", mmsi.as_deref());
                put_opt(&mut o, "flag", flag.map(|c| c.to_string()));
                o
            }
            Entity::Container { number } => {
                let mut o = self.custom("x-liaison-container", disc);
                o.insert("number".into(), json!(number));
                o
            }
            Entity::Flight {
                number,
                date,
                from,
                to,
            } => {
                let mut o = self.custom("x-liaison-flight", disc);
                o.insert("number".into(), json!(number));
                put_opt(&mut o, "date", date.map(|d| d.to_iso()));
                put_opt(&mut o, "origin", from.as_deref());
                put_opt(&mut o, "destination", to.as_deref());
                o
            }
            Entity::CryptoWallet { currency, address } => {
                let mut o = self.custom("x-liaison-crypto-wallet", disc);
                o.insert("currency".into(), json!(currency));
                o.insert("address".into(), json!(address));
                o
            }
            Entity::Event { description, at } => {
                let mut o = self.custom("x-liaison-event", disc);
                o.insert("description".into(), json!(description));
                put_opt(&mut o, "time", at.map(Timestamp::to_rfc3339));
                o
            }
        };
        Value::Object(o)
    }

    fn attachment(&self, disc: &str, a: &Attachment) -> Value {
        let mut o = self.sco("artifact", disc);
        o.insert(
            "extensions".into(),
            json!({ EXTENSION_ID: { "extension_type": PROPERTY_EXTENSION } }),
        );
        o.insert("mime_type".into(), json!(a.media_type));
        o.insert(
            "payload_bin".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(&a.content)),
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, &a.content);
        o.insert(
            "hashes".into(),
            json!({ "SHA-256": crate::ids::hex(digest.as_ref()) }),
        );
        o.insert("x_liaison_file_name".into(), json!(a.name));
        Value::Object(o)
    }
}

/// The extension type under which standard objects carry `x_liaison_*` properties.
const PROPERTY_EXTENSION: &str = "toplevel-property-extension";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_ids_follow_their_stated_derivation() {
        let url_ns = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:liaison:stix:v1");
        assert_eq!(url_ns, NAMESPACE);
        let ext = Uuid::new_v5(&NAMESPACE, b"extension-definition/v1");
        assert_eq!(EXTENSION_ID, format!("extension-definition--{ext}"));
        let publ = Uuid::new_v5(&NAMESPACE, b"identity/publisher");
        assert_eq!(PUBLISHER_ID, format!("identity--{publ}"));
        // STIX 2.1 forbids the SCO namespace for anything but SCO ids.
        assert_ne!(
            NAMESPACE.to_string(),
            "00abedb4-aa42-466c-9c01-fed23315a9b7"
        );
    }

    #[test]
    fn custom_lists_are_sorted_and_unique() {
        assert!(CUSTOM_PROPERTIES.windows(2).all(|w| w[0] < w[1]));
        assert!(CUSTOM_TYPES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn degrees_print_exactly() {
        assert_eq!(json!(micro_to_degrees(24_506_000)).to_string(), "24.506");
        assert_eq!(json!(micro_to_degrees(-180_000_000)).to_string(), "-180.0");
        assert_eq!(json!(micro_to_degrees(1)).to_string(), "1e-6");
    }
}
