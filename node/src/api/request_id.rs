//! Request ids: every answer of the officer API carries one in `X-Request-Id`, and the
//! node's log lines about the request carry the same, so an officer who reports an error
//! hands the operator the key to its log lines — the answer itself never carries the node's
//! internal error (which names files and internals).
//!
//! An id is 32 hex digits: a random prefix drawn once per process, then a counter. Ids are
//! unique, not secret. The node makes its own for every request; a client's `X-Request-Id`
//! is ignored, so nobody can plant a chosen id in the node's log.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use axum::http::{HeaderName, HeaderValue};
use ring::rand::{SecureRandom, SystemRandom};

/// The header that carries the id.
pub static HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// The id of the request being answered, for errors made deep in a handler.
    static CURRENT: RequestId;
}

/// One request's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id.
    pub fn next() -> Self {
        static PREFIX: OnceLock<u64> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let prefix = *PREFIX.get_or_init(|| {
            let mut b = [0u8; 8];
            // Uniqueness across restarts only: without randomness, the time will do.
            match SystemRandom::new().fill(&mut b) {
                Ok(()) => u64::from_be_bytes(b),
                Err(_) => std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64),
            }
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(format!("{prefix:016x}{n:016x}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a header value.
    pub fn header_value(&self) -> HeaderValue {
        // Hex digits only: always a valid header value.
        HeaderValue::from_str(&self.0).unwrap_or_else(|_| HeaderValue::from_static("-"))
    }

    /// The id of the request being answered (inside [`RequestId::scope`]).
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `f` (the answering of one request) with `self` as [`RequestId::current`].
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_hex_of_fixed_length() {
        let a = RequestId::next();
        let b = RequestId::next();
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.as_str().len(), 32);
            assert!(id.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        }
        assert_eq!(a.as_str()[..16], b.as_str()[..16], "one prefix per process");
    }

    #[tokio::test]
    async fn the_current_id_is_known_inside_its_scope_only() {
        assert_eq!(RequestId::current(), None);
        let id = RequestId::next();
        let seen = id.clone().scope(async { RequestId::current() }).await;
        assert_eq!(seen, Some(id));
        assert_eq!(RequestId::current(), None);
    }
}
