//! Who a certificate speaks for: officer identities and roles, node identities (by
//! delegation to [`liaison_protocol::trust::node_id_from_cert`], the one place a
//! certificate becomes a node id), and full verification of either kind of certificate
//! against a [`TrustStore`].

use std::fmt;
use std::str::FromStr;

use liaison_protocol::ids::hex;
use liaison_protocol::trust::CertifiedNode;
use liaison_protocol::{NodeId, Timestamp, TrustStore, VerifyError};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::CertError;

/// Longest officer name accepted.
pub const MAX_OFFICER_NAME: usize = 64;

/// What an officer may do through the local API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Sends and receives messages for the centre.
    Officer,
    /// An officer who may also approve releases and manage handling.
    Supervisor,
    /// Read-only: the log and its proofs, never message content.
    Auditor,
}

impl Role {
    /// All roles, in order.
    pub const ALL: [Role; 3] = [Role::Officer, Role::Supervisor, Role::Auditor];

    /// The role as written in certificates and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = CertError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| CertError::InvalidName {
                what: "role",
                value: s.to_owned(),
                detail: "must be officer, supervisor or auditor".into(),
            })
    }
}

/// An officer's login name: 1–64 of `[a-z0-9._-]`, starting and ending with a letter or
/// digit (so it is also a safe file name, and `@` can separate it from the node id).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OfficerName(String);

impl OfficerName {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for OfficerName {
    type Err = CertError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |detail: &str| CertError::InvalidName {
            what: "officer name",
            value: s.to_owned(),
            detail: detail.to_owned(),
        };
        if s.is_empty() || s.len() > MAX_OFFICER_NAME {
            return Err(bad("must be 1 to 64 characters"));
        }
        if !s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        }) {
            return Err(bad("may contain only a-z, 0-9, '.', '_' and '-'"));
        }
        let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
        if !alnum(s.bytes().next()) || !alnum(s.bytes().last()) {
            return Err(bad("must start and end with a letter or digit"));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for OfficerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OfficerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OfficerName({:?})", self.0)
    }
}

/// Who an officer certificate names: the officer, their node, their role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Officer {
    /// The officer's name.
    pub name: OfficerName,
    /// The node whose local API the certificate is for.
    pub node: NodeId,
    /// What the officer may do.
    pub role: Role,
}

impl fmt::Display for Officer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} ({})", self.name, self.node, self.role)
    }
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, VerifyError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(VerifyError::MalformedCertificate(format!(
            "{} trailing bytes",
            rest.len()
        ))),
        Err(e) => Err(VerifyError::MalformedCertificate(e.to_string())),
    }
}

fn has_san(cert: &X509Certificate<'_>) -> Result<bool, VerifyError> {
    Ok(cert
        .subject_alternative_name()
        .map_err(|e| VerifyError::MalformedCertificate(e.to_string()))?
        .is_some())
}

/// The single string value of a subject attribute, or why the subject is not an officer's.
fn single_attr<'a>(
    subject: &x509_parser::x509::X509Name<'_>,
    what: &str,
    mut values: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Result<&'a str, CertError> {
    let not = |d: String| CertError::NotOfficerCertificate(d);
    match (values.next(), values.next()) {
        (Some(v), None) => v.as_str().map_err(|e| not(format!("subject {what}: {e}"))),
        _ => Err(not(format!(
            "subject {subject} must have exactly one {what}"
        ))),
    }
}

/// The node id a node certificate names. Delegates to the protocol: certificate → node id
/// happens in one place only.
pub fn node_identity(cert_der: &[u8]) -> Result<NodeId, CertError> {
    Ok(liaison_protocol::trust::node_id_from_cert(cert_der)?)
}

