//! Shared cases: the state every participant derives from the case's signed messages.
//!
//! A case is a conversation of signed messages that name it in their header: `case-open`,
//! `case-invite`, `case-join`, `case-update`, `case-task`, `case-remove`, `case-status` and
//! `case-close` (plus any alert, request or reply tagged with the case, which the timeline
//! lists). There is no shared database: each participant derives the case's state —
//! title, lead, members, status, updates, tasks, timeline — with [`derive()`] from the messages
//! it holds.
//!
//! **Convergence.** [`derive()`] is a pure function of the *set* of messages: it sorts them by
//! (creation time, message id) and applies the rules below in that order, so two participants
//! that hold the same messages derive the same state, whatever order the messages arrived
//! in. A message that breaks a rule at its place in that order is kept in the timeline with
//! its reason code and has no effect. Because every case message is addressed to every
//! member its sender knows (updates may be narrower), participants hold the same messages
//! once delivery is complete, and so converge.
//!
//! **Rules.** The opener and the lead are participants from the start; the opener's
//! recipients are invited. Only the lead invites, removes, suspends, resumes and closes; an
//! invited node accepts or declines; a participant may leave (the lead may not); only
//! participants post updates and tasks, and only to participants; while suspended only the
//! lead posts; after `case-close` nothing more is accepted. Every message's handling must be
//! within the case's ([`within`]): a TLP at least as strict, releasability inside the case's,
//! and the case's H-codes kept. An invitee that was not a recipient of `case-open` learns
//! the case from its invitation, which carries title, summary, lead and members.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::entity::Payload;
use crate::error::DecodeError;
use crate::handling::{Handling, Recipient, Release};
use crate::ids::{CaseId, MessageId, NodeId, Timestamp};
use crate::limits::MAX_SHORT_STRING;
use crate::message::{Body, Kind};

/// A task's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskStatus {
    /// Not started.
    Open,
    /// Being worked on.
    InProgress,
    /// Finished.
    Done,
    /// Dropped.
    Cancelled,
}

impl TaskStatus {
    /// Lower-case name, e.g. `in-progress`.
    pub fn name(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::InProgress => "in-progress",
            TaskStatus::Done => "done",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for TaskStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(TaskStatus::Open),
            "in-progress" => Ok(TaskStatus::InProgress),
            "done" => Ok(TaskStatus::Done),
            "cancelled" => Ok(TaskStatus::Cancelled),
            other => Err(format!(
                "task status {other:?}: use open, in-progress, done or cancelled"
            )),
        }
    }
}

/// A new task (`task` none) or a change to the task created by message `task`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskChange {
    /// The task changed (the id of the message that created it); none for a new task.
    pub task: Option<MessageId>,
    /// What is to be done.
    pub title: String,
    /// The participant who does it.
    pub assignee: NodeId,
    /// When it is due.
    pub due: Option<Timestamp>,
    /// Its status.
    pub status: TaskStatus,
    /// A note on this change.
    pub note: String,
}

impl TaskChange {
    /// Checks sizes and the due date.
    pub fn validate(&self) -> Result<(), DecodeError> {
        crate::entity::limit("task title", self.title.len(), MAX_SHORT_STRING)?;
        crate::entity::limit("task note", self.note.len(), MAX_SHORT_STRING)?;
        if let Some(d) = self.due {
            d.check()?;
        }
        Ok(())
    }
}

/// A case's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseStatus {
    /// Open: participants post updates and tasks.
    Open,
    /// Suspended by the lead: only the lead posts.
    Suspended,
    /// Closed by the lead: final.
    Closed,
}

impl CaseStatus {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Suspended => "suspended",
            CaseStatus::Closed => "closed",
        }
    }
}

/// Where a node stands in a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberStatus {
    /// Invited, not yet answered.
    Invited,
    /// A participant.
    Joined,
    /// Declined the invitation.
    Declined,
    /// Left the case.
    Left,
    /// Removed by the lead.
    Removed,
}

impl MemberStatus {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            MemberStatus::Invited => "invited",
            MemberStatus::Joined => "participant",
            MemberStatus::Declined => "declined",
            MemberStatus::Left => "left",
            MemberStatus::Removed => "removed",
        }
    }
}

/// A node's standing, and the message that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its standing.
    pub status: MemberStatus,
    /// Since when (the setting message's creation time).
    pub since: Timestamp,
    /// The message that set it.
    pub by: MessageId,
}

/// A task as it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// The message that created it.
    pub id: MessageId,
    /// What is to be done.
    pub title: String,
    /// Who does it.
    pub assignee: NodeId,
    /// When it is due.
    pub due: Option<Timestamp>,
    /// Its status.
    pub status: TaskStatus,
    /// Who created it.
    pub created_by: NodeId,
    /// The last change's creation time.
    pub updated_at: Timestamp,
    /// The last change's note.
    pub note: String,
}

/// An update as posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// Its message id.
    pub id: MessageId,
    /// Who posted it.
    pub from: NodeId,
    /// When.
    pub at: Timestamp,
    /// Its handling (may be narrower than the case's).
    pub handling: Handling,
    /// The participants it was addressed to.
    pub recipients: Vec<Recipient>,
    /// Its content.
    pub payload: Payload,
}

/// Why a case message has no effect: a stable reason code (see `docs/REASONS.md`) and detail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct CaseError {
    /// Reason code, e.g. `case-closed`.
    pub code: CaseCode,
    /// What is wrong.
    pub detail: String,
}

/// The reason codes of a case message without effect (see `docs/REASONS.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseCode {
    /// `already-participant`.
    AlreadyParticipant,
    /// `cannot-open`.
    CannotOpen,
    /// `case-closed`.
    CaseClosed,
    /// `case-exists`.
    CaseExists,
    /// `case-handling`.
    CaseHandling,
    /// `case-suspended`.
    CaseSuspended,
    /// `not-a-participant`.
    NotAParticipant,
    /// `not-case-lead`.
    NotCaseLead,
    /// `not-invited`.
    NotInvited,
    /// `not-task-party`.
    NotTaskParty,
    /// `unknown-case`.
    UnknownCase,
    /// `unknown-task`.
    UnknownTask,
}

impl CaseCode {
    /// Every case reason code.
    pub const ALL: [CaseCode; 12] = [
        Self::AlreadyParticipant,
        Self::CannotOpen,
        Self::CaseClosed,
        Self::CaseExists,
        Self::CaseHandling,
        Self::CaseSuspended,
        Self::NotAParticipant,
        Self::NotCaseLead,
        Self::NotInvited,
        Self::NotTaskParty,
        Self::UnknownCase,
        Self::UnknownTask,
    ];

