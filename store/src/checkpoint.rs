//! The node's signed checkpoints, kept in their own fsync'd files beside the store: the last
//! one in [`FILE`], every one in the history ([`HISTORY`], rotated into numbered files as it
//! grows).
//!
//! Start-up compares the log recomputed from storage with the newest checkpoint of *both*
//! files ([`check_rollback`]): if storage holds fewer entries than either, or its first `size`
//! entries hash to another root, the store was rolled back or rewritten after this node
//! published a checkpoint, and the node refuses to run rather than re-append over a history
//! that peers may already have cosigned. Both files missing beside a non-empty log is refused
//! too (an operator may accept it explicitly; the node then logs that it did). A history line
//! cut short by a crash while it was appended is set aside; any other line that does not
//! parse is damage and refuses start-up.
//!
//! What only a witness can detect — a journal cut back *and* both checkpoint files replaced by
//! older genuine ones, or entries acknowledged after the last checkpoint lost with the end of
//! the journal — is stated in docs/AUDIT.md.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The checkpoint files' results.
type Result<T, E = StoreError> = std::result::Result<T, E>;
use liaison_protocol::checkpoint::{open_checkpoint, NoteVerifier};
use liaison_protocol::merkle::Hash;

use crate::StoreError;

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
    crate::files::write_durably(&path, pem.as_bytes())?;
    Ok(())
}

/// The certificates kept in [`CERTS_DIR`] as `<kind>-*.pem` (DER), in file name order; a
/// file that does not read as one certificate is skipped (an auditor reports it).
pub fn kept_certs(data_dir: &Path, kind: &str) -> Vec<Vec<u8>> {
    let prefix = format!("{kind}-");
    let Ok(entries) = fs::read_dir(data_dir.join(CERTS_DIR)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| liaison_certs::load::read_cert(p).ok())
        .collect()
}

/// The history file grows by one line per checkpoint; past this size it is rotated.
pub const ROTATE_BYTES: u64 = 8 << 20;

/// One file of the history: `checkpoints.jsonl` (the current one) or a rotated
/// `checkpoints.<first>-<end>.jsonl` holding checkpoints `first..end` (0-based, oldest first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryFile {
    /// The file.
    pub path: PathBuf,
    /// Index of its first checkpoint in the whole history.
    pub first: u64,
    /// One past its last checkpoint, for rotated files (the current file's is its length).
    pub end: Option<u64>,
}

/// The history's files in order, oldest first; the current file last (it need not exist).
pub fn history_files(data_dir: &Path) -> Result<Vec<HistoryFile>> {
    let mut rotated = Vec::new();
    let entries = match fs::read_dir(data_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(vec![HistoryFile {
                path: data_dir.join(HISTORY),
                first: 0,
                end: None,
            }])
        }
        Err(e) => {
            return Err(StoreError::io(
                format!("cannot read {}", data_dir.display()),
                e,
            ))
        }
    };
    for e in entries {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(range) = name
            .strip_prefix("checkpoints.")
            .and_then(|r| r.strip_suffix(".jsonl"))
        else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(first), Ok(end)) = (a.parse::<u64>(), b.parse::<u64>()) else {
            continue;
        };
        rotated.push(HistoryFile {
            path: e.path(),
            first,
            end: Some(end),
        });
    }
    rotated.sort_by_key(|f| f.first);
    let mut next = 0;
    for f in &rotated {
        if f.first != next {
            return Err(StoreError::HistoryDamaged(format!(
                "ALARM: the checkpoint history is missing checkpoints {next}..{} (no file holds                  them before {}): files were removed",
                f.first,
                f.path.display()
            )));
        }
        next = f.end.unwrap_or(next);
    }
    rotated.push(HistoryFile {
        path: data_dir.join(HISTORY),
        first: next,
        end: None,
    });
    Ok(rotated)
}

/// A history line that does not parse: its number (1-based) and why.
type DamagedLine = (usize, String);

