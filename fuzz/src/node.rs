//! The fuzz harness for liaison-node: the store journal's decoder, which reads what is on
//! disk at every start and in every offline audit, and the officer API's JSON requests. One
//! function per fuzz target, each asserting the invariants the code under it promises.
//!
//! This file is compiled twice: into the fuzz crate (as `liaison_fuzz::node`, for the
//! targets in `../fuzz_targets/`), and by path into the ordinary workspace test
//! `tests/tests/fuzz_corpus.rs`, which replays every committed corpus file through these
//! functions. So it may use only `std`, `liaison_node`, `liaison_protocol` and `serde_json`.

use liaison_node::api::{ConsentRequestAnswer, NodesRequest, PurgeRequest};
use liaison_node::case::{self, CaseRequest};
use liaison_node::compose::{self, SendRequest};
use liaison_node::store::journal::{
    self, BatchBuf, Bodies, Loc, Medium, MemMedium, Record, ReplayEnd, TAG_LEAF, TAG_NEW,
    TAG_SIGNED, TAG_UPDATE,
};
use liaison_protocol::case::TaskStatus;
use liaison_protocol::{Body, NodeId, Timestamp};

/// One journal record, owned, with its bodies read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rec {
    /// A log entry.
    Leaf(Vec<u8>),
    /// A new message: its state and its envelope.
    New {
        /// The state (postcard).
        state: Vec<u8>,
        /// The envelope.
        body: Vec<u8>,
    },
    /// A replacement state.
    Update(Vec<u8>),
    /// A signed answer kept for log entry `leaf`.
    Signed {
        /// The log entry naming it.
        leaf: u64,
        /// The envelope.
        body: Vec<u8>,
    },
}

/// The salt of the journals the structured mode writes (any will do: replay reads it from
/// the file header).
pub const SALT: [u8; 8] = *b"fuzzsalt";

/// Target `journal_replay`. The first byte picks the mode:
///
/// * even: the rest is a journal file, replayed as it is;
/// * odd: structured. The rest is a list of operations that write a journal through the
///   store's own [`BatchBuf`] (records, commits), with edits of the bytes written so far in
///   between (see [`write_journal`]). A valid journal reaches the record decoder; random
///   bytes rarely get past the salted batch header checksum.
///
/// Invariants: replay returns `Ok` or an error, never panics; it reads nothing longer than
/// the file (a length read from the file is checked against its size first, so nothing is
/// allocated for it either); a journal's valid and torn bytes add up to the file; every
/// record's location holds exactly its bytes; cutting the torn tail off (as the store does
/// at start-up) leaves a journal that replays to the same records with nothing torn; and a
/// journal written by `BatchBuf` and left alone replays to exactly what was written.
pub fn journal_replay(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        check_replay(rest.to_vec(), None);
    } else {
        let (file, written) = write_journal(rest);
        check_replay(file, written);
    }
}

/// Replays `file`; `written`: the records it must hold, if it was written and not edited.
fn check_replay(file: Vec<u8>, written: Option<(Vec<Rec>, u64)>) {
    let medium = MemMedium::new(file);
    let size = medium.size();
    let (outcome, recs) = replay_owned(&medium);
    assert!(
        medium.largest_read() <= size,
        "replay read {} bytes at once from a journal of {size}",
        medium.largest_read()
    );
    let end = match outcome {
        Ok(end) => end,
        Err(e) => {
            assert!(
                written.is_none(),
                "a journal written by BatchBuf and left alone was refused: {e}"
            );
            return;
        }
    };
    assert_eq!(end.valid + end.torn, size, "{end:?}");
    if let Some((written, batches)) = written {
        assert_eq!(
            end,
            ReplayEnd {
                valid: size,
                torn: 0,
                batches
            }
        );
        assert_eq!(recs, written, "the journal did not replay what was written");
    }
    if end.torn > 0 {
        let mut bytes = medium.into_bytes();
        bytes.truncate(end.valid as usize);
        let cut = MemMedium::new(bytes);
        let (again, recs_again) = replay_owned(&cut);
        let again = again.unwrap_or_else(|e| {
            panic!("the journal's valid part was refused once its torn tail was cut: {e}")
        });
        assert_eq!(
            again,
            ReplayEnd {
                valid: end.valid,
                torn: 0,
                batches: end.batches
            }
        );
        assert_eq!(
            recs_again, recs,
            "cutting the torn tail changed the records"
        );
    }
}

