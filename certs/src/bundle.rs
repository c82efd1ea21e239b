//! Trust bundles: a network's CA certificates, each with its current CRL, in a single PEM
//! file, for other networks' gateways (and a network's own nodes, during a CA rollover) to
//! import.
//!
//! The file is one or more pairs of PEM sections, `CERTIFICATE` (a network CA) then
//! `X509 CRL` (signed by that CA), all for the same network. Parsing checks every pair, and
//! that each CRL's signature verifies with its own CA's key, so an importer never trusts a CA
//! with a CRL that is not its own.
//!
//! A bundle usually holds one CA. While a network rolls its CA over it holds two, the old
//! and the new, so that every node can trust the new CA before any certificate it issued is
//! in use, and stop trusting the old one after (docs/OPERATIONS.md, "Rolling a network CA
//! over"). A bundle of one CA is byte for byte the format of versions that knew only one CA
//! per bundle, and they read it; a bundle of several CAs is refused by them with
//! `malformed-bundle` (a third PEM section), never misread.

use std::path::Path;

use liaison_protocol::trust::CaFingerprint;
use liaison_protocol::{NetworkId, TrustError, TrustStore};
use rustls_pki_types::pem::SectionKind;

use crate::ca::{CA_CERT_FILE, CRL_FILE};
use crate::error::CertError;
use crate::load::{self, NewFile};

/// Most CAs one bundle may hold: a rollover needs two; one more leaves room for a rollover
/// begun again before the last one finished.
pub const MAX_BUNDLE_CAS: usize = 4;

/// One CA of a bundle and its CRL, checked to belong together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundledCa {
    /// The CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// The CRL, DER, signed by the CA.
    pub crl_der: Vec<u8>,
}

impl BundledCa {
    /// SHA-256 fingerprint of the CA certificate (`AB:CD:…`), to confirm out of band.
    pub fn fingerprint(&self) -> CaFingerprint {
        CaFingerprint::of(&self.ca_der)
    }
}

/// A network's CA certificates and their CRLs, checked to belong together and to one network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustBundle {
    /// The network the CAs are for.
    pub network: NetworkId,
    /// The CAs, in the order they were given (the order they are written in), each with its
    /// CRL: one, or during a CA rollover the old and the new.
    pub cas: Vec<BundledCa>,
}

impl TrustBundle {
    /// Builds a bundle of one CA from DER, checking the CA is a network CA and the CRL is
    /// signed by it.
    pub fn new(ca_der: Vec<u8>, crl_der: Vec<u8>) -> Result<Self, CertError> {
        Self::of(vec![BundledCa { ca_der, crl_der }])
    }

    /// Builds a bundle of several CAs of one network: each a network CA, each CRL signed by
    /// its CA, no CA twice, at most [`MAX_BUNDLE_CAS`].
    pub fn of(cas: Vec<BundledCa>) -> Result<Self, CertError> {
        if cas.is_empty() || cas.len() > MAX_BUNDLE_CAS {
            return Err(CertError::MalformedBundle(format!(
                "a bundle holds 1 to {MAX_BUNDLE_CAS} CAs, not {}",
                cas.len()
            )));
        }
        let mut store = TrustStore::new();
        let mut network: Option<NetworkId> = None;
        for c in &cas {
            let n = store
                .add_ca(&c.ca_der, Some(&c.crl_der))
                .map_err(|e| match e {
                    TrustError::DuplicateCa {
                        network,
                        fingerprint,
                        ..
                    } => CertError::DuplicateCa(format!(
                        "the {network} CA {fingerprint} is given twice (or twice with \
                             the same key); a bundle carries each CA once"
                    )),
                    other => other.into(),
                })?;
            match &network {
                Some(first) if first != &n => {
                    return Err(CertError::MalformedBundle(format!(
                        "a bundle is one network's: it holds CAs of {first} and of {n}"
                    )))
                }
                _ => network = Some(n),
            }
        }
        let network = network.ok_or_else(|| CertError::MalformedBundle("no CA".into()))?;
        Ok(Self { network, cas })
    }

    /// Reads `ca.crt` and `crl.pem` from a CA directory (the private key is not needed).
    pub fn from_ca_dir(dir: &Path) -> Result<Self, CertError> {
        Self::from_ca_dirs(&[dir])
    }

