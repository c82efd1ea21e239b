//! This node's sealing keys ([`Keys`]): its own sealing secret and signed statements, the
//! sealing keys of other nodes it has verified ([`Directory`]) and the agreements it holds
//! with them ([`Shares`]). [`crate::directory`] loads, learns and announces them;
//! [`crate::sealing`] seals and opens with them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use liaison_protocol::message::Kind;
use liaison_protocol::seal::{SealingSecret, SenderShare};
use liaison_protocol::{NodeId, SignedMessage, Timestamp, TrustStore};

use crate::refusal::Refusal;

/// This node's sealing secret and statements, and the keys and agreements it holds.
pub struct Keys {
    secret: SealingSecret,
    mine: Vec<NodeId>,
    own_statements: Vec<SignedMessage>,
    directory: RwLock<Directory>,
    shares: Mutex<Shares>,
    learned: tokio::sync::watch::Sender<u64>,
}

impl Keys {
    /// The keys of a node with identities `mine`, sealing secret `secret` (stated in
    /// `own_statements`) and the verified keys of others in `directory`.
    pub(crate) fn new(
        secret: SealingSecret,
        mine: Vec<NodeId>,
        own_statements: Vec<SignedMessage>,
        directory: Directory,
    ) -> Self {
        Self {
            secret,
            mine,
            own_statements,
            directory: RwLock::new(directory),
            shares: Mutex::new(Shares::default()),
            learned: tokio::sync::watch::Sender::new(0),
        }
    }

    /// This node's sealing public key (one for all its identities).
    pub fn public(&self) -> [u8; 32] {
        self.secret.public()
    }

    /// This node's sealing secret.
    pub(crate) fn secret(&self) -> &SealingSecret {
        &self.secret
    }

    /// The identities this node's sealing key serves.
    pub fn mine(&self) -> &[NodeId] {
        &self.mine
    }

    /// The sealing key of `node` as this node knows it (its own for its identities), valid
    /// at `at`.
    pub fn key_of(&self, node: &NodeId, at: Timestamp) -> Option<[u8; 32]> {
        if self.mine.contains(node) {
            return Some(self.secret.public());
        }
        self.directory.read().ok()?.key(node, at)
    }

    /// Reads the directory of other nodes' keys (`None` if a writer panicked holding it).
    pub(crate) fn directory(&self) -> Option<std::sync::RwLockReadGuard<'_, Directory>> {
        self.directory.read().ok()
    }

    /// What this node announces of the keys: its own statements, then every one it knows,
    /// at most `max`.
    pub(crate) fn statements(&self, max: usize) -> Vec<SignedMessage> {
        let mut keys = self.own_statements.clone();
        if let Ok(d) = self.directory.read() {
            keys.extend(d.statements());
        }
        keys.truncate(max);
        keys
    }

    /// Takes in announced statements: each that verifies against `trust` at `at` and is not
    /// about this node joins the directory. When something was learnt, returns every
    /// statement now held (to be kept on disk) and wakes those waiting for a key.
    pub(crate) fn learn(
        &self,
        statements: &[SignedMessage],
        trust: &TrustStore,
        at: Timestamp,
        from: &NodeId,
    ) -> Option<Vec<SignedMessage>> {
        let mut d = self.directory.write().ok()?;
        let mut learned = false;
        for s in statements {
            match verify_statement(s, trust, at) {
                Ok((node, k)) if !self.mine.contains(&node) => learned |= d.learn(node, k),
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(peer = %from, error = %e, "announced sealing key not taken")
                }
            }
        }
        if !learned {
            return None;
        }
        self.learned.send_modify(|n| *n += 1);
        Some(d.statements())
    }

    /// Changes each time the directory learns a key.
    pub fn learned(&self) -> tokio::sync::watch::Receiver<u64> {
        self.learned.subscribe()
    }

    /// This node's agreements with the nodes of `keys`, reusing those still fresh at `t`.
    pub(crate) fn shares_for(
        &self,
        keys: &BTreeMap<NodeId, [u8; 32]>,
        t: Timestamp,
    ) -> Result<Vec<Arc<SenderShare>>, Refusal> {
        let mut held = self
            .shares
            .lock()
            .map_err(|_| Refusal::SealingFailed("poisoned".to_string()))?;
        let mut out = Vec::with_capacity(keys.len());
        for (node, key) in keys {
            let fresh = held.held.get(node).is_some_and(|(s, at)| {
                s.public() == key && t.millis().saturating_sub(at.millis()) < SHARE_LIFETIME_MS
            });
            if !fresh {
                let s = SenderShare::new(node, key, &ring::rand::SystemRandom::new())
                    .map_err(|e| Refusal::from(e).at(node))?;
                held.held.insert(node.clone(), (Arc::new(s), t));
            }
            if let Some((s, _)) = held.held.get(node) {
                out.push(s.clone());
            }
        }
        Ok(out)
    }
}

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
pub(crate) struct Directory {
    keys: BTreeMap<NodeId, KnownKey>,
}

impl Directory {
    /// The key of `node`, if known and valid at `at`.
    pub(crate) fn key(&self, node: &NodeId, at: Timestamp) -> Option<[u8; 32]> {
        self.keys
            .get(node)
            .filter(|k| k.not_after > at)
            .map(|k| k.key)
    }

    /// The valid keys of every known node in `network`.
    pub(crate) fn keys_in(&self, network: &str, at: Timestamp) -> Vec<(NodeId, [u8; 32])> {
        self.keys
            .iter()
            .filter(|(n, k)| n.network_str() == network && k.not_after > at)
            .map(|(n, k)| (n.clone(), k.key))
            .collect()
    }

    /// Every statement known.
    pub(crate) fn statements(&self) -> Vec<SignedMessage> {
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
pub(crate) struct Shares {
    held: std::collections::HashMap<NodeId, (Arc<SenderShare>, Timestamp)>,
}
