//! The node's metrics in the Prometheus text exposition format (version 0.0.4), served at
//! `GET /metrics` on the officer API's listeners, authenticated as the API is: peers up,
//! outbox depth and age per peer, log entries and message bytes by type since start, the
//! group-commit duration histogram, checkpoint age and entries not yet covered, certificate
//! and CRL days left, alarms by code, unread inbox messages.

use std::fmt::Write as _;

use liaison_protocol::Timestamp;

use crate::core::{Ctx, Status};
use crate::store::metrics::{MetricsSnapshot, COMMIT_BUCKETS, EVENT_TYPES, ROLES};

/// The content type of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A label value, escaped as the format requires (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = write!(self.0, "{name}");
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", inner.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// The age in seconds of each peer's oldest message awaiting its receipt.
pub fn outbox_ages(ctx: &Ctx, now: Timestamp) -> Vec<(String, f64)> {
    ctx.cfg
        .peers
        .iter()
        .map(|p| {
            let oldest = ctx
                .store
                .outbox(&p.node_id, 0, 1)
                .ok()
                .and_then(|v| v.into_iter().next())
                .and_then(|(_, id)| ctx.store.state(&id).ok().flatten())
                .map(|s| s.logged_at);
            let age = oldest.map_or(0.0, |t| now.0.saturating_sub(t.0) as f64 / 1000.0);
            (p.node_id.to_string(), age)
        })
        .collect()
}

/// The exposition of `status`, the store's counters `m` and the outbox ages at `now`.
pub fn render(
    status: &Status,
    m: &MetricsSnapshot,
    ages: &[(String, f64)],
    now: Timestamp,
) -> String {
    let mut o = Out(String::new());
    let node = status.node.as_str();
    o.family(
        "liaison_info",
        "gauge",
        "This node and its version (always 1).",
    );
    o.sample(
        "liaison_info",
        &[("node", node), ("version", env!("CARGO_PKG_VERSION"))],
        1,
    );

    o.family(
        "liaison_peer_up",
        "gauge",
        "Whether the outbound session to a configured peer is established.",
    );
    for p in &status.peers {
        o.sample(
            "liaison_peer_up",
            &[("peer", p.node.as_str())],
            u8::from(p.state.connected),
        );
    }
    o.family(
        "liaison_peer_outbox_messages",
        "gauge",
        "Messages awaiting a peer's receipt.",
    );
    for p in &status.peers {
        o.sample(
            "liaison_peer_outbox_messages",
            &[("peer", p.node.as_str())],
            p.outbox,
        );
    }
    o.family(
        "liaison_peer_outbox_bytes",
        "gauge",
        "Bytes of the messages awaiting a peer's receipt.",
    );
    for p in &status.peers {
        o.sample(
            "liaison_peer_outbox_bytes",
            &[("peer", p.node.as_str())],
            p.outbox_bytes,
        );
    }
    o.family(
        "liaison_peer_outbox_full",
        "gauge",
        "Whether a peer's outbox is at its limit, so that bulk traffic to it is refused.",
    );
    for p in &status.peers {
        let full = p.outbox >= p.outbox_limits.messages || p.outbox_bytes >= p.outbox_limits.bytes;
        o.sample(
            "liaison_peer_outbox_full",
            &[("peer", p.node.as_str())],
            u8::from(full),
        );
    }
    o.family(
        "liaison_peer_outbox_refused_total",
        "counter",
        "Sends from this node refused since start because a peer's outbox was full.",
    );
    for p in &status.peers {
        o.sample(
            "liaison_peer_outbox_refused_total",
            &[("peer", p.node.as_str())],
            p.outbox_refused,
        );
    }
    o.family(
        "liaison_peer_outbox_oldest_seconds",
        "gauge",
        "Age of the oldest message awaiting a peer's receipt (0: none).",
    );
    for (peer, age) in ages {
        o.sample("liaison_peer_outbox_oldest_seconds", &[("peer", peer)], age);
    }

    o.family(
        "liaison_log_entries_total",
        "counter",
        "Log entries written since the node started, by event type.",
    );
    for (name, n) in EVENT_TYPES.iter().zip(m.events) {
        o.sample("liaison_log_entries_total", &[("event", name)], n);
    }
    o.family(
        "liaison_message_bytes_total",
        "counter",
        "Bytes of signed messages stored since the node started: originated here (sent), delivered here (received) or relayed.",
    );
    for (name, n) in ROLES.iter().zip(m.bytes) {
        o.sample("liaison_message_bytes_total", &[("role", name)], n);
    }
    o.family("liaison_log_size", "gauge", "Entries in the log.");
    o.sample("liaison_log_size", &[], status.log_size);

    o.family(
        "liaison_commit_duration_seconds",
        "histogram",
        "Time to write and fsync a group commit of the store.",
    );
    let mut cumulative = 0;
    for (bound, n) in COMMIT_BUCKETS.iter().zip(m.commit_buckets) {
        cumulative += n;
        o.sample(
            "liaison_commit_duration_seconds_bucket",
            &[("le", &bound.to_string())],
            cumulative,
        );
    }
    let count = cumulative + m.commit_buckets[COMMIT_BUCKETS.len()];
    o.sample(
        "liaison_commit_duration_seconds_bucket",
        &[("le", "+Inf")],
        count,
    );
    o.sample("liaison_commit_duration_seconds_sum", &[], m.commit_seconds);
    o.sample("liaison_commit_duration_seconds_count", &[], count);

    let covered = status
        .last_checkpoint
        .as_deref()
        .and_then(|n| n.lines().nth(1))
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    o.family(
        "liaison_checkpoint_uncovered_entries",
        "gauge",
        "Log entries not yet covered by a signed checkpoint.",
    );
    o.sample(
        "liaison_checkpoint_uncovered_entries",
        &[],
        status.log_size.saturating_sub(covered),
    );
    if let Some(at) = m.checkpoint_at {
        o.family(
            "liaison_checkpoint_age_seconds",
            "gauge",
            "Time since this node last signed a checkpoint (it signs one only when the log grew).",
        );
        o.sample(
            "liaison_checkpoint_age_seconds",
            &[],
            now.0.saturating_sub(at) as f64 / 1000.0,
        );
    }

    o.family(
        "liaison_certificate_days_left",
        "gauge",
        "Whole days until a certificate ends or a CRL's next update (negative: passed).",
    );
    for e in &status.expiries {
        o.sample(
            "liaison_certificate_days_left",
            &[("what", &e.what)],
            e.days_left(now),
        );
    }

    o.family(
        "liaison_alarms",
        "gauge",
        "Alarms standing (raised and not cleared), by reason code.",
    );
    let mut by_code = std::collections::BTreeMap::<&str, u64>::new();
    for a in &status.alarms {
        *by_code.entry(a.code.code()).or_default() += 1;
    }
    for (code, n) in by_code {
        o.sample("liaison_alarms", &[("code", code)], n);
    }
    o.family(
        "liaison_inbox_unread",
        "gauge",
        "Messages delivered here that no officer has acknowledged.",
    );
    o.sample("liaison_inbox_unread", &[], status.unread);
    o.family(
        "liaison_store_damaged_messages",
        "gauge",
        "Stored messages marked damaged.",
    );
    o.sample(
        "liaison_store_damaged_messages",
        &[],
        status.damaged_messages,
    );
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
