//! Outbound peer sessions: connect, keep the connection, stream the durable outbox in order,
//! and take receipts and refusals back; reconnect with capped exponential backoff and jitter.
//!
//! One task per configured peer, so a peer that is down never slows the others. When the
//! peer dials this node while its session is down, the backoff is cut short
//! ([`Sessions::dialled_in`](crate::core::Sessions::dialled_in)): a healed partition or a
//! restarted peer is served at once. A session sends from the start of the peer's outbox:
//! anything still there was not receipted, so after a reconnect it is sent again
//! (at-least-once; the receiver deduplicates). At most `limits.window` messages are in flight
//! without a receipt.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use liaison_protocol::limits::FRAME_HEADER_LEN;
use liaison_protocol::message::Kind;
use liaison_protocol::{Envelope, FrameDecoder, FrameType, MessageId, NodeId};
use ring::rand::SecureRandom;
use tokio::sync::{Mutex, Notify};

use crate::alarm::AlarmKind;
use crate::config::PeerConfig;
use crate::core::Ctx;
use crate::store::now;
use crate::wire::{code, FrameReader};

/// First reconnect delay.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest reconnect delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Why a session ended when its peer dialled in again while it was up.
pub(crate) const PEER_RESTARTED: &str =
    "peer-restarted: the peer dialled in again while the outbound connection to it was up";

/// Runs the session with one peer until the node shuts down.
pub(crate) async fn run(ctx: Arc<Ctx>, endpoint: quinn::Endpoint, peer: PeerConfig) {
    let mut backoff = BACKOFF_MIN;
    let wake = ctx.sessions.waker(&peer.node_id).unwrap_or_default();
    // Dial again without waiting: the last connection ended because the peer restarted.
    let mut immediate = false;
    loop {
        if ctx.cancel.is_cancelled() {
            return;
        }
        let trust = ctx.trust.store();
        let attempt = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            r = crate::endpoint::connect_as(
                &endpoint,
                Some(&ctx.me.for_peer(&peer.node_id).client),
                &trust,
                &peer.node_id,
                peer.address,
            ) => r,
        };
        match attempt {
            Ok(conn) => {
                tracing::info!(peer = %peer.node_id, "session up");
                let expires = crate::endpoint::peer_cert_der(&conn)
                    .and_then(|der| liaison_certs::facts::cert_facts(&der).ok())
                    .map(|f| f.not_after);
                ctx.sessions.set(&peer.node_id, |s| {
                    s.connected = true;
                    s.reconnecting = false;
                    s.certificate_expires = expires;
                    s.since = Some(now());
                    s.last_error = None;
                    s.sent = 0;
                    s.receipts = 0;
                });
                backoff = BACKOFF_MIN;
                // Tell the peer what it can reach through us and the sealing keys we know.
                if let Err(e) = crate::directory::announce(&ctx, &peer.node_id).await {
                    tracing::warn!(peer = %peer.node_id, error = %e, "cannot queue an announcement");
                }
                // Witnessing lives as long as the session, however that ends (also when this
                // task is aborted at shutdown: the handle aborts it on drop).
                let witnessing = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
                    crate::witness::offer_loop(ctx.clone(), conn.clone(), peer.node_id.clone()),
                ));
                // The CRLs in force, and each one newly in force, go to the peer.
                let crls = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
                    crate::trust::offer_loop(ctx.clone(), conn.clone(), peer.node_id.clone()),
                ));
                // A restart of the peer noticed since this connection was established ends it at once.
                let mut restarts = ctx.sessions.restarts(&peer.node_id);
                if let Some(r) = restarts.as_mut() {
                    r.borrow_and_update();
                }
                let restarted = async {
                    match restarts.as_mut() {
                        Some(r) => {
                            let _ = r.changed().await;
                        }
                        None => std::future::pending().await,
                    }
                };
                let why = tokio::select! {
                    why = session(&ctx, &conn, &peer.node_id) => why,
                    e = crate::trust::refused(&ctx, &conn) => {
                        crate::trust::close_refused(&conn, &peer.node_id, &e);
                        Some(format!("{}: {e}", e.reason_code()))
                    }
                    () = restarted => {
                        tracing::info!(peer = %peer.node_id, "the peer dialled in again while the outbound connection to it was up: it restarted; reconnecting");
                        immediate = true;
                        Some(PEER_RESTARTED.to_owned())
                    }
                };
                // A stateless reset comes from the peer's endpoint when it no longer knows the
                // connection: it restarted (`endpoint::RestartKeys`), and is up.
                if matches!(conn.close_reason(), Some(quinn::ConnectionError::Reset)) {
                    immediate = true;
                }
                drop(witnessing);
                drop(crls);
                conn.close(code::OK.into(), b"bye");
                ctx.sessions.set(&peer.node_id, |s| {
                    s.connected = false;
                    s.reconnecting = immediate;
                    s.since = Some(now());
                    s.last_error = why.clone();
                });
                if let Some(why) = why {
                    tracing::info!(peer = %peer.node_id, reason = %why, "session down");
                }
            }
            Err(e) => {
                let why = format!("{}: {e}", e.reason_code());
                tracing::debug!(peer = %peer.node_id, reason = %why, "cannot connect");
                ctx.sessions.set(&peer.node_id, |s| {
                    if s.connected || s.last_error.as_deref() != Some(&why) {
                        s.since = Some(now());
                    }
                    s.connected = false;
                    s.reconnecting = false;
                    s.last_error = Some(why);
                });
            }
        }
        if std::mem::take(&mut immediate) {
            backoff = BACKOFF_MIN;
            continue;
        }
        let delay = jittered(&ctx, backoff);
        backoff = (backoff * 2).min(BACKOFF_MAX);
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
            () = wake.notified() => {
                tracing::debug!(peer = %peer.node_id, "peer dialled in: reconnecting now");
                backoff = BACKOFF_MIN;
            }
        }
    }
}

