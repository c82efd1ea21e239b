//! The API's request handlers: parse, check the role, call the node, answer with a view
//! ([`crate::views`]).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use liaison_protocol::limits::{check, MAX_RECIPIENTS, MAX_SHORT_STRING};
use liaison_protocol::{Body, DecodeError, MessageId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::doc::{
    Forbidden, Internal, Malformed, NotFound, OutboxFull, PayloadTooLarge, RequestTimeout,
    TooManyAttempts, Unauthenticated,
};
use crate::views::schema::{MessageIdText, NodeIdText};
use crate::views::ErrorBody;

use super::auth::{Action, Principal};
use super::json::JsonBody;
use super::{ApiError, ApiState};
use crate::compose::SendRequest;
use crate::error::NodeError;
use crate::store::{now, MessageState};
use crate::views::{
    Acked, CheckpointPage, Consistency, Damage, Due, InboxItem, InboxPage, LogEntryView, LogPage,
    MessageView, PeerView, Peers, PurgeReport, SentView, StatusView, Trail,
};

/// Default page size of list endpoints.
pub(crate) const DEFAULT_LIMIT: usize = 100;
/// Largest page size of list endpoints.
pub(crate) const MAX_LIMIT: usize = 1000;

type ApiResult<T> = Result<T, ApiError>;

fn parse_id(s: &str) -> ApiResult<MessageId> {
    s.parse()
        .map_err(|_| ApiError::Malformed(format!("{s:?} is not a message id (64 hex digits)")))
}

fn limit(l: Option<usize>) -> ApiResult<usize> {
    match l.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        n => Err(ApiError::Malformed(format!(
            "limit must be 1 to {MAX_LIMIT}, not {n}"
        ))),
    }
}

/// A request over a limit, refused (422, `limit-exceeded` naming the limit and the value)
/// before any work on it.
pub(super) fn within_limits(r: Result<(), DecodeError>) -> ApiResult<()> {
    r.map_err(|e| ApiError::Refused(e.into()))
}

/// Runs `f` on the blocking pool: for answers whose cost grows with what the node holds
/// (many journal reads, many messages opened), which must not hold up the async workers
/// that serve `/v1/status` and the peer sessions.
async fn blocking<T: Send + 'static>(
    s: &ApiState,
    f: impl FnOnce(&ApiState) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .map_err(ApiError::internal)?
}

/// A JSON body, or the error its rejection stands for: 413 above `api.max_body_bytes`, 408
/// when it came too slowly, else 400 saying `what` was bad.
fn json_body<T>(
    s: &ApiState,
    body: Result<JsonBody<T>, JsonRejection>,
    what: &str,
) -> ApiResult<T> {
    body.map(|JsonBody(t)| t)
        .map_err(|e| ApiError::from_json(&e, s.ctx.cfg.api.max_body_bytes, what))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::Malformed(format!("bad query: {}", e.body_text())))
}

fn state_of(s: &ApiState, id: &MessageId) -> ApiResult<MessageState> {
    s.ctx
        .store
        .state(id)
        .map_err(ApiError::store)?
        .ok_or(ApiError::UnknownMessage(*id))
}

/// The decoded body and route of a stored message; `None` if it was purged.
fn body_of(
    s: &ApiState,
    id: &MessageId,
) -> ApiResult<Option<(Body, Vec<liaison_protocol::NodeId>)>> {
    let Some(env) = s.ctx.store.envelope(id).map_err(ApiError::store)? else {
        return Ok(None);
    };
    let body = Body::decode(&env.signed.body).map_err(|e| {
        ApiError::internal(format_args!("stored message {id} does not decode: {e}"))
    })?;
    // Sealed content is opened for reading here; what cannot be opened is shown sealed.
    let (body, why) = crate::sealing::open_body(&s.ctx.keys, body);
    if let Some(why) = why {
        tracing::debug!(id = %id.short(), reason = %why, "content stays sealed");
    }
    Ok(Some((body, env.route)))
}

/// The answer to a send-like request: 201 with the new message's id and next hops, or the
/// refusal with its reason code.
pub(super) fn sent_response(
    p: &Principal,
    r: crate::error::Result<crate::core::Sent>,
) -> ApiResult<Response> {
    Ok(created(&sent_or_refused(p, r)?))
}

/// 201 with the message sent and where it is.
fn created(sent: &crate::core::Sent) -> Response {
    let sent = SentView::of(sent);
    (
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/messages/{}", sent.id))],
        Json(sent),
    )
        .into_response()
}

/// A send-like outcome with a refusal turned into [`ApiError::Refused`] (its reason code).
pub(super) fn sent_or_refused(
    p: &Principal,
    r: crate::error::Result<crate::core::Sent>,
) -> ApiResult<crate::core::Sent> {
    r.map_err(|e| {
        let e = refusal_or_internal(e);
        if let ApiError::Refused(r) = &e {
            tracing::debug!(who = %p, reason = %r.reason_code(), "message refused");
        }
        e
    })
}

