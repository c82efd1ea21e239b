//! Supervisors' administrative endpoints: clearing alarms and checking the store.

use axum::extract::State;
use axum::{Extension, Json};
use liaison_protocol::log::Event;

use super::auth::{Action, Principal};
use super::doc::{DiskFull, Forbidden, Internal, TooManyAttempts, Unauthenticated};
use super::{ApiError, ApiState};
use crate::views::{AlarmView, Cleared, ScrubView};

/// `POST /v1/alarms/clear`: clears every alarm, once dealt with; an administrative act the
/// log records (who, how many, which codes).
#[utoipa::path(
    post,
    path = "/v1/alarms/clear",
    operation_id = "clearAlarms",
    tags = ["node"],
    summary = "Clear every alarm once dealt with (supervisor only); the log records who cleared what.",
    description = "Answers with the alarms cleared and the log entry (`admin`, `alarms-cleared`) that records it.",
    responses(
        (status = 200, description = "The alarms cleared.", body = Cleared),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
        (status = 507, response = DiskFull),
    ),
)]
pub(super) async fn clear_alarms(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Cleared>, ApiError> {
    p.require(Action::ClearAlarms)?;
    let cleared = s.ctx.alarms.clear();
    if cleared.is_empty() {
        return Ok(Json(Cleared {
            cleared: vec![],
            leaf: None,
        }));
    }
    let mut codes: Vec<&str> = cleared.iter().map(|a| a.code.code()).collect();
    codes.dedup();
    let leaf = s
        .ctx
        .store
        .record(Event::Admin {
            act: "alarms-cleared".into(),
            detail: format!(
                "{} cleared {} alarms ({})",
                p.who,
                cleared.len(),
                codes.join(", ")
            ),
        })
        .await
        .map_err(ApiError::store)?;
    tracing::info!(who = %p, alarms = cleared.len(), "alarms cleared");
    Ok(Json(Cleared {
        cleared: cleared.iter().map(AlarmView::of).collect(),
        leaf: Some(leaf),
    }))
}

/// `POST /v1/store/scrub`: checks every stored body now (see
/// [`crate::store::Store::scrub`]) and answers with what it found; damaged messages are
/// marked and alarmed as they are found.
#[utoipa::path(
    post,
    path = "/v1/store/scrub",
    operation_id = "scrub",
    tags = ["node"],
    summary = "Check every stored body now (supervisor only).",
    description = "Each journal batch's bodies checksum, or, in a batch where a purge zeroed a body, each body's id, signature and route; each signed receipt kept for auditors. What fails is marked damaged and alarmed (`stored-body-damaged`, `stored-batch-damaged`). The node runs the same check once after every start.",
    responses(
        (status = 200, description = "What the check found.", body = ScrubView),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    ),
)]
pub(super) async fn scrub(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<ScrubView>, ApiError> {
    p.require(Action::Scrub)?;
    let report = crate::core::check_store(&s.ctx)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(ScrubView::of(&report)))
}