/// Replays `medium`, reading each record's bytes back through its location.
fn replay_owned(medium: &MemMedium) -> (Result<ReplayEnd, String>, Vec<Rec>) {
    let mut recs = Vec::new();
    let at = |loc: Loc, bytes: &[u8]| {
        let back = journal::read(medium, loc).expect("a record's location is in the journal");
        assert_eq!(back, bytes, "a record's location does not hold its bytes");
    };
    let body = |loc: Loc| journal::read(medium, loc).expect("a body's location is in the journal");
    let outcome = journal::replay(medium, |r| {
        recs.push(match r {
            Record::Leaf { loc, bytes } => {
                at(loc, bytes);
                Rec::Leaf(bytes.to_vec())
            }
            Record::New {
                state,
                bytes,
                body: b,
            } => {
                at(state, bytes);
                Rec::New {
                    state: bytes.to_vec(),
                    body: body(b),
                }
            }
            Record::Update { state, bytes } => {
                at(state, bytes);
                Rec::Update(bytes.to_vec())
            }
            Record::Signed { leaf, body: b } => Rec::Signed {
                leaf,
                body: body(b),
            },
        });
        Ok(())
    })
    .map_err(|e| format!("{e:#}"));
    (outcome, recs)
}

/// Reads the structured mode's operations.
struct Ops<'a>(&'a [u8]);

impl<'a> Ops<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte().unwrap_or(0), self.byte().unwrap_or(0)])
    }

    /// A length byte, then up to that many bytes.
    fn bytes(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte().unwrap_or(0)).min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b
    }
}

/// Writes a journal from structured operations: the file header with [`SALT`], then for each
/// operation byte `op % 8`:
///
/// | op | what | then |
/// |---|---|---|
/// | 0 | a Leaf record | length byte, payload |
/// | 1 | a New record and its body | length byte, state; length byte, body |
/// | 2 | an Update record | length byte, state |
/// | 3 | a Signed record and its body | leaf byte; length byte, body |
/// | 4 | commit the batch so far | |
/// | 5 | xor a byte written so far | position (u16 be), value |
/// | 6 | cut what was written so far | position (u16 be) |
/// | 7 | a record with any tag | tag byte; length byte, payload |
///
/// The batch still open at the end is committed. Returns the file and, if no operation
/// edited it (5 with a non-zero value, 6 short of the end, or 7), the records written and the
/// number of batches.
pub fn write_journal(data: &[u8]) -> (Vec<u8>, Option<(Vec<Rec>, u64)>) {
    let mut ops = Ops(data);
    let mut file = journal::file_header(&SALT).to_vec();
    let mut written = Vec::new();
    let mut batches = 0u64;
    let mut edited = false;
    let mut batch = BatchBuf::default();
    let mut bodies: Vec<&[u8]> = Vec::new();
    let mut open: Vec<Rec> = Vec::new();
    let commit = |file: &mut Vec<u8>, batch: &BatchBuf, bodies: &[&[u8]]| {
        let mut b = Bodies::default();
        for body in bodies {
            b.push(body);
        }
        let m = MemMedium::default();
        batch.commit(&m, &SALT, &b).expect("a small batch commits");
        file.extend_from_slice(&m.into_bytes());
    };
    let len = |b: &[u8]| u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes();
    while let Some(op) = ops.byte() {
        match op % 8 {
            0 => {
                let p = ops.bytes();
                batch.record(TAG_LEAF, &[p]).expect("a small record");
                open.push(Rec::Leaf(p.to_vec()));
            }
            1 => {
                let (state, body) = (ops.bytes(), ops.bytes());
                batch
                    .record(TAG_NEW, &[&len(body), state])
                    .expect("a small record");
                bodies.push(body);
                open.push(Rec::New {
                    state: state.to_vec(),
                    body: body.to_vec(),
                });
            }
            2 => {
                let state = ops.bytes();
                batch.record(TAG_UPDATE, &[state]).expect("a small record");
                open.push(Rec::Update(state.to_vec()));
            }
            3 => {
                let leaf = u64::from(ops.byte().unwrap_or(0));
                let body = ops.bytes();
                batch
                    .record(TAG_SIGNED, &[&leaf.to_le_bytes(), &len(body)])
                    .expect("a small record");
                bodies.push(body);
                open.push(Rec::Signed {
                    leaf,
                    body: body.to_vec(),
                });
            }
            4 => {
                commit(&mut file, &batch, &bodies);
                batches += 1;
                written.append(&mut open);
                batch = BatchBuf::default();
                bodies.clear();
            }
            5 => {
                let (pos, value) = (usize::from(ops.u16()), ops.byte().unwrap_or(0));
                let at = pos % file.len().max(1);
                if let Some(b) = file.get_mut(at) {
                    *b ^= value;
                    edited |= value != 0;
                }
            }
            6 => {
                let at = usize::from(ops.u16()) % (file.len() + 1);
                edited |= at < file.len();
                file.truncate(at);
            }
            _ => {
                let tag = ops.byte().unwrap_or(0);
                let p = ops.bytes();
                batch.record(tag, &[p]).expect("a small record");
                edited = true;
            }
        }
    }
    if !batch.is_empty() {
        commit(&mut file, &batch, &bodies);
        batches += 1;
        written.append(&mut open);
    }
    (file, (!edited).then_some((written, batches)))
}

