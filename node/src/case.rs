//! Shared cases on a node: what officers do with a case, the check every received case
//! message passes, and the case's state as this node derives it.
//!
//! A case has no database of its own: its state is derived from the signed case messages
//! this node originated or received ([`liaison_protocol::case::derive`]; relayed copies,
//! which this node cannot open, are not part of it), and kept derived in memory as messages
//! are stored (`crate::case_cache`), so a new message is checked without reading the case
//! again. Every operation composes one
//! signed message and checks it first exactly as every participant will (refused with the
//! case rule's reason code, e.g. `case-closed`, `not-a-participant`, `case-handling`), then
//! sends it like any message: sealed to its recipients, logged, queued, receipted.
//!
//! Who receives what: membership and status messages (invite, accept/decline, remove, leave,
//! suspend, resume, close) go to every participant and every pending invitee (and the node
//! concerned); updates and tasks go to the participants (an update may name fewer). A node
//! that receives a case message checks it against the case as it holds it
//! ([`check_incoming`]) and refuses it with the same reason codes when nothing still on its way
//! could change the verdict; otherwise it holds it until the message that gives it its effect
//! arrives. A participant that a sender did not know of when it wrote is sent the message
//! afterwards by its originator ([`forward_missed`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{NodeError, Result};
use liaison_protocol::case::{within, CaseLog, CaseState, TaskChange, TaskStatus};
use liaison_protocol::limits::{
    check, MAX_ATTACHMENTS, MAX_ATTACHMENT_BYTES, MAX_ENTITIES, MAX_RECIPIENTS, MAX_RELEASE,
    MAX_SHORT_STRING, MAX_TEXT_BYTES,
};
use liaison_protocol::message::{Body, Header, Kind};
use liaison_protocol::{
    CaseId, DecodeError, Handling, LanguageTag, MessageId, NodeId, Payload, Recipient, Release,
    Timestamp,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::views::schema::{NodeIdText, ShortText, TaskStatusText};

use crate::compose::{self, parse, SendRequest, DEFAULT_HOP_LIMIT};
use crate::core::{off_workers, Ctx, Keys, Sent};
use crate::refusal::Refusal;
use crate::store::{now, Role, Store};

/// Where the message being checked sorts among a case's messages before it has an id.
const PROVISIONAL: MessageId = MessageId([0xff; 32]);

/// What an officer asks of a case (the API's `POST /v1/cases…` bodies; the CLI writes the
/// same). Fields are in their human forms; each operation reads the ones it needs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    /// open: the case id (default: `<CENTRE>-<year>-<4 hex digits>`).
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub id: Option<String>,
    /// open: the case's title; task: what is to be done.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub title: Option<String>,
    /// open: the lead centre's node (default: this node).
    #[serde(default)]
    #[schema(value_type = Option<NodeIdText>)]
    pub lead: Option<String>,
    /// open, invite: nodes invited; remove: the node removed.
    #[serde(default)]
    #[schema(value_type = Vec<NodeIdText>, max_items = 256)]
    pub nodes: Vec<String>,
    /// update: the participants it goes to (default: every participant).
    #[serde(default)]
    #[schema(value_type = Vec<NodeIdText>, max_items = 256)]
    pub to: Vec<String>,
    /// open: TLP (required); update: narrower TLP (default: the case's).
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub tlp: Option<String>,
    /// open: releasability (default: the networks of the nodes named and of this node's
    /// identities, so its gateways may carry the case); update: narrower releasability
    /// (default: the case's; the gateways on the way must stay covered).
    #[serde(default)]
    #[schema(value_type = Vec<ShortText>, max_items = 256)]
    pub release: Vec<String>,
    /// Originator control (EU H2).
    #[serde(default)]
    pub originator_control: bool,
    /// EU H0.
    #[serde(default)]
    pub h0: bool,
    /// EU H1.
    #[serde(default)]
    pub h1: bool,
    /// EU H3 restrictions.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub h3: Option<String>,
    /// open: 4x4 evaluation (required); update: default the case's.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub eval: Option<String>,
    /// Summary (open), note (invite), content (update), note (task), reason (the rest).
    #[serde(default)]
    #[schema(max_length = 524288)]
    pub text: String,
    /// Language of `text` (BCP 47); required when there is text.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub lang: Option<String>,
    /// Entities (`type=value`) of the summary or update.
    #[serde(default)]
    #[schema(value_type = Vec<ShortText>, max_items = 1024)]
    pub entities: Vec<String>,
    /// Files attached to the summary or update.
    #[serde(default)]
    #[schema(max_items = 16)]
    pub attachments: Vec<AttachmentRequest>,
    /// task: the task changed (its id, or a unique prefix); none: a new task.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub task: Option<String>,
    /// task: the participant who does it.
    #[serde(default)]
    #[schema(value_type = Option<NodeIdText>)]
    pub assignee: Option<String>,
    /// task: due date, `YYYY-MM-DD` (end of that day, UTC) or RFC 3339.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub due: Option<String>,
    /// task: `open`, `in-progress`, `done` or `cancelled`.
    #[serde(default, deserialize_with = "task_status")]
    #[schema(value_type = Option<TaskStatusText>)]
    pub status: Option<String>,
}

impl CaseRequest {
    /// Every node id the request names (`lead`, `nodes`, `to`, `assignee`) parses, whatever
    /// the action reads: a request is refused for what it says, not only for what one action
    /// uses. `Err` says which field and why.
    pub fn check_node_ids(&self) -> std::result::Result<(), String> {
        let one = |field: &str, v: &str| {
            v.parse::<NodeId>()
                .map(drop)
                .map_err(|e| format!("{field}: {v:?} is not a node id: {e}"))
        };
        for (field, v) in [("lead", &self.lead), ("assignee", &self.assignee)] {
            if let Some(v) = v {
                one(field, v)?;
            }
        }
        for (field, list) in [("nodes", &self.nodes), ("to", &self.to)] {
            for v in list {
                one(field, v)?;
            }
        }
        Ok(())
    }
}

/// A task status as written: one of the four, or none; anything else is refused when the
/// request is read, whatever the action.
fn task_status<'de, D>(d: D) -> std::result::Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    match Option::<String>::deserialize(d)? {
        Some(v) if v.parse::<TaskStatus>().is_err() => Err(D::Error::custom(format!(
            "status {v:?}: say open, in-progress, done or cancelled"
        ))),
        v => Ok(v),
    }
}

