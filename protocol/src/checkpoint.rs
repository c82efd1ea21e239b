//! Checkpoints: the log's signed tree heads, as C2SP `tlog-checkpoint` signed notes.
//!
//! A checkpoint commits a node to the first `size` entries of its log by naming the
//! [Merkle](crate::merkle) root of those entries. Peers cosign each other's checkpoints and
//! auditors check inclusion and consistency proofs against them, offline. The format is the
//! one Go's checksum database, Sigsum and the transparency-dev witnesses use
//! (<https://c2sp.org/tlog-checkpoint>, <https://c2sp.org/signed-note>), so tools nobody here
//! wrote can check and cosign our checkpoints.
//!
//! # Format
//!
//! ```text
//! liaison/caricc.central-asia                    ← origin
//! 8                                              ← tree size: decimal, no leading zeros
//! XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=   ← root hash: standard base64, padded
//!                                                ← (extension lines, if any), then a blank line
//! — liaison/caricc.central-asia AHmR3Uk6U1rgu+pf1wzo5qzLMlTJQvDW6K5mzqfiQVdij844gyU/5gcrFz8ZRx8wUgiSuTisiz82HsLjtJK5/jHp6gQ=
//! — liaison/gcc-cic.gulf <base64(key id ‖ Ed25519 signature)>   ← a peer's cosignature
//! ```
//!
//! * The **body** (note text) is the lines up to and including the newline that ends the
//!   last body line. Each line is non-empty; the body holds no control character other
//!   than newline. Every signature covers exactly the body's bytes.
//! * A **signature line** is U+2014 (em dash), a space, the key name, a space, and the
//!   standard base64 of the 4-byte big-endian key id followed by the 64-byte Ed25519
//!   signature, then a newline. The body and the signature lines are separated by the last
//!   blank line of the note.
//! * The Ed25519 **key id** is the first 4 bytes of
//!   `SHA-256(key name || 0x0A || 0x01 || 32-byte public key)`. A verifier's text form
//!   (`vkey`) is `<name>+<8 hex digits of key id>+<base64(0x01 || public key)>`.
//!
//! Liaison's **origin** for a node's log is `liaison/<node id>` (see [`log_origin`]), and the
//! node signs with the **key name** equal to its origin, as tlog-checkpoint recommends. A
//! peer that cosigns uses its own log's origin as its key name. Cosignatures are plain
//! Ed25519 note signatures (type 0x01) over the same body, not the timestamped
//! `c2sp.org/tlog-cosignature` format (type 0x04).
//!
//! # Verification rules
//!
//! [`open_checkpoint`] follows the signed-note rules: signatures from unknown keys (a
//! different name *or* key id) are ignored but kept, so the note can be re-emitted with
//! them; a signature from a known key that fails to verify rejects the whole note; and a
//! note with no valid signature from a known key is rejected. Parsing is strict: one
//! canonical text per checkpoint, so a one-byte change to a note never still opens.
//!
//! # Signing
//!
//! Notes are signed with the node's key over the text itself, as the spec requires, not
//! under a Liaison `*_CONTEXT` prefix. They still cannot be confused with other Liaison
//! signatures: note text never contains a NUL (control characters are refused), while
//! every other signed input starts with a context string that ends in one (such as
//! [`MESSAGE_CONTEXT`](crate::signing::MESSAGE_CONTEXT)). A node must only sign a checkpoint whose entries
//! are durably stored (see the design's storage rules); that is the caller's job.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ring::digest;
use ring::signature::{UnparsedPublicKey, ED25519};

use crate::ids::NodeId;
use crate::merkle::{Hash, HASH_LEN};
use crate::signing::SigningKey;

/// Prefix of a Liaison log origin: the origin of node `n`'s log is `liaison/<n>`.
pub const ORIGIN_PREFIX: &str = "liaison/";

/// The signed-note signature type byte of Ed25519 signatures.
pub const ED25519_SIGNATURE_TYPE: u8 = 0x01;

/// Largest note (body and signatures) this node parses or writes, in bytes.
pub const MAX_NOTE_LEN: usize = 64 * 1024;

/// Most signature lines a note may carry (Go's `note.Open` limit; the spec requires ≥ 16).
pub const MAX_SIGNATURES: usize = 100;

/// What starts every signature line: U+2014 (em dash) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Length of an Ed25519 signature.
const ED25519_SIGNATURE_LEN: usize = 64;

/// The origin (and key name) of a node's log: `liaison/<node id>`.
pub fn log_origin(node: &NodeId) -> String {
    format!("{ORIGIN_PREFIX}{node}")
}

/// The signed-note key id of an Ed25519 key: `SHA-256(name || "\n" || 0x01 || key)[..4]`, big-endian.
pub fn ed25519_key_id(key_name: &str, public_key: &[u8; 32]) -> u32 {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(key_name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[ED25519_SIGNATURE_TYPE]);
    ctx.update(public_key);
    let hash = ctx.finish();
    let mut id = [0u8; 4];
    id.copy_from_slice(&hash.as_ref()[..4]);
    u32::from_be_bytes(id)
}

