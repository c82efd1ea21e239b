//! The sealing keys a node knows ([`Directory`]) and the agreements it holds with them
//! ([`Shares`]): data only, kept in the node's context; [`crate::directory`] learns, announces
//! and seals with them.

use std::collections::BTreeMap;
use std::sync::Arc;

use liaison_protocol::message::Kind;
use liaison_protocol::seal::SenderShare;
use liaison_protocol::{NodeId, SignedMessage, Timestamp, TrustStore};

/// A verified sealing key of some node.
#[derive(Clone, Debug)]
pub(crate) struct KnownKey {
    /// The X25519 public key.
    pub key: [u8; 32],
    /// Valid until.
    pub not_after: Timestamp,
    /// The signed statement, passed on in announcements.
    pub statement: SignedMessage,
}

/// The sealing keys a node knows, by node id.
#[derive(Default)]
pub struct Directory {
    keys: BTreeMap<NodeId, KnownKey>,
}

impl Directory {
    /// The key of `node`, if known and valid at `at`.
    pub fn key(&self, node: &NodeId, at: Timestamp) -> Option<[u8; 32]> {
        self.keys
            .get(node)
            .filter(|k| k.not_after > at)
            .map(|k| k.key)
    }

    /// The valid keys of every known node in `network`.
    pub fn keys_in(&self, network: &str, at: Timestamp) -> Vec<(NodeId, [u8; 32])> {
        self.keys
            .iter()
            .filter(|(n, k)| n.network_str() == network && k.not_after > at)
            .map(|(n, k)| (n.clone(), k.key))
            .collect()
    }

    /// Every statement known.
    pub fn statements(&self) -> Vec<SignedMessage> {
        self.keys.values().map(|k| k.statement.clone()).collect()
    }

    /// Adds a verified statement; true if it is new or newer than the one held.
    pub(crate) fn learn(&mut self, node: NodeId, k: KnownKey) -> bool {
        match self.keys.get(&node) {
            Some(old) if old.key == k.key && old.not_after >= k.not_after => false,
            _ => {
                self.keys.insert(node, k);
                true
            }
        }
    }
}

/// Verifies a sealing-key statement: a `sealing-key` message that verifies against `trust`
/// and is valid at `at`. Returns its signer and key.
pub(crate) fn verify_statement(
    statement: &SignedMessage,
    trust: &TrustStore,
    at: Timestamp,
) -> Result<(NodeId, KnownKey), String> {
    let v = statement
        .clone()
        .verify(trust)
        .map_err(|e| format!("{}: {e}", e.reason_code()))?;
    match &v.body().kind {
        Kind::SealingKey(k) if k.not_after > at => Ok((
            v.originator().clone(),
            KnownKey {
                key: k.key,
                not_after: k.not_after,
                statement: statement.clone(),
            },
        )),
        Kind::SealingKey(_) => Err("expired sealing-key statement".into()),
        other => Err(format!(
            "a {} message is not a sealing-key statement",
            other.name()
        )),
    }
}

/// How long a sender reuses its agreement with one recipient before making a new one.
pub(crate) const SHARE_LIFETIME_MS: u64 = 3_600_000;

/// The sender's agreements with recipients' sealing keys, reused for an hour
/// ([`liaison_protocol::seal::SenderShare`]).
#[derive(Default)]
pub struct Shares {
    pub(crate) held: std::collections::HashMap<NodeId, (Arc<SenderShare>, Timestamp)>,
}
