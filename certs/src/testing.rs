//! Shared fixtures for unit tests.

use liaison_protocol::{CentreId, NetworkId};
use time::{Duration, OffsetDateTime};

use crate::ca::{IssuedCert, NetworkCa, Validity};

pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub(crate) fn net(s: &str) -> NetworkId {
    s.parse().unwrap()
}

pub(crate) fn centre(s: &str) -> CentreId {
    s.parse().unwrap()
}

/// A CA valid from two years ago for ten years, so tests can issue certificates in the past.
pub(crate) fn ca(network: &str) -> NetworkCa {
    let v = Validity::new(now() - Duration::days(730), now() + Duration::days(3000)).unwrap();
    NetworkCa::generate(&net(network), v).unwrap().0
}

pub(crate) fn year() -> Validity {
    Validity::days_from(now(), 365).unwrap()
}

pub(crate) fn node(ca: &NetworkCa, c: &str) -> IssuedCert {
    ca.issue_node(&centre(c), year()).unwrap()
}
