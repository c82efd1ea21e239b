//! What a node loads at start, described for its log's administrative entries: each trusted
//! CA (fingerprint, subject, end of validity) with its CRL (number, next update, revoked
//! serials), and each certificate it presents (fingerprint, serial, end of validity).
//! Nothing here is secret: these are public certificates and lists.

use std::path::Path;

use liaison_protocol::Timestamp;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::load::TrustSource;
use crate::CertError;

/// A certificate's public facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFacts {
    /// SHA-256 of the DER, as OpenSSL prints it (`AB:CD:…`) and the CLI writes a CA's.
    pub fingerprint: String,
    /// Serial number, hex.
    pub serial: String,
    /// The subject's common name.
    pub subject: String,
    /// End of validity.
    pub not_after: Timestamp,
}

/// A CRL's public facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlFacts {
    /// The CRL number.
    pub number: u128,
    /// `nextUpdate`, if present.
    pub next_update: Option<Timestamp>,
    /// Serials of the revoked certificates, hex.
    pub revoked: Vec<String>,
}

/// A trusted CA and its CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustFacts {
    /// The file it was read from.
    pub origin: String,
    /// The CA certificate.
    pub ca: CertFacts,
    /// Its CRL, if the source has one.
    pub crl: Option<CrlFacts>,
}

/// The facts of a DER certificate.
pub fn cert_facts(der: &[u8]) -> Result<CertFacts, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| {
        CertError::Verify(liaison_protocol::VerifyError::MalformedCertificate(
            e.to_string(),
        ))
    })?;
    let subject = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("")
        .to_owned();
    Ok(CertFacts {
        fingerprint: liaison_protocol::trust::CaFingerprint::of(der).to_string(),
        serial: liaison_protocol::ids::hex(cert.raw_serial()),
        subject,
        not_after: crate::timestamp(cert.validity().not_after.to_datetime()),
    })
}

/// The CA (or CAs) and CRL a trust source names, read as the node reads them.
pub fn trust_facts(source: TrustSource<'_>) -> Result<Vec<TrustFacts>, CertError> {
    match source {
        TrustSource::Files { ca, crl } => {
            let crl = crl.map(crate::load::read_crl).transpose()?;
            Ok(vec![facts_of(
                ca,
                &crate::load::read_cert(ca)?,
                crl.as_deref(),
            )?])
        }
        // A bundle holds one CA, or during a rollover the old and the new.
        TrustSource::Bundle(path) => crate::TrustBundle::read(path)?
            .cas
            .iter()
            .map(|c| facts_of(path, &c.ca_der, Some(&c.crl_der)))
            .collect(),
    }
}

/// The CAs and CRLs a trust store holds now, each described as from `origin`.
pub fn store_facts(
    store: &liaison_protocol::TrustStore,
    origin: &Path,
) -> Result<Vec<TrustFacts>, CertError> {
    store
        .cas()
        .map(|ca| facts_of(origin, ca.ca_der(), ca.crl_der()))
        .collect()
}

fn facts_of(origin: &Path, ca: &[u8], crl: Option<&[u8]>) -> Result<TrustFacts, CertError> {
    let crl = match crl {
        None => None,
        Some(der) => {
            let c = crate::revocation::read_crl(ca, der)?;
            Some(CrlFacts {
                number: c.number,
                next_update: c.next_update.map(crate::timestamp),
                revoked: c.entries.into_iter().map(|e| e.serial).collect(),
            })
        }
    };
    Ok(TrustFacts {
        origin: origin.display().to_string(),
        ca: cert_facts(ca)?,
        crl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_ca_and_its_crl_are_described() {
        let ca = crate::testing::ca("central-asia");
        let crl =
            crate::revocation::empty_crl(&ca, crate::testing::now(), time::Duration::days(30))
                .unwrap();
        let f = facts_of(Path::new("ca.crt"), ca.cert_der(), Some(&crl.der)).unwrap();
        assert_eq!(
            f.ca.fingerprint.len(),
            32 * 3 - 1,
            "AB:CD:… as OpenSSL prints it"
        );
        assert!(f.ca.subject.contains("central-asia"), "{f:?}");
        assert_eq!(f.origin, "ca.crt");
        let crl = f.crl.as_ref().expect("a CRL");
        assert_eq!(crl.number, 1);
        assert!(crl.next_update.is_some());
        assert!(crl.revoked.is_empty());
        let node = crate::testing::node(&ca, "caricc");
        let n = cert_facts(&node.cert_der).unwrap();
        assert_eq!(n.serial, node.serial);
        assert_ne!(n.fingerprint, f.ca.fingerprint);
    }
}
