//! The views the officer API returns, the console renders and the CLI reads back: messages,
//! inbox lines, log events, trails, cases and the answers to commands, in human forms (hex
//! ids, RFC 3339 times, `TLP:AMBER`, `B2`, `network:gulf`).
//!
//! Each view is a plain struct: the API serialises it as its JSON answer, the console
//! renders it, and the CLI deserialises the answer into it, so the three cannot drift apart.
//!
//! Payload content (text, entities, attachments) appears only in [`MessageView`] and
//! [`InboxItem`] when the caller may read it; log events never carry content, because the
//! log holds commitments only (DESIGN.md promise 7).

use liaison_protocol::case::CaseState;
use liaison_protocol::entity::DocumentKind;
use liaison_protocol::log::{Event, LogEntry, MessageFacts};
use liaison_protocol::message::{Body, Kind, ReceiptStatus, Urgency};
use liaison_protocol::{Entity, MessageId, NodeId, Payload, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub mod schema;
use schema::{
    CaseStatusText, HandlingCodeText, MessageIdText, NodeIdText, OwnStandingText, RoleText,
    StandingText, TaskStatusText, TimeText, TlpText, UrgencyText,
};

use crate::store::{HopRecord, MessageState, Role};

fn ts(t: Timestamp) -> String {
    t.to_rfc3339()
}

fn nodes(list: &[NodeId]) -> Vec<String> {
    list.iter().map(|n| n.as_str().to_owned()).collect()
}

fn ids(list: &[MessageId]) -> Vec<String> {
    list.iter().map(MessageId::to_string).collect()
}

fn strings<T: ToString>(list: &[T]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// What this node did with a message.
pub fn role(r: Role) -> &'static str {
    match r {
        Role::Originated => "originated",
        Role::Delivered => "delivered",
        Role::Relayed => "relayed",
    }
}

/// A receipt's status as written in views and exports.
pub fn receipt_status(s: ReceiptStatus) -> &'static str {
    s.name()
}

fn urgency(u: Urgency) -> &'static str {
    match u {
        Urgency::Urgent => "urgent",
        Urgency::ThreeDays => "three-days",
        Urgency::SevenDays => "seven-days",
    }
}

/// A field that may be absent, null or a value (absent: `None`, null: `Some(None)`), so a
/// view read back serialises as it was written.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// A message's logged facts (no content).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = MessageFacts)]
pub struct Facts {
    /// Message id (hex).
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Kind name (`alert`, `request`, …).
    pub kind: String,
    /// Originating node.
    #[schema(value_type = NodeIdText)]
    pub originator: String,
    /// Recipients (nodes and `network:` groups).
    pub recipients: Vec<String>,
    /// Creation time.
    #[schema(value_type = TimeText)]
    pub created_at: String,
    /// Case id, if any.
    pub case: Option<String>,
    /// The message this one answers, if any.
    #[schema(value_type = Option<MessageIdText>)]
    pub in_reply_to: Option<String>,
    /// TLP label.
    #[schema(value_type = TlpText)]
    pub tlp: String,
    /// Handling codes (`H0`…`H3`).
    #[schema(value_type = Vec<HandlingCodeText>)]
    pub h_codes: Vec<String>,
    /// Who the originator allows it to reach.
    pub releasability: Vec<String>,
    /// Source and information evaluation (`B2`).
    pub eval: String,
}

impl Facts {
    /// The view of logged facts.
    pub fn of(f: &MessageFacts) -> Self {
        Self {
            id: f.id.to_string(),
            kind: f.kind.clone(),
            originator: f.originator.as_str().to_owned(),
            recipients: strings(&f.recipients),
            created_at: ts(f.created_at),
            case: f.case.as_ref().map(|c| c.as_str().to_owned()),
            in_reply_to: f.in_reply_to.map(|i| i.to_string()),
            tlp: f.tlp.label().to_owned(),
            h_codes: f.eu_codes.clone(),
            releasability: strings(&f.releasability),
            eval: f.evaluation.to_string(),
        }
    }
}

/// The messages a batch receipt covers: every id, or (in a trail, which is about one
/// message) only how many.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Covered {
    /// How many messages.
    Count(usize),
    /// Their ids.
    Ids(Vec<String>),
}

/// A log event, tagged with its `type` (as the log names it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Event)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EventView {
    /// This node sent a message.
    Sent {
        /// The message's facts.
        message: Facts,
        /// Next hops.
        #[schema(value_type = Vec<NodeIdText>)]
        to: Vec<String>,
    },
    /// This node received a message.
    Received {
        /// The message's facts.
        message: Facts,
        /// The peer it came from.
        #[schema(value_type = NodeIdText)]
        from: String,
        /// The nodes it passed through.
        #[schema(value_type = Vec<NodeIdText>)]
        route: Vec<String>,
    },
    /// This node relayed a message.
    Relayed {
        /// The message's facts.
        message: Facts,
        /// The peer it came from.
        #[schema(value_type = NodeIdText)]
        from: String,
        /// Next hops.
        #[schema(value_type = Vec<NodeIdText>)]
        to: Vec<String>,
    },
    /// This node refused a message.
    Refused {
        /// Its id, if its bytes got that far.
        #[schema(value_type = Option<MessageIdText>)]
        id: Option<String>,
        /// Its facts, if it decoded.
        message: Option<Facts>,
        /// The peer concerned.
        #[schema(value_type = NodeIdText)]
        peer: String,
        /// Reason code.
        reason_code: String,
    },
    /// This node issued a receipt.
    ReceiptSent {
        /// The receipt's id.
        #[schema(value_type = MessageIdText)]
        receipt: String,
        /// To whom.
        #[schema(value_type = NodeIdText)]
        to: String,
        /// Receipt status.
        status: String,
        /// The messages it covers.
        ids: Covered,
    },
    /// This node received a receipt.
    ReceiptReceived {
        /// The receipt's id.
        #[schema(value_type = MessageIdText)]
        receipt: String,
        /// From whom.
        #[schema(value_type = NodeIdText)]
        from: String,
        /// Receipt status.
        status: String,
        /// The messages it covers.
        ids: Covered,
    },
    /// A peer refused a message of ours.
    RefusalReceived {
        /// The refusal's id.
        #[schema(value_type = MessageIdText)]
        refusal: String,
        /// The refused message.
        #[schema(value_type = MessageIdText)]
        id: String,
        /// From whom.
        #[schema(value_type = NodeIdText)]
        from: String,
        /// Reason code.
        reason_code: String,
    },
    /// An officer acknowledged a message.
    Acknowledged {
        /// The message.
        #[schema(value_type = MessageIdText)]
        id: String,
        /// Who.
        by: String,
    },
    /// An administrative act.
    Admin {
        /// What.
        act: String,
        /// Details.
        detail: String,
    },
    /// A message body was purged.
    Purged {
        /// The message.
        #[schema(value_type = MessageIdText)]
        id: String,
        /// The retention rule that applied.
        rule: String,
    },
}

