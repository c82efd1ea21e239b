//! The node's QUIC endpoint: one UDP socket that both accepts peers and dials them, with
//! Liaison's TLS policy ([`liaison_certs::tls`]: TLS 1.3, ALPN `liaison/1`, mutual
//! certificates checked against the network CAs and their CRLs) and transport settings, and
//! the peer-identity check every connection passes before it is used.
//!
//! A plain module over [`quinn::Endpoint`], no global state. Calling shape:
//!
//! 1. **Open**: `let tls = TlsTrust::from_trust_store(&trust)?;` then
//!    `let ep = bind(&cfg, &tls, keys)?;` (or [`bind_with`] for an identity and trust already
//!    in memory). The endpoint serves and dials with the same certificate.
//! 2. **Dial**: [`connect`]`(&ep, trust, &peer, addr)` completes the handshake with the server
//!    name set to `peer` (so the server's certificate must name it), then maps the server's
//!    certificate to a node id with [`peer_node_id`] and checks it is `peer`.
//! 3. **Serve**: for each `ep.accept().await` (the caller's accept loop owns concurrency
//!    limits and cancellation), [`accept`]`(incoming, trust, |id| is_peer(id))` completes the
//!    handshake, maps the client's certificate to a node id and checks it is a configured
//!    peer; it returns `(connection, node id)`.
//! 4. **Stop**: `ep.close(..)` then `ep.wait_idle().await`.
//!
//! Errors: a refusal — by the TLS handshake on either side, or by the identity check after
//! it — is [`EndpointError::Refused`], naming who refused ([`RefusedBy`]) and why
//! ([`TlsError`], with its reason code), and is logged with `tracing::warn!` (reason code,
//! peer address) on both sides. The TLS alert carries the reason across the wire during the
//! handshake; after it, a refusing side closes the connection with application error code
//! [`code::UNEXPECTED_PEER`] and the reason code as the
//! reason phrase. [`EndpointError::from`] a [`quinn::ConnectionError`] recovers the refusal
//! from either.
//!
//! One ordering to know: in TLS 1.3 the client finishes its side of the handshake before
//! the server has checked the client's certificate. [`connect`] therefore returns only once
//! the server has confirmed the handshake, so a server that refuses *our certificate* during
//! the handshake is reported by [`connect`] itself. A server's refusal after the handshake
//! (its identity check: not a configured peer, not the expected node) can still arrive just
//! after [`connect`] returned; it then surfaces as `EndpointError::from(conn.closed().await)`
//! (or from the error of the first stream operation), with the same reason codes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use liaison_certs::tls::{self, peer_node_id, TlsError, TlsIdentity, TlsTrust, ALPN};
use liaison_protocol::{NodeId, TrustStore};
use quinn::crypto::rustls::{HandshakeData, QuicClientConfig, QuicServerConfig};
use quinn::rustls::pki_types::CertificateDer;
use quinn::{ConnectionError, VarInt};
use thiserror::Error;

use crate::config::Config;
use crate::wire::code;

/// How often a connection with nothing else to send probes its peer (a QUIC PING, which the
/// peer acknowledges), a third of [`IDLE_TIMEOUT`]: a live peer is heard from several times
/// within every idle period, even when a probe or its acknowledgement is lost.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_millis(500);
/// A connection (or handshake) from which nothing has been heard for this long is closed, so
/// a peer that stops answering without restarting — a hung host, a cut link — is shown as
/// disconnected and redialled within it. QUIC stretches it to three probe timeouts on a slow
/// path (RFC 9000 §10.1), so a long round trip does not end a live connection.
pub const IDLE_TIMEOUT: Duration = Duration::from_millis(IDLE_TIMEOUT_MS as u64);
const IDLE_TIMEOUT_MS: u32 = 1_500;
/// Most bidirectional streams a peer may have open at once (a session uses one).
pub const MAX_BIDI_STREAMS: u32 = 64;
/// Unidirectional streams a peer may open: none, Liaison uses bidirectional streams only.
pub const MAX_UNI_STREAMS: u32 = 0;

