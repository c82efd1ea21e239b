//! Promise 2, only known parties connect: real QUIC on 127.0.0.1 with real certificates.
//! Two validly certified peers handshake and exchange bytes; every other party is refused
//! at the handshake (or by the identity check right after it), and both sides see the
//! reason code: the side that refused as [`RefusedBy::Us`], the other as
//! [`RefusedBy::Peer`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use liaison_certs::tls::{self, TlsIdentity, TlsTrust};
use liaison_certs::{IssuedCert, Role, Validity};
use liaison_node::endpoint::{
    accept, bind_identities, bind_with, connect, EndpointError, RefusedBy, RestartKeys,
};
use liaison_protocol::NodeId;
use liaison_tests::TestPki;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::rustls;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use tokio::task::JoinHandle;

/// Every test must finish well within this, or it fails instead of hanging CI.
const LIMIT: Duration = Duration::from_secs(20);

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("test timed out")
}

fn n(s: &str) -> NodeId {
    s.parse().expect("node id")
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

fn tls_trust(pki: &TestPki, networks: &[&str]) -> TlsTrust {
    let pairs: Vec<(&[u8], &[u8])> = networks
        .iter()
        .map(|net| {
            let net = &pki.networks[*net];
            (net.ca.cert_der(), net.crl_der.as_slice())
        })
        .collect();
    TlsTrust::new(&pairs).expect("trust")
}

fn identity(cert: &IssuedCert) -> TlsIdentity {
    TlsIdentity::from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes()).expect("identity")
}

fn key(cert: &IssuedCert) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("key")
}

/// A node's endpoint, bound to a free loopback port.
struct Node {
    id: NodeId,
    ep: quinn::Endpoint,
    trust: TlsTrust,
}

impl Node {
    /// As [`Node::new`], with the endpoint's driver on `rt`.
    fn new_in(cert: &IssuedCert, trust: TlsTrust, rt: &tokio::runtime::Runtime) -> Self {
        let _guard = rt.enter();
        Self::new(cert, trust)
    }

    fn new(cert: &IssuedCert, trust: TlsTrust) -> Self {
        let identity = identity(cert);
        let ep = bind_with(any_port(), &identity, &trust).expect("bind");
        Self {
            id: identity.node().clone(),
            ep,
            trust,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.ep.local_addr().expect("local address")
    }

    /// Accepts the next incoming connection, allowing only `allowed`.
    fn serve_one(
        &self,
        allowed: Vec<NodeId>,
    ) -> JoinHandle<Result<(quinn::Connection, NodeId), EndpointError>> {
        let ep = self.ep.clone();
        let trust = self.trust.clone();
        tokio::spawn(async move {
            let incoming = ep.accept().await.expect("endpoint open");
            accept(incoming, &trust.trust_store(), |id| allowed.contains(id)).await
        })
    }

    /// The client's side of an attempt that must be refused: what `connect` returns, or,
    /// when the server refused after our side of the handshake was complete, how the
    /// connection then ended.
    async fn dial_refused(&self, peer: &NodeId, addr: SocketAddr) -> EndpointError {
        match connect(&self.ep, &self.trust.trust_store(), peer, addr).await {
            Err(e) => e,
            Ok(conn) => EndpointError::from(conn.closed().await),
        }
    }

    /// The client's side of an attempt the server refuses *during* the handshake: `connect`
    /// itself must report it, never hand over a connection that closes just after. In TLS 1.3
    /// the client's side ends before the server checks the client's certificate; a node that
    /// took that moment as "session up" showed a refused peer as connected (CI caught a
    /// stranger's status saying so).
    async fn dial_refused_in_handshake(&self, peer: &NodeId, addr: SocketAddr) -> EndpointError {
        match connect(&self.ep, &self.trust.trust_store(), peer, addr).await {
            Err(e) => e,
            Ok(conn) => panic!(
                "{} was handed a connection the server refused: {:?}",
                self.id,
                conn.closed().await
            ),
        }
    }
}

/// The server's result of an attempt that must be refused.
async fn server_refusal(
    accepted: JoinHandle<Result<(quinn::Connection, NodeId), EndpointError>>,
) -> EndpointError {
    match accepted.await.expect("server task") {
        Err(e) => e,
        Ok((_, peer)) => panic!("server accepted {peer}"),
    }
}

#[track_caller]
fn assert_refused(err: &EndpointError, by: RefusedBy, code: &str) {
    assert_eq!(
        (err.refused_by(), err.reason_code()),
        (Some(by), code),
        "{err}"
    );
}

/// A bare QUIC client with a hand-built TLS configuration (one our code never builds);
/// returns how its connection attempt ended.
async fn raw_client_refused(tls: rustls::ClientConfig, server: &Node) -> EndpointError {
    let ep = quinn::Endpoint::client(any_port()).expect("client endpoint");
    let config = quinn::ClientConfig::new(Arc::new(
        QuicClientConfig::try_from(tls).expect("quic client config"),
    ));
    let connecting = ep
        .connect_with(config, server.addr(), server.id.as_str())
        .expect("connect");
    match connecting.await {
        Err(e) => e.into(),
        Ok(conn) => conn.closed().await.into(),
    }
}

fn roots(pki: &TestPki, network: &str) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.ca(network).cert_der().to_vec()))
        .expect("root");
    roots
}