impl EventView {
    /// The view of a log event. With `about`, batch receipts show how many messages they
    /// cover instead of listing every id (a trail is about one message).
    pub fn of(e: &Event, about: Option<&MessageId>) -> Self {
        let covered = |list: &[MessageId]| match about {
            Some(_) => Covered::Count(list.len()),
            None => Covered::Ids(ids(list)),
        };
        match e {
            Event::Sent { msg, to } => Self::Sent {
                message: Facts::of(msg),
                to: nodes(to),
            },
            Event::Received { msg, from, route } => Self::Received {
                message: Facts::of(msg),
                from: from.as_str().to_owned(),
                route: nodes(route),
            },
            Event::Relayed { msg, from, to } => Self::Relayed {
                message: Facts::of(msg),
                from: from.as_str().to_owned(),
                to: nodes(to),
            },
            Event::Refused {
                id,
                msg,
                peer,
                reason_code,
            } => Self::Refused {
                id: id.map(|i| i.to_string()),
                message: msg.as_ref().map(Facts::of),
                peer: peer.as_str().to_owned(),
                reason_code: reason_code.clone(),
            },
            Event::ReceiptSent {
                receipt,
                to,
                status,
                ids,
            } => Self::ReceiptSent {
                receipt: receipt.to_string(),
                to: to.as_str().to_owned(),
                status: receipt_status(*status).to_owned(),
                ids: covered(ids),
            },
            Event::ReceiptReceived {
                receipt,
                from,
                status,
                ids,
            } => Self::ReceiptReceived {
                receipt: receipt.to_string(),
                from: from.as_str().to_owned(),
                status: receipt_status(*status).to_owned(),
                ids: covered(ids),
            },
            Event::RefusalReceived {
                refusal,
                id,
                from,
                reason_code,
            } => Self::RefusalReceived {
                refusal: refusal.to_string(),
                id: id.to_string(),
                from: from.as_str().to_owned(),
                reason_code: reason_code.clone(),
            },
            Event::Acknowledged { id, by } => Self::Acknowledged {
                id: id.to_string(),
                by: by.clone(),
            },
            Event::Admin { act, detail } => Self::Admin {
                act: act.clone(),
                detail: detail.clone(),
            },
            Event::Purged { id, rule } => Self::Purged {
                id: id.to_string(),
                rule: rule.clone(),
            },
        }
    }

    /// The event's type name, as in the log (`sent`, `receipt-received`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sent { .. } => "sent",
            Self::Received { .. } => "received",
            Self::Relayed { .. } => "relayed",
            Self::Refused { .. } => "refused",
            Self::ReceiptSent { .. } => "receipt-sent",
            Self::ReceiptReceived { .. } => "receipt-received",
            Self::RefusalReceived { .. } => "refusal-received",
            Self::Acknowledged { .. } => "acknowledged",
            Self::Admin { .. } => "admin",
            Self::Purged { .. } => "purged",
        }
    }

    /// The facts of the message the event is about, when it carries them.
    pub fn message(&self) -> Option<&Facts> {
        match self {
            Self::Sent { message, .. }
            | Self::Received { message, .. }
            | Self::Relayed { message, .. } => Some(message),
            Self::Refused { message, .. } => message.as_ref(),
            _ => None,
        }
    }
}

/// One log entry with its index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = LogEntry)]
pub struct LogEntryView {
    /// Position in the log.
    pub index: u64,
    /// When it was logged.
    #[schema(value_type = TimeText)]
    pub at: String,
    /// What happened.
    pub event: EventView,
}

impl LogEntryView {
    /// The view of one log entry (`about`: see [`EventView::of`]).
    pub fn of(index: u64, entry: &LogEntry, about: Option<&MessageId>) -> Self {
        Self {
            index,
            at: ts(entry.at),
            event: EventView::of(&entry.event, about),
        }
    }
}

/// A next hop's recorded answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Hop)]
pub struct HopView {
    /// The next hop.
    #[schema(value_type = NodeIdText)]
    pub peer: String,
    /// Its answer (receipt status or refusal code).
    #[schema(pattern = "^(relayed|delivered|refused: .+)$")]
    pub outcome: String,
    /// When it answered.
    #[schema(value_type = TimeText)]
    pub at: String,
    /// Log index of the answer.
    pub leaf: u64,
    /// The receipt or refusal's id.
    #[schema(value_type = MessageIdText)]
    pub proof: String,
}

impl HopView {
    /// The view of a hop record.
    pub fn of(h: &HopRecord) -> Self {
        Self {
            peer: h.peer.as_str().to_owned(),
            outcome: h.outcome.clone(),
            at: ts(h.at),
            leaf: h.leaf,
            proof: h.proof.to_string(),
        }
    }
}

