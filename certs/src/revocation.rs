//! Certificate revocation lists: the empty CRL of a new network, and revoking a certificate
//! by re-signing the CA's CRL with one more entry.
//!
//! A CRL is only ever extended: every existing entry is carried over unchanged, the CRL
//! number goes up by one, `thisUpdate` is now and `nextUpdate` [`CRL_VALIDITY`] later.
//! Before anything is changed, the existing CRL's signature is checked with the CA's key
//! (the same check a node makes, via [`TrustStore::add_ca`]), so a tampered
//! `crl.pem` is refused rather than re-signed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use liaison_protocol::ids::hex;
use liaison_protocol::{TrustStore, VerifyError};
use rcgen::{CertificateRevocationListParams, RevocationReason, RevokedCertParams, SerialNumber};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::ca::{self, NetworkCa, CRL_FILE};
use crate::error::CertError;
use crate::load;

/// How long a CRL is current by default: its `nextUpdate` is this long after `thisUpdate`.
/// Re-issue it (`revoke` or `refresh-crl`) before then.
pub const CRL_VALIDITY: Duration = Duration::days(30);

/// Why a certificate was revoked (RFC 5280 §5.3.1 reason codes that apply to Liaison).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reason {
    /// No reason given; the CRL entry then carries no reason code, as RFC 5280 asks.
    #[default]
    Unspecified,
    /// The certificate's private key was, or may have been, compromised.
    KeyCompromise,
    /// The CA's key was compromised.
    CaCompromise,
    /// The subject's name or organisation changed.
    AffiliationChanged,
    /// Replaced by a new certificate.
    Superseded,
    /// The node or officer no longer operates.
    CessationOfOperation,
    /// The subject's privileges were withdrawn.
    PrivilegeWithdrawn,
}

impl Reason {
    /// All reasons, in order.
    pub const ALL: [Reason; 7] = [
        Reason::Unspecified,
        Reason::KeyCompromise,
        Reason::CaCompromise,
        Reason::AffiliationChanged,
        Reason::Superseded,
        Reason::CessationOfOperation,
        Reason::PrivilegeWithdrawn,
    ];

