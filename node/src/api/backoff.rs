//! Backoff on failed sign-ins: the API token presented on the plain listener (a bearer
//! token or the console's login form), counted per source.
//!
//! The token is 256 random bits, so guessing it is hopeless; the backoff keeps a guessing
//! client from costing the node work and flooding its log. After [`FREE_FAILURES`] failures
//! in a row, a source is refused (429 `too-many-attempts`, with `Retry-After`) for
//! [`FIRST_DELAY`], doubling with each further failure up to [`MAX_DELAY`]. While refused,
//! its attempts are not checked at all — a correct token then would tell a guesser it had
//! won — and do not lengthen the wait. A success forgets the source's failures, and so does
//! [`FORGET_AFTER`] without one.
//!
//! A source is an IP address, except that every IPv4 loopback address (127.0.0.0/8) is one
//! source: any local user can connect from any of them, and the plain listener is loopback
//! only, so counting them apart would give a guesser sixteen million fresh starts. IPv6
//! addresses count per /64, the smallest block a host is usually given.
//!
//! Memory is bounded: at most [`MAX_SOURCES`] sources are remembered; when full, forgotten
//! ones go first, then the one whose last failure is oldest. Time is an argument, so the
//! tests drive it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row a source may have before it is refused for a while.
pub const FREE_FAILURES: u32 = 5;
/// How long a source is refused after [`FREE_FAILURES`] failures.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest a source is refused.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A source's failures are forgotten this long after its last one.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Most sources remembered at once.
pub const MAX_SOURCES: usize = 4096;

