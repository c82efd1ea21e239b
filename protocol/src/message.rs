//! The message body: header, handling block and kind-specific content.
//!
//! A body is encoded once by its originator ([`Body::encode`]), signed over those exact
//! bytes, and never re-encoded: relays forward the bytes, verifiers decode them with
//! [`Body::decode`], which refuses unknown versions, unknown kinds, trailing bytes,
//! non-canonical encodings and bodies that break a limit or a composition rule.

use serde::{Deserialize, Serialize};

use crate::entity::{limit, Payload};
use crate::error::DecodeError;
use crate::handling::{check_composition, Addressing, Handling, Recipient};
use crate::ids::{CaseId, MessageId, NodeId, Timestamp};
use crate::limits::*;

/// The body format version this crate writes and reads. The first byte of every body.
pub const FORMAT_VERSION: u8 = 1;

/// Routing and identity facts about a message, signed by the originator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The node that wrote and signed the message.
    pub originator: NodeId,
    /// When the originator created it (UTC, originator's clock).
    pub created_at: Timestamp,
    /// Random bytes from the originator, so two identical messages have distinct ids.
    pub nonce: [u8; 16],
    /// Addressees: nodes and/or whole networks. Sorted, no duplicates.
    pub recipients: Vec<Recipient>,
    /// The shared case this message belongs to, if any.
    pub case: Option<CaseId>,
    /// The message this one answers or refers to, if any.
    pub in_reply_to: Option<MessageId>,
    /// After this instant, relays refuse to forward it.
    pub expires_at: Option<Timestamp>,
    /// Maximum number of hops the message may take, the last (to the recipient) included:
    /// `h` allows `h - 1` relays.
    pub hop_limit: u8,
}

impl Header {
    /// The associated data a sealed body's content is bound to: originator, creation time
    /// and nonce, so sealed content cannot be moved into another message.
    pub fn seal_aad(&self) -> Vec<u8> {
        const DOMAIN: &[u8] = b"liaison/v1/sealed-body\0";
        let originator = self.originator.as_str().as_bytes();
        let mut aad =
            Vec::with_capacity(DOMAIN.len() + originator.len() + 1 + 8 + self.nonce.len());
        aad.extend_from_slice(DOMAIN);
        aad.extend_from_slice(originator);
        aad.push(0);
        aad.extend_from_slice(&self.created_at.millis().to_be_bytes());
        aad.extend_from_slice(&self.nonce);
        aad
    }
}

/// How quickly a request must be answered (EU Directive 2023/977 deadlines).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Urgency {
    /// Urgent: 8 hours.
    Urgent,
    /// Standard with direct access: 3 days.
    ThreeDays,
    /// Standard: 7 days.
    SevenDays,
}

impl Urgency {
    /// The deadline that goes with this urgency, in milliseconds from creation.
    pub fn deadline_millis(self) -> u64 {
        match self {
            Urgency::Urgent => 8 * 3_600_000,
            Urgency::ThreeDays => 3 * 86_400_000,
            Urgency::SevenDays => 7 * 86_400_000,
        }
    }
}

/// What a hop says it did with the messages a receipt covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReceiptStatus {
    /// Durably logged and queued for the next hop (a relay's receipt).
    Relayed,
    /// Durably logged and delivered to the node's inbox (the destination's receipt).
    Delivered,
}

impl ReceiptStatus {
    /// The status as trails show it: `relayed` or `delivered`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Relayed => "relayed",
            Self::Delivered => "delivered",
        }
    }
}

/// A signed acknowledgement covering one or more messages (one signature per batch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// What the receipting node did.
    pub status: ReceiptStatus,
    /// The messages covered. Sorted, no duplicates.
    pub ids: Vec<MessageId>,
}

/// A hop's signed statement that it refused a message, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The refused message.
    pub target: MessageId,
    /// Stable reason code (see `docs/REASONS.md`).
    pub reason_code: String,
    /// Human detail (never payload content).
    pub detail: String,
}

/// Signed answers (receipts, refusals) of hops beyond the reporting relay, carried back to
/// the originator of the messages they answer so that its trail shows every hop. Each answer
/// is verified on its own; the report adds only who carried it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopReport {
    /// The answers, exactly as their hops signed them.
    pub answers: Vec<crate::signing::SignedMessage>,
}

