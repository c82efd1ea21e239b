//! Shared cases converge whatever the order in which their messages cross on the way.
//!
//! A busy case among four nodes is played out message by message: each node acts when it
//! can, as an officer would through the node (open, invite, accept or decline, post updates
//! and tasks, suspend and resume, remove, leave), writing to those it knows of at that
//! moment; every message in flight is delivered in an order the property test chooses, so
//! acceptances, updates, invitations, suspensions and removals cross in every way. Each node
//! decides exactly as a running node does, with the node's own functions: what it accepts
//! or holds ([`judge`]), what of its own it forwards to a participant it had not reached
//! ([`missed_among`], run when an acceptance or invitation is stored, as the inbound
//! pipeline does), and what it deletes once it no longer takes part ([`written_after`]).
//!
//! Once nothing is left to deliver, every node that takes part derives the case as it is
//! derived from every message written (members, status, every update and task written while
//! it took part), a node that left or was removed sees itself as the others do, and no node
//! holds an update or task written when it did not take part.

use super::{
    case_body, check_case, everyone, judge, may_owe_forwards, missed_among, open_body,
    stopped_taking_part, written_after, CaseRequest, Stored,
};
use liaison_protocol::case::{derive, CaseLog, CaseState, TaskChange, TaskStatus};
use liaison_protocol::message::{Body, Kind};
use liaison_protocol::{CaseId, MessageId, NodeId, Payload, Recipient, Timestamp};

const LEAD: &str = "kz.central-asia";
const A: &str = "uz.central-asia";
const B: &str = "om.gulf";
const C: &str = "ae.gulf";

fn node(s: &str) -> NodeId {
    s.parse().expect("node id")
}

