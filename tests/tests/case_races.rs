//! Shared cases converge whatever the timing: case messages that cross on the way are held
//! until the message that gives them their effect arrives, and a participant that a sender
//! did not know of when it wrote receives the message from its originator afterwards. What
//! was written before a participant joined reaches it only if its originator shares it.
//!
//! The federation's real nodes over loopback QUIC, real certificates, real stores. The
//! crossings are forced, not waited for: a gateway is stopped so that one message waits in
//! an outbox on disk while the other is written and takes another way (or waits behind it).
//!
//! Participants: the Kazakh unit (lead) and the Uzbek unit in central-asia, the Omani unit in
//! the Gulf; CARICC joins central-asia to the rest, GCC-CIC and APICC are the two ways into
//! the Gulf.

use liaison_node::case::{self, CaseRequest};
use liaison_protocol::case::{CaseState, MemberStatus};
use liaison_protocol::{CaseId, MessageId, NodeId};
use liaison_tests::cluster::{wait_for, wait_keys};
use liaison_tests::federation::*;

const ALL_NETWORKS: [&str; 3] = [
    "network:central-asia",
    "network:inter-regional",
    "network:gulf",
];

/// The three participants.
const PARTIES: [&str; 3] = [KZ, UZ, OMAN];

fn node(s: &str) -> NodeId {
    s.parse().expect("node")
}

fn text(t: &str) -> CaseRequest {
    CaseRequest {
        text: t.into(),
        lang: Some("en".into()),
        ..Default::default()
    }
}

/// What every participant must agree on: members and their standing, updates, tasks.
fn shared(s: &CaseState) -> String {
    let members: Vec<String> = s
        .members
        .iter()
        .map(|(n, m)| format!("{n}={}", m.status.name()))
        .collect();
    let updates: Vec<String> = s
        .updates
        .iter()
        .map(|u| format!("{} {} {}", u.id, u.from, u.payload.text))
        .collect();
    format!(
        "{:?} {:?} {} {members:?} {updates:?} {:?}",
        s.title,
        s.lead,
        s.status.name(),
        s.tasks.iter().map(|t| t.id).collect::<Vec<_>>()
    )
}

/// Waits until every participant derives the same case (as `view` shows it), holding
/// `update`.
async fn converged(
    fed: &Running,
    case: &CaseId,
    update: MessageId,
    view: impl Fn(&CaseState) -> String,
) {
    for n in PARTIES {
        fed.wait_case(n, case, "the update in effect", |s| {
            s.updates.iter().any(|u| u.id == update)
                && PARTIES.iter().all(|p| s.is_participant(&node(p)))
        })
        .await;
    }
    let lead = view(&fed.case(KZ, case));
    for n in PARTIES {
        assert_eq!(
            view(&fed.case(n, case)),
            lead,
            "{n} derives the case as the lead"
        );
    }
}

/// The Kazakh unit opens a case inviting the Uzbek and Omani units; the Uzbek unit accepts.
/// Returns once every party holds the invitation and the Uzbek acceptance.
async fn open(fed: &Running, name: &str) -> CaseId {
    let (case, _) = case::open(
        fed.node(KZ).ctx(),
        &CaseRequest {
            id: Some(format!("KZ-2026-{name}")),
            title: Some(format!("Operation {name}")),
            nodes: vec![UZ.into(), OMAN.into()],
            tlp: Some("AMBER".into()),
            release: ALL_NETWORKS.iter().map(|s| s.to_string()).collect(),
            eval: Some("B2".into()),
            ..text("Controlled delivery, Almaty to Sohar")
        },
    )
    .await
    .expect("case opened");
    for n in [UZ, OMAN] {
        fed.wait_case(n, &case, "the invitation", |s| {
            s.standing(&node(n)) == Some(MemberStatus::Invited)
        })
        .await;
    }
    case::join(fed.node(UZ).ctx(), &case, true)
        .await
        .expect("accepted");
    for n in PARTIES {
        fed.wait_case(n, &case, "the Uzbek acceptance", |s| {
            s.is_participant(&node(UZ))
        })
        .await;
    }
    case
}

