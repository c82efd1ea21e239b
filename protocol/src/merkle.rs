//! The log's Merkle tree: RFC 6962 / RFC 9162 hashing, proofs and their verification.
//!
//! Every log event is a leaf. A leaf hashes as `SHA-256(0x00 || leaf)`, an interior node as
//! `SHA-256(0x01 || left || right)`, and the root of the empty tree is `SHA-256("")`; for
//! `n > 1` leaves the tree splits at the largest power of two `k < n` (RFC 9162 §2.1.1).
//! The distinct leaf and node prefixes mean no leaf can pose as a subtree.
//!
//! * [`MerkleTree`] is the in-memory, append-only tree a node or an auditor builds: it keeps
//!   the leaf hashes (never the leaves) and every complete subtree's hash, so appending is
//!   amortised O(1) and a root, an inclusion proof or a consistency proof for any earlier
//!   size costs O(log n) hashes.
//! * [`RootBuilder`] folds a stream of leaf hashes into a root while holding only
//!   O(log n) hashes: the auditor's way to recompute a million-entry log.
//! * [`verify_inclusion`] and [`verify_consistency`] follow RFC 9162 §2.1.3.2 and §2.1.4.2
//!   step by step. They need only the proof, sizes and roots, so an auditor can check a
//!   proof offline against a signed [checkpoint](crate::checkpoint).
//!
//! Proofs travel as [`InclusionProof`] and [`ConsistencyProof`]: serde structures, and a
//! fixed binary form (`to_bytes`/`from_bytes`) of `17 + 32 × hashes` bytes. A proof for
//! one entry of a million-entry log has 20 hashes: 657 bytes.
//!
//! Verification never panics, whatever the sizes, indices and hashes it is given, and
//! gives up after at most [`MAX_PROOF_HASHES`] steps.

use std::fmt;

use ring::digest;
use serde::{Deserialize, Serialize};

/// A SHA-256 hash: a leaf hash, a node hash or a tree root.
pub type Hash = [u8; 32];

/// Length of a SHA-256 hash in bytes.
pub const HASH_LEN: usize = 32;

/// Domain-separation prefix of a leaf hash (RFC 6962 §2.1).
pub const LEAF_PREFIX: u8 = 0x00;

/// Domain-separation prefix of an interior node hash (RFC 6962 §2.1).
pub const NODE_PREFIX: u8 = 0x01;

/// The root of the empty tree: `SHA-256("")`.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Most hashes any proof can need: 64 levels for a tree of up to 2^64 leaves, plus the
/// old subtree's hash that starts a consistency proof.
pub const MAX_PROOF_HASHES: usize = 65;

/// Length of the fixed header of a proof's binary form: two `u64` and a one-byte count.
const PROOF_HEADER_LEN: usize = 8 + 8 + 1;

/// The leaf hash of one log entry: `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[LEAF_PREFIX]);
    ctx.update(leaf);
    finish(ctx)
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // One contiguous input: a single one-shot digest is measurably cheaper than three updates.
    let mut input = [0u8; 1 + 2 * HASH_LEN];
    let (prefix, children) = input.split_at_mut(1);
    let (l, r) = children.split_at_mut(HASH_LEN);
    prefix.copy_from_slice(&[NODE_PREFIX]);
    l.copy_from_slice(left);
    r.copy_from_slice(right);
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(digest::digest(&digest::SHA256, &input).as_ref());
    out
}

fn finish(ctx: digest::Context) -> Hash {
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The largest power of two strictly below `n`; `n` must be at least 2.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// A proof failed to verify, or a proof was asked for that the tree cannot give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange {
        /// The leaf index asked for or claimed.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A proof was asked for a tree size larger than the tree.
    #[error("tree size {size} is beyond the {len} leaves the tree holds")]
    SizeBeyondTree {
        /// The size asked for.
        size: u64,
        /// The number of leaves in the tree.
        len: u64,
    },
    /// The "old" tree of a consistency proof is larger than the "new" one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeLarger {
        /// The claimed old size.
        old_size: u64,
        /// The claimed new size.
        new_size: u64,
    },
    /// The proof has more hashes than its sizes call for.
    #[error("the proof has more hashes than its tree sizes call for")]
    ProofTooLong,
    /// The proof has fewer hashes than its sizes call for.
    #[error("the proof has fewer hashes than its tree sizes call for")]
    ProofTooShort,
    /// The inclusion proof leads to a different root.
    #[error("the inclusion proof leads to a different root")]
    RootMismatch,
    /// The consistency proof does not lead to the old tree's root.
    #[error("the consistency proof does not lead to the old root")]
    OldRootMismatch,
    /// The consistency proof does not lead to the new tree's root.
    #[error("the consistency proof does not lead to the new root")]
    NewRootMismatch,
    /// Two trees of the same size have different roots: one of them is not this log.
    #[error("two trees of {size} leaves have different roots")]
    SameSizeDifferentRoots {
        /// The size of both trees.
        size: u64,
    },
    /// The binary form of a proof does not decode.
    #[error("malformed proof encoding: {0}")]
    Malformed(&'static str),
}