    /// The RFC 5280 name, e.g. `keyCompromise` (as `openssl ca -crl_reason` spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unspecified => "unspecified",
            Reason::KeyCompromise => "keyCompromise",
            Reason::CaCompromise => "caCompromise",
            Reason::AffiliationChanged => "affiliationChanged",
            Reason::Superseded => "superseded",
            Reason::CessationOfOperation => "cessationOfOperation",
            Reason::PrivilegeWithdrawn => "privilegeWithdrawn",
        }
    }

    fn rcgen(self) -> Option<RevocationReason> {
        match self {
            Reason::Unspecified => None,
            Reason::KeyCompromise => Some(RevocationReason::KeyCompromise),
            Reason::CaCompromise => Some(RevocationReason::CaCompromise),
            Reason::AffiliationChanged => Some(RevocationReason::AffiliationChanged),
            Reason::Superseded => Some(RevocationReason::Superseded),
            Reason::CessationOfOperation => Some(RevocationReason::CessationOfOperation),
            Reason::PrivilegeWithdrawn => Some(RevocationReason::PrivilegeWithdrawn),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Reason {
    type Err = CertError;
    /// Accepts the RFC 5280 names and kebab-case (`key-compromise`), case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = |x: &str| {
            x.chars()
                .filter(|c| !matches!(c, '-' | '_'))
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let want = norm(s);
        Reason::ALL
            .into_iter()
            .find(|r| norm(r.as_str()) == want)
            .ok_or_else(|| CertError::InvalidName {
                what: "revocation reason",
                value: s.to_owned(),
                detail: format!(
                    "must be one of {}",
                    Reason::ALL.map(Reason::as_str).join(", ")
                ),
            })
    }
}

/// Any RFC 5280 reason code found in an existing CRL, so entries are carried over intact.
fn reason_from_code(code: u8) -> Option<RevocationReason> {
    Some(match code {
        0 => RevocationReason::Unspecified,
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        8 => RevocationReason::RemoveFromCrl,
        9 => RevocationReason::PrivilegeWithdrawn,
        10 => RevocationReason::AaCompromise,
        _ => return None,
    })
}

/// A signed CRL, DER and PEM.
#[derive(Clone, Debug)]
pub struct SignedCrl {
    /// DER.
    pub der: Vec<u8>,
    /// PEM (`X509 CRL`).
    pub pem: String,
    /// Its CRL number.
    pub number: u128,
}

fn sign_crl(
    ca: &NetworkCa,
    number: u128,
    revoked: Vec<RevokedCertParams>,
    now: OffsetDateTime,
    validity: Duration,
) -> Result<SignedCrl, CertError> {
    if validity <= Duration::ZERO {
        return Err(CertError::InvalidValidity(
            "a CRL must be current for at least one day".into(),
        ));
    }
    let this_update = OffsetDateTime::from_unix_timestamp(now.unix_timestamp())
        .map_err(|e| CertError::InvalidValidity(e.to_string()))?;
    let params = CertificateRevocationListParams {
        this_update,
        next_update: this_update + validity,
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs: revoked,
        key_identifier_method: ca.key_id_method(),
    };
    let crl = params.signed_by(ca.issuer())?;
    Ok(SignedCrl {
        der: crl.der().to_vec(),
        pem: crl.pem()?,
        number,
    })
}

/// The first CRL of a new network: no entries, number 1, current for `validity`.
pub fn empty_crl(
    ca: &NetworkCa,
    now: OffsetDateTime,
    validity: Duration,
) -> Result<SignedCrl, CertError> {
    sign_crl(ca, 1, Vec::new(), now, validity)
}

/// One entry of a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial number, hex (the DER INTEGER's content bytes).
    pub serial: String,
    /// When it was revoked.
    pub revoked_at: OffsetDateTime,
    /// RFC 5280 reason code, if the entry has one.
    pub reason_code: Option<u8>,
    /// When the key was known or suspected to be compromised, if the entry says.
    pub invalidity_date: Option<OffsetDateTime>,
}

/// A CRL's number and entries, after checking it is signed by `ca_der`'s key.
#[derive(Clone, Debug)]
pub struct CrlContents {
    /// The CRL number.
    pub number: u128,
    /// `thisUpdate`.
    pub this_update: OffsetDateTime,
    /// `nextUpdate`, if present.
    pub next_update: Option<OffsetDateTime>,
    /// The revoked certificates.
    pub entries: Vec<RevokedEntry>,
}

/// Parses a CRL after checking it belongs to the CA (issuer name and signature).
pub fn read_crl(ca_der: &[u8], crl_der: &[u8]) -> Result<CrlContents, CertError> {
    // The node's own check: issuer equals the CA's subject, signature verifies.
    TrustStore::new().add_ca(ca_der, Some(crl_der))?;
    let bad = |d: String| CertError::Verify(VerifyError::BadCrl(d));
    let (_, crl) = CertificateRevocationList::from_der(crl_der).map_err(|e| bad(e.to_string()))?;
    let number = match crl.crl_number() {
        Some(n) => {
            let bytes = n.to_bytes_be();
            if bytes.len() > 16 {
                return Err(bad("CRL number longer than 16 bytes".into()));
            }
            bytes
                .iter()
                .fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
        }
        None => return Err(bad("CRL has no CRL number".into())),
    };
    let entries = crl
        .iter_revoked_certificates()
        .map(|r| RevokedEntry {
            serial: hex(r.raw_serial()),
            revoked_at: r.revocation_date.to_datetime(),
            reason_code: r.reason_code().map(|(_, c)| c.0),
            invalidity_date: r.invalidity_date().map(|(_, t)| t.to_datetime()),
        })
        .collect();
    Ok(CrlContents {
        number,
        this_update: crl.last_update().to_datetime(),
        next_update: crl.next_update().map(|t| t.to_datetime()),
        entries,
    })
}

