//! The inbox, message and status pages: the API's typed views, rendered.

use maud::{html, Markup};

use super::prelude::*;
use crate::api::handlers::{self, InboxQuery, MAX_LIMIT};
use crate::views::{EventView, Facts, HandlingView, InboxItem, MessageView, Trail};
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

    fn keeps(&self, item: &InboxItem) -> bool {
        let is = |want: &Option<String>, v: &str| want.as_deref().is_none_or(|w| w == v);
        let contains = |want: &Option<String>, v: &str| {
            want.as_deref()
                .is_none_or(|w| v.to_lowercase().contains(&w.to_lowercase()))
        };
        is(&self.kind, &item.kind)
            && is(&self.tlp, &item.tlp)
            && contains(&self.case, item.case.as_deref().unwrap_or(""))
            && (contains(&self.sender, item.from.as_deref().unwrap_or(""))
                || contains(&self.sender, &item.originator))
            && (!self.unread || !item.acked)
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
pub(super) async fn inbox(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    let l = cx.l;
    let q = InboxQuery {
        from: None,
        limit: Some(MAX_LIMIT),
        unread: false,
    };
    let items = match handlers::inbox_page(&api, &cx.principal(), q).await {
        Ok(page) => page.items,
        Err(e) => return cx.api_error(&e),
    };
    let filter = Filter::of(&cx.query);
    let mut senders: Vec<String> = items
        .iter()
        .map(|i| i.from.clone().unwrap_or_else(|| i.originator.clone()))
        .collect();
    senders.sort();
    senders.dedup();
    let total = items.len() as u64;
    let mut shown: Vec<&InboxItem> = items.iter().filter(|i| filter.keeps(i)).collect();
    // Unread first, then newest first.
    shown.sort_by_key(|i| (i.acked, std::cmp::Reverse(i.seq)));
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
    let unread = items.iter().filter(|i| !i.acked).count() as u64;
    let body = html! {
        p.summary {
            (l.ta("inbox-count", &[("n", Arg::Num(total))])) " · "
            (l.ta("inbox-unread", &[("n", Arg::Num(unread))]))
        }
        form.filters method="get" action="/console/inbox" role="search" aria-label=(l.t("filters")) {
            div {
                label for="f-kind" { (l.t("field-kind")) }
                select #f-kind name="kind" { (options(&kinds, filter.kind.as_deref())) }
            }
            div {
                label for="f-tlp" { (l.t("field-tlp")) }
                select #f-tlp name="tlp" { (options(&tlps, filter.tlp.as_deref())) }
            }
            div {
                label for="f-case" { (l.t("field-case")) }
                input #f-case name="case" value=(filter.case.as_deref().unwrap_or("")) dir="auto";
            }
            div {
                label for="f-sender" { (l.t("field-sender")) }
                select #f-sender name="sender" { (options(&sender_opts, filter.sender.as_deref())) }
            }
            div.check {
                input #f-unread type="checkbox" name="unread" value="1" checked[filter.unread];
                label for="f-unread" { (l.t("filter-unread")) }
            }
            div.actions {
                button type="submit" { (l.t("filter-apply")) } " "
                a href="/console/inbox" { (l.t("filter-clear")) }
            }
        }
        @if shown.is_empty() {
            p.empty { (l.t("inbox-empty")) }
        } @else {
            table.inbox {
                caption {
                    (l.ta("inbox-shown", &[("n", Arg::Num(shown.len() as u64)), ("total", Arg::Num(total))]))
                }
                thead { tr {
                    @for col in ["col-tlp", "col-state", "col-kind", "col-summary", "col-from", "col-case", "col-eval", "col-received"] {
                        th scope="col" { (l.t(col)) }
                    }
                } }
                tbody {
                    @for i in &shown {
                        (inbox_row(&cx, i, content))
                    }
                }
            }
        }
    };
    cx.page(StatusCode::OK, &l.t("inbox-title"), Nav::Inbox, body)
}

/// One inbox line.
fn inbox_row(cx: &Cx, i: &InboxItem, content: bool) -> Markup {
    let l = cx.l;
    let unread = !i.acked;
    html! {
        tr class=(if unread { "unread" } else { "read" }) {
            td { (tlp_badge(l, &i.tlp)) }
            td {
                @if unread { span.badge.new { (l.t("unread")) } } @else { (l.t("read")) }
            }
            td {
                (kind_name(cx, &i.kind))
                @if i.is_overdue() { " " span.badge.overdue { (l.t("overdue")) } }
                @if i.answered == Some(true) { " " span.badge { (l.t("request-answered")) } }
            }
            td {
                a href={ "/console/messages/" (i.id) } {
                    @if !content {
                        span.muted { (l.t("content-hidden")) }
                    } @else if let Some(t) = i.first_line().filter(|t| !t.is_empty()) {
                        span dir="auto" { (t) }
                    } @else {
                        span.muted { (l.t("no-text")) }
                    }
                }
            }
            td { (bdi(i.from.as_deref().unwrap_or(&i.originator))) }
            td {
                @if let Some(c) = &i.case {
                    @if content {
                        a href={ "/console/cases/" (c) } { (bdi(c)) }
                    } @else {
                        (bdi(c))
                    }
                }
            }
            td { (i.eval) }
            td { (time(l, &i.received_at)) }
        }
    }
}

/// A definition list row.
fn row(term: &str, value: Markup) -> Markup {
    html! { dt { (term) } dd { (value) } }
}

/// The evaluation with both halves explained.
fn evaluation(cx: &Cx, eval: &str) -> Markup {
    let mut chars = eval.chars();
    let (src, info) = (chars.next(), chars.next());
    let explain = |key: String| cx.l.t_or(&key, "");
    html! {
        strong.eval { (eval) } " "
        span.muted {
            (explain(format!("eval-source-{}", src.unwrap_or('X').to_ascii_lowercase())))
            " · "
            (explain(format!("eval-info-{}", info.unwrap_or('4'))))
        }
    }
}

/// The handling block: TLP banner, H-codes, releasability, evaluation.
fn handling(cx: &Cx, facts: &Facts, full: Option<&HandlingView>) -> Markup {
    let l = cx.l;
    let tlp = facts.tlp.as_str();
    let cls = super::html::tlp_class(tlp);
    let key = format!("tlp-meaning-{}", cls.trim_start_matches("tlp-"));
    html! {
        section class={ "handling " (cls) } aria-labelledby="h-handling" {
            h2 #h-handling { (l.t("section-handling")) }
            p.tlp-banner { span class={ "tlp " (cls) } { (tlp) } " " span { (l.t(&key)) } }
            dl {
                @if !facts.h_codes.is_empty() {
                    (row(&l.t("field-h-codes"), html! { strong { (facts.h_codes.join(" ")) } }))
                }
                @if let Some(h) = full {
                    @if h.h2_originator_control {
                        (row(&l.t("field-originator-control"), html! { (l.t("h2-meaning")) }))
                    }
                    @if let Some(r) = &h.h3_restrictions {
                        (row(&l.t("field-h3"), html! { span dir="auto" { (r) } }))
                    }
                }
                (row(&l.t("field-releasability"), bdi_list(&facts.releasability)))
                (row(&l.t("field-eval"), evaluation(cx, &facts.eval)))
            }
        }
    }
}

/// A log event in one line.
pub(crate) fn event_line(cx: &Cx, e: &EventView) -> Markup {
    let l = cx.l;
    let kind = e.name();
    let labelled = |label: &str, value: Markup| html! { " · " (l.t(label)) " " (value) };
    let text = |label: &str, v: &str| labelled(label, bdi(v));
    let list = |label: &str, v: &[String]| {
        if v.is_empty() {
            html! {}
        } else {
            labelled(label, bdi_list(v))
        }
    };
    let id = e.message().map(|m| m.id.as_str()).or(match e {
        EventView::Refused { id, .. } => id.as_deref(),
        EventView::RefusalReceived { id, .. }
        | EventView::Acknowledged { id, .. }
        | EventView::Purged { id, .. } => Some(id.as_str()),
        _ => None,
    });
    let status = |st: &str| {
        labelled(
            "event-status",
            html! { (l.t_or(&format!("outcome-{st}"), st)) },
        )
    };
    html! {
        strong { (l.t_or(&format!("event-{kind}"), kind)) }
        @if let Some(id) = id {
            " · " (l.t("event-message")) " "
            a href={ "/console/messages/" (id) } { code { (id[..id.len().min(12)]) } }
        }
        @match e {
            EventView::Sent { to, .. } => { (list("event-to", to)) }
            EventView::Received { from, .. } => { (text("event-from", from)) }
            EventView::Relayed { from, to, .. } => {
                (text("event-from", from)) (list("event-to", to))
            }
            EventView::Refused { peer, reason_code, .. } => {
                (text("event-peer", peer)) (text("event-reason", reason_code))
            }
            EventView::ReceiptSent { to, status: st, .. } => {
                (text("event-to", to)) (status(st))
            }
            EventView::ReceiptReceived { from, status: st, .. } => {
                (text("event-from", from)) (status(st))
            }
            EventView::RefusalReceived { from, reason_code, .. } => {
                (text("event-from", from)) (text("event-reason", reason_code))
            }
            EventView::Acknowledged { by, .. } => { (text("event-by", by)) }
            EventView::Admin { act, detail } => {
                (text("event-act", act))
                " · " span lang="en" dir="auto" { (detail) }
            }
            EventView::Purged { rule, .. } => { (text("event-rule", rule)) }
        }
    }
}

/// The delivery trail: log entries, hop receipts, pending hops.
fn trail(cx: &Cx, t: &Trail) -> Markup {
    let l = cx.l;
    html! {
        section aria-labelledby="h-trail" {
            h2 #h-trail { (l.t("section-trail")) }
            @if t.hops.is_empty() {
                p.muted { (l.t("trail-no-hops")) }
            } @else {
                table {
                    caption { (l.t("trail-hops")) }
                    thead { tr {
                        @for col in ["col-peer", "col-outcome", "col-at", "col-proof"] {
                            th scope="col" { (l.t(col)) }
                        }
                    } }
                    tbody {
                        @for h in &t.hops {
                            tr {
                                td { (bdi(&h.peer)) }
                                td { (l.t_or(&format!("outcome-{}", h.outcome), &h.outcome)) }
                                td { (time(l, &h.at)) }
                                td { code { (h.proof.chars().take(16).collect::<String>()) } }
                            }
                        }
                    }
                }
            }
            @if !t.pending.is_empty() {
                p { (l.t("trail-pending")) " " (bdi_list(&t.pending)) }
            }
            h3 { (l.t("trail-entries")) }
            ol.log {
                @for e in &t.entries {
                    li {
                        span.leaf { "#" (l.num(e.index)) } " " (time(l, &e.at)) " — "
                        (event_line(cx, &e.event))
                    }
                }
            }
        }
    }
}

/// The header block of a message: its facts, and with content its route and deadline.
fn header(cx: &Cx, t: &Trail, full: Option<&MessageView>) -> Markup {
    let l = cx.l;
    let facts = &t.message;
    html! {
        section aria-labelledby="h-header" {
            h2 #h-header { (l.t("section-header")) }
            dl.header {
                (row(&l.t("field-kind"), html! { (kind_name(cx, &facts.kind)) }))
                (row(&l.t("field-id"), html! { code { (facts.id) } }))
                (row(&l.t("field-originator"), bdi(&facts.originator)))
                (row(&l.t("field-recipients"), bdi_list(&facts.recipients)))
                (row(&l.t("field-created"), time(l, &facts.created_at)))
                @if let Some(c) = &facts.case {
                    (row(&l.t("field-case"), bdi(c)))
                }
                @if let Some(r) = &facts.in_reply_to {
                    (row(&l.t("field-in-reply-to"), html! {
                        a href={ "/console/messages/" (r) } { code { (r) } }
                    }))
                }
                (row(&l.t("field-role"), html! { (l.t_or(&format!("msg-role-{}", t.role), &t.role)) }))
                @if let Some(m) = full {
                    @if let Some(f) = &m.state.from {
                        (row(&l.t("field-from"), bdi(f)))
                    }
                    @if !m.state.route.is_empty() {
                        (row(&l.t("field-route"), bdi_list(&m.state.route)))
                    }
                    @if let Some(req) = &m.request {
                        (row(&l.t("field-reply-by"), html! {
                            (time(l, &req.reply_by))
                            " (" (l.t_or(&format!("urgency-{}", req.urgency), &req.urgency)) ")"
                            @if req.overdue { " " span.badge.overdue { (l.t("overdue")) } }
                            @if req.answered { " " span.badge { (l.t("request-answered")) } }
                        }))
                    }
                }
            }
        }
    }
}

/// The content block: the text as written, with its language, and its entities; a reason
/// for kinds without a payload.
fn content(cx: &Cx, m: &MessageView) -> Markup {
    let l = cx.l;
    html! {
        @if let Some(p) = m.payload() {
            section aria-labelledby="h-content" {
                h2 #h-content { (l.t("section-content")) }
                p.muted { (l.t("field-language")) " " code { (p.language) } }
                div.content lang=(p.language) dir="auto" { (p.text) }
                @if !p.entities.is_empty() {
                    table.entities {
                        caption { (l.t("section-entities")) }
                        thead { tr {
                            th scope="col" { (l.t("col-entity-type")) }
                            th scope="col" { (l.t("col-entity-value")) }
                        } }
                        tbody {
                            @for e in &p.entities {
                                tr {
                                    td { (l.t_or(&format!("entity-{}", e.kind), &e.kind)) }
                                    td dir="auto" { (e.value) }
                                }
                            }
                        }
                    }
                }
            }
        } @else if let Some(r) = &m.reason {
            section {
                h2 { (l.t("section-content")) }
                div.content dir="auto" { (r) }
            }
        }
        @if m.state.role == "delivered" && !m.state.acked && cx.may(Action::Ack) {
            form method="post" action={ "/console/messages/" (m.id) "/ack" } {
                (cx.csrf())
                button type="submit" { (l.t("ack-button")) }
            }
        }
    }
}

/// `GET /console/messages/{id}`: handling first, then header, content, entities, trail.
/// Auditors (no content) see the logged facts and the trail.
pub(super) async fn message(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Path(id): Path<String>,
) -> Response {
    message_page(&api, &cx, &id, None, StatusCode::OK).await
}

/// The message page, with `refused` (why an action on it was refused) above it.
pub(super) async fn message_page(
    api: &ApiState,
    cx: &Cx,
    id: &str,
    refused: Option<Markup>,
    status: StatusCode,
) -> Response {
    let (api, cx, id) = (api.clone(), cx.clone(), id.to_owned());
    let l = cx.l;
    let p = cx.principal();
    let t = match handlers::trail_of(&api, &p, &id).await {
        Ok(t) => t,
        Err(e) => return cx.api_error(&e),
    };
    let full = if cx.may(Action::ReadMessage) {
        match handlers::message(&api, &p, &id) {
            Ok(m) => Some(m),
            // Purged bodies still have a trail.
            Err(crate::api::ApiError::Purged(_)) => None,
            Err(e) => return cx.api_error(&e),
        }
    } else {
        None
    };
    let facts = &t.message;
    let body = html! {
        @if let Some(e) = &refused {
            div.error #message-error role="alert" { (e) }
        }
        @if cx.query.get("sent").is_some() {
            div.notice role="status" { p { (l.t("sent-notice")) } }
        }
        @if let Some(done) = cx.query.get("done").filter(|d| super::sharing::DONE.contains(d)) {
            div.notice role="status" { p { (l.t(&format!("done-{done}"))) } }
        }
        (handling(&cx, facts, full.as_ref().map(|m| &m.handling)))
        (header(&cx, &t, full.as_ref()))
        @match &full {
            Some(m) => { (content(&cx, m)) (super::sharing::forms(&cx, m)) }
            None => {
                p.muted {
                    (l.t(if cx.may(Action::ReadMessage) { "content-purged" } else { "content-hidden" }))
                }
            }
        }
        @if cx.may(Action::ReadLog) {
            p { a href={ "/console/log/proof?id=" (facts.id) } download { (l.t("proof-download")) } }
        }
        (trail(&cx, &t))
    };
    let title = l.ta(
        "message-title",
        &[("kind", Arg::Str(&kind_name(&cx, &facts.kind)))],
    );
    cx.page(status, &title, Nav::Inbox, body)
}

/// `POST /console/messages/{id}/ack`.
pub(super) async fn ack(
    State(api): State<ApiState>,
    Extension(cx): Extension<Cx>,
    Path(id): Path<String>,
) -> Response {
    match handlers::acknowledge(&api, &cx.principal(), &id).await {
        Ok(_) => Redirect::to(&format!("/console/messages/{id}")).into_response(),
        Err(e) => cx.api_error(&e),
    }
}

/// `GET /console/status`: peers, outbox depth, last checkpoint, alarms.
pub(super) async fn status(State(api): State<ApiState>, Extension(cx): Extension<Cx>) -> Response {
    let l = cx.l;
    let st = match handlers::status_of(&api, &cx.principal()) {
        Ok(st) => st,
        Err(e) => return cx.api_error(&e),
    };
    let retention = super::sharing::retention(&api, &cx).await;
    let num = |n: u64| html! { (l.num(n)) };
    let body = html! {
        section aria-labelledby="h-alarms" {
            h2 #h-alarms { (l.t("section-alarms")) }
            @if st.alarms.is_empty() {
                p.ok { (l.t("alarms-none")) }
            } @else {
                ul.alarms role="alert" {
                    @for a in &st.alarms {
                        li lang="en" dir="auto" {
                            code { (a.code) } " " (a.text)
                            @if a.count > 1 { " (×" (l.num(a.count)) ")" }
                        }
                    }
                }
            }
        }
        @if !st.case_gaps.is_empty() {
            section aria-labelledby="h-case-gaps" {
                h2 #h-case-gaps { (l.t("section-case-gaps")) }
                ul.case-gaps {
                    @for g in &st.case_gaps {
                        li {
                            a href={ "/console/cases/" (g.case) } { (bdi(&g.case)) } " · "
                            (super::html::time(l, &g.at)) " · "
                            (l.t("case-not-yet-received")) " "
                            @for (i, n) in g.waiting.iter().enumerate() {
                                @if i > 0 { ", " }
                                (bdi(n))
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-node" {
            h2 #h-node { (l.t("section-node")) }
            dl {
                (row(&l.t("field-node"), bdi(&st.node)))
                (row(&l.t("field-listen"), html! { code { (st.listen) } }))
                (row(&l.t("field-log-size"), num(st.log_size)))
                (row(&l.t("field-log-root"), html! { code { (st.log_root) } }))
                (row(&l.t("field-unread"), num(st.unread)))
                (row(&l.t("field-disk"), html! { (l.ta("bytes", &[("n", Arg::Num(st.disk_bytes))])) }))
            }
        }
        @if !st.expiries.is_empty() {
            section aria-labelledby="h-expiries" {
                h2 #h-expiries { (l.t("section-expiries")) }
                table {
                    thead { tr {
                        @for col in ["col-expiry-what", "col-expiry-at", "col-days-left"] {
                            th scope="col" { (l.t(col)) }
                        }
                    } }
                    tbody {
                        @for e in &st.expiries {
                            tr class=[(e.days_left < 30).then_some("warn")] {
                                td lang="en" dir="auto" { (bdi(&e.what)) }
                                td { (super::html::time(l, &e.at)) }
                                td { @if e.days_left < 0 { (l.t("expired")) } @else { (l.num(e.days_left as u64)) } }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-peers" {
            h2 #h-peers { (l.t("section-peers")) }
            table {
                thead { tr {
                    @for col in ["col-peer", "col-address", "col-session", "col-since", "col-outbox", "col-sent", "col-receipts", "col-last-error"] {
                        th scope="col" { (l.t(col)) }
                    }
                } }
                tbody {
                    @for p in &st.peers {
                        @let up = p.connected;
                        tr {
                            td { (bdi(&p.node)) }
                            td { code { (p.address) } }
                            td { span class={ "badge " (if up { "up" } else { "down" }) } { (l.t(if up { "peer-up" } else { "peer-down" })) } }
                            td { @if let Some(t) = p.since { (time(l, &liaison_protocol::Timestamp(t).to_rfc3339())) } }
                            td { (num(p.outbox)) }
                            td { (num(p.sent)) }
                            td { (num(p.receipts)) }
                            td lang="en" dir="auto" { (p.last_error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-checkpoint" {
            h2 #h-checkpoint { (l.t("section-checkpoint")) }
            @match &st.last_checkpoint {
                Some(note) => { pre.note dir="ltr" { (note) } }
                None => { p.muted { (l.t("no-checkpoint")) } }
            }
        }
        (retention)
    };
    cx.page(StatusCode::OK, &l.t("status-title"), Nav::Status, body)
}
