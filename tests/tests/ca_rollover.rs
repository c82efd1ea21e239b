//! A network rolls its CA over (docs/OPERATIONS.md, "Rolling a network CA over"): real QUIC
//! on loopback, real certificates and CRLs written by the PKI code `liaison certs` runs, real
//! data dirs, every node restarted in place.
//!
//! ```text
//!   central-asia (rolls its CA over)              gulf
//!   kz ──┐
//!        ├── caricc.central-asia ═ caricc.gulf ── oman
//!   uz ──┘         (a gateway in both networks)
//! ```
//!
//! Messages flow through the gateway in both directions the whole time, while every node is
//! restarted three times, one at a time: to trust the new CA beside the old one, to take a
//! certificate of the new CA (the central-asia nodes), and to stop trusting the old CA.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use liaison_audit::Uncovered;
use liaison_certs::tls::{TlsIdentity, TlsTrust};
use liaison_certs::{Role, TrustBundle, Validity};
use liaison_node::compose::SendRequest;
use liaison_node::config::{Config, RelayRule, RouteConfig, TrustConfig};
use liaison_node::endpoint::RefusedBy;
use liaison_node::node::Node;
use liaison_protocol::log::Event;
use liaison_protocol::{MessageId, NodeId, Timestamp};
use liaison_tests::api::{officer, CertClient};
use liaison_tests::cluster::{start, wait_keys, Cluster};
use time::OffsetDateTime;
use tokio::sync::RwLock;

const KZ: &str = "kz.central-asia";
const UZ: &str = "uz.central-asia";
const CARICC: &str = "caricc.central-asia";
const CARICC_GULF: &str = "caricc.gulf";
const OMAN: &str = "oman.gulf";
/// The nodes, by main identity, in the order they are restarted.
const NODES: [&str; 4] = [KZ, UZ, CARICC, OMAN];
/// Who sends to whom: every message crosses the gateway.
const FLOWS: [(&str, &str); 4] = [(KZ, OMAN), (UZ, OMAN), (OMAN, KZ), (OMAN, UZ)];
/// How long one step may take before the test fails.
const LONG: Duration = Duration::from_secs(90);

/// The running nodes, by main identity. The traffic holds a read lock while it sends from a
/// node; a restart takes the node out under the write lock, so no send races a shutdown.
type Live = Arc<RwLock<BTreeMap<String, Node>>>;

/// One message the traffic sent: accepted by its node (durable) when recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sent {
    id: MessageId,
    from: &'static str,
    to: &'static str,
}

/// What the traffic saw: the messages accepted, and every send that failed.
#[derive(Default)]
struct Traffic {
    sent: Vec<Sent>,
    failed: Vec<String>,
}

fn alert(to: &str, text: String) -> SendRequest {
    SendRequest {
        kind: "alert".into(),
        to: vec![to.into()],
        tlp: "AMBER".into(),
        release: vec!["network:central-asia".into(), "network:gulf".into()],
        eval: "B2".into(),
        text,
        lang: "en".into(),
        ..Default::default()
    }
}

/// Sends one message on every flow whose sender is running, every 250 ms, until `stop`.
fn run_traffic(
    live: Live,
    log: Arc<Mutex<Traffic>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut seq = 0u64;
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => {}
            }
            for (from, to) in FLOWS {
                seq += 1;
                let nodes = live.read().await;
                let Some(node) = nodes.get(from) else {
                    continue;
                };
                let result = node.send(&alert(to, format!("rollover {seq}"))).await;
                drop(nodes);
                let mut log = log.lock().expect("traffic log");
                match result {
                    Ok(s) => log.sent.push(Sent { id: s.id, from, to }),
                    Err(e) => log.failed.push(format!("{from} → {to}: {e:#}")),
                }
            }
        }
    })
}

/// Polls `cond` on the running nodes every `every` until it holds; false if it still does
/// not after [`LONG`].
async fn poll_nodes(
    live: &Live,
    every: Duration,
    mut cond: impl FnMut(&BTreeMap<String, Node>) -> bool,
) -> bool {
    let start = Instant::now();
    loop {
        if cond(&*live.read().await) {
            return true;
        }
        if start.elapsed() > LONG {
            return false;
        }
        tokio::time::sleep(every).await;
    }
}

