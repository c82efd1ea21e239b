//! The API's case endpoints (see [`crate::case`]): list, open, show, and one endpoint per
//! action on a case. Reading a case is reading content (officers, supervisors); acting on
//! one is sending.

use crate::views::{CaseHistory, CaseHistoryShare, CaseList, CaseSent, CaseSummary, CaseView};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::auth::{Action, Principal};
use super::handlers::{refusal_or_internal, sent_or_refused, sent_response};
use super::{ApiError, ApiState};
use crate::case::{self, CaseRequest, Change};
use crate::error::NodeError;

type ApiResult<T> = Result<T, ApiError>;

fn case_id(s: &str) -> ApiResult<liaison_protocol::CaseId> {
    s.parse()
        .map_err(|e| ApiError::Malformed(format!("{s:?} is not a case id: {e}")))
}

/// The request's JSON body; an empty body is an empty request (`accept`, `leave`…). A large
/// one (attachments) is parsed on the blocking pool ([`super::json::parse`]).
async fn body(s: &ApiState, bytes: Result<Bytes, BytesRejection>) -> ApiResult<CaseRequest> {
    let bytes = bytes
        .map_err(|e| ApiError::from_bytes(&e, s.ctx.cfg.api.max_body_bytes, "bad case request"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(CaseRequest::default());
    }
    let req: CaseRequest = super::json::parse(bytes, |b| serde_json::from_slice(b))
        .await
        .map_err(|e| ApiError::Malformed(format!("bad case request: {e}")))?;
    req.check_node_ids()
        .map_err(|e| ApiError::Malformed(format!("bad case request: {e}")))?;
    Ok(req)
}

/// `GET /v1/cases`: every case this node knows, newest activity first.
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
        "invite" => case::invite(ctx, &id, &req)
            .await
            .and_then(|mut v| {
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
                "/v1/cases/{id}/{other} (actions: invite, accept, decline, update, task, close, remove, leave, suspend, resume, history)"
            )))
        }
    };
    sent_response(&p, r)
}