/// A one-line human summary of an entity.
pub fn entity_value(e: &Entity) -> String {
    let join = |parts: Vec<Option<String>>| -> String {
        parts.into_iter().flatten().collect::<Vec<_>>().join(" ")
    };
    match e {
        Entity::Person {
            names,
            date_of_birth,
            nationalities,
        } => join(vec![
            Some(all_names(names)),
            date_of_birth.map(|d| format!("born {}", d.to_iso())),
            (!nationalities.is_empty()).then(|| format!("({})", strings(nationalities).join(", "))),
        ]),
        Entity::Organisation { names, country } => join(vec![
            Some(all_names(names)),
            country.map(|c| format!("({c})")),
        ]),
        Entity::Document {
            kind,
            number,
            issuer,
        } => join(vec![
            Some(match kind {
                DocumentKind::Passport => "passport".to_owned(),
                DocumentKind::IdentityCard => "identity-card".to_owned(),
                DocumentKind::DrivingLicence => "driving-licence".to_owned(),
                DocumentKind::ResidencePermit => "residence-permit".to_owned(),
                DocumentKind::Other(k) => k.clone(),
            }),
            Some(number.clone()),
            issuer.map(|c| format!("({c})")),
        ]),
        Entity::Phone { number } => number.clone(),
        Entity::Email { address } => address.clone(),
        Entity::Vehicle {
            plate,
            vin,
            country,
            description,
        } => join(vec![
            plate.clone(),
            vin.as_ref().map(|v| format!("VIN {v}")),
            country.map(|c| format!("({c})")),
            description.clone(),
        ]),
        Entity::Vessel {
            name,
            imo,
            mmsi,
            flag,
        } => join(vec![
            name.clone(),
            imo.as_ref().map(|v| format!("IMO {v}")),
            mmsi.as_ref().map(|v| format!("MMSI {v}")),
            flag.map(|c| format!("({c})")),
        ]),
        Entity::Container { number } => number.clone(),
        Entity::Flight {
            number,
            date,
            from,
            to,
        } => join(vec![
            Some(number.clone()),
            date.map(|d| d.to_iso()),
            match (from, to) {
                (Some(f), Some(t)) => Some(format!("{f}→{t}")),
                (Some(f), None) => Some(format!("from {f}")),
                (None, Some(t)) => Some(format!("to {t}")),
                (None, None) => None,
            },
        ]),
        Entity::CryptoWallet { currency, address } => format!("{currency}:{address}"),
        Entity::Location {
            name,
            latitude_micro,
            longitude_micro,
            country,
        } => join(vec![
            name.clone(),
            match (latitude_micro, longitude_micro) {
                (Some(la), Some(lo)) => Some(format!(
                    "{:.6},{:.6}",
                    f64::from(*la) / 1e6,
                    f64::from(*lo) / 1e6
                )),
                _ => None,
            },
            country.map(|c| format!("({c})")),
        ]),
        Entity::Event { description, at } => join(vec![
            Some(description.clone()),
            at.map(|t| format!("at {t}")),
        ]),
    }
}

/// An entity named in a payload, as one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Entity)]
pub struct EntityView {
    /// Entity type (`person`, `vessel`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// A one-line summary (as `liaison show` prints it).
    pub value: String,
}

/// An attachment's name and size (never its content).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Attachment)]
pub struct AttachmentView {
    /// File name.
    pub name: String,
    /// Media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: usize,
}

/// A payload: language, text, entities, attachment names and sizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Payload)]
pub struct PayloadView {
    /// Language tag.
    pub language: String,
    /// Free text.
    pub text: String,
    /// Named entities.
    pub entities: Vec<EntityView>,
    /// Attachments.
    pub attachments: Vec<AttachmentView>,
}

impl PayloadView {
    /// The view of a payload.
    pub fn of(p: &Payload) -> Self {
        Self {
            language: p.language.as_str().to_owned(),
            text: p.text.clone(),
            entities: p
                .entities
                .iter()
                .map(|e| EntityView {
                    kind: e.type_name().to_owned(),
                    value: entity_value(e),
                })
                .collect(),
            attachments: p
                .attachments
                .iter()
                .map(|a| AttachmentView {
                    name: a.name.clone(),
                    media_type: a.media_type.clone(),
                    size: a.content.len(),
                })
                .collect(),
        }
    }
}

/// Why a stored message cannot be shown: its copy is damaged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Damage {
    /// Reason code.
    pub error: String,
    /// What is wrong.
    pub detail: String,
}

/// One inbox line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InboxItem {
    /// Inbox sequence number.
    pub seq: u64,
    /// Message id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Kind name.
    pub kind: String,
    /// The peer it came from (none if this node originated it).
    #[schema(value_type = Option<NodeIdText>)]
    pub from: Option<String>,
    /// Originating node.
    #[schema(value_type = NodeIdText)]
    pub originator: String,
    /// Creation time.
    #[schema(value_type = TimeText)]
    pub created_at: String,
    /// When this node logged it.
    #[schema(value_type = TimeText)]
    pub received_at: String,
    /// TLP label.
    #[schema(value_type = TlpText)]
    pub tlp: String,
    /// Handling codes.
    #[schema(value_type = Vec<HandlingCodeText>)]
    pub h_codes: Vec<String>,
    /// Evaluation.
    pub eval: String,
    /// Case id, if any.
    pub case: Option<String>,
    /// The message this one answers, if any.
    #[schema(value_type = Option<MessageIdText>)]
    pub in_reply_to: Option<String>,
    /// Acknowledged by an officer.
    pub acked: bool,
    /// Its body was purged.
    pub purged: bool,
    /// A request's urgency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<UrgencyText>)]
    pub urgency: Option<String>,
    /// A request's deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<TimeText>)]
    pub reply_by: Option<String>,
    /// A request answered: by this node, where it is an addressee; else by every addressee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<bool>,
    /// A request still open (not answered) past its deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue: Option<bool>,
    /// The first line of the text: present (possibly null) only for callers who may read
    /// content.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[allow(clippy::option_option)]
    pub first_line: Option<Option<String>>,
    /// Set when the stored copy is damaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damaged: Option<Damage>,
}

impl InboxItem {
    /// One inbox line; `content` adds the first line of the text; `answered` says whether
    /// the request it carries (if it is one) is answered.
    pub fn of(
        seq: u64,
        state: &MessageState,
        body: Option<&Body>,
        content: bool,
        answered: bool,
        now: Timestamp,
    ) -> Self {
        let f = &state.facts;
        let request = body.and_then(deadline);
        Self {
            seq,
            id: f.id.to_string(),
            kind: body.map_or(f.kind.clone(), |b| b.kind.name().to_owned()),
            from: state.from.as_ref().map(|n| n.as_str().to_owned()),
            originator: f.originator.as_str().to_owned(),
            created_at: ts(f.created_at),
            received_at: ts(state.logged_at),
            tlp: f.tlp.label().to_owned(),
            h_codes: f.eu_codes.clone(),
            eval: f.evaluation.to_string(),
            case: f.case.as_ref().map(|c| c.as_str().to_owned()),
            in_reply_to: f.in_reply_to.map(|i| i.to_string()),
            acked: state.acked,
            purged: state.purged,
            urgency: request.map(|(u, _)| urgency(u).to_owned()),
            reply_by: request.map(|(_, by)| ts(by)),
            answered: request.map(|_| answered),
            overdue: request.map(|(_, by)| !answered && now > by),
            first_line: content.then(|| body.and_then(first_line)),
            damaged: None,
        }
    }