    /// Reads `ca.crt` and `crl.pem` from each CA directory, all of one network (the old CA's
    /// and the new one's, during a rollover).
    pub fn from_ca_dirs(dirs: &[&Path]) -> Result<Self, CertError> {
        let cas = dirs
            .iter()
            .map(|dir| {
                Ok(BundledCa {
                    ca_der: load::read_cert(&dir.join(CA_CERT_FILE))?,
                    crl_der: load::read_crl(&dir.join(CRL_FILE))?,
                })
            })
            .collect::<Result<Vec<_>, CertError>>()?;
        Self::of(cas)
    }

    /// Parses a bundle's PEM text; `origin` names it in errors.
    pub fn parse(origin: &Path, pem: &[u8]) -> Result<Self, CertError> {
        let sections = load::pem_sections(origin, pem)?;
        let malformed = |detail: &str| {
            CertError::MalformedBundle(format!(
                "{}: expected a CERTIFICATE section followed by an X509 CRL section, for \
                 each CA{detail}",
                origin.display()
            ))
        };
        if sections.len() % 2 != 0 {
            return Err(malformed(""));
        }
        if sections.len() / 2 > MAX_BUNDLE_CAS {
            return Err(malformed(&format!(", and at most {MAX_BUNDLE_CAS} CAs")));
        }
        let mut cas = Vec::with_capacity(sections.len() / 2);
        let mut it = sections.into_iter();
        while let (Some(first), Some(second)) = (it.next(), it.next()) {
            match (first, second) {
                ((SectionKind::Certificate, ca_der), (SectionKind::Crl, crl_der)) => {
                    cas.push(BundledCa { ca_der, crl_der })
                }
                _ => return Err(malformed("")),
            }
        }
        Self::of(cas)
    }

    /// Reads and parses a bundle file.
    pub fn read(path: &Path) -> Result<Self, CertError> {
        Self::parse(path, &load::read_file(path)?)
    }

    /// The bundle as PEM: each CA certificate followed by its CRL.
    pub fn to_pem(&self) -> String {
        let mut out = String::new();
        for c in &self.cas {
            out.push_str(&load::to_pem("CERTIFICATE", &c.ca_der));
            out.push_str(&load::to_pem("X509 CRL", &c.crl_der));
        }
        out
    }

    /// SHA-256 fingerprints of the CA certificates, in order, to confirm out of band.
    pub fn ca_fingerprints(&self) -> Vec<CaFingerprint> {
        self.cas.iter().map(BundledCa::fingerprint).collect()
    }

    /// Trusts this bundle's CAs in `store` (refused if one of them is trusted there already).
    pub fn add_to(&self, store: &mut TrustStore) -> Result<NetworkId, CertError> {
        for c in &self.cas {
            store.add_ca(&c.ca_der, Some(&c.crl_der))?;
        }
        Ok(self.network.clone())
    }
}

