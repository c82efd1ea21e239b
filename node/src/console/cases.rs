//! The cases pages: the list of cases this node takes part in and one case with its
//! handling, participants, tasks, updates and timeline. They call the node's case functions
//! exactly as `GET /v1/cases` and `GET /v1/cases/{case}` do, behind the same role check
//! (reading a case is reading content). The forms that act on cases, and what they post,
//! are in [`super::case_actions`].

use super::case_actions::{self, Filled};
use super::prelude::*;
use crate::api::ApiError;

fn status_name(cx: &Cx, prefix: &str, v: &str) -> String {
    cx.l.t_or(&format!("{prefix}-{v}"), v)
}

fn forbidden(cx: &Cx) -> Option<Response> {
    cx.principal()
        .require(Action::ReadMessage)
        .err()
        .map(|e| cx.api_error(&e))
}

fn th(cx: &Cx, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("<th scope=\"col\">{}</th>", esc(&cx.t(k))))
        .collect()
}

/// `GET /console/cases`: every case this node knows, newest activity first.
pub async fn list(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    list_page(&cx, &api, &FormData::default(), None, StatusCode::OK).await
}

/// The cases list, with the "open a case" form (filled with `f`) for those who may send,
/// and a refusal above it.
pub(super) async fn list_page(
    cx: &Cx,
    api: &ApiState,
    f: &FormData,
    error: Option<String>,
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
    let rows: String = cases
        .iter()
        .map(|c| crate::case::summary(c, &api.ctx.id))
        .map(|c| {
            let id = s(&c["case"]);
            format!(
                "<tr><td><a href=\"/console/cases/{}\">{}</a></td><td dir=\"auto\">{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(id),
                bdi(id),
                esc(s(&c["title"])),
                c["lead"].as_str().map(bdi).unwrap_or_default(),
                esc(&status_name(cx, "case-status", s(&c["status"]))),
                esc(&status_name(cx, "standing", s(&c["standing"]))),
                esc(&l.num(c["participants"].as_u64().unwrap_or(0))),
                esc(&l.num(c["updates"].as_u64().unwrap_or(0))),
                esc(&l.num(c["open_tasks"].as_u64().unwrap_or(0))),
                c["last_activity"]
                    .as_str()
                    .map(|t| time(l, t))
                    .unwrap_or_default(),
            )
        })
        .collect();
    let body = if rows.is_empty() {
        format!("<p class=\"empty\">{}</p>", esc(&l.t("cases-empty")))
    } else {
        format!(
            "<table class=\"cases\"><thead><tr>{}</tr></thead><tbody>{rows}</tbody></table>",
            th(
                cx,
                &[
                    "col-case",
                    "col-title",
                    "col-lead",
                    "col-state",
                    "col-standing",
                    "col-participants",
                    "col-updates",
                    "col-open-tasks",
                    "col-last-activity",
                ]
            )
        )
    };
    let error = error
        .map(|e| format!("<div class=\"error\" role=\"alert\" id=\"case-error\">{e}</div>"))
        .unwrap_or_default();
    let open = if cx.may(Action::Send) {
        case_actions::open_form(cx, api, f)
    } else {
        String::new()
    };
    cx.page(
        status,
        &l.t("cases-title"),
        Nav::Cases,
        &format!("{error}{body}{open}"),
    )
}

/// `GET /console/cases/{case}`: one case as this node derives it.
pub async fn show(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Path(id): Path<String>,
) -> Response {
    case_page(&cx, &api, &id, None, StatusCode::OK).await
}