    /// Whether the request it carries is past its deadline.
    pub fn is_overdue(&self) -> bool {
        self.overdue == Some(true)
    }

    /// The first line of its text, if shown.
    pub fn first_line(&self) -> Option<&str> {
        self.first_line.as_ref().and_then(|l| l.as_deref())
    }
}

/// A page of the inbox (`GET /v1/inbox`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InboxPage {
    /// The lines.
    pub items: Vec<InboxItem>,
    /// Where the next page starts; null after the last.
    pub next_from: Option<u64>,
}

/// A message's header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Header)]
pub struct HeaderView {
    /// Originating node.
    #[schema(value_type = NodeIdText)]
    pub originator: String,
    /// Creation time.
    #[schema(value_type = TimeText)]
    pub created_at: String,
    /// Recipients.
    pub recipients: Vec<String>,
    /// Case id, if any.
    pub case: Option<String>,
    /// The message this one answers, if any.
    #[schema(value_type = Option<MessageIdText>)]
    pub in_reply_to: Option<String>,
    /// Expiry, if any.
    #[schema(value_type = Option<TimeText>)]
    pub expires_at: Option<String>,
    /// Hops it may still take.
    pub hop_limit: u8,
}

/// A message's handling instructions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Handling)]
pub struct HandlingView {
    /// TLP label.
    #[schema(value_type = TlpText)]
    pub tlp: String,
    /// Handling codes.
    #[schema(value_type = Vec<HandlingCodeText>)]
    pub h_codes: Vec<String>,
    /// H0: for crime purposes only.
    pub h0_crime_only: bool,
    /// H1: no judicial use without consent.
    pub h1_no_judicial_use: bool,
    /// H2: the originator controls onward sharing.
    pub h2_originator_control: bool,
    /// H3: further restrictions, in words.
    pub h3_restrictions: Option<String>,
    /// Who it may reach.
    pub releasability: Vec<String>,
    /// Evaluation.
    pub eval: String,
}

/// What this node did with a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = MessageState)]
pub struct StateView {
    /// `originated`, `delivered` or `relayed`.
    #[schema(value_type = RoleText)]
    pub role: String,
    /// The peer it came from.
    #[schema(value_type = Option<NodeIdText>)]
    pub from: Option<String>,
    /// The nodes it passed through.
    #[schema(value_type = Vec<NodeIdText>)]
    pub route: Vec<String>,
    /// When this node logged it.
    #[schema(value_type = TimeText)]
    pub logged_at: String,
    /// Acknowledged by an officer.
    pub acked: bool,
    /// Its body was purged.
    pub purged: bool,
    /// Next hops that have not answered yet.
    #[schema(value_type = Vec<NodeIdText>)]
    pub pending: Vec<String>,
    /// Log indexes of every entry about it.
    pub leaves: Vec<u64>,
}

/// A request's deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = RequestState)]
pub struct RequestView {
    /// Urgency.
    #[schema(value_type = UrgencyText)]
    pub urgency: String,
    /// Deadline.
    #[schema(value_type = TimeText)]
    pub reply_by: String,
    /// Answered: by this node, where it is an addressee; else by every addressee.
    #[serde(default)]
    pub answered: bool,
    /// Still open (not answered) past the deadline.
    pub overdue: bool,
}

/// What a consent request asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Consent)]
pub struct ConsentView {
    /// The message to share.
    #[schema(value_type = MessageIdText)]
    pub target: String,
    /// With whom.
    #[schema(value_type = Vec<NodeIdText>)]
    pub to: Vec<String>,
}

/// A whole message: header, handling, content (when the caller may read it) and what this
/// node did with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Message)]
pub struct MessageView {
    /// Message id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Kind name.
    pub kind: String,
    /// Header.
    pub header: HeaderView,
    /// Handling.
    pub handling: HandlingView,
    /// This node's record of it.
    pub state: StateView,
    /// A request's deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestView>,
    /// Its payload: present (null for kinds without one) only with content.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[allow(clippy::option_option)]
    pub payload: Option<Option<PayloadView>>,
    /// A retraction's, closure's or consent request's reason (with content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A consent request's subject (with content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentView>,
}

impl MessageView {
    /// The view of a whole message; `content` adds the payload and reasons; `answered` says
    /// whether the request it carries (if it is one) is answered.
    pub fn of(
        state: &MessageState,
        body: &Body,
        route: &[NodeId],
        content: bool,
        answered: bool,
        now: Timestamp,
    ) -> Self {
        let h = &body.header;
        let hd = &body.handling;
        let mut v = Self {
            id: state.facts.id.to_string(),
            kind: body.kind.name().to_owned(),
            header: HeaderView {
                originator: h.originator.as_str().to_owned(),
                created_at: ts(h.created_at),
                recipients: strings(&h.recipients),
                case: h.case.as_ref().map(|c| c.as_str().to_owned()),
                in_reply_to: h.in_reply_to.map(|i| i.to_string()),
                expires_at: h.expires_at.map(ts),
                hop_limit: h.hop_limit,
            },
            handling: HandlingView {
                tlp: hd.tlp.label().to_owned(),
                h_codes: hd.eu_codes().into_iter().map(str::to_owned).collect(),
                h0_crime_only: hd.h0_crime_only,
                h1_no_judicial_use: hd.h1_no_judicial_use,
                h2_originator_control: hd.originator_control,
                h3_restrictions: hd.h3_restrictions.clone(),
                releasability: strings(&hd.releasability),
                eval: hd.evaluation.to_string(),
            },
            state: StateView {
                role: role(state.role).to_owned(),
                from: state.from.as_ref().map(|n| n.as_str().to_owned()),
                route: nodes(route),
                logged_at: ts(state.logged_at),
                acked: state.acked,
                purged: state.purged,
                pending: state
                    .pending
                    .iter()
                    .map(|(p, _)| p.as_str().to_owned())
                    .collect(),
                leaves: state.leaves.clone(),
            },
            request: deadline(body).map(|(u, by)| RequestView {
                urgency: urgency(u).to_owned(),
                reply_by: ts(by),
                answered,
                overdue: !answered && now > by,
            }),
            payload: None,
            reason: None,
            consent: None,
        };
        if content {
            v.payload = Some(body.kind.payload().map(PayloadView::of));
            if let Kind::Retraction { reason } | Kind::CaseClose { reason } = &body.kind {
                v.reason = Some(reason.clone());
            }
            if let Kind::ConsentRequest(r) = &body.kind {
                // What the originator's officer decides on: which message, with whom, and why.
                v.reason = Some(r.reason.clone());
                v.consent = Some(ConsentView {
                    target: r.target.to_string(),
                    to: nodes(&r.to),
                });
            }
        }
        v
    }

