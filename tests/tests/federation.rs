//! The network of networks (issue "Network of networks"): three networks, seven nodes, three
//! gateways, real QUIC on loopback, real certificates, real stores on disk.

use std::time::Duration;

use liaison_node::compose::SendRequest;
use liaison_node::node::Node;
use liaison_protocol::MessageId;
use liaison_tests::cluster::{start, wait_for};
use liaison_tests::federation::*;

const LONG: Duration = Duration::from_secs(60);

/// The whole federation, started.
struct Running {
    fed: Federation,
    nodes: Vec<(String, Node)>,
}

impl Running {
    async fn start() -> Self {
        let fed = Federation::new();
        let mut nodes = Vec::new();
        for n in NODES {
            nodes.push((n.to_string(), start(fed.config(n)).await));
        }
        Self { fed, nodes }
    }

    fn node(&self, id: &str) -> &Node {
        &self.nodes.iter().find(|(n, _)| n == id).expect("node").1
    }

    async fn stop(&mut self, id: &str) {
        let i = self.nodes.iter().position(|(n, _)| n == id).expect("node");
        let (_, node) = self.nodes.remove(i);
        node.shutdown().await.expect("shutdown");
    }

    async fn restart(&mut self, id: &str) {
        self.nodes
            .push((id.to_string(), start(self.fed.config(id)).await));
    }

    async fn send(&self, from: &str, req: &SendRequest) -> MessageId {
        liaison_node::node::send(self.node(from).ctx(), req)
            .await
            .expect("sent")
            .id
    }

    async fn shutdown(self) {
        let mut all = tokio::task::JoinSet::new();
        for (_, n) in self.nodes {
            all.spawn(async move { n.shutdown().await.expect("shutdown") });
        }
        while all.join_next().await.is_some() {}
    }

    fn connected(&self, node: &str, peer: &str) -> bool {
        self.node(node)
            .status()
            .peers
            .iter()
            .any(|p| p.node.as_str() == peer && p.state.connected)
    }

    async fn wait_connected(&self, node: &str, peer: &str, up: bool) {
        wait_for(&format!("{node} → {peer} up={up}"), LONG, || {
            self.connected(node, peer) == up
        })
        .await;
    }

    fn refusals(&self, node: &str, id: &MessageId) -> Vec<(String, String)> {
        self.hops(node, id)
            .into_iter()
            .filter(|(_, o)| o.starts_with("refused"))
            .collect()
    }

    fn inbox_has(&self, node: &str, id: &MessageId) -> bool {
        self.node(node)
            .store()
            .inbox(0, usize::MAX)
            .expect("inbox")
            .iter()
            .any(|i| &i.state.facts.id == id)
    }

    /// The trail of `id` at `node`: (signer, outcome) of every hop answer.
    fn hops(&self, node: &str, id: &MessageId) -> Vec<(String, String)> {
        self.node(node)
            .store()
            .state(id)
            .expect("state")
            .map(|s| {
                s.hops
                    .iter()
                    .map(|h| (h.peer.to_string(), h.outcome.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn wait_hop(&self, node: &str, id: &MessageId, signer: &str, outcome: &str) {
        wait_for(
            &format!("{signer}: {outcome} in the trail at {node}"),
            LONG,
            || {
                self.hops(node, id)
                    .iter()
                    .any(|(s, o)| s == signer && o == outcome)
            },
        )
        .await;
    }
}

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
    let fed = Running::start().await;
    let id = fed
        .send(
            KZ,
            &message(
                "AMBER",
                &[OMAN],
                &ALL_NETWORKS,
                "Груз героина, контейнер MSCU1234565",
            ),
        )
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
    // Every hop's signed answer is in the originator's trail.
    fed.wait_hop(KZ, &id, CARICC, "relayed").await;
    fed.wait_hop(KZ, &id, GCC_IR, "relayed").await;
    fed.wait_hop(KZ, &id, OMAN, "delivered").await;
    // Nobody else delivered it.
    for n in [UZ, CARICC, GCC, APICC, UAE] {
        assert!(!fed.inbox_has(n, &id), "{n} must not have it in its inbox");
    }
    fed.shutdown().await;
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
        fed.nodes
            .iter()
            .all(|(_, n)| n.store().outbox_depths().values().sum::<u64>() == 0)
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
    wait_for("the alert queued at CARICC", LONG, || {
        fed.node(CARICC)
            .store()
            .outbox_depths()
            .get(&GCC_IR.parse().unwrap())
            .copied()
            .unwrap_or(0)
            == 1
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
        liaison_node::endpoint::connect(&ep, trust.trust_store(), &to_id, fed.cluster.addr(to))
            .await
            .unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let decoder = liaison_protocol::FrameDecoder::default();
    send.write_all(&env.to_frame(&decoder).unwrap())
        .await
        .unwrap();
    let (_, payload) =
        tokio::time::timeout(LONG, liaison_node::wire::read_frame(&mut recv, &decoder))
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
