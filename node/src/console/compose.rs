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
    let mut nodes: Vec<String> = ctx.peer_ids.iter().map(ToString::to_string).collect();
    let mut networks: Vec<String> = Vec::new();
    for r in &ctx.cfg.routes {
        if r.to.starts_with("network:") {
            networks.push(r.to.clone());
        } else {
            nodes.push(r.to.clone());
        }
    }
    if let Ok(dir) = ctx.directory.read() {
        for m in dir.statements() {
            if let Ok(b) = liaison_protocol::Body::decode(&m.body) {
                nodes.push(b.header.originator.to_string());
            }
        }
    }
    let me: Vec<String> = ctx
        .identities
        .iter()
        .map(|i| i.signer.node().to_string())
        .collect();
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
) -> String {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "<div class=\"check\"><input type=\"checkbox\" id=\"{id_prefix}-{i}\" name=\"{name}\" value=\"{v}\"{c}>\
                 <label for=\"{id_prefix}-{i}\"><bdi>{v}</bdi></label></div>",
                v = esc(v),
                c = if checked.contains(&v.as_str()) { " checked" } else { "" }
            )
        })
        .collect()
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
pub(super) fn tlp_radios(cx: &Cx, id_prefix: &str, tlps: &[&str], selected: &str) -> String {
    let l = cx.l;
    tlps.iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "<div class=\"check\"><input type=\"radio\" id=\"{id_prefix}-{i}\" name=\"tlp\" value=\"{t}\"{c} required>\
                 <label for=\"{id_prefix}-{i}\">{badge} <span class=\"muted\">{m}</span></label></div>",
                c = if *t == selected { " checked" } else { "" },
                badge = tlp_badge(l, t),
                m = esc(&l.t(&format!(
                    "tlp-meaning-{}",
                    super::html::tlp_class(t).trim_start_matches("tlp-")
                ))),
            )
        })
        .collect()
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
        entities: f
            .all("entities")
            .iter()
            .flat_map(|v| v.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
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
    error: Option<String>,
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
    let tlp_radios = tlp_radios(cx, "tlp", &TLPS, tlp);
    let error = error
        .map(|e| format!("<div class=\"error\" role=\"alert\" id=\"compose-error\">{e}</div>"))
        .unwrap_or_default();
    let v = |k: &str| esc(f.get(k).unwrap_or(""));
    let text =
        f.0.iter()
            .find(|(k, _)| k == "text")
            .map(|(_, t)| esc(t))
            .unwrap_or_default();
    let ui_lang = cx.l.def.tag;
    let body = format!(
        "{error}<form method=\"post\" action=\"/console/compose\" class=\"compose\">{csrf}\
         <fieldset><legend>{l_message}</legend>\
         <div><label for=\"kind\">{l_kind}</label><select id=\"kind\" name=\"kind\">{kinds}</select></div>\
         <div><label for=\"urgency\">{l_urgency}</label><select id=\"urgency\" name=\"urgency\" aria-describedby=\"urgency-hint\">{urgencies}</select>\
         <p class=\"hint\" id=\"urgency-hint\">{h_urgency}</p></div>\
         <div><label for=\"in_reply_to\">{l_reply}</label><input id=\"in_reply_to\" name=\"in_reply_to\" value=\"{reply}\" dir=\"ltr\" aria-describedby=\"reply-hint\">\
         <p class=\"hint\" id=\"reply-hint\">{h_reply}</p></div>\
         <div><label for=\"case\">{l_case}</label><input id=\"case\" name=\"case\" value=\"{case}\" dir=\"auto\"></div>\
         </fieldset>\
         <fieldset><legend>{l_recipients}</legend>\
         <div class=\"choices\">{to_nodes}{to_networks}</div>\
         <div><label for=\"to_other\">{l_to_other}</label><input id=\"to_other\" name=\"to_other\" value=\"{to_other}\" dir=\"ltr\" aria-describedby=\"to-hint\">\
         <p class=\"hint\" id=\"to-hint\">{h_to}</p></div></fieldset>\
         <fieldset><legend>{l_handling}</legend>\
         <fieldset class=\"tlps\"><legend>{l_tlp}</legend>{tlp_radios}</fieldset>\
         <fieldset><legend>{l_release}</legend><div class=\"choices\">{rel_networks}</div>\
         <div><label for=\"release_other\">{l_release_other}</label><input id=\"release_other\" name=\"release_other\" value=\"{release_other}\" dir=\"ltr\" aria-describedby=\"release-hint\">\
         <p class=\"hint\" id=\"release-hint\">{h_release}</p></div></fieldset>\
         <div class=\"check\"><input type=\"checkbox\" id=\"originator_control\" name=\"originator_control\" value=\"1\"{oc}><label for=\"originator_control\">{l_oc}</label></div>\
         <div class=\"check\"><input type=\"checkbox\" id=\"h0\" name=\"h0\" value=\"1\"{h0}><label for=\"h0\">{l_h0}</label></div>\
         <div class=\"check\"><input type=\"checkbox\" id=\"h1\" name=\"h1\" value=\"1\"{h1}><label for=\"h1\">{l_h1}</label></div>\
         <div><label for=\"h3\">{l_h3}</label><input id=\"h3\" name=\"h3\" value=\"{h3}\" dir=\"auto\"></div>\
         <fieldset class=\"eval\"><legend>{l_eval}</legend>\
         <div><label for=\"eval_source\">{l_src}</label><select id=\"eval_source\" name=\"eval_source\">{sources}</select></div>\
         <div><label for=\"eval_info\">{l_info}</label><select id=\"eval_info\" name=\"eval_info\">{infos}</select></div></fieldset>\
         </fieldset>\
         <fieldset><legend>{l_content}</legend>\
         <div><label for=\"lang_text\">{l_lang}</label><select id=\"lang_text\" name=\"lang_text\">{langs}</select></div>\
         <div><label for=\"text\">{l_text}</label><textarea id=\"text\" name=\"text\" rows=\"8\" dir=\"auto\" required>{text}</textarea></div>\
         <div><label for=\"entities\">{l_entities}</label><textarea id=\"entities\" name=\"entities\" rows=\"4\" dir=\"ltr\" aria-describedby=\"entities-hint\">{entities}</textarea>\
         <p class=\"hint\" id=\"entities-hint\">{h_entities}</p></div></fieldset>\
         <div class=\"actions\"><button type=\"submit\" id=\"send\">{l_send}</button></div></form>",
        csrf = cx.csrf(),
        l_message = esc(&l.t("compose-message")),
        l_kind = esc(&l.t("field-kind")),
        kinds = options(&kinds, Some(kind)),
        l_urgency = esc(&l.t("field-urgency")),
        urgencies = options(&urgencies, f.get("urgency")),
        h_urgency = esc(&l.t("hint-urgency")),
        l_reply = esc(&l.t("field-in-reply-to")),
        reply = v("in_reply_to"),
        h_reply = esc(&l.t("hint-in-reply-to")),
        l_case = esc(&l.t("field-case")),
        case = v("case"),
        l_recipients = esc(&l.t("field-recipients")),
        to_nodes = checkboxes("to", "to-node", &nodes, &to),
        to_networks = checkboxes("to", "to-net", &networks, &to),
        l_to_other = esc(&l.t("field-to-other")),
        to_other = v("to_other"),
        h_to = esc(&l.t("hint-to-other")),
        l_handling = esc(&l.t("section-handling")),
        l_tlp = esc(&l.t("field-tlp")),
        l_release = esc(&l.t("field-releasability")),
        rel_networks = checkboxes("release", "rel", &networks, &release),
        l_release_other = esc(&l.t("field-release-other")),
        release_other = v("release_other"),
        h_release = esc(&l.t("hint-release")),
        oc = if f.checked("originator_control") { " checked" } else { "" },
        l_oc = esc(&l.t("field-originator-control")),
        h0 = if f.checked("h0") { " checked" } else { "" },
        l_h0 = esc(&l.t("field-h0")),
        h1 = if f.checked("h1") { " checked" } else { "" },
        l_h1 = esc(&l.t("field-h1")),
        l_h3 = esc(&l.t("field-h3")),
        h3 = v("h3"),
        l_eval = esc(&l.t("field-eval")),
        l_src = esc(&l.t("field-eval-source")),
        sources = options(&sources, Some(f.get("eval_source").unwrap_or("B"))),
        l_info = esc(&l.t("field-eval-info")),
        infos = options(&infos, Some(f.get("eval_info").unwrap_or("2"))),
        l_content = esc(&l.t("section-content")),
        l_lang = esc(&l.t("field-language")),
        langs = options(&langs, Some(f.get("lang_text").unwrap_or(ui_lang))),
        l_text = esc(&l.t("field-text")),
        l_entities = esc(&l.t("field-entities")),
        entities = v("entities"),
        h_entities = esc(&l.t("hint-entities")),
        l_send = esc(&l.t("send-button")),
    );
    cx.page(status, &l.t("compose-title"), Nav::Compose, &body)
}

/// `GET /console/compose`; 403 for roles that may not send (auditors).
pub async fn form(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    if let Err(e) = cx.principal().require(Action::Send) {
        return cx.api_error(&e);
    }
    let f = cx.query.clone();
    form_page(&cx, &api, &f, None, StatusCode::OK)
}

/// `POST /console/compose`: sends, then shows the new message; a refusal re-shows the form
/// as filled, with the reason.
pub async fn send(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Extension(f): Extension<FormData>,
) -> Response {
    let p = cx.principal();
    let req = request_of(&f);
    match handlers::send_as(&api, &p, &req).await {
        Ok(sent) => Redirect::to(&format!("/console/messages/{}?sent=1", sent.id)).into_response(),
        Err(e @ crate::api::ApiError::Forbidden { .. }) => cx.api_error(&e),
        Err(e) => {
            let msg = cx.refusal(&e);
            form_page(&cx, &api, &f, Some(msg), e.status())
        }
    }
}
