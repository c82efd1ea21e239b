//! Offline check of a stopped node's data dir: the log is dense and hashes to the tree its
//! signed checkpoint names, and every stored message still verifies against the trusted CAs.
//! Used by `liaison demo` to verify every node's log; the auditor's full tool builds on it.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use liaison_protocol::checkpoint::{log_origin, NoteVerifier};
use liaison_protocol::merkle::Hash;
use liaison_protocol::trust::{cert_public_key, node_id_from_cert};
use liaison_protocol::{Envelope, NodeId, TrustStore};

use crate::store::journal::{self, FileMedium, Medium, Record};
use crate::store::{checkpoint, Index};

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
    let dir = data_dir.join("store");
    let medium = FileMedium::open_read_only(&dir)
        .with_context(|| format!("cannot open the store of {node}"))?;
    let cp_path = data_dir.join(checkpoint::FILE);
    let (index, root_at, end) = Index::load(&medium, checkpoint::stated_size(&cp_path)?)?;
    if end.torn > 0 {
        bail!(
            "{}: the last {} bytes are an incomplete batch (a write interrupted by a crash); \
             start the node once to cut them off, then check again",
            medium.path().display(),
            end.torn
        );
    }
    let verifier = NoteVerifier::new(&log_origin(&node), key).map_err(|e| anyhow!("{e}"))?;
    let note = checkpoint::check_against(&cp_path, index.log_size(), root_at, &verifier)?;
    let checkpoint_size = note.as_deref().and_then(checkpoint::size_of).unwrap_or(0);
    let mut messages_verified = 0;
    journal::replay(&medium, |rec| {
        let Record::New { body, .. } = rec else {
            return Ok(());
        };
        let bytes = journal::read(&medium as &dyn Medium, body)?;
        let env = Envelope::decode(&bytes)
            .map_err(|e| anyhow!("stored message at byte {}: {e}", body.offset()))?;
        let id = env.signed.id();
        env.signed.verify(trust).map_err(|e| {
            anyhow!(
                "stored message {} does not verify: {e} ({})",
                id,
                e.reason_code()
            )
        })?;
        messages_verified += 1;
        Ok(())
    })?;
    Ok(LogReport {
        node,
        entries: index.log_size(),
        checkpoint_size,
        root: index.log_root(),
        messages_verified,
    })
}
