//! The process's open-file limit (`RLIMIT_NOFILE`): raised at start-up, and shared out so
//! that the officer API's connections never take the descriptors the store and QUIC need.
//!
//! Every API connection, journal segment, checkpoint write and the QUIC socket is a file
//! descriptor. A node whose descriptors ran out fails to write (it cannot sign a checkpoint:
//! "Too many open files"). So [`raise`] lifts the soft limit to the hard one at start-up —
//! safe here, because nothing in the node waits with `select(2)`, whose descriptor sets end
//! at 1024; tokio waits with epoll — and [`api_budget`] gives the API's listeners at most
//! half of the descriptors free when they are bound, leaving the other half for everything
//! else.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// The soft limit [`raise`] asks for when the hard limit is unlimited.
pub const RAISE_CEILING: u64 = 1 << 20;

/// Descriptors assumed open when they cannot be counted (no `/proc/self/fd`).
const ASSUMED_OPEN: u64 = 64;

/// The open-file limit before and after [`raise`] (`None`: unlimited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Raised {
    /// The soft limit found.
    pub before: Option<u64>,
    /// The soft limit now.
    pub after: Option<u64>,
    /// The hard limit.
    pub hard: Option<u64>,
}

/// Raises the soft open-file limit to the hard limit (at most [`RAISE_CEILING`]). A limit
/// already there is left alone, so a service manager's setting (systemd `LimitNOFILE=`) wins
/// and no system call is made that a system-call filter might refuse.
pub fn raise() -> std::io::Result<Raised> {
    let now = getrlimit(Resource::Nofile);
    let target = now
        .maximum
        .map_or(RAISE_CEILING, |hard| hard.min(RAISE_CEILING));
    let mut raised = Raised {
        before: now.current,
        after: now.current,
        hard: now.maximum,
    };
    if now.current.is_some_and(|soft| soft < target) {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: now.maximum,
            },
        )?;
        raised.after = Some(target);
    }
    Ok(raised)
}

/// The soft open-file limit (`None`: unlimited).
pub fn soft_limit() -> Option<u64> {
    getrlimit(Resource::Nofile).current
}

/// Descriptors open in this process now, if the system says (Linux: `/proc/self/fd`).
pub fn open_now() -> Option<u64> {
    // The directory's own descriptor is counted too: one more than before the call.
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64)
}

/// How many descriptors the officer API may hold in all: half of those free now.
pub fn api_budget() -> u64 {
    budget(soft_limit(), open_now())
}

fn budget(soft: Option<u64>, open: Option<u64>) -> u64 {
    let Some(soft) = soft else {
        return u64::MAX / 2;
    };
    soft.saturating_sub(open.unwrap_or(ASSUMED_OPEN)) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_gets_half_of_what_is_free() {
        assert_eq!(budget(Some(1024), Some(24)), 500);
        assert_eq!(budget(Some(1024), None), (1024 - ASSUMED_OPEN) / 2);
        assert_eq!(budget(Some(10), Some(40)), 0);
        assert!(budget(None, Some(10)) > 1 << 40);
    }

    #[test]
    fn raising_never_lowers_the_limit() {
        let before = soft_limit();
        let raised = raise().expect("raise");
        assert_eq!(raised.before, before);
        match (raised.before, raised.after) {
            (Some(b), Some(a)) => assert!(a >= b),
            (None, after) => assert_eq!(after, None),
            (Some(_), None) => panic!("raised to unlimited: {raised:?}"),
        }
        assert_eq!(soft_limit(), raised.after);
        assert!(open_now().is_some_and(|n| n >= 3));
    }
}