/// One case, with the forms this node's standing allows; after a refused post, that form as
/// filled and the refusal above everything.
pub(super) async fn case_page(
    cx: &Cx,
    api: &ApiState,
    id: &str,
    refused: Option<(Filled<'_>, String)>,
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
    let v = crate::case::view(&st);
    let mut out = String::new();
    match &refused {
        Some((_, e)) => out.push_str(&format!(
            "<div class=\"error\" role=\"alert\" id=\"case-error\">{e}</div>"
        )),
        None if cx.query.get("done").is_some() => out.push_str(&format!(
            "<div class=\"notice\" role=\"status\"><p>{}</p></div>",
            esc(&l.t("case-done"))
        )),
        None => {}
    }
    let dl = |rows: &[(&str, String)]| -> String {
        rows.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("<dt>{}</dt><dd>{v}</dd>", esc(&l.t(k))))
            .collect()
    };
    if let Some(h) = v.get("handling").filter(|h| h.is_object()) {
        let tlp = s(&h["tlp"]);
        out.push_str(&format!(
            "<section class=\"handling {cls}\" aria-labelledby=\"h-handling\"><h2 id=\"h-handling\">{}</h2>\
             <p class=\"tlp-banner\">{} <span>{}</span></p><dl>{}</dl></section>",
            esc(&l.t("section-handling")),
            tlp_badge(l, tlp),
            esc(&l.t(&format!(
                "tlp-meaning-{}",
                super::html::tlp_class(tlp).trim_start_matches("tlp-")
            ))),
            dl(&[
                (
                    "field-releasability",
                    h["releasability"]
                        .as_array()
                        .map(|a| a.iter().map(|n| bdi(s(n))).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ),
                ("field-eval", esc(s(&h["evaluation"]))),
            ]),
            cls = super::html::tlp_class(tlp),
        ));
    }
    out.push_str(&format!(
        "<section aria-labelledby=\"h-case\"><h2 id=\"h-case\">{}</h2><dl>{}</dl></section>",
        esc(&l.t("section-header")),
        dl(&[
            ("field-case", bdi(s(&v["case"]))),
            (
                "col-state",
                format!(
                    "{}{}",
                    esc(&status_name(cx, "case-status", s(&v["status"]))),
                    v["status_reason"]
                        .as_str()
                        .map(|r| format!(" — <span dir=\"auto\">{}</span>", esc(r)))
                        .unwrap_or_default()
                )
            ),
            ("col-lead", v["lead"].as_str().map(bdi).unwrap_or_default()),
            (
                "field-opened",
                v["opened_at"]
                    .as_str()
                    .map(|t| time(l, t))
                    .unwrap_or_default()
            ),
        ])
    ));
    if let Some(p) = v.get("summary").filter(|p| p.is_object()) {
        let lang = s(&p["language"]);
        out.push_str(&format!(
            "<section><h2>{}</h2><div class=\"content\" lang=\"{}\" dir=\"auto\">{}</div></section>",
            esc(&l.t("section-summary")),
            esc(lang),
            esc(s(&p["text"]))
        ));
    }
    let members: String = v["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                bdi(s(&m["node"])),
                esc(&status_name(cx, "standing", s(&m["standing"]))),
                time(l, s(&m["since"]))
            )
        })
        .collect();
    out.push_str(&format!(
        "<section aria-labelledby=\"h-members\"><h2 id=\"h-members\">{}</h2>\
         <table><thead><tr>{}</tr></thead><tbody>{members}</tbody></table></section>",
        esc(&l.t("section-participants")),
        th(cx, &["col-peer", "col-standing", "col-since"]),
    ));
    let tasks: String = v["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "<tr><td dir=\"auto\">{}</td><td>{}</td><td>{}</td><td>{}</td><td dir=\"auto\">{}</td></tr>",
                esc(s(&t["title"])),
                bdi(s(&t["assignee"])),
                t["due"].as_str().map(|d| time(l, d)).unwrap_or_default(),
                esc(&status_name(cx, "task-status", s(&t["status"]))),
                esc(t["note"].as_str().unwrap_or("")),
            )
        })
        .collect();
    out.push_str(&format!(
        "<section aria-labelledby=\"h-tasks\"><h2 id=\"h-tasks\">{}</h2>{}</section>",
        esc(&l.t("section-tasks")),
        if tasks.is_empty() {
            format!("<p class=\"muted\">{}</p>", esc(&l.t("tasks-none")))
        } else {
            format!(
                "<table><thead><tr>{}</tr></thead><tbody>{tasks}</tbody></table>",
                th(
                    cx,
                    &[
                        "col-task",
                        "col-assignee",
                        "col-due",
                        "col-state",
                        "col-note"
                    ]
                )
            )
        }
    ));
    let updates: String = v["updates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            let p = &u["payload"];
            format!(
                "<article class=\"update\"><p>{} · {} · {}</p><div class=\"content\" lang=\"{}\" dir=\"auto\">{}</div></article>",
                bdi(s(&u["from"])),
                time(l, s(&u["at"])),
                tlp_badge(l, s(&u["tlp"])),
                esc(s(&p["language"])),
                esc(s(&p["text"])),
            )
        })
        .collect();
    if !updates.is_empty() {
        out.push_str(&format!(
            "<section aria-labelledby=\"h-updates\"><h2 id=\"h-updates\">{}</h2>{updates}</section>",
            esc(&l.t("section-updates"))
        ));
    }
    let timeline: String = v["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let refused = e["refused"]
                .as_object()
                .map(|r| {
                    format!(
                        " <span class=\"badge overdue\">{} <code>{}</code></span>",
                        esc(&l.t("event-refused")),
                        esc(r.get("code").and_then(Value::as_str).unwrap_or(""))
                    )
                })
                .unwrap_or_default();
            format!(
                "<li>{} — <strong>{}</strong> · {} · <span dir=\"auto\">{}</span>{refused} \
                 <a href=\"/console/messages/{id}\"><code>{}</code></a></li>",
                time(l, s(&e["at"])),
                esc(&super::pages::kind_name(cx, s(&e["kind"]))),
                bdi(s(&e["from"])),
                esc(s(&e["summary"])),
                esc(&s(&e["id"]).chars().take(12).collect::<String>()),
                id = esc(s(&e["id"])),
            )
        })
        .collect();
    out.push_str(&case_actions::case_forms(
        cx,
        api,
        &st,
        refused.as_ref().map(|(f, _)| *f),
    ));
    out.push_str(&format!(
        "<section aria-labelledby=\"h-timeline\"><h2 id=\"h-timeline\">{}</h2><ol class=\"log\">{timeline}</ol></section>",
        esc(&l.t("section-timeline"))
    ));
    let title = match v["title"].as_str() {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => s(&v["case"]).to_owned(),
    };
    cx.page(status, &title, Nav::Cases, &out)
}
