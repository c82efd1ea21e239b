//! Relaying: what a node does with a message that is not (only) for itself, and how the
//! answers of later hops travel back to the originator.
//!
//! ```text
//!  kz ──▶ caricc (relay) ──▶ gcc-cic (relay) ──▶ oman
//!   ◀─receipt─┘   ◀──receipt──┘    ◀──receipt──┘          each hop answers the one before
//!   ◀════ hop report {gcc-cic's receipt} ══┘              relays carry the later hops'
//!   ◀════════════ hop report {oman's receipt} ════════┘   signed answers to the originator
//! ```
//!
//! * [`route_incoming`] decides, per verified message, whether this node delivers it, which
//!   peers it goes to next (routing, the configured relay rules between networks, and the
//!   handling checks for every copy), and which copies are refused.
//! * A relay that receives a next hop's receipt or refusal for a message it relayed sends
//!   that signed answer, unchanged, to the originator in a `hop-report` message
//!   ([`report_answer`]); a leg refused here goes back the same way, as this node's own
//!   signed refusal ([`report_refusals`]). Reports are ordinary signed messages: logged,
//!   receipted and retried like any other, released to the centres on the way back.
//! * The originator verifies each carried answer on its own (signature and certificate of
//!   the hop that signed it) and adds it to the message's trail ([`carried_answers`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use liaison_protocol::log::{Event, MessageFacts};
use liaison_protocol::message::{Body, ControlKind, HopReport, Kind, ReceiptStatus};
use liaison_protocol::routing::{Leg, Target};
use liaison_protocol::{
    Envelope, MessageId, NodeId, Recipient, SignedMessage, Timestamp, VerifiedMessage,
};

use crate::core::Ctx;
use crate::exchange::check_leg;
use crate::refusal::Refusal;
use crate::store::Role;

/// What this node does with one verified message that arrived from a peer.
pub(crate) struct Routed {
    /// This node is one of its recipients.
    pub deliver: bool,
    /// Peers it goes to next (checked).
    pub next_hops: Vec<NodeId>,
    /// Copies refused here: (next hop, destination, why).
    pub refused: Vec<(NodeId, String, Refusal)>,
}

impl Routed {
    /// Nothing of the message stays or goes on: it is refused as a whole.
    pub(crate) fn is_refusal(&self) -> bool {
        !self.deliver && self.next_hops.is_empty()
    }
}

