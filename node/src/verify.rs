//! Offline check of a stopped node's data dir: the log is dense and hashes to the tree its
//! signed checkpoint names, and every stored message still verifies against the trusted CAs.
//! Used by `liaison demo` to verify every node's log; the auditor's full tool builds on it.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use liaison_protocol::checkpoint::{log_origin, NoteVerifier};
use liaison_protocol::merkle::Hash;
use liaison_protocol::trust::{cert_public_key, node_id_from_cert};
use liaison_protocol::{Envelope, NodeId, TrustStore};

use crate::store::{checkpoint, rebuild_tree, Engine, SledEngine};

/// What the check found.
#[derive(Clone, Debug)]
pub struct LogReport {
    /// Whose log.
    pub node: NodeId,
    /// Log entries.
    pub entries: u64,
    /// Size covered by the signed checkpoint (0 if none yet).
    pub checkpoint_size: u64,
    /// Root of the whole log.
    pub root: Hash,
    /// Stored messages whose signatures and certificates verified.
    pub messages_verified: u64,
}

/// Checks the data dir of the node whose certificate is `node_cert_der`. The node must be
/// stopped (the store is opened directly).
pub fn verify_data_dir(
    data_dir: &Path,
    node_cert_der: &[u8],
    trust: &TrustStore,
) -> Result<LogReport> {
    let node = node_id_from_cert(node_cert_der).map_err(|e| anyhow!("node certificate: {e}"))?;
    let key = cert_public_key(node_cert_der).map_err(|e| anyhow!("node certificate: {e}"))?;
    let engine = SledEngine::open(&data_dir.join("store"))
        .with_context(|| format!("cannot open the store of {node}"))?;
    let tree = rebuild_tree(&engine)?;
    let verifier = NoteVerifier::new(&log_origin(&node), key).map_err(|e| anyhow!("{e}"))?;
    let note = checkpoint::check_against(&data_dir.join(checkpoint::FILE), &tree, &verifier)?;
    let checkpoint_size = note.as_deref().and_then(checkpoint::size_of).unwrap_or(0);
    let mut messages_verified = 0;
    let mut from: Vec<u8> = Vec::new();
    loop {
        let page = engine.scan(b"B", &from, 4096)?;
        let Some((last, _)) = page.last() else { break };
        let mut next = last[1..].to_vec();
        next.push(0);
        for (k, v) in &page {
            let env = Envelope::decode(v).map_err(|e| {
                anyhow!(
                    "stored message {}: {e}",
                    liaison_protocol::ids::hex(&k[1..])
                )
            })?;
            env.signed.verify(trust).map_err(|e| {
                anyhow!(
                    "stored message {} does not verify: {e} ({})",
                    liaison_protocol::ids::hex(&k[1..]),
                    e.reason_code()
                )
            })?;
            messages_verified += 1;
        }
        from = next;
    }
    Ok(LogReport {
        node,
        entries: tree.len(),
        checkpoint_size,
        root: tree.root(),
        messages_verified,
    })
}
