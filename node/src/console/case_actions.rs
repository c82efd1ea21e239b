//! The case forms and what they post: opening a case (on the cases list) and, on a case's
//! page, the actions this node's standing allows (accept or decline an invitation; post an
//! update, create or change a task; for the lead invite, remove, suspend or resume, close;
//! for another participant leave).
//!
//! Each post calls the very [`crate::case`] function `POST /v1/cases` and
//! `POST /v1/cases/{case}/{action}` call, behind the same role check ([`Action::Send`]: 403
//! `forbidden-role` for auditors, who see no form), so every case rule and reason code is
//! the node's. The CSRF token was checked by `gate` before any of this runs. Success
//! redirects to the case page (POST-redirect-GET); a refusal re-shows the page with the
//! form as filled, the translated reason, its reason code and the node's detail.
//!
//! Which forms show is a convenience, not the check: a stale page may offer an action the
//! case no longer allows, and the node refuses it with the case rule's code.

use liaison_protocol::case::{CaseState, CaseStatus, MemberStatus, TaskStatus};
use liaison_protocol::NodeId;

use super::compose::{checkboxes, eval_choices, known_recipients, lang_choices, tlp_radios, words};
use super::pages::TLPS;
use super::prelude::*;
use crate::api::ApiError;
use crate::case::{self, CaseRequest, Change};

/// Task statuses, in the order an officer moves through them.
const TASK_STATUSES: [TaskStatus; 4] = [
    TaskStatus::Open,
    TaskStatus::InProgress,
    TaskStatus::Done,
    TaskStatus::Cancelled,
];

/// A failed post to re-show: which form (its `form` field, else the action), as filled.
#[derive(Clone, Copy)]
pub(super) struct Filled<'a> {
    /// The form's name.
    pub form: &'a str,
    /// What was posted.
    pub data: &'a FormData,
}

use crate::api::handlers::refusal_or_internal as api_error;

fn owned(v: Vec<&str>) -> Vec<String> {
    v.into_iter().map(str::to_owned).collect()
}

/// The request a posted form stands for; each form sends only the fields its action reads.
fn request_of(f: &FormData) -> CaseRequest {
    let get = |k: &str| f.get(k).map(str::to_owned);
    let mut nodes = owned(f.all("nodes"));
    nodes.extend(words(f, "nodes_other"));
    let mut release = owned(f.all("release"));
    release.extend(words(f, "release_other"));
    CaseRequest {
        id: get("case_id"),
        title: get("title"),
        lead: None,
        nodes,
        to: owned(f.all("to")),
        tlp: get("tlp"),
        release,
        originator_control: f.checked("originator_control"),
        h0: f.checked("h0"),
        h1: f.checked("h1"),
        h3: get("h3"),
        eval: match (f.get("eval_source"), f.get("eval_info")) {
            (Some(s), Some(i)) => Some(format!("{s}{i}")),
            _ => None,
        },
        text: f.text("text"),
        lang: get("lang_text"),
        entities: super::compose::entity_lines(f),
        attachments: Vec::new(),
        task: get("task"),
        assignee: get("assignee"),
        due: get("due"),
        status: get("status"),
    }
}

/// `POST /console/cases`: opens a case and shows it; a refusal re-shows the list with the
/// form as filled.
pub(super) async fn open(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Extension(f): Extension<FormData>,
) -> Response {
    if let Err(e) = cx.principal().require(Action::Send) {
        return cx.api_error(&e);
    }
    match case::open(&api.ctx, &request_of(&f)).await {
        Ok((id, _)) => Redirect::to(&format!("/console/cases/{id}?done=1")).into_response(),
        Err(e) => {
            let e = api_error(e);
            if matches!(e, ApiError::Internal(_)) {
                return cx.api_error(&e);
            }
            super::cases::list_page(&cx, &api, &f, Some(cx.refusal(&e)), e.status()).await
        }
    }
}

