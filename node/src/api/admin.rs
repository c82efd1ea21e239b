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

/// `GET /v1/backup`: a consistent copy of the data dir while the node runs, streamed as a tar
/// archive (see [`crate::store::Store::backup`]); the log records who started it, before
/// the copy's point, so a restore of the copy holds that entry.
#[utoipa::path(
    get,
    path = "/v1/backup",
    operation_id = "backup",
    tags = ["node"],
    summary = "Stream a consistent copy of the data dir as a tar archive (supervisor only).",
    description = "The copy is taken at a durable batch boundary under a checkpoint signed for it: a node starts on it and `liaison audit verify` verifies it as it is. Its first member, `backup.json`, says what it holds (node, log size, journal bytes, checkpoint, time); the others are the data dir's files at their relative paths. Messages keep flowing meanwhile; purges wait until the copy ends. It holds the node's sealing key: keep it as the data dir is kept. A stream that ends early (an error after the answer began) has no end-of-archive blocks; `liaison backup` checks the journal's length against the manifest.",
    responses(
        (status = 200, description = "The tar archive.", content_type = "application/x-tar", body = Vec<u8>),
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
        (status = 507, response = DiskFull),
    ),
)]
pub(super) async fn backup(
    State(s): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> Result<axum::response::Response, ApiError> {
    p.require(Action::Backup)?;
    s.ctx
        .store
        .record(Event::Admin {
            act: "backup".into(),
            detail: format!("{} started a backup of the data dir", p.who),
        })
        .await
        .map_err(ApiError::store)?;
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    let sink =
        std::io::BufWriter::with_capacity(256 * 1024, tokio_util::io::SyncIoBridge::new(writer));
    let (ctx, who) = (s.ctx.clone(), p.who.clone());
    tokio::spawn(async move {
        match ctx.store.backup(ctx.cfg.data_dir.clone(), sink).await {
            Ok(m) => {
                tracing::info!(%who, log_size = m.log_size, journal_bytes = m.journal_bytes, "backup streamed")
            }
            Err(e) => tracing::warn!(%who, error = %e, "backup not completed"),
        }
    });
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/x-tar")
        .header(
            axum::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.backup.tar\"", s.ctx.me.id()),
        )
        .body(axum::body::Body::from_stream(
            tokio_util::io::ReaderStream::new(reader),
        ))
        .map_err(ApiError::internal)
}