    /// Its payload, when shown.
    pub fn payload(&self) -> Option<&PayloadView> {
        self.payload.as_ref().and_then(Option::as_ref)
    }
}

/// Everything this node logged about one message (`GET /v1/messages/{id}/trail`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Trail {
    /// Message id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// What this node did with it.
    #[schema(value_type = RoleText)]
    pub role: String,
    /// Its logged facts.
    pub message: Facts,
    /// Every log entry about it.
    pub entries: Vec<LogEntryView>,
    /// The next hops' answers.
    pub hops: Vec<HopView>,
    /// Next hops that have not answered yet.
    #[schema(value_type = Vec<NodeIdText>)]
    pub pending: Vec<String>,
}

impl Trail {
    /// The trail of a message from its state and its log entries.
    pub fn of(id: &MessageId, state: &MessageState, entries: Vec<LogEntryView>) -> Self {
        Self {
            id: id.to_string(),
            role: role(state.role).to_owned(),
            message: Facts::of(&state.facts),
            entries,
            hops: state.hops.iter().map(HopView::of).collect(),
            pending: state
                .pending
                .iter()
                .map(|(p, _)| p.as_str().to_owned())
                .collect(),
        }
    }
}

/// An acknowledgement's outcome (`POST /v1/messages/{id}/ack`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Acked {
    /// Message id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Always true.
    pub acked: bool,
    /// It had been acknowledged before.
    pub already: bool,
}

/// A message sent (`POST /v1/messages` and every send-like command).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Sent)]
pub struct SentView {
    /// The new message's id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Log index of its `sent` entry.
    pub leaf: u64,
    /// Next hops it was queued for.
    #[schema(value_type = Vec<NodeIdText>)]
    pub next_hops: Vec<String>,
}

/// A page of the log (`GET /v1/log`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    /// Entries in the log.
    pub size: u64,
    /// Index of the first entry shown.
    pub from: u64,
    /// The entries.
    pub entries: Vec<LogEntryView>,
    /// Where the next page starts; null after the last.
    pub next_from: Option<u64>,
}

/// A consistency proof between two log sizes (`GET /v1/consistency`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Consistency {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
    /// The proof's hashes (base64, RFC 9162 order).
    pub hashes: Vec<String>,
}

/// A message due for purging and the rule that makes it due.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Due {
    /// Message id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Retention rule.
    pub rule: String,
}

/// What a purge did (`POST /v1/purge`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PurgeReport {
    /// Only listed, nothing deleted.
    pub dry_run: bool,
    /// Everything due.
    pub due: Vec<Due>,
    /// The bodies deleted.
    #[schema(value_type = Vec<MessageIdText>)]
    pub purged: Vec<String>,
}

/// A page of the checkpoints this node signed, oldest first, and how many there are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckpointPage {
    /// The notes, each as stored (later copies carry the witnesses' cosignatures).
    pub checkpoints: Vec<String>,
    /// Position of the first one.
    pub from: usize,
    /// How many checkpoints there are in all.
    pub total: usize,
    /// Position of the next page; absent after the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<usize>,
}

/// One alarm as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Alarm)]
pub struct AlarmView {
    /// Its reason code.
    pub code: String,
    /// What it is about (a message id, a peer, a file).
    pub subject: String,
    /// What happened, the last time it was raised.
    pub text: String,
    /// How often it was raised since it was first raised (or last cleared).
    pub count: u64,
    /// When it was first raised.
    #[schema(value_type = TimeText)]
    pub first_at: String,
    /// When it was last raised.
    #[schema(value_type = TimeText)]
    pub last_at: String,
}

impl AlarmView {
    /// The view of an alarm.
    pub fn of(a: &crate::alarm::Alarm) -> Self {
        Self {
            code: a.code.code().to_owned(),
            subject: a.subject.clone(),
            text: a.text.clone(),
            count: a.count,
            first_at: ts(a.first_at),
            last_at: ts(a.last_at),
        }
    }
}

/// What a check of every stored body found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ScrubReport)]
pub struct ScrubView {
    /// Batches read.
    pub batches: u64,
    /// Batches whose bodies checksum held.
    pub batches_intact: u64,
    /// Bodies checked one by one.
    pub bodies_checked: u64,
    /// Messages found damaged.
    #[schema(value_type = Vec<MessageIdText>)]
    pub damaged: Vec<MessageId>,
    /// Signed answers kept for auditors found damaged, by log entry.
    pub damaged_answers: Vec<u64>,
    /// Offsets of damaged batches no body in them explains.
    pub unexplained: Vec<u64>,
    /// When it finished (none if it was stopped before the end).
    #[schema(value_type = Option<TimeText>)]
    pub finished_at: Option<String>,
}

impl ScrubView {
    /// The view of a scrub report.
    pub fn of(r: &crate::store::ScrubReport) -> Self {
        Self {
            batches: r.batches,
            batches_intact: r.batches_intact,
            bodies_checked: r.bodies_checked,
            damaged: r.damaged.clone(),
            damaged_answers: r.damaged_answers.clone(),
            unexplained: r.unexplained.clone(),
            finished_at: r.finished_at.map(ts),
        }
    }
}

/// One peer in the status report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = PeerStatus)]
pub struct PeerView {
    /// Peer node id.
    #[schema(value_type = NodeIdText)]
    pub node: String,
    /// Configured address.
    pub address: String,
    /// Outbound session established.
    pub connected: bool,
    /// When the current state began (milliseconds since the Unix epoch).
    pub since: Option<u64>,
    /// Last error seen on this peer.
    pub last_error: Option<String>,
    /// Messages sent on the current session.
    pub sent: u64,
    /// Receipts received on the current session.
    pub receipts: u64,
    /// Messages waiting for this peer's receipt.
    pub outbox: u64,
    /// Bytes of the messages waiting for this peer's receipt.
    #[serde(default)]
    pub outbox_bytes: u64,
    /// The outbox is at its limit: bulk traffic to this peer is refused (`outbox-full`);
    /// alerts and urgent requests still get in up to the ceiling.
    #[serde(default)]
    pub outbox_full: bool,
    /// Most messages waiting for this peer before bulk traffic is refused.
    #[serde(default)]
    pub outbox_max_messages: u64,
    /// Most bytes waiting for this peer before bulk traffic is refused.
    #[serde(default)]
    pub outbox_max_bytes: u64,
    /// Sends refused since the node started because this outbox was full.
    #[serde(default)]
    pub outbox_refused: u64,
    /// When the certificate the peer presented on its current or last connection ends.
    #[serde(default)]
    #[schema(value_type = Option<TimeText>)]
    pub certificate_expires_at: Option<String>,
}