/// Re-signs the CA's CRL, keeping every entry and adding `extra` if given; the CRL number
/// goes up by one and the new CRL is current from `now` for `validity`.
fn reissue(
    ca: &NetworkCa,
    crl_der: &[u8],
    extra: Option<RevokedCertParams>,
    now: OffsetDateTime,
    validity: Duration,
) -> Result<SignedCrl, CertError> {
    let existing = read_crl(ca.cert_der(), crl_der)?;
    let mut revoked = Vec::with_capacity(existing.entries.len() + 1);
    for e in &existing.entries {
        let raw = liaison_protocol::ids::unhex(&e.serial).unwrap_or_default();
        if extra
            .as_ref()
            .is_some_and(|x| SerialNumber::from_slice(&raw) == x.serial_number)
        {
            return Err(CertError::AlreadyRevoked {
                serial: e.serial.clone(),
                since: crate::timestamp(e.revoked_at).to_string(),
            });
        }
        revoked.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&raw),
            revocation_time: e.revoked_at,
            reason_code: match e.reason_code {
                Some(c) => Some(reason_from_code(c).ok_or_else(|| {
                    CertError::Verify(VerifyError::BadCrl(format!("unknown reason code {c}")))
                })?),
                None => None,
            },
            invalidity_date: e.invalidity_date,
        });
    }
    revoked.extend(extra);
    let number = existing
        .number
        .checked_add(1)
        .ok_or_else(|| CertError::Verify(VerifyError::BadCrl("CRL number overflow".into())))?;
    sign_crl(ca, number, revoked, now, validity)
}

/// Returns the CA's CRL with `cert_der` added (revoked `now`, for `reason`), re-signed and
/// current for `validity`, and the revoked serial (hex). Refuses a certificate this CA did
/// not issue, one already revoked, and a CRL whose signature does not verify with the CA's key.
pub fn revoke_in_crl(
    ca: &NetworkCa,
    crl_der: &[u8],
    cert_der: &[u8],
    cert_origin: &Path,
    reason: Reason,
    now: OffsetDateTime,
    validity: Duration,
) -> Result<(SignedCrl, String), CertError> {
    ca.check_issued(cert_der, cert_origin)?;
    let cert = ca::parse_x509(cert_der, cert_origin)?;
    let serial_raw = cert.tbs_certificate.raw_serial();
    let entry = RevokedCertParams {
        serial_number: SerialNumber::from_slice(serial_raw),
        revocation_time: OffsetDateTime::from_unix_timestamp(now.unix_timestamp())
            .map_err(|e| CertError::InvalidValidity(e.to_string()))?,
        reason_code: reason.rcgen(),
        invalidity_date: None,
    };
    let crl = reissue(ca, crl_der, Some(entry), now, validity)?;
    Ok((crl, hex(serial_raw)))
}

/// Re-signs the CRL in `ca_dir` unchanged but for a new number and dates, so relying
/// parties that enforce `nextUpdate` (OpenSSL does) keep accepting it.
pub fn refresh(
    ca_dir: &Path,
    now: OffsetDateTime,
    validity: Duration,
) -> Result<SignedCrl, CertError> {
    let ca = NetworkCa::load(ca_dir)?;
    let crl_path = ca_dir.join(CRL_FILE);
    let crl = reissue(&ca, &load::read_crl(&crl_path)?, None, now, validity)?;
    load::replace_file(&crl_path, crl.pem.as_bytes(), false)?;
    Ok(crl)
}

/// What `revoke` did.
#[derive(Clone, Debug)]
pub struct Revocation {
    /// Serial number of the revoked certificate, hex.
    pub serial: String,
    /// The revoked certificate's subject common name (node id or officer).
    pub subject: String,
    /// The reason recorded.
    pub reason: Reason,
    /// The new CRL's number.
    pub crl_number: u128,
    /// The CRL file rewritten.
    pub crl_path: PathBuf,
}

