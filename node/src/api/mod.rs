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
//! | POST | `/cases/{case}/{action}` | officer, supervisor | invite, accept, decline, update, task, close, remove, leave, suspend, resume, history |
//! | GET | `/status`, `/peers` | all | node status, peer sessions, outbox depths |
//! | GET | `/metrics` (not under `/v1`) | all | Prometheus metrics ([`crate::metrics`]) |
//! | GET | `/log?from=&limit=` | auditor, supervisor | decoded log entries |
//! | GET | `/checkpoint` | all | the latest signed checkpoint (text/plain) |
//! | GET | `/checkpoints?from=&limit=` | auditor, supervisor | a page of every checkpoint signed |
//! | GET | `/proofs/{id}`, `/consistency?old=&new=` | auditor, supervisor | inclusion and consistency proofs |
//! | POST | `/purge` | supervisor | purge message bodies under the retention policy |
//! | POST | `/alarms/clear` | supervisor | clear the alarms (logged as an administrative act) |
//! | POST | `/store/scrub` | supervisor | check every stored body now |
//!
//! The same router serves the officer and auditor console under `/console` (HTML, see
//! `crate::console` and `docs/CONSOLE.md`), with the same identities and roles.
//!
//! Two listeners serve the same router: `api.listen` (plain HTTP, bearer token from
//! `api.token_file`, supervisor role) and, if configured, `api.tls_listen` (HTTPS with
//! required officer client certificates; role from the certificate). See [`auth`] and
//! [`tls`]. Both serve their connections through [`serve`]: a header, idle and body timeout
//! and a connection cap per listener, sized within the process's open-file limit
//! ([`crate::fd_limit`]). Failed token sign-ins back off per source ([`backoff`]).
//!
//! Every answer carries `X-Request-Id` ([`request_id`]). Every error is JSON
//! `{"error": "<reason-code>", "detail": "…", "request_id": "…"}` ([`ApiError`]); a 500 says
//! only `internal-error` and the request id, and the node's log has the cause under that id.
//! A body above `api.max_body_bytes` gets 413 (refused by its `Content-Length` before it is
//! read, where it has one). Requests are logged at debug level with the caller's identity and
//! the request id, never with payloads.
//!
//! Limits before work: every request's counts and sizes are checked before anything else is
//! done with it (422 `limit-exceeded`). What grows with the node's data (journal reads for
//! the inbox, log and trails, case derivations, proofs, retention) and the parsing of large
//! bodies (`json.rs`) run on the blocking pool, so that `/v1/status` and the peer sessions,
//! which share the async workers, are never held up behind them.
//!
//! Calling shape: `bind` (binds the sockets and prepares the token, so configuration
//! errors surface at start-up) → spawn [`ApiServer::serve`] → cancel `ctx.cancel` to stop
//! (in-flight requests finish, for at most [`SHUTDOWN_GRACE`]).

mod admin;
pub mod auth;
pub mod backoff;
mod cases;
pub mod doc;
pub(crate) mod handlers;
mod json;
pub mod request_id;
pub mod serve;
pub mod tls;

pub use handlers::{ConsentRequestAnswer, NodesRequest, PurgeRequest};

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use liaison_certs::Role;
use liaison_protocol::MessageId;

use crate::core::Ctx;
use auth::{Action, Principal, TokenCheck};
use backoff::{SignInBackoff, Source};
use request_id::RequestId;
use serve::ConnLimits;