/// A node operation's error as the API reports it: a refusal keeps its reason code (422), a
/// store failure its own (see [`ApiError::store`]), anything else is internal (500).
pub(crate) fn refusal_or_internal(e: NodeError) -> ApiError {
    match e {
        NodeError::Refused(r) => ApiError::Refused(r),
        NodeError::Store(e) => ApiError::store(e),
        e => ApiError::internal(e),
    }
}

/// What `POST /v1/messages/{id}/consent-request` and `/share` take: the nodes concerned.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodesRequest {
    /// Node ids (at most 256).
    #[schema(value_type = Vec<NodeIdText>, min_items = 1, max_items = 256)]
    pub to: Vec<String>,
    /// Why (consent requests; at most 1,024 bytes).
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub reason: String,
}

impl NodesRequest {
    /// Counts and sizes, before any node id is parsed; `field` names the list as the
    /// message it becomes does (`consent nodes`, `recipients`).
    fn check_limits(&self, field: &'static str) -> Result<(), DecodeError> {
        check(field, self.to.len(), MAX_RECIPIENTS)?;
        for n in &self.to {
            check("node", n.len(), MAX_SHORT_STRING)?;
        }
        check("consent reason", self.reason.len(), MAX_SHORT_STRING)
    }
}

/// What `POST /v1/messages/{id}/consent` takes: the originator's answer.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequestAnswer {
    /// Grant (true) or deny (false).
    pub grant: bool,
    /// A grant expires this many seconds from now (absent: it does not expire).
    #[serde(default, deserialize_with = "crate::compose::whole_seconds")]
    #[schema(minimum = 0, maximum = 18446744073709551615u64, format = "uint64")]
    pub expires_in_secs: Option<u64>,
    /// The officer's note (at most 1,024 bytes).
    #[serde(default)]
    #[schema(max_length = 1024)]
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
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/consent-request",
    operation_id = "consentRequest",
    tags = ["messages"],
    summary = "Ask the originator of a message delivered here for consent to share it onward.",
    description = "Sends a signed `consent-request` to the message's originator (EU H2, third-party rule), sealed to the originator and this node like any content: the gateways on the way read neither the reason nor the nodes asked for. The originator's `GET /v1/messages/{id}` shows them (`reason`, `consent`). Roles: officer, supervisor.",
    params(("id" = MessageIdText, Path, description = "The message's id.")),
    request_body(content = NodesRequest, example = json!({"to": ["om-dcu.gulf"], "reason": "joint operation"})),
    responses(
        (
            status = 201,
            description = "Sent.",
            body = SentView,
            headers(("Location" = String, description = "/v1/messages/{id} of the message sent"))
        ),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 422, description = "Refused (`limit-exceeded`, `unknown-message`, `not-a-recipient`, `no-sealing-key`, `no-route`).", body = ErrorBody),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn consent_request(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: Result<JsonBody<NodesRequest>, JsonRejection>,
) -> ApiResult<Response> {
    p.require(Action::Send)?;
    let req = json_body(&s, req, "bad consent request")?;
    Ok(created(&consent_request_as(&s, &p, &id, req).await?))
}

/// Asks the originator of message `id` for consent to share it with `req.to`, as `p`: the
/// API's and the console's consent request.
pub(crate) async fn consent_request_as(
    s: &ApiState,
    p: &Principal,
    id: &str,
    req: NodesRequest,
) -> ApiResult<crate::core::Sent> {
    let (id, to) = message_and_nodes(p, id, &req, "consent nodes")?;
    sent_or_refused(p, crate::consent::request(&s.ctx, id, to, req.reason).await)
}

/// `POST /v1/messages/{id}/consent`: the originator grants or denies a consent request.
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/consent",
    operation_id = "consentAnswer",
    tags = ["messages"],
    summary = "Grant or deny a consent request (the id is the request's), at the originator.",
    description = "A grant widens the releasability of the requested message, for that message only, to the nodes requested, until it expires; it carries the content re-sealed for them. Roles: officer, supervisor.",
    params(("id" = MessageIdText, Path, description = "The consent request's id.")),
    request_body(content = ConsentRequestAnswer, example = json!({"grant": true, "expires_in_secs": 86400, "reason": "for the operation"})),
    responses(
        (
            status = 201,
            description = "Sent.",
            body = SentView,
            headers(("Location" = String, description = "/v1/messages/{id} of the message sent"))
        ),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 422, description = "Refused (`limit-exceeded`, `not-originator`, `no-sealing-key`, `cannot-open`, `no-route`).", body = ErrorBody),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn consent_answer(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: Result<JsonBody<ConsentRequestAnswer>, JsonRejection>,
) -> ApiResult<Response> {
    p.require(Action::Send)?;
    let req = json_body(&s, req, "bad consent answer")?;
    Ok(created(&consent_answer_as(&s, &p, &id, req).await?))
}