/// The node's status report (`GET /v1/status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Status)]
pub struct StatusView {
    /// This node.
    #[schema(value_type = NodeIdText)]
    pub node: String,
    /// QUIC address.
    pub listen: String,
    /// Log entries.
    pub log_size: u64,
    /// Current tree root (hex).
    pub log_root: String,
    /// Last signed checkpoint.
    pub last_checkpoint: Option<String>,
    /// Inbox messages not yet acknowledged.
    pub unread: u64,
    /// Peers.
    pub peers: Vec<PeerView>,
    /// Alarms raised since start-up (or since a supervisor cleared them).
    pub alarms: Vec<AlarmView>,
    /// Store size on disk, bytes.
    pub disk_bytes: u64,
    /// Messages whose stored copy is damaged.
    pub damaged_messages: u64,
    /// The last check of every stored body.
    pub store_check: Option<ScrubView>,
    /// Case messages of this node that a recipient has not received after
    /// `cases.gap_after_secs`, oldest first (shown only to those who may read content).
    #[serde(default)]
    pub case_gaps: Vec<CaseGapView>,
    /// What ends — certificates this node presents, CAs it trusts and their CRLs' next
    /// updates, peers' certificates — soonest first; alarms at 30 and 7 days.
    #[serde(default)]
    pub expiries: Vec<ExpiryView>,
}

/// Something that ends: a certificate's validity, or a CRL's currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Expiry)]
pub struct ExpiryView {
    /// What it is: `identity <node>`, `CA <name>`, `CRL of CA <name>`, `peer <node>`, …
    pub what: String,
    /// When it ends.
    #[schema(value_type = TimeText)]
    pub at: String,
    /// Whole days left (negative once it has ended).
    pub days_left: i64,
}

/// A case message of this node that some recipient has not received yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = CaseGap)]
pub struct CaseGapView {
    /// The case.
    pub case: String,
    /// The message's id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// When it was written.
    #[schema(value_type = TimeText)]
    pub at: String,
    /// The recipients whose signed receipt has not come back.
    #[schema(value_type = Vec<NodeIdText>)]
    pub waiting: Vec<String>,
}

/// The peers' status (`GET /v1/peers`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Peers {
    /// One per configured peer.
    pub peers: Vec<PeerView>,
}

/// What clearing the alarms did (`POST /v1/alarms/clear`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Cleared {
    /// The alarms cleared.
    pub cleared: Vec<AlarmView>,
    /// The log entry recording it (none when there was nothing to clear).
    pub leaf: Option<u64>,
}

/// An API error's body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Reason code.
    pub error: String,
    /// What went wrong.
    pub detail: String,
    /// The request's id, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub request_id: Option<String>,
}

/// A case's handling, as every message of the case carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseHandling {
    /// TLP label.
    #[schema(value_type = TlpText)]
    pub tlp: String,
    /// Who it may reach.
    pub releasability: Vec<String>,
    /// Handling codes.
    #[schema(value_type = Vec<HandlingCodeText>)]
    pub handling_codes: Vec<String>,
    /// H3 restrictions, in words.
    pub h3_restrictions: Option<String>,
    /// Evaluation.
    pub evaluation: String,
}

/// A participant's standing in a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseMember {
    /// The node.
    #[schema(value_type = NodeIdText)]
    pub node: String,
    /// `invited`, `member`, …
    #[schema(value_type = StandingText)]
    pub standing: String,
    /// Since when.
    #[schema(value_type = TimeText)]
    pub since: String,
}

/// An update posted to a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseUpdate {
    /// The message's id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Who posted it.
    #[schema(value_type = NodeIdText)]
    pub from: String,
    /// When.
    #[schema(value_type = TimeText)]
    pub at: String,
    /// TLP label.
    #[schema(value_type = TlpText)]
    pub tlp: String,
    /// To whom.
    #[schema(value_type = Vec<NodeIdText>)]
    pub recipients: Vec<String>,
    /// Its content.
    pub payload: PayloadView,
}

/// A task of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = CaseTask)]
pub struct CaseTaskView {
    /// The task's id (the message that created it).
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Title.
    pub title: String,
    /// Assigned node.
    #[schema(value_type = NodeIdText)]
    pub assignee: String,
    /// Deadline, if any.
    pub due: Option<String>,
    /// Status name.
    #[schema(value_type = TaskStatusText)]
    pub status: String,
    /// Who created it.
    #[schema(value_type = NodeIdText)]
    pub created_by: String,
    /// Last change.
    #[schema(value_type = TimeText)]
    pub updated_at: String,
    /// Latest note.
    pub note: String,
}

/// Why a case message had no effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseRefusal {
    /// Reason code.
    pub code: String,
    /// What was wrong.
    pub detail: String,
}

/// One line of a case's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    /// The message's id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Its creation time.
    #[schema(value_type = TimeText)]
    pub at: String,
    /// Its originator.
    #[schema(value_type = NodeIdText)]
    pub from: String,
    /// Its kind name.
    pub kind: String,
    /// What it did, in a few words.
    pub summary: String,
    /// Why it had no effect, if it had none.
    pub refused: Option<CaseRefusal>,
}

