//! The store's one file: an append-only journal of checksummed batches, and the [`Medium`]
//! trait it is written through.
//!
//! # Format (`journal-v1`)
//! ```text
//! file    := file_header batch*
//! file_header := "LJF1" | salt (8 random bytes) | crc32("LJF1" | salt) u32le                (16 bytes)
//! batch   := header meta bodies
//! header  := "LJB1" | meta_len u32le | bodies_len u32le | crc32(meta) u32le | crc32(bodies) u32le
//!            | crc32(salt | the 20 bytes before) u32le                                     (24 bytes)
//! meta    := record*
//! record  := tag u8 | len u32le | payload
//!   tag 1  Leaf    payload = a log entry (the Merkle leaf, as logged)
//!   tag 2  New     payload = body_len u32le | postcard(MessageState); the body is the next
//!                  body_len bytes of the batch's `bodies`, in the order of the New records
//!   tag 3  Update  payload = postcard(MessageState), replacing that message's state
//!   tag 4  Signed  payload = leaf u64le | body_len u32le; the body (next in `bodies`, in
//!                  record order with the New records' bodies) is the envelope of the signed
//!                  receipt or refusal that log entry `leaf` names, kept for auditors
//! ```
//! One group commit is one batch: one positional write of header, meta and bodies, then one
//! `fdatasync`. Nothing is answered before that returns. Every batch is durable before the
//! next is written, so after a crash only the last batch can be incomplete; [`replay`] drops
//! such a tail (it was never acknowledged) and refuses a damaged batch anywhere else: a bad
//! batch is damage, not a torn tail, exactly when a chain of valid batches runs from
//! somewhere after it to the end of the file.
//!
//! Replay reads the meta of every batch (leaves and states, a few hundred bytes a message) and
//! checks its checksum; bodies are read only where needed, and the bodies checksum is checked
//! for the last batch, the only one a crash can tear. A purge overwrites the bodies of purged
//! messages with zeros in place (after its log entries are durable in a later batch), so the
//! bodies checksum of earlier batches is never relied on. The header's own checksum is salted with
//! the journal's random salt, so bytes inside a message (which a peer chooses) cannot pass for
//! a batch header. The checksums (CRC-32) detect torn and
//! damaged writes, not tampering: anyone who can rewrite the file can recompute any unkeyed
//! digest. Tampering is what the Merkle log, its signed checkpoints and the messages' own
//! signatures detect (a body is bound to its message id, the SHA-256 of its signed body).

use std::fs::File;
use std::io::{IoSlice, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::StoreError;

/// The journal's results.
type Result<T, E = StoreError> = std::result::Result<T, E>;

/// File name of the journal inside the store directory.
pub const FILE: &str = "journal-v1";

const MAGIC: &[u8; 4] = b"LJB1";
const FILE_MAGIC: &[u8; 4] = b"LJF1";
/// Bytes of the file header (magic, salt, checksum) before the first batch.
pub const FILE_HEADER: u64 = 16;
/// Header bytes before a batch's meta.
pub const HEADER: u64 = 4 + 4 + 4 + 4 + 4 + 4;
/// A record's tag and length.
pub const RECORD_HEADER: u64 = 5;
/// Largest meta or bodies section a batch may have.
const MAX_SECTION: u32 = 1 << 30;

/// Record tags.
pub const TAG_LEAF: u8 = 1;
/// A new message: its state, and its body in the batch's bodies.
pub const TAG_NEW: u8 = 2;
/// A replacement state for a known message.
pub const TAG_UPDATE: u8 = 3;
/// Record tag: a signed receipt or refusal, kept beside the log entry that names it.
pub const TAG_SIGNED: u8 = 4;

/// Where a value lives in the journal: offset (39 bits) and length (25 bits) in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc(u64);

impl Loc {
    /// Largest value length a location can describe (32 MiB − 1: twice the largest frame).
    pub const MAX_LEN: u64 = (1 << 25) - 1;
    /// Largest offset (512 GiB).
    pub const MAX_OFFSET: u64 = (1 << 39) - 1;

    /// A location; fails beyond the limits above.
    pub fn new(offset: u64, len: u64) -> Result<Self, StoreError> {
        if len > Self::MAX_LEN {
            return Err(StoreError::Refused(format!(
                "a stored value of {len} bytes exceeds the journal's 32 MiB per value"
            )));
        }
        if offset > Self::MAX_OFFSET {
            return Err(StoreError::Refused(
                "the journal has reached its 512 GiB limit".into(),
            ));
        }
        Ok(Self(offset << 25 | len))
    }
    /// Byte offset in the file.
    pub fn offset(self) -> u64 {
        self.0 >> 25
    }
    /// Length in bytes.
    pub fn length(self) -> usize {
        (self.0 & Self::MAX_LEN) as usize
    }
}

/// The durable medium under the store: an append-only byte sequence with positional reads.
/// The file implementation is [`FileMedium`]; the trait keeps the store's logic independent of
/// where the bytes live.
pub trait Medium: Send + Sync + 'static {
    /// Current length in bytes.
    fn size(&self) -> u64;
    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
    /// Appends `parts` contiguously and returns only once they are durable; returns the offset
    /// of the first byte. On error nothing may be assumed about the tail (see [`Medium::truncate`]).
    fn append_durable(&self, parts: &[&[u8]]) -> std::io::Result<u64>;
    /// Cuts the medium back to `len` bytes, durably.
    fn truncate(&self, len: u64) -> std::io::Result<()>;
    /// Overwrites each `(offset, len)` range with zeros, then makes that durable: how purged
    /// message bodies leave the disk. Only bodies of batches before the last are ever
    /// overwritten, and the replay checks bodies' checksums of the last batch only.
    fn zero_durable(&self, ranges: &[(u64, usize)]) -> std::io::Result<()>;
}

