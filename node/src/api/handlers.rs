//! The API's request handlers: parse, check the role, call the node, render with [`view`].

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use liaison_protocol::{Body, MessageId};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Action, Principal};
use super::{view, ApiError, ApiState};
use crate::compose::SendRequest;
use crate::node::SendRefused;
use crate::store::{now, MessageState};

/// Default page size of list endpoints.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page size of list endpoints.
pub const MAX_LIMIT: usize = 1000;

type ApiResult<T> = Result<T, ApiError>;

fn parse_id(s: &str) -> ApiResult<MessageId> {
    s.parse()
        .map_err(|_| ApiError::Malformed(format!("{s:?} is not a message id (64 hex digits)")))
}

fn limit(l: Option<usize>) -> ApiResult<usize> {
    match l.unwrap_or(DEFAULT_LIMIT) {
        0 => Err(ApiError::Malformed("limit must be at least 1".into())),
        n => Ok(n.min(MAX_LIMIT)),
    }
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::Malformed(format!("bad query: {}", e.body_text())))
}

fn state_of(s: &ApiState, id: &MessageId) -> ApiResult<MessageState> {
    s.ctx
        .store
        .state(id)
        .map_err(ApiError::internal)?
        .ok_or(ApiError::UnknownMessage(*id))
}

/// The decoded body and route of a stored message; `None` if it was purged.
fn body_of(
    s: &ApiState,
    id: &MessageId,
) -> ApiResult<Option<(Body, Vec<liaison_protocol::NodeId>)>> {
    let Some(env) = s.ctx.store.envelope(id).map_err(ApiError::internal)? else {
        return Ok(None);
    };
    let body = Body::decode(&env.signed.body).map_err(|e| {
        ApiError::internal(anyhow::anyhow!("stored message {id} does not decode: {e}"))
    })?;
    // Sealed content is opened for reading here; what cannot be opened is shown sealed.
    let (body, why) = crate::directory::open_body(&s.ctx, body);
    if let Some(why) = why {
        tracing::debug!(id = %id.short(), reason = %why, "content stays sealed");
    }
    Ok(Some((body, env.route)))
}

/// The answer to a send-like request: 201 with the new message's id and next hops, or the
/// refusal with its reason code.
pub(super) fn sent_response(
    p: &Principal,
    r: anyhow::Result<crate::node::Sent>,
) -> ApiResult<Response> {
    let sent = sent_or_refused(p, r)?;
    let id = sent.id.to_string();
    let body = json!({
        "id": id,
        "leaf": sent.leaf,
        "next_hops": sent.next_hops.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
    });
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/messages/{id}"))],
        Json(body),
    )
        .into_response())
}

/// A send-like outcome with a refusal turned into [`ApiError::Refused`] (its reason code).
pub(super) fn sent_or_refused(
    p: &Principal,
    r: anyhow::Result<crate::node::Sent>,
) -> ApiResult<crate::node::Sent> {
    r.map_err(|e| {
        let e = refusal_or_internal(e);
        if let ApiError::Refused { reason_code, .. } = &e {
            tracing::debug!(who = %p, reason = %reason_code, "message refused");
        }
        e
    })
}

/// A node operation's error as the API reports it: a refusal keeps its reason code (422),
/// anything else is internal (500).
pub(crate) fn refusal_or_internal(e: anyhow::Error) -> ApiError {
    match e.downcast::<SendRefused>() {
        Ok(r) => ApiError::Refused {
            reason_code: r.reason_code,
            detail: r.detail,
        },
        Err(e) => ApiError::internal(e),
    }
}

/// What `POST /v1/messages/{id}/consent-request` and `/share` take: the nodes concerned.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodesRequest {
    /// Node ids.
    pub to: Vec<String>,
    /// Why (consent requests).
    #[serde(default)]
    pub reason: String,
}

/// What `POST /v1/messages/{id}/consent` takes: the originator's answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequestAnswer {
    /// Grant (true) or deny (false).
    pub grant: bool,
    /// A grant expires this many seconds from now (absent: it does not expire).
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// The officer's note.
    #[serde(default)]
    pub reason: String,
}

impl NodesRequest {
    /// The nodes named in `to`: at least one, each a node id.
    pub fn nodes(&self) -> ApiResult<Vec<liaison_protocol::NodeId>> {
        if self.to.is_empty() {
            return Err(ApiError::Malformed(
                "name at least one node in \"to\"".into(),
            ));
        }
        self.to
            .iter()
            .map(|n| {
                n.parse()
                    .map_err(|e| ApiError::Malformed(format!("{n:?} is not a node id: {e}")))
            })
            .collect()
    }
}

/// `POST /v1/messages/{id}/consent-request`: ask the originator's consent to share.
pub async fn consent_request(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: Result<Json<NodesRequest>, JsonRejection>,
) -> ApiResult<Response> {
    p.require(Action::Send)?;
    let id = parse_id(&id)?;
    let Json(req) = req.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let to = req.nodes()?;
    sent_response(
        &p,
        crate::consent::request(&s.ctx, id, to, req.reason).await,
    )
}

