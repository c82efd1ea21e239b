//! The cases pages: the list of cases this node takes part in and one case with its
//! handling, participants, tasks, updates and timeline. They call the node's case functions
//! exactly as `GET /v1/cases` and `GET /v1/cases/{case}` do, behind the same role check
//! (reading a case is reading content). The forms that act on cases, and what they post,
//! are in [`super::case_actions`].

use super::case_actions::{self, Filled};
use super::prelude::*;
use crate::api::ApiError;
use crate::views::{CaseSummary, CaseView};

fn status_name(cx: &Cx, prefix: &str, v: &str) -> String {
    cx.l.t_or(&format!("{prefix}-{v}"), v)
}

fn forbidden(cx: &Cx) -> Option<Response> {
    cx.principal()
        .require(Action::ReadMessage)
        .err()
        .map(|e| cx.api_error(&e))
}

fn th(cx: &Cx, keys: &[&str]) -> Markup {
    html! {
        @for k in keys {
            th scope="col" { (cx.t(k)) }
        }
    }
}

/// `GET /console/cases`: every case this node knows, newest activity first.
pub(super) async fn list(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    list_page(&cx, &api, &FormData::default(), None, StatusCode::OK).await
}

/// The cases list, with the "open a case" form (filled with `f`) for those who may send,
/// and a refusal above it.
pub(super) async fn list_page(
    cx: &Cx,
    api: &ApiState,
    f: &FormData,
    error: Option<Markup>,
    status: StatusCode,
) -> Response {
    if let Some(r) = forbidden(cx) {
        return r;
    }
    let l = cx.l;
    let cases = match crate::case::load_all(&api.ctx).await {
        Ok(c) => c,
        Err(e) => return cx.api_error(&ApiError::internal(e)),
    };
    let cases: Vec<CaseSummary> = cases
        .iter()
        .map(|c| CaseSummary::of(c, api.ctx.me.id()))
        .collect();
    let body = html! {
        @if let Some(e) = error {
            div.error #case-error role="alert" { (e) }
        }
        @if cases.is_empty() {
            p.empty { (l.t("cases-empty")) }
        } @else {
            table.cases {
                thead { tr {
                    (th(cx, &[
                        "col-case",
                        "col-title",
                        "col-lead",
                        "col-state",
                        "col-standing",
                        "col-participants",
                        "col-updates",
                        "col-open-tasks",
                        "col-last-activity",
                    ]))
                } }
                tbody {
                    @for c in &cases {
                        tr {
                            td { a href={ "/console/cases/" (c.case) } { (bdi(&c.case)) } }
                            td dir="auto" { (c.title.as_deref().unwrap_or("")) }
                            td { @if let Some(lead) = &c.lead { (bdi(lead)) } }
                            td { (status_name(cx, "case-status", &c.status)) }
                            td { (status_name(cx, "standing", &c.standing)) }
                            td { (l.num(c.participants as u64)) }
                            td { (l.num(c.updates as u64)) }
                            td { (l.num(c.open_tasks as u64)) }
                            td { @if let Some(t) = &c.last_activity { (time(l, t)) } }
                        }
                    }
                }
            }
        }
        @if cx.may(Action::Send) {
            (case_actions::open_form(cx, api, f))
        }
    };
    cx.page(status, &l.t("cases-title"), Nav::Cases, body)
}

/// `GET /console/cases/{case}`: one case as this node derives it.
pub(super) async fn show(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Path(id): Path<String>,
) -> Response {
    case_page(&cx, &api, &id, None, StatusCode::OK).await
}

/// A definition list row, left out when its value is empty.
fn row(cx: &Cx, key: &str, value: Option<Markup>) -> Markup {
    html! {
        @if let Some(v) = value {
            dt { (cx.t(key)) } dd { (v) }
        }
    }
}