impl ProofError {
    /// Stable reason code for this error (see `docs/REASONS.md`).
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::IndexOutOfRange { .. }
            | Self::SizeBeyondTree { .. }
            | Self::OldSizeLarger { .. }
            | Self::ProofTooLong
            | Self::ProofTooShort
            | Self::RootMismatch
            | Self::OldRootMismatch
            | Self::NewRootMismatch
            | Self::SameSizeDifferentRoots { .. }
            | Self::Malformed(_) => "bad-proof",
        }
    }
}

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // `fn_` is the node's index at the current level, `sn` the last node's index there.
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::ProofTooLong);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            // A right-edge node without a sibling is promoted unchanged: skip those levels.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::ProofTooShort);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the tree of
/// `new_size` leaves with root `new_root` (RFC 9162 §2.1.4.2).
///
/// As in RFC 9162 and Trillian, equal sizes need an empty proof and equal roots, and the
/// empty tree is a prefix of every tree; unlike Trillian, an `old_size` of 0 also requires
/// `old_root` to be [`EMPTY_ROOT`], because the empty tree has exactly one root.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeLarger { old_size, new_size });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::ProofTooLong);
        }
        if old_root != new_root {
            return Err(ProofError::SameSizeDifferentRoots { size: old_size });
        }
        return Ok(());
    }
    if old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::ProofTooLong);
        }
        if *old_root != EMPTY_ROOT {
            return Err(ProofError::OldRootMismatch);
        }
        return Ok(());
    }
    // Step 1: from here on 0 < old_size < new_size, and the proof cannot be empty.
    if proof.is_empty() {
        return Err(ProofError::ProofTooShort);
    }
    // Step 2: a complete old tree is a node of the new tree; its root starts the path.
    let mut rest = proof.iter();
    let seed = if old_size.is_power_of_two() {
        old_root
    } else {
        match rest.next() {
            Some(first) => first,
            None => return Err(ProofError::ProofTooShort),
        }
    };
    // Steps 3 and 4.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Steps 5 and 6.
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::ProofTooLong);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(ProofError::ProofTooShort);
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

/// A proof that one leaf is in the tree of a given size: RFC 9162 `PATH(index, D[size])`.
///
/// Binary form ([`to_bytes`](Self::to_bytes)): `index` (u64 big-endian), `size` (u64
/// big-endian), the number of hashes (one byte, at most [`MAX_PROOF_HASHES`]), then the
/// hashes, 32 bytes each, from the leaf's sibling up to the root's child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Index of the leaf, from 0.
    pub index: u64,
    /// Size of the tree the proof is for.
    pub size: u64,
    /// The audit path, leaf level first.
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// Checks that `leaf_hash` is leaf `self.index` of the tree of `self.size` leaves with root `root`.
    pub fn verify(&self, leaf_hash: &Hash, root: &Hash) -> Result<(), ProofError> {
        verify_inclusion(leaf_hash, self.index, self.size, &self.hashes, root)
    }

    /// The documented binary form (see the type's documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_proof(self.index, self.size, &self.hashes)
    }

    /// Decodes the binary form strictly: exact length, at most [`MAX_PROOF_HASHES`] hashes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        let (index, size, hashes) = decode_proof(bytes)?;
        Ok(Self {
            index,
            size,
            hashes,
        })
    }
}

/// A proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` leaves:
/// RFC 9162 `PROOF(old_size, D[new_size])`.
///
/// Binary form ([`to_bytes`](Self::to_bytes)): `old_size` (u64 big-endian), `new_size` (u64
/// big-endian), the number of hashes (one byte, at most [`MAX_PROOF_HASHES`]), then the
/// hashes, 32 bytes each, in RFC order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// The proof's hashes, in RFC 9162 order.
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks that `old_root` (at `self.old_size`) is a prefix of `new_root` (at `self.new_size`).
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofError> {
        verify_consistency(
            self.old_size,
            self.new_size,
            old_root,
            new_root,
            &self.hashes,
        )
    }

    /// The documented binary form (see the type's documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_proof(self.old_size, self.new_size, &self.hashes)
    }

    /// Decodes the binary form strictly: exact length, at most [`MAX_PROOF_HASHES`] hashes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        let (old_size, new_size, hashes) = decode_proof(bytes)?;
        Ok(Self {
            old_size,
            new_size,
            hashes,
        })
    }
}

fn encode_proof(a: u64, b: u64, hashes: &[Hash]) -> Vec<u8> {
    // Proofs this module builds never exceed the limit; a hand-built longer one is cut
    // short here and then fails verification instead of encoding a count that wrapped.
    let count = hashes.len().min(MAX_PROOF_HASHES);
    let mut out = Vec::with_capacity(PROOF_HEADER_LEN + count * HASH_LEN);
    out.extend_from_slice(&a.to_be_bytes());
    out.extend_from_slice(&b.to_be_bytes());
    out.push(count as u8);
    for h in &hashes[..count] {
        out.extend_from_slice(h);
    }
    out
}

fn decode_proof(bytes: &[u8]) -> Result<(u64, u64, Vec<Hash>), ProofError> {
    const SHORT: ProofError = ProofError::Malformed("shorter than the 17-byte header");
    let (a, rest) = bytes.split_first_chunk::<8>().ok_or(SHORT)?;
    let (b, rest) = rest.split_first_chunk::<8>().ok_or(SHORT)?;
    let (&count, body) = rest.split_first().ok_or(SHORT)?;
    let count = usize::from(count);
    if count > MAX_PROOF_HASHES {
        return Err(ProofError::Malformed("more hashes than any tree needs"));
    }
    if body.len() != count * HASH_LEN {
        return Err(ProofError::Malformed(
            "length does not match the number of hashes",
        ));
    }
    let hashes = body
        .chunks_exact(HASH_LEN)
        .map(|c| {
            let mut h = [0u8; HASH_LEN];
            h.copy_from_slice(c);
            h
        })
        .collect();
    Ok((u64::from_be_bytes(*a), u64::from_be_bytes(*b), hashes))
}

