//! What can go wrong in the store, and who is at fault: the disk, the stored bytes, or the
//! caller.

use liaison_protocol::MessageId;

/// A store operation that failed. Nothing a failed write request asked for was acknowledged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The disk holding the data dir is full: the group commit was not written.
    #[error("the disk holding the store is full; nothing was written: free space and retry ({0})")]
    DiskFull(#[source] std::io::Error),
    /// A write or fsync of the journal failed: the group commit was not written.
    #[error("the store could not write its journal; nothing was written ({0})")]
    Write(#[source] std::io::Error),
    /// A read of the journal failed.
    #[error("cannot read the journal at byte {offset}: {source}")]
    Read {
        /// Where.
        offset: u64,
        /// The error.
        source: std::io::Error,
    },
    /// A stored message no longer is what its id says: never shown, opened or forwarded.
    #[error(
        "the stored copy of message {id} is damaged ({why}); it is not shown, opened or \
         forwarded: restore it from a backup or ask its sender to send it again"
    )]
    Damaged {
        /// The message.
        id: MessageId,
        /// What does not hold.
        why: String,
    },
    /// A stored record (state, log entry) cannot be decoded.
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
    /// The request cannot be stored (too large, a duplicate origination).
    #[error("{0}")]
    Refused(String),
    /// The writer stopped after a failure it could not undo; a restart replays the journal.
    #[error("{0}")]
    Broken(String),
    /// The store is shut down.
    #[error("the store has stopped")]
    Stopped,
    /// A checkpoint file could not be written.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A file of the store could not be opened, read or written at start-up.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, and to which file.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The journal is damaged where a crash cannot explain it (start-up refuses).
    #[error("{0}")]
    JournalDamaged(String),
    /// The journal holds fewer entries than a checkpoint this node signed (start-up refuses).
    #[error("{0}")]
    RolledBack(String),
    /// The journal's entries hash to another root than a checkpoint this node signed.
    #[error("{0}")]
    Rewritten(String),
    /// A checkpoint file does not verify with this node's key, or is another node's.
    #[error("{0}")]
    CheckpointInvalid(String),
    /// No checkpoint file beside a non-empty log (start-up refuses unless accepted).
    #[error("{0}")]
    CheckpointsMissing(String),
    /// The checkpoint history is not what the node wrote (a line or a file missing or altered).
    #[error("{0}")]
    HistoryDamaged(String),
    /// The data dir is locked by another process, or its lock cannot be taken.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
}