/// The node the API harness composes as.
pub const NODE: &str = "om-dcu.gulf";
/// When the API harness composes (2026-11-29T09:03:40.539Z).
pub const NOW: Timestamp = Timestamp(1_795_943_020_539);
/// The nonce of every message the API harness composes.
pub const NONCE: [u8; 16] = [7; 16];
/// The case id the harness opens when the request names none.
pub const CASE: &str = "OM-2026-0A0B";

/// The request types of [`api_json`], by the first byte of the input (modulo their number).
pub const API_REQUESTS: [&str; 5] = [
    "SendRequest (POST /v1/messages)",
    "CaseRequest (POST /v1/cases, /v1/cases/{case}/{action})",
    "NodesRequest (POST /v1/messages/{id}/consent-request, /share)",
    "ConsentRequestAnswer (POST /v1/messages/{id}/consent)",
    "PurgeRequest (POST /v1/purge)",
];

/// Target `api_json`: the first byte picks a request type of the officer API
/// ([`API_REQUESTS`]), the rest is its JSON body. What deserializes goes through the checks
/// the API runs on it before anything is signed: a send request through
/// `compose::body` (as node `om-dcu.gulf`, at a fixed time, with a fixed nonce); a case
/// request through the parsers every case operation uses and the whole composition and check
/// of a case's opening (`case::open_body`); the nodes of a consent request or share; the
/// expiry of a consent grant.
///
/// Invariants: no panic, errors only; every body the node would sign encodes, and decodes
/// again to itself (peers must accept what the node signs); a grant never expires before it
/// is given.
pub fn api_json(data: &[u8]) {
    let Some((&which, json)) = data.split_first() else {
        return;
    };
    let me: NodeId = NODE.parse().expect("the harness's node id parses");
    match usize::from(which) % API_REQUESTS.len() {
        0 => {
            let Ok(req) = serde_json::from_slice::<SendRequest>(json) else {
                return;
            };
            if let Ok(body) = compose::body(&me, &req, NOW, NONCE) {
                signable(&body);
            }
        }
        1 => {
            let Ok(req) = serde_json::from_slice::<CaseRequest>(json) else {
                return;
            };
            let _ = case::payload(&req);
            if let Some(d) = &req.due {
                let _ = case::due(d);
            }
            if let Some(s) = &req.status {
                let _ = s.parse::<TaskStatus>();
            }
            for n in req.nodes.iter().chain(&req.to).chain(&req.assignee) {
                let _ = n.parse::<NodeId>();
            }
            let Ok(id) = case::case_id(req.id.as_deref().unwrap_or(CASE)) else {
                return;
            };
            if let Ok(body) = case::open_body(&me, std::slice::from_ref(&me), &id, &req, NOW, NONCE)
            {
                signable(&body);
            }
        }
        2 => {
            if let Ok(req) = serde_json::from_slice::<NodesRequest>(json) {
                let _ = req.nodes();
            }
        }
        3 => {
            let Ok(req) = serde_json::from_slice::<ConsentRequestAnswer>(json) else {
                return;
            };
            if let Some(at) = liaison_node::consent::grant_expiry(NOW, req.expires_in_secs) {
                assert!(at >= NOW, "a grant expires before it is given: {at:?}");
            }
        }
        _ => {
            let _ = serde_json::from_slice::<PurgeRequest>(json);
        }
    }
}

/// A body the node would sign encodes, and every peer decodes it to the same body.
fn signable(body: &Body) {
    let bytes = body
        .encode()
        .unwrap_or_else(|e| panic!("the node would sign a body it cannot encode: {e}"));
    let back = Body::decode(&bytes)
        .unwrap_or_else(|e| panic!("the node would sign a body peers refuse: {e}"));
    assert_eq!(&back, body, "the signed body decodes to another body");
}
