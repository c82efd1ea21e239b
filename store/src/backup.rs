//! Online backup: a consistent copy of a running node's data dir, as a tar stream.
//!
//! The copy is taken at a durable batch boundary. The writer, between two group commits,
//! signs a checkpoint over the whole log and notes the journal's length and the checkpoint
//! files as they are then (`BackupPoint`); the stream then carries the journal up to that
//! length (later batches are appended beyond it and never change it), those checkpoint
//! files, and the rest of the data dir. The one write that changes the journal in place — a
//! purge zeroing bodies — waits while a backup runs, so every body in the copy is the one
//! its log describes. The copy is therefore exactly the data dir a crash at that boundary
//! would have left, with a checkpoint that covers all of it: a node starts on it, and
//! `liaison audit verify` verifies it, as they are.
//!
//! The stream's first member is [`MANIFEST`] (what the copy holds); the others are the data
//! dir's files at their paths relative to it, the data-dir lock excepted.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use liaison_protocol::Timestamp;
use serde::{Deserialize, Serialize};

use crate::checkpoint;
use crate::journal::{self, Medium};
use crate::{StoreError, StoreResult};

/// The manifest's name in a backup.
pub const MANIFEST: &str = "backup.json";

/// What a backup holds, written first in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The node whose data dir it is.
    pub node: String,
    /// Log entries in the copy.
    pub log_size: u64,
    /// Bytes of the journal in the copy.
    pub journal_bytes: u64,
    /// The newest signed checkpoint in the copy (it covers the whole log).
    pub checkpoint: Option<String>,
    /// When the copy was taken (milliseconds since the epoch).
    pub taken_at: Timestamp,
}

/// The consistent point a backup copies, taken by the writer between two group commits.
pub(crate) struct BackupPoint {
    pub(crate) log_size: u64,
    pub(crate) journal_len: u64,
    pub(crate) checkpoint: Option<String>,
    /// `checkpoint.note` and `checkpoints.jsonl` as they were (the files the writer changes).
    pub(crate) files: Vec<(&'static str, Vec<u8>)>,
}

/// Reads a medium from `pos` up to `end`.
struct Prefix<'a> {
    medium: &'a dyn Medium,
    pos: u64,
    end: u64,
}

impl Read for Prefix<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.end - self.pos).min(buf.len() as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.medium.read_at(&mut buf[..n], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn io(what: &str, e: std::io::Error) -> StoreError {
    StoreError::io(format!("backup: {what}"), e)
}

fn header(size: u64, mode: u32, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// Writes the backup of `data_dir` at `point` to `sink` as a tar stream; returns its manifest.
pub(crate) fn write(
    data_dir: &Path,
    node: &str,
    medium: &dyn Medium,
    point: BackupPoint,
    sink: impl Write,
) -> StoreResult<Manifest> {
    let now = crate::now();
    let mtime = now.0 / 1000;
    let manifest = Manifest {
        node: node.to_owned(),
        log_size: point.log_size,
        journal_bytes: point.journal_len,
        checkpoint: point.checkpoint.clone(),
        taken_at: now,
    };
    let mut tar = tar::Builder::new(sink);
    let add = |tar: &mut tar::Builder<_>, path: &str, size: u64, data: &mut dyn Read| {
        let mut h = header(size, 0o600, mtime);
        tar.append_data(&mut h, path, data)
            .map_err(|e| io(&format!("cannot write {path}"), e))
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| StoreError::Checkpoint(format!("backup manifest: {e}")))?;
    add(&mut tar, MANIFEST, json.len() as u64, &mut json.as_slice())?;
    for (name, bytes) in &point.files {
        add(&mut tar, name, bytes.len() as u64, &mut bytes.as_slice())?;
    }
    let journal_path = format!("store/{}", journal::FILE);
    add(
        &mut tar,
        &journal_path,
        point.journal_len,
        &mut Prefix {
            medium,
            pos: 0,
            end: point.journal_len,
        },
    )?;
    let mut rest = Vec::new();
    walk(data_dir, data_dir, &mut rest)?;
    for rel in rest {
        let name = rel.to_string_lossy().into_owned();
        let skip = name == crate::lock::FILE
            || name == checkpoint::FILE
            || name == checkpoint::HISTORY
            || name.starts_with("store/");
        if skip {
            continue;
        }
        // A file that goes away meanwhile (a kept certificate replaced) is left out.
        let Ok(mut f) = std::fs::File::open(data_dir.join(&rel)) else {
            continue;
        };
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .map_err(|e| io(&format!("cannot read {name}"), e))?;
        add(&mut tar, &name, bytes.len() as u64, &mut bytes.as_slice())?;
    }
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| io("cannot finish the stream", e))?;
    Ok(manifest)
}

/// Every regular file under `dir`, relative to `root`, sorted.
fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> StoreResult<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| io(&format!("cannot list {}", dir.display()), e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &p, out)?;
        } else if meta.is_file() {
            if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_owned());
            }
        }
    }
    Ok(())
}

/// Reads the manifest of a backup unpacked in `dir`.
pub fn read_manifest(dir: &Path) -> StoreResult<Manifest> {
    let path = dir.join(MANIFEST);
    let bytes =
        std::fs::read(&path).map_err(|e| io(&format!("{} is not a backup", path.display()), e))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        StoreError::Checkpoint(format!("{}: not a backup manifest: {e}", path.display()))
    })
}

