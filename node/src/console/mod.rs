//! The officer and auditor console: server-rendered HTML pages under `/console`, served by
//! the officer API's listeners with the API's own authentication and roles.
//!
//! * **Who**: on the HTTPS listener the officer's client certificate (role from it); on the
//!   plain loopback listener a login with the API token (`api.token_file`, supervisor) that
//!   starts a session ([`session`]); failed logins back off per source exactly as failed
//!   bearer tokens do ([`crate::api::backoff`], one table for both). `gate` establishes the
//!   [`Principal`] exactly as the JSON API does and the pages check it with the same
//!   [`Action`] table.
//! * **What**: the pages call the functions the JSON API's handlers call and render the
//!   typed views they return ([`crate::views`]), so every rule (roles, content only for
//!   readers, refusals) is the API's. Pages: inbox, message (handling,
//!   evaluation, entities, trail), compose, cases (and the case actions), node status, and
//!   the log browser (verify, export, proof).
//! * **Safety**: pages are maud templates, which escape every value they interpolate; a strict
//!   Content-Security-Policy (no script at all, styles from `/console/static/` only, forms
//!   post to the console only, no framing); every POST carries the CSRF token of its session
//!   (or certificate) and a same-origin `Origin` when the browser sends one, else 403 with a
//!   reason code; cookies are `HttpOnly; SameSite=Strict` (and `Secure` on HTTPS).
//! * **Languages**: [`i18n`] (Fluent; English, Russian, Arabic right-to-left). User content
//!   is shown as written, with its language tag and isolated direction.

mod audit;
mod case_actions;
mod cases;
mod compose;
mod html;
pub(crate) mod i18n;
mod pages;
pub(crate) mod session;
mod sharing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::api::auth::{Action, Principal};
use crate::api::backoff::Source;
use crate::api::request_id::RequestId;
use crate::api::{tls, ApiError, ApiState};
use html::{csrf_field, FormData};
use i18n::Locale;
use maud::{html, Markup, DOCTYPE};

/// The language cookie: a reader's language is the same whichever node's console it reads.
pub(crate) const LANG_COOKIE: &str = "liaison_lang";

/// The name of the session cookie of the console of `node`. One name per node: browsers
/// scope cookies by host, not port, so two nodes' consoles on one host would otherwise
/// overwrite each other's session.
pub fn session_cookie_name(node: &str) -> String {
    format!("liaison_session_{}", node.replace('.', "_"))
}

/// The name of the login form's CSRF cookie (double submit: there is no session yet) of the
/// console of `node`; one per node, as [`session_cookie_name`].
pub fn login_cookie_name(node: &str) -> String {
    format!("liaison_login_{}", node.replace('.', "_"))
}
/// Largest form body accepted.
pub(crate) const MAX_FORM: usize = 256 * 1024;

/// The policy every console answer carries: nothing but our own stylesheet, no script.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("static/console.css");

/// The console's shared state: sessions and CSRF key.
#[derive(Debug)]
pub(crate) struct Console {
    sessions: session::Sessions,
}

impl Console {
    /// A console with no sessions.
    pub(crate) fn new() -> Result<Self, crate::api::ApiStartError> {
        Ok(Self {
            sessions: session::Sessions::new()?,
        })
    }
}

/// The console as a shell of the API's listeners: its routes, its paths, its sign-in check.
pub(crate) fn shell() -> Result<crate::api::Shell, crate::api::ApiStartError> {
    let console = Arc::new(Console::new()?);
    let for_gate = console.clone();
    Ok(crate::api::Shell {
        router: router().layer(Extension(console)),
        owns,
        gate: Arc::new(move |state, req, next| {
            let console = for_gate.clone();
            Box::pin(async move { gate(&state, &console, req, next).await })
        }),
    })
}

