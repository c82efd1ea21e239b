//! Liaison's TLS policy, in one place (promise 2: only known parties connect).
//!
//! Every QUIC connection between nodes is mutually authenticated TLS 1.3 with ALPN
//! [`ALPN`] (`liaison/1`). This module builds the rustls configurations that enforce it:
//!
//! * the ring [`CryptoProvider`] is chosen explicitly ([`provider`]) and passed to every
//!   `*_with_provider` builder, so nothing depends on a process-wide default;
//! * TLS 1.3 only; no session tickets or resumption, so every connection presents and
//!   verifies certificates afresh (a revocation takes effect on the next connection); no
//!   0-RTT;
//! * the server *requires* a client certificate;
//! * a peer certificate is accepted only if rustls's WebPKI verifier accepts it — it chains
//!   to one of the configured network CAs (whose DNS name constraints confine each CA to
//!   its own network), is not on that CA's CRL, is within its validity, and carries the
//!   right extended key usage; a server certificate must also name the node the client
//!   dialled, because the client uses the peer's node id as the TLS server name — **and**
//!   the [`TrustStore`] accepts it at the handshake time: it names exactly one node id
//!   ([`node_id_from_cert`], the one place a certificate becomes a node id) and chains to
//!   a CA of *the network that node id names*. The second check is defence in depth on
//!   top of the name constraints;
//! * a network may have two trusted CAs while it rolls its CA over; both share their name,
//!   so each gets its own WebPKI verifier with its own CRL (see [`TlsTrust`]) and a
//!   certificate of either is accepted.
//!
//! Both checks run inside the handshake (see `CheckedClientVerifier` and `NodeServerVerifier`
//! below), so a refused certificate ends the handshake with a TLS alert that both sides
//! see. The alert is what crosses the wire, so [`TlsError::from_alert`] maps alerts back to
//! our reason codes on either side. After the handshake, [`peer_node_id`] turns the peer's
//! certificate into its node id, checking it once more.
//!
//! Nothing here can weaken verification: there is no option to skip it, and this crate has
//! no `danger` module. The custom verifiers only *add* checks after the WebPKI verifier
//! succeeded (rustls requires its `dangerous()` builder to install a custom server-certificate
//! verifier, which is the only reason that word appears below).

use std::path::Path;
use std::sync::Arc;

