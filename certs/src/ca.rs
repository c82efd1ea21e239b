//! Network certificate authorities: creating one, loading one from its directory, and
//! issuing node and officer certificates.
//!
//! A CA directory holds `ca.crt`, `ca.key` (mode 0600), `crl.pem` (always present: an
//! empty CRL is written when the network is created) and `issued/<serial>.crt`, a copy of
//! every certificate the CA issued, so the operator can see and revoke what was issued.
//!
//! The certificate profiles are fixed here, and [`liaison_protocol::trust`] relies on them:
//!
//! | | subject | extensions |
//! |---|---|---|
//! | network CA | `CN=<network>, OU=network CA, O=Liaison` | CA, pathlen 0; keyCertSign, cRLSign, digitalSignature; DNS name constraint permitting `<network>` |
//! | node | `CN=<centre>.<network>, O=<centre>` | one DNS SAN `<centre>.<network>`; digitalSignature; serverAuth + clientAuth |
//! | officer | `CN=<name>@<centre>.<network>, OU=<role>, O=<centre>` | no SAN; digitalSignature; clientAuth |
//!
//! CA and node keys are Ed25519. Officer keys are ECDSA P-256 by default ([`OfficerKey`]):
//! browsers offer neither Ed25519 client keys nor Ed25519 signatures in TLS, and officers use
//! their certificates in a browser (the console); the CA still signs them with Ed25519, which
//! only the node checks. `--key ed25519` remains for scripts. Serial numbers are 16 random bytes with the top bit clear, never
//! derived from the key. The name constraint is what lets a relying party trust a CA for one
//! network only: it cannot vouch for `x.gulf` if it is the `central-asia` CA. Officer
//! certificates carry no DNS name, and their common name contains `@`, so no verifier
//! mistakes it for a host name that the constraint would have to cover.

use std::fmt;
use std::path::{Path, PathBuf};

use liaison_protocol::ids::hex;
use liaison_protocol::{CentreId, NetworkId, NodeId};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, NameConstraints, SanType,
    SerialNumber, PKCS_ECDSA_P256_SHA256, PKCS_ED25519,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};
use zeroize::Zeroizing;

use crate::error::CertError;
use crate::identity::{OfficerName, Role};
use crate::load::{self, NewFile};
use crate::revocation;

/// The CA certificate's file name in a CA directory.
pub const CA_CERT_FILE: &str = "ca.crt";
/// The CA private key's file name in a CA directory.
pub const CA_KEY_FILE: &str = "ca.key";
/// The CRL's file name in a CA directory.
pub const CRL_FILE: &str = "crl.pem";
/// The subdirectory of a CA directory that keeps a copy of every issued certificate.
pub const ISSUED_DIR: &str = "issued";
/// Default lifetime of a network CA, in days (ten years).
pub const DEFAULT_CA_DAYS: u32 = 3652;
/// Default lifetime of node and officer certificates, in days.
pub const DEFAULT_CERT_DAYS: u32 = 365;
/// How far before "now" a new certificate's validity starts, so that peers whose clocks
/// run somewhat behind do not see it as not yet valid.
pub const BACKDATE: Duration = Duration::hours(1);
/// Organisation name in every network CA's subject.
pub const CA_ORGANISATION: &str = "Liaison";
/// Organisational unit in every network CA's subject.
pub const CA_UNIT: &str = "network CA";

/// The key type of an officer certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OfficerKey {
    /// ECDSA P-256: what browsers can present (the default).
    #[default]
    P256,
    /// Ed25519: for scripts and Rust clients only; no browser can use it.
    Ed25519,
}

impl OfficerKey {
    /// The name used on the command line (`p256`, `ed25519`).
    pub fn as_str(self) -> &'static str {
        match self {
            OfficerKey::P256 => "p256",
            OfficerKey::Ed25519 => "ed25519",
        }
    }

    fn generate(self) -> Result<KeyPair, CertError> {
        match self {
            OfficerKey::P256 => Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?),
            OfficerKey::Ed25519 => ed25519_key(),
        }
    }
}

impl std::str::FromStr for OfficerKey {
    type Err = CertError;

    fn from_str(s: &str) -> Result<Self, CertError> {
        match s {
            "p256" | "P-256" | "ecdsa-p256" => Ok(OfficerKey::P256),
            "ed25519" | "Ed25519" => Ok(OfficerKey::Ed25519),
            other => Err(CertError::InvalidName {
                what: "officer key type",
                value: other.to_owned(),
                detail: "expected p256 (browsers) or ed25519".into(),
            }),
        }
    }
}

/// A certificate's validity period, in whole seconds, `not_before < not_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

fn whole_seconds(t: OffsetDateTime) -> Result<OffsetDateTime, CertError> {
    OffsetDateTime::from_unix_timestamp(t.unix_timestamp())
        .map_err(|e| CertError::InvalidValidity(e.to_string()))
}