/// Whether a path belongs to the console (and so to `gate`, not the JSON API's check).
pub(crate) fn owns(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// The console's routes, merged into the API's router.
pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/inbox") }))
        .route(
            "/console/",
            get(|| async { Redirect::to("/console/inbox") }),
        )
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
        .route("/console/static/console.css", get(css))
        .route("/console/inbox", get(pages::inbox))
        .route("/console/messages/{id}", get(pages::message))
        .route("/console/messages/{id}/ack", post(pages::ack))
        .route("/console/messages/{id}/{action}", post(sharing::act))
        .route("/console/purge", post(sharing::purge))
        .route("/console/compose", get(compose::form).post(compose::send))
        .route("/console/status", get(pages::status))
        .route("/console/cases", get(cases::list).post(case_actions::open))
        .route("/console/cases/{case}", get(cases::show))
        .route("/console/cases/{case}/{action}", post(case_actions::act))
        .route("/console/log", get(audit::log))
        .route("/console/log/verify", post(audit::verify))
        .route("/console/log/export", get(audit::export))
        .route("/console/log/proof", get(audit::proof))
}

/// How the caller got in.
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    /// Who.
    pub principal: Principal,
    /// The CSRF token their forms carry.
    pub csrf: String,
    /// The session id, for a token login.
    pub session: Option<String>,
}

/// What every page knows about its request.
#[derive(Clone)]
pub(crate) struct Cx {
    /// The language.
    pub l: &'static Locale,
    /// The caller (absent only on the login page).
    pub auth: Option<Auth>,
    /// This node.
    pub node: String,
    /// The request path.
    pub path: String,
    /// The query.
    pub query: FormData,
    /// HTTPS listener.
    pub secure: bool,
    /// `?lang=` chose the language: remember it.
    remember_lang: bool,
}

/// Main navigation entries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    /// The inbox.
    Inbox,
    /// Compose.
    Compose,
    /// Cases.
    Cases,
    /// Node status.
    Status,
    /// The log browser.
    Log,
    /// None (login, errors).
    None,
}

impl Cx {
    /// The caller; pages behind the gate always have one.
    pub(crate) fn principal(&self) -> Principal {
        self.auth
            .as_ref()
            .map_or_else(Principal::token, |a| a.principal.clone())
    }

    /// The CSRF field for a form.
    pub(crate) fn csrf(&self) -> Markup {
        html! {
            @if let Some(a) = &self.auth {
                (csrf_field(&a.csrf))
            }
        }
    }

    /// Whether the caller may do `action`.
    pub(crate) fn may(&self, action: Action) -> bool {
        self.auth
            .as_ref()
            .is_some_and(|a| action.allowed(a.principal.role))
    }

    /// Translates.
    pub(crate) fn t(&self, id: &str) -> String {
        self.l.t(id)
    }