/// The originator's answer to the consent request `id`, as `p`: the API's and the console's.
pub(crate) async fn consent_answer_as(
    s: &ApiState,
    p: &Principal,
    id: &str,
    req: ConsentRequestAnswer,
) -> ApiResult<crate::core::Sent> {
    p.require(Action::Send)?;
    let id = parse_id(id)?;
    within_limits(check("consent reason", req.reason.len(), MAX_SHORT_STRING))?;
    let r = crate::consent::answer(&s.ctx, id, req.grant, req.expires_in_secs, req.reason).await;
    sent_or_refused(p, r)
}

/// `POST /v1/messages/{id}/share`: share a received message onward under consent.
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/share",
    operation_id = "share",
    tags = ["messages"],
    summary = "Share a message delivered here with further nodes, under the originator's grants.",
    description = "Sends a `share` carrying the original signed message and the originator's grants held here. Every hop checks the original's handling rules with the granted nodes as consented. Roles: officer, supervisor.",
    params(("id" = MessageIdText, Path, description = "The message's id.")),
    request_body(content = NodesRequest, example = json!({"to": ["om-dcu.gulf"]})),
    responses(
        (
            status = 201,
            description = "Sent.",
            body = SentView,
            headers(("Location" = String, description = "/v1/messages/{id} of the message sent"))
        ),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 422, description = "Refused (`limit-exceeded`, `originator-control`, `consent-expired`, `consent-denied`, `releasability-violation`, `no-route`).", body = ErrorBody),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn share(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: Result<JsonBody<NodesRequest>, JsonRejection>,
) -> ApiResult<Response> {
    p.require(Action::Send)?;
    let req = json_body(&s, req, "bad share request")?;
    Ok(created(&share_as(&s, &p, &id, req).await?))
}

/// Shares the received message `id` onward with `req.to` under its originator's consent, as
/// `p`: the API's and the console's onward sharing.
pub(crate) async fn share_as(
    s: &ApiState,
    p: &Principal,
    id: &str,
    req: NodesRequest,
) -> ApiResult<crate::core::Sent> {
    let (id, to) = message_and_nodes(p, id, &req, "recipients")?;
    sent_or_refused(p, crate::consent::share(&s.ctx, id, to).await)
}

/// The checks a request about message `id` naming nodes passes before anything is done, in
/// order: `p` may send, the id parses, the request is within its limits (`field` names its
/// list as the message it becomes does), every node id parses.
fn message_and_nodes(
    p: &Principal,
    id: &str,
    req: &NodesRequest,
    field: &'static str,
) -> ApiResult<(MessageId, Vec<liaison_protocol::NodeId>)> {
    p.require(Action::Send)?;
    let id = parse_id(id)?;
    within_limits(req.check_limits(field))?;
    Ok((id, req.nodes()?))
}

/// `POST /v1/messages`.
#[utoipa::path(
    post,
    path = "/v1/messages",
    operation_id = "send",
    tags = ["messages"],
    summary = "Compose, sign, durably log and queue a message.",
    description = "Returns once the message is durable in the node's log and outbox (it has not yet reached the recipient: follow `/v1/messages/{id}/trail`). Roles: officer, supervisor.",
    request_body(content = SendRequest, example = json!({"kind": "alert", "to": ["kz-dcu.central-asia"], "tlp": "AMBER", "release": ["network:central-asia"], "eval": "B2", "text": "Container MSCU1234565 expected at Aktau on 12 May", "lang": "en", "entities": ["container=MSCU1234565", "phone=+77011234567"]})),
    responses(
        (status = 201, description = "Sent (durable, queued for its next hops).", body = SentView,
            headers(("Location" = String, description = "/v1/messages/{id}")),
            links(
                ("ShowSent" = (operation_id = "show", parameters(("id" = "$response.body#/id")), description = "The message sent.")),
                ("TrailOfSent" = (operation_id = "trail", parameters(("id" = "$response.body#/id")), description = "Its delivery trail.")),
                ("ProofOfSent" = (operation_id = "proof", parameters(("id" = "$response.body#/id")), description = "Its inclusion proof (once a checkpoint covers it).")),
                ("AckSent" = (operation_id = "ack", parameters(("id" = "$response.body#/id")), description = "Acknowledging it: 409 `not-in-inbox`, it was sent from here.")),
            )),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 422, description = "The node refused the message; `error` is the refusal's reason code (`limit-exceeded` for a request over a count or size limit, checked first).", body = ErrorBody, example = json!({"error": "tlp-red-violation", "detail": "TLP:RED goes only to named recipient nodes", "request_id": "5f0c2a9e4b7d1e3a0000000000000003"})),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
        (status = 503, response = OutboxFull),
    ),
)]
pub(crate) async fn send(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    req: Result<JsonBody<SendRequest>, JsonRejection>,
) -> ApiResult<Response> {
    p.require(Action::Send)?;
    let req = json_body(&s, req, "bad message request")?;
    let sent = send_as(&s, &p, &req).await?;
    sent_response(&p, Ok(sent))
}

