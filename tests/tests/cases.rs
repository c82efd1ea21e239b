//! Shared cases across two networks (issue "Multilateral operations"): the federation's real
//! nodes over loopback QUIC, real certificates, real stores on disk.
//!
//! Participants: CARICC (lead) and the Kazakh unit in central-asia, GCC-CIC and the Omani
//! unit in the Gulf — four centres in two networks, joined through the gateways. The Uzbek
//! and Emirati units are bystanders that must never see the case.

use std::os::unix::fs::PermissionsExt;

use liaison_node::case::{self, CaseRequest, Change};
use liaison_node::node::send_body;
use liaison_protocol::case::{derive, CaseState, CaseStatus, MemberStatus, TaskStatus};
use liaison_protocol::message::{Body, Header, Kind};
use liaison_protocol::{CaseId, MessageId, NodeId, Payload, Recipient};
use liaison_tests::all_files;
use liaison_tests::cluster::{start, wait_for, wait_keys, Cluster};
use liaison_tests::federation::*;

const ALL_NETWORKS: [&str; 3] = [
    "network:central-asia",
    "network:inter-regional",
    "network:gulf",
];

fn text(t: &str) -> CaseRequest {
    CaseRequest {
        text: t.into(),
        lang: Some("ru".into()),
        ..Default::default()
    }
}

/// The code of a refusal the node gave its own officer.
fn refused_code(r: liaison_node::error::Result<impl std::fmt::Debug>) -> String {
    let e = r.expect_err("refused");
    e.refusal()
        .unwrap_or_else(|| panic!("a refusal, not {e}"))
        .reason_code()
        .to_owned()
}

/// What every participant must agree on once it holds the same updates and tasks.
fn shared(s: &CaseState) -> String {
    let updates: Vec<String> = s
        .updates
        .iter()
        .map(|u| format!("{} {} {}", u.id, u.from, u.payload.text))
        .collect();
    let tasks: Vec<String> = s
        .tasks
        .iter()
        .map(|t| format!("{} {} {} {}", t.id, t.title, t.assignee, t.status.name()))
        .collect();
    format!(
        "{:?} {:?} {} {:?} {:?} {:?}",
        s.title,
        s.lead,
        s.status.name(),
        s.participants(),
        updates,
        tasks
    )
}