async fn federation() -> Running {
    let mut f = Federation::new();
    // `status` lists a case message not yet received at once.
    for c in &mut f.configs {
        c.cases.gap_after_secs = 0;
    }
    let fed = Running::start_with(f).await;
    for (n, others) in [
        (KZ, &[UZ, OMAN][..]),
        (UZ, &[KZ, OMAN][..]),
        (OMAN, &[KZ, UZ][..]),
    ] {
        wait_keys(fed.node(n), others).await;
    }
    fed
}

/// The Omani unit accepts while central-asia is cut off (its acceptance waits at the
/// gateways); the Uzbek unit, which does not know it yet, posts an update to the lead alone.
/// In the case's order the Omani unit already took part, so once the Uzbek node learns of the
/// acceptance it forwards its update to it, re-sealed under its own grant; the lead and the
/// Uzbek unit hold nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_written_before_the_writer_learnt_of_an_acceptance_reaches_the_new_participant() {
    let mut fed = federation().await;
    let case = open(&fed, "CROSSING").await;

    cut_off_central_asia(&mut fed).await;
    case::join(fed.node(OMAN).ctx(), &case, true)
        .await
        .expect("Oman accepts");
    tick().await;
    let update = case::update(fed.node(UZ).ctx(), &case, &text("Container leaves Almaty"))
        .await
        .expect("update");
    assert_eq!(
        update.next_hops,
        vec![node(CARICC)],
        "the update waits at the Uzbek unit for CARICC"
    );
    assert!(
        !fed.case(UZ, &case).is_participant(&node(OMAN)),
        "the Uzbek unit wrote before it learnt of the Omani acceptance"
    );
    assert_eq!(
        received(&fed, UZ, &case, &update.id),
        vec![(KZ.to_string(), "waiting".to_string())],
        "the Uzbek unit sees its update not yet received by the lead"
    );
    // The officer's console says so under the update.
    let n = fed.node(UZ);
    let cookie =
        liaison_tests::browser::login_cookie(n.api_addr(), &n.ctx().config().api.token_file);
    let page = liaison_tests::browser::http(
        n.api_addr(),
        "GET",
        &format!("/console/cases/{case}?lang=en"),
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains("Not yet received by:") && page.body.contains(KZ),
        "{}",
        page.body
    );
    // And `status` lists it (beside, for a moment, the acceptance's receipts on their way).
    assert!(
        gaps(&fed, UZ).contains(&(
            case.to_string(),
            update.id.to_string(),
            vec![KZ.to_string()]
        )),
        "{:?}",
        gaps(&fed, UZ)
    );
    fed.restart(CARICC).await;

    converged(&fed, &case, update.id, shared).await;
    // The writer sees who received it: the lead directly, the Omani unit through the forward.
    wait_for("both receipts at the writer", LONG, || {
        let mut r = received(&fed, UZ, &case, &update.id);
        r.sort();
        r == vec![
            (KZ.to_string(), "delivered".to_string()),
            (OMAN.to_string(), "delivered".to_string()),
        ]
    })
    .await;
    wait_for("nothing left unreceived at the writer", LONG, || {
        gaps(&fed, UZ).is_empty()
    })
    .await;
    // The Omani unit holds it as the original (id and signature), through one forward.
    let forwards = forwards_from(&fed, UZ, &case);
    assert_eq!(forwards.len(), 1, "one forward: {forwards:?}");
    assert!(
        counts_as_original(&fed, OMAN, &case, &update.id),
        "the Omani unit counts the forward as the original update"
    );
    // Nothing more is forwarded when asked again, nor after a restart of the Uzbek node.
    assert_eq!(
        case::forward_missed(fed.node(UZ).ctx(), &case)
            .await
            .expect("forward"),
        0
    );
    fed.stop(UZ).await;
    fed.restart(UZ).await;
    assert_eq!(
        case::forward_missed(fed.node(UZ).ctx(), &case)
            .await
            .expect("forward"),
        0
    );
    assert_eq!(forwards_from(&fed, UZ, &case).len(), 1);
    fed.shutdown().await;
}