/// Sends `req` as `p`: the role check, the node's send, refusals with their reason codes.
/// `POST /v1/messages` and the console's compose form both send through here.
pub(crate) async fn send_as(
    s: &ApiState,
    p: &Principal,
    req: &SendRequest,
) -> ApiResult<crate::core::Sent> {
    p.require(Action::Send)?;
    sent_or_refused(p, crate::exchange::send(&s.ctx, req).await)
}

/// Query of `GET /v1/inbox`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct InboxQuery {
    /// First inbox sequence number.
    #[param(
        minimum = 0,
        maximum = 18446744073709551615u64,
        format = "uint64",
        default = 0
    )]
    pub(crate) from: Option<u64>,
    /// Most items: 1 to 1000 (outside: 400).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub(crate) limit: Option<usize>,
    /// Only messages not yet acknowledged.
    #[serde(default)]
    pub(crate) unread: bool,
}

/// `GET /v1/inbox`.
#[utoipa::path(
    get,
    path = "/v1/inbox",
    operation_id = "inbox",
    tags = ["messages"],
    summary = "Messages delivered to this node, in delivery order.",
    description = "`first_line` (the first line of the text) is included for officers and supervisors only. Roles: all.",
    params(InboxQuery),
    responses(
        (status = 200, description = "A page of the inbox.", body = InboxPage),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn inbox(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    q: Result<Query<InboxQuery>, QueryRejection>,
) -> ApiResult<Json<InboxPage>> {
    inbox_page(&s, &p, query(q)?).await.map(Json)
}

/// A page of the inbox as `p` may see it (`GET /v1/inbox`, the console's inbox).
pub(crate) async fn inbox_page(s: &ApiState, p: &Principal, q: InboxQuery) -> ApiResult<InboxPage> {
    p.require(Action::ListInbox)?;
    let limit = limit(q.limit)?;
    let content = p.reads_content();
    let t = now();
    // Up to `limit` messages read and opened, and with `unread` every acknowledged one
    // before them passed over: off the async workers.
    blocking(s, move |s| {
        let mut items = Vec::new();
        let mut next = q.from.unwrap_or(0);
        let mut full = false;
        'pages: loop {
            let page = s.ctx.store.inbox(next, limit).map_err(ApiError::store)?;
            let n = page.len();
            for item in page {
                next = item.seq + 1;
                if q.unread && item.state.acked {
                    continue;
                }
                // A damaged message is listed as damaged (its metadata comes from its logged
                // state, not from the damaged body), never left out and never shown altered.
                let (body, damaged) = match body_of(s, &item.state.facts.id) {
                    Ok(b) => (b.map(|(b, _)| b), None),
                    Err(ApiError::Damaged(e)) => (None, Some(e)),
                    Err(e) => return Err(e),
                };
                let answered = match &body {
                    Some(b) if crate::views::deadline(b).is_some() => {
                        crate::requests::answered(&s.ctx, &item.state).map_err(ApiError::store)?
                    }
                    _ => false,
                };
                let mut v =
                    InboxItem::of(item.seq, &item.state, body.as_ref(), content, answered, t);
                v.damaged = damaged.map(|e| Damage {
                    error: e.reason_code().to_owned(),
                    detail: e.to_string(),
                });
                items.push(v);
                if items.len() == limit {
                    full = true;
                    break 'pages;
                }
            }
            if n < limit {
                break;
            }
        }
        Ok(InboxPage {
            items,
            next_from: full.then_some(next),
        })
    })
    .await
}

