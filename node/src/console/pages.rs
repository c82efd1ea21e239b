//! The inbox, message and status pages: the JSON API's handlers, rendered.

use axum::extract::Query;

use super::prelude::*;
use crate::api::handlers::{self, InboxQuery, MAX_LIMIT};
use liaison_protocol::message::{ContentKind, ControlKind};

/// Inbox filters, from the query.
struct Filter {
    kind: Option<String>,
    tlp: Option<String>,
    case: Option<String>,
    sender: Option<String>,
    unread: bool,
}

impl Filter {
    fn of(q: &FormData) -> Self {
        Self {
            kind: q.get("kind").map(str::to_owned),
            tlp: q.get("tlp").map(str::to_owned),
            case: q.get("case").map(str::to_owned),
            sender: q.get("sender").map(str::to_owned),
            unread: q.checked("unread"),
        }
    }

    fn keeps(&self, item: &Value) -> bool {
        let is = |want: &Option<String>, v: &str| want.as_deref().is_none_or(|w| w == v);
        let contains = |want: &Option<String>, v: &str| {
            want.as_deref()
                .is_none_or(|w| v.to_lowercase().contains(&w.to_lowercase()))
        };
        is(&self.kind, s(&item["kind"]))
            && is(&self.tlp, s(&item["tlp"]))
            && contains(&self.case, s(&item["case"]))
            && (contains(&self.sender, s(&item["from"]))
                || contains(&self.sender, s(&item["originator"])))
            && (!self.unread || item["acked"] != Value::Bool(true))
    }
}

/// Kinds a filter offers besides the content kinds the inbox shows
/// ([`crate::kinds::content_in_inbox`]).
const OTHER_KINDS: [ControlKind; 1] = [ControlKind::Share];
/// TLP labels, least restrictive first.
pub(crate) const TLPS: [&str; 5] = [
    "TLP:CLEAR",
    "TLP:GREEN",
    "TLP:AMBER",
    "TLP:AMBER+STRICT",
    "TLP:RED",
];

/// A kind's translated name (the raw name for kinds the catalogue does not know).
pub(crate) fn kind_name(cx: &Cx, kind: &str) -> String {
    cx.l.t_or(&format!("kind-{kind}"), kind)
}