/// The notes of one history file, oldest first, and the lines that do not parse (1-based,
/// with why). A last line without its newline (an append a crash cut short) is left out.
fn parse_history_file(path: &Path) -> Result<(Vec<String>, Vec<DamagedLine>)> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], vec![])),
        Err(e) => return Err(StoreError::io(format!("cannot read {}", path.display()), e)),
    };
    let complete = match text.iter().rposition(|b| *b == b'\n') {
        Some(i) => &text[..=i],
        None => &[][..],
    };
    let mut notes = Vec::new();
    let mut bad = Vec::new();
    // Every line ends with its newline, so the last piece of the split is empty.
    let lines = complete.split(|b| *b == b'\n');
    for (i, line) in lines
        .take(complete.iter().filter(|b| **b == b'\n').count())
        .enumerate()
    {
        match serde_json::from_slice::<HistoryLine>(line) {
            Ok(h) => notes.push(h.note),
            Err(e) => bad.push((i + 1, e.to_string())),
        }
    }
    Ok((notes, bad))
}

/// The notes of one history file, oldest first; a line that does not parse is an error.
fn read_history_file(path: &Path) -> Result<Vec<String>> {
    let (notes, bad) = parse_history_file(path)?;
    if let Some((line, why)) = bad.first() {
        return Err(StoreError::HistoryDamaged(format!(
            "ALARM: {} line {line} is not a checkpoint record ({why}): the history was altered \
             or the disk is failing",
            path.display()
        )));
    }
    Ok(notes)
}

/// Every checkpoint in the history, oldest first, across rotated files (none if there is no
/// history).
pub fn history(data_dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for f in history_files(data_dir)? {
        let notes = read_history_file(&f.path)?;
        if let Some(end) = f.end {
            if f.first + notes.len() as u64 != end {
                return Err(StoreError::HistoryDamaged(format!(
                    "ALARM: {} should hold checkpoints {}..{end} but holds {}: the history was \
                     altered",
                    f.path.display(),
                    f.first,
                    notes.len()
                )));
            }
        }
        out.extend(notes);
    }
    Ok(out)
}

/// One page of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryPage {
    /// Checkpoints `from..from + notes.len()`.
    pub notes: Vec<String>,
    /// Checkpoints in the whole history.
    pub total: u64,
}

/// Checkpoints `from..from + limit` of the history, reading only the files that hold them
/// and the current one (for the total).
pub fn history_page(data_dir: &Path, from: u64, limit: usize) -> Result<HistoryPage> {
    let files = history_files(data_dir)?;
    let mut current = Vec::new();
    let mut total = 0;
    if let Some(last) = files.last() {
        current = read_history_file(&last.path)?;
        total = last.first + current.len() as u64;
    }
    let mut notes = Vec::new();
    let until = from.saturating_add(limit as u64).min(total);
    for f in &files {
        if notes.len() >= limit || from >= total {
            break;
        }
        let end = f.end.unwrap_or(total);
        if end <= from || f.first >= until {
            continue;
        }
        let held = if f.end.is_none() {
            std::mem::take(&mut current)
        } else {
            read_history_file(&f.path)?
        };
        let skip = from.saturating_sub(f.first) as usize;
        let want = (until - f.first.max(from)) as usize;
        notes.extend(held.into_iter().skip(skip).take(want));
    }
    Ok(HistoryPage { notes, total })
}