/// A checkpoint or signed note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The signed-note framing is wrong: no blank line before the signatures, a bad
    /// signature line, a control character, bad UTF-8, …
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// The note text is not a checkpoint body: a missing line, a bad size or root hash, …
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// The note is longer than [`MAX_NOTE_LEN`].
    #[error("note of {len} bytes exceeds the maximum of {max} bytes")]
    NoteTooLarge {
        /// The note's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {max} signatures")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// A key name is empty or contains a space, a plus or a control character.
    #[error(
        "invalid key name {0:?}: it must be non-empty, without spaces, '+' or control characters"
    )]
    InvalidKeyName(String),
    /// A verifier key (`vkey`) text does not decode, or its key id does not match its key.
    #[error("invalid verifier key: {0}")]
    InvalidVerifierKey(&'static str),
    /// A signature from a known key does not verify: the note was altered or forged.
    #[error("the signature by known key {key_name}+{key_id:08x} does not verify")]
    BadSignature {
        /// The signature's key name.
        key_name: String,
        /// The signature's key id.
        key_id: u32,
    },
    /// No signature on the note comes from a known key.
    #[error("no signature from a known key ({unknown} from unknown keys)")]
    NoKnownSignature {
        /// How many signatures from unknown keys the note carries.
        unknown: usize,
    },
    /// Two different configured keys share one name and key id, so neither can be trusted.
    #[error("two different known keys are both {key_name}+{key_id:08x}")]
    AmbiguousKey {
        /// The shared key name.
        key_name: String,
        /// The shared key id.
        key_id: u32,
    },
}

impl CheckpointError {
    /// Stable reason code for this error (see `docs/REASONS.md`).
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::MalformedNote(_)
            | Self::MalformedCheckpoint(_)
            | Self::NoteTooLarge { .. }
            | Self::TooManySignatures { .. }
            | Self::InvalidKeyName(_) => "malformed-checkpoint",
            Self::BadSignature { .. } => "bad-checkpoint-signature",
            Self::NoKnownSignature { .. }
            | Self::InvalidVerifierKey(_)
            | Self::AmbiguousKey { .. } => "unknown-checkpoint-key",
        }
    }
}

/// Whether `name` may name a key: non-empty, no Unicode space, no `+`, no control character.
fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c < ' ')
}

fn check_key_name(name: &str) -> Result<(), CheckpointError> {
    if !is_valid_key_name(name) {
        return Err(CheckpointError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// Whether `text` is free of the control characters signed notes forbid (all below U+0020 but newline).
fn is_free_of_controls(text: &str) -> bool {
    !text.bytes().any(|b| b < b' ' && b != b'\n')
}

/// A checkpoint line (origin or extension): non-empty, no control character (so no newline).
fn check_line(line: &str, what: &'static str) -> Result<(), CheckpointError> {
    if line.is_empty() {
        return Err(CheckpointError::MalformedCheckpoint(what));
    }
    if line.bytes().any(|b| b < b' ') {
        return Err(CheckpointError::MalformedCheckpoint(what));
    }
    Ok(())
}

/// A log's tree head: origin, size and root hash, plus optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint of the log `origin` at `size` leaves with root `root`.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        let origin = origin.into();
        check_line(
            &origin,
            "the origin must be non-empty, without control characters",
        )?;
        Ok(Self {
            origin,
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds an extension line (non-empty, no control characters; tlog-checkpoint discourages them).
    pub fn with_extension(mut self, line: impl Into<String>) -> Result<Self, CheckpointError> {
        let line = line.into();
        check_line(
            &line,
            "an extension line must be non-empty, without control characters",
        )?;
        self.extensions.push(line);
        Ok(self)
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of log entries the checkpoint covers.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The Merkle root of the first [`size`](Self::size) entries.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines, in order.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: `<origin>\n<size>\n<base64 root>\n` and one line per extension.
    pub fn to_body_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a note text strictly; [`to_body_text`](Self::to_body_text) gives back the same text.
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        use CheckpointError::MalformedCheckpoint as Bad;
        if text.len() > MAX_NOTE_LEN {
            return Err(CheckpointError::NoteTooLarge {
                len: text.len(),
                max: MAX_NOTE_LEN,
            });
        }
        let Some(lines) = text.strip_suffix('\n') else {
            return Err(Bad("the text must end with a newline"));
        };
        let mut lines = lines.split('\n');
        let origin = lines.next().ok_or(Bad("missing origin line"))?;
        check_line(
            origin,
            "the origin must be non-empty, without control characters",
        )?;
        let size = parse_size(lines.next().ok_or(Bad("missing tree size line"))?)?;
        let root = parse_root(lines.next().ok_or(Bad("missing root hash line"))?)?;
        let mut extensions = Vec::new();
        for line in lines {
            check_line(
                line,
                "an extension line must be non-empty, without control characters",
            )?;
            extensions.push(line.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// A tree size: ASCII decimal digits, no sign, no leading zero unless it is `0`.
fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    use CheckpointError::MalformedCheckpoint as Bad;
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Bad("the tree size must be decimal digits"));
    }
    if line.len() > 1 && line.starts_with('0') {
        return Err(Bad("the tree size has a leading zero"));
    }
    line.parse()
        .map_err(|_| Bad("the tree size does not fit in 64 bits"))
}

/// A root hash: canonical, padded standard base64 of exactly 32 bytes.
fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    use CheckpointError::MalformedCheckpoint as Bad;
    let bytes = BASE64
        .decode(line)
        .map_err(|_| Bad("the root hash is not canonical standard base64"))?;
    let mut root = [0u8; HASH_LEN];
    if bytes.len() != HASH_LEN {
        return Err(Bad("the root hash is not 32 bytes"));
    }
    root.copy_from_slice(&bytes);
    Ok(root)
}

/// A known Ed25519 note-signing key: its name, key id and public key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    public_key: [u8; 32],
}

impl NoteVerifier {
    /// The verifier for the Ed25519 `public_key` named `name`.
    pub fn new(name: &str, public_key: [u8; 32]) -> Result<Self, CheckpointError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: ed25519_key_id(name, &public_key),
            public_key,
        })
    }

    /// The verifier for a signing key's public half, named `name`.
    pub fn for_signing_key(name: &str, key: &SigningKey) -> Result<Self, CheckpointError> {
        Self::new(name, key.public_key())
    }

    /// Parses the text form `<name>+<hex key id>+<base64(0x01 || public key)>`, checking the key id.
    pub fn from_vkey(vkey: &str) -> Result<Self, CheckpointError> {
        use CheckpointError::InvalidVerifierKey as Bad;
        let (name, rest) = vkey
            .split_once('+')
            .ok_or(Bad("expected <name>+<id>+<key>"))?;
        let (id_hex, key64) = rest
            .split_once('+')
            .ok_or(Bad("expected <name>+<id>+<key>"))?;
        check_key_name(name)?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Bad("the key id must be 8 hex digits"));
        }
        let key_id =
            u32::from_str_radix(id_hex, 16).map_err(|_| Bad("the key id must be 8 hex digits"))?;
        let key = BASE64
            .decode(key64)
            .map_err(|_| Bad("the key is not canonical standard base64"))?;
        let Some((&ED25519_SIGNATURE_TYPE, public)) = key.split_first() else {
            return Err(Bad("not an Ed25519 (type 0x01) key"));
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| Bad("an Ed25519 public key is 32 bytes"))?;
        let verifier = Self::new(name, public)?;
        if verifier.key_id != key_id {
            return Err(Bad("the key id does not match the name and key"));
        }
        Ok(verifier)
    }

    /// The text form `<name>+<hex key id>+<base64(0x01 || public key)>`, as Go's `note` package writes it.
    pub fn vkey(&self) -> String {
        let mut key = Vec::with_capacity(1 + self.public_key.len());
        key.push(ED25519_SIGNATURE_TYPE);
        key.extend_from_slice(&self.public_key);
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(key))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// Whether `signature` (without the key id) is this key's signature of `text`.
    pub fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        signature.len() == ED25519_SIGNATURE_LEN
            && UnparsedPublicKey::new(&ED25519, &self.public_key)
                .verify(text, signature)
                .is_ok()
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({})", self.vkey())
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.vkey())
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    key_name: String,
    key_id: u32,
    signature: Vec<u8>,
    verified: bool,
}

