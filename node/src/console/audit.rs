//! The auditor's log browser: log entries (the API's `GET /v1/log`) with filters, a verify
//! button (the offline auditor's [`crate::audit::verify`] run on this node's data dir), the
//! export download (the format of `liaison audit export --format jsonl`) and proof downloads
//! (the API's `GET /v1/proofs/{id}`).

use super::pages::event_line;
use super::prelude::*;
use crate::api::handlers::{self, LogQuery};
use crate::api::ApiError;
use crate::views::LogEntryView;

/// Entries per page.
const PAGE: u64 = 100;

/// Event types a filter offers: every type the log has.
const TYPES: [&str; 10] = crate::store::metrics::EVENT_TYPES;

fn forbidden_unless(cx: &Cx, action: Action) -> Option<Response> {
    cx.principal()
        .require(action)
        .err()
        .map(|e| cx.api_error(&e))
}

/// `GET /console/log?from=&type=&q=`: one page of entries, newest page by default.
pub(super) async fn log(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    if let Some(r) = forbidden_unless(&cx, Action::ReadLog) {
        return r;
    }
    let l = cx.l;
    let size = api.ctx.store.log_size();
    let from = cx
        .query
        .get("from")
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or_else(|| size.saturating_sub(PAGE));
    let q = LogQuery {
        from: Some(from),
        limit: Some(PAGE as usize),
    };
    let page = match handlers::log_page(&api, &cx.principal(), q).await {
        Ok(page) => page,
        Err(e) => return cx.api_error(&e),
    };
    let want_type = cx.query.get("type");
    let text = cx.query.get("q").map(str::to_lowercase);
    let shown: Vec<&LogEntryView> = page
        .entries
        .iter()
        .rev()
        .filter(|e| want_type.is_none_or(|t| t == e.event.name()))
        .filter(|e| {
            text.as_ref().is_none_or(|t| {
                serde_json::to_string(&e.event)
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(t.as_str())
            })
        })
        .collect();
    let mut types = vec![(String::new(), l.t("filter-any"))];
    types.extend(
        TYPES
            .iter()
            .map(|t| (t.to_string(), l.t_or(&format!("event-{t}"), t))),
    );
    let nav_link = |from: u64, key: &str| {
        let mut q = cx.query.clone();
        q.0.retain(|(k, _)| k != "from");
        q.0.push(("from".into(), from.to_string()));
        html! { a href={ "/console/log?" (q.query_without("lang")) } { (l.t(key)) } }
    };
    let mut pager = Vec::new();
    if from > 0 {
        pager.push(nav_link(from.saturating_sub(PAGE), "log-older"));
    }
    if from + PAGE < size {
        pager.push(nav_link(
            (from + PAGE).min(size.saturating_sub(PAGE)),
            "log-newer",
        ));
    }
    let end = (from + PAGE).min(size);
    let range = l.ta(
        "log-range",
        &[
            ("from", Arg::Num(from)),
            ("to", Arg::Num(end.saturating_sub(1))),
            ("size", Arg::Num(size)),
        ],
    );
    let body = html! {
        p.summary { (range) }
        div.tools {
            form.inline method="post" action="/console/log/verify" {
                (cx.csrf())
                button #verify type="submit" { (l.t("log-verify")) }
            }
            a.button #export href="/console/log/export" download { (l.t("log-export")) }
            form.inline.proof method="get" action="/console/log/proof" {
                label for="proof-id" { (l.t("field-message-id")) }
                input #proof-id name="id" dir="ltr" required size="20";
                button type="submit" { (l.t("proof-download")) }
            }
        }
        form.filters method="get" action="/console/log" role="search" aria-label=(l.t("filters")) {
            div {
                label for="f-type" { (l.t("field-event-type")) }
                select #f-type name="type" { (options(&types, want_type)) }
            }
            div {
                label for="f-q" { (l.t("field-search")) }
                input #f-q name="q" value=(cx.query.get("q").unwrap_or("")) dir="auto";
            }
            div.actions {
                button type="submit" { (l.t("filter-apply")) } " "
                a href="/console/log" { (l.t("filter-clear")) }
            }
        }
        @if shown.is_empty() {
            p.empty { (l.t("log-empty")) }
        } @else {
            table.log {
                caption { (l.ta("log-shown", &[("n", Arg::Num(shown.len() as u64))])) }
                thead { tr {
                    th scope="col" { (l.t("col-index")) }
                    th scope="col" { (l.t("col-at")) }
                    th scope="col" { (l.t("col-event")) }
                } }
                tbody {
                    @for e in &shown {
                        tr {
                            td { (l.num(e.index)) }
                            td { (time(l, &e.at)) }
                            td { (event_line(&cx, &e.event)) }
                        }
                    }
                }
            }
        }
        nav.pager aria-label=(l.t("log-pages")) {
            @for (i, link) in pager.into_iter().enumerate() {
                @if i > 0 { " " }
                (link)
            }
        }
    };
    cx.page(StatusCode::OK, &l.t("log-title"), Nav::Log, body)
}