/// The newest checkpoint of the history: the one of the largest size in the current file and
/// the last rotated one (a peer's cosignature of an older checkpoint is appended after newer
/// ones, so the last line is not always the newest; a rotation may just have happened).
/// Lines that do not parse are skipped and returned as problems (`file line N: why`), for the
/// caller to raise.
pub fn newest_in_history(data_dir: &Path) -> Result<(Option<String>, Vec<String>)> {
    let mut problems = Vec::new();
    let mut newest: Option<(u64, String)> = None;
    for f in history_files(data_dir)?.iter().rev().take(2) {
        let (notes, bad) = parse_history_file(&f.path)?;
        problems.extend(
            bad.into_iter()
                .map(|(line, why)| format!("{} line {line}: {why}", f.path.display())),
        );
        for n in notes {
            let size = size_of(&n).unwrap_or(0);
            // The later of two of the same size: it holds at least the earlier's signatures.
            if newest
                .as_ref()
                .is_none_or(|(s, _)| (size >= *s && f.end.is_none()) || size > *s)
            {
                newest = Some((size, n));
            }
        }
    }
    Ok((newest.map(|(_, n)| n), problems))
}

/// The sizes of the last checkpoints of the history (up to `n`, newest first), reading only
/// the tail of the current file (and the previous one if needed): start-up needs the recent
/// ones, and the history grows for as long as the node runs.
pub fn recent_sizes(data_dir: &Path, n: usize) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for f in history_files(data_dir)?.iter().rev().take(2) {
        out.extend(tail_sizes(&f.path, n - out.len())?);
        if out.len() >= n {
            break;
        }
    }
    Ok(out)
}

fn tail_sizes(path: &Path, n: usize) -> Result<Vec<u64>> {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 256 * 1024;
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(StoreError::io(format!("cannot read {}", path.display()), e)),
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

/// Sets aside an incomplete last line of the current history file (an append a crash cut
/// short: its checkpoint was never returned to anyone), so the next append starts a line of
/// its own. The bytes are kept beside it.
pub fn repair_torn_history(data_dir: &Path) -> Result<()> {
    let path = data_dir.join(HISTORY);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(format!("cannot read {}", path.display()), e)),
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let aside = data_dir.join(format!("{HISTORY}.torn-at-{keep}"));
    crate::files::write_durably(&aside, &bytes[keep..])?;
    let f = crate::files::open_private(&path)?;
    f.set_len(keep as u64)?;
    f.sync_all()?;
    tracing::warn!(
        file = %path.display(),
        kept = %aside.display(),
        "the checkpoint history ends in a line a crash cut short; it is set aside"
    );
    Ok(())
}

#[derive(serde::Serialize, serde::Deserialize)]
struct HistoryLine {
    note: String,
}

/// The tree size a checkpoint note states (without verifying it).
pub fn size_of(note: &str) -> Option<u64> {
    note.lines().nth(1)?.parse().ok()
}

/// The sizes the last checkpoint and the newest of the history state, unverified (replay
/// uses them to know where to take the roots that [`check_rollback`] then compares).
pub fn stated_sizes(data_dir: &Path) -> Result<Vec<u64>> {
    let mut sizes = Vec::new();
    match fs::read_to_string(data_dir.join(FILE)) {
        Ok(n) => sizes.extend(size_of(&n)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(format!("cannot read {}", FILE), e)),
    }
    if let (Some(n), _) = newest_in_history(data_dir)? {
        sizes.extend(size_of(&n));
    }
    Ok(sizes)
}

/// What [`check_rollback`] found: the checkpoint state, and lines of the history that do not
/// parse (skipped; to be alarmed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The checkpoint state.
    pub found: Found,
    /// History lines that do not parse.
    pub damaged_lines: Vec<String>,
    /// The newest checkpoint is signed by an earlier key of this node only, not by its
    /// current one (its certificate was re-issued, with a new key, since it was signed).
    pub by_earlier_key: bool,
}

/// The checkpoint state start-up found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// The newest checkpoint, which the log extends (with its cosignatures, if [`FILE`] holds
    /// it).
    Checkpoint(String),
    /// No checkpoint file and an empty log: a new data dir.
    Fresh,
    /// No checkpoint file beside a non-empty log, accepted by the operator.
    MissingAccepted,
}

