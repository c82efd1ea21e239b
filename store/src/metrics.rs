//! Counters for the node's metrics (`GET /metrics`): log entries by event type and message
//! bytes stored by role since the store opened, group commits and how long each took, and
//! when the last checkpoint was signed. Updated by the writer after a group is durable, so
//! they count only what is.

use std::sync::atomic::{AtomicU64, Ordering};

use liaison_protocol::log::Event;

use crate::Role;

/// The event types, in the order [`MetricsSnapshot::events`] counts them.
pub const EVENT_TYPES: [&str; 10] = [
    "sent",
    "received",
    "relayed",
    "refused",
    "receipt-sent",
    "receipt-received",
    "refusal-received",
    "acknowledged",
    "admin",
    "purged",
];

/// The roles, in the order [`MetricsSnapshot::bytes`] counts them.
pub const ROLES: [&str; 3] = ["originated", "delivered", "relayed"];

/// Upper bounds (seconds) of the group-commit duration histogram's buckets.
pub const COMMIT_BUCKETS: [f64; 10] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// The slot of an event type in [`EVENT_TYPES`].
pub(crate) fn event_slot(e: &Event) -> usize {
    match e {
        Event::Sent { .. } => 0,
        Event::Received { .. } => 1,
        Event::Relayed { .. } => 2,
        Event::Refused { .. } => 3,
        Event::ReceiptSent { .. } => 4,
        Event::ReceiptReceived { .. } => 5,
        Event::RefusalReceived { .. } => 6,
        Event::Acknowledged { .. } => 7,
        Event::Admin { .. } => 8,
        Event::Purged { .. } => 9,
    }
}

/// The slot of a role in [`ROLES`].
pub(crate) fn role_slot(r: Role) -> usize {
    match r {
        Role::Originated => 0,
        Role::Delivered => 1,
        Role::Relayed => 2,
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    events: [AtomicU64; 10],
    bytes: [AtomicU64; 3],
    buckets: [AtomicU64; 11],
    commit_micros: AtomicU64,
    checkpoint_at: AtomicU64,
}

impl Counters {
    /// Adds a durable group: its entries by event slot, its bytes by role slot, and how long
    /// its commit took.
    pub(crate) fn add_group(
        &self,
        events: &[u64; 10],
        bytes: &[u64; 3],
        took: std::time::Duration,
    ) {
        for (c, n) in self.events.iter().zip(events) {
            if *n > 0 {
                c.fetch_add(*n, Ordering::Relaxed);
            }
        }
        for (c, n) in self.bytes.iter().zip(bytes) {
            if *n > 0 {
                c.fetch_add(*n, Ordering::Relaxed);
            }
        }
        let secs = took.as_secs_f64();
        let slot = COMMIT_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(COMMIT_BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.commit_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Notes that a checkpoint was signed at `at` (ms since the epoch).
    pub(crate) fn checkpoint_signed(&self, at: u64) {
        self.checkpoint_at.store(at, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            events: self.events.each_ref().map(load),
            bytes: self.bytes.each_ref().map(load),
            commit_buckets: self.buckets.each_ref().map(load),
            commit_seconds: load(&self.commit_micros) as f64 / 1e6,
            checkpoint_at: Some(load(&self.checkpoint_at)).filter(|t| *t > 0),
        }
    }
}

/// The counters at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Log entries by event type ([`EVENT_TYPES`]) since the store opened.
    pub events: [u64; 10],
    /// Message bytes stored by role ([`ROLES`]) since the store opened.
    pub bytes: [u64; 3],
    /// Group commits by duration: one count per [`COMMIT_BUCKETS`] bound, then the rest
    /// (not cumulative).
    pub commit_buckets: [u64; 11],
    /// Total time spent in group commits, seconds.
    pub commit_seconds: f64,
    /// When the last checkpoint was signed since the store opened (ms since the epoch).
    pub checkpoint_at: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_group_is_counted_by_type_role_and_duration() {
        let c = Counters::default();
        let mut events = [0; 10];
        events[0] = 2;
        events[8] = 1;
        c.add_group(&events, &[100, 0, 7], Duration::from_micros(1_500));
        c.add_group(&[0; 10], &[0; 3], Duration::from_secs(3));
        let s = c.snapshot();
        assert_eq!((s.events[0], s.events[8], s.events[1]), (2, 1, 0));
        assert_eq!(s.bytes, [100, 0, 7]);
        assert_eq!(s.commit_buckets[2], 1, "1.5 ms is in the 2 ms bucket");
        assert_eq!(s.commit_buckets[10], 1, "3 s is above every bound");
        assert!((s.commit_seconds - 3.0015).abs() < 1e-9);
        assert_eq!(s.checkpoint_at, None);
        c.checkpoint_signed(42);
        assert_eq!(c.snapshot().checkpoint_at, Some(42));
    }
}