/// Which side of a connection refused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusedBy {
    /// This node refused the peer.
    Us,
    /// The peer refused this node.
    Peer,
}

impl std::fmt::Display for RefusedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RefusedBy::Us => "this node",
            RefusedBy::Peer => "the peer",
        })
    }
}

/// Opening the endpoint, or a connection through it, failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// Our identity, trust or TLS configuration could not be loaded or built.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The UDP socket could not be bound.
    #[error("cannot bind the QUIC endpoint to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why not.
        source: std::io::Error,
    },
    /// A connection could not be started (endpoint closing, unusable address).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The peer address.
        addr: SocketAddr,
        /// Why not.
        source: quinn::ConnectError,
    },
    /// The TLS handshake or the peer-identity check refused the connection.
    #[error("{by} refused the connection: {reason}")]
    Refused {
        /// Who refused.
        by: RefusedBy,
        /// Why.
        reason: TlsError,
    },
    /// The connection failed for a reason that is not a refusal (timeout, reset, closed).
    #[error("connection failed: {0}")]
    Connection(ConnectionError),
}

impl EndpointError {
    /// Stable reason code; refusals carry the TLS layer's codes.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Tls(e) => e.reason_code(),
            Self::Bind { .. } => "bind-failed",
            Self::Connect { .. } => "connect-failed",
            Self::Refused { reason, .. } => reason.reason_code(),
            Self::Connection(e) => match e {
                ConnectionError::TimedOut => "timed-out",
                ConnectionError::Reset => "connection-reset",
                ConnectionError::LocallyClosed
                | ConnectionError::ApplicationClosed(_)
                | ConnectionError::ConnectionClosed(_) => "connection-closed",
                _ => "transport-error",
            },
        }
    }

    /// Who refused the connection, if it was a refusal.
    pub fn refused_by(&self) -> Option<RefusedBy> {
        match self {
            Self::Refused { by, .. } => Some(*by),
            _ => None,
        }
    }
}

/// Every reason code [`EndpointError`] adds to the TLS layer's ([`tls::REASON_CODES`]).
pub const REASON_CODES: &[&str] = &[
    "bind-failed",
    "connect-failed",
    "timed-out",
    "connection-reset",
    "connection-closed",
    "transport-error",
];

/// The TLS alert a QUIC transport error code carries (codes `0x100..=0x1ff`, RFC 9001 §4.8).
fn tls_alert(code: quinn::TransportErrorCode) -> Option<u8> {
    let code = u64::from(code);
    (0x100..=0x1ff)
        .contains(&code)
        .then(|| u8::try_from(code & 0xff).unwrap_or(u8::MAX))
}

impl From<ConnectionError> for EndpointError {
    /// Recovers a refusal from how a connection ended: a TLS alert we sent (we refused), a
    /// TLS alert we received (the peer refused), or the peer's post-handshake refusal
    /// close; anything else is [`EndpointError::Connection`].
    fn from(e: ConnectionError) -> Self {
        let refusal = match &e {
            ConnectionError::TransportError(t) => tls_alert(t.code)
                .map(|alert| (RefusedBy::Us, TlsError::from_alert(alert, t.reason.clone()))),
            ConnectionError::ConnectionClosed(c) => tls_alert(c.error_code).map(|alert| {
                let detail = String::from_utf8_lossy(&c.reason).into_owned();
                (RefusedBy::Peer, TlsError::from_alert(alert, detail))
            }),
            ConnectionError::ApplicationClosed(c)
                if c.error_code == VarInt::from_u32(code::UNEXPECTED_PEER) =>
            {
                let code = String::from_utf8_lossy(&c.reason);
                TlsError::from_reason_code(
                    &code,
                    "the peer closed the connection after the handshake",
                )
                .map(|reason| (RefusedBy::Peer, reason))
            }
            _ => None,
        };
        match refusal {
            Some((by, reason)) => Self::Refused { by, reason },
            None => Self::Connection(e),
        }
    }
}

