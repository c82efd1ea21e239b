//! What ends, and when: the certificates this node presents, the CAs it trusts and their
//! CRLs' next updates (as read at start, and again whenever the trust is replaced), and the certificate each peer presented on its
//! current session. `status` and the console show days left for each; a check at start
//! and every hour raises `certificate-expiring` at 30 and again at 7 days before a
//! certificate ends, and at 7 and 1 days before a CRL's next update (a CRL is current for
//! 30 days by default and refreshed well before: 30 days would warn of every fresh CRL).

use liaison_protocol::Timestamp;
use serde::Serialize;

use crate::admin_log::StartState;

/// Days before a certificate ends at which an alarm is raised (each threshold once).
pub const WARN_DAYS: [i64; 2] = [30, 7];

/// Days before a CRL's next update at which an alarm is raised.
pub const CRL_WARN_DAYS: [i64; 2] = [7, 1];

/// How often ends are checked against the thresholds.
pub const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

const DAY_MS: i64 = 86_400_000;

/// Something that ends: a certificate's validity or a CRL's currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expiry {
    /// What it is: `identity <node>`, `CA <name>`, `CRL of <name>`, `peer <node>`, …
    pub what: String,
    /// When it ends.
    pub at: Timestamp,
    /// A CRL's next update, not a certificate's end.
    pub crl: bool,
}

impl Expiry {
    /// The days before the end at which alarms are raised.
    pub fn thresholds(&self) -> [i64; 2] {
        if self.crl {
            CRL_WARN_DAYS
        } else {
            WARN_DAYS
        }
    }

    /// Whole days left at `now` (negative once it has ended).
    pub fn days_left(&self, now: Timestamp) -> i64 {
        (self.at.0 as i64 - now.0 as i64).div_euclid(DAY_MS)
    }
}

/// The ends a start knows of: its certificates, its CAs and their CRLs.
///
/// With each peer's certificate from its session, the node's whole list
/// (`core::expiries`); `node` checks it against the thresholds every [`CHECK_EVERY`].
pub fn of_start(state: &StartState) -> Vec<Expiry> {
    let mut out: Vec<Expiry> = state
        .certificates
        .iter()
        .map(|(what, c)| Expiry {
            what: what.clone(),
            at: c.not_after,
            crl: false,
        })
        .collect();
    for (fingerprint, t) in &state.trust {
        // Named with the start of its fingerprint: during a rollover a network has two CAs
        // of the same name.
        let ca = format!(
            "CA {} ({})",
            t.subject,
            fingerprint.get(..23).unwrap_or(fingerprint)
        );
        out.push(Expiry {
            what: ca.clone(),
            at: t.not_after,
            crl: false,
        });
        if let Some(next) = t.crl_next_update {
            out.push(Expiry {
                what: format!("CRL of {ca}"),
                at: next,
                crl: true,
            });
        }
    }
    out
}

/// The alarms `ends` call for at `now`: (subject, text) for each threshold crossed.
pub fn alarms(ends: &[Expiry], now: Timestamp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in ends {
        let days = e.days_left(now);
        if days < 0 {
            out.push((
                format!("{}: expired", e.what),
                format!("{} ended on {}", e.what, e.at.to_rfc3339()),
            ));
            continue;
        }
        for threshold in e.thresholds() {
            if days < threshold {
                let unit = if threshold == 1 { "day" } else { "days" };
                out.push((
                    format!("{}: {threshold} {unit}", e.what),
                    format!(
                        "{} ends on {} ({days} days left)",
                        e.what,
                        e.at.to_rfc3339()
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(what: &str, days: i64) -> Expiry {
        Expiry {
            what: what.into(),
            at: Timestamp((1_000 * DAY_MS + days * DAY_MS + 1) as u64),
            crl: what.starts_with("CRL"),
        }
    }

    #[test]
    fn thresholds_are_crossed_once_each() {
        let now = Timestamp((1_000 * DAY_MS) as u64);
        assert_eq!(end("x", 31).days_left(now), 31);
        assert!(alarms(&[end("identity a.b", 31)], now).is_empty());
        let a = alarms(&[end("identity a.b", 29)], now);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0, "identity a.b: 30 days");
        assert!(a[0].1.contains("29 days left"), "{a:?}");
        let a = alarms(&[end("identity a.b", 6)], now);
        let subjects: Vec<&str> = a.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(subjects, ["identity a.b: 30 days", "identity a.b: 7 days"]);
        // A CRL current for 30 days is not worth an alarm; one that lapses within a week is.
        assert!(alarms(&[end("CRL of CA x", 29)], now).is_empty());
        let a = alarms(&[end("CRL of CA x", 0)], now);
        let subjects: Vec<&str> = a.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(subjects, ["CRL of CA x: 7 days", "CRL of CA x: 1 day"]);
        let a = alarms(&[end("peer c.d", -2)], now);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0, "peer c.d: expired");
    }
}