/// The officer an officer certificate names (`CN=<name>@<node>, OU=<role>, O=<centre>`,
/// no subject alternative name, clientAuth). Parses only: see [`check_officer_cert`] for
/// chain, validity and revocation.
pub fn officer_identity(cert_der: &[u8]) -> Result<Officer, CertError> {
    let cert = parse(cert_der)?;
    let not = |d: String| CertError::NotOfficerCertificate(d);
    if cert.is_ca() {
        return Err(not("it is a CA certificate".into()));
    }
    if has_san(&cert)? {
        return Err(not(
            "it has a subject alternative name (officer certificates have none; is it a node certificate?)"
                .into(),
        ));
    }
    let subject = cert.subject();
    let cn = single_attr(subject, "CN", subject.iter_common_name())?;
    let ou = single_attr(subject, "OU", subject.iter_organizational_unit())?;
    let o = single_attr(subject, "O", subject.iter_organization())?;
    if subject.iter_attributes().count() != 3 {
        return Err(not(format!(
            "subject {subject} has attributes besides CN, OU and O"
        )));
    }
    let (name, node) = cn.split_once('@').ok_or_else(|| {
        not(format!(
            "common name {cn:?} is not <officer>@<centre>.<network>"
        ))
    })?;
    let name: OfficerName = name
        .parse()
        .map_err(|e: CertError| not(format!("common name {cn:?}: {e}")))?;
    let node: NodeId = node
        .parse()
        .map_err(|e| not(format!("common name {cn:?}: {e}")))?;
    let role: Role = ou
        .parse()
        .map_err(|e: CertError| not(format!("organisational unit: {e}")))?;
    if o != node.centre_str() {
        return Err(not(format!(
            "organisation {o:?} is not the centre {:?} of {node}",
            node.centre_str()
        )));
    }
    let client_auth = cert
        .extended_key_usage()
        .map_err(|e| VerifyError::MalformedCertificate(e.to_string()))?
        .is_some_and(|eku| eku.value.client_auth);
    if !client_auth {
        return Err(not("it is not valid for TLS client authentication".into()));
    }
    Ok(Officer { name, node, role })
}

/// The key type of an officer certificate: ECDSA P-256 (browsers) or Ed25519 (scripts);
/// anything else is refused, as the TLS listener would not accept its signatures anyway.
pub fn officer_key_type(cert: &X509Certificate<'_>) -> Result<crate::ca::OfficerKey, CertError> {
    use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ED25519};
    let spki = cert.public_key();
    let alg = &spki.algorithm;
    if alg.algorithm == OID_SIG_ED25519 && spki.subject_public_key.data.len() == 32 {
        return Ok(crate::ca::OfficerKey::Ed25519);
    }
    let p256 = alg
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .is_some_and(|oid| oid == OID_EC_P256);
    if alg.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY && p256 {
        return Ok(crate::ca::OfficerKey::P256);
    }
    Err(VerifyError::MalformedCertificate(
        "an officer certificate's key must be ECDSA P-256 or Ed25519".into(),
    )
    .into())
}

/// What a verified officer certificate says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertifiedOfficer {
    /// The officer.
    pub officer: Officer,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
}

fn to_ts(t: &x509_parser::time::ASN1Time) -> Timestamp {
    Timestamp::from_secs(t.timestamp().max(0) as u64)
}

/// Checks an officer certificate at time `at`: it names an officer, chains to a trusted CA
/// of its node's network (either, during a CA rollover), is valid for TLS client
/// authentication, is within its (and that CA's) validity and is not revoked at `at` by that
/// CA's CRL.
pub fn check_officer_cert(
    trust: &TrustStore,
    cert_der: &[u8],
    at: Timestamp,
) -> Result<CertifiedOfficer, CertError> {
    let officer = officer_identity(cert_der)?;
    let network = officer.node.network();
    let cert = parse(cert_der)?;
    officer_key_type(&cert)?;
    let ca = trust.issuing_ca(cert_der, &network, at)?;
    if at < ca.not_before() {
        return Err(VerifyError::CertificateNotYetValid.into());
    }
    if at > ca.not_after() {
        return Err(VerifyError::CertificateExpired.into());
    }
    let serial = hex(cert.tbs_certificate.raw_serial());
    if ca.is_revoked(cert.tbs_certificate.raw_serial(), at) {
        return Err(VerifyError::Revoked { serial }.into());
    }
    Ok(CertifiedOfficer {
        officer,
        serial,
        not_before: to_ts(&cert.validity().not_before),
        not_after: to_ts(&cert.validity().not_after),
    })
}

/// A verified certificate of either kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// A node certificate.
    Node(CertifiedNode),
    /// An officer certificate.
    Officer(CertifiedOfficer),
}

impl Identity {
    /// Serial number, hex.
    pub fn serial(&self) -> &str {
        match self {
            Identity::Node(n) => &n.serial,
            Identity::Officer(o) => &o.serial,
        }
    }

