//! The narrow key-value interface the store needs, and its sled implementation.
//!
//! Everything above this file speaks [`Engine`]; replacing sled (redb and fjall are the usual
//! candidates, see `docs/DECISIONS.md`) means writing one more implementation of it.
//!
//! Durability: sled 0.34's `flush()` ends in `sync_file_range`, which does not reach the
//! drive's cache, so [`SledEngine::commit`] follows it with an fsync of sled's files and
//! directories. A commit returns only after that barrier.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One atomic group of writes: puts (`Some`) and deletes (`None`).
#[derive(Debug, Default)]
pub struct WriteBatch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteBatch {
    /// Adds a put.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push((key, Some(value)));
    }
    /// Adds a delete.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.push((key, None));
    }
    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A key-value engine with atomic, durable batches and ordered prefix scans.
pub trait Engine: Send + Sync + 'static {
    /// Reads one key.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// All pairs whose key starts with `prefix`, in key order, starting at `from` (inclusive).
    fn scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// The last pair whose key starts with `prefix`.
    fn last(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>>;
    /// Applies a batch atomically and returns only when it is durable.
    fn commit(&self, batch: WriteBatch) -> Result<()>;
    /// Bytes on disk (approximate).
    fn size_on_disk(&self) -> u64;
}

/// The sled engine: one tree (`state-v1`), so one group commit is one atomic batch.
pub struct SledEngine {
    db: sled::Db,
    tree: sled::Tree,
    dir: PathBuf,
    /// sled's main file, kept open for fdatasync.
    db_file: File,
    /// Blob files already synced (sled writes large values to `blobs/` without fsync).
    synced_blobs: std::sync::Mutex<std::collections::HashSet<std::ffi::OsString>>,
}

/// sled's page cache: bounded explicitly (its default is 1 GiB).
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

impl SledEngine {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(None)
            .open()
            .with_context(|| format!("cannot open the store in {}", dir.display()))?;
        let tree = db.open_tree("state-v1")?;
        let db_file = File::open(dir.join("db"))
            .with_context(|| format!("cannot open {}", dir.join("db").display()))?;
        Ok(Self {
            db,
            tree,
            dir: dir.to_owned(),
            db_file,
            synced_blobs: Default::default(),
        })
    }

    /// The durability barrier after sled's flush: fdatasync of sled's main file, fsync of any
    /// blob file not yet synced (sled writes them without fsync), and of the directories.
    fn sync_files(&self) -> Result<()> {
        self.db_file.sync_data()?;
        let blobs = self.dir.join("blobs");
        if blobs.is_dir() {
            let mut synced = self
                .synced_blobs
                .lock()
                .map_err(|_| anyhow::anyhow!("blob sync state poisoned"))?;
            let mut new = false;
            for entry in std::fs::read_dir(&blobs)? {
                let entry = entry?;
                if !synced.contains(&entry.file_name()) {
                    File::open(entry.path())?.sync_data()?;
                    synced.insert(entry.file_name());
                    new = true;
                }
            }
            if new {
                File::open(&blobs)?.sync_all()?;
            }
        }
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

impl Engine for SledEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    fn scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut start = prefix.to_vec();
        start.extend_from_slice(from);
        let mut out = Vec::new();
        for kv in self.tree.range(start..) {
            let (k, v) = kv?;
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn last(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .tree
            .scan_prefix(prefix)
            .next_back()
            .transpose()?
            .map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    fn commit(&self, batch: WriteBatch) -> Result<()> {
        let mut b = sled::Batch::default();
        for (k, v) in batch.ops {
            match v {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        self.tree.apply_batch(b)?;
        self.db.flush()?;
        self.sync_files()
    }

    fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}
