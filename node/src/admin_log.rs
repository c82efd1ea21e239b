//! Administrative acts in the tamper-evident log: `admin` entries, committed and proven like
//! every other entry, so an auditor can show from the log alone how the node was set up and
//! operated (docs/AUDIT.md lists every act).
//!
//! At each start the node records what it runs with — a digest of the effective
//! configuration, every certificate it presents, every CA and CRL it trusts, its keys — and
//! what changed since its last start, compared with the facts it kept then
//! ([`START_STATE_FILE`]). While it runs it records sign-ins, refused sign-ins, sign-outs,
//! alarms as they are raised, and its stop. Nothing secret is written: keys and the API
//! token appear only as "created" or "changed".

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use liaison_certs::facts::{CertFacts, TrustFacts};
use liaison_protocol::log::Event;
use liaison_protocol::Timestamp;
use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Config;
use crate::error::Result;

/// The facts of the last start, in the data dir: what the next start compares itself with.
pub const START_STATE_FILE: &str = "start-state.json";

/// An API principal's sign-in is recorded again after this long without one recorded.
pub const SIGN_IN_RECORD_INTERVAL: Duration = Duration::from_secs(3600);

/// What a start ran with, kept to say at the next start what changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StartState {
    /// SHA-256 of the effective configuration (TOML, as the node re-serialises it), hex.
    pub config_sha256: String,
    /// The effective configuration.
    pub config: Value,
    /// Each certificate the node presents: what it is for → its facts in words.
    pub certificates: BTreeMap<String, CertLine>,
    /// Each trusted CA, by fingerprint.
    pub trust: BTreeMap<String, TrustLine>,
    /// Digests of the keys and the API token (never the secrets): name → SHA-256, hex.
    pub secrets: BTreeMap<String, String>,
}

/// A certificate, as a start records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertLine {
    /// SHA-256 of the DER (`AB:CD:…`).
    pub fingerprint: String,
    /// Serial, hex.
    pub serial: String,
    /// End of validity.
    pub not_after: Timestamp,
}

/// A trusted CA and its CRL, as a start records them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustLine {
    /// The CA's common name.
    pub subject: String,
    /// Where it was read.
    pub origin: String,
    /// End of the CA's validity.
    pub not_after: Timestamp,
    /// The CRL's number, if there is a CRL.
    pub crl_number: Option<u128>,
    /// The CRL's next update.
    pub crl_next_update: Option<Timestamp>,
    /// Revoked serials, hex.
    pub revoked: BTreeSet<String>,
}

impl From<&CertFacts> for CertLine {
    fn from(f: &CertFacts) -> Self {
        Self {
            fingerprint: f.fingerprint.clone(),
            serial: f.serial.clone(),
            not_after: f.not_after,
        }
    }
}

impl From<&TrustFacts> for TrustLine {
    fn from(f: &TrustFacts) -> Self {
        Self {
            subject: f.ca.subject.clone(),
            origin: f.origin.clone(),
            not_after: f.ca.not_after,
            crl_number: f.crl.as_ref().map(|c| c.number),
            crl_next_update: f.crl.as_ref().and_then(|c| c.next_update),
            revoked: f
                .crl
                .iter()
                .flat_map(|c| c.revoked.iter().cloned())
                .collect(),
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    liaison_protocol::ids::hex(digest(&SHA256, bytes).as_ref())
}

fn date(t: Timestamp) -> String {
    t.to_rfc3339()
}

impl StartState {
    /// The facts of a start with `cfg`, its certificates (`what` → DER), the CAs it trusts
    /// and its secrets (`name` → bytes, digested here).
    pub fn of<'a>(
        cfg: &Config,
        certificates: impl IntoIterator<Item = (String, &'a [u8])>,
        trust: &[TrustFacts],
        secrets: impl IntoIterator<Item = (&'static str, Vec<u8>)>,
    ) -> Result<Self> {
        let toml = toml::to_string(cfg).map_err(|e| {
            crate::error::NodeError::failed(format!("cannot serialise the configuration: {e}"))
        })?;
        let config = serde_json::to_value(cfg).map_err(|e| {
            crate::error::NodeError::failed(format!("cannot serialise the configuration: {e}"))
        })?;
        let mut certs = BTreeMap::new();
        for (what, der) in certificates {
            let f = liaison_certs::facts::cert_facts(der)
                .map_err(|e| crate::error::NodeError::failed(format!("{what}: {e}")))?;
            certs.insert(what, CertLine::from(&f));
        }
        Ok(Self {
            config_sha256: sha256_hex(toml.as_bytes()),
            config,
            certificates: certs,
            trust: trust
                .iter()
                .map(|f| (f.ca.fingerprint.clone(), TrustLine::from(f)))
                .collect(),
            secrets: secrets
                .into_iter()
                .map(|(name, bytes)| (name.to_owned(), sha256_hex(&bytes)))
                .collect(),
        })
    }

    /// The state kept by the last start in `data_dir`, if any and readable.
    pub fn read(data_dir: &Path) -> Option<Self> {
        let bytes = std::fs::read(data_dir.join(START_STATE_FILE)).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "{START_STATE_FILE} does not read; this start is described as a first one");
                None
            }
        }
    }