impl Validity {
    /// An explicit period (truncated to whole seconds); it must not be empty.
    pub fn new(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Result<Self, CertError> {
        let (not_before, not_after) = (whole_seconds(not_before)?, whole_seconds(not_after)?);
        if not_after <= not_before {
            return Err(CertError::InvalidValidity(format!(
                "not_after {} is not after not_before {}",
                crate::timestamp(not_after),
                crate::timestamp(not_before)
            )));
        }
        Ok(Self {
            not_before,
            not_after,
        })
    }

    /// From [`BACKDATE`] before `now` until `days` days after `now`; `days` must be at least 1.
    pub fn days_from(now: OffsetDateTime, days: u32) -> Result<Self, CertError> {
        if days == 0 {
            return Err(CertError::InvalidValidity(
                "--days must be at least 1".into(),
            ));
        }
        let end = now
            .checked_add(Duration::days(i64::from(days)))
            .ok_or_else(|| CertError::InvalidValidity(format!("{days} days is too far ahead")))?;
        Self::new(now - BACKDATE, end)
    }

    /// Start of validity.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// End of validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }
}

/// A freshly issued certificate and its private key, in memory. `Debug` never shows the key.
pub struct IssuedCert {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The PKCS#8 private key, PEM; zeroed on drop.
    pub key_pem: Zeroizing<String>,
    /// The serial number, lower-case hex.
    pub serial: String,
    /// The subject's common name.
    pub subject: String,
    /// Its validity period.
    pub validity: Validity,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("subject", &self.subject)
            .field("serial", &self.serial)
            .field("validity", &self.validity)
            .field("key_pem", &"(..)")
            .finish()
    }
}

/// A network CA with its signing key, able to issue certificates and CRLs.
pub struct NetworkCa {
    network: NetworkId,
    cert_der: Vec<u8>,
    validity: Validity,
    key_id: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for NetworkCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkCa")
            .field("network", &self.network)
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

/// 16 random bytes from the system RNG, top bit clear (a positive INTEGER of exactly
/// 16 bytes), first byte non-zero (so the DER encoding is never shortened).
pub(crate) fn random_serial() -> Result<SerialNumber, CertError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CertError::Random)?;
    bytes[0] = (bytes[0] & 0x7f).max(1);
    Ok(SerialNumber::from_slice(&bytes))
}

/// Certificate parameters with a fresh random serial and the given validity; the rest is
/// each profile's.
pub(crate) fn fresh_params(validity: Validity) -> Result<CertificateParams, CertError> {
    let mut params = CertificateParams::default();
    params.serial_number = Some(random_serial()?);
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    Ok(params)
}

pub(crate) fn parse_x509<'a>(
    der: &'a [u8],
    origin: &Path,
) -> Result<X509Certificate<'a>, CertError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(CertError::MalformedPem {
            path: origin.to_owned(),
            detail: format!("{} bytes after the certificate", rest.len()),
        }),
        Err(e) => Err(CertError::MalformedPem {
            path: origin.to_owned(),
            detail: format!("not an X.509 certificate: {e}"),
        }),
    }
}

/// SHA-256 fingerprint of a certificate, as `openssl x509 -noout -fingerprint -sha256`
/// prints it (`AB:CD:…`), for comparing a CA out of band before trusting it.
pub fn fingerprint(der: &[u8]) -> String {
    liaison_protocol::trust::CaFingerprint::of(der).to_string()
}

/// Validates a network name given by an operator.
pub fn parse_network(s: &str) -> Result<NetworkId, CertError> {
    s.parse().map_err(|e| CertError::InvalidName {
        what: "network name",
        value: s.to_owned(),
        detail: detail_of(e),
    })
}

fn detail_of(e: liaison_protocol::DecodeError) -> String {
    match e {
        liaison_protocol::DecodeError::InvalidField { detail, .. } => detail,
        other => other.to_string(),
    }
}

/// PKCS#8 v1 (RFC 5208) header of an Ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A fresh Ed25519 key, held as PKCS#8 v1. (ring's own generator writes PKCS#8 v2 with the
/// public key in a form OpenSSL 3.0 cannot read; v1 is what OpenSSL writes and everything,
/// ring included, reads.)
fn ed25519_key() -> Result<KeyPair, CertError> {
    let mut der = Zeroizing::new(Vec::with_capacity(48));
    der.extend_from_slice(&ED25519_PKCS8_V1_PREFIX);
    der.resize(48, 0);
    SystemRandom::new()
        .fill(&mut der[16..])
        .map_err(|_| CertError::Random)?;
    Ok(KeyPair::from_pkcs8_der_and_sign_algo(
        &der.as_slice().into(),
        &PKCS_ED25519,
    )?)
}

fn key_pem(key: &KeyPair) -> Zeroizing<String> {
    Zeroizing::new(key.serialize_pem())
}