/// The kind of a message and its kind-specific content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// Unsolicited intelligence.
    Alert(Payload),
    /// A request for information, with a reply deadline.
    Request {
        /// What is asked.
        payload: Payload,
        /// Urgency class.
        urgency: Urgency,
        /// Reply due by.
        reply_by: Timestamp,
    },
    /// An answer to a request (`in_reply_to` is required).
    Reply(Payload),
    /// Opens a shared case (`case` is required).
    CaseOpen {
        /// Case title.
        title: String,
        /// Summary and initial content.
        payload: Payload,
        /// Lead centre's node.
        lead: NodeId,
    },
    /// Invites a node to a case (from the case's lead, to the members and the invitee). It
    /// carries what the invitee needs to follow the case from here on: title, summary, lead
    /// and the members as the lead knows them.
    CaseInvite {
        /// The node invited.
        invitee: NodeId,
        /// Note to the invitee.
        note: Payload,
        /// Case title.
        title: String,
        /// Case summary, as opened.
        summary: Payload,
        /// The lead centre's node.
        lead: NodeId,
        /// Participants when invited (lead included). Sorted, no duplicates.
        members: Vec<NodeId>,
        /// Nodes invited and not yet answered. Sorted, no duplicates.
        pending: Vec<NodeId>,
    },
    /// Accepts (or declines) an invitation to a case.
    CaseJoin {
        /// True to join, false to decline.
        accept: bool,
    },
    /// New content in a case.
    CaseUpdate(Payload),
    /// Closes a case.
    CaseClose {
        /// Why.
        reason: String,
    },
    /// Acknowledges messages.
    Receipt(Receipt),
    /// Withdraws an earlier message of the same originator (`in_reply_to` names it).
    Retraction {
        /// Why.
        reason: String,
    },
    /// Refuses a message.
    Refusal(Refusal),
    /// A relay carries later hops' signed receipts and refusals back to the originator.
    HopReport(HopReport),
    /// Content sealed to its recipients: the kind it declares (`alert`, `request`, …) and
    /// the sealed encoding of that kind ([`crate::seal`]).
    Sealed(SealedContent),
    /// A node's sealing public key, signed by the node (carried in route announcements).
    SealingKey(crate::seal::SealingKey),
    /// What a node can reach for its direct peer, and the sealing keys it knows.
    Announce(crate::routing::Announcement),
    /// Asks an originator's consent to share one of its messages with further nodes.
    ConsentRequest(ConsentRequest),
    /// The originator's answer to a consent request.
    ConsentAnswer(ConsentAnswer),
    /// Someone else's message, shared onward under its originator's consent.
    Share(Share),
    /// Removes a participant from a case (by the lead), or a participant leaves it (by itself).
    CaseRemove {
        /// The node removed (the sender itself when leaving).
        participant: NodeId,
        /// Why.
        reason: String,
    },
    /// Suspends or resumes a case (by the lead).
    CaseStatus {
        /// True to suspend, false to resume.
        suspended: bool,
        /// Why.
        reason: String,
    },
    /// Creates a task in a case, or changes one.
    CaseTask(crate::case::TaskChange),
    /// Keyed hashes of the selectors a message carries, for the deconfliction service.
    Selectors(crate::selector::Selectors),
    /// The deconfliction service's notice: a selector of one of this node's messages is also
    /// held by another centre.
    Deconfliction(crate::selector::Overlap),
}

/// A content kind: what an officer writes, as opposed to the control messages the nodes
/// exchange. Only content kinds are sealed; a sealed body declares its content kind by name
/// ([`SealedContent::kind`]), so the name is part of the wire format and never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContentKind {
    /// `alert`: unsolicited intelligence.
    Alert,
    /// `request`: a request for information.
    Request,
    /// `reply`: an answer to a request.
    Reply,
    /// `case-open`: opens a shared case.
    CaseOpen,
    /// `case-invite`: invites a node to a case.
    CaseInvite,
    /// `case-join`: accepts or declines an invitation.
    CaseJoin,
    /// `case-update`: new content in a case.
    CaseUpdate,
    /// `case-close`: closes a case.
    CaseClose,
    /// `retraction`: withdraws an earlier message.
    Retraction,
    /// `case-remove`: removes a participant from a case, or a participant leaves.
    CaseRemove,
    /// `case-status`: suspends or resumes a case.
    CaseStatus,
    /// `case-task`: creates or changes a task in a case.
    CaseTask,
    /// `selectors`: keyed hashes of a message's selectors, for the deconfliction service.
    Selectors,
    /// `deconfliction`: the deconfliction service's notice of an overlap.
    Deconfliction,
    /// `consent-request`: asks an originator's consent to share its message onward.
    ConsentRequest,
}

impl ContentKind {
    /// Every content kind.
    pub const ALL: [ContentKind; 15] = [
        ContentKind::Alert,
        ContentKind::Request,
        ContentKind::Reply,
        ContentKind::CaseOpen,
        ContentKind::CaseInvite,
        ContentKind::CaseJoin,
        ContentKind::CaseUpdate,
        ContentKind::CaseClose,
        ContentKind::Retraction,
        ContentKind::CaseRemove,
        ContentKind::CaseStatus,
        ContentKind::CaseTask,
        ContentKind::Selectors,
        ContentKind::Deconfliction,
        ContentKind::ConsentRequest,
    ];

    /// The kind's name as the wire, logs and retention rules write it, e.g. `case-update`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Alert => "alert",
            ContentKind::Request => "request",
            ContentKind::Reply => "reply",
            ContentKind::CaseOpen => "case-open",
            ContentKind::CaseInvite => "case-invite",
            ContentKind::CaseJoin => "case-join",
            ContentKind::CaseUpdate => "case-update",
            ContentKind::CaseClose => "case-close",
            ContentKind::Retraction => "retraction",
            ContentKind::CaseRemove => "case-remove",
            ContentKind::CaseStatus => "case-status",
            ContentKind::CaseTask => "case-task",
            ContentKind::Selectors => "selectors",
            ContentKind::Deconfliction => "deconfliction",
            ContentKind::ConsentRequest => "consent-request",
        }
    }

    /// The content kind named `name`, or [`UnknownContentKind`].
    pub fn parse(name: &str) -> Result<Self, UnknownContentKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| UnknownContentKind(name.to_owned()))
    }

    /// Whether this kind belongs to a case's own conversation (a `case-*` kind, which must
    /// name its case).
    pub fn is_case(self) -> bool {
        match self {
            ContentKind::CaseOpen
            | ContentKind::CaseInvite
            | ContentKind::CaseJoin
            | ContentKind::CaseUpdate
            | ContentKind::CaseClose
            | ContentKind::CaseRemove
            | ContentKind::CaseStatus
            | ContentKind::CaseTask => true,
            ContentKind::Alert
            | ContentKind::Request
            | ContentKind::Reply
            | ContentKind::Retraction
            | ContentKind::Selectors
            | ContentKind::Deconfliction
            | ContentKind::ConsentRequest => false,
        }
    }
}