/// One case, with the forms this node's standing allows; after a refused post, that form as
/// filled and the refusal above everything.
pub(super) async fn case_page(
    cx: &Cx,
    api: &ApiState,
    id: &str,
    refused: Option<(Filled<'_>, Markup)>,
    status: StatusCode,
) -> Response {
    if let Some(r) = forbidden(cx) {
        return r;
    }
    let l = cx.l;
    let case: liaison_protocol::CaseId = match id.parse() {
        Ok(c) => c,
        Err(e) => {
            return cx.api_error(&ApiError::Malformed(format!(
                "{id:?} is not a case id: {e}"
            )))
        }
    };
    let st = match crate::case::load(&api.ctx, &case).await {
        Ok(st) if st.known() => st,
        Ok(_) => return cx.api_error(&ApiError::UnknownCase(id.to_owned())),
        Err(e) => return cx.api_error(&ApiError::internal(e)),
    };
    let d = match crate::case::load_deliveries(&api.ctx, &case).await {
        Ok(d) => d,
        Err(e) => return cx.api_error(&ApiError::internal(e)),
    };
    let e = match crate::case::load_earlier(&api.ctx, &case).await {
        Ok(e) => e,
        Err(e) => return cx.api_error(&ApiError::internal(e)),
    };
    let v = CaseView::of(&st).with_deliveries(&d).with_earlier(&e);
    let may_send = cx.principal().require(Action::Send).is_ok();
    let forms = case_actions::case_forms(cx, api, &st, refused.as_ref().map(|(f, _)| *f));
    let body = html! {
        @match &refused {
            Some((_, e)) => { div.error #case-error role="alert" { (e) } }
            None if cx.query.get("done").is_some() => {
                div.notice role="status" { p { (l.t("case-done")) } }
            }
            None => {}
        }
        @if let Some(h) = &v.handling {
            @let cls = super::html::tlp_class(&h.tlp);
            section class={ "handling " (cls) } aria-labelledby="h-handling" {
                h2 #h-handling { (l.t("section-handling")) }
                p.tlp-banner {
                    (tlp_badge(l, &h.tlp)) " "
                    span { (l.t(&format!("tlp-meaning-{}", cls.trim_start_matches("tlp-")))) }
                }
                dl {
                    (row(cx, "field-releasability", (!h.releasability.is_empty()).then(|| bdi_list(&h.releasability))))
                    (row(cx, "field-eval", (!h.evaluation.is_empty()).then(|| html! { (h.evaluation) })))
                }
            }
        }
        section aria-labelledby="h-case" {
            h2 #h-case { (l.t("section-header")) }
            dl {
                (row(cx, "field-case", Some(bdi(&v.case))))
                (row(cx, "col-state", Some(html! {
                    (status_name(cx, "case-status", &v.status))
                    @if let Some(r) = &v.status_reason {
                        " — " span dir="auto" { (r) }
                    }
                })))
                (row(cx, "col-lead", v.lead.as_deref().map(bdi)))
                (row(cx, "field-opened", v.opened_at.as_deref().map(|t| time(l, t))))
            }
        }
        @if let Some(p) = &v.summary {
            section {
                h2 { (l.t("section-summary")) }
                div.content lang=(p.language) dir="auto" { (p.text) }
            }
        }
        section aria-labelledby="h-members" {
            h2 #h-members { (l.t("section-participants")) }
            table {
                thead { tr { (th(cx, &["col-peer", "col-standing", "col-since"])) } }
                tbody {
                    @for m in &v.members {
                        tr {
                            td { (bdi(&m.node)) }
                            td { (status_name(cx, "standing", &m.standing)) }
                            td { (time(l, &m.since)) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-earlier" {
            h2 #h-earlier { (l.t("section-case-earlier")) }
            p.hint { (l.t("case-earlier-rule")) }
            @for e in &v.earlier {
                form.case-form.earlier method="post" action={ "/console/cases/" (v.case) "/history" } id={ "case-history-" (e.node) } {
                    (cx.csrf())
                    input type="hidden" name="form" value="history";
                    input type="hidden" name="nodes" value=(e.node);
                    p {
                        (bdi(&e.node)) " "
                        (l.ta("case-earlier-count", &[("n", Arg::Num(e.messages.len() as u64))]))
                        @if may_send {
                            " " button type="submit" { (l.t("case-earlier-button")) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-tasks" {
            h2 #h-tasks { (l.t("section-tasks")) }
            @if v.tasks.is_empty() {
                p.muted { (l.t("tasks-none")) }
            } @else {
                table {
                    thead { tr { (th(cx, &["col-task", "col-assignee", "col-due", "col-state", "col-note"])) } }
                    tbody {
                        @for t in &v.tasks {
                            tr {
                                td dir="auto" { (t.title) }
                                td { (bdi(&t.assignee)) }
                                td { @if let Some(d) = &t.due { (time(l, d)) } }
                                td { (status_name(cx, "task-status", &t.status)) }
                                td dir="auto" { (t.note) }
                            }
                        }
                    }
                }
            }
        }
        @if !v.updates.is_empty() {
            section aria-labelledby="h-updates" {
                h2 #h-updates { (l.t("section-updates")) }
                @for u in &v.updates {
                    article.update {
                        p { (bdi(&u.from)) " · " (time(l, &u.at)) " · " (tlp_badge(l, &u.tlp)) }
                        div.content lang=(u.payload.language) dir="auto" { (u.payload.text) }
                        @let waiting = v.waiting_for(&u.id);
                        @if !waiting.is_empty() {
                            p.muted.waiting {
                                (l.t("case-not-yet-received")) " "
                                @for (i, n) in waiting.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (bdi(n))
                                }
                            }
                        }
                    }
                }
            }
        }
        (forms)
        section aria-labelledby="h-timeline" {
            h2 #h-timeline { (l.t("section-timeline")) }
            ol.log {
                @for e in &v.timeline {
                    li {
                        (time(l, &e.at)) " — "
                        strong { (super::pages::kind_name(cx, &e.kind)) } " · "
                        (bdi(&e.from)) " · "
                        span dir="auto" { (e.summary) }
                        @if let Some(r) = &e.refused {
                            " " span.badge.overdue { (l.t("case-no-effect")) " " code { (r.code) } }
                        }
                        " "
                        a href={ "/console/messages/" (e.id) } { code { (e.id.chars().take(12).collect::<String>()) } }
                    }
                }
            }
        }
    };
    let title = match v.title.as_deref() {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => v.case.clone(),
    };
    cx.page(status, &title, Nav::Cases, body)
}