impl NoteSignature {
    /// The key name on the line.
    pub fn key_name(&self) -> &str {
        &self.key_name
    }

    /// The key id on the line.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key id (64 bytes for Ed25519).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Whether a known key verified it (false: from a key the opener did not know).
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    /// The line: `— <key name> <base64(key id || signature)>\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_PREFIX}{} {}\n",
            self.key_name,
            BASE64.encode(raw)
        )
    }
}

/// A signed note: a text and its signature lines, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note; the text must end in a newline and hold no control character but newline.
    pub fn new(text: impl Into<String>) -> Result<Self, CheckpointError> {
        let text = text.into();
        if text.is_empty() || !text.ends_with('\n') {
            return Err(CheckpointError::MalformedNote(
                "the text must end with a newline",
            ));
        }
        if !is_free_of_controls(&text) {
            return Err(CheckpointError::MalformedNote(
                "the text holds a control character",
            ));
        }
        if text.len() > MAX_NOTE_LEN {
            return Err(CheckpointError::NoteTooLarge {
                len: text.len(),
                max: MAX_NOTE_LEN,
            });
        }
        Ok(Self {
            text,
            signatures: Vec::new(),
        })
    }

    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in note order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Signs the text with `key` under `key_name`, replacing an earlier signature by the same key.
    pub fn add_signature(
        &mut self,
        key_name: &str,
        key: &SigningKey,
    ) -> Result<(), CheckpointError> {
        check_key_name(key_name)?;
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(CheckpointError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        let key_id = ed25519_key_id(key_name, &key.public_key());
        let signature = NoteSignature {
            key_name: key_name.to_owned(),
            key_id,
            signature: key.sign(self.text.as_bytes()).to_vec(),
            verified: true,
        };
        let len = self.encoded_len() + signature.to_line().len();
        if len > MAX_NOTE_LEN {
            return Err(CheckpointError::NoteTooLarge {
                len,
                max: MAX_NOTE_LEN,
            });
        }
        self.signatures
            .retain(|s| !(s.key_name == key_name && s.key_id == key_id));
        self.signatures.push(signature);
        Ok(())
    }

    /// Whether `verifier`'s key made one of the signatures (checked again here, not trusted from opening).
    pub fn is_signed_by(&self, verifier: &NoteVerifier) -> bool {
        self.signatures.iter().any(|s| {
            s.key_name == verifier.name
                && s.key_id == verifier.key_id
                && verifier.verify(self.text.as_bytes(), &s.signature)
        })
    }

    /// The note as text: the body, a blank line, then one line per signature.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.encoded_len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out
    }

    fn encoded_len(&self) -> usize {
        self.text.len()
            + 1
            + self
                .signatures
                .iter()
                .map(|s| s.to_line().len())
                .sum::<usize>()
    }
}