/// What a data dir holds, compared with a backup that would replace it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Against {
    /// No log there (no data dir, an empty one, or only the lock): a lost disk.
    Empty,
    /// Its newest checkpoint is the backup's own, or an older one: restoring loses nothing.
    NotAhead {
        /// The size of its newest checkpoint.
        size: u64,
    },
    /// It signed a checkpoint over more than the backup holds: restoring rolls its log back,
    /// and the witnesses named raise `inconsistent-checkpoint`.
    Ahead {
        /// The size of its newest checkpoint.
        size: u64,
        /// The witnesses that cosigned it.
        cosigners: Vec<String>,
    },
    /// Its newest checkpoint has the backup's size and another root: another history.
    Diverged {
        /// The common size.
        size: u64,
    },
    /// It has a journal but no readable checkpoint: what it held cannot be told.
    Unknown,
}

/// Compares the data dir `data_dir` with the backup described by `manifest`.
pub fn compare(manifest: &Manifest, data_dir: &Path) -> Against {
    let note = std::fs::read_to_string(data_dir.join(checkpoint::FILE)).ok();
    let journal = data_dir.join("store").join(journal::FILE);
    let has_log = std::fs::metadata(&journal).is_ok_and(|m| m.len() > journal::FILE_HEADER);
    let Some(note) = note else {
        return if has_log {
            Against::Unknown
        } else {
            Against::Empty
        };
    };
    let body = |n: &str| n.split_once("\n\n").map(|(b, _)| b.to_owned());
    let Some(size) = checkpoint::size_of(&note) else {
        return Against::Unknown;
    };
    let backup_size = manifest
        .checkpoint
        .as_deref()
        .and_then(checkpoint::size_of)
        .unwrap_or(manifest.log_size);
    if size > backup_size {
        let own = body(&note)
            .and_then(|b| b.lines().next().map(str::to_owned))
            .unwrap_or_default();
        let cosigners = note
            .lines()
            .filter_map(|l| l.strip_prefix("\u{2014} "))
            .filter_map(|l| l.split(' ').next())
            .filter(|name| *name != own)
            .map(str::to_owned)
            .collect();
        return Against::Ahead { size, cosigners };
    }
    if size == backup_size && body(&note) != manifest.checkpoint.as_deref().and_then(body) {
        return Against::Diverged { size };
    }
    Against::NotAhead { size }
}

/// Replaces `data_dir` by the backup unpacked in `backup`: what was there is moved aside to
/// `<data_dir>.replaced-<ms>` (returned), and the copy is written with the data dir's
/// permissions, under the data-dir lock (refused while a node runs on it). The caller
/// decided with [`compare`] that it may.
pub fn restore(backup: &Path, data_dir: &Path) -> StoreResult<Option<PathBuf>> {
    let manifest = read_manifest(backup)?;
    let journal = backup.join("store").join(journal::FILE);
    let len = std::fs::metadata(&journal)
        .map_err(|e| io(&format!("{} is missing", journal.display()), e))?
        .len();
    if len != manifest.journal_bytes {
        return Err(StoreError::Checkpoint(format!(
            "the backup is incomplete: {} has {len} bytes, its manifest says {}",
            journal.display(),
            manifest.journal_bytes
        )));
    }
    // Refused while a node runs on it; released before the directory is moved.
    if data_dir.exists() {
        drop(crate::lock::DataDirLock::acquire(data_dir)?);
    }
    let aside = if data_dir.exists() {
        let aside = PathBuf::from(format!(
            "{}.replaced-{}",
            data_dir.display(),
            crate::now().0
        ));
        std::fs::rename(data_dir, &aside)
            .map_err(|e| io(&format!("cannot move {} aside", data_dir.display()), e))?;
        Some(aside)
    } else {
        None
    };
    let lock = crate::lock::DataDirLock::acquire(data_dir)?;
    let mut files = Vec::new();
    walk(backup, backup, &mut files)?;
    for rel in files {
        let name = rel.to_string_lossy();
        if name == MANIFEST || name == crate::lock::FILE {
            continue;
        }
        copy_durably(&backup.join(&rel), &data_dir.join(&rel))?;
    }
    drop(lock);
    Ok(aside)
}

/// Copies `from` to `to` (mode 0600, its directory created 0700), then fsyncs both.
fn copy_durably(from: &Path, to: &Path) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let file_err = |e: crate::files::FileError| {
        StoreError::io(e.to_string(), std::io::Error::other("restore"))
    };
    let dir = to.parent().unwrap_or(Path::new("."));
    crate::files::private_dir(dir).map_err(file_err)?;
    let what = || format!("cannot copy {} to {}", from.display(), to.display());
    let mut src = std::fs::File::open(from).map_err(|e| io(&what(), e))?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(|e| io(&what(), e))?;
    std::io::copy(&mut src, &mut dst).map_err(|e| io(&what(), e))?;
    dst.sync_all().map_err(|e| io(&what(), e))?;
    crate::files::sync_dir(dir).map_err(file_err)
}