/// Revokes the certificate in `cert_path` in the CA of `ca_dir`: adds it to `crl.pem`,
/// re-signed (current for `crl_validity`), replaced atomically.
pub fn revoke(
    ca_dir: &Path,
    cert_path: &Path,
    reason: Reason,
    now: OffsetDateTime,
    crl_validity: Duration,
) -> Result<Revocation, CertError> {
    let ca = NetworkCa::load(ca_dir)?;
    let crl_path = ca_dir.join(CRL_FILE);
    let crl_der = load::read_crl(&crl_path)?;
    let cert_der = load::read_cert(cert_path)?;
    let (crl, serial) = revoke_in_crl(
        &ca,
        &crl_der,
        &cert_der,
        cert_path,
        reason,
        now,
        crl_validity,
    )?;
    let subject = ca::parse_x509(&cert_der, cert_path)?
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("?")
        .to_owned();
    load::replace_file(&crl_path, crl.pem.as_bytes(), false)?;
    Ok(Revocation {
        serial,
        subject,
        reason,
        crl_number: crl.number,
        crl_path,
    })
}

/// The key identifier of a CRL's authorityKeyIdentifier extension, if it has one.
fn authority_key_id<'a>(crl: &'a CertificateRevocationList<'_>) -> Option<&'a [u8]> {
    crl.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0)
            }
            _ => None,
        })
}

/// The subjectKeyIdentifier of a certificate, if it has one.
fn subject_key_id(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    let id = cert
        .iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        });
    id
}

/// What [`apply_crl`] made of a CRL received from elsewhere (a peer, a changed file).
#[derive(Debug)]
pub enum CrlUpdate {
    /// The CRL is newer than the one in force for its CA: `store` is the trust with it.
    Newer {
        /// The same CAs, with this CRL in place of the older one.
        store: TrustStore,
        /// The network of the CA that signed it.
        network: liaison_protocol::NetworkId,
        /// That CA's fingerprint.
        fingerprint: liaison_protocol::trust::CaFingerprint,
        /// Its CRL number.
        number: u128,
        /// The number of the CRL it replaces.
        previous: u128,
        /// Serials (hex) it revokes that the replaced one did not.
        newly_revoked: Vec<String>,
    },
    /// The CA's CRL in force already has this number or a higher one.
    NotNewer {
        /// The number in force.
        in_force: u128,
    },
    /// No trusted CA has the name of the list's issuer: it is for a network not trusted here.
    NotTrusted,
}