impl NetworkCa {
    /// Creates a new network CA: a fresh Ed25519 key and a self-signed certificate.
    /// Returns the CA and its certificate and key as PEM.
    pub fn generate(
        network: &NetworkId,
        validity: Validity,
    ) -> Result<(Self, IssuedCert), CertError> {
        let key = ed25519_key()?;
        let mut params = fresh_params(validity)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, network.as_str());
        dn.push(DnType::OrganizationalUnitName, CA_UNIT);
        dn.push(DnType::OrganizationName, CA_ORGANISATION);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: vec![GeneralSubtree::DnsName(network.as_str().to_owned())],
            excluded_subtrees: vec![],
        });
        let cert = params.self_signed(&key)?;
        let issued = IssuedCert {
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_pem: key_pem(&key),
            serial: params
                .serial_number
                .as_ref()
                .map(|s| hex(&s.to_bytes()))
                .unwrap_or_default(),
            subject: network.to_string(),
            validity,
        };
        // Build the CA the same way `load` does, so one code path issues everything.
        let ca = Self::from_der(cert.der(), key, Path::new(CA_CERT_FILE))?;
        Ok((ca, issued))
    }

    /// Loads a CA from its directory: `ca.crt` and `ca.key`, which must belong together.
    pub fn load(dir: &Path) -> Result<Self, CertError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_der = load::read_cert(&cert_path)?;
        let key_der = load::read_key(&key_path)?;
        let key = KeyPair::from_pkcs8_der_and_sign_algo(&key_der.as_slice().into(), &PKCS_ED25519)
            .map_err(|e| CertError::MalformedPem {
                path: key_path.clone(),
                detail: format!("not an Ed25519 PKCS#8 private key: {e}"),
            })?;
        Self::from_der(&CertificateDer::from(cert_der), key, &cert_path)
    }

    fn from_der(
        cert_der: &CertificateDer<'_>,
        key: KeyPair,
        origin: &Path,
    ) -> Result<Self, CertError> {
        let not_ca = |detail: String| CertError::NotNetworkCa {
            path: origin.to_owned(),
            detail,
        };
        let cert = parse_x509(cert_der, origin)?;
        let network =
            liaison_protocol::trust::network_of_ca(cert_der).map_err(|e| not_ca(e.to_string()))?;
        let ou = cert
            .subject()
            .iter_organizational_unit()
            .next()
            .and_then(|a| a.as_str().ok());
        if ou != Some(CA_UNIT) {
            return Err(not_ca(format!(
                "subject {} lacks OU={CA_UNIT}",
                cert.subject()
            )));
        }
        let cert_key = liaison_protocol::trust::cert_public_key(cert_der)
            .map_err(|e| not_ca(e.to_string()))?;
        if cert_key.as_slice() != key.public_key_raw() {
            return Err(CertError::KeyMismatch(format!(
                "{}: the private key does not belong to the CA certificate of {network}",
                origin.display()
            )));
        }
        let key_id = cert
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => {
                    Some(k.0.to_vec())
                }
                _ => None,
            })
            .ok_or_else(|| not_ca("no subject key identifier".into()))?;
        let validity = Validity::new(
            cert.validity().not_before.to_datetime(),
            cert.validity().not_after.to_datetime(),
        )?;
        let issuer = Issuer::from_ca_cert_der(cert_der, key)?;
        Ok(Self {
            network,
            cert_der: cert_der.to_vec(),
            validity,
            key_id,
            issuer,
        })
    }

    /// The network this CA is for.
    pub fn network(&self) -> &NetworkId {
        &self.network
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA certificate's validity period.
    pub fn validity(&self) -> Validity {
        self.validity
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// How CRLs name this CA's key: the CA certificate's own subject key identifier.
    pub(crate) fn key_id_method(&self) -> KeyIdMethod {
        KeyIdMethod::PreSpecified(self.key_id.clone())
    }

    /// Reads a centre given on the command line: `<centre>` or `<centre>.<network>`, where
    /// the network must be this CA's.
    pub fn centre_from_arg(&self, arg: &str) -> Result<CentreId, CertError> {
        if arg.contains('.') {
            let node: NodeId = arg.parse().map_err(|e| CertError::InvalidName {
                what: "node id",
                value: arg.to_owned(),
                detail: detail_of(e),
            })?;
            if node.network() != self.network {
                return Err(CertError::WrongNetwork {
                    expected: self.network.to_string(),
                    given: arg.to_owned(),
                });
            }
            return Ok(node.centre());
        }
        arg.parse().map_err(|e| CertError::InvalidName {
            what: "centre name",
            value: arg.to_owned(),
            detail: detail_of(e),
        })
    }

    /// Fits a requested validity into the CA's: a start before the CA's is moved up to it;
    /// an end after the CA's is refused, since the certificate could never be valid then.
    fn fit(&self, v: Validity) -> Result<Validity, CertError> {
        if v.not_after > self.validity.not_after {
            // `--days` counts from now, which is BACKDATE after the requested start.
            let days = (self.validity.not_after - v.not_before - BACKDATE).whole_days();
            return Err(CertError::InvalidValidity(format!(
                "the certificate would end at {}, after the {} CA itself ({}); \
                 issue it for at most {days} days or renew the CA",
                crate::timestamp(v.not_after),
                self.network,
                crate::timestamp(self.validity.not_after)
            )));
        }
        Validity::new(v.not_before.max(self.validity.not_before), v.not_after)
    }

    fn end_entity(&self, validity: Validity) -> Result<(CertificateParams, Validity), CertError> {
        let validity = self.fit(validity)?;
        let mut params = fresh_params(validity)?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        Ok((params, validity))
    }

    fn sign(
        &self,
        params: CertificateParams,
        validity: Validity,
        subject: String,
        key: KeyPair,
    ) -> Result<IssuedCert, CertError> {
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_pem: key_pem(&key),
            serial: params
                .serial_number
                .as_ref()
                .map(|s| hex(&s.to_bytes()))
                .unwrap_or_default(),
            subject,
            validity,
        })
    }

    /// Issues a node certificate for `<centre>.<network>`: usable for TLS client and server
    /// authentication and for signing messages.
    pub fn issue_node(
        &self,
        centre: &CentreId,
        validity: Validity,
    ) -> Result<IssuedCert, CertError> {
        let (params, validity, subject) = self.node_params(centre, validity)?;
        self.sign(params, validity, subject, ed25519_key()?)
    }

    fn node_params(
        &self,
        centre: &CentreId,
        validity: Validity,
    ) -> Result<(CertificateParams, Validity, String), CertError> {
        let node = NodeId::new(centre, &self.network);
        let (mut params, validity) = self.end_entity(validity)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, node.as_str());
        dn.push(DnType::OrganizationName, centre.as_str());
        params.distinguished_name = dn;
        let dns = node
            .as_str()
            .to_owned()
            .try_into()
            .map_err(|e: rcgen::Error| CertError::InvalidName {
                what: "node id",
                value: node.to_string(),
                detail: e.to_string(),
            })?;
        params.subject_alt_names = vec![SanType::DnsName(dns)];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        Ok((params, validity, node.to_string()))
    }

    /// Issues an officer's client certificate for the local API of `<centre>.<network>`,
    /// with a fresh key of type `key`.
    pub fn issue_officer(
        &self,
        centre: &CentreId,
        officer: &OfficerName,
        role: Role,
        key: OfficerKey,
        validity: Validity,
    ) -> Result<IssuedCert, CertError> {
        let (params, validity, cn) = self.officer_params(centre, officer, role, validity)?;
        self.sign(params, validity, cn, key.generate()?)
    }

    fn officer_params(
        &self,
        centre: &CentreId,
        officer: &OfficerName,
        role: Role,
        validity: Validity,
    ) -> Result<(CertificateParams, Validity, String), CertError> {
        let node = NodeId::new(centre, &self.network);
        let (mut params, validity) = self.end_entity(validity)?;
        let cn = format!("{officer}@{node}");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn.as_str());
        dn.push(DnType::OrganizationalUnitName, role.as_str());
        dn.push(DnType::OrganizationName, centre.as_str());
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        Ok((params, validity, cn))
    }

    /// Issues a new certificate for the holder of `cert_der` (a node or officer certificate
    /// this CA issued, expired or not), for `validity`, with the same subject, profile and
    /// public key: the holder keeps its key and only its certificate file changes. A
    /// revoked certificate is not renewed.
    pub fn renew(
        &self,
        cert_der: &[u8],
        origin: &Path,
        validity: Validity,
    ) -> Result<RenewedCert, CertError> {
        self.check_issued(cert_der, origin)?;
        let cert = parse_x509(cert_der, origin)?;
        let first = |it: &mut dyn Iterator<
            Item = &x509_parser::x509::AttributeTypeAndValue<'_>,
        >| { it.next().and_then(|a| a.as_str().ok()).map(str::to_owned) };
        let cn = first(&mut cert.subject().iter_common_name()).ok_or_else(|| {
            CertError::WrongCa(format!(
                "{}: the certificate names no subject",
                origin.display()
            ))
        })?;
        let (node_part, officer) = match cn.split_once('@') {
            Some((officer, node)) => (node.to_owned(), Some(officer.to_owned())),
            None => (cn.clone(), None),
        };
        let node: NodeId = node_part.parse().map_err(|e| CertError::InvalidName {
            what: "node id",
            value: node_part.clone(),
            detail: format!("{e}"),
        })?;
        let centre = self.centre_from_arg(node.as_str())?;
        let (params, validity, subject) = match officer {
            None => self.node_params(&centre, validity)?,
            Some(name) => {
                let role: Role = first(&mut cert.subject().iter_organizational_unit())
                    .ok_or_else(|| {
                        CertError::WrongCa(format!(
                            "{}: an officer certificate without a role",
                            origin.display()
                        ))
                    })?
                    .parse()?;
                self.officer_params(&centre, &name.parse()?, role, validity)?
            }
        };
        let key = rcgen::SubjectPublicKeyInfo::from_der(cert.public_key().raw)?;
        let renewed = params.signed_by(&key, &self.issuer)?;
        Ok(RenewedCert {
            cert_der: renewed.der().to_vec(),
            cert_pem: renewed.pem(),
            serial: params
                .serial_number
                .as_ref()
                .map(|s| hex(&s.to_bytes()))
                .unwrap_or_default(),
            replaced_serial: hex(cert.raw_serial()),
            subject,
            validity,
        })
    }

    /// Checks that a certificate was issued by this CA: issuer name and signature.
    pub fn check_issued(&self, cert_der: &[u8], origin: &Path) -> Result<(), CertError> {
        let cert = parse_x509(cert_der, origin)?;
        let ca = parse_x509(&self.cert_der, Path::new(CA_CERT_FILE))?;
        if cert.issuer() != ca.subject() {
            return Err(CertError::WrongCa(format!(
                "{} was issued by {}, not by the {} network CA ({})",
                origin.display(),
                cert.issuer(),
                self.network,
                ca.subject()
            )));
        }
        cert.verify_signature(Some(ca.public_key())).map_err(|_| {
            CertError::WrongCa(format!(
                "{} names the {} CA as issuer but was not signed by this CA's key: another \
                 CA of that network issued it (after a CA rollover, use that CA's directory)",
                origin.display(),
                self.network
            ))
        })?;
        if cert.is_ca() {
            return Err(CertError::WrongCa(format!(
                "{} is a CA certificate, not one this CA issued",
                origin.display()
            )));
        }
        Ok(())
    }
}