/// Checks the log recomputed from storage — `len` entries, whose roots at the sizes of
/// [`stated_sizes`] are in `roots` — against the last checkpoint and the newest of the
/// history: each must verify with one of this node's keys (`verifiers`: its current key
/// first, then keys of its earlier certificates) and be extended by the log. Both missing
/// beside a non-empty log is refused unless `accept_missing`. A last checkpoint older than the
/// history's newest (a crash between the two writes, or an older note put in its place) is
/// replaced by the newest.
pub fn check_rollback(
    data_dir: &Path,
    len: u64,
    roots: &std::collections::HashMap<u64, Hash>,
    verifiers: &[NoteVerifier],
    accept_missing: bool,
) -> Result<Checked> {
    let path = data_dir.join(FILE);
    let note = match fs::read_to_string(&path) {
        Ok(n) => Some(n),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(StoreError::io(format!("cannot read {}", path.display()), e)),
    };
    let (newest, damaged_lines) = newest_in_history(data_dir)?;
    let mut by_earlier_key = false;
    let found = |found, by_earlier_key| Checked {
        found,
        damaged_lines: damaged_lines.clone(),
        by_earlier_key,
    };
    let mut best: Option<(u64, String)> = None;
    for (name, note) in [
        (path.display().to_string(), note.clone()),
        (
            format!(
                "the newest checkpoint of {}",
                data_dir.join(HISTORY).display()
            ),
            newest,
        ),
    ] {
        let Some(note) = note else { continue };
        let (size, current) = check_one(&name, &note, len, roots, verifiers)?;
        if best.as_ref().is_none_or(|(s, _)| size > *s) {
            best = Some((size, note));
            by_earlier_key = !current;
        }
    }
    match (best, note) {
        (Some((size, newest)), Some(note)) => {
            if size_of(&note) != Some(size) {
                tracing::warn!(
                    file = %path.display(),
                    size,
                    "the last checkpoint file is older than the history's newest checkpoint; \
                     it is replaced by that one"
                );
                crate::files::write_durably(&path, &newest)?;
                return Ok(found(Found::Checkpoint(newest), by_earlier_key));
            }
            Ok(found(Found::Checkpoint(note), by_earlier_key))
        }
        (Some((_, newest)), None) => {
            tracing::warn!(
                file = %path.display(),
                "the last checkpoint file is missing; it is restored from the history"
            );
            crate::files::write_durably(&path, &newest)?;
            Ok(found(Found::Checkpoint(newest), by_earlier_key))
        }
        (None, _) if len == 0 => Ok(found(Found::Fresh, false)),
        (None, _) if accept_missing => {
            tracing::warn!(
                entries = len,
                "no checkpoint file beside a log of {len} entries, accepted by the operator"
            );
            Ok(found(Found::MissingAccepted, false))
        }
        (None, _) => Err(StoreError::CheckpointsMissing(format!(
            "ALARM: the log holds {len} entries but neither {} nor {} exists: this node signs \
             checkpoints from its first start, so they were removed, or this data dir was \
             assembled from parts. Refusing to start: a log without its checkpoints cannot show \
             that nothing was rolled back. Restore the files from a backup; or, if you know \
             why they are gone, start once with `liaison node run --accept-missing-checkpoints` \
             (the node records that in its log and signs a new checkpoint).",
            FILE, HISTORY
        ))),
    }
}