    /// The stable reason code, e.g. `case-closed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AlreadyParticipant => "already-participant",
            Self::CannotOpen => "cannot-open",
            Self::CaseClosed => "case-closed",
            Self::CaseExists => "case-exists",
            Self::CaseHandling => "case-handling",
            Self::CaseSuspended => "case-suspended",
            Self::NotAParticipant => "not-a-participant",
            Self::NotCaseLead => "not-case-lead",
            Self::NotInvited => "not-invited",
            Self::NotTaskParty => "not-task-party",
            Self::UnknownCase => "unknown-case",
            Self::UnknownTask => "unknown-task",
        }
    }

    /// Whether the code is about the whole case (closed, or outside its handling), so that it
    /// holds for every message of the case, an acceptance included.
    pub const fn binds_the_whole_case(self) -> bool {
        matches!(self, Self::CaseClosed | Self::CaseHandling)
    }
}

impl std::fmt::Display for CaseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn err<T>(code: CaseCode, detail: impl Into<String>) -> Result<T, CaseError> {
    Err(CaseError {
        code,
        detail: detail.into(),
    })
}

/// One line of a case's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The message.
    pub id: MessageId,
    /// Its creation time.
    pub at: Timestamp,
    /// Its originator.
    pub from: NodeId,
    /// Its kind name.
    pub kind: &'static str,
    /// What it did, in a few words (English; never payload text).
    pub summary: String,
    /// Why it had no effect, if it had none.
    pub refused: Option<CaseError>,
}

/// A case as derived from its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseState {
    /// The case.
    pub id: CaseId,
    /// Title (none until this node holds the opening or an invitation).
    pub title: Option<String>,
    /// Summary.
    pub summary: Option<Payload>,
    /// The lead centre's node.
    pub lead: Option<NodeId>,
    /// The opener, if this node holds the `case-open`.
    pub opener: Option<NodeId>,
    /// The case's handling: every case message must be within it.
    pub handling: Option<Handling>,
    /// When it was opened, if this node holds the `case-open`.
    pub opened_at: Option<Timestamp>,
    /// Open, suspended or closed.
    pub status: CaseStatus,
    /// The reason given for the last status change.
    pub status_reason: Option<String>,
    /// Every node that was ever invited or took part, and where it stands.
    pub members: BTreeMap<NodeId, Member>,
    /// Updates, oldest first.
    pub updates: Vec<Update>,
    /// Tasks, oldest first.
    pub tasks: Vec<Task>,
    /// Every message of the case, in order, with what it did.
    pub timeline: Vec<Entry>,
    /// Acceptances, declines, leavings, removals, updates and tasks met before the case was
    /// known here (without effect then, as `unknown-case`), applied again when an invitation
    /// makes the case known: the invitation's lists of members and pending invitees are the
    /// lead's view when it invited, which may predate the answers and departures; updates and
    /// tasks written before the invitation reach an invitee only when their originator shares
    /// them with it, and count as at every other participant.
    early: Vec<(MessageId, Body)>,
}

/// Derives a case's state from the messages this node holds (bodies opened; a body still
/// sealed is listed in the timeline as unreadable and has no effect). Order-independent.
pub fn derive(id: CaseId, mut messages: Vec<(MessageId, Body)>) -> CaseState {
    messages.sort_by_key(|m| (m.1.header.created_at, m.0));
    messages.dedup_by_key(|m| m.0);
    let mut s = CaseState {
        id,
        title: None,
        summary: None,
        lead: None,
        opener: None,
        handling: None,
        opened_at: None,
        status: CaseStatus::Open,
        status_reason: None,
        members: BTreeMap::new(),
        updates: Vec::new(),
        tasks: Vec::new(),
        timeline: Vec::new(),
        early: Vec::new(),
    };
    for (mid, body) in &messages {
        s.apply(*mid, body);
    }
    s
}

/// A case's messages and the state derived from them, kept up to date as messages arrive, so
/// a node need not read and open every message of a case again for each new one.
///
/// The state is always exactly [`derive()`] of the messages held: a message that sorts after
/// every message held (the usual case: messages arrive roughly in creation order) is applied
/// to the state as it is; one that sorts before any, or repeats one held, makes the state be
/// derived again from the messages kept in memory.
#[derive(Clone, Debug)]
pub struct CaseLog {
    /// The messages, in derivation order (creation time, then id), without repeats.
    messages: Vec<(MessageId, Body)>,
    state: CaseState,
}

impl CaseLog {
    /// The case with `messages` (any order, repeats allowed).
    pub fn new(id: CaseId, mut messages: Vec<(MessageId, Body)>) -> Self {
        messages.sort_by_key(|m| (m.1.header.created_at, m.0));
        messages.dedup_by_key(|m| m.0);
        let state = derive(id, messages.clone());
        Self { messages, state }
    }

    /// The derived state.
    pub fn state(&self) -> &CaseState {
        &self.state
    }

    /// The messages held, in derivation order.
    pub fn messages(&self) -> &[(MessageId, Body)] {
        &self.messages
    }

    /// Adds a message; returns false if it was held already (nothing changes).
    pub fn add(&mut self, id: MessageId, body: Body) -> bool {
        let key = (body.header.created_at, id);
        let at = self
            .messages
            .partition_point(|m| (m.1.header.created_at, m.0) < key);
        if self.messages.iter().any(|m| m.0 == id) {
            return false;
        }
        let last = at == self.messages.len();
        if last {
            self.state.apply(id, &body);
            self.messages.push((id, body));
        } else {
            self.messages.insert(at, (id, body));
            self.state = derive(self.state.id.clone(), self.messages.clone());
        }
        true
    }

    /// The state the case had just before the message `(at, id)` in the case's order, with
    /// `more` added (any order, repeats allowed): who took part at that message's time.
    pub fn state_before(
        &self,
        more: &[(MessageId, Body)],
        at: Timestamp,
        id: MessageId,
    ) -> CaseState {
        let earlier = |m: &&(MessageId, Body)| (m.1.header.created_at, m.0) < (at, id);
        let msgs: Vec<(MessageId, Body)> = self
            .messages
            .iter()
            .chain(more.iter())
            .filter(earlier)
            .cloned()
            .collect();
        derive(self.state.id.clone(), msgs)
    }

