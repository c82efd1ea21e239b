//! Who this node is ([`Me`]): its identities, one per network it belongs to, and what it
//! signs in its own name (receipts, refusals, the nonces of what it composes).

use std::sync::Arc;

use liaison_protocol::message::{self, Body, Header, Kind, Receipt, ReceiptStatus};
use liaison_protocol::{
    Evaluation, Handling, MessageId, NodeId, Recipient, Release, SignedMessage, Signer, Tlp,
};
use ring::rand::SecureRandom;

use crate::error::{NodeError, Result};
use crate::refusal::Refusal;
use crate::store::now;

/// One membership of this node: its signer and the TLS client configuration that presents
/// the same certificate.
pub struct Identity {
    /// Signs what this node says to peers of that network.
    pub signer: Arc<Signer>,
    /// Presents the certificate when dialling.
    pub client: quinn::ClientConfig,
}

/// This node's identities, the main one first, and its source of nonces.
pub struct Me {
    identities: Vec<Identity>,
    all: Vec<NodeId>,
    rng: ring::rand::SystemRandom,
}

impl Me {
    /// The identities of a node; the first is its main one (the configured `identity`).
    pub(crate) fn new(identities: Vec<Identity>) -> Result<Self> {
        if identities.is_empty() {
            crate::error::fail!("a node needs at least one identity");
        }
        let all = identities.iter().map(|i| i.signer.node().clone()).collect();
        Ok(Self {
            identities,
            all,
            rng: ring::rand::SystemRandom::new(),
        })
    }

    /// The main identity's node id.
    pub fn id(&self) -> &NodeId {
        &self.all[0]
    }

    /// The main identity's signer.
    pub fn signer(&self) -> &Arc<Signer> {
        &self.identities[0].signer
    }

    /// The signer of `node`, if it is one of this node's identities.
    pub fn signer_of(&self, node: &NodeId) -> Option<&Arc<Signer>> {
        self.identities
            .iter()
            .find(|i| i.signer.node() == node)
            .map(|i| &i.signer)
    }

    /// Whether `node` is one of this node's identities.
    pub fn is_me(&self, node: &NodeId) -> bool {
        self.all.contains(node)
    }

    /// This node's identities, the main one first.
    pub fn ids(&self) -> &[NodeId] {
        &self.all
    }

    /// The identity this node shows `peer`: its membership in the peer's network, or the
    /// main one.
    pub fn for_peer(&self, peer: &NodeId) -> &Identity {
        self.identities
            .iter()
            .find(|i| i.signer.node().network_str() == peer.network_str())
            .unwrap_or(&self.identities[0])
    }

    /// 16 random bytes.
    pub fn nonce(&self) -> Result<[u8; 16]> {
        let mut n = [0u8; 16];
        self.rng
            .fill(&mut n)
            .map_err(|_| NodeError::failed("system random generator failed"))?;
        Ok(n)
    }

    /// Signs a control message (receipt or refusal) from this node to `peer`; returns it with
    /// its id (computed while signing, so the caller need not hash the body again).
    pub fn sign_control(
        &self,
        peer: &NodeId,
        kind: Kind,
        about: Option<MessageId>,
    ) -> Result<(SignedMessage, MessageId)> {
        let signer = &self.for_peer(peer).signer;
        let mut body = Body {
            header: Header {
                originator: signer.node().clone(),
                created_at: now(),
                nonce: self.nonce()?,
                recipients: vec![Recipient::Node(peer.clone())],
                case: None,
                in_reply_to: about,
                expires_at: None,
                hop_limit: 1,
            },
            handling: Handling {
                tlp: Tlp::Green,
                releasability: vec![Release::Node(peer.clone())],
                originator_control: false,
                h0_crime_only: false,
                h1_no_judicial_use: false,
                h3_restrictions: None,
                evaluation: "A1".parse::<Evaluation>().map_err(NodeError::failed)?,
            },
            kind,
        };
        signer
            .sign_with_id(&mut body)
            .map_err(|e| NodeError::failed(format_args!("cannot sign a control message: {e}")))
    }

    /// A signed receipt for `ids`, with its id.
    pub fn receipt(
        &self,
        peer: &NodeId,
        status: ReceiptStatus,
        ids: Vec<MessageId>,
    ) -> Result<(SignedMessage, MessageId)> {
        self.sign_control(peer, Kind::Receipt(Receipt { status, ids }), None)
    }

    /// A signed refusal of `target`.
    pub fn refusal(
        &self,
        peer: &NodeId,
        target: MessageId,
        why: &Refusal,
    ) -> Result<SignedMessage> {
        self.sign_control(
            peer,
            Kind::Refusal(message::Refusal {
                target,
                reason_code: why.reason_code().into(),
                detail: why.detail().chars().take(512).collect(),
            }),
            Some(target),
        )
        .map(|(signed, _)| signed)
    }
}