/// What `issue-node` / `issue-officer` wrote.
#[derive(Debug, Clone)]
pub struct IssuedFiles {
    /// The certificate file.
    pub cert_path: PathBuf,
    /// The private key file (mode 0600).
    pub key_path: PathBuf,
    /// The copy kept in the CA's `issued/` directory.
    pub record_path: PathBuf,
    /// The subject common name (node id or `<officer>@<node>`).
    pub subject: String,
    /// Serial number, hex.
    pub serial: String,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// What `new-network` wrote.
#[derive(Debug, Clone)]
pub struct NetworkFiles {
    /// The network.
    pub network: NetworkId,
    /// `ca.crt`.
    pub cert_path: PathBuf,
    /// `ca.key` (mode 0600).
    pub key_path: PathBuf,
    /// `crl.pem` (empty).
    pub crl_path: PathBuf,
    /// CA serial number, hex.
    pub serial: String,
    /// End of the CA's validity.
    pub not_after: OffsetDateTime,
}

/// Creates a network CA in `dir` (created with mode 0700 if missing): `ca.crt`, `ca.key`
/// and an empty `crl.pem` current for `crl_validity`. Refuses, writing nothing, if any of them exists.
pub fn create_network(
    network: &NetworkId,
    dir: &Path,
    validity: Validity,
    now: OffsetDateTime,
    crl_validity: Duration,
) -> Result<NetworkFiles, CertError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    let crl_path = dir.join(CRL_FILE);
    load::check_absent([cert_path.as_path(), key_path.as_path(), crl_path.as_path()])?;
    let (ca, issued) = NetworkCa::generate(network, validity)?;
    let crl = revocation::empty_crl(&ca, now, crl_validity)?;
    load::ensure_dir(dir, true)?;
    load::write_new_files(&[
        NewFile::public(cert_path.clone(), issued.cert_pem.as_bytes()),
        NewFile::secret(
            key_path.clone(),
            Zeroizing::new(issued.key_pem.as_bytes().to_vec()),
        ),
        NewFile::public(crl_path.clone(), crl.pem),
    ])?;
    Ok(NetworkFiles {
        network: network.clone(),
        cert_path,
        key_path,
        crl_path,
        serial: issued.serial,
        not_after: validity.not_after,
    })
}