/// The transport settings of every Liaison connection.
pub fn transport_config() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(KEEP_ALIVE_INTERVAL))
        .max_idle_timeout(Some(quinn::IdleTimeout::from(VarInt::from_u32(
            IDLE_TIMEOUT_MS,
        ))))
        .max_concurrent_bidi_streams(VarInt::from_u32(MAX_BIDI_STREAMS))
        .max_concurrent_uni_streams(VarInt::from_u32(MAX_UNI_STREAMS))
        // Liaison does not use unreliable datagrams; do not buffer any.
        .datagram_receive_buffer_size(None);
    t
}

/// Binds the configured listen address with the configured node identities and `trust`, and
/// `keys` to recognise its earlier connections ([`RestartKeys`]). Returns the endpoint and
/// one client configuration per identity (main one first).
pub fn bind(
    cfg: &Config,
    trust: &TlsTrust,
    keys: RestartKeys,
) -> Result<(quinn::Endpoint, Vec<quinn::ClientConfig>), EndpointError> {
    let mut identities = vec![TlsIdentity::load(&cfg.identity.cert, &cfg.identity.key)?];
    for id in &cfg.identities {
        identities.push(TlsIdentity::load(&id.cert, &id.key)?);
    }
    bind_identities(cfg.listen, &identities, trust, Some(keys))
}

/// What a node needs to recognise its own earlier connections after a restart, derived from
/// `secret` (the node's sealing secret, kept in its data dir) by HMAC-SHA256 under fixed
/// labels, so they are the same after a restart: the key of QUIC stateless resets (RFC 9000
/// §10.3) and the key that makes connection ids recognisable as ours. A node that crashed and
/// came back answers packets of its peers' old connections with a reset they recognise, and
/// they reconnect at once instead of sending into the void until the idle timeout. The labels
/// separate these from every other use of the secret; they reveal nothing of it.
#[derive(Clone)]
pub struct RestartKeys {
    reset: ring::hmac::Key,
    cid: u64,
}

impl RestartKeys {
    /// Derives both keys from `secret`.
    pub fn from_secret(secret: &[u8]) -> Self {
        let master = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let reset = ring::hmac::sign(&master, b"liaison/1 QUIC stateless reset key");
        let cid = ring::hmac::sign(&master, b"liaison/1 QUIC connection id key");
        let mut cid8 = [0u8; 8];
        cid8.copy_from_slice(&cid.as_ref()[..8]);
        Self {
            reset: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, reset.as_ref()),
            cid: u64::from_le_bytes(cid8),
        }
    }

    fn endpoint_config(&self) -> quinn::EndpointConfig {
        let mut config = quinn::EndpointConfig::new(Arc::new(self.reset.clone()));
        let cid = self.cid;
        config.cid_generator(move || {
            Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid))
        });
        config
    }
}

/// Binds `addr` (port 0 picks a free port) as a server and client for `identity`, trusting
/// `trust`. Must be called inside a tokio runtime.
pub fn bind_with(
    addr: SocketAddr,
    identity: &TlsIdentity,
    trust: &TlsTrust,
) -> Result<quinn::Endpoint, EndpointError> {
    Ok(bind_identities(addr, std::slice::from_ref(identity), trust, None)?.0)
}