/// A case as this node derives it (`GET /v1/cases/{id}`, `liaison case show --json`): only
/// what the participants' messages say, so participants holding the same messages show the
/// same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Case)]
pub struct CaseView {
    /// Case id.
    pub case: String,
    /// Title.
    pub title: Option<String>,
    /// Summary payload.
    pub summary: Option<PayloadView>,
    /// Lead node.
    #[schema(value_type = Option<NodeIdText>)]
    pub lead: Option<String>,
    /// The node that opened it.
    #[schema(value_type = Option<NodeIdText>)]
    pub opener: Option<String>,
    /// When it was opened.
    #[schema(value_type = Option<TimeText>)]
    pub opened_at: Option<String>,
    /// Status name.
    #[schema(value_type = CaseStatusText)]
    pub status: String,
    /// Why the status last changed.
    pub status_reason: Option<String>,
    /// The case's handling.
    pub handling: Option<CaseHandling>,
    /// Participating nodes.
    #[schema(value_type = Vec<NodeIdText>)]
    pub participants: Vec<String>,
    /// Every node's standing.
    pub members: Vec<CaseMember>,
    /// Updates posted.
    pub updates: Vec<CaseUpdate>,
    /// Tasks.
    pub tasks: Vec<CaseTaskView>,
    /// Every message of the case, in order.
    pub timeline: Vec<TimelineEntry>,
    /// This node's own case messages and where each stands with each recipient (only the
    /// originator learns it; the rest of the view is the same at every participant holding the
    /// same messages).
    #[serde(default)]
    pub deliveries: Vec<CaseDelivery>,
    /// This node's updates and tasks written before a participant joined, per participant
    /// that has not received them: by default a participant receives only what is written
    /// after it joined; `POST /v1/cases/{case}/history` shares these with it.
    #[serde(default)]
    pub earlier: Vec<CaseEarlier>,
}

/// This node's case messages written before a participant joined that it has not received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseEarlier {
    /// The participant.
    #[schema(value_type = NodeIdText)]
    pub node: String,
    /// The messages' ids, oldest first.
    #[schema(value_type = Vec<MessageIdText>)]
    pub messages: Vec<String>,
}

/// Where one of this node's case messages stands with its recipients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseDelivery {
    /// The message's id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Each recipient and its signed answer.
    pub recipients: Vec<CaseReceipt>,
}

/// One recipient's answer about a case message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseReceipt {
    /// The recipient.
    #[schema(value_type = NodeIdText)]
    pub node: String,
    /// `delivered`, `refused: <code>`, or `waiting` (no answer yet).
    #[schema(pattern = "^(delivered|waiting|refused: .+)$")]
    pub state: String,
}

impl CaseView {
    /// The recipients of this node's message `id` that have not answered yet.
    pub fn waiting_for(&self, id: &str) -> Vec<&str> {
        self.deliveries
            .iter()
            .filter(|d| d.id == id)
            .flat_map(|d| &d.recipients)
            .filter(|r| r.state == "waiting")
            .map(|r| r.node.as_str())
            .collect()
    }

    /// The view of a derived case.
    pub fn of(s: &CaseState) -> Self {
        Self {
            case: s.id.as_str().to_owned(),
            title: s.title.clone(),
            summary: s.summary.as_ref().map(PayloadView::of),
            lead: s.lead.as_ref().map(|n| n.as_str().to_owned()),
            opener: s.opener.as_ref().map(|n| n.as_str().to_owned()),
            opened_at: s.opened_at.map(ts),
            status: s.status.name().to_owned(),
            status_reason: s.status_reason.clone(),
            handling: s.handling.as_ref().map(|h| CaseHandling {
                tlp: h.tlp.label().to_owned(),
                releasability: strings(&h.releasability),
                handling_codes: h.eu_codes().into_iter().map(str::to_owned).collect(),
                h3_restrictions: h.h3_restrictions.clone(),
                evaluation: h.evaluation.to_string(),
            }),
            participants: nodes(&s.participants()),
            members: s
                .members
                .iter()
                .map(|(n, m)| CaseMember {
                    node: n.as_str().to_owned(),
                    standing: m.status.name().to_owned(),
                    since: ts(m.since),
                })
                .collect(),
            updates: s
                .updates
                .iter()
                .map(|u| CaseUpdate {
                    id: u.id.to_string(),
                    from: u.from.as_str().to_owned(),
                    at: ts(u.at),
                    tlp: u.handling.tlp.label().to_owned(),
                    recipients: strings(&u.recipients),
                    payload: PayloadView::of(&u.payload),
                })
                .collect(),
            tasks: s
                .tasks
                .iter()
                .map(|t| CaseTaskView {
                    id: t.id.to_string(),
                    title: t.title.clone(),
                    assignee: t.assignee.as_str().to_owned(),
                    due: t.due.map(ts),
                    status: t.status.name().to_owned(),
                    created_by: t.created_by.as_str().to_owned(),
                    updated_at: ts(t.updated_at),
                    note: t.note.clone(),
                })
                .collect(),
            timeline: s
                .timeline
                .iter()
                .map(|e| TimelineEntry {
                    id: e.id.to_string(),
                    at: ts(e.at),
                    from: e.from.as_str().to_owned(),
                    kind: e.kind.to_owned(),
                    summary: e.summary.clone(),
                    refused: e.refused.as_ref().map(|r| CaseRefusal {
                        code: r.code.as_str().to_owned(),
                        detail: r.detail.clone(),
                    }),
                })
                .collect(),
            deliveries: Vec::new(),
            earlier: Vec::new(),
        }
    }
}

/// One line per case (`liaison case list`, `GET /v1/cases`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = CaseLine)]
pub struct CaseSummary {
    /// Case id.
    pub case: String,
    /// Title.
    pub title: Option<String>,
    /// Lead node.
    #[schema(value_type = Option<NodeIdText>)]
    pub lead: Option<String>,
    /// Status name.
    #[schema(value_type = CaseStatusText)]
    pub status: String,
    /// This node's standing (`lead`, `member`, …, `-`).
    #[schema(value_type = OwnStandingText)]
    pub standing: String,
    /// How many participants.
    pub participants: usize,
    /// How many updates.
    pub updates: usize,
    /// How many tasks are open or in progress.
    pub open_tasks: usize,
    /// The last message's time.
    #[schema(value_type = Option<TimeText>)]
    pub last_activity: Option<String>,
}

impl CaseSummary {
    /// The summary line of a case as node `me` sees it.
    pub fn of(s: &CaseState, me: &NodeId) -> Self {
        use liaison_protocol::case::TaskStatus;
        Self {
            case: s.id.as_str().to_owned(),
            title: s.title.clone(),
            lead: s.lead.as_ref().map(|n| n.as_str().to_owned()),
            status: s.status.name().to_owned(),
            standing: if s.lead.as_ref() == Some(me) {
                "lead"
            } else {
                s.standing(me).map_or("-", |m| m.name())
            }
            .to_owned(),
            participants: s.participants().len(),
            updates: s.updates.len(),
            open_tasks: s
                .tasks
                .iter()
                .filter(|t| matches!(t.status, TaskStatus::Open | TaskStatus::InProgress))
                .count(),
            last_activity: s.timeline.last().map(|e| ts(e.at)),
        }
    }
}