/// Full jitter: a random delay between half of `d` and `d`.
fn jittered(ctx: &Ctx, d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    let _ = ctx;
    let frac = f64::from(u16::from_be_bytes(b)) / f64::from(u16::MAX);
    d.mul_f64(0.5 + 0.5 * frac)
}

/// In-flight bookkeeping shared by the sender and the receipt reader.
struct Window {
    in_flight: Mutex<HashSet<MessageId>>,
    freed: Notify,
}

/// One session on an established connection; returns why it ended (None on shutdown).
async fn session(ctx: &Arc<Ctx>, conn: &quinn::Connection, peer: &NodeId) -> Option<String> {
    let (mut send, recv) = match conn.open_bi().await {
        Ok(s) => s,
        Err(e) => return Some(format!("cannot open a stream: {e}")),
    };
    let window = Arc::new(Window {
        in_flight: Mutex::new(HashSet::new()),
        freed: Notify::new(),
    });
    let decoder = FrameDecoder::new(ctx.cfg.limits.max_frame);
    let mut reader = tokio::spawn(read_answers(
        ctx.clone(),
        peer.clone(),
        recv,
        window.clone(),
    ));
    let mut changed = ctx.store.outbox_watch(peer);
    let mut cursor = 0u64;
    let limit = ctx.cfg.limits.window;
    loop {
        // Mark the watch as seen before reading the outbox, so a commit after the read wakes us.
        changed.borrow_and_update();
        let room = limit.saturating_sub(window.in_flight.lock().await.len());
        let batch = if room == 0 {
            Vec::new()
        } else {
            match ctx.store.outbox(peer, cursor, room.min(512)) {
                Ok(b) => b,
                Err(e) => {
                    ctx.alarm(
                        AlarmKind::OutboxUnreadable,
                        peer.as_str(),
                        format!("cannot read the outbox of {peer}: {e:#}"),
                    );
                    Vec::new()
                }
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = ctx.cancel.cancelled() => {
                    let _ = send.finish();
                    reader.abort();
                    return None;
                }
                r = &mut reader => {
                    return Some(match r {
                        Ok(why) => why,
                        Err(e) => format!("receipt reader failed: {e}"),
                    });
                }
                _ = changed.changed() => {}
                _ = window.freed.notified() => {}
            }
            continue;
        }
        // The stored envelopes first, so the write buffer is allocated once at its size.
        let mut stored = Vec::with_capacity(batch.len());
        for (seq, id) in &batch {
            cursor = seq + 1;
            match ctx.store.envelope_to_send(id) {
                Ok(Some(b)) => stored.push((*id, b)),
                Ok(None) => {
                    tracing::warn!(peer = %peer, id = %id.short(), "outbox entry without a stored body; skipped");
                }
                // A damaged message is alarmed by the store itself, once per message; it stays
                // in the outbox, visibly, and the rest of the outbox goes on.
                Err(crate::store::StoreError::Damaged { .. }) => {}
                Err(e) => {
                    ctx.alarm(
                        AlarmKind::SendFailed,
                        &id.to_string(),
                        format!(
                            "cannot read message {} to send it to {peer}: {e}",
                            id.short()
                        ),
                    );
                }
            }
        }
        let mut buf = Vec::with_capacity(
            stored
                .iter()
                .map(|(_, b)| FRAME_HEADER_LEN + 1 + b.len())
                .sum(),
        );
        {
            let mut inf = window.in_flight.lock().await;
            for (id, bytes) in &stored {
                // Stored exactly as it goes on the wire (a relay stored its route with itself
                // added), so the bytes are framed as they are.
                match decoder.encode_into(FrameType::Envelope, bytes, &mut buf) {
                    Ok(()) => {
                        inf.insert(*id);
                    }
                    Err(e) => {
                        ctx.alarm(
                            AlarmKind::SendFailed,
                            &id.to_string(),
                            format!("message {} does not fit a frame: {e}", id.short()),
                        );
                    }
                }
            }
        }
        // Handed over as it is: quinn keeps the buffer instead of copying it.
        if let Err(e) = send.write_chunk(bytes::Bytes::from(buf)).await {
            reader.abort();
            return Some(format!("write failed: {e}"));
        }
        let n = batch.len() as u64;
        ctx.sessions.set(peer, |s| s.sent += n);
    }
}