/// As [`bind_with`] for a node with one identity per network it belongs to: the server shows
/// each client the identity it dialled; the returned client configurations (one per
/// identity, in order; the first is the endpoint's default) are for [`connect_as`]. `keys`
/// let a restarted node reset its peers' old connections ([`RestartKeys`]); `None` draws
/// random ones, which a restart does not keep.
pub fn bind_identities(
    addr: SocketAddr,
    identities: &[TlsIdentity],
    trust: &TlsTrust,
    keys: Option<RestartKeys>,
) -> Result<(quinn::Endpoint, Vec<quinn::ClientConfig>), EndpointError> {
    let transport = Arc::new(transport_config());
    let server_tls = QuicServerConfig::try_from(tls::server_config_multi(identities, trust)?)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_tls));
    server.transport_config(transport.clone());
    let mut clients = Vec::with_capacity(identities.len());
    for identity in identities {
        let client_tls = QuicClientConfig::try_from(tls::client_config(identity, trust)?)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let mut client = quinn::ClientConfig::new(Arc::new(client_tls));
        client.transport_config(transport.clone());
        clients.push(client);
    }
    let endpoint_config = match keys {
        Some(keys) => keys.endpoint_config(),
        None => quinn::EndpointConfig::default(),
    };
    let bind_err = |source| EndpointError::Bind { addr, source };
    let socket = std::net::UdpSocket::bind(addr).map_err(bind_err)?;
    let runtime = quinn::default_runtime()
        .ok_or_else(|| bind_err(std::io::Error::other("no async runtime")))?;
    let mut endpoint =
        quinn::Endpoint::new(endpoint_config, Some(server), socket, runtime).map_err(bind_err)?;
    if let Some(first) = clients.first() {
        endpoint.set_default_client_config(first.clone());
    }
    Ok((endpoint, clients))
}

/// Dials `peer` at `addr`: TLS with server name `peer`, then the server's certificate must
/// map to exactly `peer` under `trust` now, then the server must confirm the handshake (it
/// accepted our certificate). A refusal is logged and returned as [`EndpointError::Refused`];
/// see the module documentation for a server's refusal that arrives just after this returns.
pub async fn connect(
    endpoint: &quinn::Endpoint,
    trust: &TrustStore,
    peer: &NodeId,
    addr: SocketAddr,
) -> Result<quinn::Connection, EndpointError> {
    connect_as(endpoint, None, trust, peer, addr).await
}

/// As [`connect`], presenting the identity of `client` (from [`bind_identities`]), or the
/// endpoint's default identity if `None`.
pub async fn connect_as(
    endpoint: &quinn::Endpoint,
    client: Option<&quinn::ClientConfig>,
    trust: &TrustStore,
    peer: &NodeId,
    addr: SocketAddr,
) -> Result<quinn::Connection, EndpointError> {
    let connecting = match client {
        Some(c) => endpoint.connect_with(c.clone(), addr, peer.as_str()),
        None => endpoint.connect(addr, peer.as_str()),
    }
    .map_err(|source| EndpointError::Connect { addr, source })?;
    let conn = match connecting.await {
        Ok(conn) => conn,
        Err(e) => return Err(failed(e.into(), addr, Some(peer))),
    };
    let checked = verified_peer(&conn, trust).and_then(|found| {
        if &found == peer {
            Ok(found)
        } else {
            Err(TlsError::UnexpectedPeer(format!(
                "{addr} is {found}, not {peer}"
            )))
        }
    });
    if let Err(reason) = checked {
        return Err(refuse(&conn, reason, addr, Some(peer)));
    }
    match confirmed(&conn).await {
        Ok(()) => Ok(conn),
        Err(e) => Err(failed(e.into(), addr, Some(peer))),
    }
}

/// How often a client looks whether the server has confirmed the handshake.
const CONFIRM_POLL: Duration = Duration::from_millis(2);

/// Waits until the server has confirmed the handshake (its HANDSHAKE_DONE frame, RFC 9001
/// §4.1.2), or returns how the connection ended instead. A TLS 1.3 client completes its side
/// of the handshake before the server has checked the client's certificate, so quinn hands
/// the client a connection that the server may be about to refuse; only the confirmation says
/// that it did not. quinn 0.11 has nothing to await for it, so the received-frame counter is
/// looked at every [`CONFIRM_POLL`] (about one round trip in all).
async fn confirmed(conn: &quinn::Connection) -> Result<(), ConnectionError> {
    let mut tick = tokio::time::interval(CONFIRM_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // A refusal in the same datagram as the confirmation is still a refusal.
        if let Some(reason) = conn.close_reason() {
            return Err(reason);
        }
        if conn.stats().frame_rx.handshake_done > 0 {
            return Ok(());
        }
        tokio::select! {
            reason = conn.closed() => return Err(reason),
            _ = tick.tick() => {}
        }
    }
}