/// `POST /console/cases/{case}/{action}` (the API's actions: `invite`, `accept`, `decline`,
/// `update`, `task`, `close`, `remove`, `leave`, `suspend`, `resume`, `history`), then back to
/// the case page.
pub(super) async fn act(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Path((id, action)): Path<(String, String)>,
    Extension(f): Extension<FormData>,
) -> Response {
    if let Err(e) = cx.principal().require(Action::Send) {
        return cx.api_error(&e);
    }
    let case: liaison_protocol::CaseId = match id.parse() {
        Ok(c) => c,
        Err(e) => {
            return cx.api_error(&ApiError::Malformed(format!(
                "{id:?} is not a case id: {e}"
            )))
        }
    };
    let req = request_of(&f);
    let ctx = &api.ctx;
    let r = match action.as_str() {
        "invite" => case::invite(ctx, &case, &req).await.map(drop),
        "accept" => case::join(ctx, &case, true).await.map(drop),
        "decline" => case::join(ctx, &case, false).await.map(drop),
        "update" => case::update(ctx, &case, &req).await.map(drop),
        "task" => case::task(ctx, &case, &req).await.map(drop),
        "close" => case::change(ctx, &case, Change::Close, &req)
            .await
            .map(drop),
        "remove" => case::change(ctx, &case, Change::Remove, &req)
            .await
            .map(drop),
        "leave" => case::change(ctx, &case, Change::Leave, &req)
            .await
            .map(drop),
        "suspend" => case::change(ctx, &case, Change::Suspend, &req)
            .await
            .map(drop),
        "resume" => case::change(ctx, &case, Change::Resume, &req)
            .await
            .map(drop),
        // Shared message by message: the first that could not be is said.
        "history" => case::share_history(ctx, &case, &req.nodes)
            .await
            .and_then(|v| v.into_iter().try_for_each(|h| h.outcome.map(drop))),
        other => {
            return cx.api_error(&ApiError::NoRoute(format!(
                "/console/cases/{id}/{other} (actions: invite, accept, decline, update, task, close, remove, leave, suspend, resume, history)"
            )))
        }
    };
    match r {
        Ok(()) => Redirect::to(&format!("/console/cases/{case}?done=1")).into_response(),
        Err(e) => {
            let e = api_error(e);
            if matches!(e, ApiError::Internal(_)) {
                return cx.api_error(&e);
            }
            let filled = Filled {
                form: f.get("form").unwrap_or(&action),
                data: &f,
            };
            super::cases::case_page(&cx, &api, &id, Some((filled, cx.refusal(&e))), e.status())
                .await
        }
    }
}

/// The values of form `name`: as posted if it is the one that failed, else none.
fn values<'a>(filled: Option<Filled<'a>>, name: &str, empty: &'a FormData) -> &'a FormData {
    match filled {
        Some(Filled { form, data }) if form == name => data,
        _ => empty,
    }
}

/// A labelled control in a `<div>`; `hint` is tied to it with `aria-describedby`.
fn labelled(id: &str, label: &str, control: Markup, hint: Option<&str>) -> Markup {
    html! {
        div {
            label for=(id) { (label) }
            (control)
            @if let Some(h) = hint {
                p.hint id={ (id) "-hint" } { (h) }
            }
        }
    }
}

/// The `aria-describedby` of a control with a hint.
fn described(id: &str, hint: bool) -> Option<String> {
    hint.then(|| format!("{id}-hint"))
}

/// A one-line text input, its text direction `dir`.
fn one_line(id: &str, name: &str, value: &str, dir: &str, required: bool, hint: bool) -> Markup {
    html! {
        input id=(id) name=(name) value=(value) dir=(dir) required[required]
            aria-describedby=[described(id, hint)];
    }
}

/// A `<select>`.
fn dropdown(id: &str, name: &str, items: &[(String, String)], selected: Option<&str>) -> Markup {
    html! { select id=(id) name=(name) { (options(items, selected)) } }
}

/// A form posting `action` on `case`, named `name`, around one fieldset.
fn form(
    cx: &Cx,
    case: &str,
    action: &str,
    name: &str,
    legend: &str,
    inner: Markup,
    button: &str,
) -> Markup {
    html! {
        form.case-form method="post" action={ "/console/cases/" (case) "/" (action) } id={ "case-" (name) } {
            (cx.csrf())
            input type="hidden" name="form" value=(name);
            fieldset {
                legend { (legend) }
                (inner)
                div.actions { button type="submit" { (button) } }
            }
        }
    }
}

