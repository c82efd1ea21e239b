//! Witnessing over the peer connections (protocol: [`liaison_protocol::witness`]).
//!
//! **As a log owner**, each outbound session offers the peer every checkpoint this node signs
//! (and the last one when the session comes up), on a stream of its own, with a consistency
//! proof from the last checkpoint that peer cosigned. A cosignature is verified with the
//! peer's certificate key and kept with the checkpoint ([`crate::store::Store::add_cosignature`]);
//! the peer's certificate is kept in `<data>/certs/witness-*.pem` so auditors can check it.
//!
//! **As a witness**, the node keeps, per peer, the last checkpoint of that peer's log it
//! cosigned (`<data>/witness/<node>.note`, durable before the cosignature leaves). A checkpoint
//! that does not extend it — a shorter log, another root for the same size, a proof that
//! fails — is refused with `inconsistent-checkpoint`, raised as an alarm (logged, in
//! `liaison status`, and a log entry), and both signed checkpoints are kept as evidence in
//! `<data>/witness/<node>.evidence-<ms>.txt`. Evidence files raise the alarm again at start-up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use liaison_protocol::checkpoint::{log_origin, open_checkpoint, Checkpoint, NoteVerifier};
use liaison_protocol::log::Event;
use liaison_protocol::witness::{judge, Verdict, WitnessReply, WitnessRequest};
use liaison_protocol::{FrameDecoder, FrameType, NodeId};

use crate::alarm::AlarmKind;
use crate::core::Ctx;
use crate::error::{fail, NodeError, Result};
use crate::refusal::Refusal;
use crate::store::{checkpoint, now};
use crate::wire::{code, FrameReader};

/// Directory in the data dir with what this node witnessed of its peers' logs.
pub(crate) const DIR: &str = "witness";
/// Most request/answer rounds on one witnessing stream (a request, a proof from another size).
const ROUNDS: usize = 3;

fn state_path(data_dir: &Path, peer: &NodeId) -> PathBuf {
    data_dir.join(DIR).join(format!("{peer}.note"))
}

/// The checkpoint a note states (its signatures are not checked here).
fn checkpoint_in(note: &str) -> Option<Checkpoint> {
    let (body, _) = note.split_once("\n\n")?;
    Checkpoint::parse_body(&format!("{body}\n")).ok()
}

/// The Ed25519 key of a connection's peer certificate (checked at the handshake), and the
/// certificate.
pub(crate) fn peer_key(
    trust: &liaison_protocol::TrustStore,
    conn: &quinn::Connection,
) -> Result<([u8; 32], Vec<u8>)> {
    let der = crate::endpoint::peer_cert_der(conn)
        .ok_or_else(|| NodeError::failed("no peer certificate"))?;
    let c = trust
        .certify(&der)
        .map_err(|e| NodeError::failed(format_args!("peer certificate: {e}")))?;
    Ok((c.public_key, der))
}

/// Whether evidence against `peer` is already kept.
fn has_evidence(data_dir: &Path, peer: &NodeId) -> bool {
    let prefix = format!("{peer}.evidence-");
    std::fs::read_dir(data_dir.join(DIR)).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
    })
}