    fn cookie(&self, name: &str, value: &str, http_only: bool) -> String {
        format!(
            "{name}={value}; Path=/console; SameSite=Strict{}{}",
            if http_only { "; HttpOnly" } else { "" },
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// A whole page: layout, navigation, language switch, `body` inside `<main>`.
    pub(crate) fn page(&self, status: StatusCode, title: &str, nav: Nav, body: Markup) -> Response {
        let l = self.l;
        let entries = [
            (Nav::Inbox, "/console/inbox", "nav-inbox", Action::ListInbox),
            (
                Nav::Compose,
                "/console/compose",
                "nav-compose",
                Action::Send,
            ),
            (
                Nav::Cases,
                "/console/cases",
                "nav-cases",
                Action::ReadMessage,
            ),
            (Nav::Status, "/console/status", "nav-status", Action::Status),
            (Nav::Log, "/console/log", "nav-log", Action::ReadLog),
        ];
        let rest = self.query.query_without("lang");
        let sep = if rest.is_empty() { "" } else { "&" };
        let doc = html! {
            (DOCTYPE)
            html lang=(l.def.tag) dir=(l.def.dir.attr()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (self.node) " · Liaison" }
                    link rel="stylesheet" href="/console/static/console.css";
                }
                body {
                    a.skip href="#main" { (l.t("skip-to-content")) }
                    header.top {
                        div.brand { "Liaison " bdi.node { (self.node) } }
                        nav.main-nav aria-label=(l.t("nav-label")) {
                            ul {
                                @if self.auth.is_some() {
                                    @for (n, href, key, action) in entries {
                                        @if self.may(action) {
                                            li {
                                                a href=(href) aria-current=[(n == nav).then_some("page")] {
                                                    (l.t(key))
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @if let Some(a) = &self.auth {
                            div.who {
                                (l.t("signed-in-as")) " "
                                bdi {
                                    @if a.principal == Principal::token() {
                                        (l.t("who-token"))
                                    } @else {
                                        (a.principal.who)
                                    }
                                }
                                " · " (l.t(&format!("role-{}", a.principal.role))) " "
                                @if a.session.is_some() {
                                    form.inline method="post" action="/console/logout" {
                                        (self.csrf())
                                        button type="submit" { (l.t("logout")) }
                                    }
                                }
                            }
                        }
                        nav.langs aria-label=(l.t("language")) {
                            ul {
                                @for loc in i18n::every() {
                                    li {
                                        a href={ (self.path) "?" (rest) (sep) "lang=" (loc.def.tag) }
                                            lang=(loc.def.tag) hreflang=(loc.def.tag)
                                            aria-current=[(loc.def.tag == l.def.tag).then_some("true")] {
                                            (loc.def.native)
                                        }
                                    }
                                }
                            }
                        }
                    }
                    main #main tabindex="-1" {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        };
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            doc.into_string(),
        )
            .into_response();
        if self.remember_lang {
            if let Ok(v) = HeaderValue::from_str(&self.cookie(LANG_COOKIE, l.def.tag, false)) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        resp
    }

    /// An error page for `status` with a translated reason and the stable reason code.
    pub(crate) fn error(&self, status: StatusCode, code: &str, detail: Option<&str>) -> Response {
        let l = self.l;
        let text = l.t_or(&format!("error-{code}"), &l.t("error-other"));
        let body = html! {
            div.error role="alert" {
                p { (text) }
                p.code { (l.t("error-code")) " " code { (code) } }
                @if let Some(d) = detail {
                    p.detail { span { (l.t("error-detail")) } " " bdi lang="en" { (d) } }
                }
            }
            p { a href="/console/inbox" { (l.t("back-to-inbox")) } }
        };
        let title = l.t(&format!("status-{}", status.as_u16()));
        self.page(status, &title, Nav::None, body)
    }

    /// The error page of an internal failure (500 with `code`): the cause goes to the node's
    /// log under the request id, and the page shows only that id, never the cause (which
    /// names files and internals).
    pub(crate) fn internal(&self, code: &str, cause: String) -> Response {
        let id = RequestId::current().unwrap_or_else(RequestId::next);
        tracing::error!(request_id = %id, code, error = cause, "console: internal error");
        let detail =
            format!("internal error; the node's log has the details under request id {id}");
        self.error(StatusCode::INTERNAL_SERVER_ERROR, code, Some(&detail))
    }

    /// A refusal shown above a re-shown form: the translated reason, its reason code and
    /// the node's detail (`role="alert"` is on the box that holds it).
    pub(crate) fn refusal(&self, e: &ApiError) -> Markup {
        let l = self.l;
        let code = e.reason_code();
        let text = l.t_or(&format!("error-{code}"), &l.t("error-refused"));
        html! {
            p { (text) }
            p.code { (l.t("error-code")) " " code { (code) } }
            p.detail { (l.t("error-detail")) " " bdi lang="en" { (e.to_string()) } }
        }
    }

    /// The error page of an API error.
    pub(crate) fn api_error(&self, e: &ApiError) -> Response {
        let detail = match e {
            // The role refusal is fully said by the translated text.
            ApiError::Forbidden { .. } => None,
            e => Some(e.to_string()),
        };
        self.error(e.status(), e.reason_code(), detail.as_deref())
    }
}

fn cookie_of<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

fn locale_of(headers: &HeaderMap, query: &FormData) -> (&'static Locale, bool) {
    if let Some(l) = query.get("lang").and_then(i18n::by_tag) {
        return (l, true);
    }
    if let Some(l) = cookie_of(headers, LANG_COOKIE).and_then(i18n::by_tag) {
        return (l, false);
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(i18n::from_accept_language);
    (accept.unwrap_or_else(i18n::fallback), false)
}

/// The `Origin` a same-origin form post carries, if the browser sent one and it differs.
fn cross_origin(headers: &HeaderMap, secure: bool) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let scheme = if secure { "https" } else { "http" };
    origin != format!("{scheme}://{host}")
}

/// Authenticates a console request (called by the API's `authenticate` for console paths),
/// checks the CSRF token of every POST, picks the language, and adds the security headers
/// to every answer.
pub(crate) async fn gate(
    state: &ApiState,
    console: &Console,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let query = FormData::parse(parts.uri.query().unwrap_or("").as_bytes());
    let (l, remember_lang) = locale_of(&parts.headers, &query);
    let conn = parts
        .extensions
        .get::<ConnectInfo<tls::OfficerConn>>()
        .map(|ConnectInfo(c)| {
            // A certificate the trust no longer accepts (revoked since the handshake) signs
            // nobody in.
            let officer = match c.still_accepted(&state.ctx.trust) {
                Ok(()) => c.officer.clone(),
                Err(why) => {
                    tracing::info!(remote = %c.remote, reason = %why, "console: the client certificate is no longer accepted");
                    None
                }
            };
            (officer, c.remote.ip())
        });
    let secure = conn.is_some();
    let auth = match conn {
        Some((Some(officer), ip)) => {
            let principal = Principal::officer(&officer);
            crate::api::note_sign_in(
                state,
                &principal,
                "an officer certificate (console)",
                Some(ip),
            )
            .await;
            Some(Auth {
                csrf: console.sessions.csrf_for(&principal.who),
                principal,
                session: None,
            })
        }
        Some((None, _)) => None,
        None => cookie_of(
            &parts.headers,
            &session_cookie_name(state.ctx.me.id().as_str()),
        )
        .and_then(|id| {
            console.sessions.get(id).map(|s| Auth {
                principal: s.principal,
                csrf: s.csrf,
                session: Some(id.to_owned()),
            })
        }),
    };
    let path = parts.uri.path().to_owned();
    let cx = Cx {
        l,
        auth: auth.clone(),
        node: state.ctx.me.id().to_string(),
        path: path.clone(),
        query,
        secure,
        remember_lang,
    };
    let public = path == "/console/login" || path.starts_with("/console/static/");
    let method = parts.method.clone();
    let resp = 'answer: {
        if auth.is_none() && !public {
            tracing::debug!(who = "-", %method, path, "console request refused: unauthenticated");
            if method == Method::GET && !secure {
                break 'answer Redirect::to("/console/login").into_response();
            }
            break 'answer cx.error(StatusCode::UNAUTHORIZED, "unauthenticated", None);
        }
        let mut body = body;
        if method == Method::POST {
            let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
                Ok(b) => b,
                Err(_) => {
                    break 'answer cx.error(StatusCode::PAYLOAD_TOO_LARGE, "form-too-large", None)
                }
            };
            let form = FormData::parse(&bytes);
            let expected = match &auth {
                Some(a) => Some(a.csrf.clone()),
                // The login form: double submit against its own cookie.
                None => cookie_of(&parts.headers, &login_cookie_name(&cx.node)).map(str::to_owned),
            };
            let refusal = if cross_origin(&parts.headers, secure) {
                Some("csrf-cross-origin")
            } else {
                match (form.get("csrf"), expected) {
                    (None, _) => Some("csrf-token-missing"),
                    (Some(got), Some(want)) if session::same_token(got, &want) => None,
                    _ => Some("csrf-token-invalid"),
                }
            };
            if let Some(code) = refusal {
                let who = auth
                    .as_ref()
                    .map_or("-".to_owned(), |a| a.principal.to_string());
                tracing::info!(
                    who,
                    path,
                    reason = code,
                    origin = ?parts.headers.get(header::ORIGIN),
                    "console: form post refused"
                );
                break 'answer cx.error(StatusCode::FORBIDDEN, code, None);
            }
            parts.extensions.insert(form);
            body = Body::from(bytes);
        }
        if let Some(a) = &auth {
            parts.extensions.insert(a.principal.clone());
        }
        parts.extensions.insert(cx);
        let resp = next.run(Request::from_parts(parts, body)).await;
        tracing::debug!(
            who = %auth.as_ref().map_or("-".to_owned(), |a| a.principal.to_string()),
            %method, path, status = resp.status().as_u16(), "console request"
        );
        resp
    };
    secured(resp)
}

/// Adds the security headers every console answer carries.
fn secured(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: with it, browsers send `Origin: null` on the console's own form
    // posts, which the origin check must refuse. Other sites get no referrer either way.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
        .into_response()
}

fn login_page(cx: &Cx, status: StatusCode, error: Option<&str>, token: &str) -> Response {
    let l = cx.l;
    let body = html! {
        @if let Some(code) = error {
            div.error #login-error role="alert" {
                p { (l.t(&format!("error-{code}"))) }
                p.code { (l.t("error-code")) " " code { (code) } }
            }
        }
        p { (l.t("login-intro")) }
        form.login method="post" action="/console/login" {
            (csrf_field(token))
            label for="token" { (l.t("login-token")) }
            @if error.is_some() {
                input #token name="token" type="password" autocomplete="off" required autofocus
                    aria-describedby="token-hint login-error" aria-invalid="true";
            } @else {
                input #token name="token" type="password" autocomplete="off" required autofocus
                    aria-describedby="token-hint";
            }
            p.hint #token-hint { (l.t("login-token-hint")) }
            button type="submit" { (l.t("login-submit")) }
        }
    };
    let mut resp = cx.page(status, &l.t("login-title"), Nav::None, body);
    if let Ok(v) = HeaderValue::from_str(&cx.cookie(&login_cookie_name(&cx.node), token, true)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login_form(
    Extension(console): Extension<Arc<Console>>,
    Extension(cx): Extension<Cx>,
) -> Response {
    if cx.auth.is_some() {
        return Redirect::to("/console/inbox").into_response();
    }
    if cx.secure {
        // HTTPS callers are officers with certificates; without one they never get here.
        return cx.error(StatusCode::UNAUTHORIZED, "unauthenticated", None);
    }
    match console.sessions.random() {
        Some(token) => login_page(&cx, StatusCode::OK, None, &token),
        None => cx.error(StatusCode::INTERNAL_SERVER_ERROR, "internal-error", None),
    }
}

async fn login(
    State(s): State<ApiState>,
    Extension(console): Extension<Arc<Console>>,
    Extension(cx): Extension<Cx>,
    Extension(form): Extension<FormData>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Response {
    if cx.secure {
        return cx.error(StatusCode::UNAUTHORIZED, "unauthenticated", None);
    }
    let Some(fresh) = console.sessions.random() else {
        return cx.error(StatusCode::INTERNAL_SERVER_ERROR, "internal-error", None);
    };
    // The same backoff as the API's bearer token: it is the same token.
    let ip = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let source = ip.map(Source::from);
    let now = Instant::now();
    if let Some(wait) = source.and_then(|src| s.sign_ins.check(src, now).err()) {
        tracing::info!("console: login refused: too many failed sign-ins from this address");
        let mut resp = login_page(
            &cx,
            StatusCode::TOO_MANY_REQUESTS,
            Some("too-many-attempts"),
            &fresh,
        );
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return resp;
    }
    let ok = form.get("token").is_some_and(|t| s.token.verify(t));
    if let Some(src) = source {
        s.sign_ins.record(src, ok, now);
    }
    if !ok {
        tracing::info!("console: login with a wrong token refused");
        crate::api::sign_in_refused(&s, "a wrong token (console login)", ip).await;
        return login_page(&cx, StatusCode::UNAUTHORIZED, Some("bad-token"), &fresh);
    }
    let principal = Principal::token();
    tracing::info!(who = %principal, "console: logged in");
    // Every console sign-in is recorded: it opens a session, which a sign-out closes.
    crate::admin_log::record(
        &s.ctx.store,
        "sign-in",
        format!(
            "{} ({}) with the token (console session){}",
            principal.who,
            principal.role.as_str(),
            crate::api::from_address(ip)
        ),
    )
    .await;
    let Some(id) = console.sessions.create(principal) else {
        return cx.error(StatusCode::INTERNAL_SERVER_ERROR, "internal-error", None);
    };
    let mut resp = Redirect::to("/console/inbox").into_response();
    for c in [
        cx.cookie(&session_cookie_name(&cx.node), &id, true),
        format!(
            "{}=; Path=/console; Max-Age=0; SameSite=Strict; HttpOnly",
            login_cookie_name(&cx.node)
        ),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn logout(
    State(s): State<ApiState>,
    Extension(console): Extension<Arc<Console>>,
    Extension(cx): Extension<Cx>,
) -> Response {
    if let Some(auth) = &cx.auth {
        if let Some(id) = auth.session.as_deref() {
            console.sessions.remove(id);
        }
        crate::admin_log::record(
            &s.ctx.store,
            "sign-out",
            format!(
                "{} ({}) signed out of the console",
                auth.principal.who,
                auth.principal.role.as_str()
            ),
        )
        .await;
    }
    let mut resp = Redirect::to("/console/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}=; Path=/console; Max-Age=0; SameSite=Strict; HttpOnly",
        session_cookie_name(&cx.node)
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// A download: `content` as an attachment named `name`.
pub(crate) fn download(content_type: &'static str, name: &str, content: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", name.replace('"', ""));
    let mut resp = ([(header::CONTENT_TYPE, content_type)], content).into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// Shared pieces of the page modules.
pub(crate) mod prelude {
    pub(crate) use super::html::{bdi, bdi_list, options, time, tlp_badge, FormData};
    pub(crate) use super::i18n::Arg;
    pub(crate) use super::{Cx, Nav};
    pub(crate) use crate::api::auth::Action;
    pub(crate) use crate::api::ApiState;
    pub(crate) use axum::extract::{Path, State};
    pub(crate) use axum::http::StatusCode;
    pub(crate) use axum::response::{IntoResponse, Redirect, Response};
    pub(crate) use axum::Extension;
    pub(crate) use maud::{html, Markup};
}

/// The tests of the whole console's rendering live in `tests/tests/console.rs` (real nodes,
/// real browser); these check the pieces without a node.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_paths_are_recognised() {
        assert!(owns("/console"));
        assert!(owns("/console/inbox"));
        assert!(!owns("/consoles"));
        assert!(!owns("/v1/inbox"));
    }

    #[test]
    fn cross_origin_posts_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!cross_origin(&h, false));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_origin(&h, false));
        assert!(cross_origin(&h, true));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(cross_origin(&h, false));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; liaison_lang=ar; liaison_session=abc"),
        );
        assert_eq!(cookie_of(&h, LANG_COOKIE), Some("ar"));
        assert_eq!(cookie_of(&h, "liaison_session"), Some("abc"));
        assert_eq!(cookie_of(&h, "b"), None);
    }
}
