//! Signing and verifying messages.
//!
//! A signed message is `{body bytes, signer certificate (DER), Ed25519 signature}`. The
//! message id is SHA-256 of the body bytes, and the signature is made over
//! `MESSAGE_CONTEXT || id`: domain-separated, so a message signature can never be replayed
//! as a checkpoint or receipt signature, and cheap for large bodies because Ed25519 then
//! hashes 51 bytes instead of the body twice.
//!
//! Verification ([`SignedMessage::verify`]) accepts exactly when: the body decodes
//! strictly; the signer certificate chains to a trusted CA of the network named in the
//! originator's node id; the certificate names the originator; it and that CA were within
//! their validity and it was not revoked by that CA's CRL at the message's creation time;
//! and the signature verifies.
//! Only verification builds a [`VerifiedMessage`].

use std::fmt;

use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{DecodeError, VerifyError};
use crate::ids::{MessageId, NodeId};
use crate::message::Body;
use crate::trust::{node_id_from_cert, TrustStore};

/// Domain separator for message signatures.
pub const MESSAGE_CONTEXT: &[u8] = b"liaison/v1/message\0";

/// The bytes an Ed25519 signature covers for the given message id.
pub fn message_signing_input(id: &MessageId) -> [u8; MESSAGE_CONTEXT.len() + 32] {
    let mut buf = [0u8; MESSAGE_CONTEXT.len() + 32];
    buf[..MESSAGE_CONTEXT.len()].copy_from_slice(MESSAGE_CONTEXT);
    buf[MESSAGE_CONTEXT.len()..].copy_from_slice(id.as_bytes());
    buf
}

/// An Ed25519 private key. Its PKCS#8 bytes are zeroed on drop and never printed.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    _pkcs8: Zeroizing<Vec<u8>>,
}

impl SigningKey {
    /// Loads a key from PKCS#8 DER (v1 or v2, as rcgen and OpenSSL write them).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(der)
            .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(der))
            .map_err(|e| KeyError(format!("not an Ed25519 PKCS#8 key: {e}")))?;
        Ok(Self {
            pair,
            _pkcs8: Zeroizing::new(der.to_vec()),
        })
    }

    /// Generates a fresh key from the given random source (returns it and its PKCS#8 DER).
    pub fn generate(rng: &dyn SecureRandom) -> Result<(Self, Zeroizing<Vec<u8>>), KeyError> {
        let doc = Ed25519KeyPair::generate_pkcs8(rng).map_err(|e| KeyError(e.to_string()))?;
        let der = Zeroizing::new(doc.as_ref().to_vec());
        Ok((Self::from_pkcs8_der(&der)?, der))
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// Signs raw bytes. Callers supply domain-separated input (see the `*_CONTEXT` constants).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(msg).as_ref());
        out
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// A private key could not be loaded or does not match its certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad key: {0}")]
pub struct KeyError(pub String);

impl KeyError {
    /// Stable reason code.
    pub fn reason_code(&self) -> &'static str {
        "bad-key"
    }
}

/// A node's signing identity: its key, its certificate, and the node id the certificate names.
#[derive(Debug)]
pub struct Signer {
    key: SigningKey,
    cert_der: Vec<u8>,
    node: NodeId,
}

impl Signer {
    /// Pairs a key with its node certificate; fails unless the certificate's public key is
    /// this key's and the certificate names a node.
    pub fn new(key: SigningKey, cert_der: Vec<u8>) -> Result<Self, KeyError> {
        let node = node_id_from_cert(&cert_der).map_err(|e| KeyError(e.to_string()))?;
        let cert_key =
            crate::trust::cert_public_key(&cert_der).map_err(|e| KeyError(e.to_string()))?;
        if cert_key != key.public_key() {
            return Err(KeyError(format!(
                "the key does not match the certificate of {node}"
            )));
        }
        Ok(Self {
            key,
            cert_der,
            node,
        })
    }

    /// The node this signer speaks for.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// The node certificate (DER).
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The signing key (for checkpoints and receipts, with their own domain separators).
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Normalises, validates, encodes and signs a body. The body's originator must be this node.
    pub fn sign(&self, body: &mut Body) -> Result<SignedMessage, DecodeError> {
        Ok(self.sign_with_id(body)?.0)
    }

    /// Signs already-encoded body bytes (the caller vouches they are a valid body of this node).
    pub fn sign_encoded(&self, body: Vec<u8>) -> SignedMessage {
        self.sign_encoded_with_id(body).0
    }