impl std::fmt::Display for ContentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ContentKind {
    type Err = UnknownContentKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A control kind: a message the nodes exchange about other messages, keys and routes, never
/// sealed. Its name is what logs, trails and retention rules show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControlKind {
    /// `receipt`: a hop acknowledges messages.
    Receipt,
    /// `refusal`: a hop refuses a message.
    Refusal,
    /// `hop-report`: a relay carries later hops' answers back to the originator.
    HopReport,
    /// `sealing-key`: a node's signed sealing public key.
    SealingKey,
    /// `announce`: what a node can reach, for its direct peer.
    Announce,
    /// `consent-answer`: an originator's answer to a consent request.
    ConsentAnswer,
    /// `share`: someone else's message, shared onward under its originator's consent.
    Share,
}

impl ControlKind {
    /// Every control kind.
    pub const ALL: [ControlKind; 7] = [
        ControlKind::Receipt,
        ControlKind::Refusal,
        ControlKind::HopReport,
        ControlKind::SealingKey,
        ControlKind::Announce,
        ControlKind::ConsentAnswer,
        ControlKind::Share,
    ];

    /// The kind's name as logs and trails write it, e.g. `hop-report`.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlKind::Receipt => "receipt",
            ControlKind::Refusal => "refusal",
            ControlKind::HopReport => "hop-report",
            ControlKind::SealingKey => "sealing-key",
            ControlKind::Announce => "announce",
            ControlKind::ConsentAnswer => "consent-answer",
            ControlKind::Share => "share",
        }
    }
}

impl std::fmt::Display for ControlKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the [`ContentKind`]s.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a content kind (alert, request, reply, case-open, …)")]
pub struct UnknownContentKind(pub String);

/// A content kind sealed to the recipients. Its name stays readable (relays, logs and
/// retention rules see `alert` or `request`, as they see the handling block); everything
/// else is sealed, and opening checks that the sealed kind is the one declared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedContent {
    /// The name of the sealed kind, one of the [`ContentKind`] names. A string on the wire, so
    /// that a body declaring an unknown kind decodes and is refused by [`Body::validate`]
    /// with a reason; read it with [`SealedContent::content_kind`].
    pub kind: String,
    /// The sealed postcard encoding of the kind.
    pub content: crate::seal::Sealed,
}

impl SealedContent {
    /// The declared content kind, or [`UnknownContentKind`].
    pub fn content_kind(&self) -> Result<ContentKind, UnknownContentKind> {
        ContentKind::parse(&self.kind)
    }
}

/// Asks the originator of `target` (an originator-controlled message) to let the sender
/// share it with `to`. A content kind: sealed to the originator and the sender, so the
/// gateways on the way see neither the reason nor whom the sender wants to share with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRequest {
    /// The message to share.
    pub target: MessageId,
    /// The nodes to share it with. Sorted, no duplicates.
    pub to: Vec<NodeId>,
    /// Why (shown to the originator's officer).
    pub reason: String,
}

/// The originator's answer to a consent request: a grant widens the releasability of
/// `target`, for that message only, to `to` until `expires_at`; the content is re-sealed by
/// the originator for the new recipients (a relay never re-seals).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentAnswer {
    /// The message concerned.
    pub target: MessageId,
    /// The nodes concerned. Sorted, no duplicates.
    pub to: Vec<NodeId>,
    /// Granted or denied.
    pub granted: bool,
    /// A grant is void from this instant.
    pub expires_at: Option<Timestamp>,
    /// The target's content sealed to `to` (grants of sealed messages).
    pub resealed: Option<SealedContent>,
    /// The officer's note. In the clear, like the whole answer: gateways and the nodes a
    /// message is shared with check grants, so they read it too.
    pub reason: String,
}

/// A message shared onward by one of its recipients, with the originator's grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The original message, as its originator signed it.
    pub original: crate::signing::SignedMessage,
    /// The originator's signed consent answers that allow it.
    pub grants: Vec<crate::signing::SignedMessage>,
}