use liaison_protocol::trust::node_id_from_cert;
use liaison_protocol::{NodeId, Timestamp, TrustStore, VerifyError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName,
    UnixTime,
};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{
    AlertDescription, CertificateError, DigitallySignedStruct, DistinguishedName, OtherError,
    RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::SectionKind;
use thiserror::Error;
use zeroize::Zeroize;

use crate::error::CertError;
use crate::load;

/// The one application protocol Liaison nodes speak (ALPN).
pub const ALPN: &[u8] = b"liaison/1";

/// The crypto provider for all of Liaison's TLS: ring, chosen explicitly.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS handshake or peer-identity check refused a connection, or our own TLS
/// configuration could not be built. Each variant has a stable
/// [`reason_code`](TlsError::reason_code); certificate reasons reuse the protocol's codes.
///
/// A refusal crosses the wire as a TLS alert, which is coarser than a local error, so both
/// sides of a connection see the same reason: e.g. "not yet valid" is reported as
/// `certificate-expired` (TLS's `certificate_expired` alert means "expired or not
/// currently valid").
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate does not chain to any configured network CA, or no CA is trusted for
    /// the network its node id names.
    #[error("certificate is not from a trusted network CA: {0}")]
    UnknownCa(String),
    /// The certificate is on its CA's revocation list.
    #[error("certificate is revoked: {0}")]
    Revoked(String),
    /// The certificate (or its CA) is expired or not yet valid.
    #[error("certificate is expired or not yet valid: {0}")]
    Expired(String),
    /// The certificate chains to a trusted CA but is unacceptable: malformed, bad
    /// signature, issued by another network's CA, name constraint violated.
    #[error("certificate chain is not acceptable: {0}")]
    BadChain(String),
    /// The certificate is not a node certificate (e.g. an officer certificate), or lacks the
    /// TLS key usage a node certificate has.
    #[error("not a node certificate: {0}")]
    NotNodeCertificate(String),
    /// The peer is validly certified but is not the node expected, or not a configured peer.
    #[error("unexpected peer: {0}")]
    UnexpectedPeer(String),
    /// The peer presented no certificate.
    #[error("no certificate presented")]
    NoCertificate,
    /// The peer does not speak `liaison/1`.
    #[error("no common application protocol (Liaison speaks liaison/1)")]
    NoApplicationProtocol,
    /// The TLS handshake failed for another reason (the detail names the TLS alert).
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// Our own TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    Config(String),
    /// Our identity or trust files could not be read; the PKI's reason code passes through.
    #[error(transparent)]
    Certs(#[from] CertError),
}

impl TlsError {
    /// Stable reason code for this error.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::UnknownCa(_) => "unknown-ca",
            Self::Revoked(_) => "revoked-certificate",
            Self::Expired(_) => "certificate-expired",
            Self::BadChain(_) => "bad-certificate-chain",
            Self::NotNodeCertificate(_) => "not-node-certificate",
            Self::UnexpectedPeer(_) => "unexpected-peer",
            Self::NoCertificate => "certificate-required",
            Self::NoApplicationProtocol => "no-application-protocol",
            Self::Handshake(_) => "handshake-failed",
            Self::Config(_) => "tls-config",
            Self::Certs(e) => e.reason_code(),
        }
    }

    /// The refusal a TLS alert stands for (sent or received), with a human-readable detail.
    ///
    /// The verifiers in this module choose the alerts so that this mapping is exact for our
    /// own refusals: `unknown_ca`, `certificate_revoked`, `certificate_expired`,
    /// `unsupported_certificate` (not a node certificate), `access_denied` (unexpected
    /// peer), `certificate_required`, `no_application_protocol`.
    pub fn from_alert(alert: u8, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        match AlertDescription::from(alert) {
            AlertDescription::UnknownCA => Self::UnknownCa(detail),
            AlertDescription::CertificateRevoked => Self::Revoked(detail),
            AlertDescription::CertificateExpired => Self::Expired(detail),
            AlertDescription::UnsupportedCertificate => Self::NotNodeCertificate(detail),
            AlertDescription::AccessDenied => Self::UnexpectedPeer(detail),
            AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::DecryptError => Self::BadChain(detail),
            AlertDescription::CertificateRequired => Self::NoCertificate,
            AlertDescription::NoApplicationProtocol => Self::NoApplicationProtocol,
            other => Self::Handshake(format!("TLS alert {other:?}: {detail}")),
        }
    }

    /// The refusal a reason code names, for codes a peer sends when it closes a connection
    /// after the handshake; `None` for codes this module never produces from a peer.
    pub fn from_reason_code(code: &str, detail: impl Into<String>) -> Option<Self> {
        let detail = detail.into();
        Some(match code {
            "unknown-ca" => Self::UnknownCa(detail),
            "revoked-certificate" => Self::Revoked(detail),
            "certificate-expired" | "certificate-not-yet-valid" => Self::Expired(detail),
            "bad-certificate-chain" | "malformed-certificate" => Self::BadChain(detail),
            "not-node-certificate" => Self::NotNodeCertificate(detail),
            "unexpected-peer" => Self::UnexpectedPeer(detail),
            "certificate-required" => Self::NoCertificate,
            "no-application-protocol" => Self::NoApplicationProtocol,
            _ => return None,
        })
    }
}

impl From<VerifyError> for TlsError {
    fn from(e: VerifyError) -> Self {
        let detail = e.to_string();
        match e {
            VerifyError::UnknownCa(_) => Self::UnknownCa(detail),
            VerifyError::Revoked { .. } => Self::Revoked(detail),
            VerifyError::CertificateExpired | VerifyError::CertificateNotYetValid => {
                Self::Expired(detail)
            }
            VerifyError::NotNodeCertificate(_) => Self::NotNodeCertificate(detail),
            _ => Self::BadChain(detail),
        }
    }
}

fn config_error(e: impl std::fmt::Display) -> TlsError {
    TlsError::Config(e.to_string())
}

/// Every reason code [`TlsError`] can produce besides the PKI's.
pub const REASON_CODES: &[&str] = &[
    "unknown-ca",
    "revoked-certificate",
    "certificate-expired",
    "bad-certificate-chain",
    "not-node-certificate",
    "unexpected-peer",
    "certificate-required",
    "no-application-protocol",
    "handshake-failed",
    "tls-config",
];

/// A node's TLS identity: its node certificate and private key. `Debug` never shows the
/// key, and the key is zeroed on drop.
pub struct TlsIdentity {
    node: NodeId,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Drop for TlsIdentity {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl TlsIdentity {
    /// A node certificate (DER) and its PKCS#8 private key (DER). Fails unless the
    /// certificate names a node and the key is the certificate's.
    pub fn from_der(cert_der: Vec<u8>, key_pkcs8_der: Vec<u8>) -> Result<Self, TlsError> {
        let node = node_id_from_cert(&cert_der).map_err(CertError::from)?;
        let cert = CertificateDer::from(cert_der);
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8_der));
        // Checks that rustls can use the key and that it matches the certificate.
        rustls::sign::CertifiedKey::from_der(vec![cert.clone()], key.clone_key(), &provider())
            .map_err(|e| CertError::KeyMismatch(format!("node {node}: {e}")))?;
        Ok(Self { node, cert, key })
    }