/// The other order: the update is written before the Omani acceptance, so the Omani unit did
/// not take part at its time and never receives it; later updates reach it directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_written_before_an_acceptance_stays_with_the_participants_of_its_time() {
    let mut fed = federation().await;
    let case = open(&fed, "BEFORE").await;

    fed.stop(CARICC).await;
    let early = case::update(fed.node(UZ).ctx(), &case, &text("Before Oman joins"))
        .await
        .expect("update");
    fed.wait_connected(GCC, CARICC, false).await;
    tick().await;
    case::join(fed.node(OMAN).ctx(), &case, true)
        .await
        .expect("Oman accepts");
    fed.restart(CARICC).await;
    fed.wait_case(UZ, &case, "the Omani acceptance", |s| {
        s.is_participant(&node(OMAN))
    })
    .await;
    // Whatever pass the acceptance started is over once this one has run (they take turns).
    assert_eq!(
        case::forward_missed(fed.node(UZ).ctx(), &case)
            .await
            .expect("forward"),
        0
    );
    assert!(forwards_from(&fed, UZ, &case).is_empty());
    let later = case::update(fed.node(UZ).ctx(), &case, &text("After Oman joined"))
        .await
        .expect("update");
    // Every participant holds every update written after it took part.
    let since = |s: &CaseState| {
        let joined = s.members[&node(OMAN)].since;
        let mut v = s.clone();
        v.updates.retain(|u| u.at > joined);
        shared(&v)
    };
    converged(&fed, &case, later.id, since).await;
    for n in [KZ, UZ] {
        assert!(fed.case(n, &case).updates.iter().any(|u| u.id == early.id));
    }
    assert!(
        fed.node(OMAN)
            .store()
            .state(&early.id)
            .expect("state")
            .is_none(),
        "the Omani unit did not take part when the early update was written"
    );
    fed.shutdown().await;
}

/// The Omani update overtakes the Omani acceptance on the way to the lead: the acceptance
/// waits at the Omani unit for GCC-CIC (stopped) while the update goes through APICC. The lead
/// (and the Uzbek unit) hold the update, without effect while the Omani unit is only invited
/// there, and give it its effect when the acceptance arrives, instead of refusing it for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_overtakes_its_senders_acceptance_is_held_until_the_acceptance_arrives() {
    let mut fed = federation().await;
    let case = open(&fed, "OVERTAKE").await;

    fed.stop(GCC).await;
    fed.stop(APICC).await;
    fed.wait_connected(OMAN, GCC, false).await;
    fed.wait_connected(OMAN, APICC_GULF, false).await;
    let join = case::join(fed.node(OMAN).ctx(), &case, true)
        .await
        .expect("Oman accepts");
    assert_eq!(
        join.next_hops,
        vec![node(GCC)],
        "the acceptance waits for GCC-CIC"
    );
    fed.restart(APICC).await;
    fed.wait_connected(OMAN, APICC_GULF, true).await;
    tick().await;
    let update = case::update(
        fed.node(OMAN).ctx(),
        &case,
        &text("Vessel sighted off Sohar"),
    )
    .await
    .expect("update");
    assert_eq!(
        update.next_hops,
        vec![node(APICC_GULF)],
        "the update takes the other way"
    );
    for n in [KZ, UZ] {
        wait_for(&format!("the update at {n}"), LONG, || {
            fed.node(n)
                .store()
                .state(&update.id)
                .expect("state")
                .is_some()
        })
        .await;
        let held = fed.case(n, &case);
        assert!(
            !held.is_participant(&node(OMAN)) && !held.updates.iter().any(|u| u.id == update.id),
            "held at {n} without effect while the acceptance is on its way: {}",
            shared(&held)
        );
    }
    assert_eq!(
        case_refusals(&fed, OMAN, &update.id),
        vec![],
        "held, not refused"
    );
    fed.restart(GCC).await;
    converged(&fed, &case, update.id, shared).await;
    fed.shutdown().await;
}

