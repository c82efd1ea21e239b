//! A revocation takes effect across a network without restarting anything: the network CA's
//! new CRL is written at one node only; that node reads it from its changed file, hands it to
//! its peers, and they to theirs. Every node then closes its connections with the revoked
//! node and refuses its handshakes (`revoked-certificate`); a node restarted later keeps the
//! CRL it received. Real nodes, real QUIC over loopback, real certificates and data dirs.

use std::path::Path;
use std::time::{Duration, Instant};

use liaison_node::config::{Config, TrustConfig};
use liaison_node::node::Node;
use liaison_protocol::log::Event;
use liaison_tests::cluster::{alert, start, wait_for, wait_keys, Cluster};

/// Where the revocation is written: the CA's own centre.
const A: &str = "caricc.central-asia";
/// One hop from A.
const B: &str = "kz-dcu.central-asia";
/// Two hops from A: peers with B and X only.
const C: &str = "uz-ncb.central-asia";
/// The node whose certificate is revoked.
const X: &str = "tj-dcu.central-asia";
/// The bound for a network-wide revocation.
const NETWORK_WIDE: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(30);

/// `cfg` reading its own copy of the network's CA and CRL files, in its node dir, so that a
/// new CRL written for one node reaches the others only over the network.
fn own_trust_files(c: &Cluster, mut cfg: Config) -> Config {
    let dir = c.node_dir(cfg.node_id.as_str()).join("trust");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let shared = c.dir.path().join("pki").join("central-asia");
    for f in ["ca.crt", "crl.pem"] {
        std::fs::copy(shared.join(f), dir.join(f)).expect("copy trust file");
    }
    cfg.trust = vec![TrustConfig {
        ca: Some(dir.join("ca.crt")),
        crl: Some(dir.join("crl.pem")),
        bundle: None,
    }];
    cfg
}

/// The `admin` entries of a running node's log: (act, detail).
fn admin_acts(node: &Node) -> Vec<(String, String)> {
    let store = node.store();
    (0..store.log_size())
        .filter_map(|i| store.log_entry(i).ok().flatten())
        .filter_map(|e| match e.event {
            Event::Admin { act, detail } => Some((act, detail)),
            _ => None,
        })
        .collect()
}

/// Whether `node`'s session with `peer` is down with `revoked-certificate` as its reason.
fn refused_as_revoked(node: &Node, peer: &str) -> bool {
    node.status()
        .peers
        .iter()
        .find(|p| p.node.as_str() == peer)
        .is_some_and(|p| {
            !p.state.connected
                && p.state
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("revoked-certificate"))
        })
}

fn connected(node: &Node, peer: &str) -> bool {
    node.status()
        .peers
        .iter()
        .any(|p| p.node.as_str() == peer && p.state.connected)
}

/// The texts of the messages in `node`'s inbox, opened as its officers read them.
fn inbox_texts(node: &Node) -> Vec<String> {
    node.store()
        .inbox(0, usize::MAX)
        .expect("inbox")
        .into_iter()
        .filter_map(|i| node.store().envelope(&i.state.facts.id).ok().flatten())
        .filter_map(|env| liaison_protocol::Body::decode(&env.signed.body).ok())
        .map(|body| liaison_node::sealing::open_body(node.ctx().keys(), body).0)
        .filter_map(|body| body.kind.payload().map(|p| p.text.clone()))
        .collect()
}

