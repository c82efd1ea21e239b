//! The console's onward sharing, third-party consent and retention actions. Each form calls
//! the very function the API's endpoint calls (`handlers::share_as`,
//! `handlers::consent_request_as`, `handlers::consent_answer_as`, `handlers::purge_as`), so
//! every rule (role, handling, originator control, limits) is the node's.

use super::prelude::*;
use crate::api::handlers::{self, ConsentRequestAnswer, NodesRequest};
use crate::api::ApiError;
use crate::views::MessageView;

/// The `done` notices the message page shows after an action here (`done-<name>`).
pub(super) const DONE: [&str; 3] = ["share", "consent-request", "consent-answer"];

/// How long a grant lasts, as offered: (seconds or empty for no expiry, label key).
const EXPIRIES: [(&str, &str); 4] = [
    ("86400", "expires-1d"),
    ("604800", "expires-7d"),
    ("2592000", "expires-30d"),
    ("", "expires-never"),
];

/// A labelled one-line input with a hint below it.
fn field(
    id: &str,
    name: &str,
    label: &str,
    hint: Option<&str>,
    dir: &str,
    required: bool,
) -> Markup {
    html! {
        div {
            label for=(id) { (label) }
            input id=(id) name=(name) dir=(dir) required[required]
                aria-describedby=[hint.map(|_| format!("{id}-hint"))];
            @if let Some(h) = hint {
                p.hint id={ (id) "-hint" } { (h) }
            }
        }
    }
}

/// The forms a message's page offers an officer who may send: for a message delivered here
/// (an alert, a request, a reply), share it onward or ask its originator's consent to; for a
/// consent request delivered here (this node is the originator asked), grant or deny it.
pub(super) fn forms(cx: &Cx, m: &MessageView) -> Markup {
    if !cx.may(Action::Send) || m.state.role != "delivered" {
        return html! {};
    }
    let l = cx.l;
    let action = |a: &str| format!("/console/messages/{}/{a}", m.id);
    let nodes_hint = l.t("hint-nodes-other");
    match m.kind.as_str() {
        "alert" | "request" | "reply" => html! {
            section.message-actions aria-labelledby="h-onward" {
                h2 #h-onward { (l.t("section-onward")) }
                p.hint { (l.t("hint-onward")) }
                div.forms {
                    form.case-form method="post" action=(action("share")) id="share-form" {
                        (cx.csrf())
                        fieldset {
                            legend { (l.t("share-legend")) }
                            (field("share-to", "to", &l.t("field-share-to"), Some(&nodes_hint), "ltr", true))
                            div.actions { button type="submit" { (l.t("share-button")) } }
                        }
                    }
                    form.case-form method="post" action=(action("consent-request")) id="consent-request-form" {
                        (cx.csrf())
                        fieldset {
                            legend { (l.t("consent-request-legend")) }
                            (field("consent-to", "to", &l.t("field-share-to"), Some(&nodes_hint), "ltr", true))
                            (field("consent-reason", "reason", &l.t("field-reason"), None, "auto", false))
                            div.actions { button type="submit" { (l.t("consent-request-button")) } }
                        }
                    }
                }
            }
        },
        "consent-request" => html! {
            section.message-actions aria-labelledby="h-consent-answer" {
                h2 #h-consent-answer { (l.t("section-consent-answer")) }
                p.hint { (l.t("hint-consent-answer")) }
                div.forms {
                    form.case-form method="post" action=(action("consent-grant")) id="grant-form" {
                        (cx.csrf())
                        fieldset {
                            legend { (l.t("grant-legend")) }
                            div {
                                label for="grant-expires" { (l.t("field-expires")) }
                                select #grant-expires name="expires" {
                                    @for (value, key) in EXPIRIES {
                                        option value=(value) { (l.t(key)) }
                                    }
                                }
                            }
                            (field("grant-reason", "reason", &l.t("field-reason"), None, "auto", false))
                            div.actions { button type="submit" { (l.t("grant-button")) } }
                        }
                    }
                    form.case-form method="post" action=(action("consent-deny")) id="deny-form" {
                        (cx.csrf())
                        fieldset {
                            legend { (l.t("deny-legend")) }
                            (field("deny-reason", "reason", &l.t("field-reason"), None, "auto", false))
                            div.actions { button type="submit" { (l.t("deny-button")) } }
                        }
                    }
                }
            }
        },
        _ => html! {},
    }
}

