//! The compose page: a form over the API's [`SendRequest`], sent through the same function
//! as `POST /v1/messages` ([`handlers::send_as`]), so the role check and every handling
//! rule are the API's.

use super::pages::TLPS;
use super::prelude::*;
use crate::api::handlers;
use crate::compose::SendRequest;
use liaison_protocol::message::ContentKind;

/// Urgencies of a request.
const URGENCIES: [&str; 3] = ["urgent", "three-days", "seven-days"];
/// Languages offered for the text (BCP 47); the list is a convenience, any tag may be typed.
const TEXT_LANGS: [&str; 14] = [
    "en", "ru", "ar", "fr", "es", "zh", "kk", "ky", "tg", "uz", "tk", "fa", "ps", "ur",
];

/// Nodes and networks this node knows: its peers, its routes' destinations, nodes whose
/// sealing keys it learnt, and their networks.
pub(super) fn known_recipients(api: &ApiState) -> (Vec<String>, Vec<String>) {
    let ctx = &api.ctx;
    let mut nodes: Vec<String> = ctx.sessions.ids().iter().map(ToString::to_string).collect();
    let mut networks: Vec<String> = Vec::new();
    for r in &ctx.cfg.routes {
        if r.to.starts_with("network:") {
            networks.push(r.to.clone());
        } else {
            nodes.push(r.to.clone());
        }
    }
    if let Some(dir) = ctx.keys.directory() {
        for m in dir.statements() {
            if let Ok(b) = liaison_protocol::Body::decode(&m.body) {
                nodes.push(b.header.originator.to_string());
            }
        }
    }
    let me: Vec<String> = ctx.me.ids().iter().map(ToString::to_string).collect();
    nodes.retain(|n| !me.contains(n));
    nodes.sort();
    nodes.dedup();
    for n in nodes.iter().chain(me.iter()) {
        if let Some((_, net)) = n.split_once('.') {
            networks.push(format!("network:{net}"));
        }
    }
    networks.sort();
    networks.dedup();
    (nodes, networks)
}

/// Checkboxes named `name`, one per item, the `checked` ones ticked.
pub(super) fn checkboxes(
    name: &str,
    id_prefix: &str,
    items: &[String],
    checked: &[&str],
) -> Markup {
    html! {
        @for (i, v) in items.iter().enumerate() {
            @let id = format!("{id_prefix}-{i}");
            div.check {
                input id=(id) type="checkbox" name=(name) value=(v) checked[checked.contains(&v.as_str())];
                label for=(id) { (bdi(v)) }
            }
        }
    }
}

