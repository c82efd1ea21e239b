//! Trust bundles: one network's CA certificate and current CRL in a single PEM file, for
//! another network's gateways to import.
//!
//! The file is exactly two PEM sections, `CERTIFICATE` (the network CA) then `X509 CRL`
//! (signed by that CA). Parsing checks both, and that the CRL's signature verifies with the
//! CA's key, so an importer never trusts a CA with a CRL that is not its own.

use std::path::Path;

use liaison_protocol::{NetworkId, TrustStore};
use rustls_pki_types::pem::SectionKind;

use crate::ca::{CA_CERT_FILE, CRL_FILE};
use crate::error::CertError;
use crate::load::{self, NewFile};

/// A network's CA certificate and CRL, checked to belong together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustBundle {
    /// The network the CA is for.
    pub network: NetworkId,
    /// The CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// The CRL, DER, signed by the CA.
    pub crl_der: Vec<u8>,
}

impl TrustBundle {
    /// Builds a bundle from DER, checking the CA is a network CA and the CRL is signed by it.
    pub fn new(ca_der: Vec<u8>, crl_der: Vec<u8>) -> Result<Self, CertError> {
        let network = TrustStore::new().add_network(&ca_der, Some(&crl_der))?;
        Ok(Self {
            network,
            ca_der,
            crl_der,
        })
    }

    /// Reads `ca.crt` and `crl.pem` from a CA directory (the private key is not needed).
    pub fn from_ca_dir(dir: &Path) -> Result<Self, CertError> {
        let ca = load::read_cert(&dir.join(CA_CERT_FILE))?;
        let crl = load::read_crl(&dir.join(CRL_FILE))?;
        Self::new(ca, crl)
    }

    /// Parses a bundle's PEM text; `origin` names it in errors.
    pub fn parse(origin: &Path, pem: &[u8]) -> Result<Self, CertError> {
        let mut sections = load::pem_sections(origin, pem)?.into_iter();
        match (sections.next(), sections.next(), sections.next()) {
            (Some((SectionKind::Certificate, ca)), Some((SectionKind::Crl, crl)), None) => {
                Self::new(ca, crl)
            }
            _ => Err(CertError::MalformedBundle(format!(
                "{}: expected a CERTIFICATE section followed by an X509 CRL section",
                origin.display()
            ))),
        }
    }

    /// Reads and parses a bundle file.
    pub fn read(path: &Path) -> Result<Self, CertError> {
        Self::parse(path, &load::read_file(path)?)
    }

    /// The bundle as PEM: the CA certificate, then the CRL.
    pub fn to_pem(&self) -> String {
        let mut out = load::to_pem("CERTIFICATE", &self.ca_der);
        out.push_str(&load::to_pem("X509 CRL", &self.crl_der));
        out
    }

    /// SHA-256 fingerprint of the CA certificate (`AB:CD:…`), to confirm out of band.
    pub fn ca_fingerprint(&self) -> String {
        crate::ca::fingerprint(&self.ca_der)
    }

    /// Trusts this bundle's network in `store` (replacing an earlier CA or CRL for it).
    pub fn add_to(&self, store: &mut TrustStore) -> Result<NetworkId, CertError> {
        Ok(store.add_network(&self.ca_der, Some(&self.crl_der))?)
    }
}

/// Writes the trust bundle of the CA in `ca_dir` to a new file `out`.
pub fn write_trust_bundle(ca_dir: &Path, out: &Path) -> Result<TrustBundle, CertError> {
    let bundle = TrustBundle::from_ca_dir(ca_dir)?;
    load::write_new_files(&[NewFile::public(out.to_owned(), bundle.to_pem())])?;
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{create_network, Validity, DEFAULT_CA_DAYS};
    use crate::testing::{net, now};

    fn network_dir(root: &Path, name: &str) -> std::path::PathBuf {
        let dir = root.join(name);
        let v = Validity::days_from(now(), DEFAULT_CA_DAYS).unwrap();
        create_network(&net(name), &dir, v, now(), crate::revocation::CRL_VALIDITY).unwrap();
        dir
    }

    #[test]
    fn trust_bundle_round_trips_and_is_trusted() {
        let root = tempfile::tempdir().unwrap();
        let dir = network_dir(root.path(), "gulf");
        let out = root.path().join("gulf.bundle.pem");
        let written = write_trust_bundle(&dir, &out).unwrap();
        let read = TrustBundle::read(&out).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.network.as_str(), "gulf");
        let mut store = TrustStore::new();
        assert_eq!(read.add_to(&mut store).unwrap().as_str(), "gulf");
        assert_eq!(store.crl_der(&read.network), Some(read.crl_der.as_slice()));
        let err = write_trust_bundle(&dir, &out).unwrap_err();
        assert_eq!(err.reason_code(), "file-exists");
    }

    #[test]
    fn bundle_with_a_foreign_crl_or_wrong_sections_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let gulf = TrustBundle::from_ca_dir(&network_dir(root.path(), "gulf")).unwrap();
        let asia = TrustBundle::from_ca_dir(&network_dir(root.path(), "central-asia")).unwrap();
        let err = TrustBundle::new(gulf.ca_der.clone(), asia.crl_der.clone()).unwrap_err();
        assert_eq!(err.reason_code(), "bad-crl");
        let origin = Path::new("bundle.pem");
        let crl_first = format!(
            "{}{}",
            load::to_pem("X509 CRL", &gulf.crl_der),
            load::to_pem("CERTIFICATE", &gulf.ca_der)
        );
        let err = TrustBundle::parse(origin, crl_first.as_bytes()).unwrap_err();
        assert_eq!(err.reason_code(), "malformed-bundle");
        let only_ca = load::to_pem("CERTIFICATE", &gulf.ca_der);
        let err = TrustBundle::parse(origin, only_ca.as_bytes()).unwrap_err();
        assert_eq!(err.reason_code(), "malformed-bundle");
        let err = TrustBundle::parse(origin, b"garbage").unwrap_err();
        assert_eq!(err.reason_code(), "malformed-pem");
    }
}