/// A reason field (close, suspend, resume, remove, leave).
fn reason(cx: &Cx, name: &str, f: &FormData) -> Markup {
    let id = format!("{name}-reason");
    labelled(
        &id,
        &cx.t("field-reason"),
        one_line(&id, "text", &f.text("text"), "auto", false, false),
        None,
    )
}

/// The language select and text area of a payload (summary, update, invitation note).
fn text_fields(cx: &Cx, prefix: &str, label: &str, f: &FormData, required: bool) -> Markup {
    let lang_id = format!("{prefix}-lang");
    let text_id = format!("{prefix}-text");
    html! {
        (labelled(
            &lang_id,
            &cx.t("field-language"),
            dropdown(
                &lang_id,
                "lang_text",
                &lang_choices(cx),
                Some(f.get("lang_text").unwrap_or(cx.l.def.tag)),
            ),
            None,
        ))
        (labelled(
            &text_id,
            label,
            html! {
                textarea id=(text_id) name="text" rows="5" dir="auto" required[required] { (f.text("text")) }
            },
            None,
        ))
    }
}

/// The entities of a case message, one `type=value` per line (phone, passport, container,
/// imo, wallet, plate, vin…): selectors among them are deconflicted with other centres.
fn entities_field(cx: &Cx, prefix: &str, f: &FormData) -> Markup {
    let id = format!("{prefix}-entities");
    labelled(
        &id,
        &cx.t("field-entities"),
        html! {
            textarea id=(id) name="entities" rows="3" dir="ltr"
                aria-describedby={ (id) "-hint" } { (f.all("entities").join("\n")) }
        },
        Some(&cx.t("hint-entities")),
    )
}

/// Node choices as (id, id) pairs.
fn node_items(nodes: &[NodeId]) -> Vec<(String, String)> {
    nodes
        .iter()
        .map(|n| (n.to_string(), n.to_string()))
        .collect()
}

/// The "open a case" form of the cases list, filled with `f`.
pub(super) fn open_form(cx: &Cx, api: &ApiState, f: &FormData) -> Markup {
    let l = cx.l;
    let (nodes, networks) = known_recipients(api);
    let (sources, infos) = eval_choices(cx);
    let get = |k: &str| f.get(k).unwrap_or("").to_owned();
    let flag = |k: &str, key: &str| {
        let id = format!("open-{k}");
        html! {
            div.check {
                input type="checkbox" id=(id) name=(k) value="1" checked[f.checked(k)];
                label for=(id) { (l.t(key)) }
            }
        }
    };
    html! {
        section.open-case aria-labelledby="h-open" {
            h2 #h-open { (l.t("case-open-title")) }
            form.compose.case-open #case-open method="post" action="/console/cases" {
                (cx.csrf())
                fieldset {
                    legend { (l.t("case-open-case")) }
                    (labelled("open-title", &l.t("field-case-title"),
                        one_line("open-title", "title", &get("title"), "auto", true, false), None))
                    (labelled("open-id", &l.t("field-case-id"),
                        one_line("open-id", "case_id", &get("case_id"), "ltr", false, true),
                        Some(&l.t("hint-case-id"))))
                }
                fieldset {
                    legend { (l.t("field-invitees")) }
                    div.choices { (checkboxes("nodes", "open-node", &nodes, &f.all("nodes"))) }
                    (labelled("open-nodes-other", &l.t("field-nodes-other"),
                        one_line("open-nodes-other", "nodes_other", &get("nodes_other"), "ltr", false, true),
                        Some(&l.t("hint-nodes-other"))))
                }
                fieldset {
                    legend { (l.t("section-handling")) }
                    fieldset.tlps {
                        legend { (l.t("field-tlp")) }
                        (tlp_radios(cx, "open-tlp", &TLPS, f.get("tlp").unwrap_or("TLP:AMBER")))
                    }
                    fieldset {
                        legend { (l.t("field-releasability")) }
                        div.choices { (checkboxes("release", "open-rel", &networks, &f.all("release"))) }
                        (labelled("open-release-other", &l.t("field-release-other"),
                            one_line("open-release-other", "release_other", &get("release_other"), "ltr", false, true),
                            Some(&l.t("hint-case-release"))))
                    }
                    (flag("originator_control", "field-originator-control"))
                    (flag("h0", "field-h0"))
                    (flag("h1", "field-h1"))
                    (labelled("open-h3", &l.t("field-h3"),
                        one_line("open-h3", "h3", &get("h3"), "auto", false, false), None))
                    fieldset.eval {
                        legend { (l.t("field-eval")) }
                        (labelled("open-eval-source", &l.t("field-eval-source"),
                            dropdown("open-eval-source", "eval_source", &sources, Some(f.get("eval_source").unwrap_or("B"))),
                            None))
                        (labelled("open-eval-info", &l.t("field-eval-info"),
                            dropdown("open-eval-info", "eval_info", &infos, Some(f.get("eval_info").unwrap_or("2"))),
                            None))
                    }
                }
                fieldset {
                    legend { (l.t("section-summary")) }
                    (text_fields(cx, "open", &l.t("field-summary"), f, true))
                    (entities_field(cx, "open", f))
                }
                div.actions { button #open-submit type="submit" { (l.t("case-open-button")) } }
            }
        }
    }
}