    /// End of validity.
    pub fn not_after(&self) -> Timestamp {
        match self {
            Identity::Node(n) => n.not_after,
            Identity::Officer(o) => o.not_after,
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Node(n) => write!(f, "node {}", n.node)?,
            Identity::Officer(o) => write!(f, "officer {}", o.officer)?,
        }
        write!(
            f,
            ", serial {}, expires {}",
            self.serial(),
            self.not_after()
        )
    }
}

/// Verifies a node or officer certificate at time `at`. A certificate with a subject
/// alternative name is checked as a node certificate ([`TrustStore::check_node_cert`]),
/// one without as an officer certificate ([`check_officer_cert`]).
pub fn check_cert(
    trust: &TrustStore,
    cert_der: &[u8],
    at: Timestamp,
) -> Result<Identity, CertError> {
    let cert = parse(cert_der)?;
    if has_san(&cert)? {
        Ok(Identity::Node(trust.check_node_cert(cert_der, at)?))
    } else {
        Ok(Identity::Officer(check_officer_cert(trust, cert_der, at)?))
    }
}

/// Verifies the certificate in `cert_path` against the CA directory `ca_dir` (`ca.crt` and
/// `crl.pem`; the CA key is not needed) at time `at`.
pub fn verify_cert_file(
    ca_dir: &std::path::Path,
    cert_path: &std::path::Path,
    at: Timestamp,
) -> Result<Identity, CertError> {
    let trust = crate::load::load_trust([(
        ca_dir.join(crate::ca::CA_CERT_FILE).as_path(),
        Some(ca_dir.join(crate::ca::CRL_FILE).as_path()),
    )])?;
    let cert = crate::load::read_cert(cert_path)?;
    check_cert(&trust, &cert, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, centre, now, year};
    use time::Duration;

    fn trust(ca: &crate::NetworkCa) -> TrustStore {
        let mut t = TrustStore::new();
        t.add_ca(ca.cert_der(), None).unwrap();
        t
    }

    fn officer(ca: &crate::NetworkCa, name: &str, role: Role) -> crate::IssuedCert {
        ca.issue_officer(
            &centre("caricc"),
            &name.parse().unwrap(),
            role,
            crate::ca::OfficerKey::P256,
            year(),
        )
        .unwrap()
    }

    #[test]
    fn officer_identity_reads_an_issued_certificate() {
        let ca = testing::ca("central-asia");
        let cert = officer(&ca, "a.karimova", Role::Supervisor);
        let who = officer_identity(&cert.cert_der).unwrap();
        assert_eq!(who.name.as_str(), "a.karimova");
        assert_eq!(who.node.as_str(), "caricc.central-asia");
        assert_eq!(who.role, Role::Supervisor);
        assert_eq!(
            who.to_string(),
            "a.karimova@caricc.central-asia (supervisor)"
        );
        assert_eq!(cert.subject, "a.karimova@caricc.central-asia");
    }

    #[test]
    fn node_and_officer_certificates_are_not_confused() {
        let ca = testing::ca("central-asia");
        let node = testing::node(&ca, "caricc");
        let err = officer_identity(&node.cert_der).unwrap_err();
        assert_eq!(err.reason_code(), "not-officer-certificate");
        let off = officer(&ca, "bob", Role::Officer);
        let err = node_identity(&off.cert_der).unwrap_err();
        assert_eq!(err.reason_code(), "not-node-certificate");
        let err = officer_identity(ca.cert_der()).unwrap_err();
        assert_eq!(err.reason_code(), "not-officer-certificate");
        let err = officer_identity(b"\x30\x03\x02\x01\x01").unwrap_err();
        assert_eq!(err.reason_code(), "malformed-certificate");
    }

    #[test]
    fn officer_certificate_verifies_until_revoked() {
        let ca = testing::ca("central-asia");
        let cert = officer(&ca, "auditor1", Role::Auditor);
        let at = crate::timestamp(now());
        match check_cert(&trust(&ca), &cert.cert_der, at).unwrap() {
            Identity::Officer(o) => {
                assert_eq!(o.officer.role, Role::Auditor);
                assert_eq!(o.serial, cert.serial);
            }
            other => panic!("{other:?}"),
        }
        let crl =
            crate::revocation::empty_crl(&ca, now(), crate::revocation::CRL_VALIDITY).unwrap();
        let (crl, _) = crate::revocation::revoke_in_crl(
            &ca,
            &crl.der,
            &cert.cert_der,
            std::path::Path::new("officer"),
            crate::Reason::AffiliationChanged,
            now(),
            crate::revocation::CRL_VALIDITY,
        )
        .unwrap();
        let mut revoked = TrustStore::new();
        revoked.add_ca(ca.cert_der(), Some(&crl.der)).unwrap();
        let later = crate::timestamp(now() + Duration::seconds(1));
        let err = check_cert(&revoked, &cert.cert_der, later).unwrap_err();
        assert_eq!(err.reason_code(), "revoked-certificate");
    }

    #[test]
    fn officer_certificate_of_another_ca_or_time_is_refused() {
        let ca = testing::ca("central-asia");
        let cert = officer(&ca, "bob", Role::Officer);
        let gulf = testing::ca("gulf");
        let err = check_cert(&trust(&gulf), &cert.cert_der, crate::timestamp(now())).unwrap_err();
        assert_eq!(err.reason_code(), "unknown-ca");
        let impostor = testing::ca("central-asia");
        let err =
            check_cert(&trust(&impostor), &cert.cert_der, crate::timestamp(now())).unwrap_err();
        assert_eq!(err.reason_code(), "bad-certificate-chain");
        let later = crate::timestamp(now() + Duration::days(400));
        let err = check_cert(&trust(&ca), &cert.cert_der, later).unwrap_err();
        assert_eq!(err.reason_code(), "certificate-expired");
    }

    #[test]
    fn officer_certificates_of_either_ca_of_a_network_verify_each_against_its_own_crl() {
        let (old, new) = (testing::ca("central-asia"), testing::ca("central-asia"));
        let a = officer(&old, "a.karimova", Role::Supervisor);
        let b = officer(&new, "b.nurlanov", Role::Officer);
        let crl = |ca: &crate::NetworkCa| {
            crate::revocation::empty_crl(ca, now(), crate::revocation::CRL_VALIDITY)
                .unwrap()
                .der
        };
        // The new CA revokes its officer; the old CA's CRL is empty.
        let (new_crl, _) = crate::revocation::revoke_in_crl(
            &new,
            &crl(&new),
            &b.cert_der,
            std::path::Path::new("officer"),
            crate::Reason::PrivilegeWithdrawn,
            now(),
            crate::revocation::CRL_VALIDITY,
        )
        .unwrap();
        let mut both = TrustStore::new();
        both.add_ca(old.cert_der(), Some(&crl(&old))).unwrap();
        both.add_ca(new.cert_der(), Some(&crl(&new))).unwrap();
        let at = crate::timestamp(now() + Duration::seconds(1));
        for cert in [&a, &b] {
            check_cert(&both, &cert.cert_der, at).unwrap();
        }
        let mut revoked = TrustStore::new();
        revoked.add_ca(old.cert_der(), Some(&crl(&old))).unwrap();
        revoked.add_ca(new.cert_der(), Some(&new_crl.der)).unwrap();
        check_cert(&revoked, &a.cert_der, at).unwrap();
        let err = check_cert(&revoked, &b.cert_der, at).unwrap_err();
        assert_eq!(err.reason_code(), "revoked-certificate");
        // The old CA retired: its officer is refused, the new CA's is not.
        let err = check_cert(&trust(&new), &a.cert_der, at).unwrap_err();
        assert_eq!(err.reason_code(), "bad-certificate-chain");
        check_cert(&trust(&new), &b.cert_der, at).unwrap();
    }

    #[test]
    fn roles_and_officer_names_parse_strictly() {
        for r in Role::ALL {
            assert_eq!(r.to_string().parse::<Role>().unwrap(), r);
        }
        assert_eq!(
            "admin".parse::<Role>().unwrap_err().reason_code(),
            "invalid-name"
        );
        for ok in ["bob", "a.karimova", "j_smith-2", "x"] {
            ok.parse::<OfficerName>().unwrap();
        }
        for bad in [
            "",
            "Bob",
            ".bob",
            "bob.",
            "a@b",
            "a/b",
            "..",
            &"x".repeat(65),
        ] {
            assert!(bad.parse::<OfficerName>().is_err(), "{bad:?} accepted");
        }
    }
}