/// `POST /console/log/verify`: the offline audit, run on this node's live data dir.
pub(super) async fn verify(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    if let Some(r) = forbidden_unless(&cx, Action::ReadLog) {
        return r;
    }
    let l = cx.l;
    let ctx = api.ctx.clone();
    // Reads the whole log and every stored message: off the async threads. The node is
    // running, so entries logged since its last checkpoint are expected, not a failure.
    let report = tokio::task::spawn_blocking(move || {
        crate::audit::verify(
            &ctx.cfg.data_dir,
            &ctx.trust.store(),
            crate::audit::Uncovered::Allow,
            |_, _, _| {},
        )
    })
    .await;
    let report = match report {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return cx.internal("audit-failed", format!("{e:#}")),
        Err(e) => return cx.internal("internal-error", e.to_string()),
    };
    tracing::info!(who = %cx.principal(), ok = report.ok(), "console: log verified");
    let row = |k: &str, v: Markup| html! { dt { (l.t(k)) } dd { (v) } };
    let n = |k: &str, v: u64| row(k, html! { (l.num(v)) });
    let body = html! {
        @if report.ok() {
            div.notice.ok #verdict role="status" { p { (l.t("verify-ok")) } }
        } @else {
            div.error #verdict role="alert" {
                p { (l.ta("verify-failed", &[("n", Arg::Num(report.problems.len() as u64))])) }
                ul {
                    @for p in &report.problems {
                        li lang="en" dir="ltr" { (p) }
                    }
                }
            }
        }
        dl {
            (row("field-node", html! { @if let Some(node) = &report.node { (bdi(node.as_str())) } }))
            (n("verify-entries", report.entries))
            (n("verify-checkpoints", report.checkpoints))
            (n("verify-checkpoint-size", report.checkpoint_size))
            (n("verify-cosignatures", report.cosignatures))
            (n("verify-messages", report.messages_verified))
            (n("verify-answers", report.answers_verified))
            (row("field-log-root", html! { code { (liaison_protocol::ids::hex(&report.root)) } }))
        }
        p { a href="/console/log" { (l.t("back-to-log")) } }
    };
    cx.page(StatusCode::OK, &l.t("verify-title"), Nav::Log, body)
}

/// `GET /console/log/export`: every entry the last checkpoint covers (a fresh checkpoint is
/// signed first), as `liaison audit export --format jsonl` writes them.
pub(super) async fn export(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    if let Some(r) = forbidden_unless(&cx, Action::ReadLog) {
        return r;
    }
    if let Err(e) = api.ctx.store.checkpoint().await {
        return cx.api_error(&ApiError::store(e));
    }
    let mut filter = crate::audit::ExportFilter::default();
    if let Some(p) = cx.query.get("peer") {
        match p.parse() {
            Ok(n) => filter.peer = Some(n),
            Err(e) => {
                return cx.error(
                    StatusCode::BAD_REQUEST,
                    "malformed-request",
                    Some(&format!("peer: {e}")),
                )
            }
        }
    }
    let ctx = api.ctx.clone();
    let out = tokio::task::spawn_blocking(
        move || -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
            let (anchor, records) =
                crate::audit::export(&ctx.cfg.data_dir, &ctx.trust.store(), &filter)?;
            let mut buf = serde_json::to_vec(&anchor)?;
            buf.push(b'\n');
            for r in &records {
                serde_json::to_writer(&mut buf, r)?;
                buf.push(b'\n');
            }
            Ok(buf)
        },
    )
    .await;
    match out {
        Ok(Ok(buf)) => {
            tracing::info!(who = %cx.principal(), bytes = buf.len(), "console: log exported");
            super::download(
                "application/x-ndjson",
                &format!("liaison-log-{}.jsonl", api.ctx.me.id()),
                buf,
            )
        }
        Ok(Err(e)) => cx.internal("export-failed", format!("{e:#}")),
        Err(e) => cx.internal("internal-error", e.to_string()),
    }
}

/// `GET /console/log/proof?id=`: the inclusion proof of a message's entries, as a file.
pub(super) async fn proof(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    let id = cx.query.get("id").unwrap_or("").to_owned();
    match handlers::proof_of(&api, &cx.principal(), &id).await {
        Ok(p) => match serde_json::to_vec_pretty(&p) {
            Ok(buf) => super::download(
                "application/json",
                &format!("proof-{}.json", &id[..id.len().min(16)]),
                buf,
            ),
            Err(e) => cx.api_error(&ApiError::internal(e)),
        },
        Err(e) => cx.api_error(&e),
    }
}