/// Where sign-in attempts come from, as counted (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Self {
        let ip = match ip {
            IpAddr::V4(v4) if v4.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => return Source::from(IpAddr::V4(v4)),
                None if v6.is_loopback() => IpAddr::V6(v6),
                None => {
                    let s = v6.segments();
                    IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
        };
        Source(ip)
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) if v4.is_loopback() => f.write_str("127.0.0.0/8"),
            IpAddr::V6(v6) if !v6.is_loopback() => write!(f, "{v6}/64"),
            ip => write!(f, "{ip}"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Record {
    failures: u32,
    last_failure: Instant,
    refused_until: Option<Instant>,
}

/// The failed sign-ins of recent sources.
#[derive(Debug, Default)]
pub struct SignInBackoff {
    table: Mutex<HashMap<Source, Record>>,
    /// Whether the table may hold anything: lets a success skip the lock.
    any: AtomicBool,
}

impl SignInBackoff {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Err(wait)` if `source` is refused now, for `wait` more.
    pub fn check(&self, source: Source, now: Instant) -> Result<(), Duration> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let Ok(table) = self.table.lock() else {
            return Ok(());
        };
        match table.get(&source).and_then(|r| r.refused_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failure; returns how long `source` is now refused, if it is.
    pub fn failed(&self, source: Source, now: Instant) -> Option<Duration> {
        let Ok(mut table) = self.table.lock() else {
            return None;
        };
        if !table.contains_key(&source) && table.len() >= MAX_SOURCES {
            make_room(&mut table, now);
        }
        let r = table.entry(source).or_insert(Record {
            failures: 0,
            last_failure: now,
            refused_until: None,
        });
        if now.duration_since(r.last_failure) >= FORGET_AFTER {
            r.failures = 0;
        }
        r.failures = r.failures.saturating_add(1);
        r.last_failure = now;
        self.any.store(true, Ordering::Release);
        let delay = delay_after(r.failures)?;
        r.refused_until = Some(now + delay);
        Some(delay)
    }

    /// Records a sign-in that was checked: a success forgets `source`'s failures, a failure
    /// counts, and one that starts a wait is logged.
    pub fn record(&self, source: Source, ok: bool, now: Instant) {
        if ok {
            self.succeeded(source);
            return;
        }
        if let Some(wait) = self.failed(source, now) {
            tracing::warn!(
                %source,
                retry_after_secs = wait.as_secs_f64(),
                "officer API: repeated failed sign-ins; this source's attempts are refused for a while"
            );
        }
    }

    /// Forgets `source`'s failures.
    pub fn succeeded(&self, source: Source) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        if let Ok(mut table) = self.table.lock() {
            table.remove(&source);
            if table.is_empty() {
                self.any.store(false, Ordering::Release);
            }
        }
    }

    /// Sources remembered now.
    pub fn len(&self) -> usize {
        self.table.lock().map_or(0, |t| t.len())
    }

    /// Whether no source is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How long a source with `failures` failures in a row is refused (`None`: not at all).
fn delay_after(failures: u32) -> Option<Duration> {
    let doublings = failures.checked_sub(FREE_FAILURES)?;
    // 2^6 s already exceeds the cap: no need to shift further.
    let delay = FIRST_DELAY.saturating_mul(1 << doublings.min(16));
    Some(delay.min(MAX_DELAY))
}

fn make_room(table: &mut HashMap<Source, Record>, now: Instant) {
    table.retain(|_, r| now.duration_since(r.last_failure) < FORGET_AFTER);
    if table.len() >= MAX_SOURCES {
        if let Some(oldest) = table
            .iter()
            .min_by_key(|(_, r)| r.last_failure)
            .map(|(s, _)| *s)
        {
            table.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Source {
        Source::from(s.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn a_few_failures_are_free_then_the_wait_doubles_up_to_the_cap() {
        let b = SignInBackoff::new();
        let src = ip("127.0.0.1");
        let mut t = Instant::now();
        for _ in 1..FREE_FAILURES {
            assert_eq!(b.failed(src, t), None);
            assert_eq!(b.check(src, t), Ok(()));
        }
        let mut expected = FIRST_DELAY;
        for _ in 0..10 {
            assert_eq!(b.failed(src, t), Some(expected));
            assert_eq!(b.check(src, t), Err(expected));
            // Refused attempts are not counted: waiting out the delay is enough.
            t += expected;
            assert_eq!(b.check(src, t), Ok(()));
            expected = (expected * 2).min(MAX_DELAY);
        }
        assert_eq!(expected, MAX_DELAY);
    }

    #[test]
    fn a_success_or_a_quiet_while_forgets_the_failures() {
        let b = SignInBackoff::new();
        let src = ip("127.0.0.1");
        let t = Instant::now();
        for _ in 0..FREE_FAILURES {
            b.failed(src, t);
        }
        assert!(b.check(src, t).is_err());
        b.succeeded(src);
        assert_eq!(b.check(src, t), Ok(()));
        assert!(b.is_empty());

        for _ in 0..FREE_FAILURES - 1 {
            b.failed(src, t);
        }
        let later = t + FORGET_AFTER;
        assert_eq!(b.failed(src, later), None, "counting starts again");
    }

    #[test]
    fn loopback_addresses_are_one_source_and_ipv6_counts_per_64() {
        assert_eq!(ip("127.0.0.1"), ip("127.45.6.7"));
        assert_eq!(ip("::ffff:127.0.0.9"), ip("127.0.0.1"));
        assert_ne!(ip("::1"), ip("127.0.0.1"));
        assert_eq!(ip("2001:db8:1:2:aaaa::1"), ip("2001:db8:1:2:bbbb::2"));
        assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
        assert_ne!(ip("10.0.0.1"), ip("10.0.0.2"));
        assert_eq!(ip("127.3.3.3").to_string(), "127.0.0.0/8");
        let t = Instant::now();
        let b = SignInBackoff::new();
        for n in 0..FREE_FAILURES {
            b.failed(ip(&format!("127.0.0.{}", n + 1)), t);
        }
        assert!(b.check(ip("127.9.9.9"), t).is_err());
        assert_eq!(b.check(ip("10.0.0.1"), t), Ok(()));
    }

    #[test]
    fn the_table_is_bounded_and_forgets_the_oldest_first() {
        let b = SignInBackoff::new();
        let t0 = Instant::now();
        let first = ip("10.0.0.0");
        for _ in 0..FREE_FAILURES {
            b.failed(first, t0);
        }
        for n in 1..MAX_SOURCES as u32 + 10 {
            let src = Source::from(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)));
            b.failed(src, t0 + Duration::from_millis(u64::from(n)));
        }
        assert_eq!(b.len(), MAX_SOURCES);
        assert_eq!(b.check(first, t0), Ok(()), "the oldest went first");
    }
}
