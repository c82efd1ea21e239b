//! The network of networks (issue "Network of networks"): three networks, seven nodes, three
//! gateways, real QUIC on loopback, real certificates, real stores on disk.

use std::time::Duration;

use liaison_node::compose::SendRequest;
use liaison_node::node::Node;
use liaison_protocol::MessageId;
use liaison_tests::all_files;
use liaison_tests::cluster::wait_for;
use liaison_tests::federation::*;

const LONG: Duration = Duration::from_secs(60);

fn message(kind_tlp: &str, to: &[&str], release: &[&str], text: &str) -> SendRequest {
    SendRequest {
        kind: "alert".into(),
        to: to.iter().map(|s| s.to_string()).collect(),
        tlp: kind_tlp.into(),
        release: release.iter().map(|s| s.to_string()).collect(),
        eval: "B2".into(),
        text: text.into(),
        lang: "ru".into(),
        ..Default::default()
    }
}

const ALL_NETWORKS: [&str; 3] = [
    "network:central-asia",
    "network:inter-regional",
    "network:gulf",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazakh_alert_reaches_oman_through_two_gateways_with_every_hop_in_the_trail() {
    let logs = liaison_tests::logs::captured();
    let fed = Running::start().await;
    const MARKER: &str = "MARKER-7f3a9c-Груз героина";
    let text = format!("{MARKER}, контейнер MSCU1234565");
    let id = fed
        .send(KZ, &message("AMBER", &[OMAN], &ALL_NETWORKS, &text))
        .await;
    wait_for("the alert in Oman's inbox", LONG, || {
        fed.inbox_has(OMAN, &id)
    })
    .await;
    // The originator's signature verifies at the destination, on the bytes as relayed.
    let env = fed.node(OMAN).store().envelope(&id).unwrap().unwrap();
    assert_eq!(
        env.route.len(),
        2,
        "relayed by two gateways: {:?}",
        env.route
    );
    let v = env
        .signed
        .verify(&fed.fed.cluster.pki.trust())
        .expect("the Kazakh signature verifies in Oman");
    assert_eq!(v.originator().as_str(), KZ);
    // The gateways announced what they reach: the Kazakh unit learnt (signed, verified) that
    // the Gulf is two relays away through CARICC, besides its configured route.
    wait_for("an announced route to the Gulf at KZ", LONG, || {
        fed.node(KZ).ctx().sessions().routes().iter().any(|r| {
            r.source == liaison_protocol::routing::RouteSource::Announced
                && r.via.as_str() == CARICC
                && r.dest.to_string() == "network:gulf"
                && r.distance == 1
        })
    })
    .await;
    // Every hop's signed answer is in the originator's trail.
    fed.wait_hop(KZ, &id, CARICC, "relayed").await;
    fed.wait_hop(KZ, &id, GCC_IR, "relayed").await;
    fed.wait_hop(KZ, &id, OMAN, "delivered").await;
    // Nobody else delivered it.
    for n in [UZ, CARICC, GCC, APICC, UAE] {
        assert!(!fed.inbox_has(n, &id), "{n} must not have it in its inbox");
    }
    // Sealed: Oman and the originator read it; the gateways that relayed it hold no
    // plaintext of it anywhere on disk, and no node logged it.
    for n in [OMAN, KZ] {
        let text = readable_text(fed.node(n), &id);
        assert!(text.contains(MARKER), "{n} reads the alert: {text:?}");
    }
    let gateway_body = liaison_protocol::Body::decode(
        &fed.node(CARICC)
            .store()
            .envelope(&id)
            .unwrap()
            .unwrap()
            .signed
            .body,
    )
    .unwrap();
    assert!(
        matches!(gateway_body.kind, liaison_protocol::message::Kind::Sealed(ref s) if s.kind == "alert"),
        "the gateway holds the sealed alert"
    );
    let (_, why) = liaison_node::sealing::open_body(fed.node(CARICC).ctx().keys(), gateway_body);
    assert!(why.is_some(), "a relay cannot open what it relays");
    // Oman asks the Kazakh unit's consent to pass the alert on, back through both gateways:
    // the officer's reason (and whom Oman would share with) is sealed like any content, so
    // only the two parties read it.
    const REASON: &str = "CONSENT-REASON-4b1d: операция Кобра";
    let uae: liaison_protocol::NodeId = UAE.parse().unwrap();
    liaison_node::consent::request(fed.node(OMAN).ctx(), id, vec![uae.clone()], REASON.into())
        .await
        .unwrap();
    wait_for("the consent request at KZ", LONG, || {
        !inbox_of_kind(&fed, KZ, "consent-request").is_empty()
    })
    .await;
    let asked = inbox_of_kind(&fed, KZ, "consent-request")[0];
    let env = fed.node(KZ).store().envelope(&asked).unwrap().unwrap();
    assert_eq!(
        env.route.len(),
        2,
        "relayed by both gateways: {:?}",
        env.route
    );
    let body = liaison_protocol::Body::decode(&env.signed.body).unwrap();
    assert!(
        matches!(body.kind, liaison_protocol::message::Kind::Sealed(ref s) if s.kind == "consent-request"),
        "the consent request travels sealed"
    );
    let (opened, why) = liaison_node::sealing::open_body(fed.node(KZ).ctx().keys(), body);
    assert_eq!(why, None);
    let liaison_protocol::message::Kind::ConsentRequest(r) = opened.kind else {
        panic!("KZ opens a consent request");
    };
    assert_eq!((r.target, r.to, r.reason.as_str()), (id, vec![uae], REASON));
    let dirs: Vec<_> = [CARICC, GCC]
        .iter()
        .map(|n| fed.fed.cluster.node_dir(n))
        .collect();
    let _files = fed.shutdown().await;
    for d in dirs {
        for (path, bytes) in all_files(&d) {
            assert!(
                !contains(&bytes, MARKER.as_bytes()),
                "plaintext of a relayed payload in {}",
                path.display()
            );
            assert!(
                !contains(&bytes, REASON.as_bytes()),
                "a relayed consent request's reason in {}",
                path.display()
            );
        }
    }
    assert!(
        logs.text().contains("message sent"),
        "the log capture works"
    );
    assert!(
        !logs.text().contains(MARKER) && !logs.text().contains(REASON),
        "payload text in the log output"
    );
}

/// The text of a message as the node's officer API would show it.
fn readable_text(node: &Node, id: &MessageId) -> String {
    let env = node.store().envelope(id).unwrap().unwrap();
    let body = liaison_protocol::Body::decode(&env.signed.body).unwrap();
    let (body, why) = liaison_node::sealing::open_body(node.ctx().keys(), body);
    assert_eq!(why, None);
    body.kind
        .payload()
        .map(|p| p.text.clone())
        .unwrap_or_default()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handling_rules_hold_at_every_gateway_and_refusals_reach_the_originator() {
    let fed = Running::start().await;
    // Released to central-asia (and Oman by name): the gateway towards the Gulf refuses,
    // since its next hop, gcc.inter-regional, is not released.
    let ca_only = fed
        .send(
            KZ,
            &message(
                "AMBER",
                &[OMAN],
                &["network:central-asia", OMAN],
                "central-asia only",
            ),
        )
        .await;
    fed.wait_hop(KZ, &ca_only, CARICC, "refused: releasability-violation")
        .await;
    // RED to CARICC and Oman, released to all three networks: CARICC receives it (a named
    // recipient) but may not pass it on, since RED never leaves its named recipients.
    let red = fed
        .send(KZ, &message("RED", &[CARICC, OMAN], &ALL_NETWORKS, "red"))
        .await;
    wait_for("RED at CARICC", LONG, || fed.inbox_has(CARICC, &red)).await;
    fed.wait_hop(KZ, &red, CARICC, "refused: tlp-red-violation")
        .await;
    fed.wait_hop(KZ, &red, CARICC, "delivered").await;
    // AMBER+STRICT to CARICC and Oman: the next hop's organisation (GCC-CIC) is not a
    // recipient's, so it stops at CARICC too.
    let strict = fed
        .send(
            KZ,
            &message("AMBER+STRICT", &[CARICC, OMAN], &ALL_NETWORKS, "strict"),
        )
        .await;
    fed.wait_hop(KZ, &strict, CARICC, "refused: tlp-amber-strict-violation")
        .await;
    // None of the three ever reached the Gulf.
    for id in [&ca_only, &red, &strict] {
        for n in [GCC, APICC, OMAN, UAE] {
            assert!(
                fed.node(n).store().state(id).unwrap().is_none(),
                "{n} must never have seen {id}"
            );
        }
    }
    // The refusal is the gateway's signed statement, kept beside the originator's log entry.
    let refusal_hops: Vec<_> = fed.refusals(KZ, &red);
    assert_eq!(refusal_hops.len(), 1, "{refusal_hops:?}");
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_of_three_gateways_delivers_each_message_exactly_once() {
    let fed = Running::start().await;
    // To the whole inter-regional network: caricc, gcc and apicc are each other's peers, a
    // ring; each fans the message out to the other two.
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            fed.send(
                KZ,
                &message(
                    "GREEN",
                    &["network:inter-regional"],
                    &["network:central-asia", "network:inter-regional"],
                    &format!("ring {i}"),
                ),
            )
            .await,
        );
    }
    for n in [CARICC, GCC, APICC] {
        wait_for(&format!("all 20 at {n}"), LONG, || {
            ids.iter().all(|id| fed.inbox_has(n, id))
        })
        .await;
    }
    // Every copy answered, no copy circulating: all outboxes drain.
    wait_for("every outbox empty", LONG, || {
        fed.nodes()
            .all(|n| n.store().outbox_depths().values().sum::<u64>() == 0)
    })
    .await;
    for n in [CARICC, GCC, APICC] {
        let inbox = fed.node(n).store().inbox(0, usize::MAX).unwrap();
        for id in &ids {
            let copies = inbox.iter().filter(|i| &i.state.facts.id == id).count();
            assert_eq!(copies, 1, "{n} holds {copies} copies of {id}");
        }
    }
    for n in [UZ, OMAN, UAE] {
        assert!(
            !ids.iter().any(|id| fed.inbox_has(n, id)),
            "{n} is not in inter-regional"
        );
    }
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_down_means_the_other_route_or_a_queue_until_it_returns() {
    let mut fed = Running::start().await;
    fed.wait_connected(CARICC, GCC_IR, true).await;
    fed.wait_connected(CARICC, APICC, true).await;
    // GCC-CIC down: CARICC takes the second way into the Gulf, through APICC.
    fed.stop(GCC).await;
    fed.wait_connected(CARICC, GCC_IR, false).await;
    let around = fed
        .send(KZ, &message("AMBER", &[OMAN], &ALL_NETWORKS, "around"))
        .await;
    wait_for("the alert in Oman by the other route", LONG, || {
        fed.inbox_has(OMAN, &around)
    })
    .await;
    let env = fed.node(OMAN).store().envelope(&around).unwrap().unwrap();
    assert!(
        env.route.iter().any(|n| n.centre_str() == "apicc"),
        "went through APICC: {:?}",
        env.route
    );
    // APICC down too: no way in; the message waits at CARICC for the preferred gateway and
    // goes when it returns.
    fed.stop(APICC).await;
    fed.wait_connected(CARICC, APICC, false).await;
    let queued = fed
        .send(KZ, &message("AMBER", &[OMAN], &ALL_NETWORKS, "queued"))
        .await;
    // (Other messages may wait for GCC-CIC too, e.g. route announcements made meanwhile.)
    wait_for("the alert queued at CARICC", LONG, || {
        fed.node(CARICC)
            .store()
            .outbox(&GCC_IR.parse().unwrap(), 0, usize::MAX)
            .unwrap()
            .iter()
            .any(|(_, id)| id == &queued)
    })
    .await;
    assert!(!fed.inbox_has(OMAN, &queued));
    fed.restart(GCC).await;
    wait_for("the queued alert in Oman", LONG, || {
        fed.inbox_has(OMAN, &queued)
    })
    .await;
    fed.wait_hop(KZ, &queued, OMAN, "delivered").await;
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_alters_the_header_is_caught_by_the_next_hop() {
    let fed = Running::start().await;
    // A genuine Kazakh alert to Oman, as CARICC holds it...
    let id = fed
        .send(KZ, &message("AMBER", &[OMAN], &ALL_NETWORKS, "original"))
        .await;
    wait_for("the alert at CARICC", LONG, || {
        fed.node(CARICC).store().state(&id).unwrap().is_some()
    })
    .await;
    let mut env = fed.node(CARICC).store().envelope(&id).unwrap().unwrap();
    // ...with its handling changed by a compromised CARICC (TLP byte of the body flipped to
    // a different level) and handed to GCC-CIC over CARICC's own authenticated connection.
    let body = liaison_protocol::Body::decode(&env.signed.body).unwrap();
    let mut altered = body.clone();
    altered.handling.tlp = liaison_protocol::Tlp::Clear;
    altered.normalise();
    env.signed.body = altered.encode().unwrap();
    let answers = raw_send(&fed.fed, CARICC, CARICC_IR, GCC_IR, &env).await;
    assert_eq!(answers, ["bad-signature"], "the altered message is refused");
    assert!(fed
        .node(GCC)
        .store()
        .state(&env.signed.id())
        .unwrap()
        .is_none());
    fed.shutdown().await;
}

/// Sends `env` to `to` over a fresh connection as `as_id` (an identity of node `node`), and
/// returns the reason codes of the refusals (or `receipt`) it gets back.
async fn raw_send(
    fed: &Federation,
    node: &str,
    as_id: &str,
    to: &str,
    env: &liaison_protocol::Envelope,
) -> Vec<String> {
    use liaison_certs::tls::{TlsIdentity, TlsTrust};
    use liaison_protocol::message::Kind;
    let d = fed.cluster.node_dir(node);
    let identity = TlsIdentity::load(
        &d.join(format!("{as_id}.crt")),
        &d.join(format!("{as_id}.key")),
    )
    .unwrap();
    let trust = TlsTrust::from_trust_store(&fed.cluster.pki.trust()).unwrap();
    let ep = liaison_node::endpoint::bind_with("127.0.0.1:0".parse().unwrap(), &identity, &trust)
        .unwrap();
    let to_id: liaison_protocol::NodeId = to.parse().unwrap();
    let conn =
        liaison_node::endpoint::connect(&ep, &trust.trust_store(), &to_id, fed.cluster.addr(to))
            .await
            .unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let decoder = liaison_protocol::FrameDecoder::default();
    send.write_all(&env.to_frame(&decoder).unwrap())
        .await
        .unwrap();
    let (_, payload) = tokio::time::timeout(
        LONG,
        liaison_node::wire::FrameReader::default().next(&mut recv, &decoder),
    )
    .await
    .expect("an answer in time")
    .unwrap()
    .expect("a frame");
    let answer = liaison_protocol::Envelope::decode(&payload).unwrap();
    let body = liaison_protocol::Body::decode(&answer.signed.body).unwrap();
    match body.kind {
        Kind::Refusal(r) => vec![r.reason_code],
        other => vec![other.name().to_string()],
    }
}

/// The ids of the messages of `kind` in `node`'s inbox.
fn inbox_of_kind(fed: &Running, node: &str, kind: &str) -> Vec<MessageId> {
    fed.node(node)
        .store()
        .inbox(0, usize::MAX)
        .unwrap()
        .iter()
        .filter(|i| i.state.facts.kind == kind)
        .map(|i| i.state.facts.id)
        .collect()
}

fn refusal_code(r: liaison_node::error::Result<liaison_node::node::Sent>) -> String {
    match r {
        Ok(s) => panic!("expected a refusal, but {} was sent", s.id),
        Err(liaison_node::error::NodeError::Refused(r)) => r.reason_code().to_owned(),
        Err(e) => panic!("not a refusal: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onward_sharing_needs_the_originators_consent_and_an_expired_grant_is_refused() {
    let fed = Running::start().await;
    // An originator-controlled (H2) alert from the Kazakh unit to CARICC.
    let mut req = message("AMBER", &[CARICC], &ALL_NETWORKS, "H2 SHARE-MARKER");
    req.originator_control = true;
    let original = fed.send(KZ, &req).await;
    wait_for("the alert at CARICC", LONG, || {
        fed.inbox_has(CARICC, &original)
    })
    .await;
    let caricc = fed.node(CARICC).ctx().clone();
    let oman: liaison_protocol::NodeId = OMAN.parse().unwrap();

    // Without consent CARICC may not pass it to Oman.
    let r = liaison_node::consent::share(&caricc, original, vec![oman.clone()]).await;
    assert_eq!(refusal_code(r), "originator-control");

    // CARICC asks; the Kazakh officer grants; CARICC shares; Oman reads it.
    liaison_node::consent::request(&caricc, original, vec![oman.clone()], "joint op".into())
        .await
        .unwrap();
    wait_for("the consent request at KZ", LONG, || {
        !inbox_of_kind(&fed, KZ, "consent-request").is_empty()
    })
    .await;
    let request = inbox_of_kind(&fed, KZ, "consent-request")[0];
    let kz = fed.node(KZ).ctx().clone();
    liaison_node::consent::answer(&kz, request, true, Some(3600), "granted".into())
        .await
        .unwrap();
    wait_for("the grant at CARICC", LONG, || {
        !inbox_of_kind(&fed, CARICC, "consent-answer").is_empty()
    })
    .await;
    let shared = liaison_node::consent::share(&caricc, original, vec![oman.clone()])
        .await
        .expect("shared under the grant")
        .id;
    wait_for("the shared alert in Oman", LONG, || {
        fed.inbox_has(OMAN, &shared)
    })
    .await;
    let text = readable_text(fed.node(OMAN), &shared);
    assert!(
        text.contains("SHARE-MARKER"),
        "re-sealed for Oman by the originator: {text:?}"
    );
    // The gateway relayed it without reading it.
    let at_gcc = fed.node(GCC).store().envelope(&shared).unwrap().unwrap();
    let (_, why) = liaison_node::sealing::open_body(
        fed.node(GCC).ctx().keys(),
        liaison_protocol::Body::decode(&at_gcc.signed.body).unwrap(),
    );
    assert!(why.is_some(), "GCC-CIC cannot read what it relays");

    // A grant that has expired: refused at CARICC itself, and by a gateway if CARICC (or
    // anyone holding the bytes) sends it anyway.
    let uae: liaison_protocol::NodeId = UAE.parse().unwrap();
    liaison_node::consent::request(&caricc, original, vec![uae.clone()], "second".into())
        .await
        .unwrap();
    wait_for("the second request at KZ", LONG, || {
        inbox_of_kind(&fed, KZ, "consent-request").len() == 2
    })
    .await;
    let second = inbox_of_kind(&fed, KZ, "consent-request")[1];
    liaison_node::consent::answer(&kz, second, true, Some(0), "expired at once".into())
        .await
        .unwrap();
    wait_for("the second answer at CARICC", LONG, || {
        inbox_of_kind(&fed, CARICC, "consent-answer").len() == 2
    })
    .await;
    let r = liaison_node::consent::share(&caricc, original, vec![uae.clone()]).await;
    assert_eq!(refusal_code(r), "consent-expired");
    let expired_grant = inbox_of_kind(&fed, CARICC, "consent-answer")
        .into_iter()
        .map(|id| {
            fed.node(CARICC)
                .store()
                .envelope(&id)
                .unwrap()
                .unwrap()
                .signed
        })
        .find(|g| {
            matches!(liaison_protocol::Body::decode(&g.body).unwrap().kind,
                liaison_protocol::message::Kind::ConsentAnswer(ref a) if a.to == [uae.clone()])
        })
        .unwrap();
    let forced = forged_share(&fed.fed, original, expired_grant, &fed);
    let answers = raw_send(&fed.fed, CARICC, CARICC_IR, GCC_IR, &forced).await;
    assert_eq!(answers, ["consent-expired"]);
    fed.shutdown().await;
}

/// A share of `original` to the UAE with `grant`, signed by CARICC, as CARICC's node would
/// build it if it did not check grants.
fn forged_share(
    fed: &Federation,
    original: MessageId,
    grant: liaison_protocol::SignedMessage,
    running: &Running,
) -> liaison_protocol::Envelope {
    use liaison_protocol::message::{Body, Header, Kind, Share};
    let env = running
        .node(CARICC)
        .store()
        .envelope(&original)
        .unwrap()
        .unwrap();
    let orig = Body::decode(&env.signed.body).unwrap();
    let d = fed.cluster.node_dir(CARICC);
    let signer = liaison_certs::load_signer(&d.join("node.crt"), &d.join("node.key")).unwrap();
    let mut handling = orig.handling.clone();
    handling
        .releasability
        .push(liaison_protocol::Release::Node(UAE.parse().unwrap()));
    let mut body = Body {
        header: Header {
            originator: CARICC.parse().unwrap(),
            created_at: liaison_node::store::now(),
            nonce: [7; 16],
            recipients: vec![liaison_protocol::Recipient::Node(UAE.parse().unwrap())],
            case: None,
            in_reply_to: Some(original),
            expires_at: None,
            hop_limit: 8,
        },
        handling,
        kind: Kind::Share(Share {
            original: env.signed,
            grants: vec![grant],
        }),
    };
    body.normalise();
    liaison_protocol::Envelope {
        signed: signer.sign(&mut body).unwrap(),
        route: vec![CARICC.parse().unwrap()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_route_announcement_is_refused_and_changes_no_route() {
    const GHOST: &str = "ghost.central-asia";
    use liaison_protocol::message::{Body, Header, Kind};
    use liaison_protocol::routing::{Announcement, Reach};
    let fed = Running::start().await;
    // CARICC's own announcement says what the forgery below claims; snapshot the routes only
    // once GCC-CIC has it, or it would count as learnt from the forgery.
    let announced_by_caricc = |r: &liaison_protocol::routing::Route| {
        r.via.as_str() == CARICC_IR
            && r.source == liaison_protocol::routing::RouteSource::Announced
            && r.dest.to_string() == "network:central-asia"
    };
    wait_for("GCC-CIC to learn CARICC's announced routes", LONG, || {
        fed.node(GCC)
            .ctx()
            .sessions()
            .routes()
            .iter()
            .any(announced_by_caricc)
    })
    .await;
    let routes_before = fed.node(GCC).ctx().sessions().routes();
    // APICC's key signs "the whole central-asia network is behind me at distance 0" (and a
    // node nobody announces, whose route would show a forgery taken), and the bytes arrive
    // over CARICC's authenticated connection.
    let d = fed.fed.cluster.node_dir(APICC);
    let apicc = liaison_certs::load_signer(&d.join("node.crt"), &d.join("node.key")).unwrap();
    let gcc_ir: liaison_protocol::NodeId = GCC_IR.parse().unwrap();
    let mut body = Body {
        header: Header {
            originator: APICC.parse().unwrap(),
            created_at: liaison_node::store::now(),
            nonce: [9; 16],
            recipients: vec![liaison_protocol::Recipient::Node(gcc_ir.clone())],
            case: None,
            in_reply_to: None,
            expires_at: None,
            hop_limit: 1,
        },
        handling: liaison_node::compose::control_handling(vec![liaison_protocol::Release::Node(
            gcc_ir,
        )])
        .unwrap(),
        kind: Kind::Announce(Announcement {
            reach: vec![
                Reach {
                    dest: GHOST.parse().unwrap(),
                    distance: 0,
                },
                Reach {
                    dest: "network:central-asia".parse().unwrap(),
                    distance: 0,
                },
            ],
            keys: vec![],
        }),
    };
    let env = liaison_protocol::Envelope {
        signed: apicc.sign(&mut body).unwrap(),
        route: vec![],
    };
    let answers = raw_send(&fed.fed, CARICC, CARICC_IR, GCC_IR, &env).await;
    assert_eq!(answers, ["forged-announcement"]);
    // Altered after signing: the signature no longer verifies.
    let mut altered = env.clone();
    let n = altered.signed.body.len();
    altered.signed.body[n - 1] ^= 1;
    let answers = raw_send(&fed.fed, CARICC, CARICC_IR, GCC_IR, &altered).await;
    assert_eq!(answers.len(), 1);
    assert!(
        ["bad-signature", "malformed", "non-canonical"].contains(&answers[0].as_str()),
        "{answers:?}"
    );
    let routes_after = fed.node(GCC).ctx().sessions().routes();
    assert!(
        !routes_after.iter().any(|r| r.via.as_str() == CARICC_IR
            && r.distance == 0
            && r.dest.to_string() == "network:central-asia"
            && !routes_before.contains(r)),
        "no route learnt from the forgery"
    );
    assert!(
        !routes_after.iter().any(|r| r.dest.to_string() == GHOST),
        "no route learnt from the forgery: {routes_after:?}"
    );
    fed.shutdown().await;
}

/// The same consent flow through the officers' consoles, in headless Chromium: CARICC's
/// officer (in Russian) is refused sharing an originator-controlled alert with Oman, asks the
/// Kazakh unit's consent, and once its officer (in Arabic) grants it, shares it; a supervisor
/// of the Kazakh unit (in English) then deletes the body its retention rules say is due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_ask_grant_and_share_onward_in_their_consoles_and_a_supervisor_purges() {
    let mut f = Federation::new();
    let kz_at = NODES.iter().position(|n| *n == KZ).expect("KZ");
    f.configs[kz_at].retention.rules = vec![liaison_node::config::RetentionRule {
        name: "alerts-at-once".into(),
        kinds: vec!["alert".into()],
        tlp: vec![],
        after_days: 0,
    }];
    let fed = Running::start_with(f).await;
    let Some(br) = liaison_tests::browser::start().await else {
        fed.shutdown().await;
        return;
    };
    let mut req = message("AMBER", &[CARICC], &ALL_NETWORKS, "H2 CONSOLE-MARKER");
    req.originator_control = true;
    let original = fed.send(KZ, &req).await;
    wait_for("the alert at CARICC", LONG, || {
        fed.inbox_has(CARICC, &original)
    })
    .await;
    let base = |n: &str| format!("http://{}", fed.node(n).api_addr());
    let token = |n: &str| fed.node(n).ctx().config().api.token_file.clone();

    // At CARICC, in Russian: sharing with Oman is refused (H2), with the translated reason.
    br.login(&base(CARICC), &token(CARICC)).await;
    let page = format!("{}/console/messages/{original}?lang=ru", base(CARICC));
    br.goto(&page).await;
    assert_eq!(br.text("#h-onward").await, "Передать дальше");
    br.type_in("#share-to", OMAN).await;
    br.click("#share-form button").await;
    let refused = br.text("#message-error").await;
    assert!(refused.contains("originator-control"), "{refused}");
    assert!(inbox_of_kind(&fed, OMAN, "share").is_empty());
    // So the officer asks the originator.
    br.type_in("#consent-to", OMAN).await;
    br.type_in("#consent-reason", "совместная операция").await;
    br.click("#consent-request-form button").await;
    assert!(br.text(".notice").await.contains("Запрос отправлен"));

    // At the Kazakh unit, in Arabic: the request is delivered; grant it for 24 hours.
    wait_for("the consent request at KZ", LONG, || {
        !inbox_of_kind(&fed, KZ, "consent-request").is_empty()
    })
    .await;
    let request = inbox_of_kind(&fed, KZ, "consent-request")[0];
    br.login(&base(KZ), &token(KZ)).await;
    br.goto(&format!("{}/console/messages/{request}?lang=ar", base(KZ)))
        .await;
    assert_eq!(br.attr("html", "dir").await.as_deref(), Some("rtl"));
    assert_eq!(br.text("#h-consent-answer").await, "الرد على طلب الموافقة");
    br.click("#grant-form button").await;
    assert!(br.text(".notice").await.contains("تم الرد"));

    // Back at CARICC (still signed in there): the grant arrived, the share goes through.
    wait_for("the grant at CARICC", LONG, || {
        !inbox_of_kind(&fed, CARICC, "consent-answer").is_empty()
    })
    .await;
    br.goto(&page).await;
    br.type_in("#share-to", OMAN).await;
    br.click("#share-form button").await;
    assert!(br.text(".notice").await.contains("Передано"));
    wait_for("the shared alert in Oman", LONG, || {
        !inbox_of_kind(&fed, OMAN, "share").is_empty()
    })
    .await;
    let shared = inbox_of_kind(&fed, OMAN, "share")[0];
    assert!(readable_text(fed.node(OMAN), &shared).contains("CONSOLE-MARKER"));

    // A supervisor of the Kazakh unit, in English: the alert's body is due; delete it.
    br.goto(&format!("{}/console/status?lang=en", base(KZ)))
        .await;
    let retention = br.text("#h-retention").await;
    assert_eq!(retention, "Retention");
    assert!(br.source().await.contains(&original.to_string()[..12]));
    br.click("#purge-confirm").await;
    br.click("#purge-form button").await;
    let done = br.text(".notice").await;
    assert!(done.contains("deleted"), "{done}");
    assert!(fed
        .node(KZ)
        .store()
        .state(&original)
        .expect("state")
        .is_some_and(|s| s.purged));
    fed.shutdown().await;
}
