//! The JSON the API returns: messages, inbox lines, log events and trails, in human forms
//! (hex ids, RFC 3339 times, `TLP:AMBER`, `B2`, `network:gulf`).
//!
//! Payload content (text, entities, attachments) appears only in [`message`] and
//! [`inbox_item`] when the caller may read it; log events never carry content, because the
//! log holds commitments only (DESIGN.md promise 7).

use liaison_protocol::entity::DocumentKind;
use liaison_protocol::log::{Event, LogEntry, MessageFacts};
use liaison_protocol::message::{Body, Kind, ReceiptStatus, Urgency};
use liaison_protocol::{Entity, MessageId, NodeId, Payload, Timestamp};
use serde_json::{json, Value};

use crate::store::{HopRecord, MessageState, Role};

fn ts(t: Timestamp) -> String {
    t.to_rfc3339()
}

fn nodes(list: &[NodeId]) -> Vec<&str> {
    list.iter().map(NodeId::as_str).collect()
}

fn ids(list: &[MessageId]) -> Vec<String> {
    list.iter().map(MessageId::to_string).collect()
}

fn strings<T: ToString>(list: &[T]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// What this node did with a message.
pub fn role(r: Role) -> &'static str {
    match r {
        Role::Originated => "originated",
        Role::Delivered => "delivered",
        Role::Relayed => "relayed",
    }
}

/// A receipt's status as written in views and exports.
pub fn receipt_status(s: ReceiptStatus) -> &'static str {
    s.name()
}

fn urgency(u: Urgency) -> &'static str {
    match u {
        Urgency::Urgent => "urgent",
        Urgency::ThreeDays => "three-days",
        Urgency::SevenDays => "seven-days",
    }
}

/// A message's logged facts (no content).
pub fn facts(f: &MessageFacts) -> Value {
    json!({
        "id": f.id.to_string(),
        "kind": f.kind,
        "originator": f.originator.as_str(),
        "recipients": strings(&f.recipients),
        "created_at": ts(f.created_at),
        "case": f.case.as_ref().map(|c| c.as_str()),
        "in_reply_to": f.in_reply_to.map(|i| i.to_string()),
        "tlp": f.tlp.label(),
        "h_codes": f.eu_codes,
        "releasability": strings(&f.releasability),
        "eval": f.evaluation.to_string(),
    })
}

/// A log event. With `about`, batch receipts show how many messages they cover instead of
/// listing every id (a trail is about one message).
pub fn event(e: &Event, about: Option<&MessageId>) -> Value {
    let covered = |list: &[MessageId]| -> Value {
        match about {
            Some(_) => json!(list.len()),
            None => json!(ids(list)),
        }
    };
    match e {
        Event::Sent { msg, to } => json!({
            "type": e.name(), "message": facts(msg), "to": nodes(to),
        }),
        Event::Received { msg, from, route } => json!({
            "type": e.name(), "message": facts(msg), "from": from.as_str(), "route": nodes(route),
        }),
        Event::Relayed { msg, from, to } => json!({
            "type": e.name(), "message": facts(msg), "from": from.as_str(), "to": nodes(to),
        }),
        Event::Refused {
            id,
            msg,
            peer,
            reason_code,
        } => json!({
            "type": e.name(),
            "id": id.map(|i| i.to_string()),
            "message": msg.as_ref().map(facts),
            "peer": peer.as_str(),
            "reason_code": reason_code,
        }),
        Event::ReceiptSent {
            receipt,
            to,
            status,
            ids,
        } => json!({
            "type": e.name(),
            "receipt": receipt.to_string(),
            "to": to.as_str(),
            "status": receipt_status(*status),
            "ids": covered(ids),
        }),
        Event::ReceiptReceived {
            receipt,
            from,
            status,
            ids,
        } => json!({
            "type": e.name(),
            "receipt": receipt.to_string(),
            "from": from.as_str(),
            "status": receipt_status(*status),
            "ids": covered(ids),
        }),
        Event::RefusalReceived {
            refusal,
            id,
            from,
            reason_code,
        } => json!({
            "type": e.name(),
            "refusal": refusal.to_string(),
            "id": id.to_string(),
            "from": from.as_str(),
            "reason_code": reason_code,
        }),
        Event::Acknowledged { id, by } => json!({
            "type": e.name(), "id": id.to_string(), "by": by,
        }),
        Event::Admin { act, detail } => json!({
            "type": e.name(), "act": act, "detail": detail,
        }),
        Event::Purged { id, rule } => json!({
            "type": e.name(), "id": id.to_string(), "rule": rule,
        }),
    }
}

/// One log entry with its index.
pub fn log_entry(index: u64, entry: &LogEntry, about: Option<&MessageId>) -> Value {
    json!({
        "index": index,
        "at": ts(entry.at),
        "event": event(&entry.event, about),
    })
}

