//! Trust: which network CAs a node trusts, their revocation lists, and the one place where a
//! certificate becomes a node id.
//!
//! A network CA certificate has subject `CN=<network>, OU=network CA, O=Liaison` and a
//! DNS name constraint permitting only `<network>` and its sub-names. A node certificate
//! names `<centre>.<network>` as its only DNS subject alternative name. A node certificate
//! is checked against the CAs of *the network its node id names*, never against any other
//! trusted CA, so a `gulf` CA cannot vouch for a `central-asia` node.
//!
//! A network may have several trusted CAs at once: while it rolls its CA over, nodes trust
//! the old and the new one, and certificates of either verify. Each CA comes with its own
//! CRL, which applies only to the certificates that CA issued, and a certificate is checked
//! against the validity and CRL of the CA it actually chains to ([`CertifiedNode::ca`]). The
//! same CA (the same key) cannot be trusted twice ([`TrustError::DuplicateCa`]): its two
//! CRLs could disagree about a certificate.
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

use crate::error::{TrustError, VerifyError};
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
    /// The trusted CA it chains to (the one whose validity and CRL apply to it).
    pub ca: CaFingerprint,
}

/// The SHA-256 fingerprint of a CA certificate: how a trusted CA is named, in errors and to
/// operators (`openssl x509 -noout -fingerprint -sha256` prints the same).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaFingerprint(
    /// The SHA-256 digest of the certificate's DER.
    pub [u8; 32],
);

impl CaFingerprint {
    /// The fingerprint of a certificate's DER bytes.
    pub fn of(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }
}

impl std::fmt::Display for CaFingerprint {
    /// Upper-case hex bytes separated by colons (`AB:CD:…`), as OpenSSL prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for CaFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CaFingerprint({self})")
    }
}

/// One trusted network CA and its revocation list. A CRL applies only to the certificates
/// its own CA issued: during a CA rollover a network has two CAs, each with its own CRL.
#[derive(Clone)]
pub struct TrustedCa {
    network: NetworkId,
    fingerprint: CaFingerprint,
    ca_der: Vec<u8>,
    /// The CA's SubjectPublicKeyInfo (DER): what identifies the CA to webpki's path building.
    spki: Vec<u8>,
    not_before: Timestamp,
    not_after: Timestamp,
    /// Revoked serials (raw DER content bytes) and their revocation dates.
    revoked: HashMap<Vec<u8>, Timestamp>,
    crl_der: Option<Vec<u8>>,
}

impl std::fmt::Debug for TrustedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedCa")
            .field("network", &self.network)
            .field("fingerprint", &self.fingerprint)
            .field("revoked", &self.revoked.len())
            .finish_non_exhaustive()
    }
}

impl TrustedCa {
    /// The network this CA certifies nodes of.
    pub fn network(&self) -> &NetworkId {
        &self.network
    }

