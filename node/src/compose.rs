//! Turning an officer's request into a message body: the one place the node fills in
//! originator, time, nonce, hop limit and deadlines before signing.

use liaison_protocol::entity::Entity;
use liaison_protocol::limits::{
    check, MAX_ENTITIES, MAX_RECIPIENTS, MAX_RELEASE, MAX_SHORT_STRING, MAX_TEXT_BYTES,
};
use liaison_protocol::message::{Body, ContentKind, Header, Kind, Urgency};
use liaison_protocol::{
    CaseId, DecodeError, Evaluation, Handling, LanguageTag, MessageId, NodeId, Payload, Recipient,
    Release, Timestamp, Tlp,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::views::schema::{MessageIdText, SendKindText, ShortText, UrgencyText};

use crate::refusal::Refusal;

/// Default hop limit of messages this node originates.
pub const DEFAULT_HOP_LIMIT: u8 = 8;

/// What an officer asks the node to send (the local API's `POST /v1/messages` body).
/// Fields are strings in their human forms (`AMBER`, `B2`, `network:gulf`) so the CLI, the
/// console and scripts write the same JSON; the node parses and checks them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Kind of message: `alert`, `request`, `reply`, `retraction`.
    #[schema(value_type = SendKindText)]
    pub kind: String,
    /// Recipients: node ids or `network:<name>`.
    #[schema(value_type = Vec<ShortText>, min_items = 1, max_items = 256)]
    pub to: Vec<String>,
    /// TLP level: `CLEAR`, `GREEN`, `AMBER`, `AMBER+STRICT`, `RED`.
    #[schema(max_length = 1024)]
    pub tlp: String,
    /// Releasability: `network:<name>`, `centre:<name>` or node ids. Defaults to the
    /// recipients (their nodes and networks) when empty.
    #[serde(default)]
    #[schema(value_type = Vec<ShortText>, max_items = 256)]
    pub release: Vec<String>,
    /// Originator control (EU H2).
    #[serde(default)]
    pub originator_control: bool,
    /// EU H0: use only to prevent and combat crime.
    #[serde(default)]
    pub h0: bool,
    /// EU H1: not for judicial proceedings without permission.
    #[serde(default)]
    pub h1: bool,
    /// EU H3: other restrictions, free text.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub h3: Option<String>,
    /// 4x4 evaluation, e.g. `B2`.
    #[schema(max_length = 1024, pattern = "^[ABCXabcx][1-4]$")]
    pub eval: String,
    /// Text.
    #[schema(max_length = 524288)]
    pub text: String,
    /// Language of the text (BCP 47), e.g. `ru`.
    #[schema(max_length = 1024)]
    pub lang: String,
    /// Entities, as `type=value` (e.g. `phone=+77011234567`, `container=MSCU1234565`).
    #[serde(default)]
    #[schema(value_type = Vec<ShortText>, max_items = 1024)]
    pub entities: Vec<String>,
    /// Case id.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub case: Option<String>,
    /// The message this answers (replies, retractions), 64 hex digits.
    #[serde(default)]
    #[schema(value_type = Option<MessageIdText>)]
    pub in_reply_to: Option<String>,
    /// Urgency of a request: `urgent` (8 h), `three-days`, `seven-days`.
    #[serde(default, deserialize_with = "urgency")]
    #[schema(value_type = Option<UrgencyText>)]
    pub urgency: Option<String>,
    /// Expiry, seconds after creation.
    #[serde(default, deserialize_with = "whole_seconds")]
    #[schema(minimum = 0, maximum = 18446744073709551615u64, format = "uint64")]
    pub expires_in_secs: Option<u64>,
}

/// An urgency as written: one of the three the protocol knows, or none. Anything else is
/// refused when the request is read, whatever the message's kind.
fn urgency<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    match Option::<String>::deserialize(d)? {
        Some(u) if !["urgent", "three-days", "seven-days"].contains(&u.as_str()) => {
            Err(D::Error::custom(format!(
                "urgency {u:?}: say urgent, three-days or seven-days"
            )))
        }
        u => Ok(u),
    }
}