/// A next hop's recorded answer.
pub fn hop(h: &HopRecord) -> Value {
    json!({
        "peer": h.peer.as_str(),
        "outcome": h.outcome,
        "at": ts(h.at),
        "leaf": h.leaf,
        "proof": h.proof.to_string(),
    })
}

/// A one-line human summary of an entity.
pub fn entity_value(e: &Entity) -> String {
    let join = |parts: Vec<Option<String>>| -> String {
        parts.into_iter().flatten().collect::<Vec<_>>().join(" ")
    };
    match e {
        Entity::Person {
            names,
            date_of_birth,
            nationalities,
        } => join(vec![
            Some(all_names(names)),
            date_of_birth.map(|d| format!("born {}", d.to_iso())),
            (!nationalities.is_empty()).then(|| format!("({})", strings(nationalities).join(", "))),
        ]),
        Entity::Organisation { names, country } => join(vec![
            Some(all_names(names)),
            country.map(|c| format!("({c})")),
        ]),
        Entity::Document {
            kind,
            number,
            issuer,
        } => join(vec![
            Some(match kind {
                DocumentKind::Passport => "passport".to_owned(),
                DocumentKind::IdentityCard => "identity-card".to_owned(),
                DocumentKind::DrivingLicence => "driving-licence".to_owned(),
                DocumentKind::ResidencePermit => "residence-permit".to_owned(),
                DocumentKind::Other(k) => k.clone(),
            }),
            Some(number.clone()),
            issuer.map(|c| format!("({c})")),
        ]),
        Entity::Phone { number } => number.clone(),
        Entity::Email { address } => address.clone(),
        Entity::Vehicle {
            plate,
            vin,
            country,
            description,
        } => join(vec![
            plate.clone(),
            vin.as_ref().map(|v| format!("VIN {v}")),
            country.map(|c| format!("({c})")),
            description.clone(),
        ]),
        Entity::Vessel {
            name,
            imo,
            mmsi,
            flag,
        } => join(vec![
            name.clone(),
            imo.as_ref().map(|v| format!("IMO {v}")),
            mmsi.as_ref().map(|v| format!("MMSI {v}")),
            flag.map(|c| format!("({c})")),
        ]),
        Entity::Container { number } => number.clone(),
        Entity::Flight {
            number,
            date,
            from,
            to,
        } => join(vec![
            Some(number.clone()),
            date.map(|d| d.to_iso()),
            match (from, to) {
                (Some(f), Some(t)) => Some(format!("{f}→{t}")),
                (Some(f), None) => Some(format!("from {f}")),
                (None, Some(t)) => Some(format!("to {t}")),
                (None, None) => None,
            },
        ]),
        Entity::CryptoWallet { currency, address } => format!("{currency}:{address}"),
        Entity::Location {
            name,
            latitude_micro,
            longitude_micro,
            country,
        } => join(vec![
            name.clone(),
            match (latitude_micro, longitude_micro) {
                (Some(la), Some(lo)) => Some(format!(
                    "{:.6},{:.6}",
                    f64::from(*la) / 1e6,
                    f64::from(*lo) / 1e6
                )),
                _ => None,
            },
            country.map(|c| format!("({c})")),
        ]),
        Entity::Event { description, at } => join(vec![
            Some(description.clone()),
            at.map(|t| format!("at {t}")),
        ]),
    }
}

/// A payload: language, text, entities, attachment names and sizes.
pub fn payload(p: &Payload) -> Value {
    json!({
        "language": p.language.as_str(),
        "text": p.text,
        "entities": p.entities.iter().map(|e| json!({
            "type": e.type_name(),
            "value": entity_value(e),
        })).collect::<Vec<_>>(),
        "attachments": p.attachments.iter().map(|a| json!({
            "name": a.name,
            "media_type": a.media_type,
            "size": a.content.len(),
        })).collect::<Vec<_>>(),
    })
}

/// The request deadline of a body, if it is a request: `(urgency, reply_by)`.
pub fn deadline(body: &Body) -> Option<(Urgency, Timestamp)> {
    match &body.kind {
        Kind::Request {
            urgency, reply_by, ..
        } => Some((*urgency, *reply_by)),
        _ => None,
    }
}

/// The first line of a body's text (retraction reasons included), at most 120 characters.
pub fn first_line(body: &Body) -> Option<String> {
    let described;
    let text = match &body.kind {
        Kind::Retraction { reason }
        | Kind::CaseClose { reason }
        | Kind::CaseRemove { reason, .. }
        | Kind::CaseStatus { reason, .. } => reason.as_str(),
        Kind::CaseTask(t) => {
            described = format!("{} → {} ({})", t.title, t.assignee, t.status.name());
            described.as_str()
        }
        Kind::Deconfliction(o) => {
            described = format!(
                "overlap: a {} of your message {} is also held by {}",
                o.kind.name(),
                o.yours.short(),
                o.other
            );
            described.as_str()
        }
        k => k.payload().map(|p| p.text.as_str())?,
    };
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut out: String = line.chars().take(120).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    Some(out)
}