impl Kind {
    /// Lower-case kind name, e.g. `alert`, `case-update`: the content kind's or the control
    /// kind's name (`sealed` for sealed content declaring no content kind).
    pub fn name(&self) -> &'static str {
        match (self.content_kind(), self.control_kind()) {
            (Some(k), _) => k.as_str(),
            (None, Some(k)) => k.as_str(),
            (None, None) => "sealed",
        }
    }

    /// The control kind of this kind, `None` for content (clear or sealed).
    pub fn control_kind(&self) -> Option<ControlKind> {
        match self {
            Kind::Receipt(_) => Some(ControlKind::Receipt),
            Kind::Refusal(_) => Some(ControlKind::Refusal),
            Kind::HopReport(_) => Some(ControlKind::HopReport),
            Kind::SealingKey(_) => Some(ControlKind::SealingKey),
            Kind::Announce(_) => Some(ControlKind::Announce),
            Kind::ConsentAnswer(_) => Some(ControlKind::ConsentAnswer),
            Kind::Share(_) => Some(ControlKind::Share),
            Kind::Alert(_)
            | Kind::Request { .. }
            | Kind::Reply(_)
            | Kind::CaseOpen { .. }
            | Kind::CaseInvite { .. }
            | Kind::CaseJoin { .. }
            | Kind::CaseUpdate(_)
            | Kind::CaseClose { .. }
            | Kind::Retraction { .. }
            | Kind::CaseRemove { .. }
            | Kind::CaseStatus { .. }
            | Kind::CaseTask(_)
            | Kind::Selectors(_)
            | Kind::Deconfliction(_)
            | Kind::ConsentRequest(_)
            | Kind::Sealed(_) => None,
        }
    }

    /// The content kind of this kind: its own for a content kind in the clear, the declared
    /// one for sealed content (`None` if that is not a content kind), `None` for a control
    /// message.
    pub fn content_kind(&self) -> Option<ContentKind> {
        match self {
            Kind::Alert(_) => Some(ContentKind::Alert),
            Kind::Request { .. } => Some(ContentKind::Request),
            Kind::Reply(_) => Some(ContentKind::Reply),
            Kind::CaseOpen { .. } => Some(ContentKind::CaseOpen),
            Kind::CaseInvite { .. } => Some(ContentKind::CaseInvite),
            Kind::CaseJoin { .. } => Some(ContentKind::CaseJoin),
            Kind::CaseUpdate(_) => Some(ContentKind::CaseUpdate),
            Kind::CaseClose { .. } => Some(ContentKind::CaseClose),
            Kind::Retraction { .. } => Some(ContentKind::Retraction),
            Kind::CaseRemove { .. } => Some(ContentKind::CaseRemove),
            Kind::CaseStatus { .. } => Some(ContentKind::CaseStatus),
            Kind::CaseTask(_) => Some(ContentKind::CaseTask),
            Kind::Selectors(_) => Some(ContentKind::Selectors),
            Kind::Deconfliction(_) => Some(ContentKind::Deconfliction),
            Kind::ConsentRequest(_) => Some(ContentKind::ConsentRequest),
            Kind::Sealed(s) => s.content_kind().ok(),
            Kind::Receipt(_)
            | Kind::Refusal(_)
            | Kind::HopReport(_)
            | Kind::SealingKey(_)
            | Kind::Announce(_)
            | Kind::ConsentAnswer(_)
            | Kind::Share(_) => None,
        }
    }

    /// Whether this kind is content an officer wrote, in the clear (sealed to the recipients
    /// when sent), rather than a control message the nodes exchange or sealed content.
    pub fn is_content(&self) -> bool {
        !matches!(self, Kind::Sealed(_)) && self.content_kind().is_some()
    }

    /// Whether this kind belongs to a case's own conversation (membership, updates, tasks,
    /// status): a case-`*` kind in the clear, which must name its case.
    pub fn is_case(&self) -> bool {
        !matches!(self, Kind::Sealed(_)) && self.content_kind().is_some_and(ContentKind::is_case)
    }

    /// The payload, for kinds that carry one.
    pub fn payload(&self) -> Option<&Payload> {
        match self {
            Kind::Alert(p) | Kind::Reply(p) | Kind::CaseUpdate(p) => Some(p),
            Kind::Request { payload, .. } | Kind::CaseOpen { payload, .. } => Some(payload),
            Kind::CaseInvite { note, .. } => Some(note),
            _ => None,
        }
    }
}

/// A whole message body, as signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    /// Header.
    pub header: Header,
    /// Handling block.
    pub handling: Handling,
    /// Kind and content.
    pub kind: Kind,
}