/// The journal file.
pub struct FileMedium {
    file: File,
    path: PathBuf,
    /// Current end; appends are serialised by this lock (the store has one writer anyway).
    end: Mutex<u64>,
}

impl FileMedium {
    /// Opens (creating it and fsyncing its directory if new) the journal in `dir`. The
    /// directory is made private (0700) and the file 0600, whatever the umask.
    pub fn open(dir: &Path) -> Result<Self> {
        crate::files::private_dir(dir)?;
        let path = dir.join(FILE);
        let file = crate::files::open_private(&path)?;
        // Make the file's (and the store directory's) names durable, whether this run created
        // them or an earlier one crashed before doing so.
        crate::files::sync_dir(dir)?;
        if let Some(parent) = dir.parent() {
            crate::files::sync_dir(parent)?;
        }
        let end = file.metadata()?.len();
        Ok(Self {
            file,
            path,
            end: Mutex::new(end),
        })
    }

    /// Opens an existing journal for reading only (offline checks); never changes it.
    pub fn open_read_only(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE);
        let file = File::open(&path)
            .map_err(|e| StoreError::io(format!("cannot open {}", path.display()), e))?;
        let end = file.metadata()?.len();
        Ok(Self {
            file,
            path,
            end: Mutex::new(end),
        })
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Medium for FileMedium {
    fn size(&self) -> u64 {
        self.end.lock().map(|e| *e).unwrap_or(0)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn append_durable(&self, parts: &[&[u8]]) -> std::io::Result<u64> {
        let mut end = self
            .end
            .lock()
            .map_err(|_| std::io::Error::other("journal lock poisoned"))?;
        let start = *end;
        // One gathered write of all parts (as many system calls as the kernel needs, usually
        // one), at the end: only this writer moves the file position, and readers use
        // positional reads.
        let mut file = &self.file;
        file.seek(SeekFrom::Start(start))?;
        let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = file.write_vectored(rest)?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut rest, n);
        }
        self.file.sync_data()?;
        *end = start + parts.iter().map(|p| p.len() as u64).sum::<u64>();
        Ok(start)
    }

    fn truncate(&self, len: u64) -> std::io::Result<()> {
        let mut end = self
            .end
            .lock()
            .map_err(|_| std::io::Error::other("journal lock poisoned"))?;
        self.file.set_len(len)?;
        self.file.sync_all()?;
        *end = len;
        Ok(())
    }

    fn zero_durable(&self, ranges: &[(u64, usize)]) -> std::io::Result<()> {
        let end = *self
            .end
            .lock()
            .map_err(|_| std::io::Error::other("journal lock poisoned"))?;
        for &(offset, len) in ranges {
            if offset.saturating_add(len as u64) > end {
                return Err(std::io::Error::other("zeroing past the end of the journal"));
            }
            self.file.write_all_at(&vec![0u8; len], offset)?;
        }
        self.file.sync_data()
    }
}

/// A medium in memory, durable only as long as the value lives: the journal's logic without a
/// disk, for tests and for fuzzing the decoder. A read past the end fails as a file's does,
/// and the longest read asked of it is kept, so a test can check that [`replay`] bounded a
/// length it read from the journal by the medium's size before reading (and allocating)
/// that much.
#[derive(Debug, Default)]
pub struct MemMedium {
    bytes: Mutex<Vec<u8>>,
    largest_read: std::sync::atomic::AtomicU64,
}

