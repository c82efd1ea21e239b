//! The local officer API: HTTP/JSON on loopback, for the `liaison` CLI and officers' tools.
//!
//! Endpoints (all under `/v1`, documented in `docs/openapi.yaml`):
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | POST | `/messages` | officer, supervisor | compose, sign, log and queue a message |
//! | GET | `/inbox?from=&limit=&unread=` | all (text: officer, supervisor) | delivered messages |
//! | GET | `/messages/{id}` | officer, supervisor | header, handling, content, state |
//! | POST | `/messages/{id}/ack` | officer, supervisor | acknowledge a delivered message |
//! | GET | `/messages/{id}/trail` | all | log entries and hop receipts about a message |
//! | POST | `/messages/{id}/consent-request` | officer, supervisor | ask a message's originator for consent to share it |
//! | POST | `/messages/{id}/consent` | officer, supervisor | grant or deny a consent request (at the originator) |
//! | POST | `/messages/{id}/share` | officer, supervisor | share a received message onward under the originator's grant |
//! | GET | `/cases` | officer, supervisor | the cases this node knows ([`crate::case`]) |
//! | POST | `/cases` | officer, supervisor | open a case |
//! | GET | `/cases/{case}` | officer, supervisor | a case as this node derives it |
//! | POST | `/cases/{case}/{action}` | officer, supervisor | invite, accept, decline, update, task, close, remove, leave, suspend, resume |
//! | GET | `/status`, `/peers` | all | node status, peer sessions, outbox depths |
//! | GET | `/log?from=&limit=` | auditor, supervisor | decoded log entries |
//! | GET | `/checkpoint` | all | the latest signed checkpoint (text/plain) |
//!
//! The same router serves the officer and auditor console under `/console` (HTML, see
//! [`crate::console`] and `docs/CONSOLE.md`), with the same identities and roles.
//!
//! Two listeners serve the same router: `api.listen` (plain HTTP, bearer token from
//! `api.token_file`, supervisor role) and, if configured, `api.tls_listen` (HTTPS with
//! required officer client certificates; role from the certificate). See [`auth`] and
//! [`tls`]. Every error is JSON `{"error": "<reason-code>", "detail": "…"}` ([`ApiError`]).
//! Requests are logged at debug level with the caller's identity, never with payloads.
//!
//! Calling shape: [`bind`] (binds the sockets and prepares the token, so configuration
//! errors surface at start-up) → spawn [`ApiServer::serve`] → cancel `ctx.cancel` to stop
//! (in-flight requests finish, for at most [`SHUTDOWN_GRACE`]).

pub mod auth;
mod cases;
pub(crate) mod handlers;
pub mod tls;
pub mod view;

pub use handlers::{ConsentRequestAnswer, NodesRequest, PurgeRequest};

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use liaison_certs::Role;
use liaison_protocol::MessageId;

use crate::node::Ctx;
use auth::{Action, Principal, TokenCheck};

/// How long shutdown waits for in-flight API requests before dropping them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A bound API, ready to serve.
pub struct ApiServer {
    /// The plain (token) listener's address.
    pub local_addr: SocketAddr,
    /// The HTTPS (officer certificate) listener's address, if configured.
    pub tls_addr: Option<SocketAddr>,
    /// Serves both listeners until `ctx.cancel` fires, then shuts down gracefully.
    pub serve: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// What every handler shares (the console's pages too).
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) ctx: Arc<Ctx>,
    pub(crate) token: Arc<TokenCheck>,
    /// The console's sessions ([`crate::console`]).
    pub(crate) console: Arc<crate::console::Console>,
}

