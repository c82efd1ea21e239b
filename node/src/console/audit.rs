//! The auditor's log browser: log entries (the API's `GET /v1/log`) with filters, a verify
//! button (the offline auditor's [`crate::audit::verify`] run on this node's data dir), the
//! export download (the format of `liaison audit export --format jsonl`) and proof downloads
//! (the API's `GET /v1/proofs/{id}`).

use axum::extract::Query;

use super::pages::event_line;
use super::prelude::*;
use crate::api::handlers::{self, LogQuery};
use crate::api::ApiError;

/// Entries per page.
const PAGE: u64 = 100;

/// Event types a filter offers.
const TYPES: [&str; 10] = [
    "sent",
    "received",
    "relayed",
    "refused",
    "receipt-sent",
    "receipt-received",
    "refusal-received",
    "acknowledged",
    "admin",
    "purged",
];

fn forbidden_unless(cx: &Cx, action: Action) -> Option<Response> {
    cx.principal()
        .require(action)
        .err()
        .map(|e| cx.api_error(&e))
}

/// `GET /console/log?from=&type=&q=`: one page of entries, newest page by default.
pub async fn log(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
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
    let page =
        match handlers::log(State(api.clone()), Extension(cx.principal()), Ok(Query(q))).await {
            Ok(axum::Json(v)) => v,
            Err(e) => return cx.api_error(&e),
        };
    let want_type = cx.query.get("type");
    let text = cx.query.get("q").map(str::to_lowercase);
    let mut rows = String::new();
    let entries: Vec<&Value> = page["entries"].as_array().into_iter().flatten().collect();
    let mut shown = 0u64;
    for e in entries.iter().rev() {
        let ev = &e["event"];
        if want_type.is_some_and(|t| t != s(&ev["type"])) {
            continue;
        }
        if let Some(t) = &text {
            if !ev.to_string().to_lowercase().contains(t.as_str()) {
                continue;
            }
        }
        shown += 1;
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.num(e["index"].as_u64().unwrap_or(0))),
            time(l, s(&e["at"])),
            event_line(&cx, ev)
        ));
    }
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
        format!(
            "<a href=\"/console/log?{}\">{}</a>",
            esc(&q.query_without("lang")),
            esc(&l.t(key))
        )
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
    let table = if rows.is_empty() {
        format!("<p class=\"empty\">{}</p>", esc(&l.t("log-empty")))
    } else {
        format!(
            "<table class=\"log\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
             <th scope=\"col\">{}</th></tr></thead><tbody>{rows}</tbody></table>",
            esc(&l.ta("log-shown", &[("n", Arg::Num(shown))])),
            esc(&l.t("col-index")),
            esc(&l.t("col-at")),
            esc(&l.t("col-event")),
        )
    };
    let body = format!(
        "<p class=\"summary\">{}</p>\
         <div class=\"tools\">\
         <form method=\"post\" action=\"/console/log/verify\" class=\"inline\">{csrf}<button type=\"submit\" id=\"verify\">{verify}</button></form>\
         <a class=\"button\" href=\"/console/log/export\" id=\"export\" download>{export}</a>\
         <form method=\"get\" action=\"/console/log/proof\" class=\"inline proof\">\
         <label for=\"proof-id\">{proof_label}</label><input id=\"proof-id\" name=\"id\" dir=\"ltr\" required size=\"20\">\
         <button type=\"submit\">{proof}</button></form></div>\
         <form method=\"get\" action=\"/console/log\" class=\"filters\" role=\"search\" aria-label=\"{filters}\">\
         <div><label for=\"f-type\">{l_type}</label><select id=\"f-type\" name=\"type\">{types}</select></div>\
         <div><label for=\"f-q\">{l_q}</label><input id=\"f-q\" name=\"q\" value=\"{q}\" dir=\"auto\"></div>\
         <div class=\"actions\"><button type=\"submit\">{apply}</button> <a href=\"/console/log\">{clear}</a></div></form>\
         {table}<nav class=\"pager\" aria-label=\"{pages}\">{pager}</nav>",
        esc(&l.ta(
            "log-range",
            &[
                ("from", Arg::Num(from)),
                ("to", Arg::Num(end.saturating_sub(1))),
                ("size", Arg::Num(size))
            ]
        )),
        csrf = cx.csrf(),
        verify = esc(&l.t("log-verify")),
        export = esc(&l.t("log-export")),
        proof_label = esc(&l.t("field-message-id")),
        proof = esc(&l.t("proof-download")),
        filters = esc(&l.t("filters")),
        l_type = esc(&l.t("field-event-type")),
        types = options(&types, want_type),
        l_q = esc(&l.t("field-search")),
        q = esc(cx.query.get("q").unwrap_or("")),
        apply = esc(&l.t("filter-apply")),
        clear = esc(&l.t("filter-clear")),
        pages = esc(&l.t("log-pages")),
        pager = pager.join(" "),
    );
    cx.page(StatusCode::OK, &l.t("log-title"), Nav::Log, &body)
}