impl CaseRequest {
    /// Checks the request's counts and sizes against the protocol's limits before anything
    /// in it is parsed or decoded and before the case is derived (`limit-exceeded`, naming
    /// the limit and the value). An invitation is one signed message per node named, so
    /// `nodes` is bounded as a message's recipients are.
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        check("nodes", self.nodes.len(), MAX_RECIPIENTS)?;
        check("recipients", self.to.len(), MAX_RECIPIENTS)?;
        check("releasability", self.release.len(), MAX_RELEASE)?;
        check("entities", self.entities.len(), MAX_ENTITIES)?;
        check("attachments", self.attachments.len(), MAX_ATTACHMENTS)?;
        check("payload text", self.text.len(), MAX_TEXT_BYTES)?;
        for a in &self.attachments {
            // Checked before decoding: base64 takes 4 bytes for every 3.
            check(
                "attachment content (base64)",
                a.content_base64.len(),
                MAX_ATTACHMENT_BYTES.div_ceil(3) * 4,
            )?;
            check("attachment name", a.name.len(), MAX_SHORT_STRING)?;
            check(
                "attachment media type",
                a.media_type.len(),
                MAX_SHORT_STRING,
            )?;
        }
        let short = [
            ("case", &self.id),
            ("case title", &self.title),
            ("lead", &self.lead),
            ("TLP", &self.tlp),
            ("H3 restrictions", &self.h3),
            ("evaluation", &self.eval),
            ("language", &self.lang),
            ("task", &self.task),
            ("assignee", &self.assignee),
            ("due", &self.due),
            ("status", &self.status),
        ];
        for (field, s) in short {
            check(field, s.as_ref().map_or(0, String::len), MAX_SHORT_STRING)?;
        }
        for (field, list) in [
            ("node", &self.nodes),
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

/// `req`'s limits, as a refusal (`limit-exceeded`).
fn within_limits(req: &CaseRequest) -> Result<()> {
    Ok(req.check_limits().map_err(Refusal::from)?)
}

/// A file attached to a case message: its name, media type and bytes (base64).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRequest {
    /// File name, e.g. `manifest.pdf`.
    #[schema(max_length = 1024)]
    pub name: String,
    /// IANA media type, e.g. `application/pdf`.
    #[schema(max_length = 1024)]
    pub media_type: String,
    /// The bytes, base64 (standard alphabet, padded).
    #[schema(max_length = 349528)]
    pub content_base64: String,
}

fn refused(why: fn(String) -> Refusal, detail: impl Into<String>) -> NodeError {
    why(detail.into()).into()
}

fn invalid(detail: impl Into<String>) -> NodeError {
    refused(Refusal::InvalidMessage, detail)
}

/// Reads and opens a stored message for the case cache ([`crate::case_cache`]).
fn opener<'a>(
    store: &'a Store,
    keys: &'a Keys,
) -> impl Fn(
    &MessageId,
) -> crate::store::StoreResult<Option<(crate::store::MessageState, MessageId, Body)>>
       + 'a {
    move |id| entry(store, keys, id)
}

/// A stored message as its case takes it: its state, the id it counts under and its readable
/// body. A case message its originator forwarded to this node (a share of it, see
/// [`forward_missed`]) counts as the original: the original's id, its content opened with the
/// originator's grant. `None` if unknown or purged.
pub(crate) fn entry(
    store: &Store,
    keys: &Keys,
    id: &MessageId,
) -> crate::store::StoreResult<Option<(crate::store::MessageState, MessageId, Body)>> {
    let Some((state, body)) = crate::sealing::read_opened(store, keys, id)? else {
        return Ok(None);
    };
    let counts_as = match store.envelope(id)? {
        Some(env) => forwarded_original(&env.signed.body).unwrap_or(*id),
        None => return Ok(None),
    };
    Ok(Some((state, counts_as, body)))
}

/// The id of the case message a stored body forwards, if it is its originator's share of one.
fn forwarded_original(signed_body: &[u8]) -> Option<MessageId> {
    forwards(&Body::decode(signed_body).ok()?)
}

/// The id of the case message `body` forwards, if it is its originator's share of one (see
/// [`forward_missed`]). A share by anyone else (onward sharing under consent) is not part of
/// the case.
pub(crate) fn forwards(body: &Body) -> Option<MessageId> {
    let Kind::Share(share) = &body.kind else {
        return None;
    };
    let original = Body::decode(&share.original.body).ok()?;
    if original.header.originator != body.header.originator {
        return None;
    }
    original.header.case.as_ref()?;
    original
        .kind
        .content_kind()
        .filter(|k| crate::kinds::acts_on_case(*k))
        .map(|_| share.original.id())
}

/// Parses a case id as written.
pub fn case_id(s: &str) -> Result<CaseId> {
    parse::<CaseId>("case", s).map_err(invalid)
}

fn node(what: &str, s: &str) -> Result<NodeId> {
    parse::<NodeId>(what, s).map_err(invalid)
}

