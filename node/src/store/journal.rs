//! The store's one file: an append-only journal of checksummed batches, and the [`Medium`]
//! trait it is written through.
//!
//! # Format (`journal-v1`)
//! ```text
//! batch   := header meta bodies
//! header  := "LJB1" | meta_len u32le | bodies_len u32le | crc32(meta) u32le | crc32(bodies) u32le   (20 bytes)
//! meta    := record*
//! record  := tag u8 | len u32le | payload
//!   tag 1  Leaf    payload = a log entry (the Merkle leaf, as logged)
//!   tag 2  New     payload = body_len u32le | postcard(MessageState); the body is the next
//!                  body_len bytes of the batch's `bodies`, in the order of the New records
//!   tag 3  Update  payload = postcard(MessageState), replacing that message's state
//! ```
//! One group commit is one batch: one positional write of header, meta and bodies, then one
//! `fdatasync`. Nothing is answered before that returns. Every batch is durable before the
//! next is written, so after a crash only the last batch can be incomplete; [`replay`] drops
//! such a tail (it was never acknowledged) and refuses a damaged batch anywhere else.
//!
//! Replay reads the meta of every batch (leaves and states, a few hundred bytes a message) and
//! checks its checksum; bodies are read only where needed, and the bodies checksum is checked
//! for the last batch, the only one a crash can tear. The checksums (CRC-32) detect torn and
//! damaged writes, not tampering: anyone who can rewrite the file can recompute any unkeyed
//! digest. Tampering is what the Merkle log, its signed checkpoints and the messages' own
//! signatures detect (a body is bound to its message id, the SHA-256 of its signed body).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};

/// File name of the journal inside the store directory.
pub const FILE: &str = "journal-v1";

const MAGIC: &[u8; 4] = b"LJB1";
/// Header bytes before a batch's meta.
pub const HEADER: u64 = 4 + 4 + 4 + 4 + 4;
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

/// Where a value lives in the journal: offset (40 bits) and length (24 bits) in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc(u64);

impl Loc {
    /// Largest value length a location can describe (16 MiB − 1).
    pub const MAX_LEN: u64 = (1 << 24) - 1;
    /// Largest offset (1 TiB).
    pub const MAX_OFFSET: u64 = (1 << 40) - 1;

    /// A location; fails beyond the limits above.
    pub fn new(offset: u64, len: u64) -> Result<Self> {
        if len > Self::MAX_LEN {
            bail!("a stored value of {len} bytes exceeds the journal's 16 MiB per value");
        }
        if offset > Self::MAX_OFFSET {
            bail!("the journal has reached its 1 TiB limit");
        }
        Ok(Self(offset << 24 | len))
    }
    /// Byte offset in the file.
    pub fn offset(self) -> u64 {
        self.0 >> 24
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
}

/// The journal file.
pub struct FileMedium {
    file: File,
    path: PathBuf,
    /// Current end; appends are serialised by this lock (the store has one writer anyway).
    end: Mutex<u64>,
}

impl FileMedium {
    /// Opens (creating it and fsyncing its directory if new) the journal in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(FILE);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if !existed {
            File::open(dir)?.sync_all()?;
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
        let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
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
        let mut at = start;
        for p in parts {
            self.file.write_all_at(p, at)?;
            at += p.len() as u64;
        }
        self.file.sync_data()?;
        *end = at;
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
}

fn crc(bytes: &[u8]) -> [u8; 4] {
    crc32fast::hash(bytes).to_le_bytes()
}

/// A batch being assembled: records in `meta`, bodies in `bodies`.
#[derive(Default)]
pub struct BatchBuf {
    meta: Vec<u8>,
    bodies: Vec<u8>,
}

impl BatchBuf {
    /// Adds a record; returns the payload's position inside `meta`.
    pub fn record(&mut self, tag: u8, payload_parts: &[&[u8]]) -> Result<u64> {
        let len: usize = payload_parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(len).map_err(|_| anyhow!("journal record too large"))?;
        self.meta.push(tag);
        self.meta.extend_from_slice(&len.to_le_bytes());
        let at = self.meta.len() as u64;
        for p in payload_parts {
            self.meta.extend_from_slice(p);
        }
        Ok(at)
    }