/// `GET /console/inbox`: unread first, newest first; filters by kind, TLP, case, sender.
pub async fn inbox(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    let l = cx.l;
    let q = InboxQuery {
        from: None,
        limit: Some(MAX_LIMIT),
        unread: false,
    };
    let listed = handlers::inbox(State(api), Extension(cx.principal()), Ok(Query(q))).await;
    let items = match listed {
        Ok(axum::Json(v)) => v["items"].as_array().cloned().unwrap_or_default(),
        Err(e) => return cx.api_error(&e),
    };
    let filter = Filter::of(&cx.query);
    let mut senders: Vec<String> = items
        .iter()
        .filter_map(|i| i["from"].as_str().or(i["originator"].as_str()))
        .map(str::to_owned)
        .collect();
    senders.sort();
    senders.dedup();
    let total = items.len() as u64;
    let mut shown: Vec<&Value> = items.iter().filter(|i| filter.keeps(i)).collect();
    // Unread first, then newest first.
    shown.sort_by_key(|i| {
        (
            i["acked"] == Value::Bool(true),
            std::cmp::Reverse(i["seq"].as_u64()),
        )
    });
    let content = cx.may(Action::ReadMessage);

    let any = |label: &str| vec![(String::new(), label.to_owned())];
    let mut kinds = any(&l.t("filter-any"));
    let shown_kinds = ContentKind::ALL
        .into_iter()
        .filter(|k| crate::kinds::content_in_inbox(*k))
        .map(ContentKind::as_str);
    kinds.extend(
        shown_kinds
            .chain(OTHER_KINDS.map(ControlKind::as_str))
            .map(|k| (k.to_owned(), kind_name(&cx, k))),
    );
    let mut tlps = any(&l.t("filter-any"));
    tlps.extend(TLPS.iter().map(|t| (t.to_string(), t.to_string())));
    let mut sender_opts = any(&l.t("filter-any"));
    sender_opts.extend(senders.iter().map(|n| (n.clone(), n.clone())));
    let filters = format!(
        "<form method=\"get\" action=\"/console/inbox\" class=\"filters\" role=\"search\" aria-label=\"{}\">\
         <div><label for=\"f-kind\">{}</label><select id=\"f-kind\" name=\"kind\">{}</select></div>\
         <div><label for=\"f-tlp\">{}</label><select id=\"f-tlp\" name=\"tlp\">{}</select></div>\
         <div><label for=\"f-case\">{}</label><input id=\"f-case\" name=\"case\" value=\"{}\" dir=\"auto\"></div>\
         <div><label for=\"f-sender\">{}</label><select id=\"f-sender\" name=\"sender\">{}</select></div>\
         <div class=\"check\"><input type=\"checkbox\" id=\"f-unread\" name=\"unread\" value=\"1\"{}><label for=\"f-unread\">{}</label></div>\
         <div class=\"actions\"><button type=\"submit\">{}</button> <a href=\"/console/inbox\">{}</a></div></form>",
        esc(&l.t("filters")),
        esc(&l.t("field-kind")),
        options(&kinds, filter.kind.as_deref()),
        esc(&l.t("field-tlp")),
        options(&tlps, filter.tlp.as_deref()),
        esc(&l.t("field-case")),
        esc(filter.case.as_deref().unwrap_or("")),
        esc(&l.t("field-sender")),
        options(&sender_opts, filter.sender.as_deref()),
        if filter.unread { " checked" } else { "" },
        esc(&l.t("filter-unread")),
        esc(&l.t("filter-apply")),
        esc(&l.t("filter-clear")),
    );
    let mut rows = String::new();
    for i in &shown {
        let id = s(&i["id"]);
        let unread = i["acked"] != Value::Bool(true);
        let summary = if content {
            match i["first_line"].as_str() {
                Some(t) if !t.is_empty() => format!("<span dir=\"auto\">{}</span>", esc(t)),
                _ => format!("<span class=\"muted\">{}</span>", esc(&l.t("no-text"))),
            }
        } else {
            format!(
                "<span class=\"muted\">{}</span>",
                esc(&l.t("content-hidden"))
            )
        };
        let overdue = if i["overdue"] == Value::Bool(true) {
            format!(
                " <span class=\"badge overdue\">{}</span>",
                esc(&l.t("overdue"))
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr class=\"{cls}\"><td>{tlp}</td><td>{state}</td><td>{kind}{overdue}</td>\
             <td><a href=\"/console/messages/{id}\">{summary}</a></td><td>{from}</td><td>{case}</td>\
             <td>{eval}</td><td>{at}</td></tr>",
            cls = if unread { "unread" } else { "read" },
            tlp = tlp_badge(l, s(&i["tlp"])),
            state = if unread {
                format!("<span class=\"badge new\">{}</span>", esc(&l.t("unread")))
            } else {
                esc(&l.t("read"))
            },
            kind = esc(&kind_name(&cx, s(&i["kind"]))),
            id = esc(id),
            from = bdi(i["from"].as_str().unwrap_or(s(&i["originator"]))),
            case = i["case"]
                .as_str()
                .map(|c| if content {
                    format!("<a href=\"/console/cases/{}\">{}</a>", esc(c), bdi(c))
                } else {
                    bdi(c)
                })
                .unwrap_or_default(),
            eval = esc(s(&i["eval"])),
            at = time(l, s(&i["received_at"])),
        ));
    }
    let table = if shown.is_empty() {
        format!("<p class=\"empty\">{}</p>", esc(&l.t("inbox-empty")))
    } else {
        format!(
            "<table class=\"inbox\"><caption>{}</caption><thead><tr>\
             <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
             <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
             </tr></thead><tbody>{rows}</tbody></table>",
            esc(&l.ta(
                "inbox-shown",
                &[("n", Arg::Num(shown.len() as u64)), ("total", Arg::Num(total))]
            )),
            esc(&l.t("col-tlp")),
            esc(&l.t("col-state")),
            esc(&l.t("col-kind")),
            esc(&l.t("col-summary")),
            esc(&l.t("col-from")),
            esc(&l.t("col-case")),
            esc(&l.t("col-eval")),
            esc(&l.t("col-received")),
        )
    };
    let unread = items
        .iter()
        .filter(|i| i["acked"] != Value::Bool(true))
        .count() as u64;
    let body = format!(
        "<p class=\"summary\">{} · {}</p>{filters}{table}",
        esc(&l.ta("inbox-count", &[("n", Arg::Num(total))])),
        esc(&l.ta("inbox-unread", &[("n", Arg::Num(unread))])),
    );
    cx.page(StatusCode::OK, &l.t("inbox-title"), Nav::Inbox, &body)
}