/// Decides delivery and onward copies for a message from `peer` whose envelope carried
/// `route` (the relays before `peer`... and `peer` itself if it relayed). Relaying needs a
/// `[[relay]]` rule from the peer's network to the next hop's; every copy passes the
/// handling checks with this node added to the route.
pub(crate) fn route_incoming(
    ctx: &Ctx,
    body: &Body,
    peer: &NodeId,
    route: &[NodeId],
    t: Timestamp,
) -> Routed {
    // The common case, addressed to this node alone: nothing to plan.
    let only_me = body
        .header
        .recipients
        .iter()
        .all(|r| matches!(r, Recipient::Node(n) if ctx.me.is_me(n)));
    if only_me && !matches!(body.kind, Kind::Share(_)) {
        return Routed {
            deliver: true,
            next_hops: Vec::new(),
            refused: Vec::new(),
        };
    }
    let plan = ctx.sessions.plan(ctx.me.ids(), body, Some(peer), route);
    if !plan.deliver && ctx.cfg.relay.is_empty() {
        return Routed {
            deliver: false,
            next_hops: Vec::new(),
            refused: vec![(
                ctx.me.id().clone(),
                ctx.me.id().to_string(),
                Refusal::NotARecipient(format!(
                    "{} is not among the recipients and does not relay",
                    ctx.me.id()
                )),
            )],
        };
    }
    let mut onward = route.to_vec();
    onward.push(ctx.me.for_peer(peer).signer.node().clone());
    let mut next_hops = Vec::new();
    let mut refused = Vec::new();
    let dest = |leg: &Leg| match &leg.target {
        Target::Node(n) => n.to_string(),
        Target::Network(n) => format!("network:{n}"),
    };
    // A share's original and grants are verified once, not once per copy.
    let share = match &body.kind {
        Kind::Share(share) if plan.deliver || !plan.legs.is_empty() => {
            Some(crate::consent::verify(&ctx.trust.store(), share, t))
        }
        _ => None,
    };
    for leg in &plan.legs {
        if !ctx
            .cfg
            .may_relay(peer.network_str(), leg.next.network_str())
        {
            refused.push((
                leg.next.clone(),
                dest(leg),
                Refusal::RelayNotAllowed(format!(
                    "{} does not relay from network {} to network {}",
                    ctx.me.id(),
                    peer.network_str(),
                    leg.next.network_str()
                )),
            ));
            continue;
        }
        let checked = check_leg(body, leg, &onward, t)
            .map_err(Refusal::from)
            .and_then(|()| match &share {
                Some(v) => crate::consent::check_share_leg(v, &leg.next, &leg.target, &onward, t),
                None => Ok(()),
            });
        match checked {
            Ok(()) => next_hops.push(leg.next.clone()),
            Err(why) => refused.push((
                leg.next.clone(),
                dest(leg),
                why.at(format_args!("towards {} via {}", dest(leg), leg.next)),
            )),
        }
    }
    // A share delivered here must be allowed here too, by the original's rules and grants.
    let mut deliver = plan.deliver;
    if let (true, Some(share)) = (deliver, &share) {
        let me = ctx.me.for_peer(peer).signer.node().clone();
        if let Err(why) =
            crate::consent::check_share_leg(share, &me, &Target::Node(me.clone()), route, t)
        {
            deliver = false;
            refused.push((me.clone(), me.to_string(), why));
        }
    }
    for r in &plan.unroutable {
        refused.push((
            ctx.me.id().clone(),
            r.to_string(),
            Refusal::NoRoute(format!("{} has no route to {r}", ctx.me.id())),
        ));
    }
    if !deliver && refused.is_empty() && next_hops.is_empty() {
        refused.push((
            ctx.me.id().clone(),
            ctx.me.id().to_string(),
            Refusal::NotARecipient(format!(
                "{} is not among the recipients and has nowhere to relay it",
                ctx.me.id()
            )),
        ));
    }
    next_hops.sort();
    next_hops.dedup();
    Routed {
        deliver,
        next_hops,
        refused,
    }
}

/// A verified receipt or refusal turned into what the log and the trail record: the event,
/// and each covered message with its outcome (`relayed`, `delivered`, `refused: <code>`).
/// `None` for any other kind.
pub(crate) fn answer_record(v: &VerifiedMessage) -> Option<(Event, Vec<(MessageId, String)>)> {
    let from = v.originator().clone();
    let id = v.id();
    match &v.body().kind {
        Kind::Receipt(r) => {
            let label = match r.status {
                ReceiptStatus::Delivered => "delivered",
                ReceiptStatus::Relayed => "relayed",
            };
            Some((
                Event::ReceiptReceived {
                    receipt: id,
                    from,
                    status: r.status,
                    ids: r.ids.clone(),
                },
                r.ids.iter().map(|m| (*m, label.to_string())).collect(),
            ))
        }
        Kind::Refusal(r) => Some((
            Event::RefusalReceived {
                refusal: id,
                id: r.target,
                from,
                reason_code: r.reason_code.clone(),
            },
            vec![(r.target, format!("refused: {}", r.reason_code))],
        )),
        _ => None,
    }
}

/// A carried answer checked and ready for the trail.
pub(crate) struct Carried {
    /// What the log records.
    pub event: Event,
    /// The hop that signed it.
    pub signer: NodeId,
    /// Covered messages and outcomes.
    pub outcome: Vec<(MessageId, String)>,
    /// The answer's id.
    pub proof: MessageId,
    /// Its signed envelope, kept beside the log entry.
    pub signed: Vec<u8>,
}

/// Verifies the answers a hop report carries to this node (each on its own: the report's
/// signature says only who carried them). Answers that do not verify are logged and skipped.
pub(crate) fn carried_answers(ctx: &Ctx, report: &HopReport, carrier: &NodeId) -> Vec<Carried> {
    let mut out = Vec::new();
    for a in &report.answers {
        let signed = Envelope {
            signed: a.clone(),
            route: vec![],
        }
        .encode();
        match a.clone().verify(&ctx.trust.store()) {
            Ok(v) => match answer_record(&v) {
                Some((event, outcome)) => out.push(Carried {
                    event,
                    signer: v.originator().clone(),
                    outcome,
                    proof: v.id(),
                    signed,
                }),
                None => {
                    tracing::warn!(carrier = %carrier, kind = v.body().kind.name(), "hop report carries something other than an answer; skipped")
                }
            },
            Err(e) => {
                tracing::warn!(carrier = %carrier, reason = e.reason_code(), error = %e, "carried answer does not verify; skipped")
            }
        }
    }
    out
}