/// Signs `text` as a one-signature note with `key` under `key_name`.
pub fn sign_note(text: &str, key_name: &str, key: &SigningKey) -> Result<String, CheckpointError> {
    let mut note = Note::new(text)?;
    note.add_signature(key_name, key)?;
    Ok(note.encode())
}

/// Parses a signed note and verifies the signatures of the known keys (see the module docs).
pub fn open_note(note: &str, verifiers: &[NoteVerifier]) -> Result<Note, CheckpointError> {
    use CheckpointError::MalformedNote as Bad;
    if note.len() > MAX_NOTE_LEN {
        return Err(CheckpointError::NoteTooLarge {
            len: note.len(),
            max: MAX_NOTE_LEN,
        });
    }
    if !is_free_of_controls(note) {
        return Err(Bad("the note holds a control character"));
    }
    let split = note
        .rfind("\n\n")
        .ok_or(Bad("no blank line before the signatures"))?;
    // The text keeps its final newline; the blank line belongs to neither part.
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    let Some(sigs) = sigs.strip_suffix('\n') else {
        return Err(Bad("no signature lines, or no newline after the last"));
    };
    if sigs.split('\n').count() > MAX_SIGNATURES {
        return Err(CheckpointError::TooManySignatures {
            max: MAX_SIGNATURES,
        });
    }

    let mut signatures: Vec<NoteSignature> = Vec::new();
    for line in sigs.split('\n') {
        let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or(Bad(
            "a signature line must start with an em dash and a space",
        ))?;
        let (key_name, b64) = rest
            .split_once(' ')
            .ok_or(Bad("a signature line needs a key name and a signature"))?;
        if !is_valid_key_name(key_name) {
            return Err(Bad("invalid key name on a signature line"));
        }
        let raw = BASE64
            .decode(b64)
            .map_err(|_| Bad("a signature is not canonical standard base64"))?;
        let Some((id, sig)) = raw.split_first_chunk::<4>() else {
            return Err(Bad("a signature is shorter than its key id"));
        };
        if sig.is_empty() {
            return Err(Bad("a signature is empty"));
        }
        let key_id = u32::from_be_bytes(*id);

        let verified = match known_key(verifiers, key_name, key_id)? {
            Some(verifier) => {
                if !verifier.verify(text.as_bytes(), sig) {
                    return Err(CheckpointError::BadSignature {
                        key_name: key_name.to_owned(),
                        key_id,
                    });
                }
                true
            }
            None => false,
        };
        // Keep one signature per known key, and drop exact repeats of unknown ones.
        let repeat = signatures.iter().any(|s| {
            s.key_name == key_name && s.key_id == key_id && (verified || s.signature == sig)
        });
        if !repeat {
            signatures.push(NoteSignature {
                key_name: key_name.to_owned(),
                key_id,
                signature: sig.to_vec(),
                verified,
            });
        }
    }
    if !signatures.iter().any(|s| s.verified) {
        return Err(CheckpointError::NoKnownSignature {
            unknown: signatures.len(),
        });
    }
    Ok(Note {
        text: text.to_owned(),
        signatures,
    })
}

/// The one configured verifier with this name and key id, if any.
fn known_key<'a>(
    verifiers: &'a [NoteVerifier],
    key_name: &str,
    key_id: u32,
) -> Result<Option<&'a NoteVerifier>, CheckpointError> {
    let mut found: Option<&NoteVerifier> = None;
    for v in verifiers
        .iter()
        .filter(|v| v.name == key_name && v.key_id == key_id)
    {
        match found {
            Some(f) if f.public_key != v.public_key => {
                return Err(CheckpointError::AmbiguousKey {
                    key_name: key_name.to_owned(),
                    key_id,
                })
            }
            _ => found = Some(v),
        }
    }
    Ok(found)
}

/// A checkpoint whose note carried at least one valid signature from a known key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with `key` under `key_name` (a node uses its [`log_origin`]).
    pub fn sign(
        checkpoint: Checkpoint,
        key_name: &str,
        key: &SigningKey,
    ) -> Result<Self, CheckpointError> {
        let mut note = Note::new(checkpoint.to_body_text())?;
        note.add_signature(key_name, key)?;
        Ok(Self { checkpoint, note })
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note: body text and all signatures, verified or not.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// All signature lines, in note order.
    pub fn signatures(&self) -> &[NoteSignature] {
        self.note.signatures()
    }

    /// Whether `verifier`'s key signed this checkpoint (checked again here).
    pub fn is_signed_by(&self, verifier: &NoteVerifier) -> bool {
        self.note.is_signed_by(verifier)
    }

    /// Adds a (co)signature with `key` under `key_name`, keeping the other signatures.
    pub fn add_signature(
        &mut self,
        key_name: &str,
        key: &SigningKey,
    ) -> Result<(), CheckpointError> {
        self.note.add_signature(key_name, key)
    }

    /// The signed note's text.
    pub fn encode(&self) -> String {
        self.note.encode()
    }
}

/// Signs a checkpoint with `key` under `key_name` and returns the full note text.
///
/// Fails only for an invalid key name or a note longer than [`MAX_NOTE_LEN`].
pub fn sign_checkpoint(
    cp: &Checkpoint,
    key_name: &str,
    key: &SigningKey,
) -> Result<String, CheckpointError> {
    Ok(SignedCheckpoint::sign(cp.clone(), key_name, key)?.encode())
}