/// A case message composed by hand and sent without the sender's own case check, as a
/// faulty or hostile node would: the receivers must refuse it themselves.
async fn send_unchecked(
    fed: &Running,
    from: &str,
    to: &str,
    case: &CaseId,
    tlp: &str,
    kind: Kind,
) -> MessageId {
    let ctx = fed.node(from).ctx();
    let mut handling = fed.case(CARICC, case).handling.expect("case handling");
    handling.tlp = tlp.parse().expect("tlp");
    let mut body = Body {
        header: Header {
            originator: from.parse().expect("node"),
            created_at: liaison_node::store::now(),
            nonce: ctx.me().nonce().expect("nonce"),
            recipients: vec![Recipient::Node(to.parse().expect("node"))],
            case: Some(case.clone()),
            in_reply_to: None,
            expires_at: None,
            hop_limit: 8,
        },
        handling,
        kind,
    };
    body.normalise();
    send_body(ctx, body).await.expect("sent unchecked").id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_shared_by_four_centres_in_two_networks() {
    let mut fed = Running::start().await;
    for (n, others) in [
        (CARICC, &[KZ, GCC, OMAN, UZ][..]),
        (KZ, &[CARICC, GCC, OMAN][..]),
        (GCC, &[CARICC, KZ, OMAN][..]),
        (OMAN, &[CARICC, KZ, GCC][..]),
        (UZ, &[CARICC][..]),
    ] {
        wait_keys(fed.node(n), others).await;
    }
    let node = |s: &str| -> NodeId { s.parse().expect("node") };

    // CARICC opens the case and invites the Kazakh unit and GCC-CIC at once.
    let (case, _) = case::open(
        fed.node(CARICC).ctx(),
        &CaseRequest {
            id: Some("CARICC-2026-CARAVAN".into()),
            title: Some("Операция «Караван»".into()),
            nodes: vec![KZ.into(), GCC.into()],
            tlp: Some("AMBER".into()),
            release: ALL_NETWORKS.iter().map(|s| s.to_string()).collect(),
            eval: Some("B2".into()),
            h0: true,
            ..text("Контролируемая поставка героина, Алматы — Сохар")
        },
    )
    .await
    .expect("case opened");
    for n in [KZ, GCC] {
        fed.wait_case(n, &case, "the invitation", |s| {
            s.standing(&node(n)) == Some(MemberStatus::Invited)
        })
        .await;
        case::join(fed.node(n).ctx(), &case, true)
            .await
            .expect("accepted");
    }
    // Oman is invited later: it learns the case from its invitation alone.
    case::invite(
        fed.node(CARICC).ctx(),
        &case,
        &CaseRequest {
            nodes: vec![OMAN.into()],
            ..text("Присоединяйтесь")
        },
    )
    .await
    .expect("invited");
    fed.wait_case(OMAN, &case, "the invitation", |s| {
        s.title.as_deref() == Some("Операция «Караван»")
            && s.standing(&node(OMAN)) == Some(MemberStatus::Invited)
    })
    .await;
    case::join(fed.node(OMAN).ctx(), &case, true)
        .await
        .expect("accepted");
    let four = vec![node(CARICC), node(GCC), node(KZ), node(OMAN)];
    for n in [CARICC, KZ, GCC, OMAN] {
        fed.wait_case(n, &case, "four participants", |s| s.participants() == four)
            .await;
    }

    // Three participants post at the same time; CARICC sets a task that Oman completes.
    let (kz_says, gcc_says, oman_says) = (
        CaseRequest {
            attachments: vec![case::AttachmentRequest {
                name: "manifest.txt".into(),
                media_type: "text/plain".into(),
                content_base64: "TVNDVTEyMzQ1NjUgLSAxOCBrZw==".into(),
            }],
            ..text("Груз в контейнере MSCU1234565")
        },
        CaseRequest {
            lang: Some("ar".into()),
            ..text("السفينة تصل يوم الخميس")
        },
        CaseRequest {
            lang: Some("en".into()),
            ..text("Port of Sohar under watch")
        },
    );
    let (a, b, c) = tokio::join!(
        case::update(fed.node(KZ).ctx(), &case, &kz_says),
        case::update(fed.node(GCC).ctx(), &case, &gcc_says),
        case::update(fed.node(OMAN).ctx(), &case, &oman_says),
    );
    let concurrent = [a.expect("kz").id, b.expect("gcc").id, c.expect("oman").id];
    let t = case::task(
        fed.node(CARICC).ctx(),
        &case,
        &CaseRequest {
            title: Some("Наблюдение за портом".into()),
            assignee: Some(OMAN.into()),
            due: Some("2026-12-31".into()),
            ..text("")
        },
    )
    .await
    .expect("task");
    fed.wait_case(OMAN, &case, "the task", |s| {
        s.tasks.iter().any(|x| x.id == t.id)
    })
    .await;
    case::task(
        fed.node(OMAN).ctx(),
        &case,
        &CaseRequest {
            task: Some(t.id.to_string()[..12].into()),
            status: Some("done".into()),
            ..text("Судно под наблюдением")
        },
    )
    .await
    .expect("task done");
    // Convergence: every participant ends with the same updates, tasks, members and status.
    for n in [CARICC, KZ, GCC, OMAN] {
        fed.wait_case(n, &case, "every update and the finished task", |s| {
            concurrent
                .iter()
                .all(|id| s.updates.iter().any(|u| &u.id == id))
                && s.tasks.iter().any(|x| x.status == TaskStatus::Done)
        })
        .await;
    }
    let at_oman = fed.case(OMAN, &case);
    let with_file = at_oman
        .updates
        .iter()
        .find(|u| u.id == concurrent[0])
        .expect("kz update");
    assert_eq!(with_file.payload.attachments[0].name, "manifest.txt");
    assert_eq!(
        with_file.payload.attachments[0].content,
        b"MSCU1234565 - 18 kg"
    );
    let reference = shared(&fed.case(CARICC, &case));
    for n in [KZ, GCC, OMAN] {
        assert_eq!(shared(&fed.case(n, &case)), reference, "{n} converged");
    }
    // Those that hold the very same messages derive identical states, timeline included.
    assert_eq!(fed.case(KZ, &case), fed.case(GCC, &case));
    // Bystanders: nothing of the case in their stores, inboxes or logs. APICC, a gateway on
    // another way into the Gulf, may carry sealed copies but never receives one.
    for n in [UZ, UAE] {
        assert!(
            fed.node(n).store().case_ids().is_empty(),
            "{n} holds messages of the case"
        );
    }
    let apicc = fed.node(APICC).store();
    assert!(apicc
        .inbox(0, usize::MAX)
        .unwrap()
        .iter()
        .all(|i| i.state.facts.case.is_none()));
    assert!(!case::state(fed.node(APICC).ctx(), &case).unwrap().known());

    // A narrower update: TLP:RED to the Kazakh unit only (a direct peer of CARICC).
    let red = case::update(
        fed.node(CARICC).ctx(),
        &case,
        &CaseRequest {
            to: vec![KZ.into()],
            tlp: Some("RED".into()),
            ..text("Источник: агент в порту")
        },
    )
    .await
    .expect("RED update");
    fed.wait_case(KZ, &case, "the RED update", |s| {
        s.updates.iter().any(|u| u.id == red.id)
    })
    .await;

    // Partition and restart: Oman goes away; the case moves on without it; it comes back
    // and catches up from the queues; its case survives from its own store.
    fed.stop(OMAN).await;
    let while_away = case::update(
        fed.node(KZ).ctx(),
        &case,
        &text("Контейнер перегружен в Бандар-Аббасе"),
    )
    .await
    .expect("update while Oman is away")
    .id;
    case::change(
        fed.node(CARICC).ctx(),
        &case,
        Change::Suspend,
        &text("ждём судно"),
    )
    .await
    .expect("suspended");
    fed.wait_case(KZ, &case, "suspension", |s| {
        s.status == CaseStatus::Suspended
    })
    .await;
    assert_eq!(
        refused_code(case::update(fed.node(KZ).ctx(), &case, &text("нельзя")).await),
        "case-suspended"
    );
    case::change(
        fed.node(CARICC).ctx(),
        &case,
        Change::Resume,
        &text("судно в пути"),
    )
    .await
    .expect("resumed");
    fed.restart(OMAN).await;
    fed.wait_case(OMAN, &case, "catch-up after the partition", |s| {
        s.updates.iter().any(|u| u.id == while_away) && s.status == CaseStatus::Open
    })
    .await;
    assert!(
        !fed.case(OMAN, &case).updates.iter().any(|u| u.id == red.id),
        "the RED update reached only its recipient"
    );
    for n in [CARICC, GCC] {
        fed.wait_case(n, &case, "the update made while Oman was away", |s| {
            s.updates.iter().any(|u| u.id == while_away)
        })
        .await;
    }

    // Removal: CARICC removes Oman, which stops receiving.
    case::change(
        fed.node(CARICC).ctx(),
        &case,
        Change::Remove,
        &CaseRequest {
            nodes: vec![OMAN.into()],
            ..text("операция на стороне Омана завершена")
        },
    )
    .await
    .expect("removed");
    fed.wait_case(OMAN, &case, "its removal", |s| {
        s.standing(&node(OMAN)) == Some(MemberStatus::Removed)
    })
    .await;
    for n in [KZ, GCC] {
        fed.wait_case(n, &case, "Oman's removal", |s| {
            !s.is_participant(&node(OMAN))
        })
        .await;
    }
    let after = case::update(
        fed.node(GCC).ctx(),
        &case,
        &CaseRequest {
            lang: Some("ar".into()),
            ..text("تم تفريغ الحاوية")
        },
    )
    .await
    .expect("update after the removal");
    assert!(
        !after.next_hops.iter().any(|h| h.as_str() == OMAN),
        "nothing goes to the removed participant"
    );
    for n in [CARICC, KZ] {
        fed.wait_case(n, &case, "the update after the removal", |s| {
            s.updates.iter().any(|u| u.id == after.id)
        })
        .await;
    }
    assert!(
        fed.node(OMAN).store().state(&after.id).unwrap().is_none(),
        "the removed participant never received the later update"
    );

    // Bad input, refused by the sender's own node before anything is signed…
    let green = CaseRequest {
        tlp: Some("GREEN".into()),
        ..text("слишком широко")
    };
    assert_eq!(
        refused_code(case::update(fed.node(KZ).ctx(), &case, &green).await),
        "case-handling"
    );
    assert_eq!(
        refused_code(case::update(fed.node(UZ).ctx(), &case, &text("чужой")).await),
        "unknown-case"
    );
    assert_eq!(
        refused_code(case::update(fed.node(OMAN).ctx(), &case, &text("я ещё здесь")).await),
        "not-a-participant"
    );
    assert_eq!(
        refused_code(case::change(fed.node(KZ).ctx(), &case, Change::Close, &text("")).await),
        "not-case-lead"
    );
    // … and by the receivers, when a node sends it anyway (signed refusals in the trail).
    let update = |t: &str| Kind::CaseUpdate(Payload::text("ru".parse().unwrap(), t));
    let outsider = send_unchecked(&fed, UZ, CARICC, &case, "AMBER", update("посторонний")).await;
    let broader = send_unchecked(&fed, KZ, CARICC, &case, "GREEN", update("шире дела")).await;
    fed.wait_hop(UZ, &outsider, CARICC, "refused: not-a-participant")
        .await;
    fed.wait_hop(KZ, &broader, CARICC, "refused: case-handling")
        .await;
    // The API answers the same codes (HTTP 422), for the CLI's exit status 3.
    let api = liaison_tests::api::TokenClient::new(
        fed.node(KZ).api_addr(),
        &fed.fed.config(KZ).api.token_file,
    );
    let a = api.post(
        &format!("/v1/cases/{case}/update"),
        &serde_json::json!({"text": "x", "lang": "en", "tlp": "GREEN"}),
    );
    assert_eq!(
        (a.status, a.error()),
        (422, "case-handling"),
        "{:?}",
        a.body
    );
    let shown = api.get(&format!("/v1/cases/{case}"));
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body["participants"].as_array().unwrap().len(), 3);

    // Closing is final: a later update is refused locally and by the receivers.
    case::change(
        fed.node(CARICC).ctx(),
        &case,
        Change::Close,
        &text("аресты проведены"),
    )
    .await
    .expect("closed");
    fed.wait_case(KZ, &case, "the closing", |s| s.status == CaseStatus::Closed)
        .await;
    assert_eq!(
        refused_code(case::update(fed.node(KZ).ctx(), &case, &text("после")).await),
        "case-closed"
    );
    let late = send_unchecked(&fed, KZ, CARICC, &case, "AMBER", update("после закрытия")).await;
    fed.wait_hop(KZ, &late, CARICC, "refused: case-closed")
        .await;

    // Restart survives: a participant's case is the same before and after.
    let before = fed.case(GCC, &case);
    fed.stop(GCC).await;
    fed.restart(GCC).await;
    assert_eq!(fed.case(GCC, &case), before, "the case survives a restart");
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deconfliction_tells_both_centres_and_nothing_more() {
    let mut f = Federation::new();
    // The Kazakh and Omani units hold the federation's key; APICC runs the service and does
    // not hold it.
    let key = f.cluster.node_dir(KZ).join("deconfliction.key");
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    for cfg in &mut f.configs {
        let d = &mut cfg.deconfliction;
        match cfg.node_id.as_str() {
            KZ | OMAN => {
                d.key_file = Some(key.clone());
                d.service = Some(APICC.parse().unwrap());
            }
            APICC => d.serve = true,
            _ => {}
        }
        if cfg.node_id.as_str() == KZ {
            d.country_code = Some("7".into());
            d.trunk_prefix = Some("8".into());
        }
    }
    let fed = Running::start_with(f).await;
    wait_keys(fed.node(KZ), &[APICC, CARICC]).await;
    wait_keys(fed.node(OMAN), &[APICC, GCC]).await;
    wait_keys(fed.node(APICC), &[KZ, OMAN]).await;

    // Each unit opens a case of its own with its neighbour, and writes the same phone
    // number in its own way.
    const KZ_TITLE: &str = "KZ-SECRET-TITLE Операция «Степь»";
    const OM_TITLE: &str = "OM-SECRET-TITLE عملية الصحراء";
    let (kz_case, kz_open) = case::open(
        fed.node(KZ).ctx(),
        &CaseRequest {
            title: Some(KZ_TITLE.into()),
            nodes: vec![CARICC.into()],
            tlp: Some("AMBER".into()),
            eval: Some("B2".into()),
            entities: vec!["phone=8 (701) 123-45-67".into()],
            ..text("KZ-SECRET-TEXT курьер")
        },
    )
    .await
    .expect("KZ case");
    let (om_case, om_open) = case::open(
        fed.node(OMAN).ctx(),
        &CaseRequest {
            title: Some(OM_TITLE.into()),
            nodes: vec![GCC.into()],
            tlp: Some("AMBER".into()),
            eval: Some("B2".into()),
            entities: vec!["phone=+7 701 1234567".into()],
            lang: Some("ar".into()),
            ..text("OM-SECRET-TEXT ساعي")
        },
    )
    .await
    .expect("Oman case");

    // Both are told: which of their own messages, which kind of selector, and who.
    let notice = |node: &str| {
        fed.node(node)
            .store()
            .inbox(0, usize::MAX)
            .unwrap()
            .into_iter()
            .filter(|i| i.state.facts.kind == "deconfliction")
            .map(|i| {
                let env = fed
                    .node(node)
                    .store()
                    .envelope(&i.state.facts.id)
                    .unwrap()
                    .unwrap();
                let body = Body::decode(&env.signed.body).unwrap();
                let (body, why) =
                    liaison_node::sealing::open_body(fed.node(node).ctx().keys(), body);
                assert_eq!(why, None);
                match body.kind {
                    Kind::Deconfliction(o) => o,
                    other => panic!("{other:?}"),
                }
            })
            .collect::<Vec<_>>()
    };
    for (n, open, case, other) in [
        (KZ, kz_open.id, &kz_case, OMAN),
        (OMAN, om_open.id, &om_case, KZ),
    ] {
        wait_for(&format!("a deconfliction notice at {n}"), LONG, || {
            !notice(n).is_empty()
        })
        .await;
        let got = notice(n);
        assert_eq!(got.len(), 1, "{n}: one notice for one overlap: {got:?}");
        let o = &got[0];
        assert_eq!(o.kind, liaison_protocol::selector::SelectorKind::Phone);
        assert_eq!(o.yours, open, "{n}: names its own message");
        assert_eq!(o.your_case.as_ref(), Some(case));
        assert_eq!(o.other.as_str(), other);
    }
    // Neither learnt the other's case: no message of it, no title or text on disk; the
    // service holds hashes only; nothing of it passed anyone else.
    assert!(fed
        .node(KZ)
        .store()
        .case_messages(&om_case)
        .unwrap()
        .is_empty());
    assert!(fed
        .node(OMAN)
        .store()
        .case_messages(&kz_case)
        .unwrap()
        .is_empty());
    let dirs: Vec<_> = NODES
        .iter()
        .map(|n| (*n, fed.fed.cluster.node_dir(n)))
        .collect();
    let _files = fed.shutdown().await;
    for (n, d) in dirs {
        for (marker, owner) in [("OM-SECRET", OMAN), ("KZ-SECRET", KZ), ("1234567", "-")] {
            if n == owner {
                continue;
            }
            for (path, bytes) in all_files(&d) {
                assert!(
                    !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                    "{marker} in {}",
                    path.display()
                );
            }
        }
    }
}

/// A case message composed by hand and sent as is: creation time and kind chosen by the test.
async fn send_at(
    node: &liaison_node::node::Node,
    to: &str,
    case: &CaseId,
    created_at: liaison_protocol::Timestamp,
    kind: Kind,
) -> MessageId {
    let ctx = node.ctx();
    let handling = case::state(ctx, case)
        .expect("case state")
        .handling
        .expect("case handling");
    let mut body = Body {
        header: Header {
            originator: ctx.id().clone(),
            created_at,
            nonce: ctx.me().nonce().expect("nonce"),
            recipients: vec![Recipient::Node(to.parse().expect("node"))],
            case: Some(case.clone()),
            in_reply_to: None,
            expires_at: None,
            hop_limit: 8,
        },
        handling,
        kind,
    };
    body.normalise();
    send_body(ctx, body).await.expect("sent").id
}

/// The case as `node` holds it (cached) and as derived from every message of it read from
/// its store now; they must be equal.
fn cached_and_full(node: &liaison_node::node::Node, case: &CaseId) -> (CaseState, CaseState) {
    let ctx = node.ctx();
    let cached = case::state(ctx, case).expect("cached state");
    let full = derive(
        case.clone(),
        case::messages(ctx.store(), ctx.keys(), case).expect("case messages"),
    );
    (cached, full)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_case_state_equals_the_full_derivation_and_survives_a_restart() {
    const LEAD: &str = "kz-dcu.central-asia";
    const MEMBER: &str = "caricc.central-asia";
    let mut c = Cluster::new(&["central-asia"]);
    c.add(LEAD);
    c.add(MEMBER);
    let lead = start(c.config(LEAD, &[MEMBER])).await;
    let mut member = start(c.config(MEMBER, &[LEAD])).await;
    wait_keys(&lead, &[MEMBER]).await;
    wait_keys(&member, &[LEAD]).await;
    let node = |s: &str| -> NodeId { s.parse().expect("node") };

    let (case, _) = case::open(
        lead.ctx(),
        &CaseRequest {
            title: Some("Caravan".into()),
            nodes: vec![MEMBER.into()],
            tlp: Some("AMBER".into()),
            eval: Some("B2".into()),
            ..text("Контролируемая поставка")
        },
    )
    .await
    .expect("case opened");
    // The member's cache is filled on this first use, before the rest arrives.
    wait_for("the invitation", LONG, || {
        case::state(member.ctx(), &case)
            .expect("state")
            .standing(&node(MEMBER))
            == Some(MemberStatus::Invited)
    })
    .await;
    case::join(member.ctx(), &case, true)
        .await
        .expect("accepted");
    wait_for("the acceptance", LONG, || {
        case::state(lead.ctx(), &case)
            .expect("state")
            .is_participant(&node(MEMBER))
    })
    .await;
    let joined_at = case::state(lead.ctx(), &case)
        .expect("state")
        .timeline
        .last()
        .expect("timeline")
        .at;
    // Well after the acceptance, so that a message can be created between the two.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    case::update(lead.ctx(), &case, &text("Первое обновление"))
        .await
        .expect("update");
    let update_at = case::state(lead.ctx(), &case)
        .expect("state")
        .timeline
        .last()
        .expect("timeline")
        .at;
    // Out of order: an update created before the one both nodes hold already.
    let earlier = liaison_protocol::Timestamp((joined_at.millis() + update_at.millis()) / 2);
    assert!(joined_at < earlier && earlier < update_at);
    send_at(
        &lead,
        MEMBER,
        &case,
        earlier,
        Kind::CaseUpdate(Payload {
            language: "ru".parse().expect("language"),
            text: "Обновление задним числом".into(),
            entities: vec![],
            attachments: vec![],
        }),
    )
    .await;
    // Repeated: the member accepts again (no effect where the first acceptance arrived).
    send_at(
        &member,
        LEAD,
        &case,
        liaison_node::store::now(),
        Kind::CaseJoin { accept: true },
    )
    .await;
    wait_for("every message at both nodes", LONG, || {
        [&lead, &member].iter().all(|n| {
            let s = case::state(n.ctx(), &case).expect("state");
            s.updates.len() == 2 && s.timeline.len() >= 5
        })
    })
    .await;

    for n in [&lead, &member] {
        let (cached, full) = cached_and_full(n, &case);
        assert_eq!(cached, full, "at {}", n.ctx().id());
        assert_eq!(
            cached.updates.first().map(|u| u.payload.text.as_str()),
            Some("Обновление задним числом"),
            "the earlier update sorts first at {}",
            n.ctx().id()
        );
    }
    let (lead_state, _) = cached_and_full(&lead, &case);
    let (before, _) = cached_and_full(&member, &case);
    assert_eq!(
        shared(&before),
        shared(&lead_state),
        "both nodes derive the same case"
    );

    // After a restart the member reads the case from its journal and derives the same.
    member.shutdown().await.expect("shutdown");
    member = start(c.config(MEMBER, &[LEAD])).await;
    let (after, full) = cached_and_full(&member, &case);
    assert_eq!(after, full);
    assert_eq!(after, before);

    member.shutdown().await.expect("shutdown");
    lead.shutdown().await.expect("shutdown");
}
