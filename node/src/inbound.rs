//! Serving peers: the accept loop, and the processing of messages arriving on a stream.
//!
//! Per stream, a reader task turns bytes into frames; the processor takes every frame that
//! is waiting (up to a batch), verifies them on the blocking pool in two halves (both cores),
//! checks clock skew, addressing and handling rules, offers them to the store together (one
//! group commit), and only when that is durable signs **one** receipt for the batch and
//! writes it back on the same stream. A message that fails any check gets a signed
//! `Refusal` with its reason code, and a `refused` log entry. A malformed frame resets that
//! stream with an error code; the connection and the node go on.

use crate::store::{Offer, Stored};
use std::sync::Arc;
use std::time::Duration;

use liaison_protocol::log::{Event, MessageFacts};
use liaison_protocol::message::{Kind, ReceiptStatus};
use liaison_protocol::{Envelope, FrameDecoder, FrameType, MessageId, NodeId, VerifiedMessage};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::alarm::AlarmKind;
use crate::core::Ctx;
use crate::refusal::Refusal;
use crate::store::now;
use crate::wire::{code, FrameReader, ReadError};

/// Most messages processed as one batch (one group commit, one receipt signature).
const BATCH: usize = 1024;

/// Accepts connections until cancelled; each connection is served by its own task, up to
/// `limits.max_connections`.
pub(crate) async fn accept_loop(ctx: Arc<Ctx>, endpoint: quinn::Endpoint) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                if conns.len() >= ctx.cfg.limits.max_connections {
                    tracing::warn!(remote = %incoming.remote_address(), reason = "busy", "connection refused: too many connections");
                    incoming.refuse();
                    continue;
                }
                let ctx = ctx.clone();
                conns.spawn(async move {
                    let remote = incoming.remote_address();
                    let allowed = |n: &NodeId| ctx.sessions.ids().contains(n);
                    match crate::endpoint::accept(incoming, &ctx.trust.store(), allowed).await {
                        Ok((conn, peer)) => {
                            let ctx2 = ctx.clone();
                            let _open = ctx2.sessions.dialled_in(&peer);
                            let span = tracing::info_span!("peer", peer = %peer, dir = "in");
                            let _e = span.enter();
                            tracing::info!(%remote, "peer connected");
                            drop(_e);
                            serve_connection(ctx, conn, peer).await;
                        }
                        Err(e) => tracing::warn!(%remote, reason = e.reason_code(), error = %e, "handshake refused"),
                    }
                });
            }
        }
    }
    conns.shutdown().await;
}

/// Serves the streams a peer opens on one connection.
async fn serve_connection(ctx: Arc<Ctx>, conn: quinn::Connection, peer: NodeId) {
    let mut streams = JoinSet::new();
    // Checked at the handshake; needed to check the peer's checkpoints.
    let peer_key = crate::witness::peer_key(&ctx.trust.store(), &conn)
        .ok()
        .map(|(k, _)| k);
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => {
                conn.close(code::SHUTDOWN.into(), b"shutdown");
                break;
            }
            Some(_) = streams.join_next(), if !streams.is_empty() => {}
            e = crate::trust::refused(&ctx, &conn) => {
                crate::trust::close_refused(&conn, &peer, &e);
                break;
            }
            s = conn.accept_bi() => match s {
                Ok((send, recv)) => {
                    streams.spawn(serve_stream(ctx.clone(), peer.clone(), peer_key, send, recv));
                }
                Err(e) => {
                    tracing::info!(peer = %peer, reason = %e, "peer connection closed");
                    break;
                }
            }
        }
    }
    streams.shutdown().await;
}

/// One frame or the reason reading stopped.
enum Incoming {
    Frame(FrameType, Vec<u8>),
    Bad(ReadError),
}