/// Sends `answers` (signed receipts or refusals about messages `originator` wrote) to the
/// originator in a hop report, released to the centres of `back` (the relays the messages
/// passed on their way here, which are the way back).
pub(crate) async fn send_report(
    ctx: &Arc<Ctx>,
    originator: &NodeId,
    back: &[NodeId],
    answers: Vec<SignedMessage>,
) {
    if ctx.me.is_me(originator) || answers.is_empty() {
        return;
    }
    for chunk in answers.chunks(liaison_protocol::limits::MAX_REPORT_ANSWERS) {
        if let Err(e) = send_one_report(ctx, originator, back, chunk.to_vec()).await {
            tracing::warn!(to = %originator, reason = "report-not-sent", error = %e, "cannot send a hop report");
        }
    }
}

async fn send_one_report(
    ctx: &Arc<Ctx>,
    originator: &NodeId,
    back: &[NodeId],
    answers: Vec<SignedMessage>,
) -> crate::error::Result<()> {
    crate::exchange::send_control(
        ctx,
        originator,
        back,
        Kind::HopReport(HopReport { answers }),
        None,
    )
    .await
    .map(|_| ())
}

/// Whether `ids` include a content message this node relayed (not one it originated, not a
/// control message such as a key announcement): where a crash point about relaying applies.
pub(crate) fn relays_content(ctx: &Ctx, ids: &[MessageId]) -> bool {
    ids.iter().any(|id| {
        matches!(ctx.store.state(id), Ok(Some(s)) if s.role != Role::Originated
            && !ControlKind::ALL.iter().any(|k| k.as_str() == s.facts.kind))
    })
}

/// After a next hop answered `ids` with `answer`: carries the answer back to the originators
/// of those that this node relayed (not hop reports themselves: no reports about reports).
pub(crate) async fn report_answer(ctx: &Arc<Ctx>, ids: &[MessageId], answer: &SignedMessage) {
    let mut by_originator: BTreeMap<NodeId, Vec<NodeId>> = BTreeMap::new();
    for id in ids {
        let Ok(Some(s)) = ctx.store.state(id) else {
            continue;
        };
        if s.role == Role::Originated || s.facts.kind == ControlKind::HopReport.as_str() {
            continue;
        }
        // The way back is read once per originator (a batch is mostly one sender's).
        by_originator
            .entry(s.facts.originator)
            .or_insert_with(|| crate::exchange::relays_before_me(&ctx.store, &ctx.me, id));
    }
    for (originator, back) in by_originator {
        send_report(ctx, &originator, &back, vec![answer.clone()]).await;
    }
}

/// Signs this node's refusal of each refused copy and reports it to the originator.
pub(crate) async fn report_refusals(
    ctx: &Arc<Ctx>,
    facts: &MessageFacts,
    route: &[NodeId],
    refused: &[(NodeId, String, Refusal)],
) {
    if facts.kind == ControlKind::HopReport.as_str() {
        return;
    }
    let mut answers = Vec::new();
    for (next, _dest, why) in refused {
        let logged = ctx
            .store
            .record(Event::Refused {
                id: Some(facts.id),
                msg: Some(facts.clone()),
                peer: next.clone(),
                reason_code: why.reason_code().into(),
            })
            .await;
        if let Err(e) = logged {
            ctx.alarm(
                crate::alarm::AlarmKind::AnswerNotSent,
                "",
                format!("cannot log a refusal: {e:#}"),
            );
            continue;
        }
        tracing::warn!(id = %facts.id.short(), next = %next, reason = %why.reason_code(), detail = %why, "copy refused at this hop");
        match ctx.me.refusal(&facts.originator, facts.id, why) {
            Ok(m) => answers.push(m),
            Err(e) => ctx.alarm(
                crate::alarm::AlarmKind::AnswerNotSent,
                "",
                format!("cannot sign a refusal: {e:#}"),
            ),
        }
    }
    send_report(ctx, &facts.originator, route, answers).await;
}