    /// A node certificate and its PKCS#8 private key, both PEM (as `liaison certs` writes them).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let cert = load::single_section(
            Path::new("node certificate"),
            cert_pem,
            SectionKind::Certificate,
        )?;
        let key = zeroize::Zeroizing::new(load::single_section(
            Path::new("node key"),
            key_pem,
            SectionKind::PrivateKey,
        )?);
        Self::from_der(cert, key.to_vec())
    }

    /// Reads a node certificate and its private key from PEM files.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let cert = load::read_cert(cert_path)?;
        let key = load::read_key(key_path)?;
        Self::from_der(cert, key.to_vec())
    }

    /// The node this identity speaks for.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// The node certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert
    }
}

/// The network CAs and CRLs a node's TLS trusts, in the forms rustls and the
/// [`TrustStore`] need. Every CA must come with its CRL: a network that cannot revoke is not
/// trusted.
///
/// A handle: clones share one current trust, and [`replace`](TlsTrust::replace) swaps it for
/// every configuration built from the handle or its clones. The verifiers read the current
/// trust at each handshake, so a new CRL takes effect on the next connection without
/// rebuilding a server or client configuration (connections already open are the caller's
/// to re-check).
///
/// rustls's WebPKI verifiers pick a certificate's CRL by the issuer's *name*, and the CAs of
/// one network share their name (`CN=<network>`). So the CAs are split into layers in which
/// no two are of the same network — layer *i* holds the *i*-th CA of every network, and
/// there are two layers only while a network rolls its CA over — and each layer gets its own
/// verifiers: a certificate is accepted if the verifier of some layer accepts it, which is
/// the layer of the CA that issued it, with that CA's CRL.
#[derive(Clone)]
pub struct TlsTrust {
    current: Arc<std::sync::RwLock<Arc<Snapshot>>>,
}

/// One version of the trust: the store and the WebPKI verifiers of each layer, built once.
struct Snapshot {
    store: Arc<TrustStore>,
    clients: Vec<Arc<dyn ClientCertVerifier>>,
    servers: Vec<Arc<WebPkiServerVerifier>>,
    hints: Vec<DistinguishedName>,
}

impl std::fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let snap = self.snapshot();
        f.debug_struct("TlsTrust")
            .field("store", &snap.store)
            .field("layers", &snap.servers.len())
            .finish_non_exhaustive()
    }
}

impl TlsTrust {
    /// Trusts each `(CA certificate DER, CRL DER)` pair. Each CA must be a Liaison network
    /// CA and its CRL signed by it; several CAs of one network are trusted side by side (a
    /// CA rollover), the same CA twice is refused (`duplicate-ca`).
    pub fn new<C, R>(cas: &[(C, R)]) -> Result<Self, TlsError>
    where
        C: AsRef<[u8]>,
        R: AsRef<[u8]>,
    {
        let mut store = TrustStore::new();
        for (ca, crl) in cas {
            store
                .add_ca(ca.as_ref(), Some(crl.as_ref()))
                .map_err(CertError::from)?;
        }
        Self::from_store(store)
    }

    /// The same CAs and CRLs as a trust store (e.g. one from
    /// [`load_trust`](crate::load::load_trust)); every CA must have its CRL.
    pub fn from_trust_store(store: &TrustStore) -> Result<Self, TlsError> {
        Self::from_store(store.clone())
    }

    /// As [`from_trust_store`](Self::from_trust_store), taking the store.
    pub fn from_store(store: TrustStore) -> Result<Self, TlsError> {
        Ok(Self {
            current: Arc::new(std::sync::RwLock::new(Arc::new(Snapshot::build(store)?))),
        })
    }

    /// Makes `store` the trust of this handle and of every clone of it, and of every
    /// configuration and verifier built from them, from the next handshake on. On an error
    /// (a CA without its CRL, no CA at all) the trust in force stays.
    pub fn replace(&self, store: TrustStore) -> Result<(), TlsError> {
        let snap = Arc::new(Snapshot::build(store)?);
        match self.current.write() {
            Ok(mut current) => *current = snap,
            Err(poisoned) => *poisoned.into_inner() = snap,
        }
        Ok(())
    }