async fn serve_stream(
    ctx: Arc<Ctx>,
    peer: NodeId,
    peer_key: Option<[u8; 32]>,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    let decoder = FrameDecoder::new(ctx.cfg.limits.max_frame);
    // The first frame says what the stream is for: messages, a checkpoint to witness, or CRLs.
    let mut frames = FrameReader::default();
    let first = match frames.next(&mut recv, &decoder).await {
        Ok(Some((FrameType::WitnessRequest, p))) => match peer_key {
            Some(key) => {
                return crate::witness::serve(ctx, peer, key, (send, recv), frames, p).await
            }
            None => return,
        },
        Ok(Some((FrameType::Crl, p))) => {
            return crate::trust::serve(ctx, peer, (send, recv), frames, p).await
        }
        Ok(Some((t, p))) => Incoming::Frame(t, p),
        Ok(None) => return,
        Err(e) => {
            if matches!(e, ReadError::Bad(_)) {
                let _ = recv.stop(code::BAD_FRAME.into());
            }
            Incoming::Bad(e)
        }
    };
    let (tx, mut rx) = mpsc::channel::<Incoming>(BATCH);
    let stop_reading = matches!(first, Incoming::Bad(_));
    let _ = tx.try_send(first);
    let reader = tokio::spawn(async move {
        if stop_reading {
            return;
        }
        loop {
            match frames.next(&mut recv, &decoder).await {
                Ok(Some((t, p))) => {
                    if tx.send(Incoming::Frame(t, p)).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    if matches!(e, ReadError::Bad(_)) {
                        let _ = recv.stop(code::BAD_FRAME.into());
                    }
                    let _ = tx.send(Incoming::Bad(e)).await;
                    break;
                }
            }
        }
    });
    // Stage 2 (storer): stores batch k and writes its receipt while stage 1 verifies k+1.
    let (stx, mut srx) = mpsc::channel::<(Vec<Accepted>, Vec<Refuse>, Option<ReadError>)>(2);
    let storer = {
        let (ctx, peer) = (ctx.clone(), peer.clone());
        tokio::spawn(async move {
            while let Some((accepts, refusals, bad)) = srx.recv().await {
                let out = finish(&ctx, &peer, accepts, refusals).await;
                for frame in out {
                    if let Err(e) = send.write_all(&frame).await {
                        tracing::info!(peer = %peer, error = %e, "cannot write to peer stream");
                        return;
                    }
                }
                if let Some(e) = bad {
                    match &e {
                        ReadError::Bad(d) => {
                            tracing::warn!(peer = %peer, reason = e.reason_code(), error = %e, "bad frame: resetting stream");
                            let _ = ctx
                                .store
                                .record(Event::Refused {
                                    id: None,
                                    msg: None,
                                    peer: peer.clone(),
                                    reason_code: d.reason_code().into(),
                                })
                                .await;
                            let _ = send.reset(code::BAD_FRAME.into());
                            return;
                        }
                        ReadError::Stream(_) => {
                            tracing::debug!(peer = %peer, error = %e, "peer stream ended");
                            break;
                        }
                    }
                }
            }
            let _ = send.finish();
        })
    };
    let mut limiter = RateLimiter::new(ctx.cfg.limits.peer_messages_per_sec);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let first = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            m = rx.recv() => match m { Some(m) => m, None => break },
        };
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut frames = Vec::with_capacity(batch.len());
        let mut bad = None;
        for m in batch.drain(..) {
            match m {
                Incoming::Frame(t, p) => frames.push((t, p)),
                Incoming::Bad(e) => bad = Some(e),
            }
        }
        limiter.take(frames.len()).await;
        let (accepts, refusals) = prepare(&ctx, &peer, frames).await;
        let stop = bad.is_some();
        if stx.send((accepts, refusals, bad)).await.is_err() || stop {
            break;
        }
    }
    drop(stx);
    let _ = storer.await;
    reader.abort();
}

/// A refusal to send back and log.
struct Refuse {
    id: MessageId,
    facts: Option<MessageFacts>,
    why: Refusal,
}