/// The file stem for a node's files: `<centre>.<network>`.
pub fn node_file_stem(node: &NodeId) -> String {
    node.to_string()
}

/// The file stem for an officer's files: `<name>@<centre>.<network>` (officer names are
/// restricted to `[a-z0-9._-]`, so this is safe as a file name everywhere).
pub fn officer_file_stem(officer: &OfficerName, node: &NodeId) -> String {
    format!("{officer}@{node}")
}

fn write_issued(
    ca_dir: &Path,
    out_dir: &Path,
    stem: &str,
    issued: IssuedCert,
) -> Result<IssuedFiles, CertError> {
    let cert_path = out_dir.join(format!("{stem}.crt"));
    let key_path = out_dir.join(format!("{stem}.key"));
    let record_path = ca_dir
        .join(ISSUED_DIR)
        .join(format!("{}.crt", issued.serial));
    load::check_absent([
        cert_path.as_path(),
        key_path.as_path(),
        record_path.as_path(),
    ])?;
    load::ensure_dir(out_dir, true)?;
    load::ensure_dir(&ca_dir.join(ISSUED_DIR), false)?;
    load::write_new_files(&[
        NewFile::public(cert_path.clone(), issued.cert_pem.as_bytes()),
        NewFile::secret(
            key_path.clone(),
            Zeroizing::new(issued.key_pem.as_bytes().to_vec()),
        ),
        NewFile::public(record_path.clone(), issued.cert_pem.as_bytes()),
    ])?;
    Ok(IssuedFiles {
        cert_path,
        key_path,
        record_path,
        subject: issued.subject,
        serial: issued.serial,
        not_after: issued.validity.not_after,
    })
}

/// A certificate renewed for the same subject and key ([`NetworkCa::renew`]).
#[derive(Clone, Debug)]
pub struct RenewedCert {
    /// The new certificate, DER.
    pub cert_der: Vec<u8>,
    /// The new certificate, PEM.
    pub cert_pem: String,
    /// Its serial number, lower-case hex.
    pub serial: String,
    /// The serial of the certificate it replaces.
    pub replaced_serial: String,
    /// The subject's common name.
    pub subject: String,
    /// Its validity.
    pub validity: Validity,
}

/// Renews the certificate in `cert_path` from the CA in `ca_dir` for `validity`, in place:
/// the old certificate is kept beside it as `<cert_path>.<old serial>.old`, the key file
/// is not touched. Refused for a certificate the CA has revoked.
pub fn renew_file(
    ca_dir: &Path,
    cert_path: &Path,
    validity: Validity,
) -> Result<RenewedCert, CertError> {
    let ca = NetworkCa::load(ca_dir)?;
    let der = load::read_cert(cert_path)?;
    let crl = load::read_crl(&ca_dir.join(CRL_FILE))?;
    let revoked = revocation::read_crl(&ca.cert_der, &crl)?;
    let serial = hex(parse_x509(&der, cert_path)?.raw_serial());
    if revoked.entries.iter().any(|e| e.serial == serial) {
        return Err(CertError::Verify(liaison_protocol::VerifyError::Revoked {
            serial,
        }));
    }
    let renewed = ca.renew(&der, cert_path, validity)?;
    let old = cert_path.with_file_name(format!(
        "{}.{}.old",
        cert_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        renewed.replaced_serial
    ));
    std::fs::copy(cert_path, &old).map_err(|e| CertError::io(&old, e))?;
    load::replace_file(cert_path, renewed.cert_pem.as_bytes(), false)?;
    Ok(renewed)
}

/// Issues a node certificate from the CA in `ca_dir` into `out_dir` as
/// `<centre>.<network>.crt` and `.key`. `centre` is `<centre>` or `<centre>.<network>`.
pub fn issue_node_files(
    ca_dir: &Path,
    centre: &str,
    out_dir: &Path,
    validity: Validity,
) -> Result<IssuedFiles, CertError> {
    let ca = NetworkCa::load(ca_dir)?;
    let centre = ca.centre_from_arg(centre)?;
    let node = NodeId::new(&centre, ca.network());
    let stem = node_file_stem(&node);
    load::check_absent([
        out_dir.join(format!("{stem}.crt")).as_path(),
        out_dir.join(format!("{stem}.key")).as_path(),
    ])?;
    let issued = ca.issue_node(&centre, validity)?;
    write_issued(ca_dir, out_dir, &stem, issued)
}

