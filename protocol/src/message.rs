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
    /// Maximum number of relays (hops after the originator) the message may take.
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

/// The names of the content kinds, the only kinds that are sealed.
pub const CONTENT_KINDS: [&str; 15] = [
    "alert",
    "request",
    "reply",
    "case-open",
    "case-invite",
    "case-join",
    "case-update",
    "case-close",
    "retraction",
    "case-remove",
    "case-status",
    "case-task",
    "selectors",
    "deconfliction",
    "consent-request",
];

/// A content kind sealed to the recipients. Its name stays readable (relays, logs and
/// retention rules see `alert` or `request`, as they see the handling block); everything
/// else is sealed, and opening checks that the sealed kind is the one declared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedContent {
    /// The name of the sealed kind, one of [`CONTENT_KINDS`].
    pub kind: String,
    /// The sealed postcard encoding of the kind.
    pub content: crate::seal::Sealed,
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
    /// Lower-case kind name, e.g. `alert`, `case-update`.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Alert(_) => "alert",
            Kind::Request { .. } => "request",
            Kind::Reply(_) => "reply",
            Kind::CaseOpen { .. } => "case-open",
            Kind::CaseInvite { .. } => "case-invite",
            Kind::CaseJoin { .. } => "case-join",
            Kind::CaseUpdate(_) => "case-update",
            Kind::CaseClose { .. } => "case-close",
            Kind::Receipt(_) => "receipt",
            Kind::Retraction { .. } => "retraction",
            Kind::Refusal(_) => "refusal",
            Kind::HopReport(_) => "hop-report",
            Kind::Sealed(s) => CONTENT_KINDS
                .iter()
                .find(|k| **k == s.kind)
                .copied()
                .unwrap_or("sealed"),
            Kind::SealingKey(_) => "sealing-key",
            Kind::Announce(_) => "announce",
            Kind::ConsentRequest(_) => "consent-request",
            Kind::ConsentAnswer(_) => "consent-answer",
            Kind::Share(_) => "share",
            Kind::CaseRemove { .. } => "case-remove",
            Kind::CaseStatus { .. } => "case-status",
            Kind::CaseTask(_) => "case-task",
            Kind::Selectors(_) => "selectors",
            Kind::Deconfliction(_) => "deconfliction",
        }
    }

    /// Whether this kind is content an officer wrote (sealed to the recipients when sent),
    /// rather than a control message the nodes exchange.
    pub fn is_content(&self) -> bool {
        matches!(
            self,
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
        )
    }

    /// Whether this kind belongs to a case's own conversation (membership, updates, tasks,
    /// status): a case-`*` kind, which must name its case.
    pub fn is_case(&self) -> bool {
        matches!(
            self,
            Kind::CaseOpen { .. }
                | Kind::CaseInvite { .. }
                | Kind::CaseJoin { .. }
                | Kind::CaseUpdate(_)
                | Kind::CaseClose { .. }
                | Kind::CaseRemove { .. }
                | Kind::CaseStatus { .. }
                | Kind::CaseTask(_)
        )
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

    /// Checks limits, canonical set order and composition rules. Called by `encode` and `decode`.
    pub fn validate(&self) -> Result<(), DecodeError> {
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
        if let Some(p) = self.kind.payload() {
            p.check_limits()?;
        }
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
            Kind::CaseOpen { title, .. } => {
                limit("case title", title.len(), MAX_SHORT_STRING)?;
                need(h.case.is_some(), "must name its case")?
            }
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
                limit("receipt ids", r.ids.len(), MAX_RECEIPT_IDS)?;
                need(!r.ids.is_empty(), "must cover at least one message")?;
                if !strictly_sorted(&r.ids) {
                    return Err(DecodeError::NonCanonical(
                        "receipt ids (must be sorted, no duplicates)",
                    ));
                }
            }
            Kind::Refusal(r) => {
                limit("refusal reason", r.reason_code.len(), MAX_REASON_CODE)?;
                limit("refusal detail", r.detail.len(), MAX_SHORT_STRING)?;
            }
            Kind::HopReport(r) => {
                limit("report answers", r.answers.len(), MAX_REPORT_ANSWERS)?;
                need(!r.answers.is_empty(), "must carry at least one answer")?;
                for a in &r.answers {
                    a.check_shape()?;
                }
            }
            Kind::Sealed(sealed) => {
                need(
                    CONTENT_KINDS.contains(&sealed.kind.as_str()),
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
                limit("consent reason", r.reason.len(), MAX_SHORT_STRING)?;
            }
            Kind::ConsentAnswer(a) => {
                need(h.in_reply_to.is_some(), "must refer to the consent request")?;
                check_nodes("consent nodes", &a.to)?;
                limit("consent reason", a.reason.len(), MAX_SHORT_STRING)?;
                if let Some(s) = &a.resealed {
                    s.content.validate()?;
                }
            }
            Kind::Share(sh) => {
                sh.original.check_shape()?;
                limit("share grants", sh.grants.len(), MAX_REPORT_ANSWERS)?;
                for g in &sh.grants {
                    g.check_shape()?;
                }
            }
            Kind::Alert(_) => {}
        }
        if let Kind::CaseClose { reason }
        | Kind::Retraction { reason }
        | Kind::CaseRemove { reason, .. }
        | Kind::CaseStatus { reason, .. } = &self.kind
        {
            limit("reason", reason.len(), MAX_SHORT_STRING)?;
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

    /// Decodes body bytes strictly: known version, whole input consumed, canonical, valid.
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
        body.validate()?;
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