/// The case's messages this node can read (originated or delivered here), read from the
/// store and opened, every one: the input of the full derivation, which the node's cached
/// state always equals.
pub fn messages(store: &Store, keys: &Keys, case: &CaseId) -> Result<Vec<(MessageId, Body)>> {
    let mut out = Vec::new();
    for id in store.case_messages(case)? {
        match entry(store, keys, &id) {
            Ok(Some((state, counts_as, body))) if state.role != Role::Relayed => {
                out.push((counts_as, body))
            }
            Ok(_) => {}
            // Alarmed by the store; the case is derived from the messages still intact.
            Err(crate::store::StoreError::Damaged { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The case as this node derives it now: the cached state, brought up to date with the
/// messages stored since its last use (reads and opens those): from async code call [`load`].
pub fn state(ctx: &Ctx, case: &CaseId) -> Result<CaseState> {
    Ok(ctx
        .cases
        .with(&ctx.store, case, opener(&ctx.store, &ctx.keys), |log| {
            log.state().clone()
        })?)
}

/// [`state`], derived on the blocking pool (its cost grows with the case).
pub async fn load(ctx: &Arc<Ctx>, case: &CaseId) -> Result<CaseState> {
    let case = case.clone();
    off_workers(ctx, move |ctx| state(ctx, &case)).await
}

/// [`list`], on the blocking pool (the first use of a case reads all its messages).
pub async fn load_all(ctx: &Arc<Ctx>) -> Result<Vec<CaseState>> {
    off_workers(ctx, list).await
}

/// A case this node knows, or `unknown-case`.
async fn known(ctx: &Arc<Ctx>, case: &CaseId) -> Result<CaseState> {
    let s = load(ctx, case).await?;
    if !s.known() {
        return Err(refused(
            Refusal::UnknownCase,
            format!("this node holds neither the opening of case {case} nor an invitation to it"),
        ));
    }
    Ok(s)
}

/// Every case this node knows, newest activity first. Brings every case up to date: from
/// async code call [`load_all`].
pub fn list(ctx: &Ctx) -> Result<Vec<CaseState>> {
    let mut v = Vec::new();
    for id in ctx.store.case_ids() {
        let s = state(ctx, &id)?;
        if s.known() {
            v.push(s);
        }
    }
    v.sort_by_key(|s| std::cmp::Reverse(s.timeline.last().map(|e| e.at)));
    Ok(v)
}

/// Checks a case message delivered here against the case as this node holds it (with the
/// messages accepted earlier in the same batch, `batch`). `Err` to refuse. Reads the store:
/// call it off the async workers.
///
/// A message is refused only for what no message still on its way could change (see
/// `held_for_earlier`): the case's state is a function of the set of its messages in
/// creation order, so a message whose effect depends on one that sorts before it but has not
/// arrived yet (an update overtaking its sender's acceptance on another route, a task change
/// before the task) is stored and has its effect once that one arrives. Until then the
/// timeline lists it with the code it would be refused with.
pub fn check_incoming(
    ctx: &Ctx,
    id: MessageId,
    body: &Body,
    batch: &[(MessageId, Body)],
) -> Result<(), Refusal> {
    let Some(case) = &body.header.case else {
        return Ok(());
    };
    let mut more: Vec<(MessageId, Body)> = batch
        .iter()
        .filter(|(_, b)| b.header.case.as_ref() == Some(case))
        .cloned()
        .collect();
    more.push((id, body.clone()));
    ctx.cases
        .with(&ctx.store, case, opener(&ctx.store, &ctx.keys), |log| {
            judge(log, ctx.me.ids(), id, body, &more)
        })
        .map_err(|e| Refusal::Internal(format!("{e:#}")))?
}

/// [`check_incoming`]'s decision about the case message `(id, body)` delivered to this node
/// (`me`: its identities), given the case as held here (`log`) and `more` (the message and
/// those accepted with it, of the same case): a pure function of what this node holds.
pub(crate) fn judge(
    log: &liaison_protocol::case::CaseLog,
    me: &[NodeId],
    id: MessageId,
    body: &Body,
    more: &[(MessageId, Body)],
) -> Result<(), Refusal> {
    let s = log.state_with(more);
    // This node must have taken part at the message's time: now, or before a leaving or
    // removal that sorts after the message.
    let took_part = || {
        !matches!(body.kind, Kind::CaseUpdate(_) | Kind::CaseTask(_))
            || me.iter().any(|m| s.is_participant(m))
            || log
                .state_before(more, body.header.created_at, id)
                .participants()
                .iter()
                .any(|p| me.contains(p))
    };
    match s.verdict(&id) {
        Some(Some(e))
            if e.code.binds_the_whole_case()
                || !matches!(body.kind, Kind::CaseJoin { .. })
                    && !held_for_earlier(e.code, me, body, || {
                        log.state_before(more, body.header.created_at, id)
                    }) =>
        {
            Err(Refusal::Case(e.clone()))
        }
        // An update or task written after this node's removal or leaving in the case's order
        // (its writer had not learnt of it) is refused: nothing reaches a node that did not
        // take part at the message's time. One that arrived before the removal did is purged
        // when the removal arrives ([`purge_after_removal`]).
        _ if took_part() => Ok(()),
        _ => Err(Refusal::NotAParticipant(format!(
            "this node did not take part in case {} when the message was written",
            s.id
        ))),
    }
}

/// Whether a case message (`body`) that the case, as this node holds it with the message,
/// gives no effect, for `code`, is kept rather than refused, because a message that
/// sorts before it may still arrive and give it its effect:
/// - the case is not known here yet (`unknown-case`: its opening or the invitation is on its
///   way), an acceptance before its invitation (`not-invited`), a change of a task not known
///   yet (`unknown-task`) or by a node that a reassignment on its way makes a party
///   (`not-task-party`), a message while the case is suspended (`case-suspended`: a
///   resumption may be on its way);
/// - a sender, recipient or assignee that does not take part yet (`not-a-participant`); at
///   the case's lead (`me`: this node's identities) only if one of them was invited at the
///   message's time (`before`: the case just before the message, in the case's order): the
///   lead holds every invitation and removal it made, so for any other node nothing on its
///   way can make it a participant then.
///
/// What holds for good is refused: a closed case or handling outside the case's (the case's
/// opening is held), a second opening, an invitation of a participant, an act reserved to the
/// lead by another node.
pub(crate) fn held_for_earlier(
    code: liaison_protocol::case::CaseCode,
    me: &[NodeId],
    body: &Body,
    before: impl FnOnce() -> CaseState,
) -> bool {
    use liaison_protocol::case::{CaseCode, MemberStatus};
    match code {
        CaseCode::UnknownCase
        | CaseCode::NotInvited
        | CaseCode::UnknownTask
        | CaseCode::NotTaskParty
        | CaseCode::CaseSuspended => true,
        CaseCode::NotAParticipant => {
            let s = before();
            let lead_here = s.lead.as_ref().is_some_and(|l| me.contains(l));
            let mut involved = nodes(&body.header.recipients);
            involved.push(body.header.originator.clone());
            if let Kind::CaseTask(t) = &body.kind {
                involved.push(t.assignee.clone());
            }
            !lead_here
                || involved
                    .iter()
                    .any(|n| s.standing(n) == Some(MemberStatus::Invited))
        }
        CaseCode::AlreadyParticipant
        | CaseCode::CannotOpen
        | CaseCode::CaseClosed
        | CaseCode::CaseExists
        | CaseCode::CaseHandling
        | CaseCode::NotCaseLead => false,
    }
}

/// The case messages this node originated that a participant did not receive because this
/// node did not know it took part when it sent them, with those participants: what
/// [`forward_missed`] forwards. Reads the case from the store (in the order this node stored
/// its messages, which is what it knew when): call it off the async workers.
///
/// A message `m` of this node is forwarded to `p` when all of these hold:
/// - `m` has its effect in the case as derived now (an acceptance or decline of this node's
///   invitation, an update, a task, a status change, a removal or a closing);
/// - `p` took part just before `m` in the case's order (creation time, then id): nothing goes
///   to a node that was not a participant at the message's time — except what the lead's
///   invitation of `p` did not tell it:
///   - this node's acceptance, decline or leaving goes to every node invited or taking part
///     now whose invitation showed this node as the lead saw it before (pending, or for a
///     leaving a member), or whose invitation this node does not hold;
///   - the lead's last status change (suspension or resumption) before a node was invited or
///     joined goes to it: an invitation does not say whether the case is suspended;
/// - `p` is not among `m`'s recipients, and this node did not know that `p` took part when it
///   sent `m` (the case as derived from what it had stored before `m`), and `m` went to every
///   participant this node knew then: an update the officer narrowed to some participants
///   stays with them;
/// - this node has not forwarded `m` to `p` already.
pub(crate) fn missed(ctx: &Ctx, case: &CaseId) -> Result<Vec<(MessageId, Vec<NodeId>)>> {
    use liaison_protocol::message::ContentKind;
    // Most cases hold nothing of this node's that could be forwarded: told by the index, so
    // that no body is read or opened for them (this runs for every case at start-up).
    let ids = ctx.store.case_messages(case)?;
    let mut any = false;
    for id in &ids {
        any |= ctx.store.state(id)?.is_some_and(|s| {
            s.role == Role::Originated
                && matches!(
                    ContentKind::parse(&s.facts.kind),
                    Ok(ContentKind::CaseJoin
                        | ContentKind::CaseUpdate
                        | ContentKind::CaseTask
                        | ContentKind::CaseStatus
                        | ContentKind::CaseRemove
                        | ContentKind::CaseClose)
                )
        });
        if any {
            break;
        }
    }
    if !any {
        return Ok(Vec::new());
    }
    Ok(missed_among(
        case,
        ctx.me.ids(),
        &stored_entries(ctx, &ids)?,
    ))
}

/// The case's entries `ids` as this node stored them, in storing order (relayed copies,
/// which it cannot read, left out).
fn stored_entries(ctx: &Ctx, ids: &[MessageId]) -> Result<Vec<Stored>> {
    let mut stored = Vec::new();
    for id in ids {
        let (state, counts_as, body) = match entry(&ctx.store, &ctx.keys, id) {
            Ok(Some(e)) => e,
            Ok(None) | Err(crate::store::StoreError::Damaged { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        stored.push(match state.role {
            Role::Relayed => continue,
            Role::Originated if counts_as != *id => Stored::Forward {
                original: counts_as,
                to: nodes(&state.facts.recipients),
            },
            role => Stored::Message {
                id: counts_as,
                body: Box::new(body),
                own: role == Role::Originated,
            },
        });
    }
    Ok(stored)
}

/// This node's updates and tasks in `case` written before a participant joined, for each
/// participant (other than this node) that has some: what [`share_history`] may share with
/// it. By default a participant receives only what is written after it joined; these stay
/// with the participants of their time unless this node shares them. Reads the store: call
/// it off the async workers.
pub fn earlier(ctx: &Ctx, case: &CaseId) -> Result<Vec<(NodeId, Vec<MessageId>)>> {
    let ids = ctx.store.case_messages(case)?;
    Ok(earlier_among(
        case,
        ctx.me.ids(),
        &stored_entries(ctx, &ids)?,
    ))
}

/// [`earlier`]'s decision, a pure function of what the node (`me`: its identities) stored of
/// `case`, in storing order. A message `m` of this node is listed for `p` when `m` is an
/// update or task that has its effect, `p` takes part now and joined after `m` in the case's
/// order, `m` went to every participant this node knew when it wrote it (an update the
/// officer narrowed to some participants stays with them), and `m` has not reached `p`
/// (addressed or forwarded to it).
pub(crate) fn earlier_among(
    case: &CaseId,
    me: &[NodeId],
    stored: &[Stored],
) -> Vec<(NodeId, Vec<MessageId>)> {
    use liaison_protocol::case::MemberStatus;
    let Split {
        held,
        own,
        forwarded,
    } = split(stored, |k| {
        matches!(k, Kind::CaseUpdate(_) | Kind::CaseTask(_))
    });
    if own.is_empty() {
        return Vec::new();
    }
    let now_state = liaison_protocol::case::derive(case.clone(), held.clone());
    let mut out: Vec<(NodeId, Vec<MessageId>)> = now_state
        .members
        .iter()
        .filter(|(n, m)| !me.contains(n) && m.status == MemberStatus::Joined)
        .map(|(n, _)| (n.clone(), Vec::new()))
        .collect();
    for at in own {
        let id = held[at].0;
        if now_state.verdict(&id) != Some(None) {
            continue;
        }
        let body = &held[at].1;
        let to = nodes(&body.header.recipients);
        let known_then = liaison_protocol::case::derive(case.clone(), held[..at].to_vec());
        if !known_then
            .participants()
            .iter()
            .all(|n| me.contains(n) || to.contains(n))
        {
            continue;
        }
        let key = (body.header.created_at, id);
        for (p, list) in &mut out {
            let joined_after = now_state
                .members
                .get(p)
                .is_some_and(|m| (m.since, m.by) > key);
            let reached = to.contains(p) || forwarded.get(&id).is_some_and(|f| f.contains(p));
            if joined_after && !reached {
                list.push(id);
            }
        }
    }
    out.retain(|(_, l)| !l.is_empty());
    out
}

/// What [`share_history`] did with one message.
#[derive(Debug)]
pub struct HistoryShare {
    /// The message shared (the original).
    pub id: MessageId,
    /// The participants it was shared with.
    pub to: Vec<NodeId>,
    /// The share sent, or why it was not (its handling does not release it to them…).
    pub outcome: Result<MessageId>,
}

/// Shares with the participants `to` this node's updates and tasks in `case` written before
/// they joined ([`earlier`]), each as a `share` of the original under this node's own grant,
/// which re-seals the content for them and is checked against the original's handling as
/// every share is. The officer's choice: by default a participant receives only what is
/// written after it joined. Each of `to` must take part now.
pub async fn share_history(
    ctx: &Arc<Ctx>,
    case: &CaseId,
    to: &[String],
) -> Result<Vec<HistoryShare>> {
    use liaison_protocol::case::MemberStatus;
    if to.is_empty() {
        return Err(invalid(
            "nodes: name the participant(s) to share this node's earlier messages with",
        ));
    }
    let to: Vec<NodeId> = to
        .iter()
        .map(|n| node("participant", n))
        .collect::<Result<_>>()?;
    let s = known(ctx, case).await?;
    for n in &to {
        if ctx.me.is_me(n) || s.standing(n) != Some(MemberStatus::Joined) {
            return Err(refused(
                Refusal::NotAParticipant,
                format!(
                    "{n} does not take part in case {case}: only participants receive its messages"
                ),
            ));
        }
    }
    // Not at the same time as a pass forwarding missed messages: nothing goes twice.
    let _one = ctx.forwarding.lock().await;
    let earlier = {
        let case = case.clone();
        off_workers(ctx, move |ctx| earlier(ctx, &case)).await?
    };
    // Message by message, with every participant named that it has not reached.
    let mut plan: BTreeMap<MessageId, Vec<NodeId>> = BTreeMap::new();
    for (p, ids) in earlier {
        if to.contains(&p) {
            for id in ids {
                plan.entry(id).or_default().push(p.clone());
            }
        }
    }
    let mut out = Vec::new();
    for (id, to) in plan {
        let outcome = match crate::consent::forward_own(
            ctx,
            id,
            to.clone(),
            "earlier case history shared with a participant that joined after it",
        )
        .await
        {
            Ok(sent) => {
                tracing::info!(case = %case, message = %id.short(), to = ?to, share = %sent.id.short(), "case: shared an earlier message with participants that joined after it");
                Ok(sent.id)
            }
            Err(e) => Err(e),
        };
        out.push(HistoryShare { id, to, outcome });
    }
    Ok(out)
}

/// A case's entry as a node stored it, in storing order: what [`missed_among`] reads.
#[derive(Clone, Debug)]
pub(crate) enum Stored {
    /// A case message held (counted as its original: a forward received is the message it
    /// forwards), and whether this node wrote it.
    Message {
        /// The message's id.
        id: MessageId,
        /// Its opened body.
        body: Box<Body>,
        /// Written by this node.
        own: bool,
    },
    /// This node forwarded its message `original` to `to`.
    Forward {
        /// The message forwarded.
        original: MessageId,
        /// The nodes it was forwarded to.
        to: Vec<NodeId>,
    },
}

/// A case's stored entries as [`missed_among`] and [`earlier_among`] read them.
struct Split {
    /// Every message held, counted as its original, in storing order.
    held: Vec<(MessageId, Body)>,
    /// The positions in `held` of this node's own messages of the kinds asked for.
    own: Vec<usize>,
    /// Each message this node forwarded, with the nodes it forwarded it to.
    forwarded: BTreeMap<MessageId, Vec<NodeId>>,
}

/// Splits `stored` into a [`Split`], keeping as own the messages of this node whose kind
/// `mine` selects.
fn split(stored: &[Stored], mine: impl Fn(&Kind) -> bool) -> Split {
    let mut out = Split {
        held: Vec::new(),
        own: Vec::new(),
        forwarded: BTreeMap::new(),
    };
    for entry in stored {
        match entry {
            Stored::Forward { original, to } => {
                out.forwarded
                    .entry(*original)
                    .or_default()
                    .extend(to.clone());
            }
            Stored::Message { id, body, own } => {
                if *own && mine(&body.kind) {
                    out.own.push(out.held.len());
                }
                out.held.push((*id, (**body).clone()));
            }
        }
    }
    out
}

/// [`missed`]'s decision, a pure function of what the node (`me`: its identities) stored of
/// `case`, in storing order.
pub(crate) fn missed_among(
    case: &CaseId,
    me: &[NodeId],
    stored: &[Stored],
) -> Vec<(MessageId, Vec<NodeId>)> {
    let Split {
        held,
        own,
        forwarded,
    } = split(stored, |k| {
        matches!(
            k,
            Kind::CaseJoin { .. }
                | Kind::CaseUpdate(_)
                | Kind::CaseTask(_)
                | Kind::CaseStatus { .. }
                | Kind::CaseRemove { .. }
                | Kind::CaseClose { .. }
        )
    });
    if own.is_empty() {
        return Vec::new();
    }
    use liaison_protocol::case::MemberStatus;
    let now_state = liaison_protocol::case::derive(case.clone(), held.clone());
    let mut ordered = held.clone();
    ordered.sort_by_key(|m| (m.1.header.created_at, m.0));
    let others = |s: &CaseState| -> Vec<NodeId> {
        s.participants()
            .into_iter()
            .filter(|n| !me.contains(n))
            .collect()
    };
    // Who takes part or is invited now, with since when (the case's order).
    let members_now: Vec<(NodeId, (Timestamp, MessageId))> = now_state
        .members
        .iter()
        .filter(|(n, m)| {
            !me.contains(n) && matches!(m.status, MemberStatus::Joined | MemberStatus::Invited)
        })
        .map(|(n, m)| (n.clone(), (m.since, m.by)))
        .collect();
    // Whether the invitations of `p` this node holds show this node as the lead saw it before
    // `answer` (an acceptance or decline: pending; a leaving: pending or a member), so that
    // `p` does not learn `answer` from them. With no invitation of `p` held, it may not know.
    let stale_for = |p: &NodeId, leaving: bool| -> bool {
        let mut any = false;
        let mut stale = false;
        for (_, b) in &held {
            if let Kind::CaseInvite {
                invitee,
                members,
                pending,
                ..
            } = &b.kind
            {
                if invitee == p {
                    any = true;
                    stale |= me
                        .iter()
                        .any(|m| pending.contains(m) || leaving && members.contains(m));
                }
            }
        }
        !any || stale
    };
    // This node's status changes in effect (it leads the case), in the case's order.
    let statuses: Vec<(Timestamp, MessageId)> = ordered
        .iter()
        .filter(|(id, b)| {
            me.contains(&b.header.originator)
                && matches!(b.kind, Kind::CaseStatus { .. })
                && now_state.verdict(id) == Some(None)
        })
        .map(|(id, b)| (b.header.created_at, *id))
        .collect();
    let mut out = Vec::new();
    for at in own {
        let id = held[at].0;
        let to = nodes(&held[at].1.header.recipients);
        let body = &held[at].1;
        if now_state.verdict(&id) != Some(None) {
            continue;
        }
        let known_then = others(&liaison_protocol::case::derive(
            case.clone(),
            held[..at].to_vec(),
        ));
        if !known_then.iter().all(|n| to.contains(n)) {
            continue;
        }
        let key = (body.header.created_at, id);
        let done = forwarded.get(&id);
        let answer = match &body.kind {
            Kind::CaseJoin { .. } => Some(false),
            Kind::CaseRemove { participant, .. } if me.contains(participant) => Some(true),
            _ => None,
        };
        let owed: Vec<NodeId> = match answer {
            // This node's answer to its invitation, or its leaving: to everyone invited or
            // taking part whose invitation showed this node as the lead saw it before.
            Some(leaving) => members_now
                .iter()
                .map(|(n, _)| n.clone())
                .filter(|p| stale_for(p, leaving))
                .collect(),
            None => {
                let before: Vec<(MessageId, Body)> = ordered
                    .iter()
                    .take_while(|m| (m.1.header.created_at, m.0) < key)
                    .cloned()
                    .collect();
                let mut owed = others(&liaison_protocol::case::derive(case.clone(), before));
                if matches!(body.kind, Kind::CaseStatus { .. }) {
                    // The status each member found the case in when it was invited: the
                    // invitation does not say.
                    owed.extend(
                        members_now
                            .iter()
                            .filter(|(_, since)| {
                                statuses.iter().rev().find(|s| *s < since) == Some(&key)
                            })
                            .map(|(n, _)| n.clone()),
                    );
                }
                owed
            }
        };
        let mut missing: Vec<NodeId> = owed
            .into_iter()
            .filter(|p| {
                !to.contains(p) && !known_then.contains(p) && !done.is_some_and(|d| d.contains(p))
            })
            .collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            out.push((id, missing));
        }
    }
    out
}

/// Whether storing a case message of this kind may show that a participant missed messages
/// of this node ([`forward_missed`]): an acceptance or invitation (someone takes part or is
/// invited that this node did not know of), a suspension or resumption (one of this node's
/// messages may have its effect now, or a new member may not know the case's status).
pub(crate) fn may_owe_forwards(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::CaseJoin { accept: true } | Kind::CaseInvite { .. } | Kind::CaseStatus { .. }
    )
}

/// Where one of this node's case messages stands with each of its recipients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The message (for a forwarded one, the original).
    pub id: MessageId,
    /// Each recipient (those it was addressed to, then those it was forwarded to) and its
    /// answer: `delivered`, `refused: <code>` as that node signed it, or `waiting`.
    pub recipients: Vec<(NodeId, String)>,
}

/// Where each case message this node originated stands with each recipient, from the signed
/// answers in its trail (and in the trails of its forwards): only the originator learns this.
/// Reads the store: call it off the async workers.
pub fn deliveries(store: &Store, me: &[NodeId], case: &CaseId) -> Result<Vec<Delivery>> {
    let mut out: Vec<Delivery> = Vec::new();
    let mut forwards: Vec<(MessageId, crate::store::MessageState)> = Vec::new();
    let answer = |st: &crate::store::MessageState, n: &NodeId| -> String {
        st.hops
            .iter()
            .filter(|h| &h.peer == n)
            .map(|h| h.outcome.clone())
            .find(|o| o == "delivered" || o.starts_with("refused"))
            .unwrap_or_else(|| "waiting".into())
    };
    for id in store.case_messages(case)? {
        let Some(st) = store.state(&id)? else {
            continue;
        };
        if st.role != Role::Originated {
            continue;
        }
        let original = if st.facts.kind == liaison_protocol::message::ControlKind::Share.as_str() {
            store
                .envelope(&id)?
                .and_then(|env| forwarded_original(&env.signed.body))
        } else {
            None
        };
        match original {
            Some(original) => forwards.push((original, st)),
            None => {
                let recipients = nodes(&st.facts.recipients)
                    .into_iter()
                    .filter(|n| !me.contains(n))
                    .map(|n| {
                        let a = answer(&st, &n);
                        (n, a)
                    })
                    .collect();
                out.push(Delivery { id, recipients });
            }
        }
    }
    for (original, st) in forwards {
        if let Some(d) = out.iter_mut().find(|d| d.id == original) {
            for n in nodes(&st.facts.recipients) {
                let a = answer(&st, &n);
                d.recipients.push((n, a));
            }
        }
    }
    out.retain(|d| !d.recipients.is_empty());
    Ok(out)
}

/// A case message of this node that some recipient has not received yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The case.
    pub case: CaseId,
    /// The message.
    pub id: MessageId,
    /// When it was written.
    pub at: Timestamp,
    /// The recipients without a signed answer.
    pub waiting: Vec<NodeId>,
}

/// Every case message this node wrote before `before` that a recipient has not received yet
/// (see [`deliveries`]), oldest first. Reads the store's index (a message body only for a
/// forward).
pub fn gaps(store: &Store, me: &[NodeId], before: Timestamp) -> Result<Vec<Gap>> {
    let mut out = Vec::new();
    for case in store.case_ids() {
        for d in deliveries(store, me, &case)? {
            let waiting: Vec<NodeId> = d
                .recipients
                .iter()
                .filter(|(_, a)| a == "waiting")
                .map(|(n, _)| n.clone())
                .collect();
            if waiting.is_empty() {
                continue;
            }
            let Some(st) = store.state(&d.id)? else {
                continue;
            };
            if st.facts.created_at < before {
                out.push(Gap {
                    case: case.clone(),
                    id: d.id,
                    at: st.facts.created_at,
                    waiting,
                });
            }
        }
    }
    out.sort_by_key(|g| g.at);
    Ok(out)
}

impl crate::views::CaseView {
    /// The case's view with where this node's own messages stand (`deliveries`, from
    /// [`deliveries`]).
    pub fn with_deliveries(mut self, d: &[Delivery]) -> Self {
        self.deliveries = d
            .iter()
            .map(|d| crate::views::CaseDelivery {
                id: d.id.to_string(),
                recipients: d
                    .recipients
                    .iter()
                    .map(|(n, a)| crate::views::CaseReceipt {
                        node: n.as_str().to_owned(),
                        state: a.clone(),
                    })
                    .collect(),
            })
            .collect();
        self
    }
}

impl crate::views::CaseGapView {
    /// The view of a gap.
    pub fn of(g: &Gap) -> Self {
        Self {
            case: g.case.as_str().to_owned(),
            id: g.id.to_string(),
            at: g.at.to_rfc3339(),
            waiting: g.waiting.iter().map(|n| n.as_str().to_owned()).collect(),
        }
    }
}

impl crate::views::CaseView {
    /// The case's view with this node's messages each later participant has not received
    /// (`earlier`, from [`earlier`]).
    pub fn with_earlier(mut self, e: &[(NodeId, Vec<MessageId>)]) -> Self {
        self.earlier = e
            .iter()
            .map(|(n, ids)| crate::views::CaseEarlier {
                node: n.as_str().to_owned(),
                messages: ids.iter().map(ToString::to_string).collect(),
            })
            .collect();
        self
    }
}

/// [`earlier`] from async code (off the async workers).
pub async fn load_earlier(ctx: &Arc<Ctx>, case: &CaseId) -> Result<Vec<(NodeId, Vec<MessageId>)>> {
    let case = case.clone();
    off_workers(ctx, move |ctx| earlier(ctx, &case)).await
}

/// [`deliveries`] from async code (off the async workers).
pub async fn load_deliveries(ctx: &Arc<Ctx>, case: &CaseId) -> Result<Vec<Delivery>> {
    let case = case.clone();
    off_workers(ctx, move |ctx| deliveries(&ctx.store, ctx.me.ids(), &case)).await
}

/// The nodes named among `recipients`.
fn nodes(recipients: &[Recipient]) -> Vec<NodeId> {
    recipients
        .iter()
        .filter_map(|r| match r {
            Recipient::Node(n) => Some(n.clone()),
            Recipient::Network(_) => None,
        })
        .collect()
}

/// Forwards to the participants of `case` the messages of this node they did not receive
/// because this node did not know they took part when it sent them (see `missed`), each as
/// a share under this node's grant (`consent::forward_own`). Runs when a case
/// message that changes who takes part is stored here, and for every case at start-up.
/// Returns how many messages were forwarded.
pub async fn forward_missed(ctx: &Arc<Ctx>, case: &CaseId) -> Result<usize> {
    // One pass at a time, so that two passes do not forward the same message twice.
    let _one = ctx.forwarding.lock().await;
    let missed = {
        let case = case.clone();
        off_workers(ctx, move |ctx| missed(ctx, &case)).await?
    };
    let mut n = 0;
    for (id, to) in missed {
        match crate::consent::forward_own(
            ctx,
            id,
            to.clone(),
            "a participant of the case this message did not reach",
        )
        .await
        {
            Ok(sent) => {
                tracing::info!(case = %case, message = %id.short(), to = ?to, share = %sent.id.short(), "case: forwarded a message to participants it had not reached");
                n += 1;
            }
            Err(e) => {
                tracing::warn!(case = %case, message = %id.short(), to = ?to, error = %format!("{e:#}"), "case: cannot forward a message to participants it did not reach")
            }
        }
    }
    Ok(n)
}

/// The case messages stored here that were written after this node left `case` or was
/// removed from it, in the case's order, and reached it before the leaving or removal did
/// (their writer had not learnt of it): updates and tasks received here (directly or
/// forwarded), never this node's own. Empty unless this node left or was removed. Reads the
/// store: call it off the async workers.
pub(crate) fn after_removal(ctx: &Ctx, case: &CaseId) -> Result<Vec<MessageId>> {
    use liaison_protocol::message::ContentKind;
    let ids = ctx.store.case_messages(case)?;
    // Most cases hold no leaving or removal: told by the index, without reading a body (this
    // runs for every case at start-up).
    let mut any = false;
    for id in &ids {
        any |= ctx.store.state(id)?.is_some_and(|s| {
            matches!(
                ContentKind::parse(&s.facts.kind),
                Ok(ContentKind::CaseRemove)
            )
        });
        if any {
            break;
        }
    }
    if !any {
        return Ok(Vec::new());
    }
    let Some(since) = stopped_taking_part(&state(ctx, case)?, ctx.me.ids()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for id in ids {
        let (state, counts_as, body) = match entry(&ctx.store, &ctx.keys, &id) {
            Ok(Some(e)) => e,
            Ok(None) | Err(crate::store::StoreError::Damaged { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if matches!(state.role, Role::Originated | Role::Relayed) {
            continue;
        }
        if written_after(since, counts_as, &body) {
            out.push(id);
        }
    }
    Ok(out)
}

/// When the node with identities `me` stopped taking part in the case `s`: its leaving or
/// removal, in the case's order (creation time, then id).
pub(crate) fn stopped_taking_part(s: &CaseState, me: &[NodeId]) -> Option<(Timestamp, MessageId)> {
    use liaison_protocol::case::MemberStatus;
    me.iter()
        .filter_map(|m| s.members.get(m))
        .find(|m| matches!(m.status, MemberStatus::Left | MemberStatus::Removed))
        .map(|m| (m.since, m.by))
}

/// Whether the case message `id` is an update or task written after `since` in the case's
/// order.
pub(crate) fn written_after(since: (Timestamp, MessageId), id: MessageId, body: &Body) -> bool {
    matches!(body.kind, Kind::CaseUpdate(_) | Kind::CaseTask(_))
        && (body.header.created_at, id) > since
}

/// Once this node has left `case` or been removed from it, deletes the bodies of the case's
/// updates and tasks that were written after that (see `after_removal`): they reached this
/// node only because their writer had not learnt of it, and a node that no longer takes part
/// keeps nothing written after it stopped taking part. Each deletion is a `purged` entry in
/// the log naming the case; the signed receipt this node gave for the message stays. Runs
/// when a leaving or removal of this node is stored here, and for every case at start-up.
/// Returns how many bodies were deleted.
pub async fn purge_after_removal(ctx: &Arc<Ctx>, case: &CaseId) -> Result<usize> {
    let due = {
        let case = case.clone();
        off_workers(ctx, move |ctx| after_removal(ctx, &case)).await?
    };
    if due.is_empty() {
        return Ok(0);
    }
    let rule = format!("written after this node stopped taking part in case {case}");
    let done = ctx
        .store
        .purge(due.into_iter().map(|id| (id, rule.clone())).collect())
        .await;
    // Purged messages leave the case: derived again from what remains.
    ctx.cases.forget_all();
    let done = done?;
    for id in &done {
        tracing::warn!(case = %case, message = %id.short(), "case: deleted a message written after this node stopped taking part");
    }
    Ok(done.len())
}

/// Composes a case message, checks it as every participant will, and sends it.
async fn post(
    ctx: &Arc<Ctx>,
    case: &CaseId,
    kind: Kind,
    to: Vec<NodeId>,
    handling: Handling,
    in_reply_to: Option<MessageId>,
) -> Result<Sent> {
    let body = case_body(
        ctx.me.id(),
        ctx.me.ids(),
        case,
        kind,
        to,
        handling,
        in_reply_to,
        now(),
        ctx.me.nonce()?,
    );
    // Bringing the case up to date reads the store: off the async workers.
    {
        let (case, body) = (case.clone(), body.clone());
        off_workers(ctx, move |ctx| {
            ctx.cases
                .with(&ctx.store, &case, opener(&ctx.store, &ctx.keys), |log| {
                    check_case(&body, log)
                })?
        })
        .await?;
    }
    crate::exchange::send_body(ctx, body).await
}

/// The body of a case message from `me` (one of this node's `identities`, none of which
/// receives it) to `to`.
#[allow(clippy::too_many_arguments)]
fn case_body(
    me: &NodeId,
    identities: &[NodeId],
    case: &CaseId,
    kind: Kind,
    to: Vec<NodeId>,
    handling: Handling,
    in_reply_to: Option<MessageId>,
    now: Timestamp,
    nonce: [u8; 16],
) -> Body {
    let mut to: Vec<NodeId> = to.into_iter().filter(|n| !identities.contains(n)).collect();
    to.sort();
    to.dedup();
    if to.is_empty() {
        // No one else yet: logged here only.
        to.push(me.clone());
    }
    let mut body = Body {
        header: Header {
            originator: me.clone(),
            created_at: now,
            nonce,
            recipients: to.into_iter().map(Recipient::Node).collect(),
            case: Some(case.clone()),
            in_reply_to,
            expires_at: None,
            hop_limit: DEFAULT_HOP_LIMIT,
        },
        handling,
        kind,
    };
    body.normalise();
    body
}

/// Checks a case message as every participant will: the message's own rules, then the case's
/// (`log`: the case as this node holds it).
fn check_case(body: &Body, log: &CaseLog) -> Result<()> {
    body.validate().map_err(Refusal::from)?;
    if body.header.case.as_ref() != Some(&log.state().id) {
        return Err(invalid("a case message names its case"));
    }
    if let Some(e) = log.verdict_if_added(PROVISIONAL, body) {
        return Err(Refusal::Case(e).into());
    }
    if matches!(body.kind, Kind::CaseUpdate(_) | Kind::CaseTask(_)) {
        log.state()
            .recipients_take_part(body)
            .map_err(Refusal::Case)?;
    }
    Ok(())
}

fn language(req: &CaseRequest) -> Result<LanguageTag> {
    match (&req.lang, req.text.is_empty()) {
        (Some(l), _) => parse::<LanguageTag>("language", l).map_err(invalid),
        (None, true) => parse::<LanguageTag>("language", "und").map_err(invalid),
        (None, false) => Err(invalid(
            "lang: say which language the text is written in (BCP 47, e.g. ru, ar, en)",
        )),
    }
}

/// The text, entities and attachments of a case request, as every case operation reads them.
pub fn payload(req: &CaseRequest) -> Result<Payload> {
    Ok(Payload {
        language: language(req)?,
        text: req.text.clone(),
        entities: req
            .entities
            .iter()
            .map(|e| compose::parse_entity(e))
            .collect::<Result<_, _>>()
            .map_err(invalid)?,
        attachments: req
            .attachments
            .iter()
            .map(|a| {
                use base64::Engine as _;
                let content = base64::engine::general_purpose::STANDARD
                    .decode(&a.content_base64)
                    .map_err(|e| invalid(format!("attachment {:?}: not base64: {e}", a.name)))?;
                Ok(liaison_protocol::Attachment {
                    name: a.name.clone(),
                    media_type: a.media_type.clone(),
                    content,
                })
            })
            .collect::<Result<_>>()?,
    })
}

fn case_handling(s: &CaseState) -> Result<Handling> {
    s.handling.clone().ok_or_else(|| {
        refused(
            Refusal::UnknownCase,
            "the case's handling is not known here",
        )
    })
}

/// Participants and pending invitees: who hears of membership and status changes.
fn everyone(s: &CaseState) -> Vec<NodeId> {
    let mut v = s.participants();
    v.extend(s.pending());
    v
}

/// Opens a case: title, summary, handling, lead; invites `nodes` at once.
pub async fn open(ctx: &Arc<Ctx>, req: &CaseRequest) -> Result<(CaseId, Sent)> {
    within_limits(req)?;
    let id = match &req.id {
        Some(s) => case_id(s)?,
        None => {
            let n = ctx.me.nonce()?;
            let year = time::OffsetDateTime::now_utc().year();
            case_id(&format!(
                "{}-{year}-{:02X}{:02X}",
                ctx.me.id().centre_str().to_uppercase(),
                n[0],
                n[1]
            ))?
        }
    };
    if !ctx.store.case_messages(&id)?.is_empty() {
        return Err(refused(
            Refusal::CaseExists,
            format!("this node already holds messages of case {id}"),
        ));
    }
    let body = open_body(ctx.me.id(), ctx.me.ids(), &id, req, now(), ctx.me.nonce()?)?;
    let sent = crate::exchange::send_body(ctx, body).await?;
    Ok((id, sent))
}

/// The opening of case `id` by `me` (one of this node's `identities`) at `now`, composed
/// and checked as every participant will check it: what [`open`] sends once the store holds
/// nothing of the case.
pub fn open_body(
    me: &NodeId,
    identities: &[NodeId],
    id: &CaseId,
    req: &CaseRequest,
    now: Timestamp,
    nonce: [u8; 16],
) -> Result<Body> {
    let title = req
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| invalid("title: a case needs a title"))?;
    let lead = match &req.lead {
        Some(l) => node("lead", l)?,
        None => me.clone(),
    };
    let invited: Vec<NodeId> = req
        .nodes
        .iter()
        .map(|n| node("invitee", n))
        .collect::<Result<_>>()?;
    let mut named: Vec<NodeId> = invited.clone();
    named.push(lead.clone());
    named.extend(identities.iter().cloned());
    let release = if req.release.is_empty() {
        let mut nets: Vec<String> = named
            .iter()
            .map(|n| format!("network:{}", n.network_str()))
            .collect();
        nets.sort();
        nets.dedup();
        nets
    } else {
        req.release.clone()
    };
    let as_send = SendRequest {
        tlp: req
            .tlp
            .clone()
            .ok_or_else(|| invalid("tlp: a case needs a TLP level"))?,
        release,
        originator_control: req.originator_control,
        h0: req.h0,
        h1: req.h1,
        h3: req.h3.clone(),
        eval: req
            .eval
            .clone()
            .ok_or_else(|| invalid("eval: a case needs a 4x4 evaluation, e.g. B2"))?,
        ..Default::default()
    };
    let handling = compose::handling_of(&as_send, &[]).map_err(invalid)?;
    let kind = Kind::CaseOpen {
        title,
        payload: payload(req)?,
        lead: lead.clone(),
    };
    let mut to = invited;
    to.push(lead);
    let body = case_body(me, identities, id, kind, to, handling, None, now, nonce);
    // A new case: no message of it before this one.
    check_case(&body, &CaseLog::new(id.clone(), Vec::new()))?;
    Ok(body)
}

/// Invites each of `req.nodes` (lead only); one signed invitation per node.
pub async fn invite(ctx: &Arc<Ctx>, case: &CaseId, req: &CaseRequest) -> Result<Vec<Sent>> {
    within_limits(req)?;
    if req.nodes.is_empty() {
        return Err(invalid("nodes: name the node(s) to invite"));
    }
    let mut sent = Vec::new();
    for n in &req.nodes {
        let invitee = node("invitee", n)?;
        let s = known(ctx, case).await?;
        let kind = Kind::CaseInvite {
            invitee: invitee.clone(),
            note: payload(req)?,
            title: s.title.clone().unwrap_or_default(),
            summary: s.summary.clone().ok_or_else(|| {
                refused(Refusal::UnknownCase, "the case's summary is not known here")
            })?,
            lead: s.lead.clone().ok_or_else(|| {
                refused(Refusal::UnknownCase, "the case's lead is not known here")
            })?,
            members: s.participants(),
            pending: s.pending(),
        };
        let mut to = everyone(&s);
        to.push(invitee);
        sent.push(post(ctx, case, kind, to, case_handling(&s)?, None).await?);
    }
    Ok(sent)
}

/// Accepts (or declines) this node's invitation to `case`.
pub async fn join(ctx: &Arc<Ctx>, case: &CaseId, accept: bool) -> Result<Sent> {
    let s = known(ctx, case).await?;
    let invitation = s.members.get(ctx.me.id()).map(|m| m.by);
    post(
        ctx,
        case,
        Kind::CaseJoin { accept },
        everyone(&s),
        case_handling(&s)?,
        invitation,
    )
    .await
}

/// Posts an update: to every participant, or to `req.to` (participants only), with the
/// case's handling or a narrower one.
pub async fn update(ctx: &Arc<Ctx>, case: &CaseId, req: &CaseRequest) -> Result<Sent> {
    within_limits(req)?;
    let s = known(ctx, case).await?;
    let base = case_handling(&s)?;
    let to: Vec<NodeId> = if req.to.is_empty() {
        s.participants()
    } else {
        req.to
            .iter()
            .map(|n| node("recipient", n))
            .collect::<Result<_>>()?
    };
    let mut h = base.clone();
    if let Some(t) = &req.tlp {
        h.tlp = parse("TLP", t).map_err(invalid)?;
    }
    if !req.release.is_empty() {
        h.releasability = req
            .release
            .iter()
            .map(|r| parse::<Release>("releasability", r))
            .collect::<Result<_, _>>()
            .map_err(invalid)?;
    }
    h.originator_control |= req.originator_control;
    h.h0_crime_only |= req.h0;
    h.h1_no_judicial_use |= req.h1;
    if req.h3.is_some() {
        h.h3_restrictions = req.h3.clone();
    }
    if let Some(e) = &req.eval {
        h.evaluation = parse("evaluation", e).map_err(invalid)?;
    }
    within(&h, &base).map_err(|e| refused(Refusal::CaseHandling, e))?;
    post(ctx, case, Kind::CaseUpdate(payload(req)?), to, h, None).await
}

/// A task's due date as written: `YYYY-MM-DD` (the end of that day, UTC) or RFC 3339.
pub fn due(s: &str) -> Result<Timestamp> {
    use time::format_description::well_known::Rfc3339;
    let t = if s.len() == 10 {
        time::OffsetDateTime::parse(&format!("{s}T23:59:59Z"), &Rfc3339)
    } else {
        time::OffsetDateTime::parse(s, &Rfc3339)
    }
    .map_err(|e| invalid(format!("due {s:?}: {e} (write YYYY-MM-DD or RFC 3339)")))?;
    let ms = u64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| invalid(format!("due {s:?}: before 1970")))?;
    Ok(Timestamp(ms))
}

/// Creates a task (`req.task` none) or changes one.
pub async fn task(ctx: &Arc<Ctx>, case: &CaseId, req: &CaseRequest) -> Result<Sent> {
    within_limits(req)?;
    let s = known(ctx, case).await?;
    let existing = match &req.task {
        None => None,
        Some(prefix) => {
            let p = prefix.to_ascii_lowercase();
            let found: Vec<_> = s
                .tasks
                .iter()
                .filter(|t| t.id.to_string().starts_with(&p))
                .collect();
            match found.as_slice() {
                [one] => Some((*one).clone()),
                [] => {
                    return Err(refused(
                        Refusal::UnknownTask,
                        format!("no task {prefix} in {case}"),
                    ))
                }
                _ => {
                    return Err(invalid(format!(
                        "task {prefix} is ambiguous; give more digits"
                    )))
                }
            }
        }
    };
    let title = req
        .title
        .clone()
        .or_else(|| existing.as_ref().map(|t| t.title.clone()))
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| invalid("title: a task needs a title"))?;
    let assignee = match (&req.assignee, &existing) {
        (Some(a), _) => node("assignee", a)?,
        (None, Some(t)) => t.assignee.clone(),
        (None, None) => return Err(invalid("assignee: a task needs an assignee")),
    };
    let change = TaskChange {
        task: existing.as_ref().map(|t| t.id),
        title,
        assignee,
        due: match &req.due {
            Some(d) => Some(due(d)?),
            None => existing.as_ref().and_then(|t| t.due),
        },
        status: match &req.status {
            Some(st) => st.parse::<TaskStatus>().map_err(invalid)?,
            None => existing.as_ref().map_or(TaskStatus::Open, |t| t.status),
        },
        note: req.text.clone(),
    };
    post(
        ctx,
        case,
        Kind::CaseTask(change),
        s.participants(),
        case_handling(&s)?,
        None,
    )
    .await
}

/// What the lead (or a leaving participant) does to membership and status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Close the case (final).
    Close,
    /// Suspend it.
    Suspend,
    /// Resume it.
    Resume,
    /// Remove `req.nodes[0]`.
    Remove,
    /// Leave it (this node).
    Leave,
}

/// Closes, suspends, resumes, removes a participant or leaves; `req.text` is the reason.
pub async fn change(
    ctx: &Arc<Ctx>,
    case: &CaseId,
    what: Change,
    req: &CaseRequest,
) -> Result<Sent> {
    within_limits(req)?;
    let s = known(ctx, case).await?;
    let reason = req.text.clone();
    let mut to = everyone(&s);
    let kind = match what {
        Change::Close => Kind::CaseClose { reason },
        Change::Suspend | Change::Resume => Kind::CaseStatus {
            suspended: what == Change::Suspend,
            reason,
        },
        Change::Remove | Change::Leave => {
            let participant = if what == Change::Leave {
                ctx.me.id().clone()
            } else {
                let [one] = req.nodes.as_slice() else {
                    return Err(invalid("nodes: name the one node to remove"));
                };
                node("participant", one)?
            };
            to.push(participant.clone());
            Kind::CaseRemove {
                participant,
                reason,
            }
        }
    };
    post(ctx, case, kind, to, case_handling(&s)?, None).await
}

#[cfg(test)]
mod convergence;