/// A number of seconds as JSON writes it: an integer, or a number with no fractional part
/// (`399.0`, which JSON Schema counts as an integer and some clients write); `null` is none.
pub(crate) fn whole_seconds<'de, D>(d: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number of seconds"))),
    }
}

impl SendRequest {
    /// Checks the request's counts and sizes against the protocol's limits (the same the
    /// message's body must keep, [`liaison_protocol::limits`]) before anything in it is
    /// parsed: a request naming 40,000 recipients is refused (`limit-exceeded`, naming the
    /// limit and the value) before 40,000 node ids are parsed and compared with the
    /// releasability list.
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        check("recipients", self.to.len(), MAX_RECIPIENTS)?;
        check("releasability", self.release.len(), MAX_RELEASE)?;
        check("entities", self.entities.len(), MAX_ENTITIES)?;
        check("payload text", self.text.len(), MAX_TEXT_BYTES)?;
        if let Some(h3) = &self.h3 {
            check("H3 restrictions", h3.len(), MAX_SHORT_STRING)?;
        }
        let short = [
            ("kind", Some(&self.kind)),
            ("TLP", Some(&self.tlp)),
            ("evaluation", Some(&self.eval)),
            ("language", Some(&self.lang)),
            ("case", self.case.as_ref()),
            ("in-reply-to", self.in_reply_to.as_ref()),
            ("urgency", self.urgency.as_ref()),
        ];
        for (field, s) in short {
            check(field, s.map_or(0, String::len), MAX_SHORT_STRING)?;
        }
        for (field, list) in [
            ("recipient", &self.to),
            ("releasability entry", &self.release),
            ("entity", &self.entities),
        ] {
            for s in list {
                check(field, s.len(), MAX_SHORT_STRING)?;
            }
        }
        Ok(())
    }
}

/// Parses one `type=value` entity as written on the command line.
pub fn parse_entity(s: &str) -> Result<Entity, String> {
    let (t, v) = s
        .split_once('=')
        .ok_or_else(|| format!("entity {s:?} must be type=value, e.g. phone=+77011234567"))?;
    let v = v.trim().to_owned();
    if v.is_empty() {
        return Err(format!("entity {s:?} has an empty value"));
    }
    Ok(match t.trim() {
        "phone" => Entity::Phone { number: v },
        "email" => Entity::Email { address: v },
        "container" => Entity::Container { number: v },
        "passport" => Entity::Document {
            kind: liaison_protocol::entity::DocumentKind::Passport,
            number: v,
            issuer: None,
        },
        "document" => Entity::Document {
            kind: liaison_protocol::entity::DocumentKind::Other("document".into()),
            number: v,
            issuer: None,
        },
        "person" => Entity::Person {
            names: vec![liaison_protocol::Name {
                value: v,
                language: None,
            }],
            date_of_birth: None,
            nationalities: vec![],
        },
        "organisation" | "organization" => Entity::Organisation {
            names: vec![liaison_protocol::Name {
                value: v,
                language: None,
            }],
            country: None,
        },
        "plate" => Entity::Vehicle {
            plate: Some(v),
            vin: None,
            country: None,
            description: None,
        },
        "vin" => Entity::Vehicle {
            plate: None,
            vin: Some(v),
            country: None,
            description: None,
        },
        "imo" => Entity::Vessel {
            name: None,
            imo: Some(v),
            mmsi: None,
            flag: None,
        },
        "mmsi" => Entity::Vessel {
            name: None,
            imo: None,
            mmsi: Some(v),
            flag: None,
        },
        "flight" => Entity::Flight {
            number: v,
            date: None,
            from: None,
            to: None,
        },
        "wallet" => {
            let (currency, address) = v
                .split_once(':')
                .ok_or("wallet must be wallet=<currency>:<address>, e.g. wallet=BTC:bc1q…")?;
            Entity::CryptoWallet {
                currency: currency.into(),
                address: address.into(),
            }
        }
        "location" => Entity::Location {
            name: Some(v),
            latitude_micro: None,
            longitude_micro: None,
            country: None,
        },
        other => {
            return Err(format!(
                "unknown entity type {other:?}; use one of phone, email, container, passport, \
                 document, person, organisation, plate, vin, imo, mmsi, flight, wallet, location"
            ))
        }
    })
}