    /// The trust store in force now.
    pub fn trust_store(&self) -> Arc<TrustStore> {
        self.snapshot().store.clone()
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Snapshot {
    fn build(store: TrustStore) -> Result<Self, TlsError> {
        let mut layers: Vec<(RootCertStore, Vec<CertificateRevocationListDer<'static>>)> =
            Vec::new();
        for network in store.networks() {
            for (i, ca) in store.cas_of(network).iter().enumerate() {
                if layers.len() <= i {
                    layers.push((RootCertStore::empty(), Vec::new()));
                }
                let (roots, crls) = &mut layers[i];
                roots
                    .add(CertificateDer::from(ca.ca_der().to_vec()))
                    .map_err(|e| {
                        TlsError::Config(format!("CA {} of {network}: {e}", ca.fingerprint()))
                    })?;
                let crl = ca.crl_der().ok_or_else(|| {
                    TlsError::Config(format!(
                        "the {network} CA {} has no revocation list; TLS requires one per CA",
                        ca.fingerprint()
                    ))
                })?;
                crls.push(CertificateRevocationListDer::from(crl.to_vec()));
            }
        }
        if layers.is_empty() {
            return Err(TlsError::Config("no network CA is trusted".into()));
        }
        let provider = provider();
        let mut clients: Vec<Arc<dyn ClientCertVerifier>> = Vec::with_capacity(layers.len());
        let mut servers = Vec::with_capacity(layers.len());
        let mut hints: Vec<DistinguishedName> = Vec::new();
        for (roots, crls) in layers {
            let roots = Arc::new(roots);
            let client =
                WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .with_crls(crls.iter().cloned())
                    .build()
                    .map_err(config_error)?;
            for h in client.root_hint_subjects() {
                if !hints.iter().any(|k| k.as_ref() == h.as_ref()) {
                    hints.push(h.clone());
                }
            }
            clients.push(client);
            servers.push(
                WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .with_crls(crls)
                    .build()
                    .map_err(config_error)?,
            );
        }
        Ok(Self {
            store: Arc::new(store),
            clients,
            servers,
            hints,
        })
    }
}

/// How telling a WebPKI refusal is, to report the most telling of several layers' refusals:
/// "unknown issuer" comes from every layer that does not hold the certificate's network,
/// "bad signature" from a layer holding another CA of the same name; anything else (revoked,
/// expired, wrong usage…) comes from the layer of the CA that issued the certificate.
fn telling(e: &rustls::Error) -> u8 {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => 0,
        rustls::Error::InvalidCertificate(CertificateError::BadSignature) => 1,
        _ => 2,
    }
}

/// The first success of `verify` over `verifiers`, or the most telling refusal.
fn first_accepting<V: ?Sized, T>(
    verifiers: &[Arc<V>],
    mut verify: impl FnMut(&V) -> Result<T, rustls::Error>,
) -> Result<T, rustls::Error> {
    let mut refusal: Option<rustls::Error> = None;
    for v in verifiers {
        match verify(v) {
            Ok(t) => return Ok(t),
            Err(e) if refusal.as_ref().is_none_or(|r| telling(&e) > telling(r)) => {
                refusal = Some(e)
            }
            Err(_) => {}
        }
    }
    Err(refusal.unwrap_or(rustls::Error::InvalidCertificate(
        CertificateError::UnknownIssuer,
    )))
}

/// The rustls server configuration of a node: TLS 1.3, ALPN `liaison/1`, client
/// certificate required and verified (see the module documentation), no resumption.
pub fn server_config(
    identity: &TlsIdentity,
    trust: &TlsTrust,
) -> Result<rustls::ServerConfig, TlsError> {
    server_config_multi(std::slice::from_ref(identity), trust)
}

/// As [`server_config`] for a node that belongs to several networks, with one identity per
/// network: the server presents the identity the client asked for by name (the client sets
/// the server name to the node id it dials), and the first identity when the name is
/// absent or unknown (the client then refuses the name itself, with `unexpected-peer`).
pub fn server_config_multi(
    identities: &[TlsIdentity],
    trust: &TlsTrust,
) -> Result<rustls::ServerConfig, TlsError> {
    let provider = provider();
    let mut keys = Vec::with_capacity(identities.len());
    for id in identities {
        let key = rustls::sign::CertifiedKey::from_der(
            vec![id.cert.clone()],
            id.key.clone_key(),
            &provider,
        )
        .map_err(config_error)?;
        keys.push((id.node.clone(), Arc::new(key)));
    }
    if keys.is_empty() {
        return Err(TlsError::Config(
            "a server needs at least one identity".into(),
        ));
    }
    let verifier = Arc::new(client_verifier(trust)?);
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(config_error)?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(ByServerName { keys }));
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.max_early_data_size = 0;
    Ok(config)
}

/// Picks the node identity whose id the client asked for (SNI).
#[derive(Debug)]
struct ByServerName {
    keys: Vec<(NodeId, Arc<rustls::sign::CertifiedKey>)>,
}

impl rustls::server::ResolvesServerCert for ByServerName {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let asked = hello.server_name();
        self.keys
            .iter()
            .find(|(node, _)| Some(node.as_str()) == asked)
            .or(self.keys.first())
            .map(|(_, key)| key.clone())
    }
}