/// Issues an officer certificate from the CA in `ca_dir` into `out_dir` as
/// `<name>@<centre>.<network>.crt` and `.key`.
pub fn issue_officer_files(
    ca_dir: &Path,
    centre: &str,
    officer: &str,
    role: Role,
    key: OfficerKey,
    out_dir: &Path,
    validity: Validity,
) -> Result<IssuedFiles, CertError> {
    let ca = NetworkCa::load(ca_dir)?;
    let centre = ca.centre_from_arg(centre)?;
    let officer: OfficerName = officer.parse()?;
    let node = NodeId::new(&centre, ca.network());
    let stem = officer_file_stem(&officer, &node);
    load::check_absent([
        out_dir.join(format!("{stem}.crt")).as_path(),
        out_dir.join(format!("{stem}.key")).as_path(),
    ])?;
    let issued = ca.issue_officer(&centre, &officer, role, key, validity)?;
    write_issued(ca_dir, out_dir, &stem, issued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, centre, net, now, year};
    use liaison_protocol::TrustStore;
    use x509_parser::extensions::{GeneralName, ParsedExtension};

    fn ts(t: OffsetDateTime) -> liaison_protocol::Timestamp {
        crate::timestamp(t)
    }

    #[test]
    fn network_ca_has_the_fixed_profile() {
        let ca = testing::ca("central-asia");
        let cert = parse_x509(ca.cert_der(), Path::new("ca")).unwrap();
        assert_eq!(
            cert.subject().to_string(),
            "CN=central-asia, OU=network CA, O=Liaison"
        );
        assert_eq!(cert.issuer(), cert.subject());
        let bc = cert.basic_constraints().unwrap().unwrap().value;
        assert!(bc.ca);
        assert_eq!(bc.path_len_constraint, Some(0));
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign());
        let nc = cert
            .iter_extensions()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::NameConstraints(nc) => Some(nc.clone()),
                _ => None,
            })
            .expect("name constraints");
        let permitted = nc.permitted_subtrees.unwrap();
        assert_eq!(permitted.len(), 1);
        assert_eq!(permitted[0].base, GeneralName::DNSName("central-asia"));
        assert_eq!(cert.tbs_certificate.raw_serial().len(), 16);
        assert_eq!(
            liaison_protocol::trust::network_of_ca(ca.cert_der()).unwrap(),
            net("central-asia")
        );
    }

    #[test]
    fn node_certificate_names_its_node_and_verifies() {
        let ca = testing::ca("central-asia");
        let issued = testing::node(&ca, "caricc");
        let cert = parse_x509(&issued.cert_der, Path::new("node")).unwrap();
        assert_eq!(
            cert.subject().to_string(),
            "CN=caricc.central-asia, O=caricc"
        );
        let san = cert.subject_alternative_name().unwrap().unwrap().value;
        assert_eq!(
            san.general_names,
            vec![GeneralName::DNSName("caricc.central-asia")]
        );
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth);
        assert!(!cert.is_ca());
        assert_eq!(
            crate::node_identity(&issued.cert_der).unwrap().as_str(),
            "caricc.central-asia"
        );
        let mut trust = TrustStore::new();
        trust.add_ca(ca.cert_der(), None).unwrap();
        let node = trust.check_node_cert(&issued.cert_der, ts(now())).unwrap();
        assert_eq!(node.serial, issued.serial);
        assert_eq!(node.node.as_str(), "caricc.central-asia");
    }

    #[test]
    fn a_renewed_certificate_keeps_its_subject_role_and_key_and_verifies_again() {
        let ca = testing::ca("central-asia");
        let mut trust = TrustStore::new();
        trust.add_ca(ca.cert_der(), None).unwrap();
        let key_of = |der: &[u8]| {
            parse_x509(der, Path::new("x.crt"))
                .unwrap()
                .public_key()
                .raw
                .to_vec()
        };
        // A node certificate that ended yesterday.
        let ended = Validity::new(now() - Duration::days(30), now() - Duration::days(1)).unwrap();
        let old = ca.issue_node(&centre("caricc"), ended).unwrap();
        assert!(trust.check_node_cert(&old.cert_der, ts(now())).is_err());
        let new = ca.renew(&old.cert_der, Path::new("x.crt"), year()).unwrap();
        assert_eq!(new.subject, "caricc.central-asia");
        assert_eq!(new.replaced_serial, old.serial);
        assert_ne!(new.serial, old.serial);
        assert_eq!(key_of(&new.cert_der), key_of(&old.cert_der), "the same key");
        let node = trust.check_node_cert(&new.cert_der, ts(now())).unwrap();
        assert_eq!(node.node.as_str(), "caricc.central-asia");

        let name: OfficerName = "a.karimova".parse().unwrap();
        let officer = ca
            .issue_officer(
                &centre("caricc"),
                &name,
                Role::Auditor,
                OfficerKey::P256,
                year(),
            )
            .unwrap();
        let renewed = ca
            .renew(&officer.cert_der, Path::new("o.crt"), year())
            .unwrap();
        assert_eq!(renewed.subject, "a.karimova@caricc.central-asia");
        assert_eq!(key_of(&renewed.cert_der), key_of(&officer.cert_der));
        let checked =
            crate::identity::check_officer_cert(&trust, &renewed.cert_der, ts(now())).unwrap();
        assert_eq!(checked.officer.role, Role::Auditor);

        // Another network's CA renews nothing it did not issue.
        let other = testing::ca("gulf");
        assert!(matches!(
            other.renew(&old.cert_der, Path::new("x.crt"), year()),
            Err(CertError::WrongCa(_))
        ));
    }

    #[test]
    fn officer_certificates_carry_p256_or_ed25519_keys_and_nothing_else() {
        let ca = testing::ca("central-asia");
        let mut trust = TrustStore::new();
        trust.add_ca(ca.cert_der(), None).unwrap();
        let name: OfficerName = "a.karimova".parse().unwrap();
        for key in [OfficerKey::P256, OfficerKey::Ed25519] {
            let issued = ca
                .issue_officer(&centre("caricc"), &name, Role::Auditor, key, year())
                .unwrap();
            let cert = parse_x509(&issued.cert_der, Path::new("officer")).unwrap();
            assert_eq!(crate::identity::officer_key_type(&cert).unwrap(), key);
            let checked = crate::check_officer_cert(&trust, &issued.cert_der, ts(now())).unwrap();
            assert_eq!(checked.officer.role, Role::Auditor);
            // The key loads where the TLS client needs it.
            let der = load::single_section(
                Path::new("key"),
                issued.key_pem.as_bytes(),
                rustls_pki_types::pem::SectionKind::PrivateKey,
            )
            .unwrap();
            rustls::crypto::ring::sign::any_supported_type(
                &rustls_pki_types::PrivateKeyDer::Pkcs8(der.into()),
            )
            .unwrap();
        }
        assert_eq!("p256".parse::<OfficerKey>().unwrap(), OfficerKey::P256);
        assert_eq!(
            "ed25519".parse::<OfficerKey>().unwrap(),
            OfficerKey::Ed25519
        );
        assert_eq!(
            "rsa".parse::<OfficerKey>().unwrap_err().reason_code(),
            "invalid-name"
        );
        // A P-384 key, signed by the right CA with the officer profile, is still refused.
        let (mut params, validity) = ca.end_entity(year()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "bob@caricc.central-asia");
        dn.push(DnType::OrganizationalUnitName, "officer");
        dn.push(DnType::OrganizationName, "caricc");
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let odd = ca.sign(params, validity, "bob".into(), p384).unwrap();
        let err = crate::check_officer_cert(&trust, &odd.cert_der, ts(now())).unwrap_err();
        assert_eq!(err.reason_code(), "malformed-certificate", "{err}");
        assert!(err.to_string().contains("P-256 or Ed25519"), "{err}");
    }

    #[test]
    fn keys_are_pkcs8_v1_and_load_everywhere() {
        let key = ed25519_key().unwrap();
        let der = key.serialize_der();
        assert_eq!(der.len(), 48);
        assert_eq!(der[..16], ED25519_PKCS8_V1_PREFIX);
        liaison_protocol::SigningKey::from_pkcs8_der(&der).unwrap();
        let pem = key.serialize_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    }

    #[test]
    fn serials_are_random_positive_16_bytes() {
        let a = random_serial().unwrap().to_bytes();
        let b = random_serial().unwrap().to_bytes();
        assert_ne!(a, b);
        for s in [a, b] {
            assert_eq!(s.len(), 16);
            assert!(s[0] != 0 && s[0] & 0x80 == 0);
        }
    }

    #[test]
    fn expired_node_certificate_fails_with_certificate_expired() {
        let ca = testing::ca("central-asia");
        let past = Validity::new(now() - Duration::days(400), now() - Duration::days(35)).unwrap();
        let issued = ca.issue_node(&centre("caricc"), past).unwrap();
        let mut trust = TrustStore::new();
        trust.add_ca(ca.cert_der(), None).unwrap();
        let err = crate::check_cert(&trust, &issued.cert_der, ts(now())).unwrap_err();
        assert_eq!(err.reason_code(), "certificate-expired");
        // It was valid back then: messages signed then still verify.
        let then = ts(now() - Duration::days(100));
        trust.check_node_cert(&issued.cert_der, then).unwrap();
    }

    #[test]
    fn other_network_ca_does_not_vouch_for_a_node() {
        let asia = testing::ca("central-asia");
        let gulf = testing::ca("gulf");
        let issued = testing::node(&asia, "caricc");
        let mut trust = TrustStore::new();
        trust.add_ca(gulf.cert_der(), None).unwrap();
        let err = crate::check_cert(&trust, &issued.cert_der, ts(now())).unwrap_err();
        assert_eq!(err.reason_code(), "unknown-ca");

        // A second CA that merely has the same network name is not the network's CA.
        let impostor = testing::ca("central-asia");
        let mut trust = TrustStore::new();
        trust.add_ca(impostor.cert_der(), None).unwrap();
        let err = crate::check_cert(&trust, &issued.cert_der, ts(now())).unwrap_err();
        assert_eq!(err.reason_code(), "bad-certificate-chain");
    }

    #[test]
    fn validity_beyond_the_ca_is_refused() {
        let ca = testing::ca("central-asia");
        let long = Validity::days_from(now(), 4000).unwrap();
        let err = ca.issue_node(&centre("caricc"), long).unwrap_err();
        assert_eq!(err.reason_code(), "invalid-validity");
        assert!(err.to_string().contains("at most"), "{err}");
        assert_eq!(
            Validity::days_from(now(), 0).unwrap_err().reason_code(),
            "invalid-validity"
        );
    }

    #[test]
    fn centre_argument_must_be_valid_and_in_the_ca_network() {
        let ca = testing::ca("central-asia");
        assert_eq!(ca.centre_from_arg("caricc").unwrap().as_str(), "caricc");
        assert_eq!(
            ca.centre_from_arg("caricc.central-asia").unwrap().as_str(),
            "caricc"
        );
        let err = ca.centre_from_arg("gcc-cic.gulf").unwrap_err();
        assert_eq!(err.reason_code(), "wrong-network");
        for bad in ["CARICC", "-x", "a b", "", "x.y.z"] {
            let err = ca.centre_from_arg(bad).unwrap_err();
            assert_eq!(err.reason_code(), "invalid-name", "{bad}");
        }
        assert_eq!(
            parse_network("Central Asia").unwrap_err().reason_code(),
            "invalid-name"
        );
    }

    #[test]
    fn create_network_writes_owner_only_key_and_empty_crl() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ca");
        let v = Validity::days_from(now(), DEFAULT_CA_DAYS).unwrap();
        let files = create_network(
            &net("gulf"),
            &ca_dir,
            v,
            now(),
            crate::revocation::CRL_VALIDITY,
        )
        .unwrap();
        assert!(files.cert_path.exists() && files.crl_path.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&files.key_path), 0o600);
            assert_eq!(mode(&ca_dir), 0o700);
        }
        let ca = NetworkCa::load(&ca_dir).unwrap();
        assert_eq!(ca.network().as_str(), "gulf");
        let crl = crate::load::read_crl(&files.crl_path).unwrap();
        let contents = crate::revocation::read_crl(ca.cert_der(), &crl).unwrap();
        assert_eq!(contents.number, 1);
        assert!(contents.entries.is_empty());
    }

    #[test]
    fn create_network_refuses_to_overwrite_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let v = Validity::days_from(now(), DEFAULT_CA_DAYS).unwrap();
        create_network(
            &net("gulf"),
            dir.path(),
            v,
            now(),
            crate::revocation::CRL_VALIDITY,
        )
        .unwrap();
        let before: Vec<_> = [CA_CERT_FILE, CA_KEY_FILE, CRL_FILE]
            .iter()
            .map(|f| std::fs::read(dir.path().join(f)).unwrap())
            .collect();
        let err = create_network(
            &net("gulf"),
            dir.path(),
            v,
            now(),
            crate::revocation::CRL_VALIDITY,
        )
        .unwrap_err();
        assert_eq!(err.reason_code(), "file-exists");
        let after: Vec<_> = [CA_CERT_FILE, CA_KEY_FILE, CRL_FILE]
            .iter()
            .map(|f| std::fs::read(dir.path().join(f)).unwrap())
            .collect();
        assert_eq!(before, after);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn issue_refuses_overwrite_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ca");
        let out = dir.path().join("out");
        let v = Validity::days_from(now(), DEFAULT_CA_DAYS).unwrap();
        create_network(
            &net("gulf"),
            &ca_dir,
            v,
            now(),
            crate::revocation::CRL_VALIDITY,
        )
        .unwrap();
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("omega.gulf.key"), b"precious").unwrap();
        let err = issue_node_files(&ca_dir, "omega", &out, year()).unwrap_err();
        assert_eq!(err.reason_code(), "file-exists");
        assert!(err.to_string().contains("omega.gulf.key"), "{err}");
        assert!(!out.join("omega.gulf.crt").exists());
        assert_eq!(
            std::fs::read(out.join("omega.gulf.key")).unwrap(),
            b"precious"
        );
        assert!(!ca_dir.join(ISSUED_DIR).exists());
    }

    #[test]
    fn issued_files_load_as_a_signer_with_owner_only_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ca");
        let v = Validity::days_from(now(), DEFAULT_CA_DAYS).unwrap();
        create_network(
            &net("gulf"),
            &ca_dir,
            v,
            now(),
            crate::revocation::CRL_VALIDITY,
        )
        .unwrap();
        let files = issue_node_files(&ca_dir, "gcc-cic", dir.path(), year()).unwrap();
        assert_eq!(files.cert_path, dir.path().join("gcc-cic.gulf.crt"));
        assert_eq!(files.subject, "gcc-cic.gulf");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.key_path)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(files.record_path.starts_with(ca_dir.join(ISSUED_DIR)));
        let signer = crate::load_signer(&files.cert_path, &files.key_path).unwrap();
        assert_eq!(signer.node().as_str(), "gcc-cic.gulf");
        // A key that is not the certificate's is refused.
        let other = issue_node_files(&ca_dir, "other", dir.path(), year()).unwrap();
        let err = crate::load_signer(&files.cert_path, &other.key_path).unwrap_err();
        assert_eq!(err.reason_code(), "bad-key");
    }

    #[test]
    fn ca_directory_with_the_wrong_key_or_no_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let v = Validity::days_from(now(), DEFAULT_CA_DAYS).unwrap();
        create_network(&net("gulf"), &a, v, now(), crate::revocation::CRL_VALIDITY).unwrap();
        create_network(&net("gulf"), &b, v, now(), crate::revocation::CRL_VALIDITY).unwrap();
        std::fs::copy(b.join(CA_KEY_FILE), dir.path().join("b.key")).unwrap();
        std::fs::remove_file(b.join(CA_KEY_FILE)).unwrap();
        assert_eq!(
            NetworkCa::load(&b).unwrap_err().reason_code(),
            "missing-key"
        );
        std::fs::copy(a.join(CA_KEY_FILE), b.join(CA_KEY_FILE)).unwrap();
        assert_eq!(
            NetworkCa::load(&b).unwrap_err().reason_code(),
            "key-mismatch"
        );
        // A node certificate is not a CA.
        let files = issue_node_files(&a, "x", dir.path(), year()).unwrap();
        let c = dir.path().join("c");
        std::fs::create_dir(&c).unwrap();
        std::fs::copy(&files.cert_path, c.join(CA_CERT_FILE)).unwrap();
        std::fs::copy(&files.key_path, c.join(CA_KEY_FILE)).unwrap();
        assert_eq!(
            NetworkCa::load(&c).unwrap_err().reason_code(),
            "not-network-ca"
        );
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert_eq!(
            NetworkCa::load(&empty).unwrap_err().reason_code(),
            "missing-file"
        );
    }
}