pub(crate) fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| format!("{what} {s:?}: {e}"))
}

/// Builds and checks the body of a message this node originates. Refuses with
/// `invalid-message` for a field that does not parse, with the rule's own error (e.g.
/// `invalid-handling`, `limit-exceeded`) for a message that breaks one.
///
/// Limits before work: the request's counts and sizes are checked before it is parsed, and
/// the body's before its handling rules (recipients × releasability).
pub fn body(
    me: &NodeId,
    req: &SendRequest,
    now: Timestamp,
    nonce: [u8; 16],
) -> Result<Body, Refusal> {
    req.check_limits()?;
    let body = parse_request(me, req, now, nonce).map_err(Refusal::InvalidMessage)?;
    body.check_limits()?;
    // Composition rules before the rest, so the officer sees `invalid-handling` and why.
    liaison_protocol::handling::check_composition(&body.addressing())?;
    body.validate()?;
    Ok(body)
}

/// The request's payload: text in its language, entities (no attachments).
pub fn payload_of(req: &SendRequest) -> Result<Payload, String> {
    Ok(Payload {
        language: parse::<LanguageTag>("language", &req.lang)?,
        text: req.text.clone(),
        entities: req
            .entities
            .iter()
            .map(|e| parse_entity(e))
            .collect::<Result<_, _>>()?,
        attachments: Vec::new(),
    })
}

/// The request's handling block; releasability defaults to the recipients `to`.
pub fn handling_of(req: &SendRequest, to: &[Recipient]) -> Result<Handling, String> {
    let releasability = if req.release.is_empty() {
        to.iter()
            .map(|r| match r {
                Recipient::Node(n) => Release::Node(n.clone()),
                Recipient::Network(n) => Release::Network(n.clone()),
            })
            .collect()
    } else {
        req.release
            .iter()
            .map(|r| parse("releasability", r))
            .collect::<Result<_, _>>()?
    };
    Ok(Handling {
        tlp: parse::<Tlp>("TLP", &req.tlp)?,
        releasability,
        originator_control: req.originator_control,
        h0_crime_only: req.h0,
        h1_no_judicial_use: req.h1,
        h3_restrictions: req.h3.clone(),
        evaluation: parse::<Evaluation>("evaluation", &req.eval)?,
    })
}

/// Parses the request's fields into a body (not yet checked against the rules).
fn parse_request(
    me: &NodeId,
    req: &SendRequest,
    now: Timestamp,
    nonce: [u8; 16],
) -> Result<Body, String> {
    let payload = payload_of(req)?;
    let not_composed = || {
        format!(
            "kind {:?}: officers send alert, request, reply or retraction",
            req.kind
        )
    };
    let content = ContentKind::parse(&req.kind).map_err(|_| not_composed())?;
    let kind = match content {
        ContentKind::Alert => Kind::Alert(payload),
        ContentKind::Request => {
            let urgency = match req.urgency.as_deref() {
                Some("urgent") => Urgency::Urgent,
                Some("three-days") => Urgency::ThreeDays,
                Some("seven-days") | None => Urgency::SevenDays,
                Some(other) => {
                    return Err(format!(
                        "urgency {other:?}: use urgent (8 hours), three-days or seven-days"
                    ))
                }
            };
            Kind::Request {
                payload,
                urgency,
                reply_by: now.plus_millis(urgency.deadline_millis()),
            }
        }
        ContentKind::Reply => Kind::Reply(payload),
        ContentKind::Retraction => Kind::Retraction {
            reason: req.text.clone(),
        },
        ContentKind::CaseOpen
        | ContentKind::CaseInvite
        | ContentKind::CaseJoin
        | ContentKind::CaseUpdate
        | ContentKind::CaseClose
        | ContentKind::CaseRemove
        | ContentKind::CaseStatus
        | ContentKind::CaseTask
        | ContentKind::Selectors
        | ContentKind::Deconfliction
        | ContentKind::ConsentRequest => return Err(not_composed()),
    };
    let to: Vec<Recipient> = req
        .to
        .iter()
        .map(|r| parse("recipient", r))
        .collect::<Result<_, _>>()?;
    let case = req
        .case
        .as_deref()
        .map(|c| parse::<CaseId>("case", c))
        .transpose()?;
    let in_reply_to = req
        .in_reply_to
        .as_deref()
        .map(|c| parse::<MessageId>("in-reply-to", c))
        .transpose()?;
    let handling = handling_of(req, &to)?;
    let mut body = Body {
        header: Header {
            originator: me.clone(),
            created_at: now,
            nonce,
            recipients: to,
            case,
            in_reply_to,
            expires_at: req
                .expires_in_secs
                .map(|s| now.plus_millis(s.saturating_mul(1000))),
            hop_limit: DEFAULT_HOP_LIMIT,
        },
        handling,
        kind,
    };
    body.normalise();
    Ok(body)
}