/// How long shutdown waits for in-flight API requests before dropping them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The fewest connections a listener may be left with by the open-file limit; below it the
/// node refuses to start rather than serve officers unreliably.
pub const MIN_CONNECTIONS: usize = 8;

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
    /// Failed token sign-ins per source, bearer and console login alike.
    pub(crate) sign_ins: Arc<SignInBackoff>,
    /// When each principal's sign-in was last recorded in the log.
    pub(crate) recorded_sign_ins: Arc<crate::admin_log::SignIns>,
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
    /// A well-formed request about what this node does not hold: a log range beyond its
    /// log, an older size above the newer (422).
    #[error("{0}")]
    OutOfRange(String),
    /// The request body is larger than `api.max_body_bytes` (413).
    #[error(
        "the request body is larger than this node accepts ({limit} bytes, api.max_body_bytes)"
    )]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The request body did not arrive within `api.body_timeout_secs` of its headers (408).
    #[error("the request body did not arrive within {} s of its headers (api.body_timeout_secs)", .0.as_secs())]
    BodyTimeout(Duration),
    /// Too many failed sign-ins from the caller's address ([`backoff`]) (429).
    #[error("too many failed sign-ins from this address; try again in {} s", retry_after_secs(*.retry_after))]
    TooManyAttempts {
        /// How long until the next attempt is heard.
        retry_after: Duration,
    },
    /// The node refused the officer's message (422), with the refusal's reason code.
    #[error("{0}")]
    Refused(crate::refusal::Refusal),
    /// The stored copy of a message is damaged (500): it is not shown.
    #[error("{0}")]
    Damaged(crate::store::StoreError),
    /// The disk holding the data dir is full (507): nothing was written.
    #[error("{0}")]
    DiskFull(crate::store::StoreError),
    /// Writing to the data dir failed (500): nothing of the request was acknowledged; the
    /// store's reason code says whether it goes on writing (`storage-write-failed`) or waits
    /// for a restart (`store-stopped-writing`).
    #[error("{0}")]
    StorageFailed(crate::store::StoreError),
    /// The node failed (500). The answer carries only the request id; the node's log has
    /// the cause under it (see [`ApiError::internal`]).
    #[error("internal error; the node's log has the details under request id {0}")]
    Internal(RequestId),
}

/// A wait in whole seconds for `Retry-After`, rounded up (at least 1).
fn retry_after_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
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
            Self::OutOfRange(_) => "out-of-range",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::BodyTimeout(_) => "request-timeout",
            Self::TooManyAttempts { .. } => "too-many-attempts",
            Self::Refused(r) => r.reason_code(),
            Self::Damaged(e) | Self::DiskFull(e) | Self::StorageFailed(e) => e.reason_code(),
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
            | Self::NoCheckpoint
            | Self::NoRoute(_) => StatusCode::NOT_FOUND,
            // The message is known here but was not delivered here: its state, not its
            // absence, is why it cannot be acknowledged.
            Self::NotInInbox(_) => StatusCode::CONFLICT,
            Self::OutOfRange(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Purged(_) => StatusCode::GONE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            // Not the request's fault: an outbox is at its limit for now.
            Self::Refused(crate::refusal::Refusal::OutboxFull { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Damaged(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::DiskFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::StorageFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A store failure as the API reports it: a damaged message and a full disk have reason
    /// codes of their own; anything else is internal.
    pub fn store(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::Damaged { .. } => Self::Damaged(e),
            StoreError::DiskFull(_) => {
                tracing::error!(error = %e, "officer API: the disk is full");
                Self::DiskFull(e)
            }
            StoreError::Write(_) | StoreError::Broken(_) => {
                tracing::error!(error = %e, "officer API: writing to the data dir failed");
                Self::StorageFailed(e)
            }
            other => Self::internal(other),
        }
    }

    /// A 500 from an internal failure. The cause goes to the node's log only, with the id of
    /// the request being answered; the answer names that id and nothing else, because the
    /// cause's chain names files and internals that are no business of the caller's.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        let id = RequestId::current().unwrap_or_else(RequestId::next);
        tracing::error!(request_id = %id, error = format!("{e:#}"), "officer API: internal error");
        Self::Internal(id)
    }

    /// The error a request body's rejection stands for: 413 above the size limit, 408 when it
    /// came too slowly, else 400 saying what was wrong (`what` names the request).
    pub(crate) fn from_body(
        status: StatusCode,
        text: String,
        err: &(dyn std::error::Error + 'static),
        limit: usize,
        what: &str,
    ) -> Self {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::PayloadTooLarge { limit };
        }
        let mut cause = Some(err);
        while let Some(e) = cause {
            if let Some(t) = e.downcast_ref::<serve::BodyTimedOut>() {
                return Self::BodyTimeout(t.timeout());
            }
            cause = e.source();
        }
        Self::Malformed(format!("{what}: {text}"))
    }

    /// [`ApiError::from_body`] for a JSON body.
    pub(crate) fn from_json(e: &JsonRejection, limit: usize, what: &str) -> Self {
        Self::from_body(e.status(), e.body_text(), e, limit, what)
    }

    /// [`ApiError::from_body`] for a body read as bytes.
    pub(crate) fn from_bytes(e: &BytesRejection, limit: usize, what: &str) -> Self {
        Self::from_body(e.status(), e.body_text(), e, limit, what)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = match &self {
            Self::Internal(id) => Some(id.clone()),
            _ => RequestId::current(),
        };
        let body = crate::views::ErrorBody {
            error: self.reason_code().to_owned(),
            detail: self.to_string(),
            request_id: request_id.as_ref().map(|id| id.as_str().to_owned()),
        };
        let mut resp = (self.status(), Json(body)).into_response();
        let headers = resp.headers_mut();
        match &self {
            Self::Unauthenticated(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"liaison\""),
                );
            }
            Self::TooManyAttempts { retry_after } => {
                headers.insert(header::RETRY_AFTER, retry_after_secs(*retry_after).into());
            }
            Self::Refused(crate::refusal::Refusal::OutboxFull {
                retry_after_secs, ..
            }) => {
                headers.insert(header::RETRY_AFTER, (*retry_after_secs).max(1).into());
            }
            // The rest of the body was never read: the connection cannot carry another request.
            Self::PayloadTooLarge { .. } | Self::BodyTimeout(_) => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        resp
    }
}