/// The crossing above, in both orders, round after round on the same federation (each round
/// a new case): every round converges — identical derived state at the three participants,
/// and each holds exactly the updates written while it took part. Prints how long each round
/// took to converge after the partition healed. `LIAISON_RACE_ROUNDS` sets the number of
/// rounds (50 by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossings_converge_in_every_round() {
    let rounds: usize = std::env::var("LIAISON_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let mut fed = federation().await;
    let mut times = Vec::new();
    for round in 0..rounds {
        let case = open(&fed, &format!("ROUND-{round}")).await;
        let accept_first = round % 2 == 0;
        cut_off_central_asia(&mut fed).await;
        let update = if accept_first {
            case::join(fed.node(OMAN).ctx(), &case, true)
                .await
                .expect("Oman accepts");
            tick().await;
            let u = case::update(fed.node(UZ).ctx(), &case, &text("after the acceptance"))
                .await
                .expect("update");
            u.id
        } else {
            let u = case::update(fed.node(UZ).ctx(), &case, &text("before the acceptance"))
                .await
                .expect("update");
            tick().await;
            case::join(fed.node(OMAN).ctx(), &case, true)
                .await
                .expect("Oman accepts");
            u.id
        };
        let healed = std::time::Instant::now();
        fed.restart(CARICC).await;
        // Every participant holds the update if the Omani unit took part when it was written;
        // the lead and the Uzbek unit hold it either way.
        let holders: &[&str] = if accept_first { &PARTIES } else { &[KZ, UZ] };
        for n in holders {
            fed.wait_case(n, &case, "the update", |s| {
                s.updates.iter().any(|u| u.id == update)
                    && PARTIES.iter().all(|p| s.is_participant(&node(p)))
            })
            .await;
        }
        fed.wait_case(OMAN, &case, "every participant", |s| {
            PARTIES.iter().all(|p| s.is_participant(&node(p)))
        })
        .await;
        times.push(healed.elapsed());
        let since = |s: &CaseState| {
            let joined = s.members[&node(OMAN)].since;
            let mut v = s.clone();
            v.updates.retain(|u| u.at > joined);
            shared(&v)
        };
        let lead = since(&fed.case(KZ, &case));
        for n in PARTIES {
            assert_eq!(since(&fed.case(n, &case)), lead, "round {round}: {n}");
        }
        if !accept_first {
            // Passes take turns: once this one has run, none that could forward is pending.
            assert_eq!(
                case::forward_missed(fed.node(UZ).ctx(), &case)
                    .await
                    .expect("forward"),
                0
            );
            assert!(
                fed.node(OMAN)
                    .store()
                    .state(&update)
                    .expect("state")
                    .is_none(),
                "round {round}: the Omani unit did not take part when the update was written"
            );
        }
    }
    times.sort();
    if let (Some(min), Some(max)) = (times.first(), times.last()) {
        eprintln!(
            "{rounds} crossings converged; time from the healed partition to convergence: min {min:?}, median {:?}, max {max:?}",
            times[times.len() / 2]
        );
    }
    fed.shutdown().await;
}

/// The writer is down while the acceptance arrives elsewhere, and learns of it only after
/// its restart: it forwards then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_was_down_forwards_after_its_restart() {
    let mut fed = federation().await;
    let case = open(&fed, "DOWN").await;

    cut_off_central_asia(&mut fed).await;
    case::join(fed.node(OMAN).ctx(), &case, true)
        .await
        .expect("Oman accepts");
    tick().await;
    let update = case::update(
        fed.node(UZ).ctx(),
        &case,
        &text("Written just before a stop"),
    )
    .await
    .expect("update");
    fed.stop(UZ).await;
    fed.restart(CARICC).await;
    fed.wait_case(KZ, &case, "the Omani acceptance", |s| {
        s.is_participant(&node(OMAN))
    })
    .await;
    fed.restart(UZ).await;
    converged(&fed, &case, update.id, shared).await;
    assert_eq!(forwards_from(&fed, UZ, &case).len(), 1);
    fed.shutdown().await;
}