/// The handling block of the messages nodes exchange among themselves.
pub fn control_handling(
    releasability: Vec<liaison_protocol::Release>,
) -> crate::error::Result<liaison_protocol::Handling> {
    Ok(liaison_protocol::Handling {
        tlp: liaison_protocol::Tlp::Green,
        releasability,
        originator_control: false,
        h0_crime_only: false,
        h1_no_judicial_use: false,
        h3_restrictions: None,
        evaluation: "A1"
            .parse::<Evaluation>()
            .map_err(crate::error::NodeError::failed)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> NodeId {
        "caricc.central-asia".parse().unwrap()
    }

    fn alert(to: Vec<String>) -> SendRequest {
        SendRequest {
            kind: "alert".into(),
            to,
            tlp: "AMBER".into(),
            release: vec!["network:gulf".into()],
            eval: "B2".into(),
            text: "Shipment via Aktau".into(),
            lang: "en".into(),
            ..Default::default()
        }
    }

    fn compose(req: &SendRequest) -> Result<Body, (&'static str, String)> {
        body(&me(), req, Timestamp(1_780_000_000_000), [7; 16])
            .map_err(|r| (r.reason_code(), r.detail()))
    }

    #[test]
    fn officers_compose_exactly_the_kinds_the_node_says_they_compose() {
        for k in ContentKind::ALL {
            let req = SendRequest {
                kind: k.as_str().into(),
                ..alert(vec!["gcc-cic.gulf".into()])
            };
            let parsed = parse_request(&me(), &req, Timestamp(1_780_000_000_000), [7; 16]);
            let refused_kind = parsed.is_err_and(|e| e.starts_with("kind "));
            assert_eq!(refused_kind, !crate::kinds::composed_by_officers(k), "{k}");
        }
    }

    #[test]
    fn a_request_over_a_limit_is_refused_before_it_is_parsed() {
        let at_limit: Vec<String> = (0..MAX_RECIPIENTS).map(|i| format!("n{i}.gulf")).collect();
        assert!(compose(&alert(at_limit)).is_ok());
        // None of these parses: a parse before the count check would answer invalid-message.
        let over = alert(vec!["not a node id".into(); MAX_RECIPIENTS + 1]);
        assert_eq!(
            compose(&over).unwrap_err(),
            ("limit-exceeded", "recipients has 257, limit is 256".into())
        );
        let mut over = alert(vec!["om-dcu.gulf".into()]);
        over.release = vec!["not a release".into(); MAX_RELEASE + 1];
        assert_eq!(compose(&over).unwrap_err().0, "limit-exceeded");
        let mut over = alert(vec!["om-dcu.gulf".into()]);
        over.entities = vec!["nonsense".into(); MAX_ENTITIES + 1];
        assert_eq!(compose(&over).unwrap_err().0, "limit-exceeded");
        let mut over = alert(vec!["om-dcu.gulf".into()]);
        over.lang = "x".repeat(MAX_SHORT_STRING + 1);
        assert_eq!(
            compose(&over).unwrap_err(),
            ("limit-exceeded", "language has 1025, limit is 1024".into())
        );
    }
}