impl StoreError {
    /// Stable reason code.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::DiskFull(_) => "disk-full",
            Self::Write(_) => "storage-write-failed",
            Self::Read { .. } => "storage-read-failed",
            Self::Damaged { .. } => "stored-body-damaged",
            Self::Corrupt(_) => "stored-record-corrupt",
            Self::Refused(_) => "store-refused",
            Self::Broken(_) => "store-stopped-writing",
            Self::Stopped => "store-stopped",
            Self::Checkpoint(_) => "checkpoint-failed",
            Self::Io { source, .. } if crate::files::is_disk_full(source) => "disk-full",
            Self::Io { .. } => "io-error",
            Self::JournalDamaged(_) => "journal-damaged",
            Self::RolledBack(_) => "log-rolled-back",
            Self::Rewritten(_) => "log-rewritten",
            Self::CheckpointInvalid(_) => "checkpoint-invalid",
            Self::CheckpointsMissing(_) => "checkpoints-missing",
            Self::HistoryDamaged(_) => "checkpoint-history-damaged",
            Self::Lock(e) => e.reason_code(),
        }
    }

    /// An I/O error at start-up, saying what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    /// An I/O error while writing, classified (a full disk has a reason code of its own).
    pub fn write(e: std::io::Error) -> Self {
        if crate::files::is_disk_full(&e) {
            Self::DiskFull(e)
        } else {
            Self::Write(e)
        }
    }

    /// A copy of this error for every request of a failed group (I/O errors are not `Clone`).
    pub fn duplicate(&self) -> Self {
        let copy = |e: &std::io::Error| std::io::Error::new(e.kind(), e.to_string());
        match self {
            Self::DiskFull(e) => Self::DiskFull(copy(e)),
            Self::Write(e) => Self::Write(copy(e)),
            Self::Read { offset, source } => Self::Read {
                offset: *offset,
                source: copy(source),
            },
            Self::Damaged { id, why } => Self::Damaged {
                id: *id,
                why: why.clone(),
            },
            Self::Corrupt(s) => Self::Corrupt(s.clone()),
            Self::Refused(s) => Self::Refused(s.clone()),
            Self::Broken(s) => Self::Broken(s.clone()),
            Self::Stopped => Self::Stopped,
            Self::Checkpoint(s) => Self::Checkpoint(s.clone()),
            Self::Io { what, source } => Self::Io {
                what: what.clone(),
                source: copy(source),
            },
            Self::JournalDamaged(s) => Self::JournalDamaged(s.clone()),
            Self::RolledBack(s) => Self::RolledBack(s.clone()),
            Self::Rewritten(s) => Self::Rewritten(s.clone()),
            Self::CheckpointInvalid(s) => Self::CheckpointInvalid(s.clone()),
            Self::CheckpointsMissing(s) => Self::CheckpointsMissing(s.clone()),
            Self::HistoryDamaged(s) => Self::HistoryDamaged(s.clone()),
            Self::Lock(e) => Self::Checkpoint(e.to_string()),
        }
    }
}

/// Every reason code the store gives: its alarms', its errors', its lock's and its files'
/// (docs/REASONS.md documents each; the node's test checks that every documented code is
/// produced somewhere).
pub fn reason_codes() -> Vec<&'static str> {
    let io = || std::io::Error::other("x");
    let store = [
        StoreError::DiskFull(io()),
        StoreError::Write(io()),
        StoreError::Read {
            offset: 0,
            source: io(),
        },
        StoreError::Damaged {
            id: liaison_protocol::MessageId([0; 32]),
            why: String::new(),
        },
        StoreError::Corrupt(String::new()),
        StoreError::Refused(String::new()),
        StoreError::Broken(String::new()),
        StoreError::Stopped,
        StoreError::Checkpoint(String::new()),
        StoreError::io(String::new(), io()),
        StoreError::JournalDamaged(String::new()),
        StoreError::RolledBack(String::new()),
        StoreError::Rewritten(String::new()),
        StoreError::CheckpointInvalid(String::new()),
        StoreError::CheckpointsMissing(String::new()),
        StoreError::HistoryDamaged(String::new()),
    ];
    let lock = [
        crate::lock::LockError::InUse {
            dir: String::new(),
            holder: None,
        }
        .reason_code(),
        crate::lock::LockError::Io {
            dir: String::new(),
            source: io(),
        }
        .reason_code(),
    ];
    let files = crate::files::FileError::NotPrivate {
        what: String::new(),
        path: String::new(),
        mode: 0,
    }
    .reason_code();
    crate::alarm::AlarmKind::ALL
        .iter()
        .map(|k| k.code())
        .chain(store.iter().map(StoreError::reason_code))
        .chain(lock)
        .chain([files])
        .collect()
}

impl From<std::io::Error> for StoreError {
    fn from(source: std::io::Error) -> Self {
        Self::io("the store's files", source)
    }
}

impl From<crate::files::FileError> for StoreError {
    fn from(e: crate::files::FileError) -> Self {
        match e {
            crate::files::FileError::Io { path, source } if crate::files::is_disk_full(&source) => {
                Self::DiskFull(std::io::Error::new(
                    source.kind(),
                    format!("{path}: {source}"),
                ))
            }
            crate::files::FileError::Io { path, source } => Self::Io { what: path, source },
            other => Self::Checkpoint(other.to_string()),
        }
    }
}