/// As [`poll_nodes`], failing the test (naming `what`) when `cond` does not come to hold.
async fn wait_nodes(
    live: &Live,
    what: &str,
    every: Duration,
    cond: impl FnMut(&BTreeMap<String, Node>) -> bool,
) {
    if !poll_nodes(live, every, cond).await {
        panic!("timed out after {LONG:?} waiting for {what}");
    }
}

/// Whether every running node has a session up with each of its configured peers.
fn all_connected(nodes: &BTreeMap<String, Node>) -> bool {
    nodes.values().all(|n| {
        let status = n.status();
        n.ctx().config().peers.iter().all(|p| {
            status
                .peers
                .iter()
                .any(|s| s.node == p.node_id && s.state.connected)
        })
    })
}

/// Stops `id`, then starts it again on `cfg` (its data dir unchanged), and waits until every
/// node is connected to all its peers again, as an operator restarts one node at a time.
async fn restart(live: &Live, id: &str, cfg: Config) {
    let node = live.write().await.remove(id).expect("a running node");
    node.shutdown().await.expect("a clean shutdown");
    let node = start(cfg).await;
    live.write().await.insert(id.to_owned(), node);
    wait_nodes(
        live,
        &format!("every session up after restarting {id}"),
        Duration::from_millis(20),
        all_connected,
    )
    .await;
}

/// Each running node's inbox, as message ids.
fn inboxes(nodes: &BTreeMap<String, Node>) -> BTreeMap<&'static str, HashSet<MessageId>> {
    NODES
        .iter()
        .filter_map(|n| nodes.get(*n).map(|node| (*n, node)))
        .map(|(n, node)| {
            let ids = node
                .store()
                .inbox(0, usize::MAX)
                .expect("inbox")
                .iter()
                .map(|i| i.state.facts.id)
                .collect();
            (n, ids)
        })
        .collect()
}

/// The messages of `sent` not (yet) in their recipients' inboxes.
fn undelivered<'a>(nodes: &BTreeMap<String, Node>, sent: &'a [Sent]) -> Vec<&'a Sent> {
    let inboxes = inboxes(nodes);
    sent.iter()
        .filter(|m| !inboxes.get(m.to).is_some_and(|i| i.contains(&m.id)))
        .collect()
}

