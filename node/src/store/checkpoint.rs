//! The last signed checkpoint, kept in its own fsync'd file beside the store.
//!
//! Start-up compares it with the log recomputed from storage. If storage holds fewer entries
//! than the checkpoint, or its first `size` entries hash to another root, the store was rolled
//! back or rewritten after this node published a checkpoint: the node refuses to run and says
//! so, rather than re-appending over a history that peers may already have cosigned.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use liaison_protocol::checkpoint::{open_checkpoint, NoteVerifier};
use liaison_protocol::merkle::Hash;

/// File name of the last checkpoint in the data dir.
pub const FILE: &str = "checkpoint.note";
/// Every checkpoint this node signed, oldest first: one JSON object `{"note": "..."}` per
/// line, appended and fsync'd before [`FILE`] is replaced (auditors check each of them).
pub const HISTORY: &str = "checkpoints.jsonl";
/// Directory in the data dir holding every certificate this node has signed with (PEM), so
/// an auditor of a copy of the data dir needs nothing but the network CAs.
pub const CERTS_DIR: &str = "certs";

/// Keeps the node's certificate in [`CERTS_DIR`] (one file per certificate, never removed:
/// checkpoints and messages signed under an earlier certificate must stay verifiable).
pub fn keep_cert(data_dir: &Path, cert_der: &[u8]) -> Result<()> {
    keep_cert_as(data_dir, "node", cert_der)
}

/// Keeps a certificate in [`CERTS_DIR`] as `<kind>-<hash>.pem` (`node`: this node's own;
/// `witness`: a peer that cosigns this node's checkpoints).
pub fn keep_cert_as(data_dir: &Path, kind: &str, cert_der: &[u8]) -> Result<()> {
    let dir = data_dir.join(CERTS_DIR);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, cert_der);
    let name: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = dir.join(format!("{kind}-{name}.pem"));
    if path.exists() {
        return Ok(());
    }
    let pem = liaison_certs::load::to_pem("CERTIFICATE", cert_der);
    let tmp = dir.join(format!(".{kind}-{name}.pem.tmp"));
    {
        let mut f =
            File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(pem.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    File::open(&dir)?.sync_all()?;
    Ok(())
}

/// The checkpoints in [`HISTORY`], oldest first (none if the file does not exist).
pub fn history(data_dir: &Path) -> Result<Vec<String>> {
    let path = data_dir.join(HISTORY);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<HistoryLine>(l)
                .map(|h| h.note)
                .map_err(|e| anyhow!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// The sizes of the last checkpoints in [`HISTORY`] (up to `n`, newest first), reading only
/// the file's tail: start-up needs the recent ones, and the history grows for as long as the
/// node runs.
pub fn recent_sizes(data_dir: &Path, n: usize) -> Result<Vec<u64>> {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 256 * 1024;
    let path = data_dir.join(HISTORY);
    let mut f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail)?;
    // Skip a line cut by the seek; every whole line is one checkpoint.
    let text = String::from_utf8_lossy(&tail);
    let whole = if len > TAIL {
        text.split_once('\n').map_or("", |(_, rest)| rest)
    } else {
        &text
    };
    Ok(whole
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<HistoryLine>(l).ok())
        .filter_map(|h| size_of(&h.note))
        .take(n)
        .collect())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct HistoryLine {
    note: String,
}

/// The tree size a checkpoint note states (without verifying it).
pub fn size_of(note: &str) -> Option<u64> {
    note.lines().nth(1)?.parse().ok()
}

/// The size the stored checkpoint states, unverified (replay uses it to know where to take
/// the root that [`check_against`] then compares); `None` without a checkpoint.
pub fn stated_size(path: &Path) -> Result<Option<u64>> {
    match fs::read_to_string(path) {
        Ok(n) => Ok(size_of(&n)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Checks the stored checkpoint (if any) against the recomputed log: `len` entries, whose
/// root at the checkpoint's size was `root_at_size` (from the replay). Returns the note.
pub fn check_against(
    path: &Path,
    len: u64,
    root_at_size: Option<Hash>,
    verifier: &NoteVerifier,
) -> Result<Option<String>> {
    let note = match fs::read_to_string(path) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let signed = open_checkpoint(&note, std::slice::from_ref(verifier)).map_err(|e| {
        anyhow!(
            "ALARM: {} does not verify with this node's key ({}): refusing to start",
            path.display(),
            e.reason_code()
        )
    })?;
    let cp = signed.checkpoint();
    if cp.origin() != verifier.name() {
        bail!(
            "ALARM: {} is the checkpoint of {}, not of this node ({})",
            path.display(),
            cp.origin(),
            verifier.name()
        );
    }
    if cp.size() > len {
        bail!(
            "ALARM: storage holds {} log entries but this node signed a checkpoint of {}; \
             the store was rolled back or lost data after the checkpoint was published. \
             Refusing to start: restore the data dir that matches {} or investigate.",
            len,
            cp.size(),
            path.display()
        );
    }
    let root = root_at_size.ok_or_else(|| anyhow!("cannot recompute the root at {}", cp.size()))?;
    if &root != cp.root() {
        bail!(
            "ALARM: the first {} log entries in storage do not match the signed checkpoint in {}; \
             the log was rewritten. Refusing to start.",
            cp.size(),
            path.display()
        );
    }
    Ok(Some(note))
}

/// The body of a note: everything up to and including the blank line before its signatures.
pub fn body_of(note: &str) -> &str {
    note.find("\n\n").map_or(note, |i| &note[..i + 2])
}

/// The signature lines of a note (without their newlines).
pub fn signature_lines(note: &str) -> Vec<&str> {
    note[body_of(note).len()..]
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
}

/// Appends a note to [`HISTORY`] beside `path` (the last checkpoint's file), durably.
pub fn append_history(path: &Path, note: &str) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("checkpoint path has no directory"))?;
    let history = dir.join(HISTORY);
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&history)
        .with_context(|| format!("cannot append to {}", history.display()))?;
    let mut line = serde_json::to_string(&HistoryLine {
        note: note.to_owned(),
    })?;
    line.push('\n');
    f.write_all(line.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Writes the note durably: appended to [`HISTORY`], then temp file, fsync, rename over the
/// old one, fsync the directory.
pub fn write(path: &Path, note: &str) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("checkpoint path has no directory"))?;
    append_history(path, note)?;
    let tmp = dir.join(format!(".{FILE}.tmp"));
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(note.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_sizes_reads_the_tail_of_a_long_history() {
        let dir = tempfile::tempdir().unwrap();
        let cp = dir.path().join(FILE);
        // ~300-byte notes: 2000 of them are more than the 256 KiB tail.
        for size in 0..2000u64 {
            let note = format!(
                "liaison/kz-dcu.central-asia\n{size}\n{}=\n\n— liaison/kz-dcu.central-asia {}\n",
                "A".repeat(43),
                "B".repeat(200)
            );
            append_history(&cp, &note).unwrap();
        }
        assert!(std::fs::metadata(dir.path().join(HISTORY)).unwrap().len() > 256 * 1024);
        let sizes = recent_sizes(dir.path(), 32).unwrap();
        assert_eq!(sizes, (1968..2000).rev().collect::<Vec<u64>>());
        assert_eq!(
            recent_sizes(&dir.path().join("none"), 32).unwrap(),
            Vec::<u64>::new()
        );
    }
}