/// `POST /v1/messages/{id}/consent`: the originator grants or denies a consent request.
pub async fn consent_answer(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: Result<Json<ConsentRequestAnswer>, JsonRejection>,
) -> ApiResult<Response> {
    p.require(Action::Send)?;
    let id = parse_id(&id)?;
    let Json(req) = req.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let r = crate::consent::answer(&s.ctx, id, req.grant, req.expires_in_secs, req.reason).await;
    sent_response(&p, r)
}

/// `POST /v1/messages/{id}/share`: share a received message onward under consent.
pub async fn share(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: Result<Json<NodesRequest>, JsonRejection>,
) -> ApiResult<Response> {
    p.require(Action::Send)?;
    let id = parse_id(&id)?;
    let Json(req) = req.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let to = req.nodes()?;
    sent_response(&p, crate::consent::share(&s.ctx, id, to).await)
}

/// `POST /v1/messages`.
pub async fn send(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    req: Result<Json<SendRequest>, JsonRejection>,
) -> ApiResult<Response> {
    p.require(Action::Send)?;
    let Json(req) =
        req.map_err(|e| ApiError::Malformed(format!("bad message request: {}", e.body_text())))?;
    let sent = send_as(&s, &p, &req).await?;
    sent_response(&p, Ok(sent))
}

/// Sends `req` as `p`: the role check, the node's send, refusals with their reason codes.
/// `POST /v1/messages` and the console's compose form both send through here.
pub(crate) async fn send_as(
    s: &ApiState,
    p: &Principal,
    req: &SendRequest,
) -> ApiResult<crate::node::Sent> {
    p.require(Action::Send)?;
    sent_or_refused(p, crate::node::send(&s.ctx, req).await)
}

/// Query of `GET /v1/inbox`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// First inbox sequence number.
    pub(crate) from: Option<u64>,
    /// Most items.
    pub(crate) limit: Option<usize>,
    /// Only messages not yet acknowledged.
    #[serde(default)]
    pub(crate) unread: bool,
}

/// `GET /v1/inbox`.
pub async fn inbox(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    q: Result<Query<InboxQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    p.require(Action::ListInbox)?;
    let q = query(q)?;
    let limit = limit(q.limit)?;
    let content = p.reads_content();
    let t = now();
    let mut items = Vec::new();
    let mut next = q.from.unwrap_or(0);
    let mut full = false;
    'pages: loop {
        let page = s.ctx.store.inbox(next, limit).map_err(ApiError::internal)?;
        let n = page.len();
        for item in page {
            next = item.seq + 1;
            if q.unread && item.state.acked {
                continue;
            }
            let body = body_of(&s, &item.state.facts.id)?.map(|(b, _)| b);
            items.push(view::inbox_item(
                item.seq,
                &item.state,
                body.as_ref(),
                content,
                t,
            ));
            if items.len() == limit {
                full = true;
                break 'pages;
            }
        }
        if n < limit {
            break;
        }
    }
    Ok(Json(json!({
        "items": items,
        "next_from": full.then_some(next),
    })))
}

/// `GET /v1/messages/{id}`.
pub async fn show(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require(Action::ReadMessage)?;
    let id = parse_id(&id)?;
    let state = state_of(&s, &id)?;
    let (body, route) = body_of(&s, &id)?.ok_or(ApiError::Purged(id))?;
    Ok(Json(view::message(&state, &body, &route, true, now())))
}

/// `POST /v1/messages/{id}/ack`.
pub async fn ack(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require(Action::Ack)?;
    let id = parse_id(&id)?;
    let state = state_of(&s, &id)?;
    let was_acked = state.acked;
    if !s
        .ctx
        .store
        .ack(id, p.who.clone())
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::NotInInbox(id));
    }
    Ok(Json(
        json!({ "id": id.to_string(), "acked": true, "already": was_acked }),
    ))
}

/// `GET /v1/messages/{id}/trail`.
pub async fn trail(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    p.require(Action::Trail)?;
    let id = parse_id(&id)?;
    let state = state_of(&s, &id)?;
    let mut entries = Vec::with_capacity(state.leaves.len());
    for &i in &state.leaves {
        let entry = s
            .ctx
            .store
            .log_entry(i)
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("log entry {i} of message {id} is missing"))
            })?;
        entries.push(view::log_entry(i, &entry, Some(&id)));
    }
    Ok(Json(json!({
        "id": id.to_string(),
        "role": view::role(state.role),
        "message": view::facts(&state.facts),
        "entries": entries,
        "hops": state.hops.iter().map(view::hop).collect::<Vec<_>>(),
        "pending": state.pending.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
    })))
}

/// `GET /v1/status`.
pub async fn status(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    p.require(Action::Status)?;
    let st = crate::node::status(&s.ctx);
    serde_json::to_value(&st)
        .map(Json)
        .map_err(|e| ApiError::internal(e.into()))
}

/// `GET /v1/peers`.
pub async fn peers(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    p.require(Action::Status)?;
    let st = crate::node::status(&s.ctx);
    Ok(Json(json!({ "peers": st.peers })))
}