/// The forms this node's standing in `st` allows, filled with a failed post's values.
pub(super) fn case_forms(
    cx: &Cx,
    api: &ApiState,
    st: &CaseState,
    filled: Option<Filled<'_>>,
) -> Markup {
    if !cx.may(Action::Send) {
        return html! {};
    }
    let l = cx.l;
    let me = &api.ctx.me.id();
    let case = st.id.as_str();
    let lead = st.lead.as_ref() == Some(me);
    let empty = FormData::default();
    let v = |name: &str| values(filled, name, &empty);
    let body = if st.status == CaseStatus::Closed {
        html! { p.muted { (l.t("case-closed-note")) } }
    } else if st.standing(me) == Some(MemberStatus::Invited) && !lead {
        let button = |action: &str, key: &str| {
            html! {
                form.inline method="post" action={ "/console/cases/" (case) "/" (action) } id={ "case-" (action) } {
                    (cx.csrf())
                    button type="submit" { (l.t(key)) }
                }
            }
        };
        html! {
            div.invitation {
                p { (l.t("case-invitation")) }
                p { (button("accept", "case-accept-button")) " " (button("decline", "case-decline-button")) }
            }
        }
    } else if st.is_participant(me) {
        let others: Vec<NodeId> = st.participants().into_iter().filter(|n| n != *me).collect();
        let mut forms = Vec::new();
        let suspended_note = st.status == CaseStatus::Suspended && !lead;
        if !suspended_note {
            forms.push(update_form(cx, st, &others, v("update")));
            forms.push(task_form(cx, st, me, v("task")));
            if let Some(f) = task_change_form(cx, st, me, lead, v("task-change")) {
                forms.push(f);
            }
        }
        if lead {
            forms.push(invite_form(cx, api, st, v("invite")));
            if !others.is_empty() {
                let f = v("remove");
                let inner = html! {
                    (labelled(
                        "remove-node",
                        &l.t("field-participant"),
                        dropdown("remove-node", "nodes", &node_items(&others), f.get("nodes")),
                        None
                    ))
                    (reason(cx, "remove", f))
                };
                forms.push(form(
                    cx,
                    case,
                    "remove",
                    "remove",
                    &l.t("case-remove-legend"),
                    inner,
                    &l.t("case-remove-button"),
                ));
            }
            let (action, legend, hint, button) = if st.status == CaseStatus::Suspended {
                (
                    "resume",
                    "case-resume-legend",
                    "hint-resume",
                    "case-resume-button",
                )
            } else {
                (
                    "suspend",
                    "case-suspend-legend",
                    "hint-suspend",
                    "case-suspend-button",
                )
            };
            let inner = html! {
                p.hint { (l.t(hint)) }
                (reason(cx, action, v(action)))
            };
            forms.push(form(
                cx,
                case,
                action,
                action,
                &l.t(legend),
                inner,
                &l.t(button),
            ));
            let inner = html! {
                (reason(cx, "close", v("close")))
                div.check {
                    input #close-confirm type="checkbox" name="confirm" value="1" required;
                    label for="close-confirm" { (l.t("field-close-confirm")) }
                }
            };
            forms.push(form(
                cx,
                case,
                "close",
                "close",
                &l.t("case-close-legend"),
                inner,
                &l.t("case-close-button"),
            ));
        } else {
            let inner = html! {
                p.hint { (l.t("hint-leave")) }
                (reason(cx, "leave", v("leave")))
            };
            forms.push(form(
                cx,
                case,
                "leave",
                "leave",
                &l.t("case-leave-legend"),
                inner,
                &l.t("case-leave-button"),
            ));
        }
        html! {
            @if suspended_note {
                p.muted { (l.t("case-suspended-note")) }
            }
            div.forms {
                @for f in forms { (f) }
            }
        }
    } else {
        return html! {};
    };
    html! {
        section.case-actions aria-labelledby="h-actions" {
            h2 #h-actions { (l.t("section-case-actions")) }
            (body)
        }
    }
}