/// The Uzbek unit leaves while the lead, not knowing it yet, invites the Emirati unit, whose
/// invitation lists the Uzbek unit among the members. The Uzbek node receives that
/// invitation too and forwards its leaving to the invitee, which then derives the members as
/// the lead does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaving_that_races_an_invitation_reaches_the_invitee() {
    let mut fed = federation().await;
    for n in [KZ, UZ] {
        wait_keys(fed.node(n), &[UAE]).await;
    }
    let case = open(&fed, "LEAVING").await;

    fed.stop(CARICC).await;
    let leave = case::change(
        fed.node(UZ).ctx(),
        &case,
        case::Change::Leave,
        &text("our part is done"),
    )
    .await
    .expect("the Uzbek unit leaves");
    tick().await;
    case::invite(
        fed.node(KZ).ctx(),
        &case,
        &CaseRequest {
            nodes: vec![UAE.into()],
            ..text("join us")
        },
    )
    .await
    .expect("invited");
    fed.restart(CARICC).await;
    fed.wait_case(UAE, &case, "the invitation", |s| {
        s.standing(&node(UAE)) == Some(MemberStatus::Invited)
    })
    .await;
    for n in [KZ, UAE] {
        fed.wait_case(n, &case, "the Uzbek leaving", |s| {
            s.standing(&node(UZ)) == Some(MemberStatus::Left)
        })
        .await;
    }
    case::join(fed.node(UAE).ctx(), &case, true)
        .await
        .expect("accepted");
    fed.wait_case(KZ, &case, "the Emirati acceptance", |s| {
        s.is_participant(&node(UAE))
    })
    .await;
    assert_eq!(
        shared(&fed.case(UAE, &case)),
        shared(&fed.case(KZ, &case)),
        "the invitee derives the case as the lead"
    );
    assert!(
        counts_as_original(&fed, UAE, &case, &leave.id),
        "the invitee holds the leaving itself, as the original"
    );
    fed.shutdown().await;
}

/// The lead suspends the case while the Uzbek unit, not knowing it yet, posts an update. In
/// the case's order the update comes after the suspension, so it has no effect anywhere; every
/// participant holds it (the lead too: a resumption written before it could still be on its
/// way) and all derive the same case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_races_a_suspension_has_the_same_effect_everywhere() {
    let mut fed = federation().await;
    let case = open_to_all(&fed, "SUSPENDED").await;

    fed.stop(CARICC).await;
    case::change(
        fed.node(KZ).ctx(),
        &case,
        case::Change::Suspend,
        &text("vessel delayed"),
    )
    .await
    .expect("suspended");
    tick().await;
    let update = case::update(
        fed.node(UZ).ctx(),
        &case,
        &text("Written during the suspension"),
    )
    .await
    .expect("update");
    fed.restart(CARICC).await;
    for n in PARTIES {
        wait_for(&format!("the update at {n}"), LONG, || {
            fed.node(n)
                .store()
                .state(&update.id)
                .expect("state")
                .is_some()
        })
        .await;
        fed.wait_case(n, &case, "the suspension", |s| {
            s.status == liaison_protocol::case::CaseStatus::Suspended
        })
        .await;
    }
    let lead = fed.case(KZ, &case);
    assert_eq!(
        lead.verdict(&update.id).flatten().map(|e| e.code.as_str()),
        Some("case-suspended")
    );
    for n in PARTIES {
        assert_eq!(shared(&fed.case(n, &case)), shared(&lead), "{n}");
    }
    assert_eq!(
        case_refusals(&fed, UZ, &update.id),
        vec![],
        "held, not refused"
    );
    fed.shutdown().await;
}