/// Raises again, at start-up, the alarm of every evidence file kept.
pub(crate) fn raise_kept_alarms(data_dir: &Path, alarms: &crate::alarm::Alarms) {
    let dir = data_dir.join(DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(".evidence-"))
        .collect();
    files.sort();
    for f in files {
        let peer = f
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .split(".evidence-")
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .unwrap_or_default();
        alarms.raise(
            AlarmKind::PeerRewroteHistory,
            &peer,
            format!(
                "a peer presented an inconsistent checkpoint; evidence kept in {}",
                f.display()
            ),
            now(),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Log owner

/// Offers `peer` every checkpoint this node signs while the connection lasts.
pub(crate) async fn offer_loop(ctx: Arc<Ctx>, conn: quinn::Connection, peer: NodeId) {
    // The log's checkpoints are signed by the main identity; a peer that knows this node by
    // another membership (a gateway's second network) cannot check them.
    if ctx.me.for_peer(&peer).signer.node() != ctx.me.id() {
        tracing::debug!(peer = %peer, "not offering checkpoints: the peer knows this node by another identity");
        return;
    }
    let (key, der) = match peer_key(&ctx.trust.store(), &conn) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(peer = %peer, error = %e, "cannot witness with this peer");
            return;
        }
    };
    if let Err(e) = checkpoint::keep_cert_as(&ctx.cfg.data_dir, "witness", &der) {
        ctx.alarm(
            AlarmKind::WitnessNotKept,
            peer.as_str(),
            format!("cannot keep the certificate of witness {peer}: {e:#}"),
        );
    }
    let verifier = match NoteVerifier::new(&log_origin(&peer), key) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(peer = %peer, error = %e, "cannot witness with this peer");
            return;
        }
    };
    let mut signed = ctx.store.checkpoint_watch();
    // What this peer cosigned last, as far as this run knows (0: nothing yet).
    let mut cosigned = 0u64;
    let mut refused_before = false;
    // After a failed exchange, when to offer the same checkpoint again: the next checkpoint is
    // signed only once the log grows, which may be long on a quiet node, and a witness that
    // failed once should not leave the last one uncosigned meanwhile.
    let mut retry: Option<Duration> = None;
    loop {
        if let Some(note) = ctx.store.last_checkpoint() {
            match offer(
                &ctx,
                &conn,
                &peer,
                &verifier,
                &note,
                cosigned,
                &mut refused_before,
            )
            .await
            {
                Ok(Offered::Cosigned(size)) => {
                    cosigned = size;
                    retry = None;
                }
                // A witness that cannot keep its state now may later: asked again. Any other
                // refusal is its answer, which asking again would only repeat.
                Ok(Offered::Refused { transient }) => {
                    retry = transient.then(|| next_wait(retry));
                }
                Err(e) => {
                    let wait = next_wait(retry);
                    retry = Some(wait);
                    tracing::info!(peer = %peer, error = %format!("{e:#}"), retry_in_ms = wait.as_millis() as u64, "checkpoint not cosigned");
                }
            }
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = conn.closed() => return,
            r = signed.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(retry.unwrap_or(RETRY_MAX)), if retry.is_some() => {}
        }
    }
}

/// The first wait before a failed witnessing exchange is tried again; it doubles each time.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between tries of one checkpoint.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// The wait before the next try, after `last` (none: the first failure).
fn next_wait(last: Option<Duration>) -> Duration {
    last.map_or(RETRY_FIRST, |w| (w * 2).min(RETRY_MAX))
}

/// How a witnessing exchange ended, when it ended with an answer.
enum Offered {
    /// The peer cosigned a checkpoint of this size.
    Cosigned(u64),
    /// The peer refused to cosign (logged here); `transient` when it could not keep its
    /// state (`witness-unavailable`), and may accept the same checkpoint later.
    Refused {
        /// Worth asking again.
        transient: bool,
    },
}

