//! Shared fixtures for Liaison's cross-crate and multi-node scenario tests: an in-memory PKI
//! of several networks built with the real `liaison-certs` code, and signers loaded from it.
#![forbid(unsafe_code)]

pub mod cluster;

use std::collections::BTreeMap;

use liaison_certs::revocation::{empty_crl, revoke_in_crl, Reason};
use liaison_certs::{IssuedCert, NetworkCa, Validity};
use liaison_protocol::{Signer, SigningKey, TrustStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use time::{Duration, OffsetDateTime};

/// A network CA with its current CRL (DER).
pub struct TestNetwork {
    /// The CA.
    pub ca: NetworkCa,
    /// Its current CRL, DER.
    pub crl_der: Vec<u8>,
}

/// Several network CAs, created in memory with the real issuing code.
pub struct TestPki {
    /// Networks by name.
    pub networks: BTreeMap<String, TestNetwork>,
}

/// A CA valid from two years ago for ten years, so tests can issue certificates in the past.
pub fn ca_validity() -> Validity {
    let now = OffsetDateTime::now_utc();
    Validity::new(now - Duration::days(730), now + Duration::days(3000)).expect("validity")
}

impl TestPki {
    /// CAs (with empty CRLs) for the named networks.
    pub fn new(networks: &[&str]) -> Self {
        let now = OffsetDateTime::now_utc();
        let networks = networks
            .iter()
            .map(|n| {
                let (ca, _) =
                    NetworkCa::generate(&n.parse().expect("network"), ca_validity()).expect("ca");
                let crl_der = empty_crl(&ca, now, Duration::days(30)).expect("crl").der;
                (n.to_string(), TestNetwork { ca, crl_der })
            })
            .collect();
        Self { networks }
    }

    /// The CA of a network.
    pub fn ca(&self, network: &str) -> &NetworkCa {
        &self.networks[network].ca
    }

    /// Issues a node certificate valid for a year from now.
    pub fn node(&self, node: &str) -> IssuedCert {
        let now = OffsetDateTime::now_utc();
        self.node_valid(node, Validity::days_from(now, 365).expect("validity"))
    }

    /// Issues a node certificate (`centre.network`) with an explicit validity.
    pub fn node_valid(&self, node: &str, validity: Validity) -> IssuedCert {
        let (centre, network) = node.split_once('.').expect("centre.network");
        self.ca(network)
            .issue_node(&centre.parse().expect("centre"), validity)
            .expect("issue node")
    }

    /// Revokes a certificate at time `at`, updating the network's CRL.
    pub fn revoke(&mut self, network: &str, cert: &IssuedCert, at: OffsetDateTime) {
        let net = self.networks.get_mut(network).expect("network");
        let (crl, _) = revoke_in_crl(
            &net.ca,
            &net.crl_der,
            &cert.cert_der,
            std::path::Path::new("test.crt"),
            Reason::KeyCompromise,
            at,
            Duration::days(30),
        )
        .expect("revoke");
        net.crl_der = crl.der;
    }

    /// A trust store trusting every network of this PKI, with current CRLs.
    pub fn trust(&self) -> TrustStore {
        self.trust_only(&self.networks.keys().map(String::as_str).collect::<Vec<_>>())
    }

    /// A trust store trusting only the named networks.
    pub fn trust_only(&self, networks: &[&str]) -> TrustStore {
        let mut t = TrustStore::new();
        for n in networks {
            let net = &self.networks[*n];
            t.add_network(net.ca.cert_der(), Some(&net.crl_der))
                .expect("add network");
        }
        t
    }
}

/// The signing key of an issued certificate.
pub fn key_of(cert: &IssuedCert) -> SigningKey {
    let der = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("key pem");
    SigningKey::from_pkcs8_der(der.secret_der()).expect("key")
}

/// A signer for an issued node certificate.
pub fn signer(cert: &IssuedCert) -> Signer {
    Signer::new(key_of(cert), cert.cert_der.clone()).expect("signer")
}