/// Reads receipts and refusals from the peer; returns why it stopped.
async fn read_answers(
    ctx: Arc<Ctx>,
    peer: NodeId,
    mut recv: quinn::RecvStream,
    window: Arc<Window>,
) -> String {
    let decoder = FrameDecoder::new(ctx.cfg.limits.max_frame);
    let mut frames = FrameReader::default();
    loop {
        let (t, payload) = match frames.next(&mut recv, &decoder).await {
            Ok(Some(f)) => f,
            Ok(None) => return "peer closed the stream".into(),
            Err(e) => return format!("{}: {e}", e.reason_code()),
        };
        if t != FrameType::Envelope {
            continue;
        }
        let env = match Envelope::decode(&payload) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(peer = %peer, reason = e.reason_code(), "malformed answer from peer");
                continue;
            }
        };
        let trust = ctx.trust.store();
        let verified = tokio::task::spawn_blocking(move || env.signed.verify(&trust)).await;
        let v = match verified {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                tracing::warn!(peer = %peer, reason = e.reason_code(), error = %e, "answer does not verify; ignored");
                continue;
            }
            Err(e) => return format!("verifier failed: {e}"),
        };
        if v.originator() != &peer {
            tracing::warn!(peer = %peer, signer = %v.originator(), reason = "signer-mismatch", "answer signed by another node; ignored");
            continue;
        }
        let answer_id = v.id();
        let Some((event, outcome)) = crate::relay::answer_record(&v) else {
            tracing::warn!(peer = %peer, kind = v.body().kind.name(), "unexpected message on the answer stream; ignored");
            continue;
        };
        if let Kind::Refusal(r) = &v.body().kind {
            tracing::warn!(peer = %peer, id = %r.target.short(), reason = %r.reason_code, detail = %r.detail, "peer refused our message");
        }
        let ids: Vec<MessageId> = outcome.iter().map(|(id, _)| *id).collect();
        // Carrying the answer back to the originators of what we relayed, then recording it,
        // run to their end even if this reader is cancelled meanwhile (at shutdown the node
        // waits for them before it closes its store). The report is queued (durably) first: a
        // crash between the two leaves the answer unrecorded, so the message is handed on
        // again after the restart, answered again and reported again — a repeat the
        // originator recognises — where the other order would leave an answer recorded here
        // whose report is never sent. A node without relay rules relays nothing, and skips
        // the lookups.
        let recorded = ctx
            .finishing
            .spawn({
                let (ctx, peer, ids, signed) =
                    (ctx.clone(), peer.clone(), ids.clone(), v.signed().clone());
                async move {
                    if !ctx.cfg.relay.is_empty() {
                        crate::relay::report_answer(&ctx, &ids, &signed).await;
                    }
                    crate::crash_point::crash_point("relay-answer", || {
                        crate::relay::relays_content(&ctx, &ids)
                    });
                    if let Err(e) = ctx
                        .store
                        .hop_answer(event, peer.clone(), outcome, answer_id, payload)
                        .await
                    {
                        ctx.alarm(
                            AlarmKind::AnswerNotRecorded,
                            peer.as_str(),
                            format!("cannot record an answer from {peer}: {e}"),
                        );
                        return false;
                    }
                    true
                }
            })
            .await
            .unwrap_or(false);
        if !recorded {
            continue;
        }
        let mut inf = window.in_flight.lock().await;
        for id in &ids {
            inf.remove(id);
        }
        drop(inf);
        let n = ids.len() as u64;
        ctx.sessions.set(&peer, |s| s.receipts += n);
        window.freed.notify_one();
    }
}
