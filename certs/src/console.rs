//! The HTTPS certificate of a node's console (its officer-facing listener, `api.tls_listen`),
//! in a form browsers accept.
//!
//! Liaison's network PKI is Ed25519 throughout, and no browser verifies Ed25519 signatures
//! in a certificate chain or in TLS. So the listener that officers open in a browser presents
//! an ECDSA P-256 certificate of its own, certified by a **console CA that exists for this
//! one certificate**: `liaison certs console-tls` creates the CA's key, signs the server
//! certificate with it and drops it, never writing it anywhere. Nobody can issue a second
//! certificate under that CA, so officers can trust it in their browsers without trusting
//! anyone's ability to mint certificates; the CA is also name-constrained to the console's
//! host names and addresses, in case a browser is shown it for anything else. Renewing means
//! running the command again and handing officers the new CA certificate.
//!
//! | | subject | extensions |
//! |---|---|---|
//! | console CA | `CN=<node> console CA, OU=console CA, O=Liaison` | CA, pathlen 0; keyCertSign, digitalSignature; name constraints permitting exactly the hosts |
//! | console server | `CN=<node>, O=<centre>` | SAN: the hosts (DNS names and IP addresses); digitalSignature; serverAuth |
//!
//! Officers authenticate to that listener with their officer certificates from the network
//! CA, which carry P-256 keys by default ([`crate::ca::OfficerKey`]); the node checks those
//! against the network CA and its CRL as before. Nothing node-to-node changes.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use liaison_protocol::NodeId;
use rcgen::{
    BasicConstraints, CidrSubnet, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints, SanType,
    PKCS_ECDSA_P256_SHA256,
};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::ca::{fresh_params, Validity, CA_ORGANISATION};
use crate::error::CertError;
use crate::load::{self, NewFile};

/// Organisational unit in every console CA's subject (browser policies can select on it).
pub const CONSOLE_CA_UNIT: &str = "console CA";

/// A name officers use to reach the console: a DNS name or an IP address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsoleHost {
    /// A DNS name (lower case, as browsers compare it).
    Dns(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

impl fmt::Display for ConsoleHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleHost::Dns(d) => f.write_str(d),
            ConsoleHost::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl FromStr for ConsoleHost {
    type Err = CertError;

    fn from_str(s: &str) -> Result<Self, CertError> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(ConsoleHost::Ip(ip));
        }
        let bad = |detail: &str| CertError::InvalidName {
            what: "console host",
            value: s.to_owned(),
            detail: detail.to_owned(),
        };
        let ok_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if s.is_empty() || s.len() > 253 || !s.split('.').all(ok_label) {
            return Err(bad(
                "expected an IP address or a DNS name (labels of a-z, 0-9 and '-')",
            ));
        }
        Ok(ConsoleHost::Dns(s.to_ascii_lowercase()))
    }
}

impl ConsoleHost {
    fn san(&self) -> Result<SanType, CertError> {
        Ok(match self {
            ConsoleHost::Ip(ip) => SanType::IpAddress(*ip),
            ConsoleHost::Dns(d) => {
                SanType::DnsName(d.clone().try_into().map_err(|e: rcgen::Error| {
                    CertError::InvalidName {
                        what: "console host",
                        value: d.clone(),
                        detail: e.to_string(),
                    }
                })?)
            }
        })
    }

    fn subtree(&self) -> GeneralSubtree {
        match self {
            ConsoleHost::Ip(ip @ IpAddr::V4(_)) => {
                GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*ip, 32))
            }
            ConsoleHost::Ip(ip @ IpAddr::V6(_)) => {
                GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*ip, 128))
            }
            ConsoleHost::Dns(d) => GeneralSubtree::DnsName(d.clone()),
        }
    }
}

/// A console certificate and the CA certificate that certifies it, in memory; the CA's key
/// is already gone. `Debug` never shows the key.
pub struct ConsoleTls {
    /// The console CA certificate, PEM (for officers' browsers).
    pub ca_pem: String,
    /// The console CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// The server certificate, PEM.
    pub cert_pem: String,
    /// The server certificate, DER.
    pub cert_der: Vec<u8>,
    /// The server's PKCS#8 private key (P-256), PEM; zeroed on drop.
    pub key_pem: Zeroizing<String>,
    /// The names the certificate is valid for.
    pub hosts: Vec<ConsoleHost>,
    /// Its validity period.
    pub validity: Validity,
}