/// Post an update: text, language, narrower recipients, stricter TLP.
fn update_form(cx: &Cx, st: &CaseState, others: &[NodeId], f: &FormData) -> Markup {
    let l = cx.l;
    let case_tlp = st
        .handling
        .as_ref()
        .map(|h| h.tlp.label())
        .unwrap_or("TLP:CLEAR");
    let stricter = TLPS
        .iter()
        .skip_while(|t| **t != case_tlp)
        .skip(1)
        .map(|t| (t.to_string(), t.to_string()));
    let tlps: Vec<(String, String)> = std::iter::once((
        String::new(),
        l.ta("tlp-case-default", &[("tlp", Arg::Str(case_tlp))]),
    ))
    .chain(stricter)
    .collect();
    let items: Vec<String> = others.iter().map(ToString::to_string).collect();
    // The case's releasability, all ticked: untick to narrow it for this update.
    let release: Vec<String> = st
        .handling
        .as_ref()
        .map(|h| h.releasability.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let ticked: Vec<&str> = if f.get("form").is_some() {
        f.all("release")
    } else {
        release.iter().map(String::as_str).collect()
    };
    let inner = html! {
        (text_fields(cx, "update", &l.t("field-text"), f, true))
        (entities_field(cx, "update", f))
        @if !items.is_empty() {
            fieldset aria-describedby="update-to-hint" {
                legend { (l.t("field-update-to")) }
                div.choices { (checkboxes("to", "update-to", &items, &f.all("to"))) }
                p.hint #update-to-hint { (l.t("hint-update-to")) }
            }
        }
        (labelled(
            "update-tlp",
            &l.t("field-tlp"),
            html! {
                select #update-tlp name="tlp" aria-describedby="update-tlp-hint" {
                    (options(&tlps, f.get("tlp")))
                }
            },
            Some(&l.t("hint-update-tlp"))
        ))
        @if release.len() > 1 {
            fieldset aria-describedby="update-release-hint" {
                legend { (l.t("field-releasability")) }
                div.choices { (checkboxes("release", "update-release", &release, &ticked)) }
                p.hint #update-release-hint { (l.t("hint-update-release")) }
            }
        }
    };
    form(
        cx,
        st.id.as_str(),
        "update",
        "update",
        &l.t("case-update-legend"),
        inner,
        &l.t("case-update-button"),
    )
}

/// Create a task: title, assignee among the participants, due date, note.
fn task_form(cx: &Cx, st: &CaseState, me: &NodeId, f: &FormData) -> Markup {
    let l = cx.l;
    let me = me.to_string();
    let inner = html! {
        (labelled(
            "task-title",
            &l.t("field-task-title"),
            one_line("task-title", "title", f.get("title").unwrap_or(""), "auto", true, false),
            None
        ))
        (labelled(
            "task-assignee",
            &l.t("col-assignee"),
            dropdown(
                "task-assignee",
                "assignee",
                &node_items(&st.participants()),
                Some(f.get("assignee").unwrap_or(&me))
            ),
            None
        ))
        (labelled(
            "task-due",
            &l.t("col-due"),
            html! {
                input #task-due name="due" value=(f.get("due").unwrap_or("")) type="date" dir="ltr"
                    aria-describedby="task-due-hint";
            },
            Some(&l.t("hint-due"))
        ))
        (labelled(
            "task-note",
            &l.t("col-note"),
            one_line("task-note", "text", &f.text("text"), "auto", false, false),
            None
        ))
    };
    form(
        cx,
        st.id.as_str(),
        "task",
        "task",
        &l.t("case-task-legend"),
        inner,
        &l.t("case-task-button"),
    )
}