/// One inbox line; `content` adds the first line of the text.
pub fn inbox_item(
    seq: u64,
    state: &MessageState,
    body: Option<&Body>,
    content: bool,
    now: Timestamp,
) -> Value {
    let f = &state.facts;
    let mut v = json!({
        "seq": seq,
        "id": f.id.to_string(),
        "kind": body.map_or(f.kind.as_str(), |b| b.kind.name()),
        "from": state.from.as_ref().map(|n| n.as_str()),
        "originator": f.originator.as_str(),
        "created_at": ts(f.created_at),
        "received_at": ts(state.logged_at),
        "tlp": f.tlp.label(),
        "h_codes": f.eu_codes,
        "eval": f.evaluation.to_string(),
        "case": f.case.as_ref().map(|c| c.as_str()),
        "in_reply_to": f.in_reply_to.map(|i| i.to_string()),
        "acked": state.acked,
        "purged": state.purged,
    });
    if let Some((u, by)) = body.and_then(deadline) {
        v["urgency"] = json!(urgency(u));
        v["reply_by"] = json!(ts(by));
        v["overdue"] = json!(now > by);
    }
    if content {
        v["first_line"] = json!(body.and_then(first_line));
    }
    v
}

/// A whole message: header, handling, content (when `content`) and what this node did
/// with it.
pub fn message(
    state: &MessageState,
    body: &Body,
    route: &[NodeId],
    content: bool,
    now: Timestamp,
) -> Value {
    let h = &body.header;
    let hd = &body.handling;
    let mut v = json!({
        "id": state.facts.id.to_string(),
        "kind": body.kind.name(),
        "header": {
            "originator": h.originator.as_str(),
            "created_at": ts(h.created_at),
            "recipients": strings(&h.recipients),
            "case": h.case.as_ref().map(|c| c.as_str()),
            "in_reply_to": h.in_reply_to.map(|i| i.to_string()),
            "expires_at": h.expires_at.map(ts),
            "hop_limit": h.hop_limit,
        },
        "handling": {
            "tlp": hd.tlp.label(),
            "h_codes": hd.eu_codes(),
            "h0_crime_only": hd.h0_crime_only,
            "h1_no_judicial_use": hd.h1_no_judicial_use,
            "h2_originator_control": hd.originator_control,
            "h3_restrictions": hd.h3_restrictions,
            "releasability": strings(&hd.releasability),
            "eval": hd.evaluation.to_string(),
        },
        "state": {
            "role": role(state.role),
            "from": state.from.as_ref().map(|n| n.as_str()),
            "route": nodes(route),
            "logged_at": ts(state.logged_at),
            "acked": state.acked,
            "purged": state.purged,
            "pending": state.pending.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            "leaves": state.leaves,
        },
    });
    if let Some((u, by)) = deadline(body) {
        v["request"] = json!({
            "urgency": urgency(u),
            "reply_by": ts(by),
            "overdue": now > by,
        });
    }
    if content {
        v["payload"] = body.kind.payload().map_or(Value::Null, payload);
        if let Kind::Retraction { reason } | Kind::CaseClose { reason } = &body.kind {
            v["reason"] = json!(reason);
        }
        if let Kind::ConsentRequest(r) = &body.kind {
            // What the originator's officer decides on: which message, with whom, and why.
            v["reason"] = json!(r.reason);
            v["consent"] = json!({
                "target": r.target.to_string(),
                "to": nodes(&r.to),
            });
        }
    }
    v
}

/// Every written form of a name, as one line.
fn all_names(names: &[liaison_protocol::entity::Name]) -> String {
    names
        .iter()
        .map(|n| n.value.as_str())
        .collect::<Vec<_>>()
        .join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use liaison_protocol::sample;

    #[test]
    fn first_line_skips_blank_lines_and_truncates() {
        let mut body = sample::alert();
        if let Kind::Alert(p) = &mut body.kind {
            p.text = format!("\n  Shipment via Aktau  \nsecond line {}", "x".repeat(10));
        }
        assert_eq!(first_line(&body).unwrap(), "Shipment via Aktau");
        if let Kind::Alert(p) = &mut body.kind {
            p.text = "y".repeat(300);
        }
        assert_eq!(first_line(&body).unwrap().chars().count(), 121);
    }

    #[test]
    fn log_events_carry_no_content() {
        let body = sample::alert();
        let id = MessageId::of_body(&body.encode().unwrap());
        let text = body.kind.payload().unwrap().text.clone();
        let e = Event::Sent {
            msg: MessageFacts::of(id, &body),
            to: vec!["kz-dcu.central-asia".parse().unwrap()],
        };
        let v = event(&e, None).to_string();
        assert!(v.contains(&id.to_string()));
        assert!(!v.contains(&text));
    }
}