impl fmt::Debug for ConsoleTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleTls")
            .field("hosts", &self.hosts)
            .field("validity", &self.validity)
            .field("key_pem", &"(..)")
            .finish_non_exhaustive()
    }
}

/// Creates a console CA for `node`, signs a P-256 server certificate for `hosts` with it and
/// drops the CA's key (see the module documentation). At least one host is required.
pub fn generate(
    node: &NodeId,
    hosts: &[ConsoleHost],
    validity: Validity,
) -> Result<ConsoleTls, CertError> {
    if hosts.is_empty() {
        return Err(CertError::InvalidName {
            what: "console host",
            value: String::new(),
            detail: "name at least one host or address officers will open (e.g. --host 127.0.0.1)"
                .into(),
        });
    }
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut ca = fresh_params(validity)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("{node} console CA"));
    dn.push(DnType::OrganizationalUnitName, CONSOLE_CA_UNIT);
    dn.push(DnType::OrganizationName, CA_ORGANISATION);
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.name_constraints = Some(NameConstraints {
        permitted_subtrees: hosts.iter().map(ConsoleHost::subtree).collect(),
        excluded_subtrees: vec![],
    });
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = fresh_params(validity)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, node.as_str());
    dn.push(DnType::OrganizationName, node.centre_str());
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.subject_alt_names = hosts
        .iter()
        .map(ConsoleHost::san)
        .collect::<Result<_, _>>()?;
    let cert = params.signed_by(&key, &issuer)?;
    // `issuer` (and with it the CA's key) is dropped here: no further certificate can be
    // issued under this CA.
    drop(issuer);
    Ok(ConsoleTls {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().to_vec(),
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: Zeroizing::new(key.serialize_pem()),
        hosts: hosts.to_vec(),
        validity,
    })
}