impl Body {
    /// The handling-relevant view of this body.
    pub fn addressing(&self) -> Addressing<'_> {
        Addressing {
            originator: &self.header.originator,
            recipients: &self.header.recipients,
            handling: &self.handling,
            hop_limit: self.header.hop_limit,
            expires_at: self.header.expires_at,
        }
    }

    /// Puts sets into canonical order (sorted, deduplicated) so that `encode` is deterministic.
    pub fn normalise(&mut self) {
        self.header.recipients.sort();
        self.header.recipients.dedup();
        self.handling.releasability.sort();
        self.handling.releasability.dedup();
        match &mut self.kind {
            Kind::Receipt(r) => {
                r.ids.sort();
                r.ids.dedup();
            }
            Kind::ConsentRequest(r) => {
                r.to.sort();
                r.to.dedup();
            }
            Kind::ConsentAnswer(a) => {
                a.to.sort();
                a.to.dedup();
            }
            Kind::CaseInvite {
                members, pending, ..
            } => {
                members.sort();
                members.dedup();
                pending.sort();
                pending.dedup();
            }
            Kind::Selectors(s) => {
                s.hashes.sort();
                s.hashes.dedup();
            }
            _ => {}
        }
    }

    /// Checks every count and size of the body against [`crate::limits`], and nothing else.
    ///
    /// Linear in the body, with no cross-products, so it runs before any check whose cost
    /// grows faster than the input: [`Body::validate`] and [`Body::decode`] call it first,
    /// and a composer calls it before the handling checks, whose cost is recipients ×
    /// releasability (a body naming 40,000 recipients is refused here in microseconds).
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        let h = &self.header;
        limit("recipients", h.recipients.len(), MAX_RECIPIENTS)?;
        limit(
            "releasability",
            self.handling.releasability.len(),
            MAX_RELEASE,
        )?;
        if let Some(r) = &self.handling.h3_restrictions {
            limit("H3 restrictions", r.len(), MAX_SHORT_STRING)?;
        }
        if let Some(p) = self.kind.payload() {
            p.check_limits()?;
        }
        match &self.kind {
            Kind::CaseOpen { title, .. } => limit("case title", title.len(), MAX_SHORT_STRING)?,
            Kind::CaseInvite {
                title,
                summary,
                members,
                pending,
                ..
            } => {
                limit("case title", title.len(), MAX_SHORT_STRING)?;
                summary.check_limits()?;
                limit("case members", members.len(), MAX_RECIPIENTS)?;
                limit("case invitations", pending.len(), MAX_RECIPIENTS)?;
            }
            Kind::CaseTask(t) => {
                limit("task title", t.title.len(), MAX_SHORT_STRING)?;
                limit("task note", t.note.len(), MAX_SHORT_STRING)?;
            }
            Kind::Selectors(s) => {
                limit("selectors", s.hashes.len(), crate::selector::MAX_SELECTORS)?
            }
            Kind::Receipt(r) => limit("receipt ids", r.ids.len(), MAX_RECEIPT_IDS)?,
            Kind::Refusal(r) => {
                limit("refusal reason", r.reason_code.len(), MAX_REASON_CODE)?;
                limit("refusal detail", r.detail.len(), MAX_SHORT_STRING)?;
            }
            Kind::HopReport(r) => {
                limit("report answers", r.answers.len(), MAX_REPORT_ANSWERS)?;
                for a in &r.answers {
                    a.check_shape()?;
                }
            }
            Kind::Sealed(sealed) => limit(
                "sealed recipients",
                sealed.content.recipients.len(),
                MAX_RECIPIENTS,
            )?,
            Kind::Announce(a) => {
                limit(
                    "announced destinations",
                    a.reach.len(),
                    crate::routing::MAX_REACH,
                )?;
                limit("announced keys", a.keys.len(), crate::routing::MAX_KEYS)?;
            }
            Kind::ConsentRequest(r) => {
                limit("consent nodes", r.to.len(), MAX_RECIPIENTS)?;
                limit("consent reason", r.reason.len(), MAX_SHORT_STRING)?;
            }
            Kind::ConsentAnswer(a) => {
                limit("consent nodes", a.to.len(), MAX_RECIPIENTS)?;
                limit("consent reason", a.reason.len(), MAX_SHORT_STRING)?;
                if let Some(s) = &a.resealed {
                    limit(
                        "sealed recipients",
                        s.content.recipients.len(),
                        MAX_RECIPIENTS,
                    )?;
                }
            }
            Kind::Share(sh) => {
                sh.original.check_shape()?;
                limit("share grants", sh.grants.len(), MAX_REPORT_ANSWERS)?;
                for g in &sh.grants {
                    g.check_shape()?;
                }
            }
            Kind::CaseClose { reason }
            | Kind::Retraction { reason }
            | Kind::CaseRemove { reason, .. }
            | Kind::CaseStatus { reason, .. } => limit("reason", reason.len(), MAX_SHORT_STRING)?,
            Kind::Alert(_)
            | Kind::Request { .. }
            | Kind::Reply(_)
            | Kind::CaseJoin { .. }
            | Kind::CaseUpdate(_)
            | Kind::SealingKey(_)
            | Kind::Deconfliction(_) => {}
        }
        Ok(())
    }

    /// Checks limits first ([`Body::check_limits`]), then times, canonical set order,
    /// composition rules and what each kind requires. Called by `encode` and `decode`.
    pub fn validate(&self) -> Result<(), DecodeError> {
        self.check_limits()?;
        self.check_rules()
    }

    /// Everything [`Body::validate`] checks after the limits; never call it on a body whose
    /// limits were not checked (the composition rules are recipients × releasability).
    fn check_rules(&self) -> Result<(), DecodeError> {
        let h = &self.header;
        h.created_at.check()?;
        if let Some(t) = h.expires_at {
            t.check()?;
        }
        if let Kind::Request { reply_by, .. } = &self.kind {
            reply_by.check()?;
        }
        if !strictly_sorted(&h.recipients) {
            return Err(DecodeError::NonCanonical(
                "recipients (must be sorted, no duplicates)",
            ));
        }
        if !strictly_sorted(&self.handling.releasability) {
            return Err(DecodeError::NonCanonical(
                "releasability (must be sorted, no duplicates)",
            ));
        }
        check_composition(&self.addressing()).map_err(|e| DecodeError::InvalidField {
            field: "handling",
            detail: match e {
                crate::error::HandlingError::Invalid(why) => why,
                other => other.to_string(),
            },
        })?;
        let need = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(DecodeError::InvalidField {
                    field: "header",
                    detail: format!("a {} message {what}", self.kind.name()),
                })
            }
        };
        match &self.kind {
            Kind::Reply(_) | Kind::Retraction { .. } => need(
                h.in_reply_to.is_some(),
                "must name the message it refers to",
            )?,
            Kind::CaseOpen { .. } => need(h.case.is_some(), "must name its case")?,
            Kind::CaseInvite {
                members, pending, ..
            } => {
                if !strictly_sorted(members) || !strictly_sorted(pending) {
                    return Err(DecodeError::NonCanonical(
                        "case members (must be sorted, no duplicates)",
                    ));
                }
                need(h.case.is_some(), "must name its case")?
            }
            Kind::CaseJoin { .. }
            | Kind::CaseUpdate(_)
            | Kind::CaseClose { .. }
            | Kind::CaseStatus { .. }
            | Kind::CaseRemove { .. } => need(h.case.is_some(), "must name its case")?,
            Kind::CaseTask(t) => {
                t.validate()?;
                need(h.case.is_some(), "must name its case")?
            }
            Kind::Selectors(s) => {
                s.validate()?;
                need(
                    h.in_reply_to.is_some(),
                    "must name the message its selectors come from",
                )?
            }
            Kind::Deconfliction(_) => {}
            Kind::Request { reply_by, .. } => need(
                *reply_by > h.created_at,
                "must have a reply deadline after its creation",
            )?,
            Kind::Receipt(r) => {
                need(!r.ids.is_empty(), "must cover at least one message")?;
                if !strictly_sorted(&r.ids) {
                    return Err(DecodeError::NonCanonical(
                        "receipt ids (must be sorted, no duplicates)",
                    ));
                }
            }
            Kind::Refusal(_) => {}
            Kind::HopReport(r) => need(!r.answers.is_empty(), "must carry at least one answer")?,
            Kind::Sealed(sealed) => {
                need(
                    sealed.content_kind().is_ok(),
                    "must declare a content kind (alert, request, …)",
                )?;
                sealed.content.validate()?
            }
            Kind::SealingKey(_) => {}
            Kind::Announce(a) => a.validate()?,
            Kind::ConsentRequest(r) => {
                need(
                    h.in_reply_to == Some(r.target),
                    "must refer to the message it concerns",
                )?;
                check_nodes("consent nodes", &r.to)?;
            }
            Kind::ConsentAnswer(a) => {
                need(h.in_reply_to.is_some(), "must refer to the consent request")?;
                check_nodes("consent nodes", &a.to)?;
                if let Some(s) = &a.resealed {
                    s.content.validate()?;
                }
            }
            Kind::Share(_) | Kind::Alert(_) => {}
        }
        Ok(())
    }

    /// Encodes the body canonically: the version byte, then the postcard encoding.
    /// Normalise first; an unnormalised or invalid body is refused.
    pub fn encode(&self) -> Result<Vec<u8>, DecodeError> {
        self.validate()?;
        // Sized for a typical body, so encoding does not grow the buffer a dozen times.
        let mut out = Vec::with_capacity(1024);
        out.push(FORMAT_VERSION);
        postcard::to_io(self, &mut out).map_err(|e| DecodeError::Malformed {
            what: "body",
            detail: e.to_string(),
        })?;
        Ok(out)
    }

    /// Decodes body bytes strictly: known version, whole input consumed, within limits
    /// (checked before anything else is done with the decoded body), canonical, valid.
    pub fn decode(bytes: &[u8]) -> Result<Body, DecodeError> {
        let (&version, rest) = bytes.split_first().ok_or(DecodeError::Malformed {
            what: "body",
            detail: "empty".into(),
        })?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnknownVersion(version));
        }
        let (body, tail): (Body, _) =
            postcard::take_from_bytes(rest).map_err(|e| DecodeError::Malformed {
                what: "body",
                detail: e.to_string(),
            })?;
        if !tail.is_empty() {
            return Err(DecodeError::TrailingBytes(tail.len(), "body"));
        }
        // Limits before any other work on what a peer sent, the re-encoding included.
        body.check_limits()?;
        // Canonical check: postcard accepts over-long varints; we sign one encoding only.
        let mut again = Vec::with_capacity(bytes.len());
        again.push(FORMAT_VERSION);
        postcard::to_io(&body, &mut again).map_err(|e| DecodeError::Malformed {
            what: "body",
            detail: e.to_string(),
        })?;
        if again != bytes {
            return Err(DecodeError::NonCanonical("body"));
        }
        body.check_rules()?;
        Ok(body)
    }
}