/// Checks one checkpoint note against the log; returns its size and whether the first of
/// `verifiers` (this node's current key) signed it.
fn check_one(
    name: &str,
    note: &str,
    len: u64,
    roots: &std::collections::HashMap<u64, Hash>,
    verifiers: &[NoteVerifier],
) -> Result<(u64, bool)> {
    let Some(current) = verifiers.first() else {
        return Err(StoreError::Checkpoint(
            "no key to check checkpoints with".into(),
        ));
    };
    let signed = open_checkpoint(note, verifiers).map_err(|e| {
        StoreError::CheckpointInvalid(format!(
            "ALARM: {name} does not verify with this node's key ({}): refusing to start. If \
             this node's certificate was re-issued with a new key, the earlier certificate \
             must still chain to a trusted CA for the first start with the new one (do not \
             retire a CA in the same restart that brings a certificate of the new CA)",
            e.reason_code()
        ))
    })?;
    let cp = signed.checkpoint();
    if cp.origin() != current.name() {
        return Err(StoreError::CheckpointInvalid(format!(
            "ALARM: {name} is the checkpoint of {}, not of this node ({})",
            cp.origin(),
            current.name()
        )));
    }
    if cp.size() > len {
        return Err(StoreError::RolledBack(format!(
            "ALARM: storage holds {} log entries but this node signed a checkpoint of {} \
             ({name}); the store was rolled back or lost data after the checkpoint was \
             published. Refusing to start: restore the data dir that matches it, or \
             investigate.",
            len,
            cp.size(),
        )));
    }
    let root = roots.get(&cp.size()).ok_or_else(|| {
        StoreError::Checkpoint(format!("cannot recompute the root at {}", cp.size()))
    })?;
    if root != cp.root() {
        return Err(StoreError::Rewritten(format!(
            "ALARM: the first {} log entries in storage do not match the signed checkpoint \
             ({name}); the log was rewritten. Refusing to start.",
            cp.size(),
        )));
    }
    Ok((cp.size(), signed.is_signed_by(current)))
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

/// Appends a note to the history beside `path` (the last checkpoint's file), durably;
/// rotates the current history file once it is larger than [`ROTATE_BYTES`].
pub fn append_history(path: &Path, note: &str) -> Result<(), StoreError> {
    append_history_rotating(path, note, ROTATE_BYTES)
}

fn append_history_rotating(path: &Path, note: &str, rotate_bytes: u64) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let history = dir.join(HISTORY);
    let mut f = crate::files::open_append(&history)?;
    let mut line = serde_json::to_string(&HistoryLine {
        note: note.to_owned(),
    })
    .map_err(|e| StoreError::Checkpoint(e.to_string()))?;
    line.push('\n');
    let written = f
        .write_all(line.as_bytes())
        .and_then(|()| f.sync_all())
        .and_then(|()| f.metadata());
    let meta = written.map_err(|e| {
        StoreError::write(std::io::Error::new(
            e.kind(),
            format!("cannot append to {}: {e}", history.display()),
        ))
    })?;
    if meta.len() > rotate_bytes {
        rotate(dir).map_err(|e| StoreError::Checkpoint(format!("{e:#}")))?;
    }
    Ok(())
}

/// Renames the current history file to `checkpoints.<first>-<end>.jsonl`; the next append
/// starts a new one.
fn rotate(dir: &Path) -> Result<()> {
    let files = history_files(dir)?;
    let Some(current) = files.last() else {
        return Ok(());
    };
    let (notes, bad) = parse_history_file(&current.path)?;
    // Damaged lines are kept and counted: they hold their place in the history.
    let count = (notes.len() + bad.len()) as u64;
    let end = current.first + count;
    let rotated = dir.join(format!("checkpoints.{}-{end}.jsonl", current.first));
    fs::rename(&current.path, &rotated)
        .map_err(|e| StoreError::io(format!("cannot rotate {}", current.path.display()), e))?;
    crate::files::sync_dir(dir)?;
    tracing::info!(file = %rotated.display(), "checkpoint history rotated");
    Ok(())
}