/// The lead removes the Omani unit; the Uzbek unit, not knowing it yet, posts an update
/// addressed to it. The removal reaches the Omani node first, so it refuses the update: in the
/// case's order it no longer took part. The lead and the Uzbek unit both count the update
/// (its writer could not have known) and derive the same case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_races_a_removal_is_refused_by_the_removed_node() {
    let mut fed = federation().await;
    let case = open_to_all(&fed, "REMOVED").await;

    fed.stop(UZ).await;
    remove_oman(&fed, &case).await;
    fed.wait_case(OMAN, &case, "its removal", |s| {
        s.standing(&node(OMAN)) == Some(MemberStatus::Removed)
    })
    .await;
    // The removal's copy for the Uzbek unit waits on the way.
    fed.stop(CARICC).await;
    fed.restart(UZ).await;
    tick().await;
    let update = case::update(
        fed.node(UZ).ctx(),
        &case,
        &text("Written before the removal was known"),
    )
    .await
    .expect("update");
    assert!(
        fed.case(UZ, &case).is_participant(&node(OMAN)),
        "the writer did not know of the removal"
    );
    fed.restart(CARICC).await;

    fed.wait_hop(UZ, &update.id, OMAN, "refused: not-a-participant")
        .await;
    assert!(
        fed.node(OMAN)
            .store()
            .state(&update.id)
            .expect("state")
            .is_none(),
        "the removed node never stored the update"
    );
    after_the_removal(&fed, &case, update.id).await;
    fed.shutdown().await;
}

/// The same race, the other way round: the update reaches the Omani node before its removal
/// does (the lead is down with the removal in its outbox). When the removal arrives, the
/// Omani node deletes the update's body: it keeps nothing written after it stopped taking
/// part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_overtakes_a_removal_is_deleted_by_the_removed_node() {
    let mut fed = federation().await;
    let case = open_to_all(&fed, "OVERTAKEN").await;

    cut_off_central_asia(&mut fed).await;
    remove_oman(&fed, &case).await;
    // The removal waits in the lead's outbox on disk.
    fed.stop(KZ).await;
    fed.restart(CARICC).await;
    tick().await;
    let update = case::update(
        fed.node(UZ).ctx(),
        &case,
        &text("Written before the removal was known"),
    )
    .await
    .expect("update");
    fed.wait_case(OMAN, &case, "the update", |s| {
        s.updates.iter().any(|u| u.id == update.id)
    })
    .await;

    fed.restart(KZ).await;
    wait_for("the update's body deleted at the Omani node", LONG, || {
        fed.node(OMAN)
            .store()
            .state(&update.id)
            .expect("state")
            .is_some_and(|s| s.purged)
    })
    .await;
    let at_oman = fed.case(OMAN, &case);
    assert_eq!(at_oman.standing(&node(OMAN)), Some(MemberStatus::Removed));
    assert!(at_oman.updates.iter().all(|u| u.id != update.id));
    after_the_removal(&fed, &case, update.id).await;
    fed.shutdown().await;
}

/// The lead and the Uzbek unit hold the Omani unit removed and `update` in effect, and derive
/// the same case.
async fn after_the_removal(fed: &Running, case: &CaseId, update: MessageId) {
    for n in [KZ, UZ] {
        fed.wait_case(n, case, "the removal and the update", |s| {
            s.standing(&node(OMAN)) == Some(MemberStatus::Removed)
                && s.updates.iter().any(|u| u.id == update)
        })
        .await;
    }
    assert_eq!(shared(&fed.case(UZ, case)), shared(&fed.case(KZ, case)));
}

/// The lead removes the Omani unit.
async fn remove_oman(fed: &Running, case: &CaseId) {
    case::change(
        fed.node(KZ).ctx(),
        case,
        case::Change::Remove,
        &CaseRequest {
            nodes: vec![OMAN.into()],
            ..text("no longer needed in the operation")
        },
    )
    .await
    .expect("removed");
    tick().await;
}

/// [`open`], then the Omani unit accepts too; returns once every party holds all three as
/// participants.
async fn open_to_all(fed: &Running, name: &str) -> CaseId {
    let case = open(fed, name).await;
    case::join(fed.node(OMAN).ctx(), &case, true)
        .await
        .expect("Oman accepts");
    for n in PARTIES {
        fed.wait_case(n, &case, "three participants", |s| {
            PARTIES.iter().all(|p| s.is_participant(&node(p)))
        })
        .await;
    }
    case
}