/// What the running nodes still hold for a peer (not yet receipted by it) that was created
/// before `t`: (node, peer, message kind, originator).
fn queued_before(nodes: &BTreeMap<String, Node>, t: Timestamp) -> Vec<String> {
    let mut out = Vec::new();
    for (n, node) in nodes {
        let store = node.store();
        for peer in store.outbox_depths().keys() {
            for (_, id) in store.outbox(peer, 0, usize::MAX).expect("outbox") {
                if let Some(s) = store.state(&id).expect("state") {
                    if s.facts.created_at < t {
                        out.push(format!(
                            "{n} → {peer}: {} from {}",
                            s.facts.kind, s.facts.originator
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Whether nothing created before `t` is still on its way: every message of `sent` is in
/// its recipient's inbox and no node still queues anything (messages, hop reports) from
/// before `t` for a peer. False if that does not come to hold within [`LONG`].
async fn nothing_older_on_its_way(live: &Live, sent: &[Sent], t: Timestamp) -> bool {
    poll_nodes(live, Duration::from_millis(200), |nodes| {
        undelivered(nodes, sent).is_empty() && queued_before(nodes, t).is_empty()
    })
    .await
}

/// The refusals every running node logged (any message, any reason) and those it was told
/// of: "node: event".
fn refusals_logged(nodes: &BTreeMap<String, Node>) -> Vec<String> {
    let mut out = Vec::new();
    for (n, node) in nodes {
        let store = node.store();
        for i in 0..store.log_size() {
            let Some(entry) = store.log_entry(i).expect("log entry") else {
                continue;
            };
            match entry.event {
                Event::Refused {
                    peer, reason_code, ..
                } => out.push(format!("{n} refused from {peer}: {reason_code}")),
                Event::RefusalReceived {
                    from, reason_code, ..
                } => out.push(format!("{n} was refused by {from}: {reason_code}")),
                _ => {}
            }
        }
    }
    out
}

fn trust_files(ca_dir: &Path) -> TrustConfig {
    TrustConfig {
        ca: Some(ca_dir.join("ca.crt")),
        crl: Some(ca_dir.join("crl.pem")),
        bundle: None,
    }
}

fn trust_bundle(path: PathBuf) -> TrustConfig {
    TrustConfig {
        ca: None,
        crl: None,
        bundle: Some(path),
    }
}

/// The four nodes' certificates and configurations, the old CA's files as `Cluster` writes
/// them (`<dir>/pki/<network>/`), and the files of the rollover as `liaison certs` makes
/// them.
struct Rollover {
    c: Cluster,
    configs: BTreeMap<&'static str, Config>,
    /// `ca.crt` and `crl.pem` of central-asia's current (old) CA.
    old_ca: PathBuf,
    /// The new CA's directory (`certs new-network` into a new directory).
    new_ca: PathBuf,
}

impl Rollover {
    fn new() -> Self {
        let mut c = Cluster::new(&["central-asia", "gulf"]);
        for n in NODES {
            c.add(n);
        }
        c.alias(CARICC_GULF, CARICC);
        let route = |to: &str, via: &str| RouteConfig {
            to: to.into(),
            via: via.parse().expect("via"),
            distance: 0,
        };
        let relay = |from: &str| RelayRule {
            from: from.parse().expect("network"),
            to: vec![
                "central-asia".parse().expect("network"),
                "gulf".parse().expect("network"),
            ],
        };
        let mut configs = BTreeMap::new();
        for n in NODES {
            let cfg = match n {
                KZ | UZ => {
                    let mut cfg = c.config(n, &[CARICC]);
                    cfg.routes = vec![route("network:gulf", CARICC)];
                    cfg
                }
                CARICC => {
                    let mut cfg = c.config(n, &[KZ, UZ, OMAN]);
                    c.add_identity(&mut cfg, CARICC_GULF);
                    cfg.relay = vec![relay("central-asia"), relay("gulf")];
                    cfg
                }
                _ => {
                    let mut cfg = c.config(n, &[CARICC_GULF]);
                    cfg.routes = vec![route("network:central-asia", CARICC_GULF)];
                    cfg
                }
            };
            configs.insert(n, cfg);
        }
        let old_ca = c.dir.path().join("pki").join("central-asia");
        let new_ca = c.dir.path().join("ca").join("central-asia-2");
        Self {
            c,
            configs,
            old_ca,
            new_ca,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.c.dir.path().join(name)
    }

    /// Step 1, at the CA: a new CA for the same network, in a new directory.
    fn new_ca(&self) {
        let now = OffsetDateTime::now_utc();
        liaison_certs::create_network(
            &"central-asia".parse().expect("network"),
            &self.new_ca,
            Validity::days_from(now, 3650).expect("validity"),
            now,
            liaison_certs::revocation::CRL_VALIDITY,
        )
        .expect("a second CA for central-asia");
    }

    /// Step 2: every node trusts both CAs. The units by a second `[[trust]]` entry, the
    /// gateway and the Gulf unit by a bundle of both CAs in place of the old one.
    fn trust_both(&mut self) {
        let both = self.path("central-asia.both.bundle.pem");
        liaison_certs::write_trust_bundle(&[&self.old_ca, &self.new_ca], &both).expect("bundle");
        let new = trust_files(&self.new_ca);
        for n in [KZ, UZ] {
            self.configs
                .get_mut(n)
                .expect("node")
                .trust
                .push(new.clone());
        }
        for n in [CARICC, OMAN] {
            let old_ca = &self.old_ca;
            let cfg = self.configs.get_mut(n).expect("node");
            cfg.trust
                .retain(|t| !names_any(t, |p| p.starts_with(old_ca)));
            cfg.trust.push(trust_bundle(both.clone()));
        }
    }

    /// Step 3: a node of central-asia gets a certificate (and key) of the new CA.
    fn reissue(&mut self, node: &str) {
        let out = self.path("reissued");
        let validity = Validity::days_from(OffsetDateTime::now_utc(), 365).expect("validity");
        let files = liaison_certs::issue_node_files(&self.new_ca, node, &out, validity)
            .expect("a certificate of the new CA");
        let cfg = self.configs.get_mut(node).expect("node");
        cfg.identity.cert = files.cert_path;
        cfg.identity.key = files.key_path;
    }

    /// Step 4: every node stops trusting the old CA.
    fn retire_old(&mut self) {
        let new_only = self.path("central-asia.new.bundle.pem");
        liaison_certs::write_trust_bundle(&[&self.new_ca], &new_only).expect("bundle");
        let both = self.path("central-asia.both.bundle.pem");
        let old_ca = &self.old_ca;
        for n in [KZ, UZ] {
            let cfg = self.configs.get_mut(n).expect("node");
            cfg.trust
                .retain(|t| !names_any(t, |p| p.starts_with(old_ca)));
        }
        for n in [CARICC, OMAN] {
            let cfg = self.configs.get_mut(n).expect("node");
            cfg.trust.retain(|t| !names_any(t, |p| p == both));
            cfg.trust.push(trust_bundle(new_only.clone()));
        }
    }

    fn config(&self, node: &str) -> Config {
        self.configs[node].clone()
    }
}

/// Whether a `[[trust]]` entry names a file for which `which` holds.
fn names_any(t: &TrustConfig, which: impl Fn(&Path) -> bool) -> bool {
    [&t.ca, &t.crl, &t.bundle]
        .into_iter()
        .flatten()
        .any(|p| which(p))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_rolls_its_ca_over_under_traffic_across_a_gateway_losing_nothing() {
    let mut r = Rollover::new();
    let live: Live = Arc::default();
    for n in NODES {
        let node = start(r.config(n)).await;
        live.write().await.insert(n.to_owned(), node);
    }
    wait_nodes(
        &live,
        "every session up",
        Duration::from_millis(20),
        all_connected,
    )
    .await;
    {
        let nodes = live.read().await;
        wait_keys(&nodes[KZ], &[OMAN]).await;
        wait_keys(&nodes[UZ], &[OMAN]).await;
        wait_keys(&nodes[OMAN], &[KZ, UZ]).await;
    }
    let log = Arc::new(Mutex::new(Traffic::default()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let traffic = run_traffic(live.clone(), log.clone(), stopped);
    let sent = |log: &Mutex<Traffic>| log.lock().expect("traffic log").sent.len();
    let at_least_more = |live: &Live, log: &Arc<Mutex<Traffic>>, what: &'static str| {
        let target = sent(log) + FLOWS.len() * 2;
        let (live, log) = (live.clone(), log.clone());
        async move {
            wait_nodes(&live, what, Duration::from_millis(20), |_| {
                sent(&log) >= target
            })
            .await;
        }
    };
    at_least_more(&live, &log, "traffic under the old CA").await;

    // 1. A new CA for the network; 2. every node trusts both, restarted one at a time.
    r.new_ca();
    r.trust_both();
    for n in NODES {
        restart(&live, n, r.config(n)).await;
        at_least_more(&live, &log, "traffic after a restart").await;
    }
    // 3. The network's nodes take certificates of the new CA, one at a time.
    for n in [KZ, UZ, CARICC] {
        r.reissue(n);
        restart(&live, n, r.config(n)).await;
        at_least_more(&live, &log, "traffic after a re-issue").await;
    }
    {
        let nodes = live.read().await;
        let both = TrustBundle::read(&r.path("central-asia.both.bundle.pem")).expect("bundle");
        let mut trust = liaison_protocol::TrustStore::new();
        both.add_to(&mut trust).expect("trust");
        for n in [KZ, UZ, CARICC] {
            let own = nodes[n].ctx().me().signer().cert_der().to_vec();
            let certified = trust.certify(&own).expect("certified");
            assert_eq!(
                certified.ca,
                both.cas[1].fingerprint(),
                "{n} presents a certificate of the new CA"
            );
        }
    }
    // Nothing signed under the old CA is still on its way before any node stops trusting
    // it: what was sent so far is delivered, and no node still queues anything (a message, a
    // hop report) created before the last node took its new certificate.
    let switched = liaison_node::store::now();
    let before_retiring: Vec<Sent> = log.lock().expect("traffic log").sent.clone();
    if !nothing_older_on_its_way(&live, &before_retiring, switched).await {
        let nodes = live.read().await;
        panic!(
            "still on its way before retiring the old CA: undelivered {:?}, queued {:?}",
            undelivered(&nodes, &before_retiring),
            queued_before(&nodes, switched)
        );
    }

    // 4. The old CA retired, one node at a time.
    r.retire_old();
    for n in NODES {
        restart(&live, n, r.config(n)).await;
        at_least_more(&live, &log, "traffic after retiring the old CA").await;
    }
    // A certificate of the retired CA no longer gets in.
    {
        let nodes = live.read().await;
        let gateway = &nodes[CARICC];
        let old_kz = &r.c.node_dir(KZ);
        let identity = TlsIdentity::load(&old_kz.join("node.crt"), &old_kz.join("node.key"))
            .expect("kz's certificate of the old CA");
        let both = TlsTrust::from_trust_store(
            &liaison_certs::load::load_trust_sources([liaison_certs::load::TrustSource::Bundle(
                &r.path("central-asia.both.bundle.pem"),
            )])
            .expect("trust"),
        )
        .expect("tls trust");
        let ep = liaison_node::endpoint::bind_with(
            "127.0.0.1:0".parse().expect("addr"),
            &identity,
            &both,
        )
        .expect("bind");
        let caricc: NodeId = CARICC.parse().expect("node id");
        let refused = match liaison_node::endpoint::connect(
            &ep,
            &both.trust_store(),
            &caricc,
            gateway.quic_addr(),
        )
        .await
        {
            Err(e) => e,
            Ok(conn) => liaison_node::endpoint::EndpointError::from(conn.closed().await),
        };
        assert_eq!(
            (refused.refused_by(), refused.reason_code()),
            (Some(RefusedBy::Peer), "bad-certificate-chain"),
            "{refused}"
        );
    }

    // Traffic stops; everything sent arrives, exactly once, and nothing was refused.
    stop.send(true).expect("stop the traffic");
    traffic.await.expect("traffic task");
    let Traffic { sent, failed } = std::mem::take(&mut *log.lock().expect("traffic log"));
    assert_eq!(
        failed,
        Vec::<String>::new(),
        "sends refused by the sending node"
    );
    let drained = nothing_older_on_its_way(&live, &sent, liaison_node::store::now()).await;
    {
        let nodes = live.read().await;
        let lost = undelivered(&nodes, &sent);
        let refused = refusals_logged(&nodes);
        assert_eq!(
            (lost.len(), refused.len()),
            (0, 0),
            "lost {lost:?}, refused {refused:?}"
        );
        assert!(
            drained,
            "every message delivered, but outboxes hold {:?}",
            queued_before(&nodes, liaison_node::store::now())
        );
        // Exactly once: each recipient holds exactly the messages sent to it.
        let inboxes = inboxes(&nodes);
        for to in [KZ, UZ, OMAN] {
            let expected: HashSet<MessageId> =
                sent.iter().filter(|m| m.to == to).map(|m| m.id).collect();
            assert_eq!(inboxes[to], expected, "the inbox of {to}");
        }
        let per_flow: Vec<usize> = FLOWS
            .iter()
            .map(|(f, t)| sent.iter().filter(|m| m.from == *f && m.to == *t).count())
            .collect();
        assert!(
            per_flow.iter().all(|n| *n >= 10),
            "traffic on every flow: {per_flow:?}"
        );
        eprintln!(
            "rolled over under traffic: {} messages ({per_flow:?} per flow), 0 lost, 0 refused",
            sent.len()
        );
    }
    let nodes = std::mem::take(&mut *live.write().await);
    for (_, node) in nodes {
        node.shutdown().await.expect("shutdown");
    }

    // Every data dir audits clean with the CAs the network ever had (an auditor keeps the
    // retired CA: logs, checkpoints and messages signed before the rollover name it).
    let ca = |dir: &Path| dir.join("ca.crt");
    let gulf = r.c.dir.path().join("pki").join("gulf");
    let all = liaison_certs::load_trust([
        (ca(&r.old_ca).as_path(), None),
        (ca(&r.new_ca).as_path(), None),
        (ca(&gulf).as_path(), None),
    ])
    .expect("the auditor's trust");
    for n in NODES {
        let data = &r.configs[n].data_dir;
        let report =
            liaison_audit::verify(data, &all, Uncovered::Refuse, |_, _, _| {}).expect("audit");
        assert!(report.ok(), "{n}: {:?}", report.problems);
        assert!(report.messages_verified > 0, "{n} holds messages");
    }
    // Without the retired CA, the checkpoints a central-asia node signed before its new
    // certificate cannot be checked: the auditor must keep it.
    let new_only =
        liaison_certs::load_trust([(ca(&r.new_ca).as_path(), None), (ca(&gulf).as_path(), None)])
            .expect("trust");
    let err = liaison_audit::verify(
        &r.configs[KZ].data_dir,
        &new_only,
        Uncovered::Refuse,
        |_, _, _| {},
    )
    .expect_err("kz's certificate of the retired CA does not chain");
    assert!(err.to_string().contains("does not chain"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_of_either_ca_use_the_https_api_until_the_old_ca_is_retired() {
    let mut r = Rollover::new();
    let mut cfg = r.config(KZ);
    cfg.peers.clear();
    cfg.api.tls_listen = Some("127.0.0.1:0".parse().expect("addr"));
    r.configs.insert(KZ, cfg);
    r.new_ca();
    r.trust_both();
    let node = start(r.config(KZ)).await;
    let validity = Validity::days_from(OffsetDateTime::now_utc(), 365).expect("validity");
    let old_officer = officer(&r.c.pki, KZ, "a.karimova", Role::Officer);
    let files = liaison_certs::issue_officer_files(
        &r.new_ca,
        "kz",
        "b.nurlanov",
        Role::Supervisor,
        liaison_certs::OfficerKey::P256,
        &r.path("officers"),
        validity,
    )
    .expect("an officer certificate of the new CA");
    let new_officer = liaison_certs::IssuedCert {
        cert_der: liaison_certs::load::read_cert(&files.cert_path).expect("cert"),
        cert_pem: std::fs::read_to_string(&files.cert_path).expect("cert"),
        key_pem: std::fs::read_to_string(&files.key_path)
            .expect("key")
            .into(),
        serial: files.serial.clone(),
        subject: files.subject.clone(),
        validity,
    };
    // The client trusts both CAs for the listener's certificate (the node's own, old or new).
    let (old_ca, new_ca) = (r.old_ca.clone(), r.new_ca.clone());
    let roots = move || {
        let mut roots = rustls::RootCertStore::empty();
        for dir in [&old_ca, &new_ca] {
            let der = liaison_certs::load::read_cert(&dir.join("ca.crt")).expect("ca");
            roots.add(der.into()).expect("root");
        }
        roots
    };
    let status = |node: &Node, cert: &liaison_certs::IssuedCert| {
        CertClient::with_roots(
            roots(),
            node.api_tls_addr().expect("tls listener"),
            KZ,
            cert,
        )
        .request("GET", "/v1/status", None)
    };
    for cert in [&old_officer, &new_officer] {
        let answer = status(&node, cert).expect("TLS accepted");
        assert_eq!(answer.status, 200, "{}: {:?}", cert.subject, answer.body);
    }
    node.shutdown().await.expect("shutdown");
    // The node's own certificate re-issued (a start under both CAs, as the procedure has
    // it), then the old CA retired: the old CA's officer is refused in the handshake, the
    // new one's is served.
    r.reissue(KZ);
    start(r.config(KZ))
        .await
        .shutdown()
        .await
        .expect("shutdown");
    r.retire_old();
    let node = start(r.config(KZ)).await;
    assert!(
        status(&node, &old_officer).is_err(),
        "an officer of the retired CA"
    );
    assert_eq!(
        status(&node, &new_officer).expect("TLS accepted").status,
        200
    );
    node.shutdown().await.expect("shutdown");
}

/// The rollover's trust steps need no restart when a node trusts its network through one
/// bundle file: replaced in place (a rename), it is read again within seconds. KZ (a
/// certificate of the old CA) trusts the old CA only and refuses UZ and CARICC (certificates of
/// the new CA); its bundle replaced by one of both CAs, it takes them in. CARICC's bundle
/// replaced by one of the new CA alone, CARICC closes its connections with KZ. No restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_takes_in_a_new_ca_and_retires_the_old_by_reloading_its_bundle() {
    let mut c = Cluster::new(&["central-asia"]);
    for n in [KZ, UZ, CARICC] {
        c.add(n);
    }
    let old_ca = c.dir.path().join("pki").join("central-asia");
    let new_ca = c.dir.path().join("ca").join("central-asia-2");
    let now = OffsetDateTime::now_utc();
    liaison_certs::create_network(
        &"central-asia".parse().expect("network"),
        &new_ca,
        Validity::days_from(now, 3650).expect("validity"),
        now,
        liaison_certs::revocation::CRL_VALIDITY,
    )
    .expect("a second CA for central-asia");
    let issue = |cfg: &mut Config, node: &str| {
        let validity = Validity::days_from(OffsetDateTime::now_utc(), 365).expect("validity");
        let out = c.dir.path().join("new");
        let files = liaison_certs::issue_node_files(&new_ca, node, &out, validity)
            .expect("a certificate of the new CA");
        cfg.identity.cert = files.cert_path;
        cfg.identity.key = files.key_path;
    };
    // A bundle replaced in place as an operator would: written beside it, then renamed over it.
    let replace = |bundle: &Path, cas: &[&Path], name: &str| {
        let next = c.dir.path().join(name);
        liaison_certs::write_trust_bundle(cas, &next).expect("bundle");
        std::fs::rename(&next, bundle).expect("replace the bundle");
    };
    let kz_bundle = c.dir.path().join("kz-trust.bundle.pem");
    replace(&kz_bundle, &[&old_ca], "kz-old.bundle.pem");
    let caricc_bundle = c.dir.path().join("caricc-trust.bundle.pem");
    replace(
        &caricc_bundle,
        &[&old_ca, &new_ca],
        "caricc-both.bundle.pem",
    );
    let mut kz = c.config(KZ, &[UZ, CARICC]);
    kz.trust = vec![trust_bundle(kz_bundle.clone())];
    let mut uz = c.config(UZ, &[KZ]);
    issue(&mut uz, UZ);
    uz.trust.push(trust_files(&new_ca));
    let mut caricc = c.config(CARICC, &[KZ]);
    issue(&mut caricc, CARICC);
    caricc.trust = vec![trust_bundle(caricc_bundle.clone())];
    let (uz, caricc, kz) = (start(uz).await, start(caricc).await, start(kz).await);
    let up = |n: &Node, peer: &str| {
        n.status()
            .peers
            .iter()
            .any(|p| p.node.as_str() == peer && p.state.connected)
    };
    let refused_by_kz = |n: &Node| {
        n.status().peers.iter().any(|p| {
            p.node.as_str() == KZ
                && !p.state.connected
                && p.state
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("bad-certificate-chain"))
        })
    };
    liaison_tests::cluster::wait_for("KZ to refuse UZ's certificate", LONG, || refused_by_kz(&uz))
        .await;
    assert!(!up(&kz, CARICC), "KZ trusts the old CA only");

    replace(&kz_bundle, &[&old_ca, &new_ca], "kz-both.bundle.pem");
    liaison_tests::cluster::wait_for("KZ connected with UZ and CARICC", LONG, || {
        up(&kz, UZ) && up(&uz, KZ) && up(&kz, CARICC) && up(&caricc, KZ)
    })
    .await;
    let id = kz
        .send(&alert(UZ, "after the new CA was taken in".into()))
        .await
        .expect("send")
        .id;
    let store = uz.store().clone();
    liaison_tests::cluster::wait_for("the alert in UZ's inbox", LONG, || {
        store.state(&id).ok().flatten().is_some()
    })
    .await;

    replace(&caricc_bundle, &[&new_ca], "caricc-new.bundle.pem");
    liaison_tests::cluster::wait_for("CARICC to close its connections with KZ", LONG, || {
        !up(&caricc, KZ) && !up(&kz, CARICC)
    })
    .await;
    assert!(up(&kz, UZ), "KZ and UZ go on");
    let acts = |n: &Node| -> Vec<String> {
        let log = n.store();
        (0..log.log_size())
            .filter_map(|i| match log.log_entry(i).expect("log entry")?.event {
                Event::Admin { act, .. } if act.starts_with("trust-") => Some(act),
                _ => None,
            })
            .collect()
    };
    // One `trust-loaded` per CA at start, then the reload's.
    assert_eq!(acts(&kz), ["trust-loaded"; 2], "KZ took the new CA in");
    assert_eq!(
        acts(&caricc),
        ["trust-loaded", "trust-loaded", "trust-removed"],
        "CARICC retired the old CA"
    );
    for n in [kz, uz, caricc] {
        assert!(n.status().alarms.is_empty(), "{:?}", n.status().alarms);
        n.shutdown().await.expect("stop");
    }
}