/// Opens a checkpoint note: at least one valid signature from `verifiers`, none invalid,
/// and a strictly well-formed body.
pub fn open_checkpoint(
    note: &str,
    verifiers: &[NoteVerifier],
) -> Result<SignedCheckpoint, CheckpointError> {
    let note = open_note(note, verifiers)?;
    let checkpoint = Checkpoint::parse_body(note.text())?;
    Ok(SignedCheckpoint { checkpoint, note })
}

/// [`open_checkpoint`] for bytes off the wire or disk, which must be UTF-8.
pub fn open_checkpoint_bytes(
    note: &[u8],
    verifiers: &[NoteVerifier],
) -> Result<SignedCheckpoint, CheckpointError> {
    let note = std::str::from_utf8(note)
        .map_err(|_| CheckpointError::MalformedNote("the note is not UTF-8"))?;
    open_checkpoint(note, verifiers)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::merkle::MerkleTree;

    /// Ed25519 PKCS#8 v1 DER: this prefix, then the 32-byte seed.
    const PKCS8_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];

    fn key_from_seed(seed: &[u8]) -> SigningKey {
        let mut der = PKCS8_PREFIX.to_vec();
        der.extend_from_slice(seed);
        SigningKey::from_pkcs8_der(&der).unwrap()
    }

    fn seed(byte: u8) -> [u8; 32] {
        std::array::from_fn(|i| byte.wrapping_add(i as u8))
    }

    const ORIGIN: &str = "liaison/caricc.central-asia";

    fn sample_checkpoint() -> Checkpoint {
        let mut tree = MerkleTree::new();
        for i in 0u32..1000 {
            tree.push(&i.to_be_bytes());
        }
        Checkpoint::new(ORIGIN, tree.len(), tree.root()).unwrap()
    }

    fn node_key() -> (SigningKey, NoteVerifier) {
        let key = key_from_seed(&seed(0));
        let verifier = NoteVerifier::for_signing_key(ORIGIN, &key).unwrap();
        (key, verifier)
    }

    #[test]
    fn sign_then_open_round_trips() {
        let (key, verifier) = node_key();
        let cp = sample_checkpoint()
            .with_extension("liaison-extension one")
            .unwrap();
        let note = sign_checkpoint(&cp, ORIGIN, &key).unwrap();
        let opened = open_checkpoint(&note, std::slice::from_ref(&verifier)).unwrap();
        assert_eq!(opened.checkpoint(), &cp);
        assert_eq!(opened.encode(), note);
        assert!(opened.is_signed_by(&verifier));
        assert_eq!(opened.signatures().len(), 1);
        assert!(opened.signatures()[0].is_verified());
        assert_eq!(opened.signatures()[0].key_id(), verifier.key_id());
        assert_eq!(Checkpoint::parse_body(&cp.to_body_text()).unwrap(), cp);
        assert_eq!(
            open_checkpoint_bytes(note.as_bytes(), &[verifier]).unwrap(),
            opened
        );
    }

    #[test]
    fn log_origin_is_liaison_slash_node_id() {
        let node: NodeId = "caricc.central-asia".parse().unwrap();
        assert_eq!(log_origin(&node), ORIGIN);
        assert!(is_valid_key_name(&log_origin(&node)));
    }

    /// The exact bytes of one checkpoint note from a fixed key, cross-checked when written with
    /// Python's `cryptography` Ed25519 and `hashlib`, independently of this code.
    #[test]
    fn checkpoint_note_bytes_are_pinned() {
        let (key, verifier) = node_key();
        let root = crate::merkle::MerkleTree::from_leaf_hashes(
            [
                "",
                "00",
                "10",
                "2021",
                "3031",
                "40414243",
                "5051525354555657",
                "606162636465666768696a6b6c6d6e6f",
            ]
            .iter()
            .map(|hex| {
                let bytes: Vec<u8> = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect();
                crate::merkle::leaf_hash(&bytes)
            }),
        )
        .root();
        let cp = Checkpoint::new(ORIGIN, 8, root).unwrap();
        let note = sign_checkpoint(&cp, ORIGIN, &key).unwrap();
        assert_eq!(note, PINNED_NOTE);
        assert_eq!(verifier.vkey(), PINNED_VKEY);
        assert_eq!(verifier.key_id(), PINNED_KEY_ID);
        assert_eq!(NoteVerifier::from_vkey(PINNED_VKEY).unwrap(), verifier);
    }

    const PINNED_VKEY: &str =
        "liaison/caricc.central-asia+007991dd+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
    const PINNED_KEY_ID: u32 = 0x007991dd;
    const PINNED_NOTE: &str = "liaison/caricc.central-asia\n\
        8\n\
        XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\
        \n\
        \u{2014} liaison/caricc.central-asia AHmR3Uk6U1rgu+pf1wzo5qzLMlTJQvDW6K5mzqfiQVdij844gyU/5gcrFz8ZRx8wUgiSuTisiz82HsLjtJK5/jHp6gQ=\n";

    // The example key and note from Go's golang.org/x/mod/sumdb/note package documentation.
    const PETER_SKEY_SEED: &str =
        "810a1402d5146c8d84f2443330f54080ebf98ee17d9c74f6252fc5d5c7283173";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                              then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter_key() -> SigningKey {
        let seed: Vec<u8> = (0..64)
            .step_by(2)
            .map(|i| u8::from_str_radix(&PETER_SKEY_SEED[i..i + 2], 16).unwrap())
            .collect();
        key_from_seed(&seed)
    }

    #[test]
    fn matches_go_sumdb_note_example() {
        let key = peter_key();
        let verifier = NoteVerifier::for_signing_key("PeterNeumann", &key).unwrap();
        assert_eq!(verifier.vkey(), PETER_VKEY);
        assert_eq!(verifier.key_id(), 0xc74f20a3);
        assert_eq!(NoteVerifier::from_vkey(PETER_VKEY).unwrap(), verifier);

        let want = format!("{PETER_TEXT}\n{PETER_SIG}");
        assert_eq!(sign_note(PETER_TEXT, "PeterNeumann", &key).unwrap(), want);
        let note = open_note(&want, &[verifier]).unwrap();
        assert_eq!(note.text(), PETER_TEXT);
        // Not a checkpoint body, though.
        let err = open_checkpoint(&want, &[NoteVerifier::from_vkey(PETER_VKEY).unwrap()]);
        assert_eq!(err.unwrap_err().reason_code(), "malformed-checkpoint");
    }

    #[test]
    fn unknown_cosignatures_are_kept_and_reemitted() {
        let verifier = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
        let doubly = format!("{PETER_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let note = open_note(&doubly, std::slice::from_ref(&verifier)).unwrap();
        assert_eq!(note.signatures().len(), 2);
        assert!(note.signatures()[0].is_verified());
        assert!(!note.signatures()[1].is_verified());
        assert_eq!(note.signatures()[1].key_name(), "EnochRoot");
        assert_eq!(note.encode(), doubly);
        // Only the unknown signer: refused as unknown.
        let enoch_only = format!("{PETER_TEXT}\n{ENOCH_SIG}");
        let err = open_note(&enoch_only, &[verifier]).unwrap_err();
        assert_eq!(err, CheckpointError::NoKnownSignature { unknown: 1 });
        assert_eq!(err.reason_code(), "unknown-checkpoint-key");
    }

    #[test]
    fn unknown_key_is_reported() {
        let (key, _) = node_key();
        let note = sign_checkpoint(&sample_checkpoint(), ORIGIN, &key).unwrap();
        let other = key_from_seed(&seed(100));
        let verifiers = [
            // Same name, another key (so another key id).
            NoteVerifier::for_signing_key(ORIGIN, &other).unwrap(),
            // Same key, another name (so another key id).
            NoteVerifier::for_signing_key("liaison/gcc-cic.gulf", &key).unwrap(),
        ];
        for known in [&verifiers[..], &verifiers[..1], &verifiers[1..], &[]] {
            let err = open_checkpoint(&note, known).unwrap_err();
            assert_eq!(err, CheckpointError::NoKnownSignature { unknown: 1 });
            assert_eq!(err.reason_code(), "unknown-checkpoint-key");
        }
    }

    #[test]
    fn a_bad_signature_from_a_known_key_rejects_the_note() {
        let (key, verifier) = node_key();
        let peer = key_from_seed(&seed(50));
        let peer_name = "liaison/gcc-cic.gulf";
        let peer_verifier = NoteVerifier::for_signing_key(peer_name, &peer).unwrap();
        let mut signed = SignedCheckpoint::sign(sample_checkpoint(), ORIGIN, &key).unwrap();
        signed.add_signature(peer_name, &peer).unwrap();
        let note = signed.encode();
        // A forged cosignature line: the peer's name and key id over another text.
        let forged_sig = sign_note("something else\n", peer_name, &peer).unwrap();
        let forged_line = forged_sig.split("\n\n").nth(1).unwrap();
        let body = sample_checkpoint().to_body_text();
        let forged = format!("{body}\n{}{forged_line}", signed.signatures()[0].to_line());
        // Knowing only the node, the forged peer line is ignored; knowing the peer, refused.
        assert!(open_checkpoint(&forged, std::slice::from_ref(&verifier)).is_ok());
        let err = open_checkpoint(&forged, &[verifier.clone(), peer_verifier.clone()]).unwrap_err();
        assert_eq!(
            err,
            CheckpointError::BadSignature {
                key_name: peer_name.to_owned(),
                key_id: peer_verifier.key_id()
            }
        );
        assert_eq!(err.reason_code(), "bad-checkpoint-signature");
        // The genuine note opens with either or both keys.
        for known in [
            vec![verifier.clone()],
            vec![peer_verifier.clone()],
            vec![verifier.clone(), peer_verifier.clone()],
        ] {
            let opened = open_checkpoint(&note, &known).unwrap();
            assert!(opened.is_signed_by(&verifier) && opened.is_signed_by(&peer_verifier));
            assert_eq!(opened.encode(), note);
        }
    }

    #[test]
    fn cosigning_twice_replaces_rather_than_duplicates() {
        let (key, verifier) = node_key();
        let mut signed = SignedCheckpoint::sign(sample_checkpoint(), ORIGIN, &key).unwrap();
        let peer = key_from_seed(&seed(7));
        signed.add_signature("liaison/gcc-cic.gulf", &peer).unwrap();
        signed.add_signature("liaison/gcc-cic.gulf", &peer).unwrap();
        signed.add_signature(ORIGIN, &key).unwrap();
        assert_eq!(signed.signatures().len(), 2);
        let reopened = open_checkpoint(&signed.encode(), &[verifier]).unwrap();
        assert_eq!(reopened.signatures().len(), 2);
        assert_eq!(reopened.checkpoint(), signed.checkpoint());
    }

    #[test]
    fn every_single_byte_change_is_refused() {
        let (key, verifier) = node_key();
        let cp = sample_checkpoint().with_extension("ext").unwrap();
        let note = sign_checkpoint(&cp, ORIGIN, &key).unwrap();
        let verifiers = [verifier];
        let bytes = note.as_bytes();
        let refused = |changed: &[u8]| open_checkpoint_bytes(changed, &verifiers).is_err();
        let mut tried = 0;
        for i in 0..bytes.len() {
            let b = bytes[i];
            for replacement in [
                b ^ 0x01,
                b ^ 0x02,
                b ^ 0x20,
                b ^ 0x80,
                b'\n',
                b' ',
                b'0',
                b'=',
            ] {
                if replacement == b {
                    continue;
                }
                let mut changed = bytes.to_vec();
                changed[i] = replacement;
                assert!(
                    refused(&changed),
                    "byte {i} {b:#04x} -> {replacement:#04x} accepted"
                );
                tried += 1;
            }
            let mut deleted = bytes.to_vec();
            deleted.remove(i);
            assert!(refused(&deleted), "deleting byte {i} accepted");
            for inserted in [b'\n', b'0', b' '] {
                let mut longer = bytes.to_vec();
                longer.insert(i, inserted);
                assert!(
                    refused(&longer),
                    "inserting {inserted:#04x} at {i} accepted"
                );
            }
        }
        assert!(tried > 8 * bytes.len() / 2);
        assert!(!refused(bytes));
    }

    #[test]
    fn bodies_are_parsed_strictly() {
        let good = sample_checkpoint().to_body_text();
        let root = good.lines().nth(2).unwrap().to_owned();
        let mut bad = vec![
            String::new(),
            "\n".to_owned(),
            format!("{ORIGIN}\n"),
            format!("{ORIGIN}\n1000\n"),
            format!("{ORIGIN}\n1000\n{root}"),
            format!("\n1000\n{root}\n"),
            format!("{ORIGIN}\n1000\n{root}\n\n"),
            format!("{ORIGIN}\n1000\n{root}\n\nextension\n"),
            format!("{ORIGIN}\r\n1000\n{root}\n"),
            format!("{ORIGIN}\t\n1000\n{root}\n"),
            format!("{ORIGIN}\n1000\r\n{root}\n"),
            format!("{ORIGIN}\n{root}\n1000\n"),
            format!("{ORIGIN}\n1000\n{root} \n"),
            format!("{ORIGIN}\n1000\n {root}\n"),
            format!("{ORIGIN}\n1000\n{}\n", root.trim_end_matches('=')),
            format!("{ORIGIN}\n1000\n{}\n", BASE64.encode([7u8; 31])),
            format!("{ORIGIN}\n1000\n{}\n", BASE64.encode([7u8; 33])),
            format!(
                "{ORIGIN}\n1000\n{}\n",
                "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
            ),
            format!("{ORIGIN}\n1000\n{}\n", "A".repeat(44)),
            // Non-canonical: the last base64 digit carries stray low bits.
            format!("{ORIGIN}\n1000\n{}B=\n", "A".repeat(42)),
        ];
        for size in [
            "",
            "01",
            "00",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1_000",
            "0x10",
            "1e3",
            "١٠",
            "18446744073709551616",
        ] {
            bad.push(format!("{ORIGIN}\n{size}\n{root}\n"));
        }
        for text in &bad {
            let err = Checkpoint::parse_body(text).unwrap_err();
            assert_eq!(err.reason_code(), "malformed-checkpoint", "{text:?}");
        }
        for size in [0, 1, 10, u64::MAX] {
            let text = format!("{ORIGIN}\n{size}\n{root}\n");
            let cp = Checkpoint::parse_body(&text).unwrap();
            assert_eq!(cp.size(), size);
            assert_eq!(cp.to_body_text(), text);
        }
        let with_ext = format!("{ORIGIN}\n1000\n{root}\nfirst extension\nsecond\n");
        let cp = Checkpoint::parse_body(&with_ext).unwrap();
        assert_eq!(cp.extensions(), ["first extension", "second"]);
        assert_eq!(cp.to_body_text(), with_ext);
        assert_eq!(Checkpoint::parse_body(&good).unwrap(), sample_checkpoint());
    }

    #[test]
    fn invalid_origins_names_and_texts_are_refused_when_signing() {
        let (key, _) = node_key();
        let root = crate::merkle::EMPTY_ROOT;
        for origin in ["", "a\nb", "tab\there", "nul\0"] {
            assert!(Checkpoint::new(origin, 0, root).is_err(), "{origin:?}");
        }
        let cp = Checkpoint::new(ORIGIN, 0, root).unwrap();
        assert!(cp.clone().with_extension("").is_err());
        assert!(cp.clone().with_extension("two\nlines").is_err());
        for name in [
            "",
            "with space",
            "plus+sign",
            "nbsp\u{a0}",
            "line\n",
            "nul\0",
        ] {
            let err = sign_checkpoint(&cp, name, &key).unwrap_err();
            assert_eq!(err, CheckpointError::InvalidKeyName(name.to_owned()));
            assert!(NoteVerifier::new(name, key.public_key()).is_err());
        }
        // Note texts: newline-terminated, no control characters (so never a NUL, which
        // every Liaison signing context contains).
        for text in ["", "no newline", "nul\0\n", "cr\r\n"] {
            assert!(sign_note(text, ORIGIN, &key).is_err(), "{text:?}");
        }
        assert!(crate::signing::MESSAGE_CONTEXT.contains(&0));
    }

    #[test]
    fn vkeys_are_checked() {
        let good = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
        assert_eq!(good.to_string(), PETER_VKEY);
        for bad in [
            "",
            "PeterNeumann",
            "PeterNeumann+c74f20a3",
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann++c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+AhpcHQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10Q=",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW+",
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX",
        ] {
            assert!(NoteVerifier::from_vkey(bad).is_err(), "{bad:?}");
        }
        // Upper-case hex is accepted, as by Go's strconv.ParseUint.
        let upper = "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        assert_eq!(NoteVerifier::from_vkey(upper).unwrap(), good);
    }

    #[test]
    fn ambiguous_verifiers_are_refused() {
        let (key, verifier) = node_key();
        let note = sign_checkpoint(&sample_checkpoint(), ORIGIN, &key).unwrap();
        // The same key twice is not ambiguous.
        assert!(open_checkpoint(&note, &[verifier.clone(), verifier.clone()]).is_ok());
        let mut impostor = verifier.clone();
        impostor.public_key = key_from_seed(&seed(9)).public_key();
        let err = open_checkpoint(&note, &[verifier, impostor]).unwrap_err();
        assert!(matches!(err, CheckpointError::AmbiguousKey { .. }));
    }

    #[test]
    fn size_limits_are_enforced() {
        let (key, verifier) = node_key();
        let note = sign_checkpoint(&sample_checkpoint(), ORIGIN, &key).unwrap();
        let (body, sig) = note.split_once("\n\n").unwrap();
        let unknown = "\u{2014} someone AAAAAAAA\n";
        let many = format!("{body}\n\n{sig}{}", unknown.repeat(MAX_SIGNATURES));
        assert_eq!(
            open_checkpoint(&many, std::slice::from_ref(&verifier)).unwrap_err(),
            CheckpointError::TooManySignatures {
                max: MAX_SIGNATURES
            }
        );
        // Sixteen unknown cosignatures are fine (the spec's minimum), and deduplicated.
        let sixteen = format!("{body}\n\n{sig}{}", unknown.repeat(16));
        let opened = open_checkpoint(&sixteen, std::slice::from_ref(&verifier)).unwrap();
        assert_eq!(opened.signatures().len(), 2);
        let huge = format!("{}\n\n{sig}", "x".repeat(MAX_NOTE_LEN));
        assert!(matches!(
            open_checkpoint(&huge, &[verifier]).unwrap_err(),
            CheckpointError::NoteTooLarge { .. }
        ));
        let long_origin = "o".repeat(MAX_NOTE_LEN);
        let cp = Checkpoint::new(long_origin, 0, crate::merkle::EMPTY_ROOT).unwrap();
        assert!(sign_checkpoint(&cp, ORIGIN, &key).is_err());
    }

    #[test]
    fn malformed_signature_lines_are_refused() {
        let (key, verifier) = node_key();
        let note = sign_checkpoint(&sample_checkpoint(), ORIGIN, &key).unwrap();
        let (body, sig) = note.split_once("\n\n").unwrap();
        let sig_b64 = sig.trim_end().rsplit(' ').next().unwrap();
        for line in [
            format!("- {ORIGIN} {sig_b64}\n"),
            format!("\u{2014}{ORIGIN} {sig_b64}\n"),
            format!("\u{2014} {ORIGIN}  {sig_b64}\n"),
            format!("\u{2014} {ORIGIN} {sig_b64} \n"),
            format!("\u{2014} {ORIGIN}\n"),
            format!("\u{2014} {ORIGIN} \n"),
            format!("\u{2014} {ORIGIN} AAAAAA==\n"),
            format!("\u{2014}  {sig_b64}\n"),
            format!("\u{2014} {ORIGIN} {sig_b64}"),
            String::new(),
        ] {
            let text = format!("{body}\n\n{line}");
            let err = open_checkpoint(&text, std::slice::from_ref(&verifier)).unwrap_err();
            assert_eq!(err.reason_code(), "malformed-checkpoint", "{line:?}: {err}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn opening_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let (_, verifier) = node_key();
            let _ = open_checkpoint_bytes(&bytes, std::slice::from_ref(&verifier));
            let _ = Checkpoint::parse_body(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn opening_arbitrary_note_shaped_text_never_panics(
            body in "[a-z0-9/+=.\n ]{0,80}",
            name in "[a-z/.+ ]{0,12}",
            sig in "[A-Za-z0-9+/=]{0,100}",
        ) {
            let (_, verifier) = node_key();
            let text = format!("{body}\n\n\u{2014} {name} {sig}\n");
            prop_assert!(open_checkpoint(&text, std::slice::from_ref(&verifier)).is_err());
        }

        #[test]
        fn signed_checkpoints_of_any_shape_round_trip(
            origin in "[a-z0-9./-]{1,40}",
            size in any::<u64>(),
            root in any::<[u8; 32]>(),
            extensions in proptest::collection::vec("[ -~]{1,30}", 0..3),
        ) {
            let (key, _) = node_key();
            let mut cp = Checkpoint::new(origin.clone(), size, root).unwrap();
            for e in extensions {
                cp = cp.with_extension(e).unwrap();
            }
            let note = sign_checkpoint(&cp, &origin, &key).unwrap();
            let verifier = NoteVerifier::for_signing_key(&origin, &key).unwrap();
            let opened = open_checkpoint(&note, &[verifier]).unwrap();
            prop_assert_eq!(opened.checkpoint(), &cp);
            prop_assert_eq!(opened.encode(), note);
        }
    }
}