impl MemMedium {
    /// A medium holding `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            bytes: Mutex::new(bytes),
            largest_read: Default::default(),
        }
    }

    /// The bytes it holds.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// The length of the longest read asked of it so far.
    pub fn largest_read(&self) -> u64 {
        self.largest_read.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.bytes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Medium for MemMedium {
    fn size(&self) -> u64 {
        self.bytes().len() as u64
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.largest_read
            .fetch_max(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let bytes = self.bytes();
        let at = usize::try_from(offset).ok().filter(|at| *at <= bytes.len());
        match at.and_then(|at| bytes.get(at..at.checked_add(buf.len())?)) {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(std::io::ErrorKind::UnexpectedEof.into()),
        }
    }

    fn append_durable(&self, parts: &[&[u8]]) -> std::io::Result<u64> {
        let mut bytes = self.bytes();
        let start = bytes.len() as u64;
        for p in parts {
            bytes.extend_from_slice(p);
        }
        Ok(start)
    }

    fn truncate(&self, len: u64) -> std::io::Result<()> {
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        self.bytes().truncate(len);
        Ok(())
    }

    fn zero_durable(&self, ranges: &[(u64, usize)]) -> std::io::Result<()> {
        let mut bytes = self.bytes();
        for &(offset, len) in ranges {
            let range = usize::try_from(offset)
                .ok()
                .and_then(|at| Some(at..at.checked_add(len)?))
                .filter(|r| r.end <= bytes.len())
                .ok_or_else(|| std::io::Error::other("zeroing past the end of the journal"))?;
            bytes[range].fill(0);
        }
        Ok(())
    }
}

fn crc(bytes: &[u8]) -> [u8; 4] {
    crc32fast::hash(bytes).to_le_bytes()
}

/// The batch header's own checksum, over the journal's salt and the header's first 20 bytes.
fn header_crc(salt: &[u8; 8], first: &[u8]) -> [u8; 4] {
    let mut h = crc32fast::Hasher::new();
    h.update(salt);
    h.update(first);
    h.finalize().to_le_bytes()
}

/// Reads the journal's salt from its file header; `None` if the file is shorter than the
/// header (a crash while creating it: nothing can have been written after it).
pub fn salt(medium: &dyn Medium) -> Result<Option<[u8; 8]>> {
    if medium.size() < FILE_HEADER {
        return Ok(None);
    }
    let mut h = [0u8; FILE_HEADER as usize];
    medium.read_at(&mut h, 0)?;
    if &h[..4] != FILE_MAGIC || crc(&h[..12]) != h[12..16] {
        return Err(StoreError::JournalDamaged(
            "ALARM: the store's journal does not start with a valid journal header: it is not \
             a Liaison journal, or it was altered. Refusing to start."
                .to_string(),
        ));
    }
    let mut salt = [0u8; 8];
    salt.copy_from_slice(&h[4..12]);
    Ok(Some(salt))
}

/// Gives a journal without a file header (new, or cut short while being created) one, with a
/// random salt; returns the salt.
pub fn init(medium: &dyn Medium) -> Result<[u8; 8]> {
    if let Some(s) = salt(medium)? {
        return Ok(s);
    }
    let mut salt = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt).map_err(|_| {
        StoreError::io(
            "no randomness for the journal's salt",
            std::io::Error::other("the system random generator failed"),
        )
    })?;
    medium.truncate(0)?;
    medium.append_durable(&[&file_header(&salt)])?;
    Ok(salt)
}

/// The file header of a journal whose salt is `salt` (a journal's first bytes).
pub fn file_header(salt: &[u8; 8]) -> [u8; FILE_HEADER as usize] {
    let mut h = [0u8; FILE_HEADER as usize];
    h[..4].copy_from_slice(FILE_MAGIC);
    h[4..12].copy_from_slice(salt);
    let c = crc(&h[..12]);
    h[12..].copy_from_slice(&c);
    h
}

/// A batch being assembled: records in `meta`; the bodies stay where they are (see
/// [`Bodies`]) and are written after it in the same gathered write.
#[derive(Default)]
pub struct BatchBuf {
    meta: Vec<u8>,
}

/// The bodies section of a batch being assembled: references to the bodies in order, never
/// copied before the write.
#[derive(Default)]
pub struct Bodies<'a> {
    parts: Vec<&'a [u8]>,
    len: u64,
}

