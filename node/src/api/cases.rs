//! The API's case endpoints (see [`crate::case`]): list, open, show, and one endpoint per
//! action on a case. Reading a case is reading content (officers, supervisors); acting on
//! one is sending.

use crate::views::{
    CaseHistory, CaseHistoryShare, CaseList, CaseSent, CaseSummary, CaseView, SentView,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::auth::{Action, Principal};
use super::doc::CaseActionText;
use super::doc::{
    Forbidden, Internal, Malformed, OutboxFull, PayloadTooLarge, RequestTimeout, TooManyAttempts,
    Unauthenticated,
};
use super::handlers::{refusal_or_internal, sent_or_refused, sent_response};
use super::{ApiError, ApiState};
use crate::case::{self, CaseRequest, Change};
use crate::error::NodeError;
use crate::views::ErrorBody;

type ApiResult<T> = Result<T, ApiError>;

/// The actions `POST /v1/cases/{case}/{action}` takes.
pub(crate) const ACTIONS: [&str; 11] = [
    "invite", "accept", "decline", "update", "task", "close", "remove", "leave", "suspend",
    "resume", "history",
];

fn case_id(s: &str) -> ApiResult<liaison_protocol::CaseId> {
    s.parse()
        .map_err(|e| ApiError::Malformed(format!("{s:?} is not a case id: {e}")))
}

/// The request's JSON body; an empty body (or `null`) is an empty request (`accept`,
/// `leave`…). A large
/// one (attachments) is parsed on the blocking pool ([`super::json::parse`]).
async fn body(s: &ApiState, bytes: Result<Bytes, BytesRejection>) -> ApiResult<CaseRequest> {
    let bytes = bytes
        .map_err(|e| ApiError::from_bytes(&e, s.ctx.cfg.api.max_body_bytes, "bad case request"))?;
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Ok(CaseRequest::default()),
        // An object, or `null`; serde would also read a struct from an array.
        Some(b'{' | b'n') => {}
        Some(_) => {
            return Err(ApiError::Malformed(
                "bad case request: a case request is a JSON object".into(),
            ))
        }
    }
    // JSON `null` is no request, as an empty body is.
    let req: CaseRequest =
        super::json::parse(bytes, |b| serde_json::from_slice::<Option<CaseRequest>>(b))
            .await
            .map_err(|e| ApiError::Malformed(format!("bad case request: {e}")))?
            .unwrap_or_default();
    req.check_node_ids()
        .map_err(|e| ApiError::Malformed(format!("bad case request: {e}")))?;
    Ok(req)
}