/// Checks `crl_der` against the CAs `store` trusts and, if a trusted CA signed it and its
/// CRL number is higher than that CA's CRL in force, returns the trust with it in place.
/// A CRL is accepted on its own signature only: whoever carried it cannot forge or roll
/// back a revocation. Refused (`bad-crl`) if it does not parse, or if trusted CAs have its
/// issuer's name but none of them signed it.
pub fn apply_crl(store: &TrustStore, crl_der: &[u8]) -> Result<CrlUpdate, CertError> {
    let bad = |d: String| CertError::Verify(VerifyError::BadCrl(d));
    let (_, crl) = CertificateRevocationList::from_der(crl_der).map_err(|e| bad(e.to_string()))?;
    let issuer = crl.issuer().as_raw();
    let named: Vec<_> = store
        .cas()
        .filter(|ca| {
            x509_parser::certificate::X509Certificate::from_der(ca.ca_der())
                .is_ok_and(|(_, c)| c.subject().as_raw() == issuer)
        })
        .collect();
    if named.is_empty() {
        return Ok(CrlUpdate::NotTrusted);
    }
    let Some((issuer, contents)) = named
        .iter()
        .find_map(|ca| read_crl(ca.ca_der(), crl_der).ok().map(|c| (*ca, c)))
    else {
        // The CAs of one network share their name: during a CA rollover a node that trusts
        // only one of them receives the other's list. The list's authority key identifier
        // tells the two apart; only a list that claims a trusted CA's key is refused.
        let claims_trusted_key = authority_key_id(&crl).is_some_and(|aki| {
            named
                .iter()
                .any(|ca| subject_key_id(ca.ca_der()).as_deref() == Some(aki))
        });
        if claims_trusted_key || authority_key_id(&crl).is_none() {
            return Err(bad(
                "the list names a trusted network CA as its issuer but is not signed by it".into(),
            ));
        }
        return Ok(CrlUpdate::NotTrusted);
    };
    let held = match issuer.crl_der() {
        Some(der) => Some(read_crl(issuer.ca_der(), der)?),
        None => None,
    };
    let previous = held.as_ref().map_or(0, |h| h.number);
    if held.is_some() && contents.number <= previous {
        return Ok(CrlUpdate::NotNewer { in_force: previous });
    }
    let fingerprint = issuer.fingerprint();
    let mut next = TrustStore::new();
    for ca in store.cas() {
        let crl = if ca.fingerprint() == fingerprint {
            Some(crl_der)
        } else {
            ca.crl_der()
        };
        next.add_ca(ca.ca_der(), crl)?;
    }
    let newly_revoked = contents
        .entries
        .into_iter()
        .map(|e| e.serial)
        .filter(|serial| {
            !held
                .as_ref()
                .is_some_and(|h| h.entries.iter().any(|e| &e.serial == serial))
        })
        .collect();
    Ok(CrlUpdate::Newer {
        store: next,
        network: issuer.network().clone(),
        fingerprint,
        number: contents.number,
        previous,
        newly_revoked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, now};
    use liaison_protocol::TrustStore;

    fn revoke_now(
        ca: &NetworkCa,
        crl: &[u8],
        cert: &[u8],
        reason: Reason,
    ) -> Result<SignedCrl, CertError> {
        revoke_in_crl(
            ca,
            crl,
            cert,
            Path::new("cert"),
            reason,
            now(),
            CRL_VALIDITY,
        )
        .map(|(c, _)| c)
    }

    #[test]
    fn revoked_node_certificate_is_refused_by_the_trust_store() {
        let ca = testing::ca("central-asia");
        let node = testing::node(&ca, "caricc");
        let crl = empty_crl(&ca, now(), CRL_VALIDITY).unwrap();
        let crl = revoke_now(&ca, &crl.der, &node.cert_der, Reason::KeyCompromise).unwrap();
        let mut trust = TrustStore::new();
        trust.add_ca(ca.cert_der(), Some(&crl.der)).unwrap();
        let at = crate::timestamp(now() + Duration::seconds(1));
        let err = crate::check_cert(&trust, &node.cert_der, at).unwrap_err();
        assert_eq!(err.reason_code(), "revoked-certificate");
        assert!(err.to_string().contains(&node.serial), "{err}");
        // Before the revocation it was good: old messages still verify.
        let before = crate::timestamp(now() - Duration::minutes(5));
        trust.check_node_cert(&node.cert_der, before).unwrap();
    }

    /// A CRL in `claimed`'s name and with its key identifier, signed by `signer`'s key.
    fn forge_crl_claiming(claimed: &NetworkCa, signer: &NetworkCa) -> Vec<u8> {
        let this_update = OffsetDateTime::from_unix_timestamp(now().unix_timestamp()).unwrap();
        CertificateRevocationListParams {
            this_update,
            next_update: this_update + CRL_VALIDITY,
            crl_number: SerialNumber::from_slice(&[9]),
            issuing_distribution_point: None,
            revoked_certs: vec![],
            key_identifier_method: claimed.key_id_method(),
        }
        .signed_by(signer.issuer())
        .unwrap()
        .der()
        .to_vec()
    }

    #[test]
    fn a_newer_crl_from_its_ca_replaces_the_one_in_force_and_nothing_else_does() {
        let ca = testing::ca("gulf");
        let rollover = testing::ca("gulf");
        let other = testing::ca("central-asia");
        let node = testing::node(&ca, "gcc-cic");
        let first = empty_crl(&ca, now(), CRL_VALIDITY).unwrap();
        let mut trust = TrustStore::new();
        trust.add_ca(ca.cert_der(), Some(&first.der)).unwrap();
        let rollover_crl = empty_crl(&rollover, now(), CRL_VALIDITY).unwrap();
        trust
            .add_ca(rollover.cert_der(), Some(&rollover_crl.der))
            .unwrap();
        let at = crate::timestamp(now() + Duration::seconds(1));
        trust.check_node_cert(&node.cert_der, at).unwrap();

        let second = revoke_now(&ca, &first.der, &node.cert_der, Reason::KeyCompromise).unwrap();
        let CrlUpdate::Newer {
            store,
            network,
            fingerprint,
            number,
            previous,
            newly_revoked,
        } = apply_crl(&trust, &second.der).unwrap()
        else {
            panic!("a higher number from the CA is newer")
        };
        assert_eq!(network.as_str(), "gulf");
        assert_eq!(
            fingerprint,
            liaison_protocol::trust::CaFingerprint::of(ca.cert_der())
        );
        assert_eq!((number, previous), (2, 1));
        assert_eq!(newly_revoked, std::slice::from_ref(&node.serial));
        let err = store.check_node_cert(&node.cert_der, at).unwrap_err();
        assert_eq!(err.reason_code(), "revoked-certificate");
        // The other CA of the network keeps its own list.
        assert_eq!(store.cas().count(), 2);

        // The same list again, or the older one, changes nothing: no rollback by a carrier.
        for same_or_older in [&second.der, &first.der] {
            match apply_crl(&store, same_or_older).unwrap() {
                CrlUpdate::NotNewer { in_force } => assert_eq!(in_force, 2),
                other => panic!("{other:?}"),
            }
        }
        // A list of a network not trusted here is not for this node.
        let foreign = empty_crl(&other, now(), CRL_VALIDITY).unwrap();
        assert!(matches!(
            apply_crl(&store, &foreign.der).unwrap(),
            CrlUpdate::NotTrusted
        ));
        // The list of another CA of the same name (a rollover's CA not trusted here yet) is
        // not for this node either: its authority key identifier names another key.
        let impostor = testing::ca("gulf");
        let other_key = empty_crl(&impostor, now(), CRL_VALIDITY).unwrap();
        let mut old_only = TrustStore::new();
        old_only.add_ca(ca.cert_der(), Some(&second.der)).unwrap();
        assert!(matches!(
            apply_crl(&old_only, &other_key.der).unwrap(),
            CrlUpdate::NotTrusted
        ));
        // One that claims a trusted CA's key but is not signed by it, a tampered one, or no
        // list at all is refused.
        let forged = forge_crl_claiming(&ca, &impostor);
        let mut tampered = second.der.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        for bad in [&forged, &tampered, &b"not a crl".to_vec()] {
            let err = apply_crl(&store, bad).unwrap_err();
            assert_eq!(err.reason_code(), "bad-crl", "{err}");
        }
    }

    #[test]
    fn revoking_twice_says_already_revoked() {
        let ca = testing::ca("gulf");
        let node = testing::node(&ca, "gcc-cic");
        let crl = empty_crl(&ca, now(), CRL_VALIDITY).unwrap();
        let crl = revoke_now(&ca, &crl.der, &node.cert_der, Reason::Unspecified).unwrap();
        let err = revoke_now(&ca, &crl.der, &node.cert_der, Reason::Superseded).unwrap_err();
        assert_eq!(err.reason_code(), "already-revoked");
        assert!(err.to_string().contains("already revoked"), "{err}");
    }

    #[test]
    fn certificate_of_another_ca_cannot_be_revoked() {
        let ca = testing::ca("gulf");
        let other = testing::ca("central-asia");
        let same_name = testing::ca("gulf");
        let crl = empty_crl(&ca, now(), CRL_VALIDITY).unwrap();
        for foreign in [
            testing::node(&other, "caricc"),
            testing::node(&same_name, "x"),
        ] {
            let err =
                revoke_now(&ca, &crl.der, &foreign.cert_der, Reason::Unspecified).unwrap_err();
            assert_eq!(err.reason_code(), "wrong-ca", "{err}");
        }
        let err = revoke_now(&ca, &crl.der, ca.cert_der(), Reason::Unspecified).unwrap_err();
        assert_eq!(err.reason_code(), "wrong-ca");
    }

    #[test]
    fn crl_not_signed_by_the_ca_is_not_resigned() {
        let ca = testing::ca("gulf");
        let other = testing::ca("gulf");
        let node = testing::node(&ca, "gcc-cic");
        let foreign_crl = empty_crl(&other, now(), CRL_VALIDITY).unwrap();
        let err =
            revoke_now(&ca, &foreign_crl.der, &node.cert_der, Reason::Unspecified).unwrap_err();
        assert_eq!(err.reason_code(), "bad-crl");
        let mut tampered = empty_crl(&ca, now(), CRL_VALIDITY).unwrap().der;
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let err = revoke_now(&ca, &tampered, &node.cert_der, Reason::Unspecified).unwrap_err();
        assert_eq!(err.reason_code(), "bad-crl");
    }

    #[test]
    fn revocation_keeps_entries_and_increments_the_crl_number() {
        let ca = testing::ca("gulf");
        let a = testing::node(&ca, "a");
        let b = testing::node(&ca, "b");
        let crl = empty_crl(&ca, now(), CRL_VALIDITY).unwrap();
        let crl = revoke_now(&ca, &crl.der, &a.cert_der, Reason::KeyCompromise).unwrap();
        let crl = revoke_now(&ca, &crl.der, &b.cert_der, Reason::Unspecified).unwrap();
        let contents = read_crl(ca.cert_der(), &crl.der).unwrap();
        assert_eq!(contents.number, 3);
        let serials: Vec<_> = contents.entries.iter().map(|e| e.serial.as_str()).collect();
        assert_eq!(serials, [a.serial.as_str(), b.serial.as_str()]);
        assert_eq!(contents.entries[0].reason_code, Some(1));
        assert_eq!(contents.entries[1].reason_code, None);
        assert_eq!(
            contents.next_update.unwrap() - contents.this_update,
            CRL_VALIDITY
        );
    }

    #[test]
    fn refresh_and_revoke_rewrite_crl_pem_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ca");
        let v = crate::Validity::days_from(now(), 1000).unwrap();
        crate::create_network(&testing::net("gulf"), &ca_dir, v, now(), CRL_VALIDITY).unwrap();
        let node = crate::issue_node_files(&ca_dir, "x", dir.path(), testing::year()).unwrap();
        let r = revoke(
            &ca_dir,
            &node.cert_path,
            Reason::Superseded,
            now(),
            CRL_VALIDITY,
        )
        .unwrap();
        assert_eq!(
            (r.crl_number, r.serial.as_str(), r.subject.as_str()),
            (2, node.serial.as_str(), "x.gulf")
        );
        let later = now() + Duration::days(20);
        let crl = refresh(&ca_dir, later, Duration::days(7)).unwrap();
        assert_eq!(crl.number, 3);
        let ca = NetworkCa::load(&ca_dir).unwrap();
        let contents = read_crl(
            ca.cert_der(),
            &load::read_crl(&ca_dir.join(CRL_FILE)).unwrap(),
        )
        .unwrap();
        assert_eq!(contents.number, 3);
        assert_eq!(contents.entries.len(), 1);
        assert_eq!(contents.entries[0].reason_code, Some(4));
        assert_eq!(
            contents.next_update.unwrap() - contents.this_update,
            Duration::days(7)
        );
        let err = revoke(
            &ca_dir,
            &node.cert_path,
            Reason::Unspecified,
            now(),
            CRL_VALIDITY,
        )
        .unwrap_err();
        assert_eq!(err.reason_code(), "already-revoked");
        assert_eq!(
            std::fs::read_dir(&ca_dir).unwrap().count(),
            4,
            "no temp files left"
        );
    }

    #[test]
    fn reasons_parse_from_rfc_and_kebab_names() {
        assert_eq!(
            "keyCompromise".parse::<Reason>().unwrap(),
            Reason::KeyCompromise
        );
        assert_eq!(
            "key-compromise".parse::<Reason>().unwrap(),
            Reason::KeyCompromise
        );
        assert_eq!(
            "cessation-of-operation".parse::<Reason>().unwrap(),
            Reason::CessationOfOperation
        );
        for r in Reason::ALL {
            assert_eq!(r.to_string().parse::<Reason>().unwrap(), r);
        }
        let err = "certificateHold".parse::<Reason>().unwrap_err();
        assert_eq!(err.reason_code(), "invalid-name");
    }
}