    /// Keeps this state for the next start (owner-only, replaced atomically).
    pub fn write(&self, data_dir: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| {
            crate::error::NodeError::failed(format!("cannot serialise the start state: {e}"))
        })?;
        crate::files::write_durably(&data_dir.join(START_STATE_FILE), bytes)
            .map_err(|e| crate::error::NodeError::failed(e.to_string()))
    }
}

/// The administrative entries of a start (`fresh`: on an empty log): `start` (version,
/// address, configuration digest, and whether it changed), one `config-changed` per part of the configuration that
/// changed, one `certificate-loaded` per certificate presented, one `trust-loaded` per CA
/// trusted (with its CRL), `revocations-applied` per CRL that revokes more than at the last
/// start, and `key-created` / `key-changed` per secret.
pub fn start_acts(
    version: &str,
    listen: &str,
    fresh: bool,
    prev: Option<&StartState>,
    now: &StartState,
) -> Vec<(&'static str, String)> {
    let mut acts = Vec::new();
    let changed: Vec<String> = match prev {
        Some(p) => config_changes(&p.config, &now.config),
        None => vec![],
    };
    let since = match prev {
        None if fresh => "first start in this data dir".to_owned(),
        None => format!(
            "no facts kept from the last start ({START_STATE_FILE} is missing or unreadable): \
             what changed since is unknown"
        ),
        Some(p) if p.config_sha256 == now.config_sha256 => {
            "configuration unchanged since the last start".to_owned()
        }
        Some(_) => format!(
            "configuration changed since the last start: {}",
            changed
                .iter()
                .map(|c| c.split(':').next().unwrap_or(c))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    acts.push((
        "start",
        format!(
            "liaison {version} listening on {listen}; configuration sha256:{}; {since}",
            now.config_sha256
        ),
    ));
    for c in changed {
        acts.push(("config-changed", c));
    }
    for (what, c) in &now.certificates {
        let was = prev.and_then(|p| p.certificates.get(what));
        let news = match was {
            None if prev.is_some() => "; new since the last start".to_owned(),
            Some(w) if w.fingerprint != c.fingerprint => {
                format!("; replaces sha256:{} (serial {})", w.fingerprint, w.serial)
            }
            _ => String::new(),
        };
        acts.push((
            "certificate-loaded",
            format!(
                "{what}: sha256:{}, serial {}, valid until {}{news}",
                c.fingerprint,
                c.serial,
                date(c.not_after)
            ),
        ));
    }
    if let Some(p) = prev {
        for (what, c) in &p.certificates {
            if !now.certificates.contains_key(what) {
                acts.push((
                    "certificate-removed",
                    format!("{what}: sha256:{} is no longer presented", c.fingerprint),
                ));
            }
        }
    }
    for (fp, t) in &now.trust {
        let crl = match (t.crl_number, t.crl_next_update) {
            (Some(n), Some(next)) => format!(
                "CRL number {n}, next update {}, {} revoked",
                date(next),
                t.revoked.len()
            ),
            (Some(n), None) => format!("CRL number {n}, {} revoked", t.revoked.len()),
            _ => "no CRL".to_owned(),
        };
        let news = match prev {
            Some(p) if !p.trust.contains_key(fp) => "; newly trusted",
            _ => "",
        };
        acts.push((
            "trust-loaded",
            format!(
                "CA {} sha256:{fp}, valid until {}, from {}; {crl}{news}",
                t.subject,
                date(t.not_after),
                t.origin
            ),
        ));
        let before: BTreeSet<String> = prev
            .and_then(|p| p.trust.get(fp))
            .map(|w| w.revoked.clone())
            .unwrap_or_default();
        let added: Vec<&String> = t.revoked.difference(&before).collect();
        if !added.is_empty() {
            acts.push((
                "revocations-applied",
                format!(
                    "CA {} (CRL number {}) revokes serial {}",
                    t.subject,
                    t.crl_number.map_or("-".to_owned(), |n| n.to_string()),
                    added
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if let Some(p) = prev {
        for (fp, t) in &p.trust {
            if !now.trust.contains_key(fp) {
                acts.push((
                    "trust-removed",
                    format!("CA {} sha256:{fp} is no longer trusted", t.subject),
                ));
            }
        }
    }
    for (name, d) in &now.secrets {
        match prev.map(|p| p.secrets.get(name)) {
            None => {}
            Some(None) => acts.push(("key-created", format!("{name} (new since the last start)"))),
            Some(Some(w)) if w != d => acts.push(("key-changed", format!("{name} changed"))),
            Some(Some(_)) => {}
        }
    }
    if prev.is_none() && fresh {
        let names: Vec<&str> = now.secrets.keys().map(String::as_str).collect();
        acts.push(("key-created", format!("first start: {}", names.join(", "))));
    }
    acts
}

/// What changed between two configurations, one line per top-level part: lists by the
/// items added and removed, tables by the values that changed.
pub fn config_changes(before: &Value, after: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        let (old, new) = (b.get(k), a.get(k));
        if old == new {
            continue;
        }
        let line = match (old, new) {
            (Some(Value::Array(o)), Some(Value::Array(n))) => {
                let added: Vec<String> = n.iter().filter(|x| !o.contains(x)).map(inline).collect();
                let removed: Vec<String> =
                    o.iter().filter(|x| !n.contains(x)).map(inline).collect();
                let mut parts = vec![];
                if !added.is_empty() {
                    parts.push(format!("added {}", added.join("; ")));
                }
                if !removed.is_empty() {
                    parts.push(format!("removed {}", removed.join("; ")));
                }
                if parts.is_empty() {
                    parts.push("reordered".to_owned());
                }
                format!("{k}: {}", parts.join("; "))
            }
            (Some(Value::Object(o)), Some(Value::Object(n))) => {
                let sub: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
                let diffs: Vec<String> = sub
                    .into_iter()
                    .filter(|s| o.get(*s) != n.get(*s))
                    .map(|s| {
                        format!(
                            "{k}.{s} {} → {}",
                            o.get(s).map_or("(unset)".to_owned(), inline),
                            n.get(s).map_or("(unset)".to_owned(), inline)
                        )
                    })
                    .collect();
                format!("{k}: {}", diffs.join("; "))
            }
            (o, n) => format!(
                "{k}: {} → {}",
                o.map_or("(unset)".to_owned(), inline),
                n.map_or("(unset)".to_owned(), inline)
            ),
        };
        out.push(line);
    }
    out
}

/// A configuration value on one line: `key=value` pairs for a table.
fn inline(v: &Value) -> String {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", inline(v)))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Array(a) => format!("[{}]", a.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Which API principals had a sign-in recorded, and when: an API caller authenticates on
/// every request, so its sign-in is recorded once per [`SIGN_IN_RECORD_INTERVAL`], not per
/// request.
#[derive(Debug, Default)]
pub struct SignIns {
    last: Mutex<BTreeMap<String, Instant>>,
}

impl SignIns {
    /// Whether a sign-in of `key` (principal and method) is due to be recorded at `now`;
    /// if so, it counts as recorded.
    pub fn due(&self, key: &str, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match last.get(key) {
            Some(t) if now.duration_since(*t) < SIGN_IN_RECORD_INTERVAL => false,
            _ => {
                last.insert(key.to_owned(), now);
                true
            }
        }
    }
}

/// Records an administrative act; a failure is logged, not returned (the act happened).
pub async fn record(store: &crate::store::Store, act: &str, detail: String) {
    if let Err(e) = store
        .record(Event::Admin {
            act: act.to_owned(),
            detail: detail.clone(),
        })
        .await
    {
        tracing::warn!(act, detail, error = %e, "an administrative act could not be logged");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(config: Value, secret: &[u8], revoked: &[&str]) -> StartState {
        StartState {
            config_sha256: sha256_hex(config.to_string().as_bytes()),
            config,
            certificates: [(
                "identity caricc.central-asia".to_owned(),
                CertLine {
                    fingerprint: "aa".repeat(32),
                    serial: "01".into(),
                    not_after: Timestamp(0),
                },
            )]
            .into(),
            trust: [(
                "bb".repeat(32),
                TrustLine {
                    subject: "Liaison CA central-asia".into(),
                    origin: "/etc/liaison/ca.crt".into(),
                    not_after: Timestamp(0),
                    crl_number: Some(revoked.len() as u128 + 1),
                    crl_next_update: Some(Timestamp(0)),
                    revoked: revoked.iter().map(|s| s.to_string()).collect(),
                },
            )]
            .into(),
            secrets: [("sealing key".to_owned(), sha256_hex(secret))].into(),
        }
    }

    fn acts_named<'a>(acts: &'a [(&'static str, String)], name: &str) -> Vec<&'a str> {
        acts.iter()
            .filter(|(a, _)| *a == name)
            .map(|(_, d)| d.as_str())
            .collect()
    }

    #[test]
    fn a_first_start_records_what_it_runs_with() {
        let now = state(json!({"peers": []}), b"k", &[]);
        let acts = start_acts("1.0", "127.0.0.1:1", true, None, &now);
        let start = acts_named(&acts, "start");
        assert_eq!(start.len(), 1);
        assert!(start[0].contains("first start"), "{start:?}");
        assert!(start[0].contains(&now.config_sha256));
        assert_eq!(acts_named(&acts, "certificate-loaded").len(), 1);
        assert_eq!(acts_named(&acts, "trust-loaded").len(), 1);
        assert_eq!(
            acts_named(&acts, "key-created"),
            ["first start: sealing key"]
        );
        assert!(acts_named(&acts, "config-changed").is_empty());
    }

    #[test]
    fn a_later_start_says_what_changed() {
        let before = state(
            json!({"peers": [{"node_id": "a.x", "address": "1.2.3.4:1"}], "api": {"listen": "127.0.0.1:1"}}),
            b"k",
            &["05"],
        );
        let mut after = state(
            json!({"peers": [{"node_id": "b.x", "address": "1.2.3.4:2"}], "api": {"listen": "127.0.0.1:2"}, "routes": []}),
            b"k2",
            &["05", "07"],
        );
        after.certificates.values_mut().for_each(|c| {
            c.fingerprint = "cc".repeat(32);
            c.serial = "02".into();
        });
        let acts = start_acts("1.0", "127.0.0.1:1", false, Some(&before), &after);
        let start = acts_named(&acts, "start")[0];
        assert!(
            start.contains("changed since the last start: api, peers, routes"),
            "{start}"
        );
        let changes = acts_named(&acts, "config-changed");
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(
            changes[0].contains("api.listen 127.0.0.1:1 → 127.0.0.1:2"),
            "{changes:?}"
        );
        assert!(
            changes[1].contains("added address=1.2.3.4:2 node_id=b.x"),
            "{changes:?}"
        );
        assert!(
            changes[1].contains("removed address=1.2.3.4:1 node_id=a.x"),
            "{changes:?}"
        );
        assert!(changes[2].contains("routes: (unset) → []"), "{changes:?}");
        let cert = acts_named(&acts, "certificate-loaded")[0];
        assert!(
            cert.contains(&format!("replaces sha256:{} (serial 01)", "aa".repeat(32))),
            "{cert}"
        );
        assert_eq!(
            acts_named(&acts, "revocations-applied"),
            ["CA Liaison CA central-asia (CRL number 3) revokes serial 07"]
        );
        assert_eq!(acts_named(&acts, "key-changed"), ["sealing key changed"]);
    }

    #[test]
    fn an_unchanged_start_says_so_and_lists_no_change() {
        let s = state(json!({"peers": []}), b"k", &["05"]);
        let acts = start_acts("1.0", "127.0.0.1:1", false, Some(&s), &s);
        assert!(acts_named(&acts, "start")[0].contains("unchanged"));
        for name in [
            "config-changed",
            "revocations-applied",
            "key-changed",
            "key-created",
        ] {
            assert!(acts_named(&acts, name).is_empty(), "{name}");
        }
    }

    #[test]
    fn a_start_on_a_log_without_kept_facts_does_not_claim_to_be_the_first() {
        let now = state(json!({"peers": []}), b"k", &[]);
        let acts = start_acts("1.0", "127.0.0.1:1", false, None, &now);
        let start = acts_named(&acts, "start")[0];
        assert!(start.contains("what changed since is unknown"), "{start}");
        assert!(!start.contains("first start"), "{start}");
        assert!(acts_named(&acts, "key-created").is_empty());
        assert_eq!(acts_named(&acts, "trust-loaded").len(), 1);
    }

    #[test]
    fn an_api_sign_in_is_recorded_once_an_hour() {
        let s = SignIns::default();
        let t = Instant::now();
        assert!(s.due("alice officer certificate", t));
        assert!(!s.due("alice officer certificate", t + Duration::from_secs(10)));
        assert!(s.due("bob officer certificate", t));
        assert!(s.due("alice officer certificate", t + SIGN_IN_RECORD_INTERVAL));
    }
}