/// `GET /v1/cases`: every case this node knows, newest activity first.
#[utoipa::path(
    get,
    path = "/v1/cases",
    operation_id = "listCases",
    tags = ["cases"],
    summary = "The cases this node knows (opened, invited to, taking part), newest activity first.",
    description = "Roles: officer, supervisor (titles are content).",
    responses(
        (status = 200, description = "One line per case.", body = CaseList),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(super) async fn list(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<CaseList>> {
    p.require(Action::ReadMessage)?;
    let cases = case::load_all(&s.ctx).await.map_err(ApiError::internal)?;
    Ok(Json(CaseList {
        cases: cases
            .iter()
            .map(|c| CaseSummary::of(c, s.ctx.me.id()))
            .collect(),
    }))
}

/// `GET /v1/cases/{case}`: the case as this node derives it.
#[utoipa::path(
    get,
    path = "/v1/cases/{case}",
    operation_id = "showCase",
    tags = ["cases"],
    summary = "The case as this node derives it from the case messages it holds.",
    description = "Status, lead, handling, members and their standing, updates (content), tasks, and the timeline of every case message with what it did or the reason code it had no effect. Participants holding the same messages get the same answer. Roles: officer, supervisor.",
    params(("case" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$", example = "CARICC-2026-0042", description = "The case id.")),
    responses(
        (status = 200, description = "The case.", body = CaseView),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, description = "`unknown-case`: no opening or invitation here.", body = ErrorBody),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(super) async fn show(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseView>> {
    p.require(Action::ReadMessage)?;
    let id = case_id(&id)?;
    let st = case::load(&s.ctx, &id).await.map_err(ApiError::internal)?;
    if !st.known() {
        return Err(ApiError::UnknownCase(id.as_str().to_owned()));
    }
    let d = case::load_deliveries(&s.ctx, &id)
        .await
        .map_err(ApiError::internal)?;
    let e = case::load_earlier(&s.ctx, &id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(CaseView::of(&st).with_deliveries(&d).with_earlier(&e)))
}

/// `POST /v1/cases/{case}/history` (`nodes`: participants): shares this node's updates and
/// tasks written before they joined with them (see [`case::share_history`]); 200 with what
/// was shared and what was not, and why.
async fn history(
    s: &ApiState,
    p: &Principal,
    id: &liaison_protocol::CaseId,
    req: &CaseRequest,
) -> ApiResult<Response> {
    let shared = case::share_history(&s.ctx, id, &req.nodes)
        .await
        .map_err(refusal_or_internal)?;
    tracing::info!(case = %id, by = %p.who, messages = shared.len(), "case: earlier messages shared");
    Ok(Json(CaseHistory {
        case: id.as_str().to_owned(),
        messages: shared
            .into_iter()
            .map(|h| CaseHistoryShare {
                id: h.id.to_string(),
                to: h.to.iter().map(|n| n.as_str().to_owned()).collect(),
                share: h.outcome.as_ref().ok().map(ToString::to_string),
                refused: h.outcome.err().map(|e| {
                    let e = refusal_or_internal(e);
                    format!("{}: {e}", e.reason_code())
                }),
            })
            .collect(),
    })
    .into_response())
}

/// `POST /v1/cases`: opens a case; 201 with the case id and the opening message.
#[utoipa::path(
    post,
    path = "/v1/cases",
    operation_id = "openCase",
    tags = ["cases"],
    summary = "Open a case (title, summary, handling, lead) and invite nodes at once.",
    description = "`title`, `tlp` and `eval` are required; `lang` is required when there is `text`. The case id defaults to `<CENTRE>-<year>-<4 hex digits>`, the lead to this node, the releasability to the networks of the nodes named and of this node. Every later case message must be within this handling. Roles: officer, supervisor.",
    request_body(content = CaseRequest, example = json!({"title": "Операция «Караван»", "nodes": ["kz-dcu.central-asia", "gcc-cic.gulf"], "tlp": "AMBER", "eval": "B2", "text": "Контролируемая поставка", "lang": "ru", "entities": ["phone=+77011234567"]})),
    responses(
        (status = 201, description = "Opened; `Location` is the case.", body = CaseSent,
            headers(("Location" = String, description = "/v1/cases/{case}")),
            links(
                ("ShowOpened" = (operation_id = "showCase", parameters(("case" = "$response.body#/case")), description = "The case opened.")),
                ("ActOnOpened" = (operation_id = "actOnCase", parameters(("case" = "$response.body#/case")), description = "An action on it.")),
            )),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 422, description = "Refused (`limit-exceeded`, `case-exists`, `invalid-message`, `invalid-handling`, `no-route`, `no-sealing-key`).", body = ErrorBody),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
        (status = 503, response = OutboxFull),
    ),
)]
pub(super) async fn open(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    req: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    p.require(Action::Send)?;
    let req = body(&s, req).await?;
    let r = case::open(&s.ctx, &req).await;
    let id = r.as_ref().ok().map(|(id, _)| id.as_str().to_owned());
    let sent = sent_or_refused(&p, r.map(|(_, sent)| sent))?;
    let id = id.unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/cases/{id}"))],
        Json(CaseSent {
            case: id,
            id: sent.id.to_string(),
            next_hops: sent
                .next_hops
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect(),
        }),
    )
        .into_response())
}