/// Why the officer API did not start. Each message names the setting at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiStartError {
    /// A listener cannot be bound.
    #[error("{key}: cannot listen on {addr}")]
    Listen {
        /// The setting (`api.listen`, `api.tls_listen`).
        key: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file cannot be read, created or written (the message names the setting and file).
    #[error("{what}")]
    Io {
        /// The setting and the file.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key file cannot be read.
    #[error("{key}: {path}")]
    Cert {
        /// The setting (`api.tls_cert`, `identity.key`, …).
        key: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: liaison_certs::CertError,
    },
    /// A setting cannot be used (the message names it and why).
    #[error("{0}")]
    Invalid(String),
    /// The system random generator failed.
    #[error("system random generator failed")]
    Random,
}

/// Another shell served on the API's listeners, beside the JSON API (the console): its routes,
/// which paths are its own, and how it authenticates them instead of the API's bearer-token
/// and certificate check. The shell is built above the API and handed to [`bind`], so the API
/// knows nothing of it.
pub(crate) struct Shell {
    /// Its routes, merged into the API's router.
    pub(crate) router: Router<ApiState>,
    /// Whether a path is the shell's (not the JSON API's: no JSON body limit, its own check).
    pub(crate) owns: fn(&str) -> bool,
    /// Authenticates a request for one of its paths, then runs the rest of the stack.
    pub(crate) gate: Gate,
}

/// How a [`Shell`] authenticates its requests.
pub(crate) type Gate = Arc<
    dyn Fn(ApiState, Request, Next) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync,
>;

/// What the API's middleware knows of the other shell.
#[derive(Clone)]
struct ShellHooks {
    owns: fn(&str) -> bool,
    gate: Gate,
}

/// Binds the API's listeners and prepares the token (creating the token file if absent); the
/// console (`shell`) is served on the same listeners. Errors name the configuration key at
/// fault.
pub(crate) async fn bind(ctx: Arc<Ctx>, shell: Shell) -> Result<ApiServer, ApiStartError> {
    let api = ctx.cfg.api.clone();
    let token = auth::load_or_create_token(&api.token_file)?;
    let state = ApiState {
        token: Arc::new(TokenCheck::new(&token)?),
        ctx: ctx.clone(),
        sign_ins: Arc::new(SignInBackoff::new()),
        recorded_sign_ins: Arc::default(),
    };
    drop(token);
    let app = router(state, shell);
    let limits = ConnLimits::new(&api, connection_cap(&api)?);

    let listen_error = |key, addr| move |source| ApiStartError::Listen { key, addr, source };
    let plain = tokio::net::TcpListener::bind(api.listen)
        .await
        .map_err(listen_error("api.listen", api.listen))?;
    let local_addr = plain
        .local_addr()
        .map_err(listen_error("api.listen", api.listen))?;
    let cancel = ctx.cancel.clone();
    let plain_serve = serve::serve(
        plain,
        serve::Plain,
        app.clone(),
        limits,
        cancel.clone(),
        "api.listen",
    );

    let mut tls_addr = None;
    let tls_serve: Pin<Box<dyn Future<Output = ()> + Send>> = match api.tls_listen {
        Some(addr) => {
            let config = tls::server_config(&ctx.cfg, ctx.trust.tls(), ctx.me.id().clone())?;
            let tcp = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(listen_error("api.tls_listen", addr))?;
            tls_addr = Some(
                tcp.local_addr()
                    .map_err(listen_error("api.tls_listen", addr))?,
            );
            Box::pin(serve::serve(
                tcp,
                tls::OfficerHandshake::new(config, ctx.trust.changes()),
                app,
                limits,
                cancel.clone(),
                "api.tls_listen",
            ))
        }
        None => Box::pin(std::future::ready(())),
    };
    tracing::info!(
        api = %local_addr,
        tls = %tls_addr.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        max_connections = limits.max_connections,
        "officer API listening"
    );

    let serve = async move {
        let both = async {
            tokio::join!(plain_serve, tls_serve);
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

/// Each listener's connection cap: `api.max_connections`, lowered so that the API's
/// connections together stay within [`crate::fd_limit::api_budget`] (half the descriptors
/// free now), leaving the rest to the store's files and QUIC.
fn connection_cap(api: &crate::config::ApiConfig) -> Result<usize, ApiStartError> {
    let listeners = if api.tls_listen.is_some() { 2 } else { 1 };
    let budget = crate::fd_limit::api_budget() / listeners;
    let cap = api
        .max_connections
        .min(usize::try_from(budget).unwrap_or(usize::MAX));
    if cap < MIN_CONNECTIONS.min(api.max_connections) {
        return Err(ApiStartError::Invalid(format!(
            "api.max_connections: the open-file limit leaves the officer API only {cap} \
             connections per listener (soft RLIMIT_NOFILE {}, {} descriptors open); raise it \
             (systemd: LimitNOFILE=, shell: ulimit -n)",
            crate::fd_limit::soft_limit().map_or_else(|| "unlimited".into(), |n| n.to_string()),
            crate::fd_limit::open_now().map_or_else(|| "?".into(), |n| n.to_string()),
        )));
    }
    if cap < api.max_connections {
        tracing::warn!(
            configured = api.max_connections,
            cap,
            soft_limit = ?crate::fd_limit::soft_limit(),
            "officer API: api.max_connections lowered to stay within the open-file limit \
             (raise it with LimitNOFILE= or ulimit -n)"
        );
    }
    Ok(cap)
}

fn router(state: ApiState, shell: Shell) -> Router {
    let hooks = ShellHooks {
        owns: shell.owns,
        gate: shell.gate,
    };
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
        .route("/metrics", get(handlers::metrics))
        .route("/v1/peers", get(handlers::peers))
        .route("/v1/log", get(handlers::log))
        .route("/v1/checkpoint", get(handlers::checkpoint))
        .route("/v1/checkpoints", get(handlers::checkpoints))
        .route("/v1/proofs/{id}", get(handlers::proof))
        .route("/v1/consistency", get(handlers::consistency))
        .route("/v1/purge", post(handlers::purge))
        .route("/v1/alarms/clear", post(admin::clear_alarms))
        .route("/v1/store/scrub", post(admin::scrub))
        .route("/v1/backup", get(admin::backup))
        .merge(shell.router)
        .fallback(|req: Request| async move { ApiError::NoRoute(req.uri().path().to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            (state.clone(), hooks.clone()),
            authenticate,
        ))
        .layer(DefaultBodyLimit::max(state.ctx.cfg.api.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            (state.clone(), hooks),
            request_context,
        ))
        .with_state(state)
}

/// The outermost layer: gives the request its id ([`RequestId`], in the answer's
/// `X-Request-Id` and the log lines about it) and refuses a body whose declared length is
/// above `api.max_body_bytes` before anything reads it. Console pages answer in HTML with
/// their own, smaller form limit instead.
async fn request_context(
    State((state, shell)): State<(ApiState, ShellHooks)>,
    req: Request,
    next: Next,
) -> Response {
    let id = RequestId::next();
    let limit = state.ctx.cfg.api.max_body_bytes;
    let mut resp = id
        .clone()
        .scope(async move {
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > limit as u64) && !(shell.owns)(req.uri().path()) {
                tracing::debug!(
                    path = req.uri().path(),
                    declared,
                    "api request refused: body too large"
                );
                return ApiError::PayloadTooLarge { limit }.into_response();
            }
            next.run(req).await
        })
        .await;
    resp.headers_mut()
        .insert(request_id::HEADER.clone(), id.header_value());
    resp
}

/// Establishes the [`Principal`] (certificate on the HTTPS listener, bearer token on the
/// plain one), refuses the unauthenticated, and logs the request at debug level.
///
/// The other shell's paths (the console's `/console/…`) are authenticated by its own gate
/// instead ([`Shell::gate`]).
async fn authenticate(
    State((state, shell)): State<(ApiState, ShellHooks)>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if (shell.owns)(&path) {
        return (shell.gate)(state, req, next).await;
    }
    let (principal, how, source) = match req.extensions().get::<ConnectInfo<tls::OfficerConn>>() {
        Some(ConnectInfo(conn)) => (
            conn.still_accepted(&state.ctx.trust)
                .map_err(|why| {
                    ApiError::Unauthenticated(format!(
                        "the client certificate is no longer accepted: {why}"
                    ))
                })
                .and_then(|()| {
                    conn.officer
                        .as_ref()
                        .map(Principal::officer)
                        .ok_or_else(|| {
                            ApiError::Unauthenticated(
                                "the client certificate is not an officer certificate".into(),
                            )
                        })
                }),
            "an officer certificate (API)",
            Some(conn.remote.ip()),
        ),
        None => {
            let source = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip());
            let (principal, guessed) = token_sign_in(&state, &req);
            if guessed && principal.is_err() {
                sign_in_refused(&state, "a wrong bearer token (API)", source).await;
            }
            (principal, "the bearer token (API)", source)
        }
    };
    let request_id = RequestId::current().map(|id| id.to_string());
    match principal {
        Ok(p) => {
            note_sign_in(&state, &p, how, source).await;
            req.extensions_mut().insert(p.clone());
            let resp = next.run(req).await;
            tracing::debug!(who = %p, %method, path, status = resp.status().as_u16(), request_id, "api request");
            resp
        }
        Err(e) => {
            tracing::debug!(who = "-", %method, path, status = e.status().as_u16(), request_id, reason = e.reason_code(), "api request refused");
            e.into_response()
        }
    }
}

/// The bearer token of a request on the plain listener, checked unless its source is
/// backing off ([`backoff`]); and whether a token was presented and checked. A request
/// without an `Authorization` header guesses nothing and is not counted.
fn token_sign_in(state: &ApiState, req: &Request) -> (Result<Principal, ApiError>, bool) {
    let source = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| Source::from(addr.ip()));
    let now = Instant::now();
    if let Some(source) = source {
        if let Err(retry_after) = state.sign_ins.check(source, now) {
            return (Err(ApiError::TooManyAttempts { retry_after }), false);
        }
    }
    let presented = req.headers().get(header::AUTHORIZATION);
    let principal = state
        .token
        .authenticate(presented.and_then(|v| v.to_str().ok()));
    if let (Some(source), Some(_)) = (source, presented) {
        state.sign_ins.record(source, principal.is_ok(), now);
    }
    (principal, presented.is_some())
}

/// ` from <address>`, or nothing when the source is unknown, for log entries about sign-ins.
pub(crate) fn from_address(source: Option<std::net::IpAddr>) -> String {
    source.map_or(String::new(), |ip| format!(" from {ip}"))
}

/// Records `p`'s sign-in by `method` in the log: on the API, where every request
/// authenticates, once per [`crate::admin_log::SIGN_IN_RECORD_INTERVAL`] per principal and
/// method.
pub(crate) async fn note_sign_in(
    state: &ApiState,
    p: &Principal,
    method: &str,
    source: Option<std::net::IpAddr>,
) {
    let key = format!("{} {} {method}", p.who, p.role.as_str());
    if state.recorded_sign_ins.due(&key, Instant::now()) {
        crate::admin_log::record(
            &state.ctx.store,
            "sign-in",
            format!(
                "{} ({}) with {method}{}",
                p.who,
                p.role.as_str(),
                from_address(source)
            ),
        )
        .await;
    }
}

/// Records a refused sign-in (a wrong token); the sign-in back-off bounds how often.
pub(crate) async fn sign_in_refused(
    state: &ApiState,
    method: &str,
    source: Option<std::net::IpAddr>,
) {
    crate::admin_log::record(
        &state.ctx.store,
        "sign-in-refused",
        format!("{method}{}", from_address(source)),
    )
    .await;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One error of every kind. The match in `every_variant_is_listed` stops compiling when a
    /// variant is added, until it is listed here too.
    pub(crate) fn one_of_each() -> Vec<ApiError> {
        let id = MessageId::of_body(b"x");
        vec![
            ApiError::Unauthenticated("x".into()),
            ApiError::Forbidden {
                role: Role::Auditor,
                action: Action::Send,
            },
            ApiError::UnknownMessage(id),
            ApiError::UnknownCase("c".into()),
            ApiError::NotInInbox(id),
            ApiError::Purged(id),
            ApiError::NoCheckpoint,
            ApiError::NoRoute("/x".into()),
            ApiError::MethodNotAllowed,
            ApiError::Malformed("x".into()),
            ApiError::OutOfRange("x".into()),
            ApiError::PayloadTooLarge { limit: 10 },
            ApiError::BodyTimeout(Duration::from_secs(3)),
            ApiError::TooManyAttempts {
                retry_after: Duration::from_millis(1500),
            },
            ApiError::Refused(crate::refusal::Refusal::NoRoute("x".into())),
            ApiError::Refused(crate::refusal::Refusal::OutboxFull {
                detail: "x".into(),
                retry_after_secs: 30,
            }),
            ApiError::Damaged(crate::store::StoreError::Damaged {
                id,
                why: "x".into(),
            }),
            ApiError::DiskFull(crate::store::StoreError::DiskFull(std::io::Error::from(
                std::io::ErrorKind::StorageFull,
            ))),
            ApiError::StorageFailed(crate::store::StoreError::Write(std::io::Error::other(
                "EIO",
            ))),
            ApiError::StorageFailed(crate::store::StoreError::Broken("x".into())),
            ApiError::Internal(RequestId::next()),
        ]
    }

    #[test]
    fn every_variant_is_listed() {
        for e in one_of_each() {
            match e {
                ApiError::Unauthenticated(_)
                | ApiError::Forbidden { .. }
                | ApiError::UnknownMessage(_)
                | ApiError::UnknownCase(_)
                | ApiError::NotInInbox(_)
                | ApiError::Purged(_)
                | ApiError::NoCheckpoint
                | ApiError::NoRoute(_)
                | ApiError::MethodNotAllowed
                | ApiError::Malformed(_)
                | ApiError::OutOfRange(_)
                | ApiError::PayloadTooLarge { .. }
                | ApiError::BodyTimeout(_)
                | ApiError::TooManyAttempts { .. }
                | ApiError::Refused(_)
                | ApiError::Damaged(_)
                | ApiError::DiskFull(_)
                | ApiError::StorageFailed(_)
                | ApiError::Internal(_) => {}
            }
        }
    }

    /// docs/REASONS.md lists every code the API answers with, with its HTTP status.
    #[test]
    fn every_api_reason_code_is_documented_with_its_status() {
        let doc = include_str!("../../../docs/REASONS.md");
        for e in one_of_each() {
            if matches!(e, ApiError::Refused(_)) {
                // A refusal carries the code of the layer that refused (documented there).
                continue;
            }
            let row = format!("| `{}` | {} |", e.reason_code(), e.status().as_u16());
            assert!(doc.contains(&row), "docs/REASONS.md lacks the row {row}");
        }
    }

    async fn answer(e: ApiError) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let resp = e.into_response();
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (
            parts.status,
            parts.headers,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_500_names_the_request_id_and_nothing_of_the_cause() {
        let id = RequestId::next();
        let e = id
            .clone()
            .scope(async {
                ApiError::internal(
                    "cannot read /var/lib/liaison/certs/node-1.pem: Permission denied",
                )
            })
            .await;
        let (status, _, body) = answer(e).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "internal-error");
        assert_eq!(body["request_id"], id.as_str());
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(id.as_str()), "{detail}");
        assert!(!body.to_string().contains("/var/lib"), "{body}");
        assert!(!body.to_string().contains("Permission"), "{body}");
    }

    #[tokio::test]
    async fn refusals_say_when_to_come_back_and_oversize_bodies_close_the_connection() {
        let (status, headers, body) = answer(ApiError::TooManyAttempts {
            retry_after: Duration::from_millis(1500),
        })
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["error"], "too-many-attempts");
        assert_eq!(headers[header::RETRY_AFTER], "2");
        let (status, headers, body) = answer(ApiError::PayloadTooLarge { limit: 1024 }).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"], "payload-too-large");
        assert_eq!(headers[header::CONNECTION], "close");
        let (status, headers, body) =
            answer(ApiError::Refused(crate::refusal::Refusal::OutboxFull {
                detail: "outbox to x.y is full".into(),
                retry_after_secs: 30,
            }))
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"], "outbox-full");
        assert_eq!(headers[header::RETRY_AFTER], "30");
    }

    #[test]
    fn a_body_that_came_too_slowly_is_a_408_however_deeply_it_is_wrapped() {
        let timed_out = axum::Error::new(axum::Error::new(serve::BodyTimedOut::new(
            Duration::from_secs(4),
        )));
        let e = ApiError::from_body(
            StatusCode::BAD_REQUEST,
            "Failed to buffer the request body".into(),
            &timed_out,
            1024,
            "bad message request",
        );
        assert!(
            matches!(e, ApiError::BodyTimeout(d) if d == Duration::from_secs(4)),
            "{e:?}"
        );
        let other = axum::Error::new(std::io::Error::other("eof"));
        let e = ApiError::from_body(StatusCode::BAD_REQUEST, "eof".into(), &other, 1024, "bad");
        assert_eq!(e.reason_code(), "malformed-request");
        let e = ApiError::from_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "big".into(),
            &other,
            1024,
            "bad",
        );
        assert_eq!(e.reason_code(), "payload-too-large");
    }
}