/// A definition list row.
fn row(term: &str, value: &str) -> String {
    format!("<dt>{}</dt><dd>{value}</dd>", esc(term))
}

fn nodes_list(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(|n| bdi(s(n))).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

/// The evaluation with both halves explained.
fn evaluation(cx: &Cx, eval: &str) -> String {
    let mut chars = eval.chars();
    let (src, info) = (chars.next(), chars.next());
    let explain = |key: String| cx.l.t_or(&key, "");
    format!(
        "<strong class=\"eval\">{}</strong> <span class=\"muted\">{} · {}</span>",
        esc(eval),
        esc(&explain(format!(
            "eval-source-{}",
            src.unwrap_or('X').to_ascii_lowercase()
        ))),
        esc(&explain(format!("eval-info-{}", info.unwrap_or('4')))),
    )
}

/// The handling block: TLP banner, H-codes, releasability, evaluation.
fn handling(cx: &Cx, facts: &Value, full: Option<&Value>) -> String {
    let l = cx.l;
    let tlp = s(&facts["tlp"]);
    let key = format!(
        "tlp-meaning-{}",
        super::html::tlp_class(tlp).trim_start_matches("tlp-")
    );
    let codes = facts["h_codes"]
        .as_array()
        .map(|a| a.iter().map(|c| esc(s(c))).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let mut rows = String::new();
    if !codes.is_empty() {
        rows.push_str(&row(
            &l.t("field-h-codes"),
            &format!("<strong>{codes}</strong>"),
        ));
    }
    if let Some(h) = full {
        if h["h2_originator_control"] == Value::Bool(true) {
            rows.push_str(&row(
                &l.t("field-originator-control"),
                &esc(&l.t("h2-meaning")),
            ));
        }
        if let Some(r) = h["h3_restrictions"].as_str() {
            rows.push_str(&row(
                &l.t("field-h3"),
                &format!("<span dir=\"auto\">{}</span>", esc(r)),
            ));
        }
    }
    rows.push_str(&row(
        &l.t("field-releasability"),
        &nodes_list(&facts["releasability"]),
    ));
    rows.push_str(&row(&l.t("field-eval"), &evaluation(cx, s(&facts["eval"]))));
    format!(
        "<section class=\"handling {cls}\" aria-labelledby=\"h-handling\">\
         <h2 id=\"h-handling\">{title}</h2>\
         <p class=\"tlp-banner\"><span class=\"tlp {cls}\">{label}</span> <span>{meaning}</span></p>\
         <dl>{rows}</dl></section>",
        cls = super::html::tlp_class(tlp),
        title = esc(&l.t("section-handling")),
        label = esc(tlp),
        meaning = esc(&l.t(&key)),
    )
}

/// A log event in one line.
pub(crate) fn event_line(cx: &Cx, e: &Value) -> String {
    let l = cx.l;
    let kind = s(&e["type"]);
    let mut parts = vec![format!(
        "<strong>{}</strong>",
        esc(&l.t_or(&format!("event-{kind}"), kind))
    )];
    let field = |key: &str, label: &str, parts: &mut Vec<String>| {
        let v = &e[key];
        let text = match v {
            Value::String(t) => bdi(t),
            Value::Array(_) => nodes_list(v),
            Value::Number(n) => esc(&n.to_string()),
            _ => return,
        };
        if !text.is_empty() {
            parts.push(format!("{} {text}", esc(&l.t(label))));
        }
    };
    if let Some(id) = e["message"]["id"].as_str().or(e["id"].as_str()) {
        parts.push(format!(
            "{} <a href=\"/console/messages/{id}\"><code>{}</code></a>",
            esc(&l.t("event-message")),
            esc(&id[..id.len().min(12)]),
            id = esc(id)
        ));
    }
    field("from", "event-from", &mut parts);
    field("to", "event-to", &mut parts);
    field("peer", "event-peer", &mut parts);
    if let Some(st) = e["status"].as_str() {
        parts.push(format!(
            "{} {}",
            esc(&l.t("event-status")),
            esc(&l.t_or(&format!("outcome-{st}"), st))
        ));
    }
    field("reason_code", "event-reason", &mut parts);
    field("by", "event-by", &mut parts);
    field("act", "event-act", &mut parts);
    field("rule", "event-rule", &mut parts);
    if let Some(d) = e["detail"].as_str() {
        parts.push(format!("<span lang=\"en\" dir=\"auto\">{}</span>", esc(d)));
    }
    parts.join(" · ")
}

/// The delivery trail: log entries, hop receipts, pending hops.
fn trail(cx: &Cx, t: &Value) -> String {
    let l = cx.l;
    let entries: String = t["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "<li><span class=\"leaf\">#{}</span> {} — {}</li>",
                esc(&l.num(e["index"].as_u64().unwrap_or(0))),
                time(l, s(&e["at"])),
                event_line(cx, &e["event"])
            )
        })
        .collect();
    let hops: String = t["hops"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                bdi(s(&h["peer"])),
                esc(&l.t_or(&format!("outcome-{}", s(&h["outcome"])), s(&h["outcome"]))),
                time(l, s(&h["at"])),
                esc(&s(&h["proof"]).chars().take(16).collect::<String>()),
            )
        })
        .collect();
    let hops = if hops.is_empty() {
        format!("<p class=\"muted\">{}</p>", esc(&l.t("trail-no-hops")))
    } else {
        format!(
            "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
             <th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>{hops}</tbody></table>",
            esc(&l.t("trail-hops")),
            esc(&l.t("col-peer")),
            esc(&l.t("col-outcome")),
            esc(&l.t("col-at")),
            esc(&l.t("col-proof")),
        )
    };
    let pending = t["pending"]
        .as_array()
        .filter(|a| !a.is_empty())
        .map(|_| {
            format!(
                "<p>{} {}</p>",
                esc(&l.t("trail-pending")),
                nodes_list(&t["pending"])
            )
        })
        .unwrap_or_default();
    format!(
        "<section aria-labelledby=\"h-trail\"><h2 id=\"h-trail\">{}</h2>{hops}{pending}\
         <h3>{}</h3><ol class=\"log\">{entries}</ol></section>",
        esc(&l.t("section-trail")),
        esc(&l.t("trail-entries")),
    )
}

