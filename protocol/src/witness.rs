//! Witnessing: peers cosign each other's checkpoints, so a node cannot rewrite or roll back
//! its log without a peer noticing.
//!
//! A node sends each peer its newest signed checkpoint with a consistency proof from the last
//! checkpoint that peer cosigned ([`WitnessRequest`]). The peer ([`judge`]) cosigns if the new
//! checkpoint extends the one it saw last, asks for a proof from the size it saw if the node
//! guessed wrong, and refuses — an alarm: the node presented a rewritten or shorter history —
//! otherwise. The answer is a [`WitnessReply`]. Both travel as frames on their own QUIC stream
//! (types 2 and 3, see [`crate::codec::FrameType`]), encoded as `WITNESS_VERSION ||
//! postcard(..)` and decoded strictly.
//!
//! A cosignature is an Ed25519 note signature (type 0x01) over the checkpoint body by the
//! witness's node key, under the witness's own log origin as key name (see
//! [`crate::checkpoint`]).

use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, MAX_NOTE_LEN};
use crate::error::DecodeError;
use crate::merkle::{verify_consistency, Hash, MAX_PROOF_HASHES};

/// Version byte that starts every witness frame payload.
pub const WITNESS_VERSION: u8 = 1;

/// "Here is my newest checkpoint; it extends the one of `old_size` entries (you cosigned it
/// last, as far as I know) by this proof."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessRequest {
    /// The signed checkpoint note.
    pub note: String,
    /// Size of the checkpoint the proof starts from (0: none, no proof).
    pub old_size: u64,
    /// Consistency proof from `old_size` to the note's size (RFC 9162 order).
    pub proof: Vec<Hash>,
}

/// The witness's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WitnessReply {
    /// The note with the witness's cosignature added.
    Cosigned {
        /// The cosigned note.
        note: String,
    },
    /// The witness last cosigned a checkpoint of `from` entries: prove from there.
    NeedProof {
        /// Size of the witness's last cosigned checkpoint.
        from: u64,
    },
    /// Not cosigned, with a reason code (`inconsistent-checkpoint`, `bad-signature`, …).
    Refused {
        /// Reason code.
        reason_code: String,
        /// What the witness found.
        detail: String,
    },
}

fn encode<T: Serialize>(t: &T) -> Vec<u8> {
    let mut out = vec![WITNESS_VERSION];
    // Serialising plain structs into a Vec cannot fail.
    let _ = postcard::to_io(t, &mut out);
    out
}

fn decode<T: Serialize + for<'a> Deserialize<'a>>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, DecodeError> {
    let (&v, rest) = bytes.split_first().ok_or(DecodeError::Malformed {
        what,
        detail: "empty".into(),
    })?;
    if v != WITNESS_VERSION {
        return Err(DecodeError::UnknownVersion(v));
    }
    let (t, tail): (T, _) =
        postcard::take_from_bytes(rest).map_err(|e| DecodeError::Malformed {
            what,
            detail: e.to_string(),
        })?;
    if !tail.is_empty() {
        return Err(DecodeError::TrailingBytes(tail.len(), what));
    }
    if encode(&t) != bytes {
        return Err(DecodeError::NonCanonical(what));
    }
    Ok(t)
}

impl WitnessRequest {
    /// `WITNESS_VERSION || postcard(self)`.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
    /// Decodes strictly; a note longer than [`MAX_NOTE_LEN`] or a proof longer than
    /// [`MAX_PROOF_HASHES`] is malformed.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let r: Self = decode(bytes, "witness request")?;
        if r.note.len() > MAX_NOTE_LEN || r.proof.len() > MAX_PROOF_HASHES {
            return Err(DecodeError::Malformed {
                what: "witness request",
                detail: "note or proof too long".into(),
            });
        }
        Ok(r)
    }
}

impl WitnessReply {
    /// `WITNESS_VERSION || postcard(self)`.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }
    /// Decodes strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes, "witness reply")
    }
}