    /// What the case would decide about `body` if it were added with id `id` (a message not
    /// yet sent checks itself this way), without adding it.
    pub fn verdict_if_added(&self, id: MessageId, body: &Body) -> Option<CaseError> {
        self.state_with(&[(id, body.clone())])
            .verdict(&id)
            .flatten()
            .cloned()
    }

    /// The state the case would have with `more` added (any order, repeats allowed), without
    /// adding them: what a message is checked against before it is stored. Applied to a copy
    /// of the state when `more` sorts after every message held, derived again otherwise.
    pub fn state_with(&self, more: &[(MessageId, Body)]) -> CaseState {
        let mut keys: Vec<(Timestamp, MessageId)> =
            more.iter().map(|m| (m.1.header.created_at, m.0)).collect();
        keys.sort();
        let mut last = self.messages.last().map(|m| (m.1.header.created_at, m.0));
        let after = keys.iter().all(|k| {
            let later = Some(*k) > last;
            last = Some(*k);
            later
        });
        if after {
            let mut sorted: Vec<&(MessageId, Body)> = more.iter().collect();
            sorted.sort_by_key(|m| (m.1.header.created_at, m.0));
            let mut s = self.state.clone();
            for (id, body) in sorted {
                s.apply(*id, body);
            }
            s
        } else {
            let mut msgs = self.messages.clone();
            msgs.extend(more.iter().cloned());
            derive(self.state.id.clone(), msgs)
        }
    }
}

/// Whether `h` is within the case's handling `case`: TLP at least as strict, every
/// releasability entry inside one of the case's, and the case's H0/H1/H2/H3 kept.
pub fn within(h: &Handling, case: &Handling) -> Result<(), String> {
    if h.tlp < case.tlp {
        return Err(format!(
            "{} is broader than the case's {}",
            h.tlp.label(),
            case.tlp.label()
        ));
    }
    for r in &h.releasability {
        if !case.releasability.iter().any(|c| release_within(r, c)) {
            return Err(format!("releasability {r} is outside the case's"));
        }
    }
    let kept = |case_has: bool, has: bool, code: &str| {
        if case_has && !has {
            Err(format!("the case carries {code}; so must its messages"))
        } else {
            Ok(())
        }
    };
    kept(case.h0_crime_only, h.h0_crime_only, "H0")?;
    kept(case.h1_no_judicial_use, h.h1_no_judicial_use, "H1")?;
    kept(case.originator_control, h.originator_control, "H2")?;
    if case.h3_restrictions.is_some() && h.h3_restrictions != case.h3_restrictions {
        return Err("the case carries H3 restrictions; its messages must carry the same".into());
    }
    Ok(())
}

fn release_within(r: &Release, c: &Release) -> bool {
    match (r, c) {
        (a, b) if a == b => true,
        (Release::Node(n), Release::Network(net)) => n.network_str() == net.as_str(),
        (Release::Node(n), Release::Centre(ce)) => n.centre_str() == ce.as_str(),
        _ => false,
    }
}

impl CaseState {
    /// Whether this node holds the case's opening or an invitation to it.
    pub fn known(&self) -> bool {
        self.title.is_some()
    }

    /// Where `node` stands, if it was ever invited or took part.
    pub fn standing(&self, node: &NodeId) -> Option<MemberStatus> {
        self.members.get(node).map(|m| m.status)
    }

    /// Whether `node` is a participant (the lead, or joined).
    pub fn is_participant(&self, node: &NodeId) -> bool {
        self.lead.as_ref() == Some(node) || self.standing(node) == Some(MemberStatus::Joined)
    }