/// Words in a free-text list field (commas, spaces or new lines between them).
pub(super) fn words(f: &FormData, key: &str) -> Vec<String> {
    f.all(key)
        .iter()
        .flat_map(|v| v.split([',', ' ', '\n', '\r']))
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The entities typed in a form's `entities` field, one `type=value` per non-empty line.
pub(super) fn entity_lines(f: &FormData) -> Vec<String> {
    f.all("entities")
        .iter()
        .flat_map(|v| v.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// (value, label) pairs of a `<select>`.
pub(super) type Choices = Vec<(String, String)>;

/// The text languages offered, as (tag, translated name) pairs.
pub(super) fn lang_choices(cx: &Cx) -> Vec<(String, String)> {
    TEXT_LANGS
        .iter()
        .map(|t| (t.to_string(), cx.l.t_or(&format!("lang-{t}"), t)))
        .collect()
}

/// The two halves of the 4x4 evaluation, as (code, "code — meaning") pairs.
pub(super) fn eval_choices(cx: &Cx) -> (Choices, Choices) {
    let l = cx.l;
    let sources = ["A", "B", "C", "X"]
        .iter()
        .map(|c| {
            (
                c.to_string(),
                format!(
                    "{c} — {}",
                    l.t(&format!("eval-source-{}", c.to_ascii_lowercase()))
                ),
            )
        })
        .collect();
    let infos = ["1", "2", "3", "4"]
        .iter()
        .map(|c| {
            (
                c.to_string(),
                format!("{c} — {}", l.t(&format!("eval-info-{c}"))),
            )
        })
        .collect();
    (sources, infos)
}

/// TLP radio buttons named `tlp` (ids `{id_prefix}-{i}`), each with its meaning.
pub(super) fn tlp_radios(cx: &Cx, id_prefix: &str, tlps: &[&str], selected: &str) -> Markup {
    let l = cx.l;
    html! {
        @for (i, t) in tlps.iter().enumerate() {
            @let id = format!("{id_prefix}-{i}");
            @let meaning = format!("tlp-meaning-{}", super::html::tlp_class(t).trim_start_matches("tlp-"));
            div.check {
                input id=(id) type="radio" name="tlp" value=(t) checked[*t == selected] required;
                label for=(id) { (tlp_badge(l, t)) " " span.muted { (l.t(&meaning)) } }
            }
        }
    }
}

/// The request a filled form stands for.
fn request_of(f: &FormData) -> SendRequest {
    let mut to: Vec<String> = f.all("to").iter().map(|s| s.to_string()).collect();
    to.extend(words(f, "to_other"));
    let mut release: Vec<String> = f.all("release").iter().map(|s| s.to_string()).collect();
    release.extend(words(f, "release_other"));
    SendRequest {
        kind: f.get("kind").unwrap_or("alert").to_owned(),
        to,
        tlp: f.get("tlp").unwrap_or("").to_owned(),
        release,
        originator_control: f.checked("originator_control"),
        h0: f.checked("h0"),
        h1: f.checked("h1"),
        h3: f.get("h3").map(str::to_owned),
        eval: format!(
            "{}{}",
            f.get("eval_source").unwrap_or(""),
            f.get("eval_info").unwrap_or("")
        ),
        // The text as typed, but with browsers' CRLF line ends made plain.
        text: f.text("text"),
        lang: f.get("lang_text").unwrap_or("en").to_owned(),
        entities: entity_lines(f),
        case: f.get("case").map(str::to_owned),
        in_reply_to: f.get("in_reply_to").map(str::to_owned),
        urgency: f.get("urgency").map(str::to_owned),
        expires_in_secs: None,
    }
}

fn form_page(
    cx: &Cx,
    api: &ApiState,
    f: &FormData,
    error: Option<Markup>,
    status: StatusCode,
) -> Response {
    let l = cx.l;
    let (nodes, networks) = known_recipients(api);
    let to = f.all("to");
    let release = f.all("release");
    let kind = f.get("kind").unwrap_or("alert");
    let tlp = f.get("tlp").unwrap_or("TLP:AMBER");
    let kinds: Vec<(String, String)> = ContentKind::ALL
        .into_iter()
        .filter(|k| crate::kinds::composed_by_officers(*k))
        .map(|k| {
            (
                k.as_str().to_owned(),
                super::pages::kind_name(cx, k.as_str()),
            )
        })
        .collect();
    let urgencies: Vec<(String, String)> = std::iter::once((String::new(), l.t("urgency-none")))
        .chain(
            URGENCIES
                .iter()
                .map(|u| (u.to_string(), l.t(&format!("urgency-{u}")))),
        )
        .collect();
    let langs = lang_choices(cx);
    let (sources, infos) = eval_choices(cx);
    let v = |k: &str| f.get(k).unwrap_or("").to_owned();
    let text =
        f.0.iter()
            .find(|(k, _)| k == "text")
            .map(|(_, t)| t.as_str())
            .unwrap_or_default();
    let ui_lang = cx.l.def.tag;
    let check = |name: &str, label: &str| {
        html! {
            div.check {
                input id=(name) type="checkbox" name=(name) value="1" checked[f.checked(name)];
                label for=(name) { (l.t(label)) }
            }
        }
    };
    let body = html! {
        @if let Some(e) = error {
            div.error #compose-error role="alert" { (e) }
        }
        form.compose method="post" action="/console/compose" {
            (cx.csrf())
            fieldset {
                legend { (l.t("compose-message")) }
                div {
                    label for="kind" { (l.t("field-kind")) }
                    select #kind name="kind" { (options(&kinds, Some(kind))) }
                }
                div {
                    label for="urgency" { (l.t("field-urgency")) }
                    select #urgency name="urgency" aria-describedby="urgency-hint" {
                        (options(&urgencies, f.get("urgency")))
                    }
                    p.hint #urgency-hint { (l.t("hint-urgency")) }
                }
                div {
                    label for="in_reply_to" { (l.t("field-in-reply-to")) }
                    input #in_reply_to name="in_reply_to" value=(v("in_reply_to")) dir="ltr" aria-describedby="reply-hint";
                    p.hint #reply-hint { (l.t("hint-in-reply-to")) }
                }
                div {
                    label for="case" { (l.t("field-case")) }
                    input #case name="case" value=(v("case")) dir="auto";
                }
            }
            fieldset {
                legend { (l.t("field-recipients")) }
                div.choices {
                    (checkboxes("to", "to-node", &nodes, &to))
                    (checkboxes("to", "to-net", &networks, &to))
                }
                div {
                    label for="to_other" { (l.t("field-to-other")) }
                    input #to_other name="to_other" value=(v("to_other")) dir="ltr" aria-describedby="to-hint";
                    p.hint #to-hint { (l.t("hint-to-other")) }
                }
            }
            fieldset {
                legend { (l.t("section-handling")) }
                fieldset.tlps {
                    legend { (l.t("field-tlp")) }
                    (tlp_radios(cx, "tlp", &TLPS, tlp))
                }
                fieldset {
                    legend { (l.t("field-releasability")) }
                    div.choices { (checkboxes("release", "rel", &networks, &release)) }
                    div {
                        label for="release_other" { (l.t("field-release-other")) }
                        input #release_other name="release_other" value=(v("release_other")) dir="ltr" aria-describedby="release-hint";
                        p.hint #release-hint { (l.t("hint-release")) }
                    }
                }
                (check("originator_control", "field-originator-control"))
                (check("h0", "field-h0"))
                (check("h1", "field-h1"))
                div {
                    label for="h3" { (l.t("field-h3")) }
                    input #h3 name="h3" value=(v("h3")) dir="auto";
                }
                fieldset.eval {
                    legend { (l.t("field-eval")) }
                    div {
                        label for="eval_source" { (l.t("field-eval-source")) }
                        select #eval_source name="eval_source" {
                            (options(&sources, Some(f.get("eval_source").unwrap_or("B"))))
                        }
                    }
                    div {
                        label for="eval_info" { (l.t("field-eval-info")) }
                        select #eval_info name="eval_info" {
                            (options(&infos, Some(f.get("eval_info").unwrap_or("2"))))
                        }
                    }
                }
            }
            fieldset {
                legend { (l.t("section-content")) }
                div {
                    label for="lang_text" { (l.t("field-language")) }
                    select #lang_text name="lang_text" {
                        (options(&langs, Some(f.get("lang_text").unwrap_or(ui_lang))))
                    }
                }
                div {
                    label for="text" { (l.t("field-text")) }
                    textarea #text name="text" rows="8" dir="auto" required { (text) }
                }
                div {
                    label for="entities" { (l.t("field-entities")) }
                    textarea #entities name="entities" rows="4" dir="ltr" aria-describedby="entities-hint" { (v("entities")) }
                    p.hint #entities-hint { (l.t("hint-entities")) }
                }
            }
            div.actions { button #send type="submit" { (l.t("send-button")) } }
        }
    };
    cx.page(status, &l.t("compose-title"), Nav::Compose, body)
}

/// `GET /console/compose`; 403 for roles that may not send (auditors).
pub(super) async fn form(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    if let Err(e) = cx.principal().require(Action::Send) {
        return cx.api_error(&e);
    }
    let f = cx.query.clone();
    form_page(&cx, &api, &f, None, StatusCode::OK)
}

/// `POST /console/compose`: sends, then shows the new message; a refusal re-shows the form
/// as filled, with the reason.
pub(super) async fn send(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Extension(f): Extension<FormData>,
) -> Response {
    let p = cx.principal();
    let req = request_of(&f);
    match handlers::send_as(&api, &p, &req).await {
        Ok(sent) => Redirect::to(&format!("/console/messages/{}?sent=1", sent.id)).into_response(),
        Err(e @ crate::api::ApiError::Forbidden { .. }) => cx.api_error(&e),
        Err(e) => form_page(&cx, &api, &f, Some(cx.refusal(&e)), e.status()),
    }
}