/// The consistency proof from `old_size` to `new_size` (RFC 9162 SUBPROOF(m, D[0:n], true),
/// unrolled), taking subtree hashes `MTH(D[start:end])` from `range`. Empty when `old_size` is
/// 0 or equals `new_size`; the caller has checked the sizes.
fn consistency_path(
    old_size: u64,
    new_size: u64,
    mut range: impl FnMut(u64, u64) -> Result<Hash, ProofError>,
) -> Result<ConsistencyProof, ProofError> {
    let mut hashes = Vec::new();
    if old_size != 0 && old_size != new_size {
        // `complete` is SUBPROOF's `b`.
        let (mut start, mut end, mut complete) = (0, new_size, true);
        while old_size != end {
            let mid = start + split_point(end - start);
            if old_size <= mid {
                hashes.push(range(mid, end)?);
                end = mid;
            } else {
                hashes.push(range(start, mid)?);
                start = mid;
                complete = false;
            }
        }
        if !complete {
            hashes.push(range(start, end)?);
        }
        hashes.reverse();
    }
    Ok(ConsistencyProof {
        old_size,
        new_size,
        hashes,
    })
}

/// An append-only Merkle tree held in memory: the leaf hashes plus every complete subtree's hash.
///
/// Memory is about 64 bytes per leaf (64 MB for a million leaves). Appends are amortised
/// O(1); roots and proofs for any size up to [`len`](Self::len) cost O(log n).
#[derive(Clone, Default)]
pub struct MerkleTree {
    /// `levels[k][i]` is the hash of the complete subtree of the `2^k` leaves from `i * 2^k`.
    /// `levels[0]` holds the leaf hashes.
    levels: Vec<Vec<Hash>>,
}

impl fmt::Debug for MerkleTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerkleTree")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl MerkleTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree of the given leaf hashes, in order.
    pub fn from_leaf_hashes(hashes: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        for h in hashes {
            tree.push_leaf_hash(h);
        }
        tree
    }

    /// Appends a leaf by its hash and returns its index.
    pub fn push_leaf_hash(&mut self, hash: Hash) -> u64 {
        let index = self.len();
        let mut carry = Some(hash);
        let mut level = 0;
        while let Some(h) = carry.take() {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                break;
            };
            row.push(h);
            // An even row length means a pair just completed: its parent goes one level up.
            if row.len() % 2 == 0 {
                if let [.., left, right] = row.as_slice() {
                    carry = Some(node_hash(left, right));
                }
            }
            level += 1;
        }
        index
    }

    /// Appends a leaf (hashing it as `SHA-256(0x00 || leaf)`) and returns its index.
    pub fn push(&mut self, leaf: &[u8]) -> u64 {
        self.push_leaf_hash(leaf_hash(leaf))
    }

    /// The number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hash of leaf `index`, if the tree has it.
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        self.complete(0, index)
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.range_hash(0, self.len()).unwrap_or(EMPTY_ROOT)
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_size(size)?;
        if size == 0 {
            return Ok(EMPTY_ROOT);
        }
        self.range(0, size)
    }

    /// The proof that leaf `index` is in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof, ProofError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        // Walk down from the root of D[0:size] to the leaf, taking the sibling at each
        // split; RFC order is the reverse (leaf level first).
        let mut hashes = Vec::new();
        let (mut start, mut end) = (0, size);
        while end - start > 1 {
            let mid = start + split_point(end - start);
            if index < mid {
                hashes.push(self.range(mid, end)?);
                end = mid;
            } else {
                hashes.push(self.range(start, mid)?);
                start = mid;
            }
        }
        hashes.reverse();
        Ok(InclusionProof {
            index,
            size,
            hashes,
        })
    }

    /// The proof that the tree of the first `old_size` leaves is a prefix of the tree of the
    /// first `new_size` leaves. Empty when `old_size` is 0 or equals `new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, ProofError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(ProofError::OldSizeLarger { old_size, new_size });
        }
        consistency_path(old_size, new_size, |start, end| self.range(start, end))
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        let len = self.len();
        if size > len {
            return Err(ProofError::SizeBeyondTree { size, len });
        }
        Ok(())
    }

    /// The stored hash of the complete subtree at `level` and position `index`.
    fn complete(&self, level: u32, index: u64) -> Option<Hash> {
        let row = self.levels.get(usize::try_from(level).ok()?)?;
        row.get(usize::try_from(index).ok()?).copied()
    }

    /// `MTH(D[start:end])`, or an error if the range is empty or not in the tree (a bug here).
    fn range(&self, start: u64, end: u64) -> Result<Hash, ProofError> {
        self.range_hash(start, end)
            .ok_or(ProofError::SizeBeyondTree {
                size: end,
                len: self.len(),
            })
    }

    /// `MTH(D[start:end])` for a non-empty range inside the tree.
    ///
    /// Ranges that occur in RFC 9162's recursion are either complete aligned subtrees (one
    /// lookup) or end at the tree's right edge with an aligned start, so each step's left
    /// half is a lookup and the recursion is at most 64 deep.
    fn range_hash(&self, start: u64, end: u64) -> Option<Hash> {
        let n = end.checked_sub(start)?;
        if n == 0 {
            return None;
        }
        if n.is_power_of_two() && start.is_multiple_of(n) {
            return self.complete(n.trailing_zeros(), start / n);
        }
        let mid = start + split_point(n);
        Some(node_hash(
            &self.range_hash(start, mid)?,
            &self.range_hash(mid, end)?,
        ))
    }
}