/// `POST /console/log/verify`: the offline audit, run on this node's live data dir.
pub async fn verify(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
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
            &ctx.trust,
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
    let n = |v: u64| esc(&l.num(v));
    let row = |k: &str, v: String| format!("<dt>{}</dt><dd>{v}</dd>", esc(&l.t(k)));
    let problems: String = report
        .problems
        .iter()
        .map(|p| format!("<li lang=\"en\" dir=\"ltr\">{}</li>", esc(&p.to_string())))
        .collect();
    let verdict =
        if report.ok() {
            format!(
                "<div class=\"notice ok\" role=\"status\" id=\"verdict\"><p>{}</p></div>",
                esc(&l.t("verify-ok"))
            )
        } else {
            format!(
            "<div class=\"error\" role=\"alert\" id=\"verdict\"><p>{}</p><ul>{problems}</ul></div>",
            esc(&l.ta("verify-failed", &[("n", Arg::Num(report.problems.len() as u64))]))
        )
        };
    let body = format!(
        "{verdict}<dl>{}{}{}{}{}{}{}{}</dl><p><a href=\"/console/log\">{}</a></p>",
        row(
            "field-node",
            report
                .node
                .as_ref()
                .map(|n| bdi(n.as_str()))
                .unwrap_or_default()
        ),
        row("verify-entries", n(report.entries)),
        row("verify-checkpoints", n(report.checkpoints)),
        row("verify-checkpoint-size", n(report.checkpoint_size)),
        row("verify-cosignatures", n(report.cosignatures)),
        row("verify-messages", n(report.messages_verified)),
        row("verify-answers", n(report.answers_verified)),
        row(
            "field-log-root",
            format!(
                "<code>{}</code>",
                esc(&liaison_protocol::ids::hex(&report.root))
            )
        ),
        esc(&l.t("back-to-log")),
    );
    cx.page(StatusCode::OK, &l.t("verify-title"), Nav::Log, &body)
}

/// `GET /console/log/export`: every entry the last checkpoint covers (a fresh checkpoint is
/// signed first), as `liaison audit export --format jsonl` writes them.
pub async fn export(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
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
            let (anchor, records) = crate::audit::export(&ctx.cfg.data_dir, &ctx.trust, &filter)?;
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
                &format!("liaison-log-{}.jsonl", api.ctx.id),
                buf,
            )
        }
        Ok(Err(e)) => cx.internal("export-failed", format!("{e:#}")),
        Err(e) => cx.internal("internal-error", e.to_string()),
    }
}

/// `GET /console/log/proof?id=`: the inclusion proof of a message's entries, as a file.
pub async fn proof(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    let id = cx.query.get("id").unwrap_or("").to_owned();
    match handlers::proof(State(api), Extension(cx.principal()), Path(id.clone())).await {
        Ok(axum::Json(p)) => match serde_json::to_vec_pretty(&p) {
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