/// What an officer does at a node, in its script's order, once the node can.
#[derive(Clone, Copy, Debug)]
enum Act {
    Open,
    Invite(&'static str),
    Join,
    Decline,
    Update,
    Task,
    /// Marks the last task this node created done.
    TaskDone,
    Leave,
    Remove(&'static str),
    Suspend,
    Resume,
    Close,
}

/// One node: what is left of its script and what it stores.
struct Holder {
    id: NodeId,
    script: Vec<Act>,
    /// The case's entries as stored, in storing order.
    stored: Vec<Stored>,
    log: CaseLog,
}

impl Holder {
    fn holds(&self, id: &MessageId) -> bool {
        self.stored
            .iter()
            .any(|s| matches!(s, Stored::Message { id: i, .. } if i == id))
    }

    fn state(&self) -> &CaseState {
        self.log.state()
    }
}

/// A copy on its way to `to`.
struct Flight {
    to: usize,
    id: MessageId,
    body: Body,
}

struct Sim {
    case: CaseId,
    clock: u64,
    seq: u32,
    nodes: Vec<Holder>,
    flight: Vec<Flight>,
    /// Every message written, by every node.
    written: Vec<(MessageId, Body)>,
    /// What happened, in order: printed when a check fails.
    trace: Vec<String>,
}

impl Sim {
    fn new(b_leaves: bool, c_declines: bool, closes: bool) -> Self {
        let case: CaseId = "KZ-2026-SIM".parse().expect("case id");
        let mut lead = vec![
            Act::Open,
            Act::Update,
            Act::Invite(C),
            Act::Suspend,
            Act::Update,
            Act::Resume,
        ];
        if !b_leaves {
            lead.push(Act::Remove(B));
        }
        lead.push(Act::Update);
        if closes {
            lead.push(Act::Close);
        }
        let mut b = vec![Act::Join, Act::Update];
        if b_leaves {
            b.push(Act::Leave);
        }
        b.push(Act::Update);
        let c = vec![
            if c_declines { Act::Decline } else { Act::Join },
            Act::Update,
            Act::Task,
        ];
        let scripts = [
            (LEAD, lead),
            (
                A,
                vec![
                    Act::Join,
                    Act::Update,
                    Act::Task,
                    Act::TaskDone,
                    Act::Update,
                ],
            ),
            (B, b),
            (C, c),
        ];
        Self {
            nodes: scripts
                .into_iter()
                .map(|(n, script)| Holder {
                    id: node(n),
                    script,
                    stored: Vec::new(),
                    log: CaseLog::new(case.clone(), Vec::new()),
                })
                .collect(),
            case,
            clock: 1_800_000_000_000,
            seq: 0,
            flight: Vec::new(),
            written: Vec::new(),
            trace: Vec::new(),
        }
    }

    fn index(&self, n: &NodeId) -> usize {
        self.nodes
            .iter()
            .position(|h| &h.id == n)
            .expect("a node of the simulation")
    }

    /// Whether node `i` can take its next step now.
    fn can_act(&self, i: usize) -> bool {
        let h = &self.nodes[i];
        let s = h.state();
        let Some(act) = h.script.first() else {
            return false;
        };
        match act {
            Act::Open => true,
            _ if !s.known() => false,
            Act::Join | Act::Decline => {
                s.standing(&h.id) == Some(liaison_protocol::case::MemberStatus::Invited)
            }
            Act::Update | Act::Task | Act::Leave => s.is_participant(&h.id),
            Act::TaskDone => {
                s.is_participant(&h.id) && s.tasks.iter().any(|t| t.created_by == h.id)
            }
            Act::Invite(_) | Act::Remove(_) | Act::Suspend | Act::Resume | Act::Close => true,
        }
    }

    /// Node `i` takes its next step: writes a message to those it knows of, unless the case as
    /// it holds it refuses the message (the officer is told; nothing is sent).
    fn act(&mut self, i: usize) {
        let act = self.nodes[i].script.remove(0);
        self.clock += 1;
        self.seq += 1;
        let now = Timestamp(self.clock);
        let nonce = [0u8; 16];
        let h = &self.nodes[i];
        let me = h.id.clone();
        let s = h.state();
        let text = |t: &str| Payload::text("en".parse().expect("language"), t);
        let body = if let Act::Open = act {
            open_body(
                &me,
                std::slice::from_ref(&me),
                &self.case,
                &CaseRequest {
                    id: Some(self.case.to_string()),
                    title: Some("Operation Caravan".into()),
                    nodes: vec![A.into(), B.into()],
                    tlp: Some("AMBER".into()),
                    eval: Some("B2".into()),
                    release: vec!["network:central-asia".into(), "network:gulf".into()],
                    text: "Controlled delivery".into(),
                    lang: Some("en".into()),
                    ..Default::default()
                },
                now,
                nonce,
            )
            .expect("an opening")
        } else {
            let (kind, to, in_reply_to) = match act {
                Act::Open => unreachable!("handled above"),
                Act::Invite(n) => {
                    let mut to = everyone(s);
                    to.push(node(n));
                    let kind = Kind::CaseInvite {
                        invitee: node(n),
                        note: text("join us"),
                        title: s.title.clone().unwrap_or_default(),
                        summary: s.summary.clone().expect("summary"),
                        lead: s.lead.clone().expect("lead"),
                        members: s.participants(),
                        pending: s.pending(),
                    };
                    (kind, to, None)
                }
                Act::Join | Act::Decline => (
                    Kind::CaseJoin {
                        accept: matches!(act, Act::Join),
                    },
                    everyone(s),
                    s.members.get(&me).map(|m| m.by),
                ),
                Act::Update => (
                    Kind::CaseUpdate(text(&format!("update {} from {me}", self.seq))),
                    s.participants(),
                    None,
                ),
                Act::Task => (
                    Kind::CaseTask(TaskChange {
                        task: None,
                        title: format!("task {}", self.seq),
                        assignee: me.clone(),
                        due: None,
                        status: TaskStatus::Open,
                        note: String::new(),
                    }),
                    s.participants(),
                    None,
                ),
                Act::TaskDone => {
                    let t = s
                        .tasks
                        .iter()
                        .rev()
                        .find(|t| t.created_by == me)
                        .expect("a task of this node");
                    (
                        Kind::CaseTask(TaskChange {
                            task: Some(t.id),
                            title: t.title.clone(),
                            assignee: t.assignee.clone(),
                            due: None,
                            status: TaskStatus::Done,
                            note: "done".into(),
                        }),
                        s.participants(),
                        None,
                    )
                }
                Act::Close => (
                    Kind::CaseClose {
                        reason: "operation over".into(),
                    },
                    everyone(s),
                    None,
                ),
                Act::Leave | Act::Remove(_) => {
                    let participant = match act {
                        Act::Remove(n) => node(n),
                        _ => me.clone(),
                    };
                    let mut to = everyone(s);
                    to.push(participant.clone());
                    (
                        Kind::CaseRemove {
                            participant,
                            reason: "no longer needed".into(),
                        },
                        to,
                        None,
                    )
                }
                Act::Suspend | Act::Resume => (
                    Kind::CaseStatus {
                        suspended: matches!(act, Act::Suspend),
                        reason: "vessel delayed".into(),
                    },
                    everyone(s),
                    None,
                ),
            };
            case_body(
                &me,
                std::slice::from_ref(&me),
                &self.case,
                kind,
                to,
                s.handling.clone().expect("handling"),
                in_reply_to,
                now,
                nonce,
            )
        };
        if let Err(e) = check_case(&body, &self.nodes[i].log) {
            self.trace.push(format!("{me}: {act:?} refused: {e}"));
            return;
        }
        let id = self.new_id();
        self.trace.push(format!(
            "{me}: {act:?} #{} at {} to {:?}",
            self.seq,
            self.clock % 1000,
            body.header
                .recipients
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        ));
        self.written.push((id, body.clone()));
        self.store(i, id, body.clone(), true);
        for r in &body.header.recipients {
            if let Recipient::Node(n) = r {
                let to = self.index(n);
                if to != i {
                    self.flight.push(Flight {
                        to,
                        id,
                        body: body.clone(),
                    });
                }
            }
        }
    }

    fn new_id(&mut self) -> MessageId {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&self.seq.to_be_bytes());
        id[4] = 0x5a;
        MessageId(id)
    }

    fn store(&mut self, i: usize, id: MessageId, body: Body, own: bool) {
        let h = &mut self.nodes[i];
        h.stored.push(Stored::Message {
            id,
            body: Box::new(body.clone()),
            own,
        });
        h.log.add(id, body);
    }

    /// Delivers copy `k` in flight, as the inbound pipeline does: judged, stored if not
    /// refused, then the node forwards what a new participant missed and deletes what it
    /// should no longer hold.
    fn deliver(&mut self, k: usize) {
        let f = self.flight.remove(k);
        let i = f.to;
        if self.nodes[i].holds(&f.id) {
            return;
        }
        let me = [self.nodes[i].id.clone()];
        let verdict = judge(
            &self.nodes[i].log,
            &me,
            f.id,
            &f.body,
            &[(f.id, f.body.clone())],
        );
        self.trace.push(format!(
            "  -> {}: #{} {}: {:?}",
            me[0],
            u32::from_be_bytes(f.id.0[..4].try_into().expect("four bytes")),
            f.body.kind.name(),
            verdict
        ));
        if verdict.is_err() {
            return;
        }
        self.store(i, f.id, f.body.clone(), false);
        if may_owe_forwards(&f.body.kind) {
            self.forward(i);
        }
        if matches!(&f.body.kind, Kind::CaseRemove { participant, .. } if participant == &me[0]) {
            self.purge(i);
        }
    }

    fn forward(&mut self, i: usize) {
        let me = [self.nodes[i].id.clone()];
        for (original, to) in missed_among(&self.case, &me, &self.nodes[i].stored) {
            let body = self.nodes[i]
                .stored
                .iter()
                .find_map(|s| match s {
                    Stored::Message { id, body, .. } if *id == original => Some((**body).clone()),
                    _ => None,
                })
                .expect("a forwarded message is held");
            self.trace.push(format!(
                "  {} forwards #{} to {to:?}",
                me[0],
                u32::from_be_bytes(original.0[..4].try_into().expect("four bytes"))
            ));
            self.nodes[i].stored.push(Stored::Forward {
                original,
                to: to.clone(),
            });
            for n in &to {
                let to = self.index(n);
                self.flight.push(Flight {
                    to,
                    id: original,
                    body: body.clone(),
                });
            }
        }
    }

    fn purge(&mut self, i: usize) {
        let h = &mut self.nodes[i];
        let Some(since) = stopped_taking_part(h.state(), std::slice::from_ref(&h.id)) else {
            return;
        };
        h.stored.retain(|s| match s {
            Stored::Message {
                id,
                body,
                own: false,
            } => !written_after(since, *id, body),
            _ => true,
        });
        let kept: Vec<(MessageId, Body)> = h
            .stored
            .iter()
            .filter_map(|s| match s {
                Stored::Message { id, body, .. } => Some((*id, (**body).clone())),
                Stored::Forward { .. } => None,
            })
            .collect();
        h.log = CaseLog::new(h.log.state().id.clone(), kept);
    }

    /// Runs until nothing is left to do or deliver, taking choice `choices[step]` (modulo the
    /// steps possible) at each step, then the first possible step once the choices run out.
    fn run(&mut self, choices: &[u16]) {
        for step in 0.. {
            let actors: Vec<usize> = (0..self.nodes.len()).filter(|i| self.can_act(*i)).collect();
            let options = actors.len() + self.flight.len();
            if options == 0 {
                return;
            }
            assert!(step < 10_000, "the simulation does not settle");
            let pick = choices.get(step).map_or(0, |c| usize::from(*c) % options);
            if pick < actors.len() {
                self.act(actors[pick]);
            } else {
                self.deliver(pick - actors.len());
            }
        }
    }

    /// Checks every node against the case derived from every message written.
    fn check(&self) -> Result<(), String> {
        let truth = derive(self.case.clone(), self.written.clone());
        let truth_log = CaseLog::new(self.case.clone(), self.written.clone());
        let took_part = |n: &NodeId, at: Timestamp, id: MessageId| {
            truth_log.state_before(&[], at, id).is_participant(n)
        };
        let created = |id: &MessageId| {
            self.written
                .iter()
                .find(|(i, _)| i == id)
                .map(|(_, b)| b.header.created_at)
                .expect("written")
        };
        // After the closing nothing has an effect and no one takes part: a copy of a message
        // written after it that a node accepted before the closing reached it is kept.
        let closed_at = self
            .written
            .iter()
            .filter(|(id, b)| {
                matches!(b.kind, Kind::CaseClose { .. }) && truth.verdict(id) == Some(None)
            })
            .map(|(id, b)| (b.header.created_at, *id))
            .min();
        for h in &self.nodes {
            let s = h.state();
            let who = &h.id;
            for e in &h.stored {
                if let Stored::Message {
                    id,
                    body,
                    own: false,
                } = e
                {
                    if matches!(body.kind, Kind::CaseUpdate(_) | Kind::CaseTask(_))
                        && closed_at.is_none_or(|c| (body.header.created_at, *id) < c)
                        && !took_part(who, body.header.created_at, *id)
                    {
                        return Err(format!(
                            "{who} holds {} written when it did not take part",
                            body.kind.name()
                        ));
                    }
                }
            }
            if truth.is_participant(who) {
                let same = (s.participants(), s.pending(), s.status);
                let want = (truth.participants(), truth.pending(), truth.status);
                if same != want {
                    return Err(format!("{who} derives {same:?}, not {want:?}"));
                }
                for u in &truth.updates {
                    if took_part(who, u.at, u.id) && !s.updates.iter().any(|x| x.id == u.id) {
                        return Err(format!("{who} misses the update {:?}", u.payload.text));
                    }
                }
                for t in &truth.tasks {
                    if !took_part(who, created(&t.id), t.id) {
                        continue;
                    }
                    match s.tasks.iter().find(|x| x.id == t.id) {
                        None => return Err(format!("{who} misses the task {:?}", t.title)),
                        Some(x) if x.status != t.status => {
                            return Err(format!(
                                "{who} holds the task {:?} {}, not {}",
                                t.title,
                                x.status.name(),
                                t.status.name()
                            ))
                        }
                        Some(_) => {}
                    }
                }
                for u in &s.updates {
                    if !truth.updates.iter().any(|x| x.id == u.id) {
                        return Err(format!(
                            "{who} counts {:?}, which has no effect",
                            u.payload.text
                        ));
                    }
                }
            } else if truth.standing(who).is_some() && s.standing(who) != truth.standing(who) {
                return Err(format!(
                    "{who} sees itself {:?}, the case {:?}",
                    s.standing(who),
                    truth.standing(who)
                ));
            }
        }
        Ok(())
    }
}

#[test]
fn every_script_runs_to_its_end_in_order() {
    for (b_leaves, c_declines, closes) in [
        (false, false, false),
        (true, false, false),
        (false, true, false),
        (true, true, true),
    ] {
        let mut sim = Sim::new(b_leaves, c_declines, closes);
        // Everything delivered before anyone acts again: no crossing.
        let mut step = 0;
        loop {
            if !sim.flight.is_empty() {
                sim.deliver(0);
            } else if let Some(i) = (0..sim.nodes.len()).rev().find(|i| sim.can_act(*i)) {
                sim.act(i);
            } else {
                break;
            }
            step += 1;
            assert!(step < 10_000);
        }
        // Invitees act first, so every step is taken but the leaver's last update and what
        // follows a decline.
        for h in &sim.nodes {
            let left = match h.id.as_str() {
                B if b_leaves => 1,
                C if c_declines => 2,
                _ => 0,
            };
            assert_eq!(
                h.script.len(),
                left,
                "{}: {:?}\n{}",
                h.id,
                h.script,
                sim.trace.join("\n")
            );
        }
        sim.check().expect("converged");
        let truth = derive(sim.case.clone(), sim.written.clone());
        assert!(truth.updates.len() >= 6, "{:?}", truth.updates.len());
        assert!(!truth.is_participant(&node(B)));
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 1024,
        failure_persistence: None,
        ..Default::default()
    })]
    /// Any order of acting and delivering converges.
    #[test]
    fn any_crossing_converges(
        b_leaves in proptest::bool::ANY,
        c_declines in proptest::bool::ANY,
        closes in proptest::bool::ANY,
        choices in proptest::collection::vec(proptest::num::u16::ANY, 0..400),
    ) {
        let mut sim = Sim::new(b_leaves, c_declines, closes);
        sim.run(&choices);
        let verdict = sim.check();
        proptest::prop_assert!(
            verdict.is_ok(),
            "{}\n{}",
            verdict.unwrap_err(),
            sim.trace.join("\n")
        );
    }
}