/// By default a participant that joins later does not receive what was written before it
/// joined. The writer's case view lists those messages per participant, and the writer
/// shares them on request (the API's `history`, as the CLI and the console do): the newcomer
/// then holds the original, counted once. An update the officer sent to only some
/// participants is not shared, and nothing is shared with a node that does not take part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_participant_receives_earlier_messages_only_when_their_originator_shares_them() {
    let fed = federation().await;
    let case = open_to_all(&fed, "HISTORY").await;
    let early = case::update(fed.node(UZ).ctx(), &case, &text("Seizure in Almaty, 40 kg"))
        .await
        .expect("update");
    let narrowed = case::update(
        fed.node(UZ).ctx(),
        &case,
        &CaseRequest {
            to: vec![KZ.into()],
            ..text("For the lead only")
        },
    )
    .await
    .expect("narrowed update");
    fed.wait_case(KZ, &case, "both updates", |s| {
        [early.id, narrowed.id]
            .iter()
            .all(|id| s.updates.iter().any(|u| u.id == *id))
    })
    .await;
    tick().await;
    // The Emirati unit is invited and joins after both.
    case::invite(
        fed.node(KZ).ctx(),
        &case,
        &CaseRequest {
            nodes: vec![UAE.into()],
            ..text("Join us: the container is bound for Jebel Ali")
        },
    )
    .await
    .expect("invited");
    fed.wait_case(UAE, &case, "the invitation", |s| {
        s.standing(&node(UAE)) == Some(MemberStatus::Invited)
    })
    .await;
    case::join(fed.node(UAE).ctx(), &case, true)
        .await
        .expect("the Emirati unit accepts");
    for n in [KZ, UZ, OMAN, UAE] {
        fed.wait_case(n, &case, "four participants", |s| {
            [KZ, UZ, OMAN, UAE]
                .iter()
                .all(|p| s.is_participant(&node(p)))
        })
        .await;
    }
    wait_keys(fed.node(UZ), &[UAE]).await;
    assert!(!counts_as_original(&fed, UAE, &case, &early.id));

    let n = fed.node(UZ);
    let api = liaison_tests::api::TokenClient::new(n.api_addr(), &n.ctx().config().api.token_file);
    let view = |api: &liaison_tests::api::TokenClient| {
        let a = api.get(&format!("/v1/cases/{case}"));
        assert_eq!(a.status, 200, "{:?}", a.body);
        serde_json::from_value::<liaison_node::views::CaseView>(a.body).expect("a case view")
    };
    assert_eq!(
        view(&api).earlier,
        vec![liaison_node::views::CaseEarlier {
            node: UAE.into(),
            messages: vec![early.id.to_string()],
        }],
        "the narrowed update is not listed"
    );
    // The console says the rule and offers to share.
    let cookie =
        liaison_tests::browser::login_cookie(n.api_addr(), &n.ctx().config().api.token_file);
    let page = liaison_tests::browser::http(
        n.api_addr(),
        "GET",
        &format!("/console/cases/{case}?lang=en"),
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(page.status, 200, "{page:?}");
    for s in [
        "A participant receives the case messages written after it joined",
        "joined after 1 message of this centre",
        "Share them",
    ] {
        assert!(page.body.contains(s), "{s:?} in {}", page.body);
    }

    // Not to a node that does not take part.
    let a = api.post(
        &format!("/v1/cases/{case}/history"),
        &serde_json::json!({ "nodes": [GCC] }),
    );
    assert_eq!(a.status, 422, "{:?}", a.body);
    assert_eq!(a.body["error"], "not-a-participant", "{:?}", a.body);

    let a = api.post(
        &format!("/v1/cases/{case}/history"),
        &serde_json::json!({ "nodes": [UAE] }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    let h: liaison_node::views::CaseHistory = serde_json::from_value(a.body).expect("history");
    assert_eq!(h.messages.len(), 1, "{h:?}");
    assert_eq!(h.messages[0].id, early.id.to_string());
    assert!(h.messages[0].share.is_some(), "{h:?}");
    fed.wait_case(UAE, &case, "the earlier update", |s| {
        s.updates.iter().any(|u| u.id == early.id)
    })
    .await;
    assert!(counts_as_original(&fed, UAE, &case, &early.id));
    assert!(!counts_as_original(&fed, UAE, &case, &narrowed.id));
    wait_for("the Emirati receipt at the writer", LONG, || {
        received(&fed, UZ, &case, &early.id).contains(&(UAE.to_string(), "delivered".to_string()))
    })
    .await;
    // Nothing is left to share, and asking again shares nothing twice.
    assert!(view(&api).earlier.is_empty());
    let a = api.post(
        &format!("/v1/cases/{case}/history"),
        &serde_json::json!({ "nodes": [UAE] }),
    );
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["messages"], serde_json::json!([]));
    assert_eq!(forwards_from(&fed, UZ, &case).len(), 1);
    fed.shutdown().await;
}

/// The refusals of `id` for a case rule in the trail at its writer `at`: (signer, outcome).
fn case_refusals(fed: &Running, at: &str, id: &MessageId) -> Vec<(String, String)> {
    fed.refusals(at, id)
        .into_iter()
        .filter(|(_, o)| {
            liaison_protocol::case::CaseCode::ALL
                .iter()
                .any(|c| o.ends_with(c.as_str()))
        })
        .collect()
}

/// Where `at`'s case message `id` stands with each recipient, as the officer API shows it
/// (`GET /v1/cases/{case}`, `deliveries`).
fn received(fed: &Running, at: &str, case: &CaseId, id: &MessageId) -> Vec<(String, String)> {
    let n = fed.node(at);
    let api = liaison_tests::api::TokenClient::new(n.api_addr(), &n.ctx().config().api.token_file);
    let a = api.get(&format!("/v1/cases/{case}"));
    assert_eq!(a.status, 200, "{:?}", a.body);
    let v: liaison_node::views::CaseView = serde_json::from_value(a.body).expect("a case view");
    v.deliveries
        .iter()
        .filter(|d| d.id == id.to_string())
        .flat_map(|d| &d.recipients)
        .map(|r| (r.node.clone(), r.state.clone()))
        .collect()
}

/// The case messages `at`'s `status` lists as not yet received: (case, message, waiting for).
fn gaps(fed: &Running, at: &str) -> Vec<(String, String, Vec<String>)> {
    let n = fed.node(at);
    let api = liaison_tests::api::TokenClient::new(n.api_addr(), &n.ctx().config().api.token_file);
    let a = api.get("/v1/status");
    assert_eq!(a.status, 200, "{:?}", a.body);
    let v: liaison_node::views::StatusView = serde_json::from_value(a.body).expect("a status view");
    v.case_gaps
        .into_iter()
        .map(|g| (g.case, g.id, g.waiting))
        .collect()
}

/// Returns once this machine's clock (the nodes' clock: they run in this process) has moved
/// past the moment of the call, so that a message written next sorts after every message
/// written before (creation times are in milliseconds).
async fn tick() {
    let t = liaison_node::store::now();
    while liaison_node::store::now() <= t {
        tokio::task::yield_now().await;
    }
}

/// Stops CARICC, central-asia's only way to the other networks, and waits until the Gulf
/// side has seen it go.
async fn cut_off_central_asia(fed: &mut Running) {
    fed.stop(CARICC).await;
    fed.wait_connected(GCC, CARICC, false).await;
}

/// Whether `at` counts the case message `id` among its case's messages (a forward of it
/// counts as the original).
fn counts_as_original(fed: &Running, at: &str, case: &CaseId, id: &MessageId) -> bool {
    let ctx = fed.node(at).ctx();
    case::messages(ctx.store(), ctx.keys(), case)
        .expect("messages")
        .iter()
        .any(|(m, _)| m == id)
}

/// The shares a node originated in `case` (its forwards), with the original each carries.
fn forwards_from(fed: &Running, at: &str, case: &CaseId) -> Vec<MessageId> {
    let store = fed.node(at).store();
    store
        .case_messages(case)
        .expect("case messages")
        .into_iter()
        .filter(|id| {
            store.state(id).expect("state").is_some_and(|s| {
                s.role == liaison_node::store::Role::Originated && s.facts.kind == "share"
            })
        })
        .collect()
}