/// Writes the note durably: appended to the history, then [`FILE`] replaced (temporary file,
/// fsync, rename, fsync the directory).
pub fn write(path: &Path, note: &str) -> Result<(), StoreError> {
    append_history(path, note)?;
    crate::files::write_durably(path, note)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(size: u64) -> String {
        format!(
            "liaison/kz-dcu.central-asia\n{size}\n{}=\n\n— liaison/kz-dcu.central-asia {}\n",
            "A".repeat(43),
            "B".repeat(200)
        )
    }

    #[test]
    fn the_history_rotates_and_reads_as_one_across_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let cp = dir.path().join(FILE);
        // ~330-byte lines, rotated past 64 KiB: 500 of them make two rotations.
        const ROTATE: u64 = 64 << 10;
        let n = 500u64;
        for size in 0..n {
            append_history_rotating(&cp, &note(size), ROTATE).unwrap();
        }
        let files = history_files(dir.path()).unwrap();
        assert_eq!(files.len(), 3, "{files:?}");
        assert_eq!(files[1].first, files[0].end.unwrap());
        for f in &files {
            let len = std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0);
            assert!(len <= ROTATE + 4096, "{} is {len} bytes", f.path.display());
        }
        let all = history(dir.path()).unwrap();
        assert_eq!(all.len() as u64, n);
        assert!(all
            .iter()
            .enumerate()
            .all(|(i, a)| size_of(a) == Some(i as u64)));
        // Pages across a rotation boundary, and past the end.
        let edge = files[0].end.unwrap();
        let page = history_page(dir.path(), edge - 2, 5).unwrap();
        assert_eq!(page.total, n);
        let sizes: Vec<u64> = page.notes.iter().filter_map(|x| size_of(x)).collect();
        assert_eq!(sizes, (edge - 2..edge + 3).collect::<Vec<_>>());
        let tail = history_page(dir.path(), n - 2, 10).unwrap();
        assert_eq!(tail.notes.len(), 2);
        assert!(history_page(dir.path(), n + 5, 10)
            .unwrap()
            .notes
            .is_empty());
        assert_eq!(
            newest_in_history(dir.path()).unwrap().0.as_deref(),
            Some(note(n - 1).as_str())
        );
        assert_eq!(
            recent_sizes(dir.path(), 3).unwrap(),
            vec![n - 1, n - 2, n - 3]
        );
        // A peer's late cosignature of an older checkpoint comes last; the newest is still the
        // largest.
        append_history_rotating(&cp, &note(7), ROTATE).unwrap();
        assert_eq!(
            newest_in_history(dir.path()).unwrap().0.as_deref(),
            Some(note(n - 1).as_str())
        );
        // A rotated file gone is a hole in the history, and says so.
        std::fs::remove_file(&files[0].path).unwrap();
        let e = history(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("ALARM") && e.contains("missing checkpoints 0.."),
            "{e}"
        );
    }

    #[test]
    fn a_history_line_cut_by_a_crash_is_set_aside_and_a_damaged_one_reported() {
        let dir = tempfile::tempdir().unwrap();
        let cp = dir.path().join(FILE);
        for size in 0..3 {
            append_history(&cp, &note(size)).unwrap();
        }
        let path = dir.path().join(HISTORY);
        let mut bytes = std::fs::read(&path).unwrap();
        let whole = bytes.len();
        bytes.extend_from_slice(b"{\"note\":\"liaison/kz-dcu.cen");
        std::fs::write(&path, &bytes).unwrap();
        // Read as it is: the cut line is not a checkpoint, and not damage.
        assert_eq!(history(dir.path()).unwrap().len(), 3);
        repair_torn_history(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole as u64);
        assert!(dir
            .path()
            .join(format!("{HISTORY}.torn-at-{whole}"))
            .exists());
        append_history(&cp, &note(3)).unwrap();
        assert_eq!(history(dir.path()).unwrap().len(), 4);
        // A damaged line in the middle: the strict reading fails, start-up's skips it.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[5] = b'#';
        std::fs::write(&path, &bytes).unwrap();
        assert!(history(dir.path())
            .unwrap_err()
            .to_string()
            .contains("line 1"));
        let (newest, damaged) = newest_in_history(dir.path()).unwrap();
        assert_eq!(newest.as_deref(), Some(note(3).as_str()));
        assert_eq!(damaged.len(), 1, "{damaged:?}");
    }

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