/// What a witness does with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The checkpoint extends (or repeats) the last one seen: cosign it.
    Cosign,
    /// The request proves from another size: ask for a proof from this one.
    NeedProof(u64),
    /// The node's history changed: keep both checkpoints as evidence and raise an alarm.
    Inconsistent(String),
}

/// Judges `new` (signature already checked) against `last`, the latest checkpoint of the same
/// log this witness cosigned, given the request's `old_size` and `proof`. Pure: no I/O.
pub fn judge(
    last: Option<&Checkpoint>,
    new: &Checkpoint,
    old_size: u64,
    proof: &[Hash],
) -> Verdict {
    let Some(last) = last else {
        // First contact: nothing to be consistent with yet.
        return Verdict::Cosign;
    };
    if new.size() < last.size() {
        return Verdict::Inconsistent(format!(
            "the log shrank: a checkpoint of {} entries after one of {} was cosigned",
            new.size(),
            last.size()
        ));
    }
    if new.size() == last.size() {
        return if new.root() == last.root() {
            Verdict::Cosign
        } else {
            Verdict::Inconsistent(format!(
                "two different roots for the same {} entries",
                new.size()
            ))
        };
    }
    if old_size != last.size() {
        return Verdict::NeedProof(last.size());
    }
    match verify_consistency(last.size(), new.size(), last.root(), new.root(), proof) {
        Ok(()) => Verdict::Cosign,
        Err(e) => Verdict::Inconsistent(format!(
            "the checkpoint of {} entries does not extend the cosigned one of {}: {e}",
            new.size(),
            last.size()
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, MerkleTree};

    fn tree(n: u32, salt: u8) -> MerkleTree {
        MerkleTree::from_leaf_hashes((0..n).map(|i| {
            let mut b = i.to_be_bytes().to_vec();
            // From leaf 5 on, `salt` changes the leaves: a rewritten history.
            if i >= 5 {
                b.push(salt);
            }
            leaf_hash(&b)
        }))
    }

    fn cp(t: &MerkleTree, size: u64) -> Checkpoint {
        Checkpoint::new(
            "liaison/kz-dcu.central-asia",
            size,
            t.root_at(size).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn cosigns_extensions_and_catches_rewrites() {
        let t = tree(20, 0);
        let old = cp(&t, 8);
        let new = cp(&t, 20);
        let proof = t.consistency_proof(8, 20).unwrap().hashes;
        assert_eq!(judge(None, &new, 0, &[]), Verdict::Cosign);
        assert_eq!(judge(Some(&old), &new, 8, &proof), Verdict::Cosign);
        assert_eq!(judge(Some(&new), &new, 0, &[]), Verdict::Cosign, "a repeat");
        assert_eq!(judge(Some(&old), &new, 4, &[]), Verdict::NeedProof(8));

        // Same size, another root; shorter; a longer history that rewrote entry 5.
        let forked = tree(20, 1);
        assert!(
            matches!(judge(Some(&new), &cp(&forked, 20), 20, &[]), Verdict::Inconsistent(w) if w.contains("different roots"))
        );
        assert!(
            matches!(judge(Some(&new), &cp(&t, 12), 12, &[]), Verdict::Inconsistent(w) if w.contains("shrank"))
        );
        let proof = forked.consistency_proof(8, 20).unwrap().hashes;
        assert!(
            matches!(judge(Some(&old), &cp(&forked, 20), 8, &proof), Verdict::Inconsistent(w) if w.contains("does not extend"))
        );
    }

    #[test]
    fn frames_round_trip_strictly() {
        let r = WitnessRequest {
            note: "n".into(),
            old_size: 3,
            proof: vec![[7; 32]],
        };
        assert_eq!(WitnessRequest::decode(&r.encode()).unwrap(), r);
        let mut bad = r.encode();
        bad.push(0);
        assert_eq!(
            WitnessRequest::decode(&bad).unwrap_err().reason_code(),
            "trailing-bytes"
        );
        let a = WitnessReply::NeedProof { from: 9 };
        assert_eq!(WitnessReply::decode(&a.encode()).unwrap(), a);
        assert!(WitnessReply::decode(&[2, 0]).is_err(), "unknown version");
    }
}
