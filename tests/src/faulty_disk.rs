//! A journal medium with faults switched on and off by a test: the real journal file
//! underneath, and a write that fails as a full disk, a short write, a failed fsync, or a
//! short write whose undo fails too.

use std::io::{Error, ErrorKind};
use std::path::Path;
use std::sync::Mutex;

use liaison_node::store::journal::{FileMedium, Medium};

/// A fault of the disk under the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The write fails at once: no space left.
    DiskFull,
    /// Half the batch reaches the file, then the write fails.
    ShortWrite,
    /// The whole batch is written, then the fsync fails.
    FsyncFails,
    /// Half the batch reaches the file, and cutting it back fails too.
    ShortWriteUndoFails,
}

/// The journal file, with a fault switched on and off by the test.
pub struct FaultyDisk {
    inner: FileMedium,
    fault: Mutex<Option<Fault>>,
}

impl FaultyDisk {
    /// The journal in `store_dir` (a data dir's `store/`), without a fault yet.
    pub fn open(store_dir: &Path) -> Self {
        Self {
            inner: FileMedium::open(store_dir).expect("journal file"),
            fault: Mutex::new(None),
        }
    }

    /// Switches `f` on (or every fault off, with `None`).
    pub fn set(&self, f: Option<Fault>) {
        *self.fault.lock().expect("fault lock") = f;
    }

    fn fault(&self) -> Option<Fault> {
        *self.fault.lock().expect("fault lock")
    }
}

impl Medium for FaultyDisk {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn append_durable(&self, parts: &[&[u8]]) -> std::io::Result<u64> {
        match self.fault() {
            None => self.inner.append_durable(parts),
            Some(Fault::DiskFull) => Err(Error::from(ErrorKind::StorageFull)),
            Some(Fault::ShortWrite | Fault::ShortWriteUndoFails) => {
                let all = parts.concat();
                self.inner.append_durable(&[&all[..all.len() / 2]])?;
                Err(Error::new(ErrorKind::WriteZero, "short write"))
            }
            Some(Fault::FsyncFails) => {
                self.inner.append_durable(parts)?;
                Err(Error::other("fsync failed: EIO"))
            }
        }
    }
    fn truncate(&self, len: u64) -> std::io::Result<()> {
        if self.fault() == Some(Fault::ShortWriteUndoFails) {
            return Err(Error::other("truncate failed: EIO"));
        }
        self.inner.truncate(len)
    }
    fn zero_durable(&self, ranges: &[(u64, usize)]) -> std::io::Result<()> {
        self.inner.zero_durable(ranges)
    }
}