fn kept_crls(data: &Path) -> usize {
    std::fs::read_dir(data.join("crls")).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_written_at_one_node_is_applied_network_wide_without_restarts() {
    let mut c = Cluster::new(&["central-asia"]);
    for n in [A, B, C, X] {
        c.add(n);
    }
    // A reads the network's shared files; the others their own copies of them.
    let a = start(c.config(A, &[B])).await;
    let b = start(own_trust_files(&c, c.config(B, &[A, C, X]))).await;
    let c_cfg = own_trust_files(&c, c.config(C, &[B, X]));
    let c_data = c_cfg.data_dir.clone();
    let cn = start(c_cfg.clone()).await;
    let x = start(own_trust_files(&c, c.config(X, &[B, C]))).await;
    wait_keys(&x, &[C]).await;
    x.send(&alert(C, "before the revocation"))
        .await
        .expect("send");
    wait_for("X's first alert at C", WAIT, || {
        inbox_texts(&cn)
            .iter()
            .any(|t| t == "before the revocation")
    })
    .await;
    for (node, peer) in [(&x, B), (&x, C), (&b, X), (&cn, X)] {
        wait_for("sessions with X up", WAIT, || connected(node, peer)).await;
    }

    // The network CA revokes X; the new CRL is written where A reads it, and nowhere else.
    let x_cert = liaison_certs::load::read_cert(&c.node_dir(X).join("node.crt")).expect("X's cert");
    let net = c.pki.networks.get_mut("central-asia").expect("network");
    let (crl, revoked) = liaison_certs::revocation::revoke_in_crl(
        &net.ca,
        &net.crl_der,
        &x_cert,
        Path::new("node.crt"),
        liaison_certs::Reason::KeyCompromise,
        time::OffsetDateTime::now_utc(),
        time::Duration::days(30),
    )
    .expect("revoke X");
    net.crl_der = crl.der;
    let written = Instant::now();
    c.write_trust();

    // Within the bound, without a restart: B (one hop) and C (two hops) close their sessions
    // with X, and X's handshakes are refused as revoked.
    for (node, peer) in [(&b, X), (&cn, X), (&x, B), (&x, C)] {
        wait_for(
            &format!("{peer}'s session refused as revoked"),
            NETWORK_WIDE.saturating_sub(written.elapsed()),
            || refused_as_revoked(node, peer),
        )
        .await;
    }
    let took = written.elapsed();
    println!("revocation applied network-wide in {took:?}");
    assert!(took < NETWORK_WIDE, "{took:?}");

    // Each node's log says which list is in force, from where, and what it revokes.
    let revokes = format!("revokes serial {revoked}");
    let applied = |node: &Node, from: &str| {
        admin_acts(node)
            .iter()
            .any(|(act, d)| act == "crl-applied" && d.contains(from) && d.contains(&revokes))
    };
    assert!(
        applied(&a, "the trust files changed"),
        "{:?}",
        admin_acts(&a)
    );
    assert!(
        applied(&b, &format!("received from {A}")),
        "{:?}",
        admin_acts(&b)
    );
    assert!(applied(&cn, "received from "), "{:?}", admin_acts(&cn));
    assert_eq!(kept_crls(&c_data), 1, "C keeps the list it received");

    // What X sends now goes nowhere: every peer refuses it.
    x.send(&alert(C, "after the revocation"))
        .await
        .expect("queued at X");
    // The rest of the network goes on: B still reaches C.
    wait_keys(&b, &[C]).await;
    b.send(&alert(C, "from B")).await.expect("send");
    wait_for("B's alert at C", WAIT, || {
        inbox_texts(&cn).iter().any(|t| t == "from B")
    })
    .await;
    assert!(
        refused_as_revoked(&x, C),
        "X is still refused: {:?}",
        x.status().peers
    );
    assert!(!inbox_texts(&cn).iter().any(|t| t == "after the revocation"));
    let waiting = x.store().outbox_depths();
    assert!(
        waiting
            .get(&C.parse().expect("node id"))
            .copied()
            .unwrap_or(0)
            >= 1,
        "X's alert waits at X, not receipted: {waiting:?}"
    );

    // C restarted with its old files still refuses X: the received list is kept.
    cn.shutdown().await.expect("stop C");
    let cn = start(c_cfg).await;
    assert!(
        admin_acts(&cn)
            .iter()
            .any(|(act, d)| act == "crl-applied" && d.contains("kept in") && d.contains(&revokes)),
        "{:?}",
        admin_acts(&cn)
    );
    wait_for("X refused by the restarted C", WAIT, || {
        refused_as_revoked(&x, C)
    })
    .await;
    assert!(!inbox_texts(&cn).iter().any(|t| t == "after the revocation"));
    for n in [x, cn, b, a] {
        n.shutdown().await.expect("stop");
    }
}

/// An officer whose certificate is revoked while their HTTPS connection to the API is open is
/// refused at their next request on it, and their next handshake is refused, without a
/// restart of the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_officer_is_refused_on_the_connection_already_open() {
    use liaison_certs::Role;
    use liaison_tests::api::{officer, CertClient};
    let mut c = Cluster::new(&["central-asia"]);
    c.add(A);
    let mut cfg = c.config(A, &[]);
    cfg.api.tls_listen = Some("127.0.0.1:0".parse().expect("addr"));
    let a = start(cfg).await;
    let cert = officer(&c.pki, A, "a.karimova", Role::Officer);
    let client = CertClient::new(&c.pki, a.api_tls_addr().expect("HTTPS listener"), A, &cert);
    let mut open = tokio::task::block_in_place(|| client.open()).expect("a connection");
    let first = tokio::task::block_in_place(|| open.get("/v1/status")).expect("an answer");
    assert_eq!(first.status, 200, "{first:?}");

    c.pki
        .revoke("central-asia", &cert, time::OffsetDateTime::now_utc());
    c.write_trust();
    wait_for("A to put the new CRL in force", WAIT, || {
        admin_acts(&a)
            .iter()
            .any(|(act, d)| act == "crl-applied" && d.contains(&cert.serial))
    })
    .await;

    let again = tokio::task::block_in_place(|| open.get("/v1/status")).expect("an answer");
    assert_eq!(again.status, 401, "{again:?}");
    assert!(
        again.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("revoked-certificate")),
        "{again:?}"
    );
    assert!(
        tokio::task::block_in_place(|| client.request("GET", "/v1/status", None)).is_err(),
        "a new handshake with the revoked certificate"
    );
    a.shutdown().await.expect("stop");
}
