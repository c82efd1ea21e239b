//! One process per data dir: an exclusive advisory lock on `<data_dir>/liaison.lock`, taken
//! before anything in the data dir is opened or replayed and held for as long as the store's
//! writer lives.
//!
//! Two processes on one data dir would each append to the journal from their own idea of its
//! end, and each could cut the other's batch in flight as a "torn tail": acknowledged messages
//! would be lost. The lock is `flock(2)` (released by the kernel when the process dies, so a
//! `kill -9` never leaves a stale lock); the file holds the holder's process id so the refusal
//! can name it. Readers that never write (`liaison audit`) do not take it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::files;

/// Name of the lock file in the data dir.
pub const FILE: &str = "liaison.lock";

/// Why the data dir could not be locked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "data_dir {dir} is in use by another liaison process{}: one data dir serves one node \
         process. Stop that process first, or give this one its own data_dir",
        holder.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    InUse {
        /// The data dir.
        dir: String,
        /// The holder's process id, as it wrote it.
        holder: Option<u32>,
    },
    /// The lock file could not be made or locked.
    #[error("data_dir {dir}: cannot lock {}: {source}", FILE)]
    Io {
        /// The data dir.
        dir: String,
        /// The error.
        source: std::io::Error,
    },
    /// The data dir could not be created.
    #[error("data_dir: {0}")]
    Dir(#[from] files::FileError),
}

impl LockError {
    /// Stable reason code.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::InUse { .. } => "data-dir-in-use",
            Self::Io { .. } => "io-error",
            Self::Dir(e) => e.reason_code(),
        }
    }
}

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    dir: PathBuf,
}

impl DataDirLock {
    /// Creates the data dir (0700) if needed and takes its lock, or says who holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self, LockError> {
        files::private_dir(data_dir)?;
        let dir = data_dir.display().to_string();
        let io = |source| LockError::Io {
            dir: dir.clone(),
            source,
        };
        let path = data_dir.join(FILE);
        let mut file = files::open_private(&path).map_err(|e| match e {
            files::FileError::Io { source, .. } => io(source),
            other => LockError::Dir(other),
        })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::InUse {
                    dir,
                    holder: text.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self {
            _file: file,
            dir: data_dir.to_owned(),
        })
    }

    /// The locked data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_data_dir_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let held = DataDirLock::acquire(&data).unwrap();
        let e = DataDirLock::acquire(&data).unwrap_err();
        assert_eq!(e.reason_code(), "data-dir-in-use");
        let text = e.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(held);
        DataDirLock::acquire(&data).unwrap();
    }
}
