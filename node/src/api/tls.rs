//! The officer API's HTTPS listener: officers authenticate with client certificates.
//!
//! TLS policy (STYLE 9, as for peers): ring provider chosen explicitly, TLS 1.3 only, no
//! session resumption (every connection presents its certificate afresh, so a revocation
//! takes effect on the next connection), ALPN `http/1.1`, and a client certificate is
//! **required**. It is accepted only if
//!
//! 1. rustls's WebPKI verifier accepts it against every trusted network CA and its CRL
//!    (clientAuth usage, validity, not revoked), and then
//! 2. [`liaison_certs::check_officer_cert`] accepts it (officer profile `CN=<name>@<node>,
//!    OU=<role>`, chains to a trusted CA of the officer's network (either, during a CA
//!    rollover), not revoked by that CA), and
//! 3. the officer's node is this node (an officer of another centre has no business here).
//!
//! All three run inside the handshake, so a refused certificate never reaches HTTP; the
//! refusal is logged at info with its reason code. The server presents `api.tls_cert` (the
//! ECDSA P-256 console certificate from `liaison certs console-tls`, which browsers accept)
//! or, without it, the node certificate (whose name is the node id; Liaison's own clients
//! accept it, browsers do not, as they verify no Ed25519 signatures). Officer certificates
//! may carry P-256 keys (browsers) or Ed25519 keys (scripts); either way the network CA
//! signed them.
//!
//! Each handshake runs in its connection's own task, bounded in time by
//! [`HANDSHAKE_TIMEOUT`] and in number by the listener's connection cap (a connection still
//! in its handshake has no request in progress, so a newcomer at the cap closes the oldest;
//! see [`super::serve`]), so a slow client cannot hold up others. [`OfficerConn`] carries
//! the officer's identity to the request handlers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::ApiStartError;
use liaison_certs::{check_officer_cert, officer_identity, CertError, Officer};
use liaison_protocol::{NodeId, Timestamp, TrustStore, VerifyError};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::NoServerSessionStorage;
use rustls::{CertificateError, OtherError};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::serve::Handshake;
use crate::config::Config;