/// `POST /console/messages/{id}/{action}`: `share`, `consent-request`, `consent-grant`,
/// `consent-deny`; then back to the message with a notice, or the page again with the
/// translated refusal.
pub(super) async fn act(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Path((id, action)): Path<(String, String)>,
    Extension(f): Extension<FormData>,
) -> Response {
    let p = cx.principal();
    let to = super::compose::words(&f, "to");
    let reason = f.text("reason");
    let r = match action.as_str() {
        "share" => handlers::share_as(&api, &p, &id, NodesRequest { to, reason })
            .await
            .map(|_| "share"),
        "consent-request" => {
            handlers::consent_request_as(&api, &p, &id, NodesRequest { to, reason })
                .await
                .map(|_| "consent-request")
        }
        "consent-grant" | "consent-deny" => {
            let expires = match f.get("expires").filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                    ApiError::Malformed(format!("expires: {v:?} is not a number of seconds"))
                }),
            };
            match expires {
                Ok(expires_in_secs) => handlers::consent_answer_as(
                    &api,
                    &p,
                    &id,
                    ConsentRequestAnswer {
                        grant: action == "consent-grant",
                        expires_in_secs,
                        reason,
                    },
                )
                .await
                .map(|_| "consent-answer"),
                Err(e) => Err(e),
            }
        }
        other => {
            return cx.api_error(&ApiError::NoRoute(format!(
                "/console/messages/{id}/{other} (actions: ack, share, consent-request, consent-grant, consent-deny)"
            )))
        }
    };
    match r {
        Ok(done) => Redirect::to(&format!("/console/messages/{id}?done={done}")).into_response(),
        Err(e @ (ApiError::Internal(_) | ApiError::Forbidden { .. })) => cx.api_error(&e),
        Err(e) => {
            super::pages::message_page(&api, &cx, &id, Some(cx.refusal(&e)), e.status()).await
        }
    }
}

/// The status page's retention section, for supervisors: the message bodies the retention
/// rules say are due, and a form to delete them.
pub(super) async fn retention(api: &ApiState, cx: &Cx) -> Markup {
    if !cx.may(Action::Purge) {
        return html! {};
    }
    let l = cx.l;
    let due = match handlers::purge_as(api, &cx.principal(), true).await {
        Ok(r) => r.due,
        Err(e) => {
            return html! { section { h2 { (l.t("section-retention")) } (cx.refusal(&e)) } };
        }
    };
    const SHOWN: usize = 50;
    html! {
        section aria-labelledby="h-retention" {
            h2 #h-retention { (l.t("section-retention")) }
            @if let Some(n) = cx.query.get("purged").and_then(|n| n.parse::<u64>().ok()) {
                div.notice role="status" { p { (l.ta("purged-notice", &[("n", Arg::Num(n))])) } }
            }
            @if due.is_empty() {
                p.ok { (l.t("retention-none")) }
            } @else {
                p { (l.ta("retention-due", &[("n", Arg::Num(due.len() as u64))])) }
                ul.due {
                    @for d in due.iter().take(SHOWN) {
                        li {
                            a href={ "/console/messages/" (d.id) } { code { (d.id.chars().take(12).collect::<String>()) } }
                            " " bdi dir="auto" { (d.rule) }
                        }
                    }
                }
                form method="post" action="/console/purge" id="purge-form" {
                    (cx.csrf())
                    div.check {
                        input #purge-confirm type="checkbox" name="confirm" value="1" required;
                        label for="purge-confirm" { (l.t("field-purge-confirm")) }
                    }
                    button type="submit" { (l.t("purge-button")) }
                }
            }
        }
    }
}

/// `POST /console/purge` (supervisors): deletes the message bodies due, then back to the
/// status page with how many.
pub(super) async fn purge(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    match handlers::purge_as(&api, &cx.principal(), false).await {
        Ok(r) => {
            Redirect::to(&format!("/console/status?purged={}", r.purged.len())).into_response()
        }
        Err(e) => cx.api_error(&e),
    }
}