/// `GET /console/messages/{id}`: handling first, then header, content, entities, trail.
/// Auditors (no content) see the logged facts and the trail.
pub async fn message(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Path(id): Path<String>,
) -> Response {
    let l = cx.l;
    let p = cx.principal();
    let t = match handlers::trail(State(api.clone()), Extension(p.clone()), Path(id.clone())).await
    {
        Ok(axum::Json(t)) => t,
        Err(e) => return cx.api_error(&e),
    };
    let full = if cx.may(Action::ReadMessage) {
        match handlers::show(State(api), Extension(p), Path(id.clone())).await {
            Ok(axum::Json(m)) => Some(m),
            // Purged bodies still have a trail.
            Err(crate::api::ApiError::Purged(_)) => None,
            Err(e) => return cx.api_error(&e),
        }
    } else {
        None
    };
    let facts = &t["message"];
    let mut out = String::new();
    if cx.query.get("sent").is_some() {
        out.push_str(&format!(
            "<div class=\"notice\" role=\"status\"><p>{}</p></div>",
            esc(&l.t("sent-notice"))
        ));
    }
    out.push_str(&handling(&cx, facts, full.as_ref().map(|m| &m["handling"])));

    // Header.
    let mut hdr = String::new();
    hdr.push_str(&row(
        &l.t("field-kind"),
        &esc(&kind_name(&cx, s(&facts["kind"]))),
    ));
    hdr.push_str(&row(
        &l.t("field-id"),
        &format!("<code>{}</code>", esc(s(&facts["id"]))),
    ));
    hdr.push_str(&row(
        &l.t("field-originator"),
        &bdi(s(&facts["originator"])),
    ));
    hdr.push_str(&row(
        &l.t("field-recipients"),
        &nodes_list(&facts["recipients"]),
    ));
    hdr.push_str(&row(
        &l.t("field-created"),
        &time(l, s(&facts["created_at"])),
    ));
    if let Some(c) = facts["case"].as_str() {
        hdr.push_str(&row(&l.t("field-case"), &bdi(c)));
    }
    if let Some(r) = facts["in_reply_to"].as_str() {
        hdr.push_str(&row(
            &l.t("field-in-reply-to"),
            &format!(
                "<a href=\"/console/messages/{r}\"><code>{r}</code></a>",
                r = esc(r)
            ),
        ));
    }
    hdr.push_str(&row(
        &l.t("field-role"),
        &esc(&l.t_or(&format!("msg-role-{}", s(&t["role"])), s(&t["role"]))),
    ));
    if let Some(m) = &full {
        let st = &m["state"];
        if let Some(f) = st["from"].as_str() {
            hdr.push_str(&row(&l.t("field-from"), &bdi(f)));
        }
        if st["route"].as_array().is_some_and(|r| !r.is_empty()) {
            hdr.push_str(&row(&l.t("field-route"), &nodes_list(&st["route"])));
        }
        if let Some(req) = m.get("request") {
            hdr.push_str(&row(
                &l.t("field-reply-by"),
                &format!(
                    "{} ({}){}",
                    time(l, s(&req["reply_by"])),
                    esc(&l.t_or(
                        &format!("urgency-{}", s(&req["urgency"])),
                        s(&req["urgency"])
                    )),
                    if req["overdue"] == Value::Bool(true) {
                        format!(
                            " <span class=\"badge overdue\">{}</span>",
                            esc(&l.t("overdue"))
                        )
                    } else {
                        String::new()
                    }
                ),
            ));
        }
    }
    out.push_str(&format!(
        "<section aria-labelledby=\"h-header\"><h2 id=\"h-header\">{}</h2><dl class=\"header\">{hdr}</dl></section>",
        esc(&l.t("section-header"))
    ));

    // Content, as written, with its language.
    match &full {
        Some(m) => {
            let payload = &m["payload"];
            if payload.is_object() {
                let lang = s(&payload["language"]);
                out.push_str(&format!(
                    "<section aria-labelledby=\"h-content\"><h2 id=\"h-content\">{}</h2>\
                     <p class=\"muted\">{} <code>{}</code></p>\
                     <div class=\"content\" lang=\"{}\" dir=\"auto\">{}</div>",
                    esc(&l.t("section-content")),
                    esc(&l.t("field-language")),
                    esc(lang),
                    esc(lang),
                    esc(s(&payload["text"])),
                ));
                let ents: String = payload["entities"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        format!(
                            "<tr><td>{}</td><td dir=\"auto\">{}</td></tr>",
                            esc(&l.t_or(&format!("entity-{}", s(&e["type"])), s(&e["type"]))),
                            esc(s(&e["value"]))
                        )
                    })
                    .collect();
                if !ents.is_empty() {
                    out.push_str(&format!(
                        "<table class=\"entities\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>{ents}</tbody></table>",
                        esc(&l.t("section-entities")),
                        esc(&l.t("col-entity-type")),
                        esc(&l.t("col-entity-value")),
                    ));
                }
                out.push_str("</section>");
            } else if let Some(r) = m["reason"].as_str() {
                out.push_str(&format!(
                    "<section><h2>{}</h2><div class=\"content\" dir=\"auto\">{}</div></section>",
                    esc(&l.t("section-content")),
                    esc(r)
                ));
            }
            let st = &m["state"];
            if s(&st["role"]) == "delivered"
                && st["acked"] != Value::Bool(true)
                && cx.may(Action::Ack)
            {
                out.push_str(&format!(
                    "<form method=\"post\" action=\"/console/messages/{}/ack\">{}<button type=\"submit\">{}</button></form>",
                    esc(s(&facts["id"])),
                    cx.csrf(),
                    esc(&l.t("ack-button"))
                ));
            }
        }
        None => out.push_str(&format!(
            "<p class=\"muted\">{}</p>",
            esc(&l.t(if cx.may(Action::ReadMessage) {
                "content-purged"
            } else {
                "content-hidden"
            }))
        )),
    }
    if cx.may(Action::ReadLog) {
        out.push_str(&format!(
            "<p><a href=\"/console/log/proof?id={}\" download>{}</a></p>",
            esc(s(&facts["id"])),
            esc(&l.t("proof-download"))
        ));
    }
    out.push_str(&trail(&cx, &t));
    let title = l.ta(
        "message-title",
        &[("kind", Arg::Str(&kind_name(&cx, s(&facts["kind"]))))],
    );
    cx.page(StatusCode::OK, &title, Nav::Inbox, &out)
}

