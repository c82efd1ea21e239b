//! Trust: which network CAs a node trusts, their revocation lists, and the one place where a
//! certificate becomes a node id.
//!
//! A network CA certificate has subject `CN=<network>, OU=network CA, O=Liaison` and a
//! DNS name constraint permitting only `<network>` and its sub-names. A node certificate
//! names `<centre>.<network>` as its only DNS subject alternative name. A node certificate
//! is checked against the CA of *the network its node id names*, never against any other
//! trusted CA, so a `gulf` CA cannot vouch for a `central-asia` node.
//!
//! Time is an argument: a message is checked at its creation time (so a message signed
//! before its signer's certificate was revoked or expired still verifies years later),
//! a TLS peer at the current time. A revoked certificate's messages created at or after the
//! revocation date are refused. (A compromised key can backdate `created_at`; receivers
//! bound that by refusing messages whose creation time is far from their own clock.)

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::error::VerifyError;
use crate::ids::{hex, NetworkId, NodeId, Timestamp};

/// Entries kept in the verified-certificate cache before it is cleared.
const CERT_CACHE_MAX: usize = 10_000;

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, VerifyError> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| VerifyError::MalformedCertificate(e.to_string()))?;
    if !rest.is_empty() {
        return Err(VerifyError::MalformedCertificate(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    Ok(cert)
}

/// The node id a node certificate names (its single DNS subject alternative name).
/// This is the only function that turns a certificate into a node id.
pub fn node_id_from_cert(der: &[u8]) -> Result<NodeId, VerifyError> {
    let cert = parse_cert(der)?;
    node_id_of(&cert)
}

fn node_id_of(cert: &X509Certificate<'_>) -> Result<NodeId, VerifyError> {
    let san = cert
        .subject_alternative_name()
        .map_err(|e| VerifyError::MalformedCertificate(e.to_string()))?
        .ok_or_else(|| VerifyError::NotNodeCertificate("no subject alternative name".into()))?;
    let mut dns = san.value.general_names.iter().filter_map(|g| match g {
        GeneralName::DNSName(d) => Some(*d),
        _ => None,
    });
    let (Some(name), None) = (dns.next(), dns.next()) else {
        return Err(VerifyError::NotNodeCertificate(
            "a node certificate names exactly one DNS name".into(),
        ));
    };
    name.parse()
        .map_err(|e| VerifyError::NotNodeCertificate(format!("{name:?}: {e}")))
}

/// The raw 32-byte Ed25519 public key of a certificate.
pub fn cert_public_key(der: &[u8]) -> Result<[u8; 32], VerifyError> {
    let cert = parse_cert(der)?;
    ed25519_key_of(&cert)
}

fn ed25519_key_of(cert: &X509Certificate<'_>) -> Result<[u8; 32], VerifyError> {
    let spki = cert.public_key();
    if spki.algorithm.algorithm != x509_parser::oid_registry::OID_SIG_ED25519 {
        return Err(VerifyError::MalformedCertificate(
            "only Ed25519 keys are accepted".into(),
        ));
    }
    spki.subject_public_key
        .data
        .as_ref()
        .try_into()
        .map_err(|_| VerifyError::MalformedCertificate("Ed25519 key is not 32 bytes".into()))
}

fn to_ts(t: &x509_parser::time::ASN1Time) -> Timestamp {
    Timestamp::from_secs(t.timestamp().max(0) as u64)
}

/// The network a CA certificate is for (its subject common name).
pub fn network_of_ca(der: &[u8]) -> Result<NetworkId, VerifyError> {
    let cert = parse_cert(der)?;
    network_of(&cert)
}

fn network_of(cert: &X509Certificate<'_>) -> Result<NetworkId, VerifyError> {
    if !cert.is_ca() {
        return Err(VerifyError::BadChain("not a CA certificate".into()));
    }
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or_else(|| VerifyError::MalformedCertificate("CA has no common name".into()))?;
    cn.parse()
        .map_err(|e| VerifyError::MalformedCertificate(format!("CA common name {cn:?}: {e}")))
}

/// What a verified node certificate says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertifiedNode {
    /// The node the certificate names.
    pub node: NodeId,
    /// Its Ed25519 public key.
    pub public_key: [u8; 32],
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
}

struct NetworkTrust {
    ca_der: Vec<u8>,
    anchor: TrustAnchor<'static>,
    ca_not_before: Timestamp,
    ca_not_after: Timestamp,
    /// Revoked serials (raw DER content bytes) and their revocation dates.
    revoked: HashMap<Vec<u8>, Timestamp>,
    crl_der: Option<Vec<u8>>,
}

/// The set of network CAs (and their CRLs) a node or auditor trusts.
///
/// Verified node certificates are cached by their exact bytes, so the chain signature is
/// checked once per certificate, not once per message; validity and revocation are still
/// checked against every message's time. The store is `Sync`: verify on every core.
#[derive(Default)]
pub struct TrustStore {
    networks: BTreeMap<NetworkId, NetworkTrust>,
    /// Keyed by the certificate's DER itself (a hit needs byte equality): hashing ~500 bytes
    /// with the map's SipHash costs a fraction of a SHA-256 of them, on every message.
    cache: RwLock<HashMap<Box<[u8]>, CertifiedNode>>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("networks", &self.networks.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TrustStore {
    /// An empty store: trusts nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts a network CA, with its CRL if it has one. The CRL's signature must verify
    /// with the CA's key. Replaces an earlier CA or CRL for the same network.
    pub fn add_network(
        &mut self,
        ca_der: &[u8],
        crl_der: Option<&[u8]>,
    ) -> Result<NetworkId, VerifyError> {
        let ca = parse_cert(ca_der)?;
        let network = network_of(&ca)?;
        let anchor = webpki::anchor_from_trusted_cert(&CertificateDer::from(ca_der))
            .map_err(|e| VerifyError::MalformedCertificate(format!("{e:?}")))?
            .to_owned();
        let mut revoked = HashMap::new();
        if let Some(crl_der) = crl_der {
            let (rest, crl) = CertificateRevocationList::from_der(crl_der)
                .map_err(|e| VerifyError::BadCrl(e.to_string()))?;
            if !rest.is_empty() {
                return Err(VerifyError::BadCrl("trailing bytes".into()));
            }
            if crl.issuer() != ca.subject() {
                return Err(VerifyError::BadCrl(format!(
                    "CRL is issued by {}, not by the CA of {network}",
                    crl.issuer()
                )));
            }
            crl.verify_signature(ca.public_key())
                .map_err(|e| VerifyError::BadCrl(format!("signature: {e}")))?;
            for r in crl.iter_revoked_certificates() {
                revoked.insert(r.raw_serial().to_vec(), to_ts(&r.revocation_date));
            }
        }
        let trust = NetworkTrust {
            ca_der: ca_der.to_vec(),
            anchor,
            ca_not_before: to_ts(&ca.validity().not_before),
            ca_not_after: to_ts(&ca.validity().not_after),
            revoked,
            crl_der: crl_der.map(<[u8]>::to_vec),
        };
        self.networks.insert(network.clone(), trust);
        self.clear_cache();
        Ok(network)
    }

    fn clear_cache(&self) {
        if let Ok(mut c) = self.cache.write() {
            c.clear();
        }
    }

    /// The networks trusted.
    pub fn networks(&self) -> impl Iterator<Item = &NetworkId> {
        self.networks.keys()
    }

    /// The CA certificate (DER) of a trusted network.
    pub fn ca_der(&self, network: &NetworkId) -> Option<&[u8]> {
        self.networks.get(network).map(|n| n.ca_der.as_slice())
    }

    /// The CRL (DER) of a trusted network, if one was given.
    pub fn crl_der(&self, network: &NetworkId) -> Option<&[u8]> {
        self.networks
            .get(network)
            .and_then(|n| n.crl_der.as_deref())
    }

    /// Whether a serial (raw bytes) is revoked in `network` at time `at`.
    pub fn is_revoked(&self, network: &NetworkId, serial: &[u8], at: Timestamp) -> bool {
        self.networks
            .get(network)
            .and_then(|n| n.revoked.get(serial))
            .is_some_and(|&when| when <= at)
    }

    /// Checks a node certificate at time `at`: chains to the CA of the network its node id
    /// names, within validity (its own and its CA's), not revoked at `at`, usable for TLS
    /// client and server authentication. Equivalent to [`Self::certify`] then [`Self::check_at`].
    pub fn check_node_cert(&self, der: &[u8], at: Timestamp) -> Result<CertifiedNode, VerifyError> {
        let node = self.certify(der)?;
        self.check_at(&node, at)?;
        Ok(node)
    }

    /// The time-independent part of a node certificate check: it parses, names one node, and
    /// chains to the trusted CA of that node's network. Cached by the certificate's bytes.
    pub fn certify(&self, der: &[u8]) -> Result<CertifiedNode, VerifyError> {
        if let Some(node) = self.cache.read().ok().and_then(|c| c.get(der).cloned()) {
            return Ok(node);
        }
        let node = self.check_chain(der)?;
        if let Ok(mut c) = self.cache.write() {
            if c.len() >= CERT_CACHE_MAX {
                c.clear();
            }
            c.insert(der.into(), node.clone());
        }
        Ok(node)
    }

    /// The time-dependent part: at `at`, the certificate and its CA are within validity and
    /// the certificate is not revoked.
    pub fn check_at(&self, node: &CertifiedNode, at: Timestamp) -> Result<(), VerifyError> {
        let network = node.node.network();
        let trust = self
            .networks
            .get(&network)
            .ok_or_else(|| VerifyError::UnknownCa(network.to_string()))?;
        if at < node.not_before.max(trust.ca_not_before) {
            return Err(VerifyError::CertificateNotYetValid);
        }
        if at > node.not_after.min(trust.ca_not_after) {
            return Err(VerifyError::CertificateExpired);
        }
        let serial = crate::ids::unhex(&node.serial).unwrap_or_default();
        if self.is_revoked(&network, &serial, at) {
            return Err(VerifyError::Revoked {
                serial: node.serial.clone(),
            });
        }
        Ok(())
    }

    /// Full chain check (no cache), evaluated at the certificate's own start of validity so
    /// the result does not depend on the current time; [`Self::check_at`] does the time checks.
    fn check_chain(&self, der: &[u8]) -> Result<CertifiedNode, VerifyError> {
        let cert = parse_cert(der)?;
        let node = node_id_of(&cert)?;
        let network = node.network();
        let trust = self
            .networks
            .get(&network)
            .ok_or_else(|| VerifyError::UnknownCa(network.to_string()))?;
        let public_key = ed25519_key_of(&cert)?;
        let cert_der = CertificateDer::from(der);
        let ee = EndEntityCert::try_from(&cert_der)
            .map_err(|e| VerifyError::MalformedCertificate(format!("{e:?}")))?;
        let not_before = to_ts(&cert.validity().not_before);
        let time = UnixTime::since_unix_epoch(Duration::from_millis(not_before.millis()));
        ee.verify_for_usage(
            &[webpki::ring::ED25519],
            std::slice::from_ref(&trust.anchor),
            &[],
            time,
            KeyUsage::client_auth(),
            None,
            None,
        )
        .map_err(map_webpki)?;
        let name = ServerName::try_from(node.as_str())
            .map_err(|e| VerifyError::NotNodeCertificate(e.to_string()))?;
        ee.verify_is_valid_for_subject_name(&name)
            .map_err(|e| VerifyError::NotNodeCertificate(format!("{e:?}")))?;
        Ok(CertifiedNode {
            node,
            public_key,
            serial: hex(cert.tbs_certificate.raw_serial()),
            not_before,
            not_after: to_ts(&cert.validity().not_after),
        })
    }
}

fn map_webpki(e: webpki::Error) -> VerifyError {
    match e {
        webpki::Error::CertExpired { .. } => VerifyError::CertificateExpired,
        webpki::Error::CertNotValidYet { .. } => VerifyError::CertificateNotYetValid,
        webpki::Error::CertRevoked => VerifyError::Revoked {
            serial: String::new(),
        },
        other => VerifyError::BadChain(describe_webpki(&other)),
    }
}

/// A certificate path error in words. webpki's own text is its `Debug` form, which for some
/// errors lists object identifiers and algorithm ids as raw bytes.
pub fn describe_webpki(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => "it was not issued by this CA".into(),
        E::InvalidSignatureForPublicKey | E::InvalidCrlSignatureForPublicKey => {
            "its signature does not verify with the CA's key (issued by another CA of the same name?)"
                .into()
        }
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => {
            "it is signed with an algorithm Liaison does not accept (only Ed25519)".into()
        }
        E::RequiredEkuNotFoundContext(_) => {
            "it is not valid for this use: its extended key usage lacks TLS client or server authentication"
                .into()
        }
        E::CertRevoked => "it is revoked".into(),
        E::CaUsedAsEndEntity => "it is a CA certificate, not a node or officer certificate".into(),
        E::EndEntityUsedAsCa => "the CA certificate is not a CA (basic constraints)".into(),
        E::CertNotValidForName(_) => "it does not name the expected node".into(),
        E::BadDer | E::BadDerTime | E::TrailingData(_) | E::MalformedExtensions => {
            "it is not well-formed DER".into()
        }
        E::UnsupportedCertVersion => "it is not an X.509 v3 certificate".into(),
        E::UnsupportedCriticalExtension => "it has a critical extension Liaison does not know".into(),
        E::InvalidCertValidity => "its validity period is invalid".into(),
        E::PathLenConstraintViolated
        | E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded => "its chain is too long".into(),
        E::NameConstraintViolation => "it violates the CA's name constraints".into(),
        other => {
            // The variant's name only: never the bytes a context may carry.
            let debug = format!("{other:?}");
            let name = debug
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or("unknown");
            format!("the chain does not verify ({name})")
        }
    }
}