/// Checks a list of nodes: 1 to `MAX_RECIPIENTS`, sorted, no duplicates.
fn check_nodes(what: &'static str, v: &[NodeId]) -> Result<(), DecodeError> {
    limit(what, v.len(), MAX_RECIPIENTS)?;
    if v.is_empty() {
        return Err(DecodeError::InvalidField {
            field: "consent",
            detail: format!("{what}: at least one node"),
        });
    }
    if !strictly_sorted(v) {
        return Err(DecodeError::NonCanonical(
            "consent nodes (must be sorted, no duplicates)",
        ));
    }
    Ok(())
}

pub(crate) fn strictly_sorted<T: Ord>(v: &[T]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::entity::{Attachment, Entity, Name};
    use crate::handling::Release;
    use crate::sample;
    use crate::signing::SignedMessage;
    use proptest::prelude::*;

    fn node(i: usize) -> NodeId {
        format!("n{i}.gulf").parse().unwrap()
    }

    fn nodes(n: usize) -> Vec<NodeId> {
        (0..n).map(node).collect()
    }

    /// A signed message of valid shape (nothing else about it is looked at).
    fn shaped() -> SignedMessage {
        SignedMessage {
            body: vec![1],
            signer_cert: vec![0x30],
            signature: vec![0; 64],
        }
    }

    fn payload_of(b: &mut Body) -> &mut Payload {
        match &mut b.kind {
            Kind::Alert(p) => p,
            _ => unreachable!("an alert"),
        }
    }

    fn with_kind(kind: Kind) -> Body {
        Body {
            kind,
            ..sample::alert()
        }
    }

    type Setter = fn(&mut Body, usize);

    /// Every limit `check_limits` enforces: (field, limit, sets the count or size to `n`).
    fn limits() -> Vec<(&'static str, usize, Setter)> {
        vec![
            ("recipients", MAX_RECIPIENTS, |b, n| {
                b.header.recipients = nodes(n).into_iter().map(Recipient::Node).collect()
            }),
            ("releasability", MAX_RELEASE, |b, n| {
                b.handling.releasability = nodes(n).into_iter().map(Release::Node).collect()
            }),
            ("H3 restrictions", MAX_SHORT_STRING, |b, n| {
                b.handling.h3_restrictions = Some("x".repeat(n))
            }),
            ("payload text", MAX_TEXT_BYTES, |b, n| {
                payload_of(b).text = "x".repeat(n)
            }),
            ("entities", MAX_ENTITIES, |b, n| {
                payload_of(b).entities = vec![
                    Entity::Phone {
                        number: "+77011234567".into()
                    };
                    n
                ]
            }),
            ("attachments", MAX_ATTACHMENTS, |b, n| {
                payload_of(b).attachments = (0..n)
                    .map(|i| Attachment {
                        name: format!("{i}.txt"),
                        media_type: "text/plain".into(),
                        content: vec![1],
                    })
                    .collect()
            }),
            ("attachment content", MAX_ATTACHMENT_BYTES, |b, n| {
                payload_of(b).attachments[0].content = vec![0; n]
            }),
            ("attachment name", MAX_SHORT_STRING, |b, n| {
                payload_of(b).attachments[0].name = "x".repeat(n)
            }),
            ("names", MAX_NAMES, |b, n| {
                payload_of(b).entities = vec![Entity::Organisation {
                    names: vec![
                        Name {
                            value: "Karavan LLP".into(),
                            language: None
                        };
                        n
                    ],
                    country: None,
                }]
            }),
            ("nationalities", MAX_NATIONALITIES, |b, n| {
                payload_of(b).entities = vec![Entity::Person {
                    names: vec![Name {
                        value: "A. Karimov".into(),
                        language: None,
                    }],
                    date_of_birth: None,
                    nationalities: vec!["KZ".parse().unwrap(); n],
                }]
            }),
            ("phone", MAX_SHORT_STRING, |b, n| {
                payload_of(b).entities = vec![Entity::Phone {
                    number: "7".repeat(n),
                }]
            }),
            ("case title", MAX_SHORT_STRING, |b, n| {
                b.kind = Kind::CaseOpen {
                    title: "x".repeat(n),
                    payload: sample::rich_payload(),
                    lead: node(0),
                }
            }),
            ("case members", MAX_RECIPIENTS, |b, n| {
                b.kind = invite(nodes(n), vec![])
            }),
            ("case invitations", MAX_RECIPIENTS, |b, n| {
                b.kind = invite(vec![], nodes(n))
            }),
            ("task title", MAX_SHORT_STRING, |b, n| {
                b.kind = task("x".repeat(n), String::new())
            }),
            ("task note", MAX_SHORT_STRING, |b, n| {
                b.kind = task("t".into(), "x".repeat(n))
            }),
            ("selectors", crate::selector::MAX_SELECTORS, |b, n| {
                b.kind = Kind::Selectors(crate::selector::Selectors {
                    hashes: vec![
                        crate::selector::SelectorHash {
                            kind: crate::selector::SelectorKind::Phone,
                            hash: [0; 32],
                        };
                        n
                    ],
                })
            }),
            ("receipt ids", MAX_RECEIPT_IDS, |b, n| {
                b.kind = Kind::Receipt(Receipt {
                    status: ReceiptStatus::Delivered,
                    ids: vec![MessageId([1; 32]); n],
                })
            }),
            ("refusal reason", MAX_REASON_CODE, |b, n| {
                b.kind = Kind::Refusal(Refusal {
                    target: MessageId([1; 32]),
                    reason_code: "x".repeat(n),
                    detail: String::new(),
                })
            }),
            ("refusal detail", MAX_SHORT_STRING, |b, n| {
                b.kind = Kind::Refusal(Refusal {
                    target: MessageId([1; 32]),
                    reason_code: "x".into(),
                    detail: "x".repeat(n),
                })
            }),
            ("report answers", MAX_REPORT_ANSWERS, |b, n| {
                b.kind = Kind::HopReport(HopReport {
                    answers: vec![shaped(); n],
                })
            }),
            ("signer certificate", MAX_CERT_DER, |b, n| {
                let mut answer = shaped();
                answer.signer_cert = vec![0; n];
                b.kind = Kind::HopReport(HopReport {
                    answers: vec![answer],
                })
            }),
            ("sealed recipients", MAX_RECIPIENTS, |b, n| {
                b.kind = Kind::Sealed(sealed(n))
            }),
            (
                "announced destinations",
                crate::routing::MAX_REACH,
                |b, n| {
                    b.kind = Kind::Announce(crate::routing::Announcement {
                        reach: vec![
                            crate::routing::Reach {
                                dest: Recipient::Node(node(0)),
                                distance: 0,
                            };
                            n
                        ],
                        keys: vec![],
                    })
                },
            ),
            ("announced keys", crate::routing::MAX_KEYS, |b, n| {
                b.kind = Kind::Announce(crate::routing::Announcement {
                    reach: vec![],
                    keys: vec![shaped(); n],
                })
            }),
            ("consent nodes", MAX_RECIPIENTS, |b, n| {
                b.kind = Kind::ConsentRequest(ConsentRequest {
                    target: MessageId([1; 32]),
                    to: nodes(n),
                    reason: String::new(),
                })
            }),
            ("consent reason", MAX_SHORT_STRING, |b, n| {
                b.kind = Kind::ConsentAnswer(ConsentAnswer {
                    target: MessageId([1; 32]),
                    to: nodes(1),
                    granted: true,
                    expires_at: None,
                    resealed: None,
                    reason: "x".repeat(n),
                })
            }),
            ("sealed recipients", MAX_RECIPIENTS, |b, n| {
                b.kind = Kind::ConsentAnswer(ConsentAnswer {
                    target: MessageId([1; 32]),
                    to: nodes(1),
                    granted: true,
                    expires_at: None,
                    resealed: Some(sealed(n)),
                    reason: String::new(),
                })
            }),
            ("share grants", MAX_REPORT_ANSWERS, |b, n| {
                b.kind = Kind::Share(Share {
                    original: shaped(),
                    grants: vec![shaped(); n],
                })
            }),
            ("reason", MAX_SHORT_STRING, |b, n| {
                b.kind = Kind::Retraction {
                    reason: "x".repeat(n),
                }
            }),
        ]
    }

    fn invite(members: Vec<NodeId>, pending: Vec<NodeId>) -> Kind {
        Kind::CaseInvite {
            invitee: node(0),
            note: sample::rich_payload(),
            title: "t".into(),
            summary: sample::rich_payload(),
            lead: node(0),
            members,
            pending,
        }
    }

    fn task(title: String, note: String) -> Kind {
        Kind::CaseTask(crate::case::TaskChange {
            task: None,
            title,
            assignee: node(0),
            due: None,
            status: crate::case::TaskStatus::Open,
            note,
        })
    }

    fn sealed(n: usize) -> SealedContent {
        SealedContent {
            kind: ContentKind::Alert.as_str().into(),
            content: crate::seal::Sealed {
                recipients: (0..n)
                    .map(|i| crate::seal::WrappedKey {
                        node: node(i),
                        ephemeral: [9; 32],
                        wrapped: vec![0; 48],
                    })
                    .collect(),
                nonce: [0; 12],
                ciphertext: vec![0; 16],
            },
        }
    }

    #[test]
    fn content_kind_names_are_distinct_and_parse_back() {
        for k in ContentKind::ALL {
            assert_eq!(ContentKind::parse(k.as_str()), Ok(k));
            assert_eq!(k.as_str().parse::<ContentKind>(), Ok(k));
            assert_eq!(k.to_string(), k.as_str());
            assert_eq!(k.is_case(), k.as_str().starts_with("case-"), "{k}");
        }
        let mut names: Vec<_> = ContentKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ContentKind::ALL.len());
        assert_eq!(
            ContentKind::parse("receipt"),
            Err(UnknownContentKind("receipt".into()))
        );
    }

    #[test]
    fn content_and_control_kind_names_are_distinct() {
        let mut names: Vec<&str> = ContentKind::ALL.iter().map(|k| k.as_str()).collect();
        names.extend(ControlKind::ALL.iter().map(|k| k.as_str()));
        names.push("sealed");
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
        for k in ControlKind::ALL {
            assert_eq!(ContentKind::parse(k.as_str()).ok(), None, "{k}");
        }
    }

    #[test]
    fn a_sealed_body_names_the_content_kind_it_declares() {
        let mut s = sealed(1);
        for k in ContentKind::ALL {
            s.kind = k.as_str().into();
            let kind = Kind::Sealed(s.clone());
            assert_eq!(kind.content_kind(), Some(k));
            assert_eq!(kind.name(), k.as_str());
            assert!(!kind.is_content() && !kind.is_case());
        }
        s.kind = "receipt".into();
        assert_eq!(Kind::Sealed(s).content_kind(), None);
    }

    #[test]
    fn each_limit_passes_at_its_bound_and_is_refused_one_over() {
        for (field, max, set) in limits() {
            let mut b = sample::alert();
            set(&mut b, max);
            assert_eq!(b.check_limits(), Ok(()), "{field} at its limit of {max}");
            set(&mut b, max + 1);
            assert_eq!(
                b.check_limits(),
                Err(DecodeError::LimitExceeded {
                    field,
                    actual: max + 1,
                    limit: max,
                }),
                "{field} one over its limit"
            );
            assert_eq!(b.validate().unwrap_err().reason_code(), "limit-exceeded");
        }
    }

    #[test]
    fn the_refusal_names_the_limit_and_the_value() {
        let mut b = sample::alert();
        b.header.recipients = nodes(40_000).into_iter().map(Recipient::Node).collect();
        let e = b.check_limits().unwrap_err();
        assert_eq!(e.reason_code(), "limit-exceeded");
        assert_eq!(e.to_string(), "recipients has 40000, limit is 256");
    }

    /// The raw encoding of `b`, whatever it holds (what a careless or hostile peer sends).
    fn raw(b: &Body) -> Vec<u8> {
        let mut v = vec![FORMAT_VERSION];
        v.extend(postcard::to_stdvec(b).unwrap());
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// A body over a count limit that also breaks every rule checked after the limits
        /// (recipients unsorted, none of them released, releasability in another network)
        /// is refused for the limit, by `validate` and by `decode`: the composition rules
        /// (recipients × releasability) were never evaluated, nor the canonical order.
        #[test]
        fn limits_are_checked_before_the_rules_whose_cost_grows_with_the_input(
            recipients in 0usize..4 * MAX_RECIPIENTS,
            released in 0usize..4 * MAX_RELEASE,
        ) {
            prop_assume!(recipients > MAX_RECIPIENTS || released > MAX_RELEASE);
            let mut b = with_kind(Kind::Alert(sample::rich_payload()));
            b.header.recipients = nodes(recipients).into_iter().rev().map(Recipient::Node).collect();
            b.handling.releasability = (0..released)
                .rev()
                .map(|i| Release::Node(format!("n{i}.central-asia").parse().unwrap()))
                .collect();
            let (field, actual, limit) = if recipients > MAX_RECIPIENTS {
                ("recipients", recipients, MAX_RECIPIENTS)
            } else {
                ("releasability", released, MAX_RELEASE)
            };
            let want = DecodeError::LimitExceeded { field, actual, limit };
            prop_assert_eq!(b.validate(), Err(want.clone()));
            prop_assert_eq!(Body::decode(&raw(&b)), Err(want));
        }
    }
}