/// A handshake not finished in this time is abandoned.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The rustls server configuration of the officer API (see the module documentation).
pub fn server_config(
    cfg: &Config,
    trust: &liaison_certs::tls::TlsTrust,
    node: NodeId,
) -> Result<rustls::ServerConfig, ApiStartError> {
    let provider = liaison_certs::tls::provider();
    // The trust in force at each handshake: a revoked officer is refused from the next one.
    let verifier = Arc::new(
        liaison_certs::tls::checked_client_verifier(
            trust,
            Box::new(move |store, ee, now| check_officer(store, &node, ee, now)),
        )
        .map_err(|e| {
            ApiStartError::Invalid(format!(
                "api.tls_listen: cannot build the client verifier: {e}"
            ))
        })?,
    );
    let (cert_path, key_path, what) = match (&cfg.api.tls_cert, &cfg.api.tls_key) {
        (Some(cert), Some(key)) => (cert, key, ["api.tls_cert", "api.tls_key"]),
        _ => (
            &cfg.identity.cert,
            &cfg.identity.key,
            ["identity.cert", "identity.key"],
        ),
    };
    let cert = liaison_certs::load::read_cert(cert_path).map_err(|source| ApiStartError::Cert {
        key: what[0],
        path: cert_path.display().to_string(),
        source,
    })?;
    let key = liaison_certs::load::read_key(key_path).map_err(|source| ApiStartError::Cert {
        key: what[1],
        path: key_path.display().to_string(),
        source,
    })?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| ApiStartError::Invalid(format!("api.tls_listen: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![CertificateDer::from(cert)], key)
        .map_err(|e| {
            ApiStartError::Invalid(format!(
                "{}: cannot use this certificate and key: {e}",
                what[0]
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.max_early_data_size = 0;
    Ok(config)
}

fn refusal(e: &CertError) -> rustls::Error {
    rustls::Error::InvalidCertificate(match e {
        CertError::Verify(VerifyError::UnknownCa(_)) => CertificateError::UnknownIssuer,
        CertError::Verify(VerifyError::Revoked { .. }) => CertificateError::Revoked,
        CertError::Verify(VerifyError::CertificateExpired) => CertificateError::Expired,
        CertError::Verify(VerifyError::CertificateNotYetValid) => CertificateError::NotValidYet,
        CertError::NotOfficerCertificate(_) => CertificateError::InvalidPurpose,
        other => CertificateError::Other(OtherError(Arc::new(std::io::Error::other(
            other.reason_code(),
        )))),
    })
}

/// Accepts officer client certificates of this node only (see the module documentation);
/// runs after WebPKI accepted the certificate.
fn check_officer(
    trust: &TrustStore,
    node: &NodeId,
    end_entity: &CertificateDer<'_>,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let at = Timestamp(now.as_secs().saturating_mul(1000));
    let certified = check_officer_cert(trust, end_entity, at).map_err(|e| {
        tracing::info!(reason = e.reason_code(), error = %e, "officer certificate refused");
        refusal(&e)
    })?;
    if &certified.officer.node != node {
        tracing::info!(
            reason = "unexpected-officer",
            officer = %certified.officer,
            "officer certificate refused: it is for another node"
        );
        return Err(rustls::Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        ));
    }
    Ok(())
}

/// The HTTPS listener's [`Handshake`]: TLS with the officer check, bounded by
/// [`HANDSHAKE_TIMEOUT`]; the peer is the officer.
#[derive(Clone)]
pub struct OfficerHandshake {
    acceptor: TlsAcceptor,
    generation: tokio::sync::watch::Receiver<u64>,
}

impl OfficerHandshake {
    /// Handshakes under `config` (from [`server_config`]); `generation` follows the trust's
    /// replacements.
    pub(crate) fn new(
        config: rustls::ServerConfig,
        generation: tokio::sync::watch::Receiver<u64>,
    ) -> Self {
        Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            generation,
        }
    }
}

impl Handshake for OfficerHandshake {
    type Io = TlsStream<TcpStream>;
    type Peer = OfficerConn;

    async fn handshake(
        &self,
        tcp: TcpStream,
        remote: SocketAddr,
    ) -> Option<(TlsStream<TcpStream>, OfficerConn)> {
        // Read before the handshake: a trust replaced during it is then checked again.
        let generation = *self.generation.borrow();
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                let cert = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .map(|c| Arc::new(c.as_ref().to_vec()));
                let officer = cert.as_deref().and_then(|c| officer_identity(c).ok());
                Some((
                    tls,
                    OfficerConn {
                        officer,
                        remote,
                        cert,
                        generation,
                    },
                ))
            }
            Ok(Err(e)) => {
                tracing::debug!(%remote, error = %e, "officer API: TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(%remote, "officer API: TLS handshake timed out");
                None
            }
        }
    }
}

/// The officer behind an HTTPS connection, as verified in its handshake.
#[derive(Clone, Debug)]
pub struct OfficerConn {
    /// The officer (none only if the verified certificate could not be re-read, which the
    /// handshake rules out; such a connection is treated as unauthenticated).
    pub officer: Option<Officer>,
    /// The client's address.
    pub remote: SocketAddr,
    /// The certificate the handshake verified (DER).
    cert: Option<Arc<Vec<u8>>>,
    /// The trust's generation at the handshake (see [`OfficerConn::still_accepted`]).
    generation: u64,
}

impl OfficerConn {
    /// Whether the trust in force still accepts this connection's certificate: checked again
    /// only if the trust was replaced since the handshake (a CRL reloaded or received), so a
    /// revoked officer's open connection is refused from its next request.
    pub(crate) fn still_accepted(&self, trust: &crate::core::Trust) -> Result<(), String> {
        if trust.generation() == self.generation {
            return Ok(());
        }
        let Some(cert) = &self.cert else {
            return Err("no client certificate".into());
        };
        let now = liaison_certs::timestamp(time::OffsetDateTime::now_utc());
        check_officer_cert(&trust.store(), cert, now)
            .map(|_| ())
            .map_err(|e| format!("{e} ({})", e.reason_code()))
    }
}