impl<'a> Bodies<'a> {
    /// Adds a body; returns its position inside the bodies section.
    pub fn push(&mut self, bytes: &'a [u8]) -> u64 {
        let at = self.len;
        self.parts.push(bytes);
        self.len += bytes.len() as u64;
        at
    }

    /// Length of the bodies section.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no body was added.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

impl BatchBuf {
    /// Adds a record; returns the payload's position inside `meta`.
    pub fn record(&mut self, tag: u8, payload_parts: &[&[u8]]) -> Result<u64, StoreError> {
        let len: usize = payload_parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(len)
            .map_err(|_| StoreError::Refused("journal record too large".into()))?;
        self.meta.push(tag);
        self.meta.extend_from_slice(&len.to_le_bytes());
        let at = self.meta.len() as u64;
        for p in payload_parts {
            self.meta.extend_from_slice(p);
        }
        Ok(at)
    }

    /// Empties the buffer for the next batch, keeping its memory (up to 16 MiB).
    pub fn clear(&mut self) {
        self.meta.clear();
        self.meta.shrink_to(16 << 20);
    }

    /// Whether no record was added (every body has one).
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Length of the meta section (bodies start right after it).
    pub fn meta_len(&self) -> u64 {
        self.meta.len() as u64
    }

    /// Writes the batch, with `bodies` after its records, durably; returns the batch's start
    /// offset.
    pub fn commit(
        &self,
        medium: &dyn Medium,
        salt: &[u8; 8],
        bodies: &Bodies<'_>,
    ) -> Result<u64, StoreError> {
        let too_large = || StoreError::Refused("group commit too large".into());
        let meta_len = u32::try_from(self.meta.len())
            .ok()
            .filter(|l| *l <= MAX_SECTION)
            .ok_or_else(too_large)?;
        let bodies_len = u32::try_from(bodies.len)
            .ok()
            .filter(|l| *l <= MAX_SECTION)
            .ok_or_else(too_large)?;
        let mut header = Vec::with_capacity(HEADER as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&meta_len.to_le_bytes());
        header.extend_from_slice(&bodies_len.to_le_bytes());
        header.extend_from_slice(&crc(&self.meta));
        let mut bodies_crc = crc32fast::Hasher::new();
        for b in &bodies.parts {
            bodies_crc.update(b);
        }
        header.extend_from_slice(&bodies_crc.finalize().to_le_bytes());
        let sealed = header_crc(salt, &header);
        header.extend_from_slice(&sealed);
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 + bodies.parts.len());
        parts.push(&header);
        parts.push(&self.meta);
        parts.extend_from_slice(&bodies.parts);
        medium.append_durable(&parts).map_err(StoreError::write)
    }
}

/// One record found by [`replay`], with absolute locations.
pub enum Record<'a> {
    /// A log entry (leaves are dense: the n-th Leaf record is log entry n).
    Leaf {
        /// Where the entry is.
        loc: Loc,
        /// The entry.
        bytes: &'a [u8],
    },
    /// A new message: its state and where its body is.
    New {
        /// Where the state is.
        state: Loc,
        /// The state (postcard).
        bytes: &'a [u8],
        /// Where the envelope is.
        body: Loc,
    },
    /// The envelope of a signed receipt or refusal named by log entry `leaf`.
    Signed {
        /// The log entry.
        leaf: u64,
        /// Where the envelope is.
        body: Loc,
    },
    /// A replacement state.
    Update {
        /// Where the state is.
        state: Loc,
        /// The state (postcard).
        bytes: &'a [u8],
    },
}

/// What [`replay`] found at the end of the journal.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayEnd {
    /// Bytes of complete, valid batches.
    pub valid: u64,
    /// Bytes after them: an incomplete last batch (a write a crash interrupted).
    pub torn: u64,
    /// Batches read.
    pub batches: u64,
}

/// One complete batch of the journal, its meta checksum checked (see [`scan`]).
pub struct Batch<'a> {
    /// Byte offset of its header.
    pub start: u64,
    /// Its records.
    pub meta: &'a [u8],
    /// Byte offset of its bodies section.
    pub bodies_at: u64,
    /// Length of its bodies section.
    pub bodies_len: u32,
    /// The bodies section's CRC-32 as written (a purge zeroes bodies in place later, so it
    /// holds only for batches with no purged body).
    pub bodies_crc: u32,
}

/// Why a batch's records could not be walked.
pub enum RecordsError {
    /// The records do not fit their batch (the batch was written wrong or altered).
    Bad(String),
    /// The visitor refused a record.
    Visit(StoreError),
}