/// Computes the root of a stream of leaf hashes while holding only O(log n) hashes.
///
/// It keeps the roots of the complete subtrees the leaves so far form (one per set bit of
/// the leaf count, largest first), the "compact range" `[0, n)` of the log.
#[derive(Debug, Clone, Default)]
pub struct RootBuilder {
    size: u64,
    /// Roots of the complete subtrees covering `[0, size)`, largest (leftmost) first.
    stack: Vec<Hash>,
}

impl RootBuilder {
    /// A builder for the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf by its hash.
    pub fn push_leaf_hash(&mut self, hash: Hash) {
        let mut h = hash;
        let mut size = self.size;
        // Each trailing one bit of the count is a complete subtree of the new leaf's size.
        while size & 1 == 1 {
            let Some(left) = self.stack.pop() else {
                break;
            };
            h = node_hash(&left, &h);
            size >>= 1;
        }
        self.stack.push(h);
        self.size = self.size.saturating_add(1);
    }

    /// Appends a leaf (hashing it as `SHA-256(0x00 || leaf)`).
    pub fn push(&mut self, leaf: &[u8]) {
        self.push_leaf_hash(leaf_hash(leaf));
    }

    /// The number of leaves so far.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether no leaf was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The root of the tree of the leaves so far.
    pub fn root(&self) -> Hash {
        let mut nodes = self.stack.iter().rev();
        let Some(last) = nodes.next() else {
            return EMPTY_ROOT;
        };
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }
}

impl RootBuilder {
    /// The compact range `[0, len)`: `(level, index, hash)` of each complete subtree, largest
    /// first (the subtree at `level` and `index` covers leaves `index·2^level ..`).
    pub fn frontier(&self) -> Vec<(u32, u64, Hash)> {
        let mut out = Vec::with_capacity(self.stack.len());
        let mut start = 0u64;
        let mut hashes = self.stack.iter();
        for level in (0..64u32).rev() {
            if self.size & (1u64 << level) != 0 {
                if let Some(h) = hashes.next() {
                    out.push((level, start >> level, *h));
                }
                start += 1u64 << level;
            }
        }
        out
    }
}

/// The part of a tree a log needs to prove that a checkpoint of `base` leaves is a prefix of
/// later ones: the compact range at `base` plus the leaves after it, O(log base + new leaves)
/// hashes instead of the whole tree. Proofs match [`MerkleTree::consistency_proof`].
#[derive(Clone, Debug, Default)]
pub struct TreeTail {
    base: u64,
    len: u64,
    /// Complete subtrees known: `(level, index)` → hash.
    nodes: std::collections::HashMap<(u32, u64), Hash>,
}

impl TreeTail {
    /// A tail starting at the size of `frontier` (which holds the tree's first leaves).
    pub fn new(frontier: &RootBuilder) -> Self {
        let nodes = frontier
            .frontier()
            .into_iter()
            .map(|(l, i, h)| ((l, i), h))
            .collect();
        Self {
            base: frontier.len(),
            len: frontier.len(),
            nodes,
        }
    }

    /// The size the tail starts at.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The number of leaves of the whole tree so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends the next leaf by its hash.
    pub fn push_leaf_hash(&mut self, hash: Hash) {
        let mut index = self.len;
        let mut h = hash;
        let mut level = 0u32;
        self.nodes.insert((0, index), h);
        // Each completed pair makes its parent, as long as the left sibling is known.
        while index & 1 == 1 {
            let Some(left) = self.nodes.get(&(level, index - 1)) else {
                break;
            };
            h = node_hash(left, &h);
            level += 1;
            index >>= 1;
            self.nodes.insert((level, index), h);
        }
        self.len += 1;
    }

    /// The root of the first `size` leaves, for `base <= size <= len`.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.len {
            return Err(ProofError::SizeBeyondTree {
                size,
                len: self.len,
            });
        }
        if size == 0 {
            return Ok(EMPTY_ROOT);
        }
        self.range(0, size)
    }

    /// The proof that the tree of `old_size` leaves is a prefix of that of `new_size`, for
    /// `old_size == base` (or 0) and `new_size <= len`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, ProofError> {
        if new_size > self.len {
            return Err(ProofError::SizeBeyondTree {
                size: new_size,
                len: self.len,
            });
        }
        if old_size > new_size {
            return Err(ProofError::OldSizeLarger { old_size, new_size });
        }
        consistency_path(old_size, new_size, |start, end| self.range(start, end))
    }

    /// `MTH(D[start:end])` from known complete subtrees (an error if one is missing: the
    /// range reaches into the part before `base` that the frontier does not cover).
    fn range(&self, start: u64, end: u64) -> Result<Hash, ProofError> {
        let missing = ProofError::SizeBeyondTree {
            size: end,
            len: self.len,
        };
        let n = end
            .checked_sub(start)
            .filter(|n| *n > 0)
            .ok_or(missing.clone())?;
        if n.is_power_of_two() && start.is_multiple_of(n) {
            return self
                .nodes
                .get(&(n.trailing_zeros(), start / n))
                .copied()
                .ok_or(missing);
        }
        let mid = start + split_point(n);
        Ok(node_hash(&self.range(start, mid)?, &self.range(mid, end)?))
    }
}

impl Extend<Hash> for RootBuilder {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, iter: I) {
        for h in iter {
            self.push_leaf_hash(h);
        }
    }
}