/// One witnessing exchange.
async fn offer(
    ctx: &Ctx,
    conn: &quinn::Connection,
    peer: &NodeId,
    verifier: &NoteVerifier,
    note: &str,
    mut old_size: u64,
    refused_before: &mut bool,
) -> Result<Offered> {
    let cp =
        checkpoint_in(note).ok_or_else(|| NodeError::failed("our checkpoint does not parse"))?;
    let (mut send, mut recv) = conn.open_bi().await.map_err(NodeError::failed)?;
    let decoder = FrameDecoder::new(ctx.cfg.limits.max_frame);
    let mut frames = FrameReader::default();
    for _ in 0..ROUNDS {
        let proof = if old_size == 0 || old_size > cp.size() {
            old_size = 0;
            vec![]
        } else {
            // The store reads every leaf since `old_size` from the journal (once per checkpoint
            // and old size; the other witnesses get the kept proof): off the runtime's threads.
            let (store, new_size) = (ctx.store.clone(), cp.size());
            tokio::task::spawn_blocking(move || store.consistency_proof(old_size, new_size))
                .await
                .map_err(NodeError::failed)??
        };
        let req = WitnessRequest {
            note: note.to_owned(),
            old_size,
            proof,
        };
        let frame = decoder
            .encode(FrameType::WitnessRequest, &req.encode())
            .map_err(NodeError::failed)?;
        send.write_all(&frame).await.map_err(NodeError::failed)?;
        let Some((FrameType::WitnessReply, payload)) = frames
            .next(&mut recv, &decoder)
            .await
            .map_err(NodeError::failed)?
        else {
            fail!("{peer} did not answer with a witness reply");
        };
        match WitnessReply::decode(&payload).map_err(NodeError::failed)? {
            WitnessReply::Cosigned { note: cosigned } => {
                let _ = send.finish();
                if checkpoint::body_of(&cosigned) != checkpoint::body_of(note) {
                    fail!("{peer} cosigned another checkpoint than the one offered");
                }
                // Keep only the peer's own signature line: a witness vouches for itself only.
                let mine = format!("— {} ", verifier.name());
                let mut kept = note.to_owned();
                for line in checkpoint::signature_lines(&cosigned) {
                    if line.starts_with(&mine)
                        && !checkpoint::signature_lines(&kept).contains(&line)
                    {
                        kept.push_str(line);
                        kept.push('\n');
                    }
                }
                let opened =
                    open_checkpoint(&kept, std::slice::from_ref(verifier)).map_err(|e| {
                        NodeError::failed(format_args!("{peer}'s cosignature does not verify: {e}"))
                    })?;
                if !opened.is_signed_by(verifier) {
                    fail!("{peer} answered without its cosignature");
                }
                ctx.store.add_cosignature(kept).await?;
                tracing::debug!(peer = %peer, size = cp.size(), "checkpoint cosigned");
                return Ok(Offered::Cosigned(cp.size()));
            }
            WitnessReply::NeedProof { from } => {
                // The witness cosigned a checkpoint of `from` entries: a log shorter than that
                // lost entries this node had published.
                if from > ctx.store.log_size() && !*refused_before {
                    *refused_before = true;
                    ctx.alarm(
                        AlarmKind::LogRolledBack,
                        peer.as_str(),
                        format!(
                            "ALARM: witness {peer} cosigned a checkpoint of {from} entries of \
                             this node's log, which now holds only {}: the store was rolled \
                             back (restored from an old copy?) and messages acknowledged before \
                             may be missing here",
                            ctx.store.log_size()
                        ),
                    );
                }
                old_size = from
            }
            WitnessReply::Refused {
                reason_code,
                detail,
            } => {
                let _ = send.finish();
                // Alarmed once per session with this witness, not at every checkpoint.
                let why = Refusal::from_code(&reason_code, detail.clone());
                if matches!(why, Some(Refusal::InconsistentCheckpoint(_))) && !*refused_before {
                    *refused_before = true;
                    ctx.alarm(
                        AlarmKind::LogRolledBack,
                        peer.as_str(),
                        format!(
                            "ALARM: witness {peer} refuses this node's checkpoint of {} entries \
                             as inconsistent with one it cosigned earlier: {detail}. This \
                             node's store was rolled back or rewritten since (restored from an \
                             old copy?): messages acknowledged before may be missing here",
                            cp.size()
                        ),
                    );
                }
                tracing::info!(peer = %peer, reason = %reason_code, detail = %detail, "checkpoint not cosigned: the witness refused it");
                return Ok(Offered::Refused {
                    transient: matches!(why, Some(Refusal::WitnessUnavailable(_))),
                });
            }
        }
    }
    fail!("{peer} kept asking for other proofs")
}

// ---------------------------------------------------------------------------------------
// Witness

/// Serves a witnessing stream from `peer` whose first frame (a request) is `first`, read
/// through `frames` (which may already hold the start of the next one).
pub(crate) async fn serve(
    ctx: Arc<Ctx>,
    peer: NodeId,
    peer_key: [u8; 32],
    (mut send, mut recv): (quinn::SendStream, quinn::RecvStream),
    mut frames: crate::wire::FrameReader,
    first: Vec<u8>,
) {
    let decoder = FrameDecoder::new(ctx.cfg.limits.max_frame);
    let mut payload = first;
    for _ in 0..ROUNDS {
        let reply = match WitnessRequest::decode(&payload) {
            Ok(req) => judge_request(&ctx, &peer, peer_key, req).await,
            Err(e) => {
                tracing::warn!(peer = %peer, reason = e.reason_code(), error = %e, "bad witness request: resetting stream");
                let _ = send.reset(code::BAD_FRAME.into());
                return;
            }
        };
        let done = !matches!(reply, WitnessReply::NeedProof { .. });
        let Ok(frame) = decoder.encode(FrameType::WitnessReply, &reply.encode()) else {
            return;
        };
        if send.write_all(&frame).await.is_err() || done {
            let _ = send.finish();
            return;
        }
        payload = match frames.next(&mut recv, &decoder).await {
            Ok(Some((FrameType::WitnessRequest, p))) => p,
            _ => return,
        };
    }
}