    /// Adds a body; returns its position inside `bodies`.
    pub fn body(&mut self, bytes: &[u8]) -> u64 {
        let at = self.bodies.len() as u64;
        self.bodies.extend_from_slice(bytes);
        at
    }

    /// Empties the buffer for the next batch, keeping its memory (up to 16 MiB per section).
    pub fn clear(&mut self) {
        for v in [&mut self.meta, &mut self.bodies] {
            v.clear();
            v.shrink_to(16 << 20);
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty() && self.bodies.is_empty()
    }

    /// Length of the meta section (bodies start right after it).
    pub fn meta_len(&self) -> u64 {
        self.meta.len() as u64
    }

    /// Writes the batch durably; returns the batch's start offset.
    pub fn commit(&self, medium: &dyn Medium) -> Result<u64> {
        let meta_len = u32::try_from(self.meta.len())
            .ok()
            .filter(|l| *l <= MAX_SECTION)
            .ok_or_else(|| anyhow!("group commit too large"))?;
        let bodies_len = u32::try_from(self.bodies.len())
            .ok()
            .filter(|l| *l <= MAX_SECTION)
            .ok_or_else(|| anyhow!("group commit too large"))?;
        let mut header = Vec::with_capacity(HEADER as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&meta_len.to_le_bytes());
        header.extend_from_slice(&bodies_len.to_le_bytes());
        header.extend_from_slice(&crc(&self.meta));
        header.extend_from_slice(&crc(&self.bodies));
        Ok(medium.append_durable(&[&header, &self.meta, &self.bodies])?)
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

/// Reads every batch in order and hands its records to `visit`. An incomplete or damaged
/// *last* batch is reported as `torn` (the caller decides whether to cut it off); damage
/// anywhere else is an error, because valid data after it means the file was altered.
pub fn replay(
    medium: &dyn Medium,
    mut visit: impl FnMut(Record<'_>) -> Result<()>,
) -> Result<ReplayEnd> {
    let file_len = medium.size();
    let mut pos = 0u64;
    let mut batches = 0u64;
    let mut meta = Vec::new();
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
        if file_len - pos < HEADER {
            return Ok(torn);
        }
        let mut header = [0u8; HEADER as usize];
        medium.read_at(&mut header, pos)?;
        let field = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let (meta_len, bodies_len) = (field(4), field(8));
        let end = pos + HEADER + u64::from(meta_len) + u64::from(bodies_len);
        let damaged = |what: &str| {
            anyhow!(
                "ALARM: the store's journal is damaged at byte {pos} ({what}) and valid data \
                 follows: the file was altered or the disk is failing. Refusing to start."
            )
        };
        if &header[..4] != MAGIC || meta_len > MAX_SECTION || bodies_len > MAX_SECTION {
            // Only the last batch can be incomplete: a bad header is a torn tail unless a valid
            // batch follows it somewhere.
            return if valid_batch_after(medium, pos + 1, file_len)? {
                Err(damaged("bad batch header"))
            } else {
                Ok(torn)
            };
        }
        if end > file_len {
            // Past the end of the file: a torn tail, unless valid batches follow (then a
            // length field was damaged, and cutting here would throw them away).
            return if valid_batch_after(medium, pos + 1, file_len)? {
                Err(damaged("batch length"))
            } else {
                Ok(torn)
            };
        }
        meta.resize(meta_len as usize, 0);
        medium.read_at(&mut meta, pos + HEADER)?;
        let last = end == file_len;
        if crc(&meta) != header[12..16] {
            return if last {
                Ok(torn)
            } else {
                Err(damaged("meta checksum"))
            };
        }
        if last {
            let mut bodies = vec![0u8; bodies_len as usize];
            medium.read_at(&mut bodies, pos + HEADER + u64::from(meta_len))?;
            if crc(&bodies) != header[16..20] {
                return Ok(torn);
            }
        }
        let meta_start = pos + HEADER;
        let mut body_at = meta_start + u64::from(meta_len);
        let bodies_end = end;
        let mut i = 0usize;
        while i < meta.len() {
            let Some(h) = meta.get(i..i + RECORD_HEADER as usize) else {
                return Err(damaged("truncated record"));
            };
            let tag = h[0];
            let len = u32::from_le_bytes([h[1], h[2], h[3], h[4]]) as usize;
            let p = i + RECORD_HEADER as usize;
            let Some(payload) = meta.get(p..p + len) else {
                return Err(damaged("record overruns its batch"));
            };
            let at = meta_start + p as u64;
            match tag {
                TAG_LEAF => visit(Record::Leaf {
                    loc: Loc::new(at, len as u64)?,
                    bytes: payload,
                })?,
                TAG_NEW => {
                    let Some(bl) = payload.get(..4) else {
                        return Err(damaged("short message record"));
                    };
                    let body_len = u64::from(u32::from_le_bytes([bl[0], bl[1], bl[2], bl[3]]));
                    if body_at + body_len > bodies_end {
                        return Err(damaged("body overruns its batch"));
                    }
                    visit(Record::New {
                        state: Loc::new(at + 4, len as u64 - 4)?,
                        bytes: &payload[4..],
                        body: Loc::new(body_at, body_len)?,
                    })?;
                    body_at += body_len;
                }
                TAG_UPDATE => visit(Record::Update {
                    state: Loc::new(at, len as u64)?,
                    bytes: payload,
                })?,
                other => return Err(damaged(&format!("unknown record tag {other}"))),
            }
            i = p + len;
        }
        pos = end;
        batches += 1;
    }
}

/// Whether a valid batch (plausible header, meta matching its checksum) starts anywhere in
/// `[from, file_len)`. Used only when a header is bad, to tell a torn tail from damage.
fn valid_batch_after(medium: &dyn Medium, from: u64, file_len: u64) -> Result<bool> {
    const CHUNK: u64 = 1 << 20;
    let mut at = from;
    let mut buf = Vec::new();
    while at + HEADER <= file_len {
        let n = CHUNK.min(file_len - at);
        buf.resize(n as usize, 0);
        medium.read_at(&mut buf, at)?;
        for (i, w) in buf.windows(4).enumerate() {
            if w == MAGIC && plausible_batch(medium, at + i as u64, file_len)? {
                return Ok(true);
            }
        }
        // Overlap by 3 bytes so a magic across the chunk boundary is seen.
        at += n.saturating_sub(3).max(1);
    }
    Ok(false)
}

fn plausible_batch(medium: &dyn Medium, pos: u64, file_len: u64) -> Result<bool> {
    if pos + HEADER > file_len {
        return Ok(false);
    }
    let mut header = [0u8; HEADER as usize];
    medium.read_at(&mut header, pos)?;
    let meta_len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let bodies_len = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if meta_len > MAX_SECTION || bodies_len > MAX_SECTION {
        return Ok(false);
    }
    if pos + HEADER + u64::from(meta_len) + u64::from(bodies_len) > file_len {
        return Ok(false);
    }
    let mut meta = vec![0u8; meta_len as usize];
    medium.read_at(&mut meta, pos + HEADER)?;
    Ok(crc(&meta) == header[12..16])
}

/// Reads the bytes at `loc`.
pub fn read(medium: &dyn Medium, loc: Loc) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; loc.length()];
    medium
        .read_at(&mut buf, loc.offset())
        .map_err(|e| anyhow!("cannot read the journal at byte {}: {e}", loc.offset()))?;
    Ok(buf)
}