/// Verifies, checks and stores a batch; returns the frames to write back (one receipt for
/// everything stored or already known, one refusal per refused message).
async fn prepare(
    ctx: &Arc<Ctx>,
    peer: &NodeId,
    frames: Vec<(FrameType, Vec<u8>)>,
) -> (Vec<Accepted>, Vec<Refuse>) {
    let mut refusals = Vec::new();
    let mut envelopes = Vec::with_capacity(frames.len());
    for (t, payload) in frames {
        // A message stream carries envelopes only; witnessing has streams of its own.
        if t != FrameType::Envelope {
            refusals.push(Refuse {
                id: MessageId([0; 32]),
                facts: None,
                why: Refusal::UnexpectedFrame(format!("a {t:?} frame on a message stream")),
            });
            continue;
        }
        match Envelope::decode(&payload) {
            Ok(env) => envelopes.push((env, payload)),
            Err(e) => refusals.push(Refuse {
                id: MessageId([0; 32]),
                facts: None,
                why: e.into(),
            }),
        }
    }
    // Verify on both cores: split the batch in two halves on the blocking pool.
    let verified = verify_all(ctx, envelopes).await;
    let t = now();
    let skew = ctx.cfg.limits.clock_skew_secs.saturating_mul(1000);
    let mut accepts = Vec::with_capacity(verified.len());
    // Case messages accepted so far in this batch (opened), for the next ones' checks.
    let mut case_batch: Vec<(MessageId, liaison_protocol::Body)> = Vec::new();
    for (route, bytes, result) in verified {
        let v = match result {
            Ok(v) => v,
            Err((id, e)) => {
                refusals.push(Refuse {
                    id,
                    facts: None,
                    why: e.into(),
                });
                continue;
            }
        };
        let body = v.body();
        let facts = MessageFacts::of(v.id(), body);
        let created = body.header.created_at.millis();
        if created.abs_diff(t.millis()) > skew {
            tracing::warn!(peer = %peer, id = %v.id().short(), created_at = %body.header.created_at, now = %t, "clock skew beyond bound");
            refusals.push(Refuse {
                id: v.id(),
                facts: Some(facts),
                why: Refusal::ClockSkew(format!(
                    "created at {} but this node's clock says {} (bound ±{} s)",
                    body.header.created_at, t, ctx.cfg.limits.clock_skew_secs
                )),
            });
            continue;
        }
        if matches!(body.kind, Kind::Receipt(_)) {
            refusals.push(Refuse {
                id: v.id(),
                facts: Some(facts),
                why: Refusal::UnexpectedKind(
                    "receipts travel back on the stream that carried the message".into(),
                ),
            });
            continue;
        }
        if matches!(body.kind, Kind::Announce(_)) && v.originator() != peer {
            refusals.push(Refuse {
                id: v.id(),
                facts: Some(facts),
                why: Refusal::ForgedAnnouncement(format!(
                    "an announcement signed by {} arrived from {peer}; a node announces only for itself",
                    v.originator()
                )),
            });
            continue;
        }
        let routed = crate::relay::route_incoming(ctx, body, peer, &route, t);
        if routed.is_refusal() {
            let why = routed
                .refused
                .first()
                .map(|(_, _, why)| why.clone())
                .unwrap_or_else(|| Refusal::NotARecipient(String::new()));
            refusals.push(Refuse {
                id: v.id(),
                facts: Some(facts),
                why,
            });
            continue;
        }
        // A case message for this node passes the case's rules as this node holds the case;
        // a deconfliction submission is opened by the service.
        // A case message its originator forwarded (a share of it) is checked and counted as
        // the original.
        let content = body.kind.content_kind();
        let forwarded = crate::case::forwards(body).filter(|_| routed.deliver);
        let counts_as = forwarded.unwrap_or(v.id());
        let opened = if routed.deliver
            && (body.header.case.is_some() && content.is_some_and(crate::kinds::acts_on_case)
                || forwarded.is_some()
                || content.is_some_and(crate::kinds::indexed_by_deconfliction)
                    && ctx.deconfliction.get().is_some())
        {
            Some(crate::sealing::open_body(&ctx.keys, body.clone()).0)
        } else {
            None
        };
        if let Some(clear) = opened.as_ref().filter(|b| b.kind.is_case()) {
            // Bringing the case up to date reads and opens the messages stored since its last
            // use (all of them on first use): off the async workers (the batch so far goes
            // along and comes back; case messages are few).
            let checked = {
                let (ctx, id, clear) = (ctx.clone(), counts_as, clear.clone());
                let batch = std::mem::take(&mut case_batch);
                tokio::task::spawn_blocking(move || {
                    let r = crate::case::check_incoming(&ctx, id, &clear, &batch);
                    (r, batch)
                })
                .await
            };
            let checked = match checked {
                Ok((r, batch)) => {
                    case_batch = batch;
                    r
                }
                Err(e) => Err(Refusal::Internal(format!("case check failed: {e}"))),
            };
            if let Err(why) = checked {
                refusals.push(Refuse {
                    id: v.id(),
                    facts: Some(facts),
                    why,
                });
                continue;
            }
            case_batch.push((counts_as, clear.clone()));
        }
        let case_message = opened
            .as_ref()
            .filter(|b| b.kind.is_case())
            .and_then(|b| Some((b.header.case.clone()?, counts_as, b.clone())));
        let selectors = opened.filter(|b| matches!(b.kind, Kind::Selectors(_)));
        // A hop report for this node goes to the trail, an announcement to the routes and the
        // key directory; neither to the inbox.
        let carried = match &body.kind {
            Kind::HopReport(r) if routed.deliver => crate::relay::carried_answers(ctx, r, peer),
            _ => Vec::new(),
        };
        let announce = match &body.kind {
            Kind::Announce(a) if routed.deliver => Some(a.clone()),
            _ => None,
        };
        let inbox = routed.deliver && crate::kinds::in_inbox(&body.kind);
        accepts.push(Accepted {
            offer: Offer {
                stored: Stored {
                    bytes,
                    route: route.clone(),
                },
                facts,
                deliver: routed.deliver,
                inbox,
                next_hops: routed.next_hops,
            },
            refused: routed.refused,
            carried,
            announce,
            selectors,
            case_message,
        });
    }

    (accepts, refusals)
}