/// Query of `GET /v1/log`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// First log index.
    pub(crate) from: Option<u64>,
    /// Most entries.
    pub(crate) limit: Option<usize>,
}

/// `GET /v1/log`.
pub async fn log(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    p.require(Action::ReadLog)?;
    let q = query(q)?;
    let limit = limit(q.limit)? as u64;
    let size = s.ctx.store.log_size();
    let from = q.from.unwrap_or(0);
    let end = from.saturating_add(limit).min(size);
    let mut entries = Vec::new();
    for i in from..end {
        let entry = s
            .ctx
            .store
            .log_entry(i)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("log entry {i} is missing")))?;
        entries.push(view::log_entry(i, &entry, None));
    }
    Ok(Json(json!({
        "size": size,
        "from": from,
        "entries": entries,
        "next_from": (end < size).then_some(end),
    })))
}

/// `GET /v1/checkpoints`: every checkpoint this node signed, oldest first, each as stored
/// (later copies carry the witnesses' cosignatures).
pub async fn checkpoints(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    p.require(Action::Checkpoint)?;
    let notes =
        crate::store::checkpoint::history(&s.ctx.cfg.data_dir).map_err(ApiError::internal)?;
    Ok(Json(json!({ "checkpoints": notes })))
}

/// `GET /v1/proofs/{id}`: an inclusion proof of every log entry about a message against the
/// last checkpoint, in the format of `liaison audit prove` (docs/AUDIT.md).
pub async fn proof(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::audit::ProofFile>> {
    p.require(Action::ReadLog)?;
    let id = parse_id(&id)?;
    if s.ctx
        .store
        .state(&id)
        .map_err(ApiError::internal)?
        .is_none()
    {
        return Err(ApiError::UnknownMessage(id));
    }
    let ctx = s.ctx.clone();
    // Reads the whole log (the node keeps no full tree in memory): off the async threads.
    let proof = tokio::task::spawn_blocking(move || {
        crate::audit::prove(&ctx.cfg.data_dir, &ctx.trust, &id)
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
    .map_err(|e| ApiError::Malformed(format!("{e:#}")))?;
    Ok(Json(proof))
}

/// Query of `GET /v1/consistency`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// Size of the older checkpoint.
    old: u64,
    /// Size of the newer checkpoint.
    new: u64,
}

/// `GET /v1/consistency?old=N&new=M`: the proof that the log of `old` entries is a prefix of
/// that of `new` entries (base64 hashes, RFC 9162 order).
pub async fn consistency(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    use base64::Engine as _;
    p.require(Action::ReadLog)?;
    let q = query(q)?;
    if q.old > q.new || q.new > s.ctx.store.log_size() {
        return Err(ApiError::Malformed(format!(
            "need old <= new <= {} (the log's size)",
            s.ctx.store.log_size()
        )));
    }
    let ctx = s.ctx.clone();
    let hashes = tokio::task::spawn_blocking(move || ctx.store.consistency_proof(q.old, q.new))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
        .map_err(ApiError::internal)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Json(json!({
        "old_size": q.old,
        "new_size": q.new,
        "hashes": hashes.iter().map(|h| b64.encode(h)).collect::<Vec<_>>(),
    })))
}

/// Body of `POST /v1/purge`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PurgeRequest {
    /// Only list what is due.
    dry_run: bool,
}

/// `POST /v1/purge`: deletes the message bodies the retention policy says are due (a
/// `purged` log entry each); lists them with `dry_run`. Supervisor only.
pub async fn purge(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    req: Result<Json<PurgeRequest>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    p.require(Action::Purge)?;
    let Json(req) =
        req.map_err(|e| ApiError::Malformed(format!("bad purge request: {}", e.body_text())))?;
    let ctx = s.ctx.clone();
    let due = tokio::task::spawn_blocking(move || {
        ctx.store.retention_due(&ctx.cfg.retention.rules, now())
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
    .map_err(ApiError::internal)?;
    let listed: Vec<Value> = due
        .iter()
        .map(|(id, rule)| json!({ "id": id.to_string(), "rule": rule }))
        .collect();
    let purged = if req.dry_run {
        vec![]
    } else {
        let done = s.ctx.store.purge(due).await.map_err(ApiError::internal)?;
        tracing::info!(count = done.len(), by = %p.who, "message bodies purged");
        // Who asked is part of the record: the purge entries name only the rule.
        s.ctx
            .store
            .record(liaison_protocol::log::Event::Admin {
                act: "purge".into(),
                detail: format!("{} message bodies purged by {}", done.len(), p.who),
            })
            .await
            .map_err(ApiError::internal)?;
        done
    };
    Ok(Json(json!({
        "dry_run": req.dry_run,
        "due": listed,
        "purged": purged.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })))
}

/// `GET /v1/checkpoint`: signs a fresh checkpoint if the log grew, then returns the latest.
pub async fn checkpoint(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Response> {
    p.require(Action::Checkpoint)?;
    let fresh = s.ctx.store.checkpoint().await.map_err(ApiError::internal)?;
    let note = fresh
        .or_else(|| s.ctx.store.last_checkpoint())
        .ok_or(ApiError::NoCheckpoint)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}
