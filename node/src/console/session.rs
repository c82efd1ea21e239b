//! Console sessions (token login on the plain listener) and CSRF tokens.
//!
//! A session is 32 random bytes (hex) in an `HttpOnly; SameSite=Strict` cookie, kept in
//! memory only: a restart logs everyone out, which is what an operator expects of a node
//! restart. The store keeps SHA-256 of each id, not the id, so a memory dump of the map
//! does not hand out live cookies. Sessions end after [`IDLE`] without a request or
//! [`LIFETIME`] in all; at most [`MAX_SESSIONS`] live at once (the oldest goes first).
//!
//! CSRF: every session has its own random token; an officer authenticated by certificate has
//! no session, so their token is an HMAC of their identity under a per-process key (stable
//! for the process, unguessable without the key). Tokens are compared in constant time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::digest;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::api::auth::Principal;

/// A session ends after this long without a request.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after login, whatever happens.
pub(crate) const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Most sessions at once.
pub(crate) const MAX_SESSIONS: usize = 256;

/// A logged-in browser.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    /// Who logged in.
    pub principal: Principal,
    /// The session's CSRF token.
    pub csrf: String,
    created: Instant,
    used: Instant,
}

/// Live sessions and the CSRF key. `Debug` shows no secrets.
pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    csrf_key: hmac::Key,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(..)")
    }
}

fn digest_of(id: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, id.as_bytes()).as_ref());
    out
}

impl Sessions {
    /// An empty store with a fresh CSRF key.
    pub(crate) fn new() -> Result<Self, crate::api::ApiStartError> {
        let rng = SystemRandom::new();
        let csrf_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| crate::api::ApiStartError::Random)?;
        Ok(Self {
            map: Mutex::new(HashMap::new()),
            csrf_key,
            rng,
        })
    }

    /// 32 random bytes as hex.
    pub(crate) fn random(&self) -> Option<String> {
        let mut b = [0u8; 32];
        self.rng.fill(&mut b).ok()?;
        Some(liaison_protocol::ids::hex(&b))
    }

    /// Starts a session for `principal`: its id (the cookie value).
    pub(crate) fn create(&self, principal: Principal) -> Option<String> {
        let id = self.random()?;
        let csrf = self.random()?;
        let now = Instant::now();
        let mut map = self.map.lock().ok()?;
        map.retain(|_, s| alive(s, now));
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        map.insert(
            digest_of(&id),
            Session {
                principal,
                csrf,
                created: now,
                used: now,
            },
        );
        Some(id)
    }

    /// The live session with this id, marked as used.
    pub(crate) fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.map.lock().ok()?;
        let key = digest_of(id);
        let s = map.get_mut(&key)?;
        if !alive(s, now) {
            map.remove(&key);
            return None;
        }
        s.used = now;
        Some(s.clone())
    }

    /// Ends a session.
    pub(crate) fn remove(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&digest_of(id));
        }
    }

    /// The CSRF token of a certificate-authenticated officer.
    pub(crate) fn csrf_for(&self, who: &str) -> String {
        let tag = hmac::sign(
            &self.csrf_key,
            format!("liaison/v1/console-csrf\0{who}").as_bytes(),
        );
        liaison_protocol::ids::hex(tag.as_ref())
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.used) < IDLE && now.duration_since(s.created) < LIFETIME
}

/// Whether two tokens are equal, in time independent of where they differ.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && !a.is_empty() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_created_found_and_ended() {
        let s = Sessions::new().unwrap();
        let id = s.create(Principal::token()).unwrap();
        assert_eq!(id.len(), 64);
        let got = s.get(&id).unwrap();
        assert_eq!(got.principal, Principal::token());
        assert_eq!(got.csrf.len(), 64);
        assert!(s.get("nope").is_none());
        s.remove(&id);
        assert!(s.get(&id).is_none());
        assert!(!format!("{s:?}").contains(&got.csrf));
    }

    #[test]
    fn csrf_tokens_differ_per_officer_and_compare_exactly() {
        let s = Sessions::new().unwrap();
        let a = s.csrf_for("amal@gcc-cic.gulf");
        assert_eq!(a, s.csrf_for("amal@gcc-cic.gulf"));
        assert_ne!(a, s.csrf_for("omar@gcc-cic.gulf"));
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &a[1..]));
        assert!(!same_token("", ""));
    }

    #[test]
    fn the_oldest_session_makes_room() {
        let s = Sessions::new().unwrap();
        let first = s.create(Principal::token()).unwrap();
        for _ in 1..MAX_SESSIONS {
            s.create(Principal::token()).unwrap();
        }
        assert!(s.get(&first).is_some());
        s.create(Principal::token()).unwrap();
        assert!(s.get(&first).is_none());
    }
}