/// The rustls client configuration of a node: TLS 1.3, ALPN `liaison/1`, our node
/// certificate as client certificate, the server verified (see the module documentation)
/// against the server name given at connection time, which must be the peer's node id.
pub fn client_config(
    identity: &TlsIdentity,
    trust: &TlsTrust,
) -> Result<rustls::ClientConfig, TlsError> {
    let provider = provider();
    let verifier = Arc::new(server_verifier(trust));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(config_error)?
        // Not dangerous: `NodeServerVerifier` runs the WebPKI verifier first and only adds checks.
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![identity.cert.clone()], identity.key.clone_key())
        .map_err(config_error)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.resumption = Resumption::disabled();
    config.enable_early_data = false;
    Ok(config)
}

/// The node id a peer's certificate chain (end entity first) names, accepted only if the
/// [`TrustStore`] accepts the certificate at `at`: it chains to a CA of the network its
/// node id names, is within validity and is not revoked by that CA's CRL. Call it on every
/// established connection, whatever the handshake already checked.
pub fn peer_node_id(
    certs: &[CertificateDer<'_>],
    trust: &TrustStore,
    at: Timestamp,
) -> Result<NodeId, TlsError> {
    let end_entity = certs.first().ok_or(TlsError::NoCertificate)?;
    let node = node_id_from_cert(end_entity)?;
    let certified = trust.check_node_cert(end_entity, at)?;
    if certified.node != node {
        // Both come from `node_id_from_cert`'s logic; a difference would be a bug.
        return Err(TlsError::BadChain(format!(
            "certificate names {node} but verified as {}",
            certified.node
        )));
    }
    Ok(node)
}

fn timestamp(now: UnixTime) -> Timestamp {
    Timestamp(now.as_secs().saturating_mul(1000))
}

/// The trust store's verdict on a certificate at handshake time, as a rustls error whose
/// alert [`TlsError::from_alert`] maps back to the same reason code.
fn check_node(
    trust: &TrustStore,
    end_entity: &CertificateDer<'_>,
    now: UnixTime,
) -> Result<NodeId, rustls::Error> {
    match trust.check_node_cert(end_entity, timestamp(now)) {
        Ok(certified) => Ok(certified.node),
        Err(e) => Err(rustls::Error::InvalidCertificate(match e {
            VerifyError::UnknownCa(_) => CertificateError::UnknownIssuer,
            VerifyError::Revoked { .. } => CertificateError::Revoked,
            VerifyError::CertificateExpired => CertificateError::Expired,
            VerifyError::CertificateNotYetValid => CertificateError::NotValidYet,
            VerifyError::NotNodeCertificate(_) => CertificateError::InvalidPurpose,
            other => CertificateError::Other(OtherError(Arc::new(other))),
        })),
    }
}

/// The extra check a [`CheckedClientVerifier`] applies after WebPKI accepted a client
/// certificate: the trust store in force for this handshake, the end-entity certificate and
/// the handshake time.
pub type ClientCheck =
    dyn Fn(&TrustStore, &CertificateDer<'_>, UnixTime) -> Result<(), rustls::Error> + Send + Sync;

/// Server side: a client certificate is verified by rustls's WebPKI verifier (every network
/// CA with its CRL, clientAuth usage, mandatory; one verifier per layer of [`TlsTrust`], as
/// in force at the handshake), then by an extra check — for peers, the trust store
/// (`check_node`); for the officer API, the officer's identity and role.
pub struct CheckedClientVerifier {
    trust: TlsTrust,
    /// The CA names suggested to clients, as trusted when the verifier was built.
    hints: Vec<DistinguishedName>,
    check: Box<ClientCheck>,
}

impl std::fmt::Debug for CheckedClientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedClientVerifier")
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

/// A client-certificate verifier over `trust`'s CAs and CRLs (client auth mandatory; the
/// trust in force at each handshake) that also runs `check` on every certificate WebPKI
/// accepts. The one way this workspace builds client verifiers: node peers and the officer
/// API both use it.
pub fn checked_client_verifier(
    trust: &TlsTrust,
    check: Box<ClientCheck>,
) -> Result<CheckedClientVerifier, TlsError> {
    Ok(CheckedClientVerifier {
        hints: trust.snapshot().hints.clone(),
        trust: trust.clone(),
        check,
    })
}

fn client_verifier(trust: &TlsTrust) -> Result<CheckedClientVerifier, TlsError> {
    checked_client_verifier(
        trust,
        Box::new(|store, ee, now| check_node(store, ee, now).map(|_| ())),
    )
}

impl ClientCertVerifier for CheckedClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let snap = self.trust.snapshot();
        let verified = first_accepting(&snap.clients, |v| {
            v.verify_client_cert(end_entity, intermediates, now)
        })?;
        (self.check)(&snap.store, end_entity, now)?;
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        first_accepting(&self.verifiers(), |v| {
            v.verify_tls12_signature(message, cert, dss)
        })
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        first_accepting(&self.verifiers(), |v| {
            v.verify_tls13_signature(message, cert, dss)
        })
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifiers()
            .first()
            .map(|v| v.supported_verify_schemes())
            .unwrap_or_default()
    }
}