/// `POST /console/messages/{id}/ack`.
pub async fn ack(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Path(id): Path<String>,
) -> Response {
    match handlers::ack(State(api), Extension(cx.principal()), Path(id.clone())).await {
        Ok(_) => Redirect::to(&format!("/console/messages/{id}")).into_response(),
        Err(e) => cx.api_error(&e),
    }
}

/// `GET /console/status`: peers, outbox depth, last checkpoint, alarms.
pub async fn status(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    let l = cx.l;
    let st = match handlers::status(State(api), Extension(cx.principal())).await {
        Ok(axum::Json(v)) => v,
        Err(e) => return cx.api_error(&e),
    };
    let num = |v: &Value| esc(&l.num(v.as_u64().unwrap_or(0)));
    let alarms: Vec<&Value> = st["alarms"].as_array().into_iter().flatten().collect();
    let alarms = if alarms.is_empty() {
        format!("<p class=\"ok\">{}</p>", esc(&l.t("alarms-none")))
    } else {
        format!(
            "<ul class=\"alarms\" role=\"alert\">{}</ul>",
            alarms
                .iter()
                .map(|a| {
                    let count = a["count"].as_u64().unwrap_or(1);
                    format!(
                        "<li lang=\"en\" dir=\"auto\"><code>{}</code> {}{}</li>",
                        esc(s(&a["code"])),
                        esc(s(&a["text"])),
                        if count > 1 {
                            format!(" (×{})", esc(&l.num(count)))
                        } else {
                            String::new()
                        }
                    )
                })
                .collect::<String>()
        )
    };
    let peers: String = st["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let up = p["connected"] == Value::Bool(true);
            format!(
                "<tr><td>{}</td><td><code>{}</code></td><td><span class=\"badge {}\">{}</span></td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td lang=\"en\" dir=\"auto\">{}</td></tr>",
                bdi(s(&p["node"])),
                esc(s(&p["address"])),
                if up { "up" } else { "down" },
                esc(&l.t(if up { "peer-up" } else { "peer-down" })),
                p["since"].as_str().map(|t| time(l, t)).unwrap_or_default(),
                num(&p["outbox"]),
                num(&p["sent"]),
                num(&p["receipts"]),
                esc(p["last_error"].as_str().unwrap_or("")),
            )
        })
        .collect();
    let checkpoint = match st["last_checkpoint"].as_str() {
        Some(note) => format!("<pre class=\"note\" dir=\"ltr\">{}</pre>", esc(note)),
        None => format!("<p class=\"muted\">{}</p>", esc(&l.t("no-checkpoint"))),
    };
    let body = format!(
        "<section aria-labelledby=\"h-alarms\"><h2 id=\"h-alarms\">{}</h2>{alarms}</section>\
         <section aria-labelledby=\"h-node\"><h2 id=\"h-node\">{}</h2><dl>{}{}{}{}{}{}</dl></section>\
         <section aria-labelledby=\"h-peers\"><h2 id=\"h-peers\">{}</h2>\
         <table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>{peers}</tbody></table></section>\
         <section aria-labelledby=\"h-checkpoint\"><h2 id=\"h-checkpoint\">{}</h2>{checkpoint}</section>",
        esc(&l.t("section-alarms")),
        esc(&l.t("section-node")),
        row(&l.t("field-node"), &bdi(s(&st["node"]))),
        row(&l.t("field-listen"), &format!("<code>{}</code>", esc(s(&st["listen"])))),
        row(&l.t("field-log-size"), &num(&st["log_size"])),
        row(&l.t("field-log-root"), &format!("<code>{}</code>", esc(s(&st["log_root"])))),
        row(&l.t("field-unread"), &num(&st["unread"])),
        row(
            &l.t("field-disk"),
            &esc(&l.ta("bytes", &[("n", Arg::Num(st["disk_bytes"].as_u64().unwrap_or(0)))]))
        ),
        esc(&l.t("section-peers")),
        esc(&l.t("col-peer")),
        esc(&l.t("col-address")),
        esc(&l.t("col-session")),
        esc(&l.t("col-since")),
        esc(&l.t("col-outbox")),
        esc(&l.t("col-sent")),
        esc(&l.t("col-receipts")),
        esc(&l.t("col-last-error")),
        esc(&l.t("section-checkpoint")),
    );
    cx.page(StatusCode::OK, &l.t("status-title"), Nav::Status, &body)
}