fn raw_client_builder() -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier> {
    rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
}

fn officer(pki: &TestPki, node: &str) -> IssuedCert {
    let (centre, network) = node.split_once('.').expect("centre.network");
    pki.ca(network)
        .issue_officer(
            &centre.parse().expect("centre"),
            &"a.karimova".parse().expect("officer name"),
            Role::Officer,
            liaison_certs::OfficerKey::Ed25519,
            Validity::days_from(OffsetDateTime::now_utc(), 30).expect("validity"),
        )
        .expect("officer certificate")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_handshake_and_exchange_bytes() {
    within(async {
        let pki = TestPki::new(&["central-asia", "gulf"]);
        let both = ["central-asia", "gulf"];
        let kz = Node::new(&pki.node("kz-dcu.central-asia"), tls_trust(&pki, &both));
        let om = Node::new(&pki.node("om-dcu.gulf"), tls_trust(&pki, &both));

        let accepted = om.serve_one(vec![kz.id.clone()]);
        let conn = connect(&kz.ep, &kz.trust.trust_store(), &om.id, om.addr())
            .await
            .expect("connect");
        let (om_conn, peer) = accepted.await.expect("server task").expect("accept");
        assert_eq!(peer, kz.id);

        // kz-dcu opens a stream: a request one way, an answer the other.
        let (mut send, mut recv) = conn.open_bi().await.expect("open");
        send.write_all(b"ping from kz-dcu").await.expect("write");
        send.finish().expect("finish");
        let (mut om_send, mut om_recv) = om_conn.accept_bi().await.expect("accept stream");
        assert_eq!(
            om_recv.read_to_end(1024).await.expect("read"),
            b"ping from kz-dcu"
        );
        om_send.write_all(b"pong from om-dcu").await.expect("write");
        om_send.finish().expect("finish");
        assert_eq!(
            recv.read_to_end(1024).await.expect("read"),
            b"pong from om-dcu"
        );

        // And om-dcu can open one towards kz-dcu on the same connection.
        let (mut om_send, mut om_recv) = om_conn.open_bi().await.expect("open");
        om_send.write_all(b"alert").await.expect("write");
        om_send.finish().expect("finish");
        let (mut send, mut recv) = conn.accept_bi().await.expect("accept stream");
        assert_eq!(recv.read_to_end(1024).await.expect("read"), b"alert");
        send.write_all(b"receipt").await.expect("write");
        send.finish().expect("finish");
        assert_eq!(om_recv.read_to_end(1024).await.expect("read"), b"receipt");

        conn.close(0u32.into(), b"done");
        match om_conn.closed().await {
            quinn::ConnectionError::ApplicationClosed(c) => assert_eq!(&c.reason[..], b"done"),
            other => panic!("{other}"),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_unknown_ca() {
    within(async {
        let pki = TestPki::new(&["central-asia", "gulf"]);
        let server = Node::new(
            &pki.node("caricc.central-asia"),
            tls_trust(&pki, &["central-asia"]),
        );

        // A real CA, but of a network the server does not trust.
        let om = Node::new(
            &pki.node("om-dcu.gulf"),
            tls_trust(&pki, &["central-asia", "gulf"]),
        );
        let accepted = server.serve_one(vec![om.id.clone()]);
        let client = om
            .dial_refused_in_handshake(&server.id, server.addr())
            .await;
        assert_refused(&server_refusal(accepted).await, RefusedBy::Us, "unknown-ca");
        assert_refused(&client, RefusedBy::Peer, "unknown-ca");

        // An impostor CA that calls itself `central-asia` (same name, another key). Its
        // certificates name a trusted issuer whose signature does not verify: the
        // protocol's `bad-certificate-chain`, as `TrustStore` reports it for signed messages.
        let impostor = TestPki::new(&["central-asia"]);
        let fake = Node::new(
            &impostor.node("kz-dcu.central-asia"),
            tls_trust(&pki, &["central-asia"]),
        );
        let accepted = server.serve_one(vec![fake.id.clone()]);
        let client = fake
            .dial_refused_in_handshake(&server.id, server.addr())
            .await;
        let chain = "bad-certificate-chain";
        assert_refused(&server_refusal(accepted).await, RefusedBy::Us, chain);
        assert_refused(&client, RefusedBy::Peer, chain);

        // The same seen from the client: a server certified by the impostor.
        let fake_server = Node::new(
            &impostor.node("tj-dca.central-asia"),
            tls_trust(&pki, &["central-asia"]),
        );
        let kz = Node::new(
            &pki.node("kz-dcu.central-asia"),
            tls_trust(&pki, &["central-asia"]),
        );
        let accepted = fake_server.serve_one(vec![kz.id.clone()]);
        let client = kz.dial_refused(&fake_server.id, fake_server.addr()).await;
        assert_refused(&client, RefusedBy::Us, chain);
        assert_refused(&server_refusal(accepted).await, RefusedBy::Peer, chain);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_revoked_certificate() {
    within(async {
        let mut pki = TestPki::new(&["central-asia"]);
        let server_cert = pki.node("caricc.central-asia");
        let revoked = pki.node("kz-dcu.central-asia");
        pki.revoke(
            "central-asia",
            &revoked,
            OffsetDateTime::now_utc() - time::Duration::minutes(1),
        );
        let trust = tls_trust(&pki, &["central-asia"]);
        let server = Node::new(&server_cert, trust.clone());
        let client = Node::new(&revoked, trust);

        let accepted = server.serve_one(vec![client.id.clone()]);
        let refused = client
            .dial_refused_in_handshake(&server.id, server.addr())
            .await;
        assert_refused(
            &server_refusal(accepted).await,
            RefusedBy::Us,
            "revoked-certificate",
        );
        assert_refused(&refused, RefusedBy::Peer, "revoked-certificate");

        // Roles swapped: the client refuses a revoked server.
        let accepted = client.serve_one(vec![server.id.clone()]);
        let refused = server.dial_refused(&client.id, client.addr()).await;
        assert_refused(&refused, RefusedBy::Us, "revoked-certificate");
        assert_refused(
            &server_refusal(accepted).await,
            RefusedBy::Peer,
            "revoked-certificate",
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_expired_certificate() {
    within(async {
        let pki = TestPki::new(&["central-asia"]);
        let now = OffsetDateTime::now_utc();
        let expired = pki.node_valid(
            "kz-dcu.central-asia",
            Validity::new(
                now - time::Duration::days(400),
                now - time::Duration::days(30),
            )
            .expect("validity"),
        );
        let trust = tls_trust(&pki, &["central-asia"]);
        let server = Node::new(&pki.node("caricc.central-asia"), trust.clone());
        let client = Node::new(&expired, trust);

        let accepted = server.serve_one(vec![client.id.clone()]);
        let refused = client
            .dial_refused_in_handshake(&server.id, server.addr())
            .await;
        assert_refused(
            &server_refusal(accepted).await,
            RefusedBy::Us,
            "certificate-expired",
        );
        assert_refused(&refused, RefusedBy::Peer, "certificate-expired");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_certificate_naming_another_node() {
    within(async {
        let pki = TestPki::new(&["central-asia"]);
        let trust = tls_trust(&pki, &["central-asia"]);
        let caricc = Node::new(&pki.node("caricc.central-asia"), trust.clone());
        let kz = Node::new(&pki.node("kz-dcu.central-asia"), trust);

        // kz-dcu dials tj-dca, but the node at that address is caricc.
        let accepted = caricc.serve_one(vec![kz.id.clone()]);
        let refused = kz
            .dial_refused(&n("tj-dca.central-asia"), caricc.addr())
            .await;
        assert_refused(&refused, RefusedBy::Us, "unexpected-peer");
        assert_refused(
            &server_refusal(accepted).await,
            RefusedBy::Peer,
            "unexpected-peer",
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_validly_certified_peer_not_configured() {
    within(async {
        let pki = TestPki::new(&["central-asia"]);
        let trust = tls_trust(&pki, &["central-asia"]);
        let caricc = Node::new(&pki.node("caricc.central-asia"), trust.clone());
        let stranger = Node::new(&pki.node("tj-dca.central-asia"), trust);

        let accepted = caricc.serve_one(vec![n("kz-dcu.central-asia")]);
        let refused = stranger.dial_refused(&caricc.id, caricc.addr()).await;
        let err = server_refusal(accepted).await;
        assert_refused(&err, RefusedBy::Us, "unexpected-peer");
        assert!(err.to_string().contains("tj-dca.central-asia"), "{err}");
        assert_refused(&refused, RefusedBy::Peer, "unexpected-peer");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_missing_client_cert() {
    within(async {
        let pki = TestPki::new(&["central-asia"]);
        let server = Node::new(
            &pki.node("caricc.central-asia"),
            tls_trust(&pki, &["central-asia"]),
        );
        let mut anonymous = raw_client_builder()
            .with_root_certificates(roots(&pki, "central-asia"))
            .with_no_client_auth();
        anonymous.alpn_protocols = vec![tls::ALPN.to_vec()];

        let accepted = server.serve_one(vec![]);
        let refused = raw_client_refused(anonymous, &server).await;
        assert_refused(
            &server_refusal(accepted).await,
            RefusedBy::Us,
            "certificate-required",
        );
        assert_refused(&refused, RefusedBy::Peer, "certificate-required");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_wrong_alpn() {
    within(async {
        let pki = TestPki::new(&["central-asia"]);
        let trust = tls_trust(&pki, &["central-asia"]);
        let server = Node::new(&pki.node("caricc.central-asia"), trust.clone());
        let kz = identity(&pki.node("kz-dcu.central-asia"));
        let mut h3 = tls::client_config(&kz, &trust).expect("client config");
        h3.alpn_protocols = vec![b"h3".to_vec()];

        let accepted = server.serve_one(vec![kz.node().clone()]);
        let refused = raw_client_refused(h3, &server).await;
        assert_refused(
            &server_refusal(accepted).await,
            RefusedBy::Us,
            "no-application-protocol",
        );
        assert_refused(&refused, RefusedBy::Peer, "no-application-protocol");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_officer_certificate() {
    within(async {
        let pki = TestPki::new(&["central-asia"]);
        let trust = tls_trust(&pki, &["central-asia"]);
        let officer = officer(&pki, "kz-dcu.central-asia");

        // Our identity type will not even hold an officer certificate.
        let err = TlsIdentity::from_pem(officer.cert_pem.as_bytes(), officer.key_pem.as_bytes())
            .expect_err("officer certificate as node identity");
        assert_eq!(err.reason_code(), "not-node-certificate");

        // An officer certificate presented by a client.
        let server = Node::new(&pki.node("caricc.central-asia"), trust.clone());
        let mut as_client = raw_client_builder()
            .with_root_certificates(roots(&pki, "central-asia"))
            .with_client_auth_cert(
                vec![CertificateDer::from(officer.cert_der.clone())],
                key(&officer),
            )
            .expect("officer client config");
        as_client.alpn_protocols = vec![tls::ALPN.to_vec()];
        let accepted = server.serve_one(vec![n("kz-dcu.central-asia")]);
        let refused = raw_client_refused(as_client, &server).await;
        assert_refused(
            &server_refusal(accepted).await,
            RefusedBy::Us,
            "not-node-certificate",
        );
        assert_refused(&refused, RefusedBy::Peer, "not-node-certificate");

        // An officer certificate presented by a server.
        let mut as_server = rustls::ServerConfig::builder_with_provider(tls::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("TLS 1.3")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(officer.cert_der.clone())],
                key(&officer),
            )
            .expect("officer server config");
        as_server.alpn_protocols = vec![tls::ALPN.to_vec()];
        let officer_ep = quinn::Endpoint::server(
            quinn::ServerConfig::with_crypto(Arc::new(
                QuicServerConfig::try_from(as_server).expect("quic server config"),
            )),
            any_port(),
        )
        .expect("officer endpoint");
        let officer_addr = officer_ep.local_addr().expect("address");
        let officer_side = tokio::spawn(async move {
            let incoming = officer_ep.accept().await.expect("endpoint open");
            EndpointError::from(incoming.await.expect_err("handshake completed"))
        });
        let caricc = Node::new(&pki.node("caricc.central-asia"), trust);
        let refused = caricc
            .dial_refused(&n("kz-dcu.central-asia"), officer_addr)
            .await;
        assert_refused(&refused, RefusedBy::Us, "not-node-certificate");
        assert_refused(
            &officer_side.await.expect("officer task"),
            RefusedBy::Peer,
            "not-node-certificate",
        );
    })
    .await
}

/// The first warning in `logs` with `message` about `peer_addr`.
fn warning<'a>(logs: &'a str, message: &str, peer_addr: SocketAddr) -> &'a str {
    let addr = format!("peer_addr={peer_addr}");
    logs.lines()
        .find(|l| l.contains("WARN") && l.contains(message) && l.contains(&addr))
        .unwrap_or_else(|| panic!("no warning {message:?} about {addr}:\n{logs}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_is_logged_with_reason_code_and_peer_address() {
    within(async {
        let logs = liaison_tests::logs::captured();
        let pki = TestPki::new(&["central-asia"]);
        let trust = tls_trust(&pki, &["central-asia"]);
        let caricc = Node::new(&pki.node("caricc.central-asia"), trust.clone());
        let kz = Node::new(&pki.node("kz-dcu.central-asia"), trust);

        // The server refuses after the handshake: kz-dcu is not a configured peer.
        let accepted = caricc.serve_one(vec![]);
        let refused = kz.dial_refused(&caricc.id, caricc.addr()).await;
        assert_refused(&refused, RefusedBy::Peer, "unexpected-peer");
        assert_refused(
            &server_refusal(accepted).await,
            RefusedBy::Us,
            "unexpected-peer",
        );

        // The client refuses in the handshake: the server is not the node it dialled.
        let accepted = caricc.serve_one(vec![kz.id.clone()]);
        let refused = kz
            .dial_refused(&n("tj-dca.central-asia"), caricc.addr())
            .await;
        assert_refused(&refused, RefusedBy::Us, "unexpected-peer");
        assert_refused(
            &server_refusal(accepted).await,
            RefusedBy::Peer,
            "unexpected-peer",
        );

        let logs = logs.text();
        let reason = "reason=\"unexpected-peer\"";
        for line in [
            warning(&logs, "refused a peer", kz.addr()),
            warning(&logs, "refused a peer", caricc.addr()),
            warning(&logs, "refused by a peer", kz.addr()),
        ] {
            assert!(line.contains(reason), "{line}");
        }
        assert!(warning(&logs, "refused a peer", caricc.addr()).contains("tj-dca.central-asia"));
    })
    .await
}

/// A node that crashed (its runtime gone, so no CONNECTION_CLOSE was sent) and came back on
/// the same address with the same data dir answers its peer's old connection with a QUIC
/// stateless reset the peer recognises, because its reset key is derived from the data dir's
/// secret ([`RestartKeys`]): the peer's connection ends as `Reset` at its next packet, not by
/// the 30 s idle timeout (which would trip this test's 20 s limit).
#[test]
fn a_restarted_node_resets_its_peers_old_connection() {
    let pki = TestPki::new(&["central-asia"]);
    let trust = tls_trust(&pki, &["central-asia"]);
    let caricc = identity(&pki.node("caricc.central-asia"));
    let a_rt = runtime();
    let kz = Node::new_in(&pki.node("kz-dcu.central-asia"), trust.clone(), &a_rt);
    let secret = [42u8; 32];
    // Binds CARICC's endpoint; the first life's socket may take a moment to be released.
    let bind_b = |addr: SocketAddr| {
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            match bind_identities(
                addr,
                std::slice::from_ref(&caricc),
                &trust,
                Some(RestartKeys::from_secret(&secret)),
            ) {
                Ok((ep, _)) => return ep,
                Err(EndpointError::Bind { source, .. })
                    if source.kind() == std::io::ErrorKind::AddrInUse
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("bind: {e}"),
            }
        }
    };
    // CARICC's first life: it accepts kz-dcu's connection.
    let b_rt = runtime();
    let (b_ep, accepted) = b_rt.block_on(async {
        let ep = bind_b(any_port());
        let server = ep.clone();
        let trust = trust.clone();
        let accepted = tokio::spawn(async move {
            let incoming = server.accept().await.expect("endpoint open");
            accept(incoming, &trust.trust_store(), |_| true).await
        });
        (ep, accepted)
    });
    let addr = b_ep.local_addr().expect("address");
    let conn = a_rt.block_on(within(async {
        connect(
            &kz.ep,
            &kz.trust.trust_store(),
            &n("caricc.central-asia"),
            addr,
        )
        .await
        .expect("connect")
    }));
    let (b_conn, _) = b_rt
        .block_on(within(accepted))
        .expect("server task")
        .expect("accept");
    // The crash: CARICC's runtime stops without closing anything. Dropping the runtime returns
    // only once its worker thread has stopped, so no task is left to send a CONNECTION_CLOSE
    // when the handles drop next (stopping it in the background raced with that drop: the
    // closing handle could wake a driver that was still being polled); dropping the handles
    // frees the socket for the second life.
    drop(b_rt);
    drop((b_conn, b_ep));
    // CARICC's second life on the same address and data dir (same secret).
    let b2_rt = runtime();
    let _b2 = b2_rt.block_on(async { bind_b(addr) });
    a_rt.block_on(within(async {
        if let Ok((mut send, _)) = conn.open_bi().await {
            let _ = send.write_all(b"after the crash").await;
        }
        match conn.closed().await {
            quinn::ConnectionError::Reset => {}
            other => panic!("the old connection ended by {other}, not by a stateless reset"),
        }
    }));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}