/// A message `prepare` accepted, with what else it brought.
struct Accepted {
    offer: Offer,
    /// Copies refused at this hop (reported back to the originator).
    refused: Vec<(NodeId, String, Refusal)>,
    /// Answers a hop report carried to this node.
    carried: Vec<crate::relay::Carried>,
    /// A route announcement from the peer.
    announce: Option<liaison_protocol::routing::Announcement>,
    /// A deconfliction submission to this node's service (opened).
    selectors: Option<liaison_protocol::Body>,
    /// A case message delivered here that passed its case's check, opened, with its case and
    /// the id it counts as (its own, or the original's if it forwards one).
    case_message: Option<(liaison_protocol::CaseId, MessageId, liaison_protocol::Body)>,
}

/// Stores what `prepare` accepted and answers: one receipt per status (`delivered` for
/// what reached a recipient here, `relayed` for what only goes on), one refusal per refused
/// message; then records carried answers and reports copies refused here.
async fn finish(
    ctx: &Arc<Ctx>,
    peer: &NodeId,
    accepts: Vec<Accepted>,
    refusals: Vec<Refuse>,
) -> Vec<Vec<u8>> {
    let decoder = FrameDecoder::new(ctx.cfg.limits.max_frame);
    // Sign the receipts first, then log the messages and the receipts in one group commit;
    // the receipts leave only once all are durable.
    let mut out = Vec::new();
    if !accepts.is_empty() {
        let mut delivered: Vec<MessageId> = Vec::new();
        let mut relayed: Vec<MessageId> = Vec::new();
        for a in &accepts {
            if a.offer.deliver {
                delivered.push(a.offer.facts.id);
            } else {
                relayed.push(a.offer.facts.id);
            }
        }
        let mut receipts = Vec::new();
        let mut frames = Vec::new();
        for (status, mut ids) in [
            (ReceiptStatus::Delivered, delivered),
            (ReceiptStatus::Relayed, relayed),
        ] {
            if ids.is_empty() {
                continue;
            }
            ids.sort();
            ids.dedup();
            match ctx.me.receipt(peer, status, ids.clone()) {
                Ok((receipt, receipt_id)) => {
                    let event = Event::ReceiptSent {
                        receipt: receipt_id,
                        to: peer.clone(),
                        status,
                        ids,
                    };
                    // Kept beside its log entry: what this node signed to have received.
                    let bytes = Envelope {
                        signed: receipt,
                        route: vec![],
                    }
                    .encode();
                    if let Ok(f) = decoder.encode(FrameType::Envelope, &bytes) {
                        frames.push(f);
                    }
                    receipts.push((event, bytes));
                }
                Err(e) => ctx.alarm(
                    AlarmKind::AnswerNotSent,
                    peer.as_str(),
                    format!("cannot sign a receipt: {e:#}"),
                ),
            }
        }
        if receipts.len() == frames.len() && !receipts.is_empty() {
            let mut offers = Vec::with_capacity(accepts.len());
            let mut after = Vec::new();
            let mut announcements = Vec::new();
            let mut submissions = Vec::new();
            let mut case_messages = Vec::new();
            for a in accepts {
                if let Some((case, counts_as, body)) = a.case_message {
                    case_messages.push((case, a.offer.facts.id, counts_as, body));
                }
                submissions.extend(a.selectors.clone());
                if !a.refused.is_empty() || !a.carried.is_empty() {
                    after.push((
                        a.offer.facts.clone(),
                        a.offer.stored.route.clone(),
                        a.refused,
                        a.carried,
                    ));
                }
                announcements.extend(a.announce);
                offers.push(a.offer);
            }
            match ctx
                .store
                .accept_many_with_receipt(offers, peer, receipts)
                .await
            {
                Ok(()) => {
                    out.extend(frames);
                    // Durable now: the cases this node holds take them without reading them.
                    let mut joined: Vec<liaison_protocol::CaseId> = Vec::new();
                    let mut removed: Vec<liaison_protocol::CaseId> = Vec::new();
                    for (case, id, counts_as, body) in case_messages {
                        if matches!(&body.kind, Kind::CaseRemove { participant, .. } if ctx.me.is_me(participant))
                            && !removed.contains(&case)
                        {
                            removed.push(case.clone());
                        }
                        if crate::case::may_owe_forwards(&body.kind) && !joined.contains(&case) {
                            joined.push(case.clone());
                        }
                        ctx.cases.stored(&case, id, counts_as, body);
                    }
                    if !removed.is_empty() {
                        // This node no longer takes part: what reached it written after that
                        // is deleted (off this stream's path).
                        let ctx = ctx.clone();
                        tokio::spawn(async move {
                            for case in removed {
                                if let Err(e) = crate::case::purge_after_removal(&ctx, &case).await
                                {
                                    tracing::warn!(case = %case, error = %format!("{e:#}"), "case: cannot delete messages written after this node's removal");
                                }
                            }
                        });
                    }
                    if !joined.is_empty() {
                        // Someone takes part that this node's earlier messages may have
                        // missed: forwarded to it (off this stream's path).
                        let ctx = ctx.clone();
                        tokio::spawn(async move {
                            for case in joined {
                                if let Err(e) = crate::case::forward_missed(&ctx, &case).await {
                                    tracing::warn!(case = %case, error = %format!("{e:#}"), "case: cannot look for messages participants missed");
                                }
                            }
                        });
                    }
                    for a in announcements {
                        if crate::directory::learn(
                            &ctx.cfg,
                            &ctx.trust.store(),
                            &ctx.sessions,
                            &ctx.keys,
                            &ctx.alarms,
                            peer,
                            &a,
                        ) {
                            tracing::info!(peer = %peer, "routes or sealing keys learned; announcing on");
                            let (ctx, peer) = (ctx.clone(), peer.clone());
                            tokio::spawn(async move {
                                crate::directory::announce_to_others(&ctx, &peer).await
                            });
                        }
                    }
                    if !submissions.is_empty() {
                        // Notices are messages of their own: sent off this stream's path.
                        let ctx = ctx.clone();
                        tokio::spawn(async move {
                            if let Some(service) = ctx.deconfliction.get() {
                                for b in &submissions {
                                    crate::deconfliction::serve(&ctx, service, b).await;
                                }
                            }
                        });
                    }
                    for (facts, route, refused, carried) in after {
                        for c in carried {
                            let recorded = ctx
                                .store
                                .remote_answer(c.event, c.signer, c.outcome, c.proof, c.signed)
                                .await;
                            if let Err(e) = recorded {
                                ctx.alarm(
                                    AlarmKind::AnswerNotRecorded,
                                    peer.as_str(),
                                    format!("cannot record a carried answer: {e:#}"),
                                );
                            }
                        }
                        if !refused.is_empty() {
                            crate::relay::report_refusals(ctx, &facts, &route, &refused).await;
                        }
                    }
                }
                // Not durable: send no receipt, so the sender keeps them and retries.
                Err(e) => ctx.alarm(
                    AlarmKind::InboundNotStored,
                    peer.as_str(),
                    format!("cannot store messages from {peer}: {e:#}"),
                ),
            }
        }
    }
    for r in refusals {
        tracing::warn!(peer = %peer, id = %r.id.short(), reason = %r.why.reason_code(), detail = %r.why, "message refused");
        let logged = ctx
            .store
            .record(Event::Refused {
                id: Some(r.id),
                msg: r.facts,
                peer: peer.clone(),
                reason_code: r.why.reason_code().into(),
            })
            .await;
        if let Err(e) = logged {
            ctx.alarm(
                AlarmKind::AnswerNotSent,
                peer.as_str(),
                format!("cannot log a refusal: {e:#}"),
            );
            continue;
        }
        match ctx.me.refusal(peer, r.id, &r.why) {
            Ok(m) => push_frame(&decoder, &mut out, m),
            Err(e) => ctx.alarm(
                AlarmKind::AnswerNotSent,
                peer.as_str(),
                format!("cannot sign a refusal: {e:#}"),
            ),
        }
    }
    out
}