/// Every case this node holds (`GET /v1/cases`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseList {
    /// One line per case.
    pub cases: Vec<CaseSummary>,
}

/// A case message sent (`POST /v1/cases` and the case actions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseSent {
    /// Case id.
    pub case: String,
    /// The message's id.
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// Next hops it was queued for.
    #[schema(value_type = Vec<NodeIdText>)]
    pub next_hops: Vec<String>,
}

/// What sharing a case's earlier messages with participants did
/// (`POST /v1/cases/{case}/history`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseHistory {
    /// Case id.
    pub case: String,
    /// One entry per earlier message of this node, oldest first.
    pub messages: Vec<CaseHistoryShare>,
}

/// One earlier message shared (or not) with participants that joined after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CaseHistoryShare {
    /// The message's id (the original).
    #[schema(value_type = MessageIdText)]
    pub id: String,
    /// The participants it was for.
    #[schema(value_type = Vec<NodeIdText>)]
    pub to: Vec<String>,
    /// The share sent, if it was.
    #[schema(value_type = Option<MessageIdText>)]
    pub share: Option<String>,
    /// Why it was not (its handling does not release it to them…), if it was not.
    pub refused: Option<String>,
}

/// The request deadline of a body, if it is a request: `(urgency, reply_by)`.
pub fn deadline(body: &Body) -> Option<(Urgency, Timestamp)> {
    match &body.kind {
        Kind::Request {
            urgency, reply_by, ..
        } => Some((*urgency, *reply_by)),
        _ => None,
    }
}

/// The first line of a body's text (retraction reasons included), at most 120 characters.
pub fn first_line(body: &Body) -> Option<String> {
    let described;
    let text = match &body.kind {
        Kind::Retraction { reason }
        | Kind::CaseClose { reason }
        | Kind::CaseRemove { reason, .. }
        | Kind::CaseStatus { reason, .. } => reason.as_str(),
        Kind::CaseTask(t) => {
            described = format!("{} → {} ({})", t.title, t.assignee, t.status.name());
            described.as_str()
        }
        Kind::Deconfliction(o) => {
            described = format!(
                "overlap: a {} of your message {} is also held by {}",
                o.kind.name(),
                o.yours.short(),
                o.other
            );
            described.as_str()
        }
        k => k.payload().map(|p| p.text.as_str())?,
    };
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut out: String = line.chars().take(120).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    Some(out)
}

/// Every written form of a name, as one line.
fn all_names(names: &[liaison_protocol::entity::Name]) -> String {
    names
        .iter()
        .map(|n| n.value.as_str())
        .collect::<Vec<_>>()
        .join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use liaison_protocol::sample;

    #[test]
    fn first_line_skips_blank_lines_and_truncates() {
        let mut body = sample::alert();
        if let Kind::Alert(p) = &mut body.kind {
            p.text = format!("\n  Shipment via Aktau  \nsecond line {}", "x".repeat(10));
        }
        assert_eq!(first_line(&body).unwrap(), "Shipment via Aktau");
        if let Kind::Alert(p) = &mut body.kind {
            p.text = "y".repeat(300);
        }
        assert_eq!(first_line(&body).unwrap().chars().count(), 121);
    }

    #[test]
    fn views_read_back_serialise_as_written() {
        let body = sample::alert();
        let id = MessageId::of_body(&body.encode().unwrap());
        let e = EventView::of(
            &Event::Acknowledged {
                id,
                by: "officer".into(),
            },
            None,
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], e.name());
        assert_eq!(serde_json::from_value::<EventView>(json).unwrap(), e);
        // A field present as null stays present as null.
        let text = r#"{"items":[{"seq":1,"id":"ab","kind":"alert","from":null,"originator":"a.b",
            "created_at":"t","received_at":"t","tlp":"TLP:GREEN","h_codes":[],"eval":"B2",
            "case":null,"in_reply_to":null,"acked":false,"purged":false,"first_line":null}],
            "next_from":null}"#;
        let page: InboxPage = serde_json::from_str(text).unwrap();
        assert_eq!(page.items[0].first_line, Some(None));
        let again = serde_json::to_value(&page).unwrap();
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
    }

    #[test]
    fn a_request_is_overdue_only_while_it_is_open() {
        let body = sample::every_kind()
            .into_iter()
            .find(|b| matches!(b.kind, Kind::Request { .. }))
            .expect("a sample request");
        let (_, by) = deadline(&body).expect("a deadline");
        let id = MessageId::of_body(&body.encode().unwrap());
        let state = MessageState {
            facts: MessageFacts::of(id, &body),
            role: crate::store::Role::Delivered,
            from: None,
            logged_at: body.header.created_at,
            leaves: vec![0],
            pending: vec![],
            hops: vec![],
            inbox_seq: Some(0),
            acked: false,
            purged: false,
        };
        let late = by.plus_millis(1);
        let before = Timestamp(by.millis() - 1);
        for (answered, now, overdue) in [
            (false, before, false),
            (false, late, true),
            (true, late, false),
            (true, before, false),
        ] {
            let i = InboxItem::of(0, &state, Some(&body), true, answered, now);
            assert_eq!(i.answered, Some(answered));
            assert_eq!(i.is_overdue(), overdue, "answered {answered}, at {now:?}");
            let v = MessageView::of(&state, &body, &[], true, answered, now);
            let r = v.request.expect("a request view");
            assert_eq!((r.answered, r.overdue), (answered, overdue));
        }
        // Not a request: neither answered nor overdue, whatever the time.
        let alert = sample::alert();
        let i = InboxItem::of(0, &state, Some(&alert), true, false, late);
        assert_eq!((i.answered, i.overdue), (None, None));
    }

    #[test]
    fn log_events_carry_no_content() {
        let body = sample::alert();
        let id = MessageId::of_body(&body.encode().unwrap());
        let text = body.kind.payload().unwrap().text.clone();
        let e = Event::Sent {
            msg: MessageFacts::of(id, &body),
            to: vec!["kz-dcu.central-asia".parse().unwrap()],
        };
        let v = serde_json::to_string(&EventView::of(&e, None)).unwrap();
        assert!(v.contains(&id.to_string()));
        assert!(!v.contains(&text));
    }
}