/// `POST /v1/cases/{case}/{action}`: `invite`, `accept`, `decline`, `update`, `task`,
/// `close`, `remove`, `leave`, `suspend`, `resume`, `history`.
#[utoipa::path(
    post,
    path = "/v1/cases/{case}/{action}",
    operation_id = "actOnCase",
    tags = ["cases"],
    summary = "Invite, accept, decline, post an update or a task, close, remove, leave, suspend, resume, or share earlier messages.",
    description = "One signed case message, checked first as every participant will check it. `invite`: `nodes` (lead only). `accept`/`decline`: empty body. `update`: `text`, `lang`, `entities`, optionally `to` (participants), a stricter `tlp`, narrower `release`. `task`: `title`, `assignee`, `due` (YYYY-MM-DD or RFC 3339), `status`; with `task` (an id or unique prefix) it changes that task. `close`, `suspend`, `resume` (lead only), `leave`: `text` is the reason; `remove` (lead only): `nodes` = [the node]. Roles: officer, supervisor.

`history`: `nodes` = participants that joined after some of this node's updates and tasks (the case's `earlier`). By default a participant receives only what is written after it joined; this shares this node's earlier updates and tasks with them, each as a `share` of the original under this node's grant, re-sealed for them and checked against the original's handling (an update sent to only some participants is not shared). Answered 200 with what was shared and what was not (and why), not 201; a node that does not take part: 422 `not-a-participant`.",
    params(("case" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$", example = "CARICC-2026-0042", description = "The case id."), ("action" = CaseActionText, Path, description = "What to do.")),
    request_body(content = Option<CaseRequest>, example = json!({"text": "السفينة تصل يوم الخميس", "lang": "ar"})),
    responses(
        (status = 200, description = "`history`: what was shared.", body = CaseHistory),
        (
            status = 201,
            description = "Sent.",
            body = SentView,
            headers(("Location" = String, description = "/v1/messages/{id} of the message sent"))
        ),
        (status = 400, response = Malformed),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, description = "`unknown-message`: a task or message named is not known here.", body = ErrorBody),
        (status = 408, response = RequestTimeout),
        (status = 413, response = PayloadTooLarge),
        (status = 422, description = "Refused over a count or size limit (`limit-exceeded`, checked first), by the case rules (`unknown-case`, `case-closed`, `case-suspended`, `case-handling`, `not-a-participant`, `not-case-lead`, `not-invited`, `already-participant`, `unknown-task`, `not-task-party`) or as any message (`no-route`, `no-sealing-key`, …).", body = ErrorBody),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
        (status = 503, response = OutboxFull),
    ),
)]
pub(super) async fn act(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path((id, action)): Path<(String, String)>,
    req: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    p.require(Action::Send)?;
    let id = case_id(&id)?;
    let req = body(&s, req).await?;
    let ctx = &s.ctx;
    if action == "history" {
        return history(&s, &p, &id, &req).await;
    }
    let r = match action.as_str() {
        // One invitation per node; the answer names the last (all are in the case).
        "invite" => case::invite(ctx, &id, &req).await.and_then(|mut v| {
            v.pop()
                .ok_or_else(|| NodeError::failed("no invitation sent"))
        }),
        "accept" => case::join(ctx, &id, true).await,
        "decline" => case::join(ctx, &id, false).await,
        "update" => case::update(ctx, &id, &req).await,
        "task" => case::task(ctx, &id, &req).await,
        "close" => case::change(ctx, &id, Change::Close, &req).await,
        "remove" => case::change(ctx, &id, Change::Remove, &req).await,
        "leave" => case::change(ctx, &id, Change::Leave, &req).await,
        "suspend" => case::change(ctx, &id, Change::Suspend, &req).await,
        "resume" => case::change(ctx, &id, Change::Resume, &req).await,
        other => {
            return Err(ApiError::NoRoute(format!(
                "/v1/cases/{id}/{other} (actions: {})",
                ACTIONS.join(", ")
            )))
        }
    };
    sent_response(&p, r)
}