/// Completes an incoming connection: TLS (client certificate required), then the client's
/// certificate must map to a node id under `trust` now, for which `allowed` says yes.
/// Returns the connection and the peer's node id; a refusal is logged and returned as
/// [`EndpointError::Refused`].
pub async fn accept(
    incoming: quinn::Incoming,
    trust: &TrustStore,
    allowed: impl FnOnce(&NodeId) -> bool,
) -> Result<(quinn::Connection, NodeId), EndpointError> {
    let addr = incoming.remote_address();
    let conn = match incoming.await {
        Ok(conn) => conn,
        Err(e) => return Err(failed(e.into(), addr, None)),
    };
    let checked = verified_peer(&conn, trust).and_then(|found| {
        if allowed(&found) {
            Ok(found)
        } else {
            Err(TlsError::UnexpectedPeer(format!(
                "{found} is not a configured peer"
            )))
        }
    });
    match checked {
        Ok(found) => Ok((conn, found)),
        Err(reason) => Err(refuse(&conn, reason, addr, None)),
    }
}

/// The node id of an established connection's peer: the negotiated protocol must be
/// `liaison/1` and the peer's certificate must pass [`peer_node_id`] at the current time.
pub fn verified_peer(conn: &quinn::Connection, trust: &TrustStore) -> Result<NodeId, TlsError> {
    let protocol = conn
        .handshake_data()
        .and_then(|d| d.downcast::<HandshakeData>().ok())
        .and_then(|d| d.protocol);
    if protocol.as_deref() != Some(ALPN) {
        return Err(TlsError::NoApplicationProtocol);
    }
    let certs = conn
        .peer_identity()
        .and_then(|id| id.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or(TlsError::NoCertificate)?;
    let now = liaison_certs::timestamp(time::OffsetDateTime::now_utc());
    peer_node_id(&certs, trust, now)
}

/// The DER of an established connection's peer (leaf) certificate.
pub fn peer_cert_der(conn: &quinn::Connection) -> Option<Vec<u8>> {
    conn.peer_identity()
        .and_then(|id| id.downcast::<Vec<CertificateDer<'static>>>().ok())
        .and_then(|certs| certs.first().map(|c| c.as_ref().to_vec()))
}

/// Closes an established connection that failed the identity check, and logs why.
fn refuse(
    conn: &quinn::Connection,
    reason: TlsError,
    addr: SocketAddr,
    expected: Option<&NodeId>,
) -> EndpointError {
    conn.close(
        VarInt::from_u32(code::UNEXPECTED_PEER),
        reason.reason_code().as_bytes(),
    );
    failed(
        EndpointError::Refused {
            by: RefusedBy::Us,
            reason,
        },
        addr,
        expected,
    )
}

/// Logs a failed connection: refusals at `warn` on both sides, anything else (a peer that
/// is down, a timeout) at `debug`, since the caller retries and reports it.
fn failed(err: EndpointError, addr: SocketAddr, expected: Option<&NodeId>) -> EndpointError {
    let expected = expected.map(tracing::field::display);
    match err.refused_by() {
        Some(RefusedBy::Us) => tracing::warn!(
            reason = err.reason_code(),
            peer_addr = %addr,
            expected_peer = expected,
            error = %err,
            "refused a peer"
        ),
        Some(RefusedBy::Peer) => tracing::warn!(
            reason = err.reason_code(),
            peer_addr = %addr,
            expected_peer = expected,
            error = %err,
            "refused by a peer"
        ),
        None => tracing::debug!(
            reason = err.reason_code(),
            peer_addr = %addr,
            expected_peer = expected,
            error = %err,
            "connection failed"
        ),
    }
    err
}