/// Writes the trust bundle of the CAs in `ca_dirs` (one network's) to a new file `out`.
pub fn write_trust_bundle(ca_dirs: &[&Path], out: &Path) -> Result<TrustBundle, CertError> {
    let bundle = TrustBundle::from_ca_dirs(ca_dirs)?;
    load::write_new_files(&[NewFile::public(out.to_owned(), bundle.to_pem())])?;
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{create_network, Validity, DEFAULT_CA_DAYS};
    use crate::testing::{net, now};

    fn network_dir(root: &Path, dir: &str, network: &str) -> std::path::PathBuf {
        let dir = root.join(dir);
        let v = Validity::days_from(now(), DEFAULT_CA_DAYS).unwrap();
        create_network(
            &net(network),
            &dir,
            v,
            now(),
            crate::revocation::CRL_VALIDITY,
        )
        .unwrap();
        dir
    }

    #[test]
    fn trust_bundle_round_trips_and_is_trusted() {
        let root = tempfile::tempdir().unwrap();
        let dir = network_dir(root.path(), "gulf", "gulf");
        let out = root.path().join("gulf.bundle.pem");
        let written = write_trust_bundle(&[&dir], &out).unwrap();
        let read = TrustBundle::read(&out).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.network.as_str(), "gulf");
        let mut store = TrustStore::new();
        assert_eq!(read.add_to(&mut store).unwrap().as_str(), "gulf");
        let cas = store.cas_of(&read.network);
        assert_eq!(cas.len(), 1);
        assert_eq!(cas[0].crl_der(), Some(read.cas[0].crl_der.as_slice()));
        let err = write_trust_bundle(&[&dir], &out).unwrap_err();
        assert_eq!(err.reason_code(), "file-exists");
    }

    #[test]
    fn a_one_ca_bundle_is_the_two_section_format() {
        let root = tempfile::tempdir().unwrap();
        let dir = network_dir(root.path(), "gulf", "gulf");
        let bundle = TrustBundle::from_ca_dir(&dir).unwrap();
        let ca = std::fs::read_to_string(dir.join(CA_CERT_FILE)).unwrap();
        let crl = std::fs::read_to_string(dir.join(CRL_FILE)).unwrap();
        assert_eq!(bundle.to_pem(), format!("{ca}{crl}"));
    }

    #[test]
    fn a_bundle_carries_the_old_and_the_new_ca_of_a_network() {
        let root = tempfile::tempdir().unwrap();
        let old = network_dir(root.path(), "asia-1", "central-asia");
        let new = network_dir(root.path(), "asia-2", "central-asia");
        let out = root.path().join("central-asia.bundle.pem");
        let written = write_trust_bundle(&[&old, &new], &out).unwrap();
        let read = TrustBundle::read(&out).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.cas.len(), 2);
        assert_ne!(read.cas[0].fingerprint(), read.cas[1].fingerprint());
        let mut store = TrustStore::new();
        read.add_to(&mut store).unwrap();
        assert_eq!(store.networks().count(), 1);
        assert_eq!(store.cas().count(), 2);
        // In the order given, each with its own CRL.
        for (trusted, bundled) in store.cas().zip(&read.cas) {
            assert_eq!(trusted.ca_der(), bundled.ca_der);
            assert_eq!(trusted.crl_der(), Some(bundled.crl_der.as_slice()));
        }
        // The same CA twice in one bundle is refused.
        let twice = TrustBundle::of(vec![read.cas[0].clone(), read.cas[0].clone()]).unwrap_err();
        assert_eq!(twice.reason_code(), "duplicate-ca");
    }

    #[test]
    fn bundle_with_a_foreign_crl_or_wrong_sections_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let gulf = TrustBundle::from_ca_dir(&network_dir(root.path(), "gulf", "gulf")).unwrap();
        let asia =
            TrustBundle::from_ca_dir(&network_dir(root.path(), "asia", "central-asia")).unwrap();
        let (g, a) = (&gulf.cas[0], &asia.cas[0]);
        let err = TrustBundle::new(g.ca_der.clone(), a.crl_der.clone()).unwrap_err();
        assert_eq!(err.reason_code(), "bad-crl");
        let origin = Path::new("bundle.pem");
        let crl_first = format!(
            "{}{}",
            load::to_pem("X509 CRL", &g.crl_der),
            load::to_pem("CERTIFICATE", &g.ca_der)
        );
        let err = TrustBundle::parse(origin, crl_first.as_bytes()).unwrap_err();
        assert_eq!(err.reason_code(), "malformed-bundle");
        let only_ca = load::to_pem("CERTIFICATE", &g.ca_der);
        let err = TrustBundle::parse(origin, only_ca.as_bytes()).unwrap_err();
        assert_eq!(err.reason_code(), "malformed-bundle");
        let err = TrustBundle::parse(origin, b"garbage").unwrap_err();
        assert_eq!(err.reason_code(), "malformed-pem");
        // Two networks in one bundle.
        let mixed = format!("{}{}", gulf.to_pem(), asia.to_pem());
        let err = TrustBundle::parse(origin, mixed.as_bytes()).unwrap_err();
        assert_eq!(err.reason_code(), "malformed-bundle");
        assert!(err.to_string().contains("one network"), "{err}");
        // More CAs than a bundle may hold.
        let many: Vec<BundledCa> = (0..=MAX_BUNDLE_CAS)
            .map(|i| {
                TrustBundle::from_ca_dir(&network_dir(root.path(), &format!("g{i}"), "gulf"))
                    .unwrap()
                    .cas
                    .remove(0)
            })
            .collect();
        let err = TrustBundle::of(many).unwrap_err();
        assert_eq!(err.reason_code(), "malformed-bundle");
    }
}