fn refused(why: Refusal) -> WitnessReply {
    WitnessReply::Refused {
        reason_code: why.reason_code().into(),
        detail: why.detail(),
    }
}

async fn judge_request(
    ctx: &Ctx,
    peer: &NodeId,
    peer_key: [u8; 32],
    req: WitnessRequest,
) -> WitnessReply {
    let origin = log_origin(peer);
    let verifier = match NoteVerifier::new(&origin, peer_key) {
        Ok(v) => v,
        Err(e) => return refused(Refusal::BadKey(e.to_string())),
    };
    let mut signed = match open_checkpoint(&req.note, std::slice::from_ref(&verifier)) {
        Ok(s) => s,
        Err(e) => return refused(Refusal::from(e).at("the checkpoint does not verify")),
    };
    if signed.checkpoint().origin() != origin {
        return refused(Refusal::WrongOrigin(format!(
            "{peer} may only present its own log ({origin})"
        )));
    }
    // One witnessing decision at a time, so two streams cannot both pass the same state.
    let _one = ctx.witness_lock.lock().await;
    let path = state_path(&ctx.cfg.data_dir, peer);
    let last_note = match std::fs::read_to_string(&path) {
        Ok(n) => Some(n),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            let why = format!("cannot read {}: {e}", path.display());
            ctx.alarm(AlarmKind::WitnessStateNotKept, peer.as_str(), why.clone());
            return refused(Refusal::WitnessUnavailable(why));
        }
    };
    let last = last_note.as_deref().and_then(checkpoint_in);
    match judge(last.as_ref(), signed.checkpoint(), req.old_size, &req.proof) {
        Verdict::Cosign => {
            // Signed as the identity this peer knows (a gateway has one per network).
            let me = &ctx.me.for_peer(peer).signer;
            if let Err(e) = signed.add_signature(&log_origin(me.node()), me.key()) {
                return refused(Refusal::WitnessUnavailable(e.to_string()));
            }
            let cosigned = signed.encode();
            // Durable before the cosignature leaves: a restart must remember what it vouched for.
            if let Err(e) = crate::files::write_durably(&path, &cosigned) {
                let why = format!("{e:#}");
                ctx.alarm(AlarmKind::WitnessStateNotKept, peer.as_str(), why.clone());
                return refused(Refusal::WitnessUnavailable(why));
            }
            WitnessReply::Cosigned { note: cosigned }
        }
        Verdict::NeedProof(from) => WitnessReply::NeedProof { from },
        Verdict::Inconsistent(why) => {
            // The first evidence is kept and alarmed; the peer offers again at every
            // checkpoint, and those repeats are refused without another file, entry or alarm.
            if has_evidence(&ctx.cfg.data_dir, peer) {
                return refused(Refusal::InconsistentCheckpoint(why));
            }
            let evidence = ctx
                .cfg
                .data_dir
                .join(DIR)
                .join(format!("{peer}.evidence-{}.txt", now().millis()));
            let text = format!(
                "{peer} presented a checkpoint inconsistent with the one this node cosigned: {why}\n\n\
                 === cosigned earlier ===\n{}\n=== presented at {} ===\n{}",
                last_note.unwrap_or_default(),
                now(),
                req.note
            );
            let kept = crate::files::create_durably(&evidence, &text);
            ctx.alarm(
                AlarmKind::PeerRewroteHistory,
                peer.as_str(),
                format!(
                    "ALARM: {peer} presented a rewritten history: {why}; evidence {}",
                    match &kept {
                        Ok(()) => format!("kept in {}", evidence.display()),
                        Err(e) => format!("NOT kept ({e})"),
                    }
                ),
            );
            let _ = ctx
                .store
                .record(Event::Admin {
                    act: "witness-alarm".into(),
                    detail: format!("{peer}: {why}"),
                })
                .await;
            refused(Refusal::InconsistentCheckpoint(why))
        }
    }
}