/// Change a task's status (the tasks this node may change: it created them, does them, or
/// leads the case); `None` if there is none.
fn task_change_form(
    cx: &Cx,
    st: &CaseState,
    me: &NodeId,
    lead: bool,
    f: &FormData,
) -> Option<Markup> {
    let l = cx.l;
    let tasks: Vec<(String, String)> = st
        .tasks
        .iter()
        .filter(|t| lead || &t.created_by == me || &t.assignee == me)
        .map(|t| {
            (
                t.id.to_string(),
                format!(
                    "{} — {} ({})",
                    t.title,
                    t.assignee,
                    l.t_or(&format!("task-status-{}", t.status.name()), t.status.name())
                ),
            )
        })
        .collect();
    if tasks.is_empty() {
        return None;
    }
    let statuses: Vec<(String, String)> = TASK_STATUSES
        .iter()
        .map(|s| {
            (
                s.name().to_owned(),
                l.t_or(&format!("task-status-{}", s.name()), s.name()),
            )
        })
        .collect();
    let inner = html! {
        (labelled(
            "task-change-task",
            &l.t("col-task"),
            dropdown("task-change-task", "task", &tasks, f.get("task")),
            None
        ))
        (labelled(
            "task-change-status",
            &l.t("col-state"),
            dropdown(
                "task-change-status",
                "status",
                &statuses,
                Some(f.get("status").unwrap_or("in-progress"))
            ),
            None
        ))
        (labelled(
            "task-change-note",
            &l.t("col-note"),
            one_line("task-change-note", "text", &f.text("text"), "auto", false, false),
            None
        ))
    };
    Some(form(
        cx,
        st.id.as_str(),
        "task",
        "task-change",
        &l.t("case-task-change-legend"),
        inner,
        &l.t("case-task-change-button"),
    ))
}

/// Invite (lead): known nodes not yet in the case, others typed, and a note.
fn invite_form(cx: &Cx, api: &ApiState, st: &CaseState, f: &FormData) -> Markup {
    let l = cx.l;
    let (nodes, _) = known_recipients(api);
    let inside: Vec<String> = st
        .participants()
        .iter()
        .chain(st.pending().iter())
        .map(ToString::to_string)
        .collect();
    let candidates: Vec<String> = nodes.into_iter().filter(|n| !inside.contains(n)).collect();
    let inner = html! {
        div.choices { (checkboxes("nodes", "invite-node", &candidates, &f.all("nodes"))) }
        (labelled(
            "invite-other",
            &l.t("field-nodes-other"),
            one_line("invite-other", "nodes_other", f.get("nodes_other").unwrap_or(""), "ltr", false, true),
            Some(&l.t("hint-nodes-other"))
        ))
        (text_fields(cx, "invite", &l.t("field-invite-note"), f, false))
    };
    form(
        cx,
        st.id.as_str(),
        "invite",
        "invite",
        &l.t("case-invite-legend"),
        inner,
        &l.t("case-invite-button"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_become_the_apis_case_requests() {
        let f = FormData::parse(
            b"form=open&title=Heroin+via+Aktau&nodes=kz-dcu.central-asia&nodes_other=om-ncb.gulf%2C+x.y\
              &tlp=TLP%3AAMBER&release=network%3Acentral-asia&h0=1&eval_source=B&eval_info=2\
              &text=line+one%0D%0Aline+two&lang_text=ru&csrf=t",
        );
        let r = request_of(&f);
        assert_eq!(r.title.as_deref(), Some("Heroin via Aktau"));
        assert_eq!(r.nodes, ["kz-dcu.central-asia", "om-ncb.gulf", "x.y"]);
        assert_eq!(r.tlp.as_deref(), Some("TLP:AMBER"));
        assert_eq!(r.release, ["network:central-asia"]);
        assert!(r.h0 && !r.h1 && !r.originator_control);
        assert_eq!(r.eval.as_deref(), Some("B2"));
        assert_eq!(r.text, "line one\nline two");
        assert_eq!(r.lang.as_deref(), Some("ru"));
        // An update's "the case's TLP" is no TLP at all.
        let u = request_of(&FormData::parse(b"form=update&tlp=&text=x&lang_text=en"));
        assert_eq!(u.tlp, None);
        assert!(u.to.is_empty() && u.eval.is_none());
    }
}