/// Client side: a server certificate is verified by rustls's WebPKI verifier (every network
/// CA with its CRL, serverAuth usage, valid for the server name = the node id dialled; one
/// verifier per layer of [`TlsTrust`]), then by the trust store ([`check_node`]), and must
/// name exactly the node dialled. A wrong name is reported with the `access_denied` alert
/// (`unexpected-peer`) rather than WebPKI's `bad_certificate`, so both sides can tell it
/// from a malformed certificate.
#[derive(Debug)]
struct NodeServerVerifier {
    trust: TlsTrust,
}

fn server_verifier(trust: &TlsTrust) -> NodeServerVerifier {
    NodeServerVerifier {
        trust: trust.clone(),
    }
}

impl CheckedClientVerifier {
    fn verifiers(&self) -> Vec<Arc<dyn ClientCertVerifier>> {
        self.trust.snapshot().clients.clone()
    }
}

impl NodeServerVerifier {
    fn verifiers(&self) -> Vec<Arc<WebPkiServerVerifier>> {
        self.trust.snapshot().servers.clone()
    }
}

impl ServerCertVerifier for NodeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let unexpected =
            || rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure);
        let snap = self.trust.snapshot();
        let verified = first_accepting(&snap.servers, |v| {
            v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        })
        .map_err(|e| match e {
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => unexpected(),
            other => other,
        })?;
        let node = check_node(&snap.store, end_entity, now)?;
        match server_name {
            ServerName::DnsName(name) if name.as_ref() == node.as_str() => Ok(verified),
            _ => Err(unexpected()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        first_accepting(&self.verifiers(), |v| {
            v.verify_tls12_signature(message, cert, dss)
        })
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        first_accepting(&self.verifiers(), |v| {
            v.verify_tls13_signature(message, cert, dss)
        })
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifiers()
            .first()
            .map(|v| v.supported_verify_schemes())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, now};
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, SanType, PKCS_ED25519,
    };

    fn trust_of(cas: &[&crate::NetworkCa]) -> TlsTrust {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = cas
            .iter()
            .map(|ca| {
                let crl = crate::revocation::empty_crl(ca, now(), time::Duration::days(30))
                    .unwrap()
                    .der;
                (ca.cert_der().to_vec(), crl)
            })
            .collect();
        TlsTrust::new(&pairs).unwrap()
    }

    fn unix_now() -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(now().unix_timestamp() as u64))
    }

    /// A `gulf` CA *without* the DNS name constraint, issuing a certificate for a
    /// `central-asia` node: WebPKI accepts it (the CA is a trust anchor), the trust store
    /// does not (it is not the CA of the network the node id names).
    fn rogue_gulf_ca_and_node() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let ca_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let mut ca = CertificateParams::default();
        ca.distinguished_name.push(DnType::CommonName, "gulf");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.not_before = now() - time::Duration::days(1);
        ca.not_after = now() + time::Duration::days(30);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca.clone(), ca_key);
        let crl = rcgen::CertificateRevocationListParams {
            this_update: now() - time::Duration::minutes(1),
            next_update: now() + time::Duration::days(30),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![],
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&issuer)
        .unwrap();
        let node_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let mut node = CertificateParams::new(vec!["x.central-asia".to_owned()]).unwrap();
        node.subject_alt_names = vec![SanType::DnsName("x.central-asia".try_into().unwrap())];
        node.distinguished_name
            .push(DnType::CommonName, "x.central-asia");
        node.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        node.not_before = now() - time::Duration::days(1);
        node.not_after = now() + time::Duration::days(30);
        let node_cert = node.signed_by(&node_key, &issuer).unwrap();
        (
            ca_cert.der().to_vec(),
            crl.der().to_vec(),
            node_cert.der().to_vec(),
        )
    }

    #[test]
    fn certificate_from_another_networks_ca_is_refused_in_the_handshake() {
        let central_asia = testing::ca("central-asia");
        let real_crl = crate::revocation::empty_crl(&central_asia, now(), time::Duration::days(30))
            .unwrap()
            .der;
        let (rogue_ca, rogue_crl, node) = rogue_gulf_ca_and_node();
        let trust = TlsTrust::new(&[
            (central_asia.cert_der().to_vec(), real_crl),
            (rogue_ca, rogue_crl),
        ])
        .unwrap();
        let node = CertificateDer::from(node);

        // WebPKI alone would accept it.
        let webpki = client_verifier(&trust).unwrap().verifiers();
        assert_eq!(webpki.len(), 1, "one CA per network: one layer");
        webpki[0]
            .verify_client_cert(&node, &[], unix_now())
            .unwrap();

        let err = client_verifier(&trust)
            .unwrap()
            .verify_client_cert(&node, &[], unix_now())
            .unwrap_err();
        let rustls::Error::InvalidCertificate(cert_err) = err else {
            panic!("{err:?}")
        };
        let alert = u8::from(AlertDescription::from(cert_err));
        assert_eq!(
            TlsError::from_alert(alert, "").reason_code(),
            "bad-certificate-chain"
        );
        let err = peer_node_id(&[node], &trust.trust_store(), crate::timestamp(now())).unwrap_err();
        assert_eq!(err.reason_code(), "bad-certificate-chain");
    }

    #[test]
    fn server_certificate_must_name_the_node_dialled() {
        let ca = testing::ca("central-asia");
        let trust = trust_of(&[&ca]);
        let node = CertificateDer::from(testing::node(&ca, "caricc").cert_der);
        let verifier = server_verifier(&trust);
        let dialled = ServerName::try_from("caricc.central-asia").unwrap();
        verifier
            .verify_server_cert(&node, &[], &dialled, &[], unix_now())
            .unwrap();
        let other = ServerName::try_from("kz-dcu.central-asia").unwrap();
        let err = verifier
            .verify_server_cert(&node, &[], &other, &[], unix_now())
            .unwrap_err();
        assert_eq!(
            err,
            rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
        );
    }

    #[test]
    fn replacing_the_trust_reaches_configurations_already_built() {
        let ca = testing::ca("gulf");
        let node = testing::node(&ca, "gcc-cic");
        let crl = crate::revocation::empty_crl(&ca, now(), time::Duration::days(30)).unwrap();
        let trust = TlsTrust::new(&[(ca.cert_der().to_vec(), crl.der.clone())]).unwrap();
        let id = "gcc-cic.gulf".to_owned();
        let client = client_verifier(&trust).unwrap();
        let server = server_verifier(&trust.clone());
        let cert = CertificateDer::from(node.cert_der.clone());
        let name = ServerName::try_from(id.clone()).unwrap();
        client.verify_client_cert(&cert, &[], unix_now()).unwrap();
        server
            .verify_server_cert(&cert, &[], &name, &[], unix_now())
            .unwrap();

        let (revoked, _) = crate::revocation::revoke_in_crl(
            &ca,
            &crl.der,
            &node.cert_der,
            Path::new("node.crt"),
            crate::Reason::KeyCompromise,
            now() - time::Duration::seconds(5),
            time::Duration::days(30),
        )
        .unwrap();
        let mut store = TrustStore::new();
        store.add_ca(ca.cert_der(), Some(&revoked.der)).unwrap();
        trust.replace(store).unwrap();
        assert_eq!(
            verdicts(&trust, &node.cert_der, &id),
            ("revoked-certificate".into(), "revoked-certificate".into())
        );
        // The verifiers built before the replacement refuse too.
        assert!(client.verify_client_cert(&cert, &[], unix_now()).is_err());
        assert!(server
            .verify_server_cert(&cert, &[], &name, &[], unix_now())
            .is_err());
        // A replacement that cannot be used leaves the trust in force.
        assert_eq!(
            trust.replace(TrustStore::new()).unwrap_err().reason_code(),
            "tls-config"
        );
        assert_eq!(trust.trust_store().cas().count(), 1);
    }

    /// The verdict of the peer verifier (server side) and of the server verifier (client
    /// side) on a node certificate, as reason codes.
    fn verdicts(trust: &TlsTrust, cert: &[u8], node: &str) -> (String, String) {
        let code = |e: rustls::Error| match e {
            rustls::Error::InvalidCertificate(c) => {
                TlsError::from_alert(u8::from(AlertDescription::from(c)), "")
                    .reason_code()
                    .to_owned()
            }
            other => format!("{other:?}"),
        };
        let cert = CertificateDer::from(cert.to_vec());
        let client = client_verifier(trust)
            .unwrap()
            .verify_client_cert(&cert, &[], unix_now())
            .map_or_else(code, |_| "ok".to_owned());
        let name = ServerName::try_from(node.to_owned()).unwrap();
        let server = server_verifier(trust)
            .verify_server_cert(&cert, &[], &name, &[], unix_now())
            .map_or_else(code, |_| "ok".to_owned());
        (client, server)
    }

    #[test]
    fn during_a_rollover_certificates_of_both_cas_pass_the_handshake_checks() {
        let old = testing::ca("central-asia");
        let new = testing::ca("central-asia");
        let gulf = testing::ca("gulf");
        let crl = |ca: &crate::NetworkCa| {
            crate::revocation::empty_crl(ca, now(), time::Duration::days(30))
                .unwrap()
                .der
        };
        let (a, b, c) = (
            testing::node(&old, "kz-dcu"),
            testing::node(&new, "caricc"),
            testing::node(&new, "uz-dcu"),
        );
        // The new CA revokes one of its own certificates.
        let new_crl = crate::revocation::revoke_in_crl(
            &new,
            &crl(&new),
            &c.cert_der,
            Path::new("uz"),
            crate::Reason::Superseded,
            now() - time::Duration::minutes(1),
            time::Duration::days(30),
        )
        .unwrap()
        .0
        .der;
        let both = TlsTrust::new(&[
            (old.cert_der().to_vec(), crl(&old)),
            (gulf.cert_der().to_vec(), crl(&gulf)),
            (new.cert_der().to_vec(), new_crl.clone()),
        ])
        .unwrap();
        assert_eq!(
            both.snapshot().servers.len(),
            2,
            "two CAs of one network: two layers"
        );
        let ok = ("ok".to_owned(), "ok".to_owned());
        assert_eq!(verdicts(&both, &a.cert_der, "kz-dcu.central-asia"), ok);
        assert_eq!(verdicts(&both, &b.cert_der, "caricc.central-asia"), ok);
        // The new CA's CRL applies to its certificate, whichever layer is tried first.
        let revoked = (
            "revoked-certificate".to_owned(),
            "revoked-certificate".to_owned(),
        );
        assert_eq!(verdicts(&both, &c.cert_der, "uz-dcu.central-asia"), revoked);
        // Once the old CA is retired, its certificates are refused as from an unknown issuer.
        let retired = TlsTrust::new(&[
            (new.cert_der().to_vec(), new_crl),
            (gulf.cert_der().to_vec(), crl(&gulf)),
        ])
        .unwrap();
        assert_eq!(retired.snapshot().servers.len(), 1);
        assert_eq!(verdicts(&retired, &b.cert_der, "caricc.central-asia"), ok);
        let (client, server) = verdicts(&retired, &a.cert_der, "kz-dcu.central-asia");
        assert_eq!(client, "bad-certificate-chain", "same name, another key");
        assert_eq!(server, "bad-certificate-chain");
    }

    #[test]
    fn identity_requires_a_node_certificate_and_its_key() {
        let ca = testing::ca("central-asia");
        let a = testing::node(&ca, "caricc");
        let b = testing::node(&ca, "kz-dcu");
        let id = TlsIdentity::from_pem(a.cert_pem.as_bytes(), a.key_pem.as_bytes()).unwrap();
        assert_eq!(id.node().as_str(), "caricc.central-asia");
        assert!(!format!("{id:?}").contains("PRIVATE"));
        let err = TlsIdentity::from_pem(a.cert_pem.as_bytes(), b.key_pem.as_bytes()).unwrap_err();
        assert_eq!(err.reason_code(), "key-mismatch");
        let officer = ca
            .issue_officer(
                &testing::centre("caricc"),
                &"bob".parse().unwrap(),
                crate::Role::Officer,
                crate::ca::OfficerKey::Ed25519,
                testing::year(),
            )
            .unwrap();
        let err = TlsIdentity::from_pem(officer.cert_pem.as_bytes(), officer.key_pem.as_bytes())
            .unwrap_err();
        assert_eq!(err.reason_code(), "not-node-certificate");
    }

    #[test]
    fn trust_requires_a_crl_per_network_and_no_duplicates() {
        let ca = testing::ca("central-asia");
        let mut store = TrustStore::new();
        store.add_ca(ca.cert_der(), None).unwrap();
        let err = TlsTrust::from_trust_store(&store).unwrap_err();
        assert_eq!(err.reason_code(), "tls-config");
        let crl = crate::revocation::empty_crl(&ca, now(), time::Duration::days(30))
            .unwrap()
            .der;
        let pair = (ca.cert_der().to_vec(), crl);
        let err = TlsTrust::new(&[pair.clone(), pair.clone()]).unwrap_err();
        assert_eq!(err.reason_code(), "duplicate-ca");
        let empty: [(Vec<u8>, Vec<u8>); 0] = [];
        assert_eq!(
            TlsTrust::new(&empty).unwrap_err().reason_code(),
            "tls-config"
        );
        TlsTrust::new(&[pair]).unwrap();
    }

    #[test]
    fn alerts_and_reason_codes_round_trip() {
        for code in REASON_CODES {
            if let Some(e) = TlsError::from_reason_code(code, "") {
                assert_eq!(e.reason_code(), *code);
            }
        }
        let cases = [
            (AlertDescription::UnknownCA, "unknown-ca"),
            (AlertDescription::CertificateRevoked, "revoked-certificate"),
            (AlertDescription::CertificateExpired, "certificate-expired"),
            (
                AlertDescription::UnsupportedCertificate,
                "not-node-certificate",
            ),
            (AlertDescription::AccessDenied, "unexpected-peer"),
            (
                AlertDescription::CertificateRequired,
                "certificate-required",
            ),
            (
                AlertDescription::NoApplicationProtocol,
                "no-application-protocol",
            ),
            (AlertDescription::HandshakeFailure, "handshake-failed"),
        ];
        for (alert, code) in cases {
            assert_eq!(
                TlsError::from_alert(u8::from(alert), "").reason_code(),
                code
            );
        }
    }
}