    /// The SHA-256 fingerprint of the CA certificate.
    pub fn fingerprint(&self) -> CaFingerprint {
        self.fingerprint
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// This CA's CRL (DER), if one was given.
    pub fn crl_der(&self) -> Option<&[u8]> {
        self.crl_der.as_deref()
    }

    /// Start of the CA certificate's validity.
    pub fn not_before(&self) -> Timestamp {
        self.not_before
    }

    /// End of the CA certificate's validity.
    pub fn not_after(&self) -> Timestamp {
        self.not_after
    }

    /// Whether this CA's CRL revokes the serial (raw bytes) at time `at`.
    pub fn is_revoked(&self, serial: &[u8], at: Timestamp) -> bool {
        self.revoked.get(serial).is_some_and(|&when| when <= at)
    }
}

/// The CAs trusted for one network, in the order they were added, and their trust anchors
/// (the same order), as webpki takes them.
#[derive(Clone, Default)]
struct NetworkCas {
    cas: Vec<TrustedCa>,
    anchors: Vec<TrustAnchor<'static>>,
}

/// The set of network CAs (and their CRLs) a node or auditor trusts: one or more per
/// network. A network has two while it rolls its CA over: a certificate of the network is
/// accepted if it chains to either and the CRL of the CA it chains to does not revoke it.
///
/// Verified node certificates are cached by their exact bytes, so the chain signature is
/// checked once per certificate, not once per message; validity and revocation are still
/// checked against every message's time. The store is `Sync`: verify on every core.
#[derive(Default)]
pub struct TrustStore {
    networks: BTreeMap<NetworkId, NetworkCas>,
    /// Keyed by the certificate's DER itself (a hit needs byte equality): hashing ~500 bytes
    /// with the map's SipHash costs a fraction of a SHA-256 of them, on every message.
    cache: RwLock<HashMap<Box<[u8]>, CertifiedNode>>,
}

/// A clone trusts the same CAs with the same CRLs; its cache of verified certificates starts
/// empty.
impl Clone for TrustStore {
    fn clone(&self) -> Self {
        Self {
            networks: self.networks.clone(),
            cache: RwLock::default(),
        }
    }
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field(
                "networks",
                &self
                    .networks
                    .iter()
                    .map(|(n, c)| (n, c.cas.len()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TrustStore {
    /// An empty store: trusts nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts a network CA, with its CRL if it has one; returns the CA's network. The CRL
    /// must be signed by the CA's key. A second, different CA for a network already trusted
    /// is added beside the first (a CA rollover); the same CA again — the same key, whether
    /// or not the certificate's bytes differ — is refused, since two CRLs for one CA would
    /// make its revocations ambiguous.
    pub fn add_ca(
        &mut self,
        ca_der: &[u8],
        crl_der: Option<&[u8]>,
    ) -> Result<NetworkId, TrustError> {
        let ca = parse_cert(ca_der)?;
        let network = network_of(&ca)?;
        let anchor = webpki::anchor_from_trusted_cert(&CertificateDer::from(ca_der))
            .map_err(|e| VerifyError::MalformedCertificate(format!("{e:?}")))?
            .to_owned();
        let fingerprint = CaFingerprint::of(ca_der);
        if let Some(same) = self
            .cas_of(&network)
            .iter()
            .find(|t| t.spki.as_slice() == anchor.subject_public_key_info.as_ref())
        {
            return Err(TrustError::DuplicateCa {
                network: network.to_string(),
                fingerprint: fingerprint.to_string(),
                trusted: same.fingerprint.to_string(),
            });
        }
        let mut revoked = HashMap::new();
        if let Some(crl_der) = crl_der {
            let (rest, crl) = CertificateRevocationList::from_der(crl_der)
                .map_err(|e| VerifyError::BadCrl(e.to_string()))?;
            if !rest.is_empty() {
                return Err(VerifyError::BadCrl("trailing bytes".into()).into());
            }
            if crl.issuer() != ca.subject() {
                return Err(VerifyError::BadCrl(format!(
                    "CRL is issued by {}, not by the CA of {network}",
                    crl.issuer()
                ))
                .into());
            }
            crl.verify_signature(ca.public_key())
                .map_err(|e| VerifyError::BadCrl(format!("signature: {e}")))?;
            for r in crl.iter_revoked_certificates() {
                revoked.insert(r.raw_serial().to_vec(), to_ts(&r.revocation_date));
            }
        }
        let trust = TrustedCa {
            network: network.clone(),
            fingerprint,
            ca_der: ca_der.to_vec(),
            spki: anchor.subject_public_key_info.as_ref().to_vec(),
            not_before: to_ts(&ca.validity().not_before),
            not_after: to_ts(&ca.validity().not_after),
            revoked,
            crl_der: crl_der.map(<[u8]>::to_vec),
        };
        let entry = self.networks.entry(network.clone()).or_default();
        entry.cas.push(trust);
        entry.anchors.push(anchor);
        self.clear_cache();
        Ok(network)
    }

    fn clear_cache(&self) {
        if let Ok(mut c) = self.cache.write() {
            c.clear();
        }
    }

    /// The networks trusted, each once.
    pub fn networks(&self) -> impl Iterator<Item = &NetworkId> {
        self.networks.keys()
    }

    /// Every trusted CA: by network, and within a network in the order they were added.
    pub fn cas(&self) -> impl Iterator<Item = &TrustedCa> {
        self.networks.values().flat_map(|n| n.cas.iter())
    }

    /// The CAs trusted for `network` (none if it is not trusted).
    pub fn cas_of(&self, network: &NetworkId) -> &[TrustedCa] {
        self.networks
            .get(network)
            .map(|n| n.cas.as_slice())
            .unwrap_or_default()
    }

    /// The trusted CA of `network` with this fingerprint.
    pub fn ca(&self, network: &NetworkId, fingerprint: &CaFingerprint) -> Option<&TrustedCa> {
        self.cas_of(network)
            .iter()
            .find(|t| &t.fingerprint == fingerprint)
    }

    /// The trusted CA of `network` that issued the end-entity certificate `der`: the chain
    /// verifies at `at` for TLS client authentication with one of the network's CAs (during a
    /// rollover, either). Neither validity of that CA at `at` beyond webpki's checks nor
    /// revocation is checked here: the caller checks them against the CA returned.
    pub fn issuing_ca(
        &self,
        der: &[u8],
        network: &NetworkId,
        at: Timestamp,
    ) -> Result<&TrustedCa, VerifyError> {
        let cert_der = CertificateDer::from(der);
        let ee = EndEntityCert::try_from(&cert_der)
            .map_err(|e| VerifyError::MalformedCertificate(format!("{e:?}")))?;
        self.verify_path(&ee, network, at)
    }

    /// Verifies `ee` against every CA of `network` at once, at `at`: webpki tries each whose
    /// name matches the issuer (all of them, during a rollover, as they share their name) and
    /// reports the most specific failure. Returns the CA that heads the verified path.
    fn verify_path(
        &self,
        ee: &EndEntityCert<'_>,
        network: &NetworkId,
        at: Timestamp,
    ) -> Result<&TrustedCa, VerifyError> {
        let Some(entry) = self.networks.get(network) else {
            return Err(VerifyError::UnknownCa(network.to_string()));
        };
        let time = UnixTime::since_unix_epoch(Duration::from_millis(at.millis()));
        let path = ee
            .verify_for_usage(
                &[webpki::ring::ED25519],
                &entry.anchors,
                &[],
                time,
                KeyUsage::client_auth(),
                None,
                None,
            )
            .map_err(map_webpki)?;
        let spki = path.anchor().subject_public_key_info.as_ref();
        entry
            .cas
            .iter()
            .find(|t| t.spki.as_slice() == spki)
            .ok_or_else(|| VerifyError::BadChain("verified by an anchor no CA stands for".into()))
    }

    /// Checks a node certificate at time `at`: chains to a CA of the network its node id
    /// names, within validity (its own and that CA's), not revoked at `at` by that CA's CRL,
    /// usable for TLS client and server authentication. Equivalent to [`Self::certify`] then
    /// [`Self::check_at`].
    pub fn check_node_cert(&self, der: &[u8], at: Timestamp) -> Result<CertifiedNode, VerifyError> {
        let node = self.certify(der)?;
        self.check_at(&node, at)?;
        Ok(node)
    }

    /// The time-independent part of a node certificate check: it parses, names one node, and
    /// chains to a trusted CA of that node's network. Cached by the certificate's bytes.
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

    /// The time-dependent part: at `at`, the certificate and the CA it chains to are within
    /// validity, and that CA's CRL does not revoke the certificate.
    pub fn check_at(&self, node: &CertifiedNode, at: Timestamp) -> Result<(), VerifyError> {
        let network = node.node.network();
        let ca = self.ca(&network, &node.ca).ok_or_else(|| {
            VerifyError::UnknownCa(format!("{network} (CA {} is not trusted)", node.ca))
        })?;
        if at < node.not_before.max(ca.not_before) {
            return Err(VerifyError::CertificateNotYetValid);
        }
        if at > node.not_after.min(ca.not_after) {
            return Err(VerifyError::CertificateExpired);
        }
        let serial = crate::ids::unhex(&node.serial).unwrap_or_default();
        if ca.is_revoked(&serial, at) {
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
        let public_key = ed25519_key_of(&cert)?;
        let cert_der = CertificateDer::from(der);
        let ee = EndEntityCert::try_from(&cert_der)
            .map_err(|e| VerifyError::MalformedCertificate(format!("{e:?}")))?;
        let not_before = to_ts(&cert.validity().not_before);
        let ca = self.verify_path(&ee, &network, not_before)?.fingerprint;
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
            ca,
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams,
        DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyIdMethod, KeyPair,
        KeyUsagePurpose, NameConstraints, RevokedCertParams, SanType, SerialNumber, PKCS_ED25519,
    };

    /// A network CA of Liaison's profile (certs/src/ca.rs), valid 2020–2040.
    struct Ca {
        der: Vec<u8>,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca(network: &str) -> Ca {
        let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, network);
        p.distinguished_name
            .push(DnType::OrganizationalUnitName, "network CA");
        p.distinguished_name
            .push(DnType::OrganizationName, "Liaison");
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.name_constraints = Some(NameConstraints {
            permitted_subtrees: vec![GeneralSubtree::DnsName(network.to_owned())],
            excluded_subtrees: vec![],
        });
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2040, 1, 1);
        let der = p.self_signed(&key).unwrap().der().to_vec();
        Ca {
            der,
            issuer: Issuer::new(p, key),
        }
    }

    /// A node certificate for `node` (valid 2021–2035) and its raw serial.
    fn node(ca: &Ca, node: &str, serial: u64) -> (Vec<u8>, Vec<u8>) {
        let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let mut p = CertificateParams::default();
        p.subject_alt_names = vec![SanType::DnsName(node.try_into().unwrap())];
        p.distinguished_name.push(DnType::CommonName, node);
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        p.serial_number = Some(SerialNumber::from(serial));
        p.not_before = date_time_ymd(2021, 1, 1);
        p.not_after = date_time_ymd(2035, 1, 1);
        let der = p.signed_by(&key, &ca.issuer).unwrap().der().to_vec();
        let raw = parse_cert(&der)
            .unwrap()
            .tbs_certificate
            .raw_serial()
            .to_vec();
        (der, raw)
    }

    /// The CA's CRL revoking `serials` from 2024-01-01.
    fn crl(ca: &Ca, serials: &[u64]) -> Vec<u8> {
        CertificateRevocationListParams {
            this_update: date_time_ymd(2024, 1, 1),
            next_update: date_time_ymd(2024, 2, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: date_time_ymd(2024, 1, 1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&ca.issuer)
        .unwrap()
        .der()
        .to_vec()
    }

    fn at(year: i32) -> Timestamp {
        Timestamp::from_secs(date_time_ymd(year, 6, 1).unix_timestamp() as u64)
    }

    #[test]
    fn a_network_can_trust_two_cas_and_certificates_of_either_verify() {
        let (old, new, gulf) = (ca("central-asia"), ca("central-asia"), ca("gulf"));
        let mut trust = TrustStore::new();
        trust.add_ca(&old.der, Some(&crl(&old, &[]))).unwrap();
        trust.add_ca(&gulf.der, Some(&crl(&gulf, &[]))).unwrap();
        let n = trust.add_ca(&new.der, Some(&crl(&new, &[]))).unwrap();
        assert_eq!(n.as_str(), "central-asia");
        assert_eq!(trust.networks().count(), 2);
        assert_eq!(trust.cas().count(), 3);
        assert_eq!(trust.cas_of(&n).len(), 2);
        let (a, _) = node(&old, "kz.central-asia", 1);
        let (b, _) = node(&new, "uz.central-asia", 2);
        let a = trust.check_node_cert(&a, at(2025)).unwrap();
        let b = trust.check_node_cert(&b, at(2025)).unwrap();
        assert_eq!(a.ca, CaFingerprint::of(&old.der));
        assert_eq!(b.ca, CaFingerprint::of(&new.der));
        assert_eq!(
            trust.ca(&n, &b.ca).map(TrustedCa::ca_der),
            Some(&new.der[..])
        );
        // A certificate of a CA of the same name that is not trusted is refused.
        let (c, _) = node(&ca("central-asia"), "tj.central-asia", 3);
        let err = trust.check_node_cert(&c, at(2025)).unwrap_err();
        assert_eq!(err.reason_code(), "bad-certificate-chain", "{err}");
    }

    #[test]
    fn the_same_ca_twice_is_refused() {
        let old = ca("central-asia");
        let mut trust = TrustStore::new();
        trust.add_ca(&old.der, None).unwrap();
        let err = trust.add_ca(&old.der, Some(&crl(&old, &[]))).unwrap_err();
        assert_eq!(err.reason_code(), "duplicate-ca");
        let fp = CaFingerprint::of(&old.der).to_string();
        assert_eq!(
            err.to_string(),
            format!("the central-asia CA {fp} is already trusted")
        );
        // A second certificate for the same key is the same CA.
        let mut p = CertificateParams::default();
        p.distinguished_name
            .push(DnType::CommonName, "central-asia");
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.not_after = date_time_ymd(2045, 1, 1);
        let again = p.self_signed(old.issuer.key()).unwrap().der().to_vec();
        let err = trust.add_ca(&again, None).unwrap_err();
        assert_eq!(err.reason_code(), "duplicate-ca");
        assert!(err.to_string().contains("same key"), "{err}");
        assert_eq!(trust.cas().count(), 1, "nothing was added");
    }

    #[test]
    fn a_crl_revokes_only_the_certificates_of_its_own_ca() {
        let (old, new) = (ca("central-asia"), ca("central-asia"));
        // The same serial under both CAs; the old CA revokes it.
        let (a, serial) = node(&old, "kz.central-asia", 7);
        let (b, _) = node(&new, "kz.central-asia", 7);
        let mut trust = TrustStore::new();
        trust.add_ca(&old.der, Some(&crl(&old, &[7]))).unwrap();
        trust.add_ca(&new.der, Some(&crl(&new, &[]))).unwrap();
        let err = trust.check_node_cert(&a, at(2025)).unwrap_err();
        assert_eq!(err.reason_code(), "revoked-certificate");
        trust.check_node_cert(&a, at(2023)).unwrap();
        trust.check_node_cert(&b, at(2025)).unwrap();
        let [old_ca, new_ca] = trust.cas_of(&"central-asia".parse().unwrap()) else {
            panic!("two CAs")
        };
        assert!(old_ca.is_revoked(&serial, at(2025)));
        assert!(!new_ca.is_revoked(&serial, at(2025)));
        // And the other way round, whichever CA was added first.
        let mut trust = TrustStore::new();
        trust.add_ca(&new.der, Some(&crl(&new, &[7]))).unwrap();
        trust.add_ca(&old.der, Some(&crl(&old, &[]))).unwrap();
        trust.check_node_cert(&a, at(2025)).unwrap();
        let err = trust.check_node_cert(&b, at(2025)).unwrap_err();
        assert_eq!(err.reason_code(), "revoked-certificate");
    }

    #[test]
    fn a_certified_node_of_a_ca_no_longer_trusted_fails_the_time_checks() {
        let (old, new) = (ca("central-asia"), ca("central-asia"));
        let (a, _) = node(&old, "kz.central-asia", 1);
        let mut both = TrustStore::new();
        both.add_ca(&old.der, None).unwrap();
        both.add_ca(&new.der, None).unwrap();
        let certified = both.certify(&a).unwrap();
        let mut retired = TrustStore::new();
        retired.add_ca(&new.der, None).unwrap();
        let err = retired.check_at(&certified, at(2025)).unwrap_err();
        assert_eq!(err.reason_code(), "unknown-ca");
        let err = retired.check_node_cert(&a, at(2025)).unwrap_err();
        assert_eq!(err.reason_code(), "bad-certificate-chain");
    }

    #[test]
    fn issuing_ca_names_the_ca_that_signed() {
        let (old, new) = (ca("central-asia"), ca("central-asia"));
        let mut trust = TrustStore::new();
        trust.add_ca(&old.der, None).unwrap();
        trust.add_ca(&new.der, None).unwrap();
        let net: NetworkId = "central-asia".parse().unwrap();
        for (ca, serial) in [(&old, 1), (&new, 2)] {
            let (cert, _) = node(ca, "kz.central-asia", serial);
            let found = trust.issuing_ca(&cert, &net, at(2025)).unwrap();
            assert_eq!(found.fingerprint(), CaFingerprint::of(&ca.der));
        }
        let err = trust
            .issuing_ca(
                &node(&old, "kz.central-asia", 3).0,
                &"gulf".parse().unwrap(),
                at(2025),
            )
            .unwrap_err();
        assert_eq!(err.reason_code(), "unknown-ca");
    }

    #[test]
    fn a_fingerprint_reads_as_openssl_prints_it() {
        let f = CaFingerprint([0xab; 32]);
        assert_eq!(f.to_string(), ["AB"; 32].join(":"));
    }
}