impl Batch<'_> {
    /// Hands each record to `visit`, with absolute locations.
    pub fn records(
        &self,
        mut visit: impl FnMut(Record<'_>) -> Result<()>,
    ) -> Result<(), RecordsError> {
        let meta = self.meta;
        let meta_start = self.start + HEADER;
        let mut body_at = self.bodies_at;
        let bodies_end = self.bodies_at + u64::from(self.bodies_len);
        let bad = |what: &str| RecordsError::Bad(what.to_owned());
        let loc = |at: u64, len: u64| Loc::new(at, len).map_err(RecordsError::Visit);
        let mut i = 0usize;
        while i < meta.len() {
            let Some(rh) = meta.get(i..i + RECORD_HEADER as usize) else {
                return Err(bad("truncated record"));
            };
            let tag = rh[0];
            let len = u32::from_le_bytes([rh[1], rh[2], rh[3], rh[4]]) as usize;
            let p = i + RECORD_HEADER as usize;
            let Some(payload) = meta.get(p..p + len) else {
                return Err(bad("record overruns its batch"));
            };
            let at = meta_start + p as u64;
            let record = match tag {
                TAG_LEAF => Record::Leaf {
                    loc: loc(at, len as u64)?,
                    bytes: payload,
                },
                TAG_NEW => {
                    let Some(bl) = payload.get(..4) else {
                        return Err(bad("short message record"));
                    };
                    let body_len = u64::from(u32::from_le_bytes([bl[0], bl[1], bl[2], bl[3]]));
                    if body_at + body_len > bodies_end {
                        return Err(bad("body overruns its batch"));
                    }
                    let r = Record::New {
                        state: loc(at + 4, len as u64 - 4)?,
                        bytes: &payload[4..],
                        body: loc(body_at, body_len)?,
                    };
                    body_at += body_len;
                    r
                }
                TAG_UPDATE => Record::Update {
                    state: loc(at, len as u64)?,
                    bytes: payload,
                },
                TAG_SIGNED => {
                    let (Some(lb), Some(bl)) = (payload.get(..8), payload.get(8..12)) else {
                        return Err(bad("short signed-answer record"));
                    };
                    let leaf = u64::from_le_bytes(lb.try_into().unwrap_or_default());
                    let body_len = u64::from(u32::from_le_bytes(bl.try_into().unwrap_or_default()));
                    if body_at + body_len > bodies_end {
                        return Err(bad("body overruns its batch"));
                    }
                    let r = Record::Signed {
                        leaf,
                        body: loc(body_at, body_len)?,
                    };
                    body_at += body_len;
                    r
                }
                other => return Err(RecordsError::Bad(format!("unknown record tag {other}"))),
            };
            visit(record).map_err(RecordsError::Visit)?;
            i = p + len;
        }
        Ok(())
    }

    /// Whether the bodies section still has the checksum it was written with, read in
    /// chunks (a batch's bodies may be large).
    pub fn bodies_intact(&self, medium: &dyn Medium) -> Result<bool> {
        const CHUNK: u64 = 1 << 20;
        let mut h = crc32fast::Hasher::new();
        let mut buf = Vec::new();
        let end = self.bodies_at + u64::from(self.bodies_len);
        let mut at = self.bodies_at;
        while at < end {
            let n = CHUNK.min(end - at);
            buf.resize(n as usize, 0);
            medium
                .read_at(&mut buf, at)
                .map_err(|source| StoreError::Read { offset: at, source })?;
            h.update(&buf);
            at += n;
        }
        Ok(h.finalize() == self.bodies_crc)
    }
}