fn push_frame(
    decoder: &FrameDecoder,
    out: &mut Vec<Vec<u8>>,
    signed: liaison_protocol::SignedMessage,
) {
    let env = Envelope {
        signed,
        route: vec![],
    };
    if let Ok(f) = env.to_frame(decoder) {
        out.push(f);
    }
}

/// Route, the envelope's bytes as received, and the verification result.
type Verified = (
    Vec<NodeId>,
    Vec<u8>,
    Result<VerifiedMessage, (MessageId, liaison_protocol::VerifyError)>,
);

async fn verify_all(ctx: &Arc<Ctx>, envelopes: Vec<(Envelope, Vec<u8>)>) -> Vec<Verified> {
    let verify = |trust: Arc<liaison_protocol::TrustStore>, part: Vec<(Envelope, Vec<u8>)>| {
        part.into_iter()
            .map(|(env, bytes)| {
                // The id is hashed again only for a refusal; verification computes it anyway.
                let result = env.signed.verify(&trust).map_err(|e| {
                    let id = Envelope::decode(&bytes).map_or(MessageId([0; 32]), |e| e.signed.id());
                    (id, e)
                });
                (env.route, bytes, result)
            })
            .collect::<Vec<_>>()
    };
    // A verification task that panicked is a bug (fuzzing says it should not happen): its
    // part of the batch stays unanswered, so the peer sends it again, and it is raised as an
    // alarm rather than dropped in silence.
    let joined = |r: Result<Vec<Verified>, tokio::task::JoinError>| {
        r.unwrap_or_else(|e| {
            ctx.alarm(
                AlarmKind::VerifierFailed,
                "",
                format!("message verification failed inside its task: {e}"),
            );
            Vec::new()
        })
    };
    if envelopes.len() < 8 {
        let trust = ctx.trust.store();
        return joined(tokio::task::spawn_blocking(move || verify(trust, envelopes)).await);
    }
    let mut first = envelopes;
    let second = first.split_off(first.len() / 2);
    let (t1, t2) = (ctx.trust.store(), ctx.trust.store());
    let a = tokio::task::spawn_blocking(move || verify(t1, first));
    let b = tokio::task::spawn_blocking(move || verify(t2, second));
    let (a, b) = tokio::join!(a, b);
    let mut out = joined(a);
    out.extend(joined(b));
    out
}

/// Token bucket per stream: `rate` messages per second; excess waits.
struct RateLimiter {
    rate: f64,
    tokens: f64,
    last: tokio::time::Instant,
}

impl RateLimiter {
    fn new(rate: u32) -> Self {
        Self {
            rate: f64::from(rate.max(1)),
            tokens: f64::from(rate.max(1)),
            last: tokio::time::Instant::now(),
        }
    }

    async fn take(&mut self, n: usize) {
        let n = n as f64;
        loop {
            let now = tokio::time::Instant::now();
            self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate)
                .min(self.rate);
            self.last = now;
            if self.tokens >= n.min(self.rate) {
                self.tokens -= n;
                return;
            }
            let wait = (n.min(self.rate) - self.tokens) / self.rate;
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }
}