impl Extend<Hash> for MerkleTree {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, iter: I) {
        for h in iter {
            self.push_leaf_hash(h);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::LazyLock;

    use ct_merkle::mem_backed_tree::MemoryBackedTree;
    use proptest::prelude::*;

    use super::*;

    fn h(hex: &str) -> Hash {
        let mut out = [0u8; 32];
        assert_eq!(hex.len(), 64);
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The RFC 6962 test leaves used by certificate-transparency-go and Trillian.
    const CT_LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];

    /// Their tree heads for sizes 0..=8.
    const CT_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn ct_tree() -> MerkleTree {
        let mut tree = MerkleTree::new();
        for leaf in CT_LEAVES {
            tree.push(&unhex(leaf));
        }
        tree
    }

    /// Leaf `i` of the generated test logs.
    fn leaf(i: u64) -> Vec<u8> {
        format!("liaison test leaf {i}").into_bytes()
    }

    const BIG: u64 = 2000;

    static BIG_TREE: LazyLock<(MerkleTree, Vec<Hash>)> = LazyLock::new(|| {
        let tree = MerkleTree::from_leaf_hashes((0..BIG).map(|i| leaf_hash(&leaf(i))));
        let roots = (0..=BIG).map(|n| tree.root_at(n).unwrap()).collect();
        (tree, roots)
    });

    fn flip(mut hash: Hash, bit: usize) -> Hash {
        hash[bit / 8 % HASH_LEN] ^= 1 << (bit % 8);
        hash
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let digest = digest::digest(&digest::SHA256, b"");
        assert_eq!(&EMPTY_ROOT[..], digest.as_ref());
        assert_eq!(MerkleTree::new().root(), EMPTY_ROOT);
        assert_eq!(RootBuilder::new().root(), EMPTY_ROOT);
    }

    #[test]
    fn roots_match_rfc6962_reference_vectors() {
        let tree = ct_tree();
        let mut builder = RootBuilder::new();
        assert_eq!(tree.root_at(0).unwrap(), h(CT_ROOTS[0]));
        for (n, leaf) in CT_LEAVES.iter().enumerate() {
            builder.push(&unhex(leaf));
            let size = n as u64 + 1;
            assert_eq!(
                tree.root_at(size).unwrap(),
                h(CT_ROOTS[n + 1]),
                "size {size}"
            );
            assert_eq!(builder.root(), h(CT_ROOTS[n + 1]), "size {size}");
        }
        assert_eq!(tree.root(), h(CT_ROOTS[8]));
        // A one-leaf tree's root is its leaf hash.
        assert_eq!(leaf_hash(b""), h(CT_ROOTS[1]));
    }

    #[test]
    fn inclusion_proofs_match_reference_vectors() {
        // (index, size, proof) from certificate-transparency-go / Trillian.
        let vectors: [(u64, u64, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let tree = ct_tree();
        for (index, size, want) in vectors {
            let want: Vec<Hash> = want.iter().map(|x| h(x)).collect();
            let proof = tree.inclusion_proof(index, size).unwrap();
            assert_eq!(proof.hashes, want, "PATH({index}, D[{size}])");
            let leaf = leaf_hash(&unhex(CT_LEAVES[index as usize]));
            let root = h(CT_ROOTS[size as usize]);
            verify_inclusion(&leaf, index, size, &want, &root).unwrap();
        }
        // A one-leaf tree: empty proof.
        assert!(tree.inclusion_proof(0, 1).unwrap().hashes.is_empty());
        verify_inclusion(&h(CT_ROOTS[1]), 0, 1, &[], &h(CT_ROOTS[1])).unwrap();
    }

    #[test]
    fn consistency_proofs_match_reference_vectors() {
        let vectors: [(u64, u64, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let tree = ct_tree();
        for (old, new, want) in vectors {
            let want: Vec<Hash> = want.iter().map(|x| h(x)).collect();
            let proof = tree.consistency_proof(old, new).unwrap();
            assert_eq!(proof.hashes, want, "PROOF({old}, D[{new}])");
            let (r1, r2) = (h(CT_ROOTS[old as usize]), h(CT_ROOTS[new as usize]));
            verify_consistency(old, new, &r1, &r2, &want).unwrap();
        }
    }

    #[test]
    fn trivial_consistency_cases_follow_rfc9162_and_trillian() {
        let some = flip(EMPTY_ROOT, 3);
        let other = flip(EMPTY_ROOT, 9);
        // Equal sizes: empty proof, equal roots.
        verify_consistency(5, 5, &some, &some, &[]).unwrap();
        assert_eq!(
            verify_consistency(5, 5, &some, &other, &[]),
            Err(ProofError::SameSizeDifferentRoots { size: 5 })
        );
        assert_eq!(
            verify_consistency(5, 5, &some, &some, &[EMPTY_ROOT]),
            Err(ProofError::ProofTooLong)
        );
        // The empty tree is a prefix of everything, with its one root and an empty proof.
        verify_consistency(0, 7, &EMPTY_ROOT, &other, &[]).unwrap();
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]).unwrap();
        assert!(verify_consistency(0, 7, &some, &other, &[]).is_err());
        assert!(verify_consistency(0, 7, &EMPTY_ROOT, &other, &[EMPTY_ROOT]).is_err());
        // Time does not run backwards; a non-trivial proof is never empty.
        assert_eq!(
            verify_consistency(2, 1, &some, &other, &[]),
            Err(ProofError::OldSizeLarger {
                old_size: 2,
                new_size: 1
            })
        );
        assert_eq!(
            verify_consistency(1, 2, &some, &other, &[]),
            Err(ProofError::ProofTooShort)
        );
    }

    #[test]
    fn impossible_requests_are_errors_not_panics() {
        let tree = ct_tree();
        assert_eq!(
            tree.root_at(9),
            Err(ProofError::SizeBeyondTree { size: 9, len: 8 })
        );
        assert_eq!(
            tree.inclusion_proof(8, 8),
            Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
        );
        assert!(tree.inclusion_proof(0, 9).is_err());
        assert!(tree.inclusion_proof(0, 0).is_err());
        assert!(tree.inclusion_proof(u64::MAX, u64::MAX).is_err());
        assert!(tree.consistency_proof(5, 4).is_err());
        assert!(tree.consistency_proof(1, 9).is_err());
        assert!(tree.consistency_proof(u64::MAX, u64::MAX).is_err());
        assert!(MerkleTree::new().inclusion_proof(0, 0).is_err());
        assert!(verify_inclusion(&EMPTY_ROOT, 0, 0, &[], &EMPTY_ROOT).is_err());
        assert!(verify_inclusion(&EMPTY_ROOT, u64::MAX, u64::MAX, &[], &EMPTY_ROOT).is_err());
        for e in [
            ProofError::ProofTooLong,
            ProofError::RootMismatch,
            ProofError::Malformed("x"),
        ] {
            assert_eq!(e.reason_code(), "bad-proof");
        }
    }

    /// Every way of getting an inclusion claim wrong is refused.
    fn assert_inclusion_tampering_fails(proof: &InclusionProof, leaf: &Hash, root: &Hash) {
        let (index, size, hashes) = (proof.index, proof.size, &proof.hashes[..]);
        let refused = |leaf: &Hash, index: u64, size: u64, hashes: &[Hash], root: &Hash| {
            verify_inclusion(leaf, index, size, hashes, root).is_err()
        };
        assert!(
            refused(&flip(*leaf, 0), index, size, hashes, root),
            "altered leaf"
        );
        assert!(
            refused(leaf, index, size, hashes, &flip(*root, 255)),
            "altered root"
        );
        assert!(refused(leaf, index + 1, size, hashes, root), "index + 1");
        if index > 0 {
            assert!(refused(leaf, index - 1, size, hashes, root), "index - 1");
        }
        assert!(refused(leaf, index ^ 2, size, hashes, root), "index ^ 2");
        assert!(refused(leaf, index, size * 2, hashes, root), "size * 2");
        assert!(refused(leaf, index, size / 2, hashes, root), "size / 2");
        let mut longer = hashes.to_vec();
        longer.push(*root);
        assert!(refused(leaf, index, size, &longer, root), "trailing hash");
        longer.rotate_right(1);
        assert!(refused(leaf, index, size, &longer, root), "leading hash");
        if let Some((_, shorter)) = hashes.split_last() {
            assert!(refused(leaf, index, size, shorter, root), "dropped hash");
        }
        for i in 0..hashes.len() {
            let mut bad = hashes.to_vec();
            bad[i] = flip(bad[i], 3 + 8 * i);
            assert!(refused(leaf, index, size, &bad, root), "altered hash {i}");
        }
    }

    fn assert_consistency_tampering_fails(proof: &ConsistencyProof, r1: &Hash, r2: &Hash) {
        let (old, new, hashes) = (proof.old_size, proof.new_size, &proof.hashes[..]);
        let refused = |old: u64, new: u64, r1: &Hash, r2: &Hash, hashes: &[Hash]| {
            verify_consistency(old, new, r1, r2, hashes).is_err()
        };
        assert!(
            refused(old, new, &flip(*r1, 7), r2, hashes),
            "altered old root"
        );
        // Every tree extends the empty one: with old size 0 there is no new root to check.
        if old > 0 {
            assert!(
                refused(old, new, r1, &flip(*r2, 100), hashes),
                "altered new root"
            );
        }
        if hashes.is_empty() {
            return;
        }
        assert!(refused(old, new, r2, r1, hashes), "swapped roots");
        assert!(refused(old - 1, new, r1, r2, hashes), "old - 1");
        assert!(refused(old + 1, new, r1, r2, hashes), "old + 1");
        assert!(refused(old, new * 2, r1, r2, hashes), "new * 2");
        assert!(refused(old, new / 2, r1, r2, hashes), "new / 2");
        assert!(refused(old, new, r1, r2, &[]), "empty proof");
        let mut longer = hashes.to_vec();
        longer.push(*r2);
        assert!(refused(old, new, r1, r2, &longer), "trailing hash");
        longer.rotate_right(1);
        assert!(refused(old, new, r1, r2, &longer), "leading hash");
        assert!(
            refused(old, new, r1, r2, &hashes[..hashes.len() - 1]),
            "dropped hash"
        );
        for i in 0..hashes.len() {
            let mut bad = hashes.to_vec();
            bad[i] = flip(bad[i], 4 + 8 * i);
            assert!(refused(old, new, r1, r2, &bad), "altered hash {i}");
        }
    }

    #[test]
    fn every_inclusion_proof_of_small_trees_verifies_and_tampering_fails() {
        let (tree, roots) = &*BIG_TREE;
        for size in 1..=70 {
            let root = roots[size as usize];
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).unwrap();
                let leaf = tree.leaf_hash(index).unwrap();
                proof.verify(&leaf, &root).unwrap();
                assert_inclusion_tampering_fails(&proof, &leaf, &root);
            }
        }
    }

    #[test]
    fn every_consistency_proof_of_small_trees_verifies_and_tampering_fails() {
        let (tree, roots) = &*BIG_TREE;
        for new in 0..=70u64 {
            for old in 0..=new {
                let proof = tree.consistency_proof(old, new).unwrap();
                let (r1, r2) = (roots[old as usize], roots[new as usize]);
                proof.verify(&r1, &r2).unwrap();
                assert_consistency_tampering_fails(&proof, &r1, &r2);
            }
        }
    }

    #[test]
    fn root_builder_and_incremental_roots_agree_with_root_at() {
        let (tree, roots) = &*BIG_TREE;
        let mut builder = RootBuilder::new();
        let mut growing = MerkleTree::new();
        assert_eq!(builder.root(), roots[0]);
        for i in 0..BIG {
            let h = tree.leaf_hash(i).unwrap();
            builder.push_leaf_hash(h);
            assert_eq!(growing.push_leaf_hash(h), i);
            assert_eq!(builder.root(), roots[i as usize + 1], "size {}", i + 1);
            assert_eq!(growing.root(), roots[i as usize + 1], "size {}", i + 1);
        }
        assert_eq!(builder.len(), BIG);
        assert_eq!(tree.root(), roots[BIG as usize]);
        // Every root also equals the plain RFC 9162 recursion over the leaf hashes.
        fn mth(leaves: &[Hash]) -> Hash {
            match leaves.len() {
                0 => EMPTY_ROOT,
                1 => leaves[0],
                n => {
                    let k = split_point(n as u64) as usize;
                    node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
                }
            }
        }
        let leaves: Vec<Hash> = (0..300).map(|i| tree.leaf_hash(i).unwrap()).collect();
        for n in 0..=300 {
            assert_eq!(mth(&leaves[..n]), roots[n], "size {n}");
        }
    }

    /// A million leaves: the auditor's streaming root and the tree agree, and a proof of one
    /// entry is 20 hashes, 657 bytes.
    #[test]
    fn million_leaf_log_is_comfortable() {
        const N: u64 = 1 << 20;
        let mut tree = MerkleTree::new();
        let mut builder = RootBuilder::new();
        for i in 0..N {
            let h = leaf_hash(&i.to_be_bytes());
            tree.push_leaf_hash(h);
            builder.push_leaf_hash(h);
        }
        let root = tree.root();
        assert_eq!(builder.root(), root);
        let proof = tree.inclusion_proof(123_456, N).unwrap();
        assert_eq!(proof.hashes.len(), 20);
        assert_eq!(proof.to_bytes().len(), 657);
        proof
            .verify(&leaf_hash(&123_456u64.to_be_bytes()), &root)
            .unwrap();
        let old = tree.root_at(1_000_000 - 1).unwrap();
        let cons = tree.consistency_proof(999_999, N).unwrap();
        cons.verify(&old, &root).unwrap();
    }

    #[test]
    fn binary_form_is_pinned_and_round_trips() {
        let tree = ct_tree();
        let proof = tree.inclusion_proof(2, 3).unwrap();
        let bytes = proof.to_bytes();
        let mut want = unhex("0000000000000002000000000000000301");
        want.extend_from_slice(&h(
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        ));
        assert_eq!(bytes, want);
        assert_eq!(InclusionProof::from_bytes(&bytes).unwrap(), proof);

        let cons = tree.consistency_proof(6, 8).unwrap();
        let bytes = cons.to_bytes();
        assert_eq!(bytes.len(), 17 + 3 * 32);
        assert_eq!(
            &bytes[..17],
            &unhex("0000000000000006000000000000000803")[..]
        );
        assert_eq!(ConsistencyProof::from_bytes(&bytes).unwrap(), cons);

        // Wrong lengths and absurd counts are refused.
        assert!(InclusionProof::from_bytes(&bytes[..16]).is_err());
        assert!(InclusionProof::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(ConsistencyProof::from_bytes(&extra).is_err());
        let mut absurd = unhex("0000000000000000000000000000000042");
        absurd.extend(std::iter::repeat_n(0u8, 0x42 * 32));
        assert!(ConsistencyProof::from_bytes(&absurd).is_err());

        // The serde form round-trips through postcard too.
        let encoded = postcard::to_allocvec(&proof).unwrap();
        assert_eq!(
            postcard::from_bytes::<InclusionProof>(&encoded).unwrap(),
            proof
        );
    }

    /// `cases` cases, and no regression files written outside this module.
    fn config(cases: u32) -> ProptestConfig {
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    // ---- Cross-checks against the independent ct-merkle implementation. ----

    fn ct_merkle_tree(n: u64) -> MemoryBackedTree<sha2::Sha256, Vec<u8>> {
        let mut t = MemoryBackedTree::new();
        for i in 0..n {
            t.push(leaf(i));
        }
        t
    }

    /// Checks root, every inclusion proof and every consistency proof into `size` against
    /// ct-merkle's tree of that size, byte for byte.
    fn cross_check_size(ours: &MerkleTree, theirs: &MemoryBackedTree<sha2::Sha256, Vec<u8>>) {
        let size = theirs.len();
        let root = ours.root_at(size).unwrap();
        assert_eq!(
            &root[..],
            theirs.root().as_bytes().as_slice(),
            "root {size}"
        );
        for index in 0..size {
            let mine = ours.inclusion_proof(index, size).unwrap();
            let other = theirs.prove_inclusion(index as usize);
            assert_eq!(
                mine.hashes.concat(),
                other.as_bytes(),
                "PATH({index}, D[{size}])"
            );
        }
        for old in 1..size {
            let mine = ours.consistency_proof(old, size).unwrap();
            let other = theirs.prove_consistency((size - old) as usize);
            assert_eq!(
                mine.hashes.concat(),
                other.as_bytes(),
                "PROOF({old}, D[{size}])"
            );
            // And ct-merkle accepts our proof against our roots.
            let old_root = ours.root_at(old).unwrap();
            let old_root = ct_merkle::RootHash::<sha2::Sha256>::new(old_root.into(), old);
            let proof = ct_merkle::ConsistencyProof::<sha2::Sha256>::from_digests(
                mine.hashes.iter().map(|h| h.into()),
            );
            theirs.root().verify_consistency(&old_root, &proof).unwrap();
        }
    }

    #[test]
    fn matches_ct_merkle_for_every_size_up_to_130() {
        let (tree, _) = &*BIG_TREE;
        let mut theirs = MemoryBackedTree::<sha2::Sha256, Vec<u8>>::new();
        for i in 0..130 {
            theirs.push(leaf(i));
            cross_check_size(tree, &theirs);
        }
    }

    proptest! {
        #![proptest_config(config(24))]

        #[test]
        fn matches_ct_merkle_at_random_sizes(size in 1..=BIG) {
            let (tree, _) = &*BIG_TREE;
            let theirs = ct_merkle_tree(size);
            let root = tree.root_at(size).unwrap();
            let their_root = theirs.root();
            prop_assert_eq!(&root[..], their_root.as_bytes().as_slice());
            // A sample of indices and old sizes, including both ends.
            let step = (size / 16).max(1);
            for index in (0..size).step_by(step as usize).chain([size - 1]) {
                let mine = tree.inclusion_proof(index, size).unwrap();
                let other = theirs.prove_inclusion(index as usize);
                prop_assert_eq!(mine.hashes.concat(), other.as_bytes().to_vec());
            }
            for old in (1..size).step_by(step as usize).chain([size - 1]).filter(|&o| o > 0) {
                let mine = tree.consistency_proof(old, size).unwrap();
                let other = theirs.prove_consistency((size - old) as usize);
                prop_assert_eq!(mine.hashes.concat(), other.as_bytes().to_vec());
            }
        }
    }

    proptest! {
        #![proptest_config(config(512))]

        #[test]
        fn inclusion_proofs_verify_and_tampering_fails(
            (size, index) in (1..=BIG).prop_flat_map(|s| (Just(s), 0..s)),
        ) {
            let (tree, roots) = &*BIG_TREE;
            let root = roots[size as usize];
            let leaf = tree.leaf_hash(index).unwrap();
            let proof = tree.inclusion_proof(index, size).unwrap();
            prop_assert!(proof.hashes.len() <= 11);
            proof.verify(&leaf, &root).unwrap();
            assert_inclusion_tampering_fails(&proof, &leaf, &root);
            // A leaf is not included at any other index.
            let other = (index + 1) % size;
            if other != index {
                let wrong = tree.inclusion_proof(other, size).unwrap();
                prop_assert!(wrong.verify(&leaf, &root).is_err());
            }
        }

        #[test]
        fn consistency_proofs_verify_and_tampering_fails(
            (new, old) in (0..=BIG).prop_flat_map(|n| (Just(n), 0..=n)),
        ) {
            let (tree, roots) = &*BIG_TREE;
            let (r1, r2) = (roots[old as usize], roots[new as usize]);
            let proof = tree.consistency_proof(old, new).unwrap();
            proof.verify(&r1, &r2).unwrap();
            assert_consistency_tampering_fails(&proof, &r1, &r2);
        }

        #[test]
        fn verifiers_never_panic(
            index in any::<u64>(),
            size in prop_oneof![any::<u64>(), 0..64u64, Just(u64::MAX)],
            hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
            a in any::<[u8; 32]>(),
            b in any::<[u8; 32]>(),
        ) {
            let _ = verify_inclusion(&a, index, size, &hashes, &b);
            let _ = verify_consistency(index, size, &a, &b, &hashes);
            let _ = verify_consistency(index.min(size), size, &a, &b, &hashes);
        }

        #[test]
        fn proof_decoding_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(p) = InclusionProof::from_bytes(&bytes) {
                prop_assert_eq!(p.to_bytes(), bytes.clone());
            }
            if let Ok(p) = ConsistencyProof::from_bytes(&bytes) {
                prop_assert_eq!(p.to_bytes(), bytes);
            }
        }
    }

    #[test]
    fn tree_tail_proves_what_the_whole_tree_proves() {
        let leaves: Vec<Hash> = (0u32..40).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let full = MerkleTree::from_leaf_hashes(leaves.iter().copied());
        for base in 0..=leaves.len() {
            let mut frontier = RootBuilder::new();
            frontier.extend(leaves[..base].iter().copied());
            let mut tail = TreeTail::new(&frontier);
            tail.extend_from(&leaves[base..]);
            assert_eq!(tail.base(), base as u64);
            for old in base as u64..=leaves.len() as u64 {
                for new in old..=leaves.len() as u64 {
                    assert_eq!(
                        tail.consistency_proof(old, new).unwrap(),
                        full.consistency_proof(old, new).unwrap(),
                        "base {base}, {old} → {new}"
                    );
                    assert_eq!(tail.root_at(new).unwrap(), full.root_at(new).unwrap());
                }
            }
        }
    }

    #[test]
    fn tree_tail_refuses_what_it_cannot_know() {
        let leaves: Vec<Hash> = (0u32..10).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut frontier = RootBuilder::new();
        frontier.extend(leaves[..6].iter().copied());
        let tail = TreeTail::new(&frontier);
        // Before the base, only the compact range is known: size 5 is not in it.
        assert!(tail.consistency_proof(5, 6).is_err());
        assert!(tail.root_at(7).is_err());
    }

    impl TreeTail {
        fn extend_from(&mut self, hashes: &[Hash]) {
            for h in hashes {
                self.push_leaf_hash(*h);
            }
        }
    }
}