/// `GET /v1/messages/{id}`.
#[utoipa::path(
    get,
    path = "/v1/messages/{id}",
    operation_id = "show",
    tags = ["messages"],
    summary = "A message's header, handling, content and state.",
    description = "Roles: officer, supervisor (auditors never read content).",
    params(("id" = MessageIdText, Path, description = "The message's id.")),
    responses(
        (status = 200, description = "The message.", body = MessageView),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 410, description = "`message-purged`: the body was purged under the retention policy; the trail remains.", body = ErrorBody),
        (status = 429, response = TooManyAttempts),
        (status = 500, description = "`stored-body-damaged`: the stored copy of this message is damaged (it no longer matches its id or signature); it is never shown. Or `internal-error`.", body = ErrorBody),
    ),
)]
pub(crate) async fn show(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<MessageView>> {
    message(&s, &p, &id).map(Json)
}

/// A whole message, for those who may read content (`GET /v1/messages/{id}`, the console's
/// message page).
pub(crate) fn message(s: &ApiState, p: &Principal, id: &str) -> ApiResult<MessageView> {
    p.require(Action::ReadMessage)?;
    let id = parse_id(id)?;
    let state = state_of(s, &id)?;
    let (body, route) = body_of(s, &id)?.ok_or(ApiError::Purged(id))?;
    let answered = crate::views::deadline(&body).is_some()
        && crate::requests::answered(&s.ctx, &state).map_err(ApiError::store)?;
    Ok(MessageView::of(
        &state,
        &body,
        &route,
        true,
        answered,
        now(),
    ))
}

/// `POST /v1/messages/{id}/ack`.
#[utoipa::path(
    post,
    path = "/v1/messages/{id}/ack",
    operation_id = "ack",
    tags = ["messages"],
    summary = "Acknowledge (mark read) a message delivered to this node; logged with who did it.",
    description = "Idempotent. Roles: officer, supervisor.",
    params(("id" = MessageIdText, Path, description = "The message's id.")),
    responses(
        (status = 200, description = "Acknowledged.", body = Acked),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "`not-in-inbox`: the message was sent or relayed by this node, not delivered to it.", body = ErrorBody),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn ack(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Acked>> {
    acknowledge(&s, &p, &id).await.map(Json)
}

/// Acknowledges a message as `p` (`POST /v1/messages/{id}/ack`, the console's button).
pub(crate) async fn acknowledge(s: &ApiState, p: &Principal, id: &str) -> ApiResult<Acked> {
    p.require(Action::Ack)?;
    let id = parse_id(id)?;
    let state = state_of(s, &id)?;
    let was_acked = state.acked;
    if !s
        .ctx
        .store
        .ack(id, p.who.clone())
        .await
        .map_err(ApiError::store)?
    {
        return Err(ApiError::NotInInbox(id));
    }
    Ok(Acked {
        id: id.to_string(),
        acked: true,
        already: was_acked,
    })
}

/// `GET /v1/messages/{id}/trail`.
#[utoipa::path(
    get,
    path = "/v1/messages/{id}/trail",
    operation_id = "trail",
    tags = ["messages", "audit"],
    summary = "Every log entry about a message, and each next hop's signed answer.",
    description = "For a message this node sent, `hops` holds every hop's receipt (`relayed` or `delivered`) or refusal reason code — the next hop's directly, later hops' carried back by the relays in hop reports — with the log leaf and the id of the signed receipt or refusal that proves it. Contains no content. Roles: all.",
    params(("id" = MessageIdText, Path, description = "The message's id.")),
    responses(
        (status = 200, description = "The trail.", body = Trail),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn trail(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Trail>> {
    trail_of(&s, &p, &id).await.map(Json)
}

/// Everything this node logged about a message (`GET /v1/messages/{id}/trail`, the
/// console's message page).
pub(crate) async fn trail_of(s: &ApiState, p: &Principal, id: &str) -> ApiResult<Trail> {
    p.require(Action::Trail)?;
    let id = parse_id(id)?;
    let state = state_of(s, &id)?;
    // One journal read per log entry about the message (every hop, receipt, refusal): off
    // the async workers.
    let leaves = state.leaves.clone();
    let entries = blocking(s, move |s| {
        let mut entries = Vec::with_capacity(leaves.len());
        for i in leaves {
            let entry = s
                .ctx
                .store
                .log_entry(i)
                .map_err(ApiError::store)?
                .ok_or_else(|| {
                    ApiError::internal(format_args!("log entry {i} of message {id} is missing"))
                })?;
            entries.push(LogEntryView::of(i, &entry, Some(&id)));
        }
        Ok(entries)
    })
    .await?;
    Ok(Trail::of(&id, &state, entries))
}

/// `GET /v1/status`.
#[utoipa::path(
    get,
    path = "/v1/status",
    operation_id = "status",
    tags = ["node"],
    summary = "Node status: peers up or down, outbox depth per peer, log size, last checkpoint, alarms.",
    description = "Roles: all.",
    responses(
        (status = 200, description = "The status report.", body = StatusView),
        (status = 401, response = Unauthenticated),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn status(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<StatusView>> {
    status_of(&s, &p).map(Json)
}

/// The node's status (`GET /v1/status`, the console's status page).
pub(crate) fn status_of(s: &ApiState, p: &Principal) -> ApiResult<StatusView> {
    p.require(Action::Status)?;
    let mut v = StatusView::of(&crate::core::status(&s.ctx));
    // Which cases and messages are waiting is case content: only for those who read it.
    if p.reads_content() {
        let ctx = &s.ctx;
        let before = crate::store::now()
            .millis()
            .saturating_sub(ctx.cfg.cases.gap_after_secs.saturating_mul(1000));
        let gaps = crate::case::gaps(
            &ctx.store,
            ctx.me.ids(),
            liaison_protocol::Timestamp(before),
        )
        .map_err(ApiError::internal)?;
        v.case_gaps = gaps.iter().map(crate::views::CaseGapView::of).collect();
    }
    Ok(v)
}

/// `GET /metrics`: the node's metrics for Prometheus.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tags = ["node"],
    summary = "The node's metrics, in the Prometheus text exposition format (0.0.4).",
    description = "Peers up, outbox depth and age per peer, log entries and message bytes by type since start, the group-commit duration histogram, checkpoint age and entries not yet covered, certificate and CRL days left, alarms by code, unread messages. Authenticated as every operation (a scraper uses the bearer token, e.g. Prometheus's `authorization.credentials_file`). Roles: all.",
    responses(
        (status = 200, description = "The metrics.", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"),
        (status = 401, response = Unauthenticated),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn metrics(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Response> {
    p.require(Action::Status)?;
    // The outbox ages read a state per peer from the store: off the async workers.
    let text = blocking(&s, |s| {
        let ctx = &s.ctx;
        let now = crate::store::now();
        Ok(crate::metrics::render(
            &crate::core::status(ctx),
            &ctx.store.metrics(),
            &crate::metrics::outbox_ages(ctx, now),
            now,
        ))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

/// `GET /v1/peers`.
#[utoipa::path(
    get,
    path = "/v1/peers",
    operation_id = "peers",
    tags = ["node"],
    summary = "Configured peers, their session state and outbox depth.",
    description = "Roles: all.",
    responses(
        (status = 200, description = "Peers.", body = Peers),
        (status = 401, response = Unauthenticated),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn peers(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Peers>> {
    p.require(Action::Status)?;
    let st = crate::core::status(&s.ctx);
    Ok(Json(Peers {
        peers: st.peers.iter().map(PeerView::of).collect(),
    }))
}

/// Query of `GET /v1/log`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    /// First log index (beyond the log: no entries).
    #[param(
        minimum = 0,
        maximum = 18446744073709551615u64,
        format = "uint64",
        default = 0
    )]
    pub(crate) from: Option<u64>,
    /// Most entries: 1 to 1000 (outside: 400).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub(crate) limit: Option<usize>,
}

/// `GET /v1/log`.
#[utoipa::path(
    get,
    path = "/v1/log",
    operation_id = "log",
    tags = ["audit"],
    summary = "Decoded entries of the node's tamper-evident event log (Merkle leaves).",
    description = "Leaves hold commitments (ids, parties, handling codes, times), never content. A `from` beyond the log gives no entries. Roles: auditor, supervisor.",
    params(LogQuery),
    responses(
        (status = 200, description = "A page of the log.", body = LogPage),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn log(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    q: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult<Json<LogPage>> {
    log_page(&s, &p, query(q)?).await.map(Json)
}

/// A page of the log (`GET /v1/log`, the console's log browser).
pub(crate) async fn log_page(s: &ApiState, p: &Principal, q: LogQuery) -> ApiResult<LogPage> {
    p.require(Action::ReadLog)?;
    let limit = limit(q.limit)? as u64;
    let size = s.ctx.store.log_size();
    let from = q.from.unwrap_or(0);
    let end = from.saturating_add(limit).min(size);
    // Up to `limit` journal reads: off the async workers.
    let entries = blocking(s, move |s| {
        let mut entries = Vec::new();
        for i in from..end {
            let entry = s
                .ctx
                .store
                .log_entry(i)
                .map_err(ApiError::store)?
                .ok_or_else(|| ApiError::internal(format_args!("log entry {i} is missing")))?;
            entries.push(LogEntryView::of(i, &entry, None));
        }
        Ok(entries)
    })
    .await?;
    Ok(LogPage {
        size,
        from,
        entries,
        next_from: (end < size).then_some(end),
    })
}

/// Query of `GET /v1/checkpoints`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckpointsQuery {
    /// Position of the first checkpoint (0: the oldest).
    #[param(
        minimum = 0,
        maximum = 18446744073709551615u64,
        format = "uint64",
        default = 0
    )]
    from: Option<usize>,
    /// Most checkpoints: 1 to 1000 (outside: 400).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<usize>,
}

/// Reads one page of the checkpoint history: the only place the API reads it.
fn checkpoint_page(
    data_dir: &std::path::Path,
    from: usize,
    limit: usize,
) -> crate::error::Result<CheckpointPage> {
    // Reads only the history files that hold the page (and the current one, for the total).
    let page = crate::store::checkpoint::history_page(data_dir, from as u64, limit)?;
    let total = usize::try_from(page.total).unwrap_or(usize::MAX);
    let checkpoints = page.notes;
    let end = from.saturating_add(checkpoints.len());
    Ok(CheckpointPage {
        checkpoints,
        from,
        total,
        next: (end < total).then_some(end),
    })
}

/// `GET /v1/checkpoints?from=&limit=`: a page of every checkpoint this node signed, oldest
/// first. Auditors and supervisors: the history grows for as long as the node runs.
#[utoipa::path(
    get,
    path = "/v1/checkpoints",
    operation_id = "checkpoints",
    tags = ["audit"],
    summary = "A page of every checkpoint this node signed, oldest first (later copies carry witnesses' cosignatures).",
    description = "The history grows for as long as the node runs, so it is read a page at a time. Roles: auditor, supervisor (officers read the latest checkpoint, `/v1/checkpoint`).",
    params(CheckpointsQuery),
    responses(
        (status = 200, description = "A page of the signed notes, as kept in the data dir's checkpoints.jsonl.", body = CheckpointPage),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn checkpoints(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    q: Result<Query<CheckpointsQuery>, QueryRejection>,
) -> ApiResult<Json<CheckpointPage>> {
    p.require(Action::CheckpointHistory)?;
    let q = query(q)?;
    let limit = limit(q.limit)?;
    let from = q.from.unwrap_or(0);
    let data_dir = s.ctx.cfg.data_dir.clone();
    let page = tokio::task::spawn_blocking(move || checkpoint_page(&data_dir, from, limit))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(page))
}

/// `GET /v1/proofs/{id}`: an inclusion proof of every log entry about a message against the
/// last checkpoint, in the format of `liaison audit prove` (docs/AUDIT.md).
#[utoipa::path(
    get,
    path = "/v1/proofs/{id}",
    operation_id = "proof",
    tags = ["audit"],
    summary = "Inclusion proof of every log entry about a message, against the last checkpoint.",
    description = "The proof file of `liaison audit prove` (format `liaison-inclusion-proof/1`, see docs/AUDIT.md), checkable offline with only the network CA (`liaison audit check-proof`, tests/audit_check.py). Signs a fresh checkpoint first if the log grew (as GET /v1/checkpoint does), so every entry about the message is proven. Roles: auditor, supervisor.",
    params(("id" = MessageIdText, Path, description = "The message's id.")),
    responses(
        (status = 200, description = "The proof file.", body = crate::audit::ProofFile),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn proof(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<crate::audit::ProofFile>> {
    proof_of(&s, &p, &id).await.map(Json)
}

/// The inclusion proof of a message's log entries (`GET /v1/proofs/{id}`, the console's
/// proof download).
pub(crate) async fn proof_of(
    s: &ApiState,
    p: &Principal,
    id: &str,
) -> ApiResult<crate::audit::ProofFile> {
    p.require(Action::ReadLog)?;
    let id = parse_id(id)?;
    if s.ctx.store.state(&id).map_err(ApiError::store)?.is_none() {
        return Err(ApiError::UnknownMessage(id));
    }
    // A checkpoint that covers the message (as `GET /v1/checkpoint` signs one): then a
    // proof can always be made, and any failure to make it is the node's, not the caller's.
    s.ctx.store.checkpoint().await.map_err(ApiError::store)?;
    let ctx = s.ctx.clone();
    // Reads the whole log (the node keeps no full tree in memory): off the async threads.
    let proof = tokio::task::spawn_blocking(move || {
        crate::audit::prove(&ctx.cfg.data_dir, &ctx.trust.store(), &id)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(proof)
}

/// Query of `GET /v1/consistency`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    /// Size of the older checkpoint.
    #[param(minimum = 0, maximum = 18446744073709551615u64, format = "uint64")]
    old: u64,
    /// Size of the newer checkpoint: at least `old`, at most the log's size (otherwise 422
    /// `out-of-range`).
    #[param(minimum = 0, maximum = 18446744073709551615u64, format = "uint64")]
    new: u64,
}

/// `GET /v1/consistency?old=N&new=M`: the proof that the log of `old` entries is a prefix of
/// that of `new` entries (base64 hashes, RFC 9162 order).
#[utoipa::path(
    get,
    path = "/v1/consistency",
    operation_id = "consistency",
    tags = ["audit"],
    summary = "Proof that the log of `old` entries is a prefix of the log of `new` entries (RFC 9162).",
    description = "`old` at most `new`, `new` at most the log's size (otherwise 422 `out-of-range`). Roles: auditor, supervisor.",
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof's hashes, base64, in RFC 9162 order.", body = Consistency),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyAttempts),
        (status = 422, description = "`out-of-range`: `old` is above `new`, or `new` above the log's size.", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn consistency(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> ApiResult<Json<Consistency>> {
    use base64::Engine as _;
    p.require(Action::ReadLog)?;
    let q = query(q)?;
    if q.old > q.new || q.new > s.ctx.store.log_size() {
        return Err(ApiError::OutOfRange(format!(
            "need old <= new <= {} (the log's size)",
            s.ctx.store.log_size()
        )));
    }
    let ctx = s.ctx.clone();
    let hashes = tokio::task::spawn_blocking(move || ctx.store.consistency_proof(q.old, q.new))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::store)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Json(Consistency {
        old_size: q.old,
        new_size: q.new,
        hashes: hashes.iter().map(|h| b64.encode(h)).collect(),
    }))
}

/// Body of `POST /v1/purge`.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PurgeRequest {
    /// Only list what is due.
    pub dry_run: bool,
}

/// `POST /v1/purge`: deletes the message bodies the retention policy says are due (a
/// `purged` log entry each); lists them with `dry_run`. Supervisor only.
#[utoipa::path(
    post,
    path = "/v1/purge",
    operation_id = "purge",
    tags = ["audit"],
    summary = "Delete the message bodies the retention policy says are due (supervisor only).",
    description = "Each purged message gets a `purged` log entry (naming the rule); the body is then overwritten on disk. Log entries and proofs stay. Messages still owed a receipt keep their bodies. With `dry_run`, only lists what is due. No body, `null` and `{}` are the same request.",
    request_body(content = Option<PurgeRequest>),
    responses(
        (status = 200, description = "What was due and what was purged.", body = PurgeReport),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn purge(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    req: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<PurgeReport>> {
    p.require(Action::Purge)?;
    let bytes = req
        .map_err(|e| ApiError::from_bytes(&e, s.ctx.cfg.api.max_body_bytes, "bad purge request"))?;
    // No body (or `null`) is the default request (purge what is due), as the document allows.
    let req: PurgeRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        PurgeRequest::default()
    } else {
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Null) => Ok(PurgeRequest::default()),
            Ok(v @ serde_json::Value::Object(_)) => serde_json::from_value(v),
            Ok(_) => Err(serde::de::Error::custom("a purge request is a JSON object")),
            Err(e) => Err(e),
        }
        .map_err(|e| ApiError::Malformed(format!("bad purge request: {e}")))?
    };
    Ok(Json(purge_as(&s, &p, req.dry_run).await?))
}

/// Deletes the message bodies the retention policy says are due (each a `purged` log entry,
/// and who asked in an `admin` entry), or only lists them (`dry_run`), as `p` (supervisor):
/// the API's and the console's purge.
pub(crate) async fn purge_as(s: &ApiState, p: &Principal, dry_run: bool) -> ApiResult<PurgeReport> {
    p.require(Action::Purge)?;
    // Every message is weighed against the rules, and every one due listed: off the async
    // workers.
    let (due, listed) = blocking(s, |s| {
        let due = s
            .ctx
            .store
            .retention_due(&s.ctx.cfg.retention.rules, now())
            .map_err(ApiError::store)?;
        let listed: Vec<Due> = due
            .iter()
            .map(|(id, rule)| Due {
                id: id.to_string(),
                rule: rule.clone(),
            })
            .collect();
        Ok((due, listed))
    })
    .await?;
    let purged = if dry_run {
        vec![]
    } else {
        let done = s.ctx.store.purge(due).await;
        // Purged case messages leave their cases: derive them again from what remains.
        s.ctx.cases.forget_all();
        let done = done.map_err(ApiError::store)?;
        tracing::info!(count = done.len(), by = %p.who, "message bodies purged");
        // Who asked is part of the record: the purge entries name only the rule.
        s.ctx
            .store
            .record(liaison_protocol::log::Event::Admin {
                act: "purge".into(),
                detail: format!("{} message bodies purged by {}", done.len(), p.who),
            })
            .await
            .map_err(ApiError::store)?;
        done
    };
    Ok(PurgeReport {
        dry_run,
        due: listed,
        purged: purged.iter().map(ToString::to_string).collect(),
    })
}

/// `GET /v1/checkpoint`: signs a fresh checkpoint if the log grew, then returns the latest.
#[utoipa::path(
    get,
    path = "/v1/checkpoint",
    operation_id = "checkpoint",
    tags = ["audit"],
    summary = "The latest signed checkpoint of the log (C2SP tlog-checkpoint signed note).",
    description = "Signs a fresh checkpoint first if the log grew since the last one (covering only durable entries). Roles: all.",
    responses(
        (status = 200, description = "The signed note.", body = String, content_type = "text/plain", example = json!("liaison/caricc.central-asia\n42\nq5v...=\n\n— caricc.central-asia AbCd...=\n")),
        (status = 401, response = Unauthenticated),
        (status = 404, description = "`no-checkpoint`: none signed yet.", body = ErrorBody),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(crate) async fn checkpoint(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Response> {
    p.require(Action::Checkpoint)?;
    let fresh = s.ctx.store.checkpoint().await.map_err(ApiError::store)?;
    let note = fresh
        .or_else(|| s.ctx.store.last_checkpoint())
        .ok_or(ApiError::NoCheckpoint)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}