    /// As [`Signer::sign`], also returning the message id (computed while signing, so the
    /// caller need not hash the body again).
    pub fn sign_with_id(&self, body: &mut Body) -> Result<(SignedMessage, MessageId), DecodeError> {
        if body.header.originator != self.node {
            return Err(DecodeError::InvalidField {
                field: "originator",
                detail: format!("{} cannot sign for {}", self.node, body.header.originator),
            });
        }
        body.normalise();
        let bytes = body.encode()?;
        Ok(self.sign_encoded_with_id(bytes))
    }

    fn sign_encoded_with_id(&self, body: Vec<u8>) -> (SignedMessage, MessageId) {
        let id = MessageId::of_body(&body);
        let signature = self.key.sign(&message_signing_input(&id));
        (
            SignedMessage {
                body,
                signer_cert: self.cert_der.clone(),
                signature: signature.to_vec(),
            },
            id,
        )
    }
}

/// A message as signed by its originator. Relays forward it byte for byte.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedMessage {
    /// The canonical body bytes.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The originator's node certificate, DER.
    #[serde(with = "serde_bytes")]
    pub signer_cert: Vec<u8>,
    /// Ed25519 signature over `MESSAGE_CONTEXT || id` (64 bytes).
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

impl fmt::Debug for SignedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedMessage")
            .field("id", &self.id())
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl SignedMessage {
    /// The message id: SHA-256 of the body bytes.
    pub fn id(&self) -> MessageId {
        MessageId::of_body(&self.body)
    }

    /// Checks sizes that do not need decoding (signature length, certificate size).
    pub fn check_shape(&self) -> Result<(), DecodeError> {
        if self.signature.len() != 64 {
            return Err(DecodeError::InvalidField {
                field: "signature",
                detail: format!("{} bytes, expected 64", self.signature.len()),
            });
        }
        crate::codec::check_cert_len(self.signer_cert.len())
    }

    /// Verifies the message against the trusted networks; see the module documentation.
    pub fn verify(self, trust: &TrustStore) -> Result<VerifiedMessage, VerifyError> {
        let (id, signer, body) = self.check_bytes(trust)?;
        trust.check_at(&signer, body.header.created_at)?;
        Ok(VerifiedMessage {
            signed: self,
            id,
            body,
        })
    }

    /// Checks that these bytes are what the originator signed — shape, certificate chain,
    /// signature, body encoding, signer — without the time-dependent checks (validity and
    /// revocation at creation time) that [`SignedMessage::verify`] adds: for checking a copy
    /// kept for years, whose signer may since have been revoked. Returns the message id.
    pub fn check_integrity(&self, trust: &TrustStore) -> Result<MessageId, VerifyError> {
        self.check_bytes(trust).map(|(id, _, _)| id)
    }

    fn check_bytes(
        &self,
        trust: &TrustStore,
    ) -> Result<(MessageId, crate::trust::CertifiedNode, Body), VerifyError> {
        self.check_shape()?;
        // Order matters for the reason a peer gets: the signature is checked as soon as the
        // signer's key is known, so any alteration of the body reports `bad-signature`, not
        // whatever field the altered bit happened to land in.
        let signer = trust.certify(&self.signer_cert)?;
        let id = self.id();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &signer.public_key)
            .verify(&message_signing_input(&id), &self.signature)
            .map_err(|_| VerifyError::BadSignature)?;
        let body = Body::decode(&self.body)?;
        if signer.node != body.header.originator {
            return Err(VerifyError::SignerMismatch {
                cert: signer.node.to_string(),
                claimed: body.header.originator.to_string(),
            });
        }
        Ok((id, signer, body))
    }
}

/// A message whose signature, certificate and encoding have been verified. Only
/// [`SignedMessage::verify`] builds one, so unverified bytes cannot reach a store by accident.
#[derive(Clone, Debug)]
pub struct VerifiedMessage {
    signed: SignedMessage,
    id: MessageId,
    body: Body,
}

impl VerifiedMessage {
    /// The message id.
    pub fn id(&self) -> MessageId {
        self.id
    }
    /// The decoded body.
    pub fn body(&self) -> &Body {
        &self.body
    }
    /// The originator (equal to the certificate's node id).
    pub fn originator(&self) -> &NodeId {
        &self.body.header.originator
    }
    /// The signed bytes, to forward or store unchanged.
    pub fn signed(&self) -> &SignedMessage {
        &self.signed
    }
    /// Consumes the verified message, returning the signed bytes and the body.
    pub fn into_parts(self) -> (SignedMessage, Body) {
        (self.signed, self.body)
    }
}