/// An API error: HTTP status, stable reason code, and a detail that says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No or wrong credentials (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller's role may not do this (403).
    #[error("the {role} role may not {}", action.name())]
    Forbidden {
        /// The caller's role.
        role: Role,
        /// What was asked.
        action: Action,
    },
    /// No message with this id is known here (404).
    #[error("no message {0} is known to this node")]
    UnknownMessage(MessageId),
    /// No case with this id is known here (404).
    #[error("no case {0} is known to this node (no opening, no invitation)")]
    UnknownCase(String),
    /// The message exists but was not delivered to this node's inbox (404).
    #[error("message {0} was not delivered to this node's inbox; only delivered messages are acknowledged")]
    NotInInbox(MessageId),
    /// The message's body was purged under the retention policy (410).
    #[error("the body of message {0} was purged; its log entries and trail remain")]
    Purged(MessageId),
    /// No checkpoint has been signed yet (404).
    #[error("no checkpoint has been signed yet")]
    NoCheckpoint,
    /// No such endpoint (404).
    #[error("no endpoint {0}; see docs/openapi.yaml")]
    NoRoute(String),
    /// The endpoint does not take this method (405).
    #[error("this endpoint does not take that method; see docs/openapi.yaml")]
    MethodNotAllowed,
    /// The request is malformed: bad JSON, bad id, bad query (400).
    #[error("{0}")]
    Malformed(String),
    /// The node refused the officer's message (422), with the refusal's reason code.
    #[error("{detail}")]
    Refused {
        /// The refusal's stable reason code.
        reason_code: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// The node failed (500); the detail is logged too.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// Stable reason code (the `error` field).
    pub fn reason_code(&self) -> &str {
        match self {
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden { .. } => "forbidden-role",
            Self::UnknownMessage(_) => "unknown-message",
            Self::UnknownCase(_) => "unknown-case",
            Self::NotInInbox(_) => "not-in-inbox",
            Self::Purged(_) => "message-purged",
            Self::NoCheckpoint => "no-checkpoint",
            Self::NoRoute(_) => "no-such-endpoint",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Malformed(_) => "malformed-request",
            Self::Refused { reason_code, .. } => reason_code,
            Self::Internal(_) => "internal-error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::UnknownMessage(_)
            | Self::UnknownCase(_)
            | Self::NotInInbox(_)
            | Self::NoCheckpoint
            | Self::NoRoute(_) => StatusCode::NOT_FOUND,
            Self::Purged(_) => StatusCode::GONE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A 500 from an internal failure, logged with its chain.
    pub fn internal(e: anyhow::Error) -> Self {
        tracing::error!(error = format!("{e:#}"), "officer API: internal error");
        Self::Internal(format!("{e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.reason_code(), "detail": self.to_string() });
        let mut resp = (self.status(), Json(body)).into_response();
        if matches!(self, Self::Unauthenticated(_)) {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"liaison\""),
            );
        }
        resp
    }
}

/// Binds the API's listeners and prepares the token (creating the token file if absent).
/// Errors name the configuration key at fault.
pub async fn bind(ctx: Arc<Ctx>) -> Result<ApiServer> {
    let api = ctx.cfg.api.clone();
    let token = auth::load_or_create_token(&api.token_file)?;
    let state = ApiState {
        token: Arc::new(TokenCheck::new(&token)?),
        ctx: ctx.clone(),
        console: Arc::new(crate::console::Console::new()?),
    };
    drop(token);
    let app = router(state);

    let plain = tokio::net::TcpListener::bind(api.listen)
        .await
        .with_context(|| format!("api.listen: cannot listen on {}", api.listen))?;
    let local_addr = plain.local_addr()?;
    let cancel = ctx.cancel.clone();
    let plain_serve = axum::serve(plain, app.clone().into_make_service())
        .with_graceful_shutdown(cancel.clone().cancelled_owned());

    let mut tls_addr = None;
    let tls_serve: Pin<Box<dyn Future<Output = ()> + Send>> = match api.tls_listen {
        Some(addr) => {
            let config = tls::server_config(&ctx.cfg, ctx.trust.clone(), ctx.id.clone())?;
            let tcp = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("api.tls_listen: cannot listen on {addr}"))?;
            let (listener, accept_loop) = tls::TlsListener::new(tcp, config, cancel.clone())?;
            tls_addr = Some(axum::serve::Listener::local_addr(&listener)?);
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<tls::OfficerConn>(),
            )
            .with_graceful_shutdown(cancel.clone().cancelled_owned());
            Box::pin(async move {
                let (served, ()) = tokio::join!(serve.into_future(), accept_loop);
                if let Err(e) = served {
                    tracing::error!(error = %e, "officer API (HTTPS) stopped");
                }
            })
        }
        None => Box::pin(std::future::ready(())),
    };
    tracing::info!(
        api = %local_addr,
        tls = %tls_addr.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        "officer API listening"
    );

    let serve = async move {
        let both = async {
            let (plain, ()) = tokio::join!(plain_serve.into_future(), tls_serve);
            if let Err(e) = plain {
                tracing::error!(error = %e, "officer API stopped");
            }
        };
        let grace = async {
            cancel.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            () = both => {}
            () = grace => tracing::warn!("officer API: requests still running after the shutdown grace period were dropped"),
        }
        tracing::debug!("officer API stopped");
    };
    Ok(ApiServer {
        local_addr,
        tls_addr,
        serve: Box::pin(serve),
    })
}

fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/messages", post(handlers::send))
        .route("/v1/inbox", get(handlers::inbox))
        .route("/v1/messages/{id}", get(handlers::show))
        .route("/v1/messages/{id}/ack", post(handlers::ack))
        .route("/v1/messages/{id}/trail", get(handlers::trail))
        .route(
            "/v1/messages/{id}/consent-request",
            post(handlers::consent_request),
        )
        .route("/v1/messages/{id}/consent", post(handlers::consent_answer))
        .route("/v1/messages/{id}/share", post(handlers::share))
        .route("/v1/cases", get(cases::list).post(cases::open))
        .route("/v1/cases/{case}", get(cases::show))
        .route("/v1/cases/{case}/{action}", post(cases::act))
        .route("/v1/status", get(handlers::status))
        .route("/v1/peers", get(handlers::peers))
        .route("/v1/log", get(handlers::log))
        .route("/v1/checkpoint", get(handlers::checkpoint))
        .route("/v1/checkpoints", get(handlers::checkpoints))
        .route("/v1/proofs/{id}", get(handlers::proof))
        .route("/v1/consistency", get(handlers::consistency))
        .route("/v1/purge", post(handlers::purge))
        .merge(crate::console::router())
        .fallback(|req: Request| async move { ApiError::NoRoute(req.uri().path().to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

/// Establishes the [`Principal`] (certificate on the HTTPS listener, bearer token on the
/// plain one), refuses the unauthenticated, and logs the request at debug level.
///
/// Console pages (`/console/…`) are authenticated by [`crate::console::gate`] instead: the
/// same certificate check on HTTPS, and on the plain listener a session started by a login
/// with the same token.
async fn authenticate(State(state): State<ApiState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if crate::console::owns(&path) {
        return crate::console::gate(&state, req, next).await;
    }
    let principal = match req.extensions().get::<ConnectInfo<tls::OfficerConn>>() {
        Some(ConnectInfo(conn)) => conn
            .officer
            .as_ref()
            .map(Principal::officer)
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "the client certificate is not an officer certificate".into(),
                )
            }),
        None => state.token.authenticate(
            req.headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        ),
    };
    match principal {
        Ok(p) => {
            req.extensions_mut().insert(p.clone());
            let resp = next.run(req).await;
            tracing::debug!(who = %p, %method, path, status = resp.status().as_u16(), "api request");
            resp
        }
        Err(e) => {
            tracing::debug!(who = "-", %method, path, status = 401, "api request refused: unauthenticated");
            e.into_response()
        }
    }
}