/// What `console-tls` wrote.
#[derive(Clone, Debug)]
pub struct ConsoleTlsFiles {
    /// `<node>.console-ca.crt`: the CA certificate officers' browsers trust.
    pub ca_path: PathBuf,
    /// `<node>.console.crt`: the server certificate (`api.tls_cert`).
    pub cert_path: PathBuf,
    /// `<node>.console.key` (mode 0600): its key (`api.tls_key`).
    pub key_path: PathBuf,
    /// SHA-256 fingerprint of the CA certificate, for officers to compare before trusting it.
    pub ca_fingerprint: String,
    /// The names the certificate is valid for.
    pub hosts: Vec<ConsoleHost>,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

/// Writes a new console certificate for `node` into `out_dir` (created with mode 0700 if
/// missing): `<node>.console-ca.crt`, `<node>.console.crt` and `<node>.console.key`.
/// Refuses, writing nothing, if any of them exists.
pub fn create_files(
    node: &NodeId,
    hosts: &[ConsoleHost],
    out_dir: &Path,
    validity: Validity,
) -> Result<ConsoleTlsFiles, CertError> {
    let ca_path = out_dir.join(format!("{node}.console-ca.crt"));
    let cert_path = out_dir.join(format!("{node}.console.crt"));
    let key_path = out_dir.join(format!("{node}.console.key"));
    load::check_absent([ca_path.as_path(), cert_path.as_path(), key_path.as_path()])?;
    let tls = generate(node, hosts, validity)?;
    load::ensure_dir(out_dir, true)?;
    load::write_new_files(&[
        NewFile::public(ca_path.clone(), tls.ca_pem.as_bytes()),
        NewFile::public(cert_path.clone(), tls.cert_pem.as_bytes()),
        NewFile::secret(
            key_path.clone(),
            Zeroizing::new(tls.key_pem.as_bytes().to_vec()),
        ),
    ])?;
    Ok(ConsoleTlsFiles {
        ca_path,
        cert_path,
        key_path,
        ca_fingerprint: crate::ca::fingerprint(&tls.ca_der),
        hosts: tls.hosts,
        not_after: validity.not_after(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::year;
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::{FromDer, X509Certificate};

    fn hosts(list: &[&str]) -> Vec<ConsoleHost> {
        list.iter().map(|h| h.parse().unwrap()).collect()
    }

    #[test]
    fn console_certificate_verifies_for_its_hosts_only_under_its_ca() {
        let node: NodeId = "caricc.central-asia".parse().unwrap();
        let tls = generate(
            &node,
            &hosts(&["127.0.0.1", "Console.CARICC.example"]),
            year(),
        )
        .unwrap();
        let ca = CertificateDer::from(tls.ca_der.clone());
        let anchor = webpki::anchor_from_trusted_cert(&ca).unwrap();
        let ee_der = CertificateDer::from(tls.cert_der.clone());
        let ee = webpki::EndEntityCert::try_from(&ee_der).unwrap();
        let now = UnixTime::now();
        ee.verify_for_usage(
            &[webpki::ring::ECDSA_P256_SHA256],
            &[anchor],
            &[],
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .unwrap();
        for ok in ["127.0.0.1", "console.caricc.example"] {
            let name = ServerName::try_from(ok).unwrap();
            ee.verify_is_valid_for_subject_name(&name).unwrap();
        }
        for other in ["127.0.0.2", "caricc.central-asia", "example.com"] {
            let name = ServerName::try_from(other).unwrap();
            assert!(
                ee.verify_is_valid_for_subject_name(&name).is_err(),
                "{other}"
            );
        }
        // The profile: a P-256 CA constrained to the hosts, a server-only leaf.
        let (_, ca) = X509Certificate::from_der(&tls.ca_der).unwrap();
        assert_eq!(
            ca.subject().to_string(),
            "CN=caricc.central-asia console CA, OU=console CA, O=Liaison"
        );
        let nc = ca
            .iter_extensions()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::NameConstraints(nc) => Some(nc.clone()),
                _ => None,
            })
            .expect("name constraints");
        let permitted: Vec<_> = nc
            .permitted_subtrees
            .unwrap()
            .into_iter()
            .map(|s| s.base)
            .collect();
        assert_eq!(permitted.len(), 2);
        assert!(permitted.contains(&GeneralName::DNSName("console.caricc.example")));
        let (_, leaf) = X509Certificate::from_der(&tls.cert_der).unwrap();
        let eku = leaf.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        assert!(!leaf.is_ca());
        assert!(!format!("{tls:?}").contains("PRIVATE"));
        // The key is what rustls will load.
        let der = load::single_section(
            Path::new("key"),
            tls.key_pem.as_bytes(),
            rustls_pki_types::pem::SectionKind::PrivateKey,
        )
        .unwrap();
        rustls::crypto::ring::sign::any_supported_type(&rustls_pki_types::PrivateKeyDer::Pkcs8(
            der.into(),
        ))
        .unwrap();
    }

    #[test]
    fn hosts_parse_strictly_and_at_least_one_is_needed() {
        assert_eq!(
            "::1".parse::<ConsoleHost>().unwrap(),
            ConsoleHost::Ip("::1".parse().unwrap())
        );
        for bad in ["", "a..b", "-a.b", "a_b.example", "https://x", "a b"] {
            assert_eq!(
                bad.parse::<ConsoleHost>().unwrap_err().reason_code(),
                "invalid-name",
                "{bad:?}"
            );
        }
        let node: NodeId = "caricc.central-asia".parse().unwrap();
        assert_eq!(
            generate(&node, &[], year()).unwrap_err().reason_code(),
            "invalid-name"
        );
    }

    #[test]
    fn files_are_written_once_with_a_secret_key() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let node: NodeId = "kz-dcu.central-asia".parse().unwrap();
        let files = create_files(&node, &hosts(&["localhost"]), dir.path(), year()).unwrap();
        assert!(files
            .ca_path
            .ends_with("kz-dcu.central-asia.console-ca.crt"));
        let mode = std::fs::metadata(&files.key_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        load::read_cert(&files.cert_path).unwrap();
        let again = create_files(&node, &hosts(&["localhost"]), dir.path(), year()).unwrap_err();
        assert_eq!(again.reason_code(), "file-exists", "{again}");
    }
}