/// Walks the complete batches of a journal in use, up to its size when called, handing each
/// to `visit` (meta checksum checked; bodies not read). For checks while the node runs
/// ([`crate::Store::scrub`]): a batch that no longer reads as it did at start-up is an
/// error.
pub fn scan(medium: &dyn Medium, mut visit: impl FnMut(&Batch<'_>) -> Result<()>) -> Result<()> {
    let file_len = medium.size();
    let Some(salt) = salt(medium)? else {
        return Ok(());
    };
    let mut pos = FILE_HEADER;
    let mut meta = Vec::new();
    while pos < file_len {
        let Some(h) = read_header(medium, &salt, pos, file_len)? else {
            return Err(StoreError::JournalDamaged(format!("the journal's batch header at byte {pos} no longer reads: the file was altered while the node ran")));
        };
        meta.resize(h.meta_len as usize, 0);
        medium.read_at(&mut meta, pos + HEADER)?;
        if crc(&meta) != h.meta_crc {
            return Err(StoreError::JournalDamaged(format!("the journal's batch at byte {pos} no longer matches its checksum: the file was altered while the node ran")));
        }
        visit(&Batch {
            start: pos,
            meta: &meta,
            bodies_at: pos + HEADER + u64::from(h.meta_len),
            bodies_len: h.bodies_len,
            bodies_crc: u32::from_le_bytes(h.bodies_crc),
        })?;
        pos = h.end(pos);
    }
    Ok(())
}

/// Reads every batch in order and hands its records to `visit`. An incomplete or damaged
/// *last* batch is reported as `torn` (the caller decides whether to cut it off); damage
/// anywhere else is an error, because valid data after it means the file was altered. So is
/// a batch before a torn one whose bodies fail their checksum: it was durable before the
/// torn one was written, and it becomes the last batch once the torn one is cut off, where a
/// later replay would take it for torn in turn.
pub fn replay(
    medium: &dyn Medium,
    mut visit: impl FnMut(Record<'_>) -> Result<()>,
) -> Result<ReplayEnd> {
    let file_len = medium.size();
    let Some(salt) = salt(medium)? else {
        // Empty, or cut short while its header was being written: nothing in it yet.
        return Ok(ReplayEnd {
            valid: 0,
            torn: file_len,
            batches: 0,
        });
    };
    let mut pos = FILE_HEADER;
    let mut batches = 0u64;
    let mut meta = Vec::new();
    // The batch read last: where it starts, and its header.
    let mut prev: Option<(u64, Header)> = None;
    loop {
        if pos == file_len {
            return Ok(ReplayEnd {
                valid: pos,
                torn: 0,
                batches,
            });
        }
        let torn = ReplayEnd {
            valid: pos,
            torn: file_len - pos,
            batches,
        };
        let damaged = |what: &str| {
            StoreError::JournalDamaged(format!(
                "ALARM: the store's journal is damaged at byte {pos} ({what}) and valid data \
                 follows: the file was altered or the disk is failing. Refusing to start."
            ))
        };
        // A torn tail is only what a crash can leave: the batch before it was durable, and
        // no purge zeroed its bodies (a purge zeroes bodies only in batches a durable one
        // follows), so they must be whole. Else it would be cut off at the next start, once
        // it is last.
        let torn_tail = |prev: Option<(u64, Header)>| match prev {
            Some((at, h)) if !bodies_ok(medium, at, &h)? => {
                Err(StoreError::JournalDamaged(format!(
                    "ALARM: the store's journal is damaged at byte {at} (bodies checksum) before \
                 an incomplete last batch: the file was altered or the disk is failing. \
                 Refusing to start."
                )))
            }
            _ => Ok(torn),
        };
        let Some(h) = read_header(medium, &salt, pos, file_len)? else {
            // Only the last batch can be incomplete: a bad header is a torn tail unless a
            // chain of valid batches runs from somewhere after it to the end of the file.
            return if chain_after(medium, &salt, pos + 1, file_len)? {
                Err(damaged("bad batch header"))
            } else {
                torn_tail(prev)
            };
        };
        let end = h.end(pos);
        meta.resize(h.meta_len as usize, 0);
        medium.read_at(&mut meta, pos + HEADER)?;
        let last = end == file_len;
        if crc(&meta) != h.meta_crc {
            // The header is intact (its salted checksum holds), so its lengths are right:
            // only a batch ending at the end of the file can be torn.
            return if last {
                torn_tail(prev)
            } else {
                Err(damaged("meta checksum"))
            };
        }
        if last && !bodies_ok(medium, pos, &h)? {
            return torn_tail(prev);
        }
        let batch = Batch {
            start: pos,
            meta: &meta,
            bodies_at: pos + HEADER + u64::from(h.meta_len),
            bodies_len: h.bodies_len,
            bodies_crc: u32::from_le_bytes(h.bodies_crc),
        };
        match batch.records(&mut visit) {
            Ok(()) => {}
            Err(RecordsError::Bad(what)) => return Err(damaged(&what)),
            Err(RecordsError::Visit(e)) => return Err(e),
        }
        prev = Some((pos, h));
        pos = end;
        batches += 1;
    }
}

/// A batch header whose salted checksum holds and whose batch fits in the file.
#[derive(Clone, Copy)]
struct Header {
    meta_len: u32,
    bodies_len: u32,
    meta_crc: [u8; 4],
    bodies_crc: [u8; 4],
}

impl Header {
    fn end(&self, pos: u64) -> u64 {
        pos + HEADER + u64::from(self.meta_len) + u64::from(self.bodies_len)
    }
}

fn read_header(
    medium: &dyn Medium,
    salt: &[u8; 8],
    pos: u64,
    file_len: u64,
) -> Result<Option<Header>> {
    if pos + HEADER > file_len {
        return Ok(None);
    }
    let mut b = [0u8; HEADER as usize];
    medium.read_at(&mut b, pos)?;
    let word = |at: usize| [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if &b[..4] != MAGIC || header_crc(salt, &b[..20]) != word(20) {
        return Ok(None);
    }
    let h = Header {
        meta_len: u32::from_le_bytes(word(4)),
        bodies_len: u32::from_le_bytes(word(8)),
        meta_crc: word(12),
        bodies_crc: word(16),
    };
    if h.meta_len > MAX_SECTION || h.bodies_len > MAX_SECTION || h.end(pos) > file_len {
        return Ok(None);
    }
    Ok(Some(h))
}

fn bodies_ok(medium: &dyn Medium, pos: u64, h: &Header) -> Result<bool> {
    let mut bodies = vec![0u8; h.bodies_len as usize];
    medium.read_at(&mut bodies, pos + HEADER + u64::from(h.meta_len))?;
    Ok(crc(&bodies) == h.bodies_crc)
}

/// Whether, from some position in `[from, file_len)`, fully valid batches (salted header,
/// meta and bodies checksums) follow one another exactly to the end of the file. Used only
/// when a batch is bad, to tell a torn tail (nothing valid after it) from damage.
fn chain_after(medium: &dyn Medium, salt: &[u8; 8], from: u64, file_len: u64) -> Result<bool> {
    const CHUNK: u64 = 1 << 20;
    let mut at = from;
    let mut buf = Vec::new();
    while at + HEADER <= file_len {
        let n = CHUNK.min(file_len - at);
        buf.resize(n as usize, 0);
        medium.read_at(&mut buf, at)?;
        for (i, w) in buf.windows(4).enumerate() {
            if w == MAGIC && chain_from(medium, salt, at + i as u64, file_len)? {
                return Ok(true);
            }
        }
        // Overlap by 3 bytes so a magic across the chunk boundary is seen.
        at += n.saturating_sub(3).max(1);
    }
    Ok(false)
}

fn chain_from(medium: &dyn Medium, salt: &[u8; 8], mut pos: u64, file_len: u64) -> Result<bool> {
    while pos < file_len {
        let Some(h) = read_header(medium, salt, pos, file_len)? else {
            return Ok(false);
        };
        let mut meta = vec![0u8; h.meta_len as usize];
        medium.read_at(&mut meta, pos + HEADER)?;
        // As in the replay, bodies are checked in the last batch only: a purge overwrites
        // bodies of earlier batches (see [`Medium::zero_durable`]).
        let last = h.end(pos) == file_len;
        if crc(&meta) != h.meta_crc || (last && !bodies_ok(medium, pos, &h)?) {
            return Ok(false);
        }
        pos = h.end(pos);
    }
    Ok(pos == file_len)
}

/// Reads the bytes at `loc`.
pub fn read(medium: &dyn Medium, loc: Loc) -> Result<Vec<u8>, super::StoreError> {
    let mut buf = vec![0u8; loc.length()];
    medium
        .read_at(&mut buf, loc.offset())
        .map_err(|source| super::StoreError::Read {
            offset: loc.offset(),
            source,
        })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch header is checked against the file's size before anything is read (or
    /// allocated) for the lengths it states: a header claiming a gigabyte in a file of a few
    /// hundred bytes reads nothing of the kind, and is a torn tail at the end of the file or
    /// damage before valid batches.
    #[test]
    fn lengths_a_batch_header_states_are_bounded_by_the_file_before_reading() {
        let salt = [7u8; 8];
        let medium = MemMedium::new(file_header(&salt).to_vec());
        let mut batch = BatchBuf::default();
        batch.record(TAG_LEAF, &[b"entry 0"]).unwrap();
        batch.commit(&medium, &salt, &Bodies::default()).unwrap();
        let valid = medium.size();
        let mut huge = Vec::new();
        huge.extend_from_slice(MAGIC);
        huge.extend_from_slice(&MAX_SECTION.to_le_bytes());
        huge.extend_from_slice(&MAX_SECTION.to_le_bytes());
        huge.extend_from_slice(&[0; 8]);
        let sealed = header_crc(&salt, &huge);
        huge.extend_from_slice(&sealed);
        medium.append_durable(&[&huge, &[0u8; 100]]).unwrap();

        let end = replay(&medium, |_| Ok(())).unwrap();
        assert_eq!(
            end,
            ReplayEnd {
                valid,
                torn: medium.size() - valid,
                batches: 1
            }
        );
        assert!(medium.largest_read() <= medium.size());

        batch.commit(&medium, &salt, &Bodies::default()).unwrap();
        let err = replay(&medium, |_| Ok(())).expect_err("valid data follows");
        assert!(
            format!("{err:#}").contains(&format!("damaged at byte {valid} (bad batch header)")),
            "{err:#}"
        );
        assert!(medium.largest_read() <= medium.size());
    }

    /// A batch followed only by an incomplete one was durable before that one was written:
    /// bodies failing their checksum there are damage. Taken for part of the torn tail, or
    /// passed because it is not last, it would be cut off at the next start, once it is.
    #[test]
    fn damaged_bodies_before_a_torn_batch_are_damage_not_part_of_the_tail() {
        let salt = [7u8; 8];
        let medium = MemMedium::new(file_header(&salt).to_vec());
        let mut batch = BatchBuf::default();
        batch.record(TAG_LEAF, &[b"entry 0"]).unwrap();
        batch.commit(&medium, &salt, &Bodies::default()).unwrap();
        let second = medium.size();
        let mut batch = BatchBuf::default();
        let body = b"an envelope".as_slice();
        batch
            .record(TAG_NEW, &[&(body.len() as u32).to_le_bytes(), b"state"])
            .unwrap();
        let mut bodies = Bodies::default();
        bodies.push(body);
        batch.commit(&medium, &salt, &bodies).unwrap();
        let third = medium.size();
        batch.commit(&medium, &salt, &bodies).unwrap();
        let whole = medium.into_bytes();
        // The third batch cut short, as a crash leaves it.
        let torn = &whole[..whole.len() - 3];
        let end = replay(&MemMedium::new(torn.to_vec()), |_| Ok(())).unwrap();
        assert_eq!((end.valid, end.batches), (third, 2));

        let mut damaged = torn.to_vec();
        let at = third as usize - 2;
        damaged[at] ^= 1;
        let err = replay(&MemMedium::new(damaged.clone()), |_| Ok(()))
            .expect_err("the second batch's body is damaged");
        assert!(
            format!("{err:#}").contains(&format!(
                "damaged at byte {second} (bodies checksum) before an incomplete last batch"
            )),
            "{err:#}"
        );
        // Without the torn batch it is the last one, and so itself taken for torn.
        damaged.truncate(third as usize);
        let end = replay(&MemMedium::new(damaged), |_| Ok(())).unwrap();
        assert_eq!((end.valid, end.torn), (second, third - second));
    }

    /// The in-memory medium reads like a file: exactly what is there, and nothing past the end.
    #[test]
    fn memory_medium_refuses_reads_past_its_end() {
        let m = MemMedium::new(b"journal".to_vec());
        let mut buf = [0u8; 4];
        m.read_at(&mut buf, 3).unwrap();
        assert_eq!(&buf, b"rnal");
        assert!(m.read_at(&mut buf, 4).is_err());
        assert!(m.read_at(&mut buf, u64::MAX).is_err());
        assert_eq!(m.append_durable(&[b"-v1"]).unwrap(), 7);
        m.zero_durable(&[(0, 2)]).unwrap();
        assert!(m.zero_durable(&[(8, 3)]).is_err());
        m.truncate(4).unwrap();
        assert_eq!(m.largest_read(), 4);
        assert_eq!(m.into_bytes(), b"\0\0ur");
    }

    /// A group commit hands the file more parts than one system call takes (the kernel's
    /// limit is 1024 buffers per call): every byte still lands once, in order, at the end.
    #[test]
    fn a_gathered_append_of_many_parts_lands_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let medium = FileMedium::open(dir.path()).unwrap();
        let first = medium.append_durable(&[b"head"]).unwrap();
        assert_eq!(first, 0);
        let parts: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| i.to_le_bytes().repeat(1 + (i as usize % 5)))
            .collect();
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let at = medium.append_durable(&refs).unwrap();
        assert_eq!(at, 4);
        let expected: Vec<u8> = b"head".iter().copied().chain(parts.concat()).collect();
        assert_eq!(medium.size(), expected.len() as u64);
        let mut back = vec![0u8; expected.len()];
        medium.read_at(&mut back, 0).unwrap();
        assert_eq!(back, expected);
        assert_eq!(
            std::fs::metadata(medium.path()).unwrap().len(),
            expected.len() as u64
        );
    }
}