    /// The participants, sorted.
    pub fn participants(&self) -> Vec<NodeId> {
        self.members
            .iter()
            .filter(|(n, _)| self.is_participant(n))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The nodes invited and not yet answered, sorted.
    pub fn pending(&self) -> Vec<NodeId> {
        self.members
            .iter()
            .filter(|(_, m)| m.status == MemberStatus::Invited)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// What the derivation decided about message `id`: `Some(None)` applied, `Some(Some(e))`
    /// no effect because of `e`, `None` not in this case.
    pub fn verdict(&self, id: &MessageId) -> Option<Option<&CaseError>> {
        self.timeline
            .iter()
            .find(|e| &e.id == id)
            .map(|e| e.refused.as_ref())
    }

    fn set(&mut self, node: &NodeId, status: MemberStatus, at: Timestamp, by: MessageId) {
        self.members.insert(
            node.clone(),
            Member {
                status,
                since: at,
                by,
            },
        );
    }

    fn apply(&mut self, id: MessageId, b: &Body) {
        let kind = b.kind.name();
        let was_known = self.known();
        let (summary, refused) = match self.rule(id, b) {
            Ok(s) => (s, None),
            Err(e) => (String::new(), Some(e)),
        };
        if !was_known
            && matches!(
                b.kind,
                Kind::CaseRemove { .. }
                    | Kind::CaseJoin { .. }
                    | Kind::CaseUpdate(_)
                    | Kind::CaseTask(_)
            )
            && refused
                .as_ref()
                .is_some_and(|e| e.code == CaseCode::UnknownCase)
        {
            self.early.push((id, b.clone()));
        }
        self.timeline.push(Entry {
            id,
            at: b.header.created_at,
            from: b.header.originator.clone(),
            kind,
            summary,
            refused,
        });
        if !was_known && self.known() {
            // Learnt from an invitation: what was met before it is applied now, in its order,
            // and the timeline entries say what it did.
            for (eid, eb) in std::mem::take(&mut self.early) {
                let r = self.rule(eid, &eb);
                if let Some(e) = self.timeline.iter_mut().find(|e| e.id == eid) {
                    match r {
                        Ok(s) => {
                            e.summary = s;
                            e.refused = None;
                        }
                        Err(why) => e.refused = Some(why),
                    }
                }
            }
        }
    }

    /// The checks every case message passes once the case is known: not closed, handling
    /// within the case's.
    fn common(&self, b: &Body) -> Result<(), CaseError> {
        if self.status == CaseStatus::Closed {
            return err(CaseCode::CaseClosed, format!("case {} is closed", self.id));
        }
        if let Some(case) = &self.handling {
            within(&b.handling, case).or_else(|e| err(CaseCode::CaseHandling, e))?;
        }
        Ok(())
    }

    fn lead_only(&self, from: &NodeId, what: &str) -> Result<(), CaseError> {
        if self.lead.as_ref() == Some(from) {
            Ok(())
        } else {
            err(
                CaseCode::NotCaseLead,
                format!(
                    "only the lead ({}) may {what}",
                    self.lead.as_ref().map_or("?", |l| l.as_str())
                ),
            )
        }
    }

    fn participant(&self, from: &NodeId) -> Result<(), CaseError> {
        if !self.is_participant(from) {
            return err(
                CaseCode::NotAParticipant,
                format!("{from} is not a participant of case {}", self.id),
            );
        }
        if self.status == CaseStatus::Suspended && self.lead.as_ref() != Some(from) {
            return err(
                CaseCode::CaseSuspended,
                format!("case {} is suspended; only the lead posts", self.id),
            );
        }
        Ok(())
    }

    /// Applies one message; returns what it did, or why it has no effect.
    fn rule(&mut self, id: MessageId, b: &Body) -> Result<String, CaseError> {
        let from = &b.header.originator;
        let at = b.header.created_at;
        if b.header.case.as_ref() != Some(&self.id) {
            return err(CaseCode::UnknownCase, "the message names another case");
        }
        match &b.kind {
            Kind::CaseOpen {
                title,
                payload,
                lead,
            } => {
                if self.opened_at.is_some() {
                    return err(
                        CaseCode::CaseExists,
                        format!("case {} is already open", self.id),
                    );
                }
                if self.known() && self.lead.as_ref() != Some(lead) {
                    return err(CaseCode::CaseExists, "an opening with another lead");
                }
                let invited: Vec<NodeId> = b
                    .header
                    .recipients
                    .iter()
                    .filter_map(|r| match r {
                        Recipient::Node(n) if n != from && n != lead => Some(n.clone()),
                        _ => None,
                    })
                    .collect();
                self.title = Some(title.clone());
                self.summary = Some(payload.clone());
                self.lead = Some(lead.clone());
                self.opener = Some(from.clone());
                self.handling = Some(b.handling.clone());
                self.opened_at = Some(at);
                for n in [from, lead] {
                    if self.standing(n).is_none() {
                        self.set(n, MemberStatus::Joined, at, id);
                    }
                }
                for n in &invited {
                    if self.standing(n).is_none() {
                        self.set(n, MemberStatus::Invited, at, id);
                    }
                }
                Ok(format!("opened \u{201c}{title}\u{201d}, lead {lead}"))
            }
            Kind::CaseInvite {
                invitee,
                title,
                summary,
                lead,
                members,
                pending,
                ..
            } => {
                if !self.known() {
                    // Learnt from the invitation: the lead's view when it invited.
                    if from != lead {
                        return err(
                            CaseCode::NotCaseLead,
                            "an invitation not from the case's lead",
                        );
                    }
                    self.title = Some(title.clone());
                    self.summary = Some(summary.clone());
                    self.lead = Some(lead.clone());
                    self.handling = Some(b.handling.clone());
                    for n in members {
                        self.set(n, MemberStatus::Joined, at, id);
                    }
                    self.set(lead, MemberStatus::Joined, at, id);
                    for n in pending {
                        if self.standing(n).is_none() {
                            self.set(n, MemberStatus::Invited, at, id);
                        }
                    }
                } else {
                    self.common(b)?;
                    self.lead_only(from, "invite")?;
                }
                if self.is_participant(invitee) {
                    return err(
                        CaseCode::AlreadyParticipant,
                        format!("{invitee} already takes part"),
                    );
                }
                if let Some(h) = &self.handling {
                    if !h.releases_to(invitee) {
                        return err(
                            CaseCode::CaseHandling,
                            format!("{invitee} is outside the case's releasability"),
                        );
                    }
                }
                self.set(invitee, MemberStatus::Invited, at, id);
                Ok(format!("invited {invitee}"))
            }
            _ if !self.known() => err(
                CaseCode::UnknownCase,
                format!(
                    "this node holds neither the opening of case {} nor an invitation to it",
                    self.id
                ),
            ),
            Kind::CaseJoin { accept } => {
                self.common(b)?;
                match self.standing(from) {
                    Some(MemberStatus::Invited) => {
                        let (s, what) = if *accept {
                            (MemberStatus::Joined, "joined")
                        } else {
                            (MemberStatus::Declined, "declined")
                        };
                        self.set(from, s, at, id);
                        Ok(what.into())
                    }
                    Some(MemberStatus::Joined) => err(
                        CaseCode::AlreadyParticipant,
                        format!("{from} already takes part"),
                    ),
                    _ => err(
                        CaseCode::NotInvited,
                        format!("{from} has no open invitation to case {}", self.id),
                    ),
                }
            }
            Kind::CaseUpdate(payload) => {
                self.common(b)?;
                self.participant(from)?;
                self.updates.push(Update {
                    id,
                    from: from.clone(),
                    at,
                    handling: b.handling.clone(),
                    recipients: b.header.recipients.clone(),
                    payload: payload.clone(),
                });
                Ok(format!("update ({})", b.handling.tlp.label()))
            }
            Kind::CaseTask(t) => {
                self.common(b)?;
                self.participant(from)?;
                if !self.is_participant(&t.assignee) {
                    return err(
                        CaseCode::NotAParticipant,
                        format!("the assignee {} is not a participant", t.assignee),
                    );
                }
                let lead = self.lead.clone();
                match t.task {
                    None => {
                        self.tasks.push(Task {
                            id,
                            title: t.title.clone(),
                            assignee: t.assignee.clone(),
                            due: t.due,
                            status: t.status,
                            created_by: from.clone(),
                            updated_at: at,
                            note: t.note.clone(),
                        });
                        Ok(format!(
                            "task \u{201c}{}\u{201d} for {}",
                            t.title, t.assignee
                        ))
                    }
                    Some(task) => {
                        let Some(existing) = self.tasks.iter_mut().find(|x| x.id == task) else {
                            return err(
                                CaseCode::UnknownTask,
                                format!("no task {task} in this case"),
                            );
                        };
                        let may = &existing.created_by == from
                            || &existing.assignee == from
                            || lead.as_ref() == Some(from);
                        if !may {
                            return err(
                                CaseCode::NotTaskParty,
                                "only the task's creator, its assignee or the lead change it",
                            );
                        }
                        existing.title = t.title.clone();
                        existing.assignee = t.assignee.clone();
                        existing.due = t.due;
                        existing.status = t.status;
                        existing.updated_at = at;
                        existing.note = t.note.clone();
                        Ok(format!(
                            "task \u{201c}{}\u{201d}: {}",
                            t.title,
                            t.status.name()
                        ))
                    }
                }
            }
            Kind::CaseRemove { participant, .. } => {
                self.common(b)?;
                let leaving = participant == from;
                if leaving && self.lead.as_ref() == Some(from) {
                    return err(
                        CaseCode::NotCaseLead,
                        "the lead cannot leave its case; close it",
                    );
                }
                if !leaving {
                    self.lead_only(from, "remove a participant")?;
                }
                match self.standing(participant) {
                    Some(MemberStatus::Invited | MemberStatus::Joined) => {}
                    _ => {
                        return err(
                            CaseCode::NotAParticipant,
                            format!("{participant} neither takes part nor is invited"),
                        )
                    }
                }
                let (s, what) = if leaving {
                    (MemberStatus::Left, "left".to_string())
                } else {
                    (MemberStatus::Removed, format!("removed {participant}"))
                };
                self.set(participant, s, at, id);
                Ok(what)
            }
            Kind::CaseStatus { suspended, reason } => {
                self.common(b)?;
                self.lead_only(from, "suspend or resume the case")?;
                self.status = if *suspended {
                    CaseStatus::Suspended
                } else {
                    CaseStatus::Open
                };
                self.status_reason = Some(reason.clone());
                Ok(if *suspended { "suspended" } else { "resumed" }.into())
            }
            Kind::CaseClose { reason } => {
                self.common(b)?;
                self.lead_only(from, "close the case")?;
                self.status = CaseStatus::Closed;
                self.status_reason = Some(reason.clone());
                Ok("closed".into())
            }
            // Alerts, requests, replies… tagged with the case: listed, no effect on its state.
            Kind::Sealed(_) => err(CaseCode::CannotOpen, "sealed to other nodes"),
            other => Ok(other.name().into()),
        }
    }

    /// Whether every recipient of `b` (an update or task about to be written) takes part:
    /// checked by the writer before it sends, not by the derivation. Whether an update has its
    /// effect cannot depend on its recipients: a writer may address a participant whose
    /// leaving or removal it has not learnt of yet, and a node that joined later may never
    /// have heard of that participant, yet both must derive the case alike. The recipient of
    /// a copy written after it stopped taking part refuses it.
    pub fn recipients_take_part(&self, b: &Body) -> Result<(), CaseError> {
        for r in &b.header.recipients {
            let ok = match r {
                Recipient::Node(n) => self.is_participant(n),
                Recipient::Network(_) => false,
            };
            if !ok {
                return err(
                    CaseCode::NotAParticipant,
                    format!("recipient {r} is not a participant of case {}", self.id),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handling::{Evaluation, Tlp};
    use crate::message::Header;

    fn node(s: &str) -> NodeId {
        s.parse().unwrap()
    }

    fn handling(tlp: Tlp) -> Handling {
        Handling {
            tlp,
            releasability: vec![
                "network:central-asia".parse().unwrap(),
                "network:gulf".parse().unwrap(),
            ],
            originator_control: false,
            h0_crime_only: true,
            h1_no_judicial_use: false,
            h3_restrictions: None,
            evaluation: "B2".parse::<Evaluation>().unwrap(),
        }
    }

    struct Msgs(Vec<(MessageId, Body)>, u8);

    impl Msgs {
        fn add(&mut self, from: &str, to: &[&str], at: u64, tlp: Tlp, kind: Kind) -> MessageId {
            self.1 += 1;
            let id = MessageId([self.1; 32]);
            let body = Body {
                header: Header {
                    originator: node(from),
                    created_at: Timestamp(1_800_000_000_000 + at),
                    nonce: [self.1; 16],
                    recipients: to.iter().map(|n| Recipient::Node(node(n))).collect(),
                    case: Some("OP-1".parse().unwrap()),
                    in_reply_to: None,
                    expires_at: None,
                    hop_limit: 8,
                },
                handling: handling(tlp),
                kind,
            };
            self.0.push((id, body));
            id
        }
    }

    fn text(s: &str) -> Payload {
        Payload::text("en".parse().unwrap(), s)
    }

    const LEAD: &str = "caricc.central-asia";
    const KZ: &str = "kz-dcu.central-asia";
    const OM: &str = "om-dcu.gulf";
    const GCC: &str = "gcc-cic.gulf";

    fn opened() -> Msgs {
        let mut m = Msgs(Vec::new(), 0);
        m.add(
            LEAD,
            &[KZ, OM],
            0,
            Tlp::Amber,
            Kind::CaseOpen {
                title: "Caravan".into(),
                payload: text("controlled delivery"),
                lead: node(LEAD),
            },
        );
        m.add(
            KZ,
            &[LEAD, OM],
            10,
            Tlp::Amber,
            Kind::CaseJoin { accept: true },
        );
        m.add(
            OM,
            &[LEAD, KZ],
            20,
            Tlp::Amber,
            Kind::CaseJoin { accept: true },
        );
        m
    }

    #[test]
    fn the_same_messages_in_any_order_give_the_same_state() {
        let mut m = opened();
        m.add(KZ, &[LEAD, OM], 30, Tlp::Amber, Kind::CaseUpdate(text("a")));
        m.add(OM, &[LEAD, KZ], 30, Tlp::Red, Kind::CaseUpdate(text("b")));
        let task = m.add(
            LEAD,
            &[KZ, OM],
            31,
            Tlp::Amber,
            Kind::CaseTask(TaskChange {
                task: None,
                title: "watch the port".into(),
                assignee: node(OM),
                due: None,
                status: TaskStatus::Open,
                note: String::new(),
            }),
        );
        m.add(
            OM,
            &[LEAD, KZ],
            40,
            Tlp::Amber,
            Kind::CaseTask(TaskChange {
                task: Some(task),
                title: "watch the port".into(),
                assignee: node(OM),
                due: None,
                status: TaskStatus::Done,
                note: "seen".into(),
            }),
        );
        m.add(
            LEAD,
            &[KZ, OM],
            50,
            Tlp::Amber,
            Kind::CaseClose {
                reason: "done".into(),
            },
        );
        m.add(
            KZ,
            &[LEAD, OM],
            60,
            Tlp::Amber,
            Kind::CaseUpdate(text("late")),
        );
        let id: CaseId = "OP-1".parse().unwrap();
        let reference = derive(id.clone(), m.0.clone());
        assert_eq!(reference.status, CaseStatus::Closed);
        assert_eq!(reference.updates.len(), 2);
        assert_eq!(reference.tasks[0].status, TaskStatus::Done);
        assert_eq!(
            reference
                .timeline
                .last()
                .unwrap()
                .refused
                .as_ref()
                .unwrap()
                .code,
            CaseCode::CaseClosed
        );
        // Every rotation and the reverse order.
        for r in 0..m.0.len() {
            let mut v = m.0.clone();
            v.rotate_left(r);
            assert_eq!(derive(id.clone(), v.clone()), reference);
            v.reverse();
            assert_eq!(derive(id.clone(), v), reference);
        }
    }

    /// A busy case: joins, concurrent updates, tasks changed by several parties, a removal,
    /// a suspension and a close, with messages that break rules among them.
    fn busy() -> Vec<(MessageId, Body)> {
        let mut m = opened();
        let mut task = None;
        for i in 0..6u64 {
            let from = [KZ, OM, LEAD][i as usize % 3];
            let others: Vec<&str> = [LEAD, KZ, OM].into_iter().filter(|n| *n != from).collect();
            m.add(
                from,
                &others,
                30 + i,
                Tlp::Amber,
                Kind::CaseUpdate(text("u")),
            );
            let t = m.add(
                from,
                &others,
                30 + i,
                Tlp::Amber,
                Kind::CaseTask(TaskChange {
                    task,
                    title: format!("t{i}"),
                    assignee: node(OM),
                    due: None,
                    status: TaskStatus::InProgress,
                    note: String::new(),
                }),
            );
            task.get_or_insert(t);
        }
        m.add(
            LEAD,
            &[KZ, OM],
            40,
            Tlp::Amber,
            Kind::CaseStatus {
                suspended: true,
                reason: String::new(),
            },
        );
        m.add(
            KZ,
            &[LEAD, OM],
            41,
            Tlp::Amber,
            Kind::CaseUpdate(text("while suspended")),
        );
        m.add(
            LEAD,
            &[KZ, OM],
            42,
            Tlp::Amber,
            Kind::CaseStatus {
                suspended: false,
                reason: String::new(),
            },
        );
        m.add(
            LEAD,
            &[KZ, OM],
            43,
            Tlp::Amber,
            Kind::CaseRemove {
                participant: node(KZ),
                reason: String::new(),
            },
        );
        m.add(
            KZ,
            &[LEAD, OM],
            44,
            Tlp::Amber,
            Kind::CaseUpdate(text("after removal")),
        );
        m.add(
            LEAD,
            &[OM],
            45,
            Tlp::Amber,
            Kind::CaseClose {
                reason: String::new(),
            },
        );
        m.0
    }

    use proptest::strategy::Strategy as _;

    #[test]
    fn the_busy_case_exercises_the_rules() {
        let s = derive("OP-1".parse().unwrap(), busy());
        let codes: Vec<&str> = s
            .timeline
            .iter()
            .filter_map(|e| e.refused.as_ref().map(|r| r.code.as_str()))
            .collect();
        assert_eq!(codes, ["case-suspended", "not-a-participant"]);
        assert_eq!(s.status, CaseStatus::Closed);
        assert_eq!(s.tasks.len(), 1);
        assert_eq!(s.tasks[0].title, "t5");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            failure_persistence: None,
            ..Default::default()
        })]
        /// Convergence: any arrival order of the same messages derives the same state.
        #[test]
        fn any_order_derives_the_same_state(order in proptest::strategy::Just((0..busy().len()).collect::<Vec<usize>>()).prop_shuffle()) {
            let msgs = busy();
            let id: CaseId = "OP-1".parse().unwrap();
            let reference = derive(id.clone(), msgs.clone());
            let shuffled: Vec<_> = order.iter().map(|i| msgs[*i].clone()).collect();
            proptest::prop_assert_eq!(derive(id, shuffled), reference);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            failure_persistence: None,
            ..Default::default()
        })]
        /// A case kept up to date message by message, in any arrival order and with repeats,
        /// is exactly the case derived from all its messages at once; and what it says of a
        /// message before adding it is what it decides once it is added.
        #[test]
        fn a_case_kept_up_to_date_equals_its_full_derivation(
            order in proptest::strategy::Just((0..busy().len()).collect::<Vec<usize>>()).prop_shuffle(),
            repeat in 0..10usize,
        ) {
            let msgs = busy();
            let id: CaseId = "OP-1".parse().unwrap();
            let mut log = CaseLog::new(id.clone(), Vec::new());
            let mut held = Vec::new();
            for (k, i) in order.iter().enumerate() {
                let (mid, body) = msgs[*i].clone();
                let predicted = log.verdict_if_added(mid, &body);
                proptest::prop_assert!(log.add(mid, body.clone()));
                proptest::prop_assert_eq!(
                    log.state().verdict(&mid).flatten().cloned(),
                    predicted.clone()
                );
                held.push((mid, body));
                // The rest, added at once to a copy, with a repeat of what is held.
                let mut rest: Vec<_> = order[k + 1..].iter().map(|j| msgs[*j].clone()).collect();
                rest.push(held[held.len() / 2].clone());
                proptest::prop_assert_eq!(log.state_with(&rest), derive(id.clone(), msgs.clone()));
                if k == repeat {
                    let again = held[0].clone();
                    proptest::prop_assert!(!log.add(again.0, again.1));
                }
                proptest::prop_assert_eq!(log.state(), &derive(id.clone(), held.clone()));
            }
            proptest::prop_assert_eq!(log.state(), &derive(id, msgs));
        }
    }

    /// What an invitee holds when a member left while the lead, not knowing it yet, invited
    /// it: the leaving (forwarded to it), the invitation (listing the leaver as a member), its
    /// acceptance and the updates after it; not the opening.
    fn invitee_view() -> Vec<(MessageId, Body)> {
        let mut m = opened();
        let held_from = m.0.len();
        m.add(
            KZ,
            &[LEAD, OM],
            20,
            Tlp::Amber,
            Kind::CaseRemove {
                participant: node(KZ),
                reason: String::new(),
            },
        );
        m.add(
            LEAD,
            &[KZ, OM, GCC],
            30,
            Tlp::Amber,
            Kind::CaseInvite {
                invitee: node(GCC),
                note: text(""),
                title: "Caravan".into(),
                summary: text("controlled delivery"),
                lead: node(LEAD),
                members: vec![node(LEAD), node(KZ), node(OM)],
                pending: vec![],
            },
        );
        m.add(
            GCC,
            &[LEAD, OM],
            31,
            Tlp::Amber,
            Kind::CaseJoin { accept: true },
        );
        m.add(
            OM,
            &[LEAD, GCC],
            32,
            Tlp::Amber,
            Kind::CaseUpdate(text("a")),
        );
        m.add(
            LEAD,
            &[OM, GCC],
            33,
            Tlp::Amber,
            Kind::CaseUpdate(text("b")),
        );
        m.0.split_off(held_from)
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 128,
            failure_persistence: None,
            ..Default::default()
        })]
        /// An invitee that learnt the case from an invitation older than a leaving it holds
        /// derives the leaver as gone, whatever the order the leaving, the invitation and the
        /// rest arrive in, and kept message by message as at once.
        #[test]
        fn a_leaving_before_the_invitation_counts_in_any_arrival_order(
            order in proptest::strategy::Just((0..invitee_view().len()).collect::<Vec<usize>>()).prop_shuffle(),
        ) {
            let msgs = invitee_view();
            let id: CaseId = "OP-1".parse().unwrap();
            let reference = derive(id.clone(), msgs.clone());
            proptest::prop_assert_eq!(reference.standing(&node(KZ)), Some(MemberStatus::Left));
            proptest::prop_assert_eq!(reference.updates.len(), 2);
            let shuffled: Vec<_> = order.iter().map(|i| msgs[*i].clone()).collect();
            proptest::prop_assert_eq!(&derive(id.clone(), shuffled.clone()), &reference);
            let mut log = CaseLog::new(id.clone(), Vec::new());
            for (mid, body) in shuffled {
                log.add(mid, body);
            }
            proptest::prop_assert_eq!(log.state(), &reference);
        }
    }

    #[test]
    fn membership_rules() {
        let mut m = opened();
        // Only the lead invites; the invitee must be within the case's releasability.
        m.add(
            KZ,
            &[LEAD, OM, GCC],
            30,
            Tlp::Amber,
            Kind::CaseInvite {
                invitee: node(GCC),
                note: text(""),
                title: "Caravan".into(),
                summary: text(""),
                lead: node(LEAD),
                members: vec![],
                pending: vec![],
            },
        );
        let outsider = m.add(GCC, &[LEAD], 31, Tlp::Amber, Kind::CaseUpdate(text("x")));
        m.add(
            LEAD,
            &[KZ],
            32,
            Tlp::Amber,
            Kind::CaseRemove {
                participant: node(OM),
                reason: "not needed".into(),
            },
        );
        let to_removed = m.add(KZ, &[LEAD, OM], 33, Tlp::Amber, Kind::CaseUpdate(text("y")));
        let broad = m.add(KZ, &[LEAD], 34, Tlp::Green, Kind::CaseUpdate(text("z")));
        let s = derive("OP-1".parse().unwrap(), m.0);
        assert_eq!(
            s.timeline[3].refused.as_ref().unwrap().code,
            CaseCode::NotCaseLead
        );
        assert_eq!(
            s.verdict(&outsider).unwrap().unwrap().code,
            CaseCode::NotAParticipant
        );
        assert_eq!(s.standing(&node(OM)), Some(MemberStatus::Removed));
        // Its writer may not have learnt of the removal: the update counts, and the removed
        // node refuses its copy.
        assert_eq!(s.verdict(&to_removed), Some(None));
        assert_eq!(
            s.verdict(&broad).unwrap().unwrap().code,
            CaseCode::CaseHandling
        );
        assert_eq!(s.participants(), vec![node(LEAD), node(KZ)]);
    }

    #[test]
    fn a_participant_leaves_and_the_lead_cannot() {
        let mut m = opened();
        let leave = |who: &str| Kind::CaseRemove {
            participant: node(who),
            reason: "done".into(),
        };
        let lead_leaves = m.add(LEAD, &[KZ, OM], 30, Tlp::Amber, leave(LEAD));
        m.add(KZ, &[LEAD, OM], 31, Tlp::Amber, leave(KZ));
        let after = m.add(
            KZ,
            &[LEAD, OM],
            32,
            Tlp::Amber,
            Kind::CaseUpdate(text("still here?")),
        );
        let s = derive("OP-1".parse().unwrap(), m.0);
        assert_eq!(
            s.verdict(&lead_leaves).unwrap().unwrap().code,
            CaseCode::NotCaseLead
        );
        assert_eq!(s.standing(&node(KZ)), Some(MemberStatus::Left));
        assert_eq!(
            s.verdict(&after).unwrap().unwrap().code,
            CaseCode::NotAParticipant
        );
        assert_eq!(s.participants(), vec![node(LEAD), node(OM)]);
    }

    #[test]
    fn an_update_addressed_to_a_participant_removed_meanwhile_still_counts() {
        let mut m = opened();
        let removal = m.add(
            LEAD,
            &[KZ, OM],
            30,
            Tlp::Amber,
            Kind::CaseRemove {
                participant: node(OM),
                reason: "left the operation".into(),
            },
        );
        // Written by a participant that had not learnt of the removal.
        let update = m.add(
            KZ,
            &[LEAD, OM],
            31,
            Tlp::Amber,
            Kind::CaseUpdate(text("container moved to Sohar")),
        );
        // Addressed to a node that never took part: its writer refuses to send it.
        let outside = m.add(
            KZ,
            &[LEAD, GCC],
            32,
            Tlp::Amber,
            Kind::CaseUpdate(text("to an outsider")),
        );
        let id: CaseId = "OP-1".parse().unwrap();
        let s = derive(id.clone(), m.0.clone());
        assert_eq!(s.verdict(&removal), Some(None));
        assert_eq!(s.verdict(&update), Some(None));
        assert_eq!(s.standing(&node(OM)), Some(MemberStatus::Removed));
        let outside_body = &m.0.iter().find(|x| x.0 == outside).unwrap().1;
        assert_eq!(
            s.recipients_take_part(outside_body).unwrap_err().code,
            CaseCode::NotAParticipant
        );
        // The removed node took part before the removal, not at the update's time.
        let log = CaseLog::new(id, m.0.clone());
        let at = |mid: MessageId| m.0.iter().find(|x| x.0 == mid).unwrap().1.header.created_at;
        assert!(log
            .state_before(&[], at(removal), removal)
            .is_participant(&node(OM)));
        assert!(!log
            .state_before(&[], at(update), update)
            .is_participant(&node(OM)));
    }

    #[test]
    fn an_invitee_learns_the_case_from_its_invitation() {
        let mut m = Msgs(Vec::new(), 0);
        m.add(
            LEAD,
            &[KZ, GCC],
            0,
            Tlp::Amber,
            Kind::CaseInvite {
                invitee: node(GCC),
                note: text("join us"),
                title: "Caravan".into(),
                summary: text("controlled delivery"),
                lead: node(LEAD),
                members: vec![node(LEAD), node(KZ)],
                pending: vec![],
            },
        );
        let s = derive("OP-1".parse().unwrap(), m.0);
        assert_eq!(s.title.as_deref(), Some("Caravan"));
        assert_eq!(s.standing(&node(GCC)), Some(MemberStatus::Invited));
        assert_eq!(s.participants(), vec![node(LEAD), node(KZ)]);
    }

    /// KZ leaves while the lead, not knowing it yet, invites GCC with KZ still among the
    /// members. GCC learns the case from the invitation; once it also holds KZ's leaving
    /// (which sorts before the invitation), it derives KZ as gone, as the lead does.
    #[test]
    fn a_leaving_that_an_invitation_did_not_know_of_still_counts_for_the_invitee() {
        let mut m = opened();
        let leave = m.add(
            KZ,
            &[LEAD, OM],
            20,
            Tlp::Amber,
            Kind::CaseRemove {
                participant: node(KZ),
                reason: "done".into(),
            },
        );
        let invite = m.add(
            LEAD,
            &[KZ, OM, GCC],
            30,
            Tlp::Amber,
            Kind::CaseInvite {
                invitee: node(GCC),
                note: text("join us"),
                title: "Caravan".into(),
                summary: text("controlled delivery"),
                lead: node(LEAD),
                members: vec![node(LEAD), node(KZ), node(OM)],
                pending: vec![],
            },
        );
        let id: CaseId = "OP-1".parse().unwrap();
        let lead = derive(id.clone(), m.0.clone());
        assert_eq!(lead.standing(&node(KZ)), Some(MemberStatus::Left));
        let held: Vec<(MessageId, Body)> =
            m.0.iter()
                .filter(|(i, _)| *i == leave || *i == invite)
                .cloned()
                .collect();
        // Only the invitation: the lead's view when it invited.
        let only_invite: Vec<_> = held.iter().filter(|(i, _)| *i == invite).cloned().collect();
        assert_eq!(
            derive(id.clone(), only_invite).standing(&node(KZ)),
            Some(MemberStatus::Joined)
        );
        // Both, in either order of arrival, and as a log that grows.
        for order in [held.clone(), held.iter().rev().cloned().collect()] {
            let s = derive(id.clone(), order.clone());
            assert_eq!(s.standing(&node(KZ)), Some(MemberStatus::Left));
            assert_eq!(s.participants(), lead.participants());
            assert_eq!(s.verdict(&leave), Some(None), "the leaving has its effect");
            let mut log = CaseLog::new(id.clone(), Vec::new());
            for (i, b) in order {
                log.add(i, b);
            }
            assert_eq!(log.state(), &s);
        }
    }

    #[test]
    fn an_acceptance_that_an_invitation_did_not_know_of_still_counts_for_the_invitee() {
        let mut m = opened();
        // The Omani acceptance (20) had not reached the lead when it invited GCC.
        let accept = m.0[2].0;
        let invite = m.add(
            LEAD,
            &[KZ, OM, GCC],
            30,
            Tlp::Amber,
            Kind::CaseInvite {
                invitee: node(GCC),
                note: text("join us"),
                title: "Caravan".into(),
                summary: text("controlled delivery"),
                lead: node(LEAD),
                members: vec![node(LEAD), node(KZ)],
                pending: vec![node(OM)],
            },
        );
        let id: CaseId = "OP-1".parse().unwrap();
        let lead = derive(id.clone(), m.0.clone());
        assert_eq!(lead.standing(&node(OM)), Some(MemberStatus::Joined));
        let held: Vec<(MessageId, Body)> =
            m.0.iter()
                .filter(|(i, _)| *i == accept || *i == invite)
                .cloned()
                .collect();
        for order in [held.clone(), held.iter().rev().cloned().collect()] {
            let s = derive(id.clone(), order.clone());
            assert_eq!(s.standing(&node(OM)), Some(MemberStatus::Joined));
            assert_eq!(
                s.verdict(&accept),
                Some(None),
                "the acceptance has its effect"
            );
            assert_eq!(s.participants(), lead.participants());
            let mut log = CaseLog::new(id.clone(), Vec::new());
            for (i, b) in order {
                log.add(i, b);
            }
            assert_eq!(log.state(), &s);
        }
    }

    #[test]
    fn an_update_written_before_an_invitation_counts_for_the_invitee_it_is_shared_with() {
        let mut m = opened();
        let early = m.add(
            KZ,
            &[LEAD, OM],
            25,
            Tlp::Amber,
            Kind::CaseUpdate(text("written before GCC was invited")),
        );
        let invite = m.add(
            LEAD,
            &[KZ, OM, GCC],
            30,
            Tlp::Amber,
            Kind::CaseInvite {
                invitee: node(GCC),
                note: text("join us"),
                title: "Caravan".into(),
                summary: text("controlled delivery"),
                lead: node(LEAD),
                members: vec![node(LEAD), node(KZ), node(OM)],
                pending: vec![],
            },
        );
        let join = m.add(
            GCC,
            &[LEAD, KZ, OM],
            40,
            Tlp::Amber,
            Kind::CaseJoin { accept: true },
        );
        let id: CaseId = "OP-1".parse().unwrap();
        let everyone = derive(id.clone(), m.0.clone());
        assert_eq!(everyone.verdict(&early), Some(None));
        let at_gcc: Vec<(MessageId, Body)> =
            m.0.iter()
                .filter(|(i, _)| [early, invite, join].contains(i))
                .cloned()
                .collect();
        for order in [at_gcc.clone(), at_gcc.iter().rev().cloned().collect()] {
            let s = derive(id.clone(), order);
            assert_eq!(s.verdict(&early), Some(None), "the shared update counts");
            let ids = |s: &CaseState| s.updates.iter().map(|u| u.id).collect::<Vec<_>>();
            assert_eq!(ids(&s), ids(&everyone));
            assert_eq!(s.participants(), everyone.participants());
        }
    }

    #[test]
    fn within_the_case_handling() {
        let case = handling(Tlp::Amber);
        assert!(within(&handling(Tlp::Red), &case).is_ok());
        assert!(within(&handling(Tlp::Green), &case).is_err());
        let mut narrower = handling(Tlp::Amber);
        narrower.releasability = vec!["om-dcu.gulf".parse().unwrap()];
        assert!(within(&narrower, &case).is_ok());
        let mut wider = handling(Tlp::Amber);
        wider
            .releasability
            .push("network:south-east-europe".parse().unwrap());
        assert!(within(&wider, &case).is_err());
        let mut no_h0 = handling(Tlp::Amber);
        no_h0.h0_crime_only = false;
        assert!(within(&no_h0, &case).is_err());
    }
}
