//! The node's configuration file (TOML).
//!
//! Every key is documented here and in `deploy/node.example.toml`. Unknown keys are errors
//! (a typo must not silently fall back to a default), and every file the configuration names
//! must exist at start-up; both errors name the key or file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use liaison_protocol::{NetworkId, NodeId};
use serde::Deserialize;

/// Why a configuration cannot be used. Each message names the setting at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read configuration file {file}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for a configuration (an unknown or missing field, a bad value).
    #[error("invalid configuration in {file}")]
    Parse {
        /// The file.
        file: String,
        /// Where and why.
        #[source]
        source: toml::de::Error,
    },
    /// The file parses but a setting is not valid.
    #[error("invalid configuration in {file}")]
    InFile {
        /// The file.
        file: String,
        /// Which setting and why.
        #[source]
        source: Box<ConfigError>,
    },
    /// A setting is not valid (the message names it).
    #[error("{0}")]
    Invalid(String),
}

/// Returns a [`ConfigError::Invalid`] with a formatted message.
macro_rules! invalid {
    ($($t:tt)*) => {
        return Err(ConfigError::Invalid(format!($($t)*)))
    };
}

/// A node's whole configuration.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This node's id, `<centre>.<network>`; must match the node certificate.
    pub node_id: NodeId,
    /// Directory for the log, outbox, inbox, checkpoints and API token. Created if absent.
    pub data_dir: PathBuf,
    /// UDP address the QUIC endpoint listens on.
    pub listen: SocketAddr,
    /// Log filter (`error`, `warn`, `info`, `debug`, or an `EnvFilter` directive).
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// `human` (default) or `json` structured logs.
    #[serde(default)]
    pub log_format: LogFormat,
    /// This node's certificate and key.
    pub identity: IdentityConfig,
    /// Further memberships: one certificate and key per other network this node belongs to
    /// (a gateway such as `caricc.central-asia` admitted to `inter-regional` as
    /// `caricc.inter-regional`). Each peer is shown the identity in its own network, or the
    /// main one.
    #[serde(default)]
    pub identities: Vec<IdentityConfig>,
    /// Trusted network CAs and their CRLs (one or, during a network's CA rollover, two per
    /// network).
    pub trust: Vec<TrustConfig>,
    /// Peers this node exchanges messages with.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// Routes to nodes and networks that are not direct peers.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Which networks this node relays between; none: it relays nothing (it only sends and
    /// receives its own messages).
    #[serde(default)]
    pub relay: Vec<RelayRule>,
    /// The local officer API.
    pub api: ApiConfig,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// How much may wait for one peer before this node's own sends are refused.
    #[serde(default)]
    pub outbox: OutboxConfig,
    /// Checkpoint policy.
    #[serde(default)]
    pub checkpoints: CheckpointConfig,
    /// Retention policy: when `liaison purge` deletes message bodies.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Deconfliction: comparing selectors with other centres as keyed hashes.
    #[serde(default)]
    pub deconfliction: DeconflictionConfig,
    /// Shared cases.
    #[serde(default)]
    pub cases: CasesConfig,
}

/// Shared cases.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CasesConfig {
    /// After how many seconds a case message of this node that a recipient has not received
    /// (no signed receipt back) is listed by `status` (default 900).
    pub gap_after_secs: u64,
}

impl Default for CasesConfig {
    fn default() -> Self {
        Self {
            gap_after_secs: 900,
        }
    }
}

/// Deconfliction (see `docs/DECISIONS.md`, "Deconfliction"): centres that hold the
/// federation's key send the keyed hashes of their selectors to the service node, which does
/// not hold the key, compares them and tells both centres of a match.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeconflictionConfig {
    /// The federation's deconfliction key (64 hex digits, mode 0600), made by
    /// `liaison certs deconfliction-key`. With it and `service`, this node submits the keyed
    /// hashes of the selectors in the messages and cases it originates.
    pub key_file: Option<PathBuf>,
    /// The node that runs the deconfliction service.
    pub service: Option<NodeId>,
    /// This node runs the deconfliction service. A node that serves must not hold the key.
    pub serve: bool,
    /// Country calling code added to phone numbers written in national form (e.g. `7`).
    pub country_code: Option<String>,
    /// National trunk prefix dropped before the country code is added (e.g. `8`).
    pub trunk_prefix: Option<String>,
}

/// Which message bodies `liaison purge` deletes: the first rule that matches a message
/// decides; a message no rule matches is kept. Log entries are never deleted.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// The rules, in order.
    pub rules: Vec<RetentionRule>,
}

pub use liaison_store::RetentionRule;

/// Structured log output format.
#[derive(Clone, Copy, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Certificate and private key files (PEM).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Node certificate (PEM), issued by `liaison certs issue-node`.
    pub cert: PathBuf,
    /// Node private key (PKCS#8 PEM, mode 0600).
    pub key: PathBuf,
}

/// One trusted network CA (or, from a bundle, a network's CAs). A network rolling its CA
/// over has two: two entries, or one bundle of both; the same CA twice is refused.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// A network CA certificate (PEM); with `crl`, or give `bundle` instead of both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// That CA's CRL (PEM). Required with `ca`: a network without a revocation list
    /// cannot revoke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl: Option<PathBuf>,
    /// A network's trust bundle (`liaison certs trust-bundle`: its CA certificates, each with
    /// its CRL, in one file), instead of `ca` and `crl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<PathBuf>,
}

impl TrustConfig {
    /// Where this entry's CAs and CRLs come from (after [`Config::validate`]).
    pub fn source(&self) -> liaison_certs::load::TrustSource<'_> {
        match (&self.bundle, &self.ca) {
            (Some(b), _) => liaison_certs::load::TrustSource::Bundle(b),
            (None, ca) => liaison_certs::load::TrustSource::Files {
                ca: ca.as_deref().unwrap_or(Path::new("")),
                crl: self.crl.as_deref(),
            },
        }
    }
}

/// One peer.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// The peer's node id; its certificate must name exactly this.
    pub node_id: NodeId,
    /// The peer's QUIC address.
    pub address: SocketAddr,
    /// Most messages waiting for this peer before bulk traffic to it is refused (default:
    /// `outbox.max_messages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_outbox_messages: Option<u64>,
    /// Most bytes of messages waiting for this peer before bulk traffic to it is refused
    /// (default: `outbox.max_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_outbox_bytes: Option<u64>,
}

/// A route: messages for `to` go to the peer `via`.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// A node id (`oman.gulf`) or a whole network (`network:gulf`).
    pub to: String,
    /// A configured peer.
    pub via: NodeId,
    /// Relays after `via` (0: `via` is the destination's gateway); the shortest route wins.
    #[serde(default)]
    pub distance: u8,
}

impl RouteConfig {
    /// The destination, parsed.
    pub fn destination(&self) -> Result<liaison_protocol::Recipient, ConfigError> {
        self.to
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("routes: to = {:?}: {e}", self.to)))
    }
}

/// Messages arriving from a peer in network `from` may be relayed to peers in networks `to`.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RelayRule {
    /// The network of the peer that hands a message over.
    pub from: NetworkId,
    /// Networks of the peers it may be handed on to.
    pub to: Vec<NetworkId>,
}

/// The local officer API.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Address to listen on; must be a loopback address.
    pub listen: SocketAddr,
    /// Token file for the CLI on this host (created with mode 0600 if absent);
    /// relative paths are inside `data_dir`.
    #[serde(default = "default_token_file")]
    pub token_file: PathBuf,
    /// Optional HTTPS address (loopback) for officers with client certificates: TLS 1.3,
    /// a certificate from `liaison certs issue-officer` for this node is required, and the
    /// officer's role comes from it. Absent: only the token listener runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_listen: Option<SocketAddr>,
    /// The certificate the HTTPS listener presents, for browsers: `<node>.console.crt` from
    /// `liaison certs console-tls` (ECDSA P-256; browsers cannot verify the node's Ed25519
    /// certificate). Absent: the node certificate, which only Liaison's own clients accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The key of `tls_cert` (`<node>.console.key`); required with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Most connections each listener holds at once, TLS handshakes included (default 256).
    /// At the cap a new connection is still served: the connection idle longest with no
    /// request in progress is closed to make room. The node lowers the cap at start-up if
    /// the open-file limit leaves too few descriptors, and says so in its log.
    #[serde(default = "default_api_max_connections")]
    pub max_connections: usize,
    /// Seconds a client has to send a request's complete headers, counted from the
    /// connection's opening (after the TLS handshake) or, on a kept-alive connection, from
    /// the request's first byte (default 10). Then the connection is closed.
    #[serde(default = "default_api_header_timeout")]
    pub header_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request before it is closed
    /// (default 60).
    #[serde(default = "default_api_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Seconds a client has to send a request's whole body once its headers are in
    /// (default 30); a body still arriving then is answered 408 and the connection closed.
    #[serde(default = "default_api_body_timeout")]
    pub body_timeout_secs: u64,
    /// Largest request body accepted, in bytes (default 2 MiB, at most 64 MiB); a larger one
    /// is answered 413 without being read.
    #[serde(default = "default_api_max_body")]
    pub max_body_bytes: usize,
}

/// Largest `api.max_body_bytes` accepted.
pub const MAX_API_BODY_CEILING: usize = 64 * 1024 * 1024;

fn default_api_max_connections() -> usize {
    256
}

fn default_api_header_timeout() -> u64 {
    10
}

fn default_api_idle_timeout() -> u64 {
    60
}

fn default_api_body_timeout() -> u64 {
    30
}

fn default_api_max_body() -> usize {
    2 * 1024 * 1024
}

/// Limits that protect the node from its peers.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest frame accepted or sent, in bytes (default 1 MiB).
    pub max_frame: usize,
    /// Largest accepted difference between a message's creation time and this node's clock, in seconds.
    pub clock_skew_secs: u64,
    /// Most concurrent peer connections accepted.
    pub max_connections: usize,
    /// Most messages per second accepted from one peer (excess waits, it is not dropped).
    pub peer_messages_per_sec: u32,
    /// Most messages sent in one batch before waiting for receipts.
    pub window: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame: liaison_protocol::limits::DEFAULT_MAX_FRAME,
            clock_skew_secs: 300,
            max_connections: 256,
            peer_messages_per_sec: 50_000,
            window: 4096,
        }
    }
}

/// How much may wait for one peer (its outbox: messages logged, not yet receipted) before
/// this node's own sends to it are refused, so that a peer that is down or slow cannot make
/// the sender's disk and memory grow without bound. Past a limit, bulk traffic is refused
/// (the API answers 503 with `Retry-After`); alerts and urgent requests still get in until
/// the limit plus `urgent_headroom_percent`. Nothing already accepted is ever dropped, and
/// messages relayed for other nodes are not refused by these limits.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Most messages waiting for one peer (a peer may set its own: `max_outbox_messages`).
    pub max_messages: u64,
    /// Most bytes of messages waiting for one peer (`max_outbox_bytes` per peer).
    pub max_bytes: u64,
    /// How far past the limits alerts and urgent requests still get in, in per cent.
    pub urgent_headroom_percent: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            max_messages: 1_000_000,
            max_bytes: 4 << 30,
            urgent_headroom_percent: 25,
        }
    }
}

impl Config {
    /// The outbox limits for `peer`: (messages, bytes) for bulk traffic, and the ceiling for
    /// alerts and urgent requests.
    pub fn outbox_limits(&self, peer: &NodeId) -> OutboxLimits {
        let p = self.peers.iter().find(|p| &p.node_id == peer);
        let messages = p
            .and_then(|p| p.max_outbox_messages)
            .unwrap_or(self.outbox.max_messages);
        let bytes = p
            .and_then(|p| p.max_outbox_bytes)
            .unwrap_or(self.outbox.max_bytes);
        let up =
            |v: u64| v.saturating_add(v.saturating_mul(self.outbox.urgent_headroom_percent) / 100);
        OutboxLimits {
            messages,
            bytes,
            urgent_messages: up(messages),
            urgent_bytes: up(bytes),
        }
    }
}

/// How much may wait for one peer (see [`OutboxConfig`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OutboxLimits {
    /// Messages, for bulk traffic.
    pub messages: u64,
    /// Bytes, for bulk traffic.
    pub bytes: u64,
    /// Messages, for alerts and urgent requests.
    pub urgent_messages: u64,
    /// Bytes, for alerts and urgent requests.
    pub urgent_bytes: u64,
}

/// When the node signs checkpoints of its log.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// Seconds between periodic checkpoints (only when the log grew). It bounds what a
    /// witness alone can notice: entries acknowledged after the last checkpoint, if the end of
    /// the journal is lost with them (docs/AUDIT.md, "What a node detects by itself").
    pub interval_secs: u64,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self { interval_secs: 2 }
    }
}

fn default_log_level() -> String {
    "info".into()
}

fn default_token_file() -> PathBuf {
    PathBuf::from("api.token")
}

impl Config {
    /// Reads and validates a configuration file. Relative paths are resolved against the
    /// file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let mut cfg: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            file: file.clone(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.resolve(base);
        cfg.validate().map_err(|source| ConfigError::InFile {
            file,
            source: Box::new(source),
        })?;
        Ok(cfg)
    }

    /// Makes relative paths absolute against `base`.
    pub fn resolve(&mut self, base: &Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        abs(&mut self.data_dir);
        abs(&mut self.identity.cert);
        abs(&mut self.identity.key);
        for i in &mut self.identities {
            abs(&mut i.cert);
            abs(&mut i.key);
        }
        for t in &mut self.trust {
            for f in [&mut t.ca, &mut t.crl, &mut t.bundle].into_iter().flatten() {
                abs(f);
            }
        }
        if let Some(k) = &mut self.deconfliction.key_file {
            abs(k);
        }
        for f in [&mut self.api.tls_cert, &mut self.api.tls_key]
            .into_iter()
            .flatten()
        {
            abs(f);
        }
        if self.api.token_file.is_relative() {
            self.api.token_file = self.data_dir.join(&self.api.token_file);
        }
    }

    /// Checks what TOML cannot: files exist, addresses are sane, peers are distinct.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let files = [
            ("identity.cert", &self.identity.cert),
            ("identity.key", &self.identity.key),
        ];
        for (key, f) in files {
            if !f.is_file() {
                invalid!("{key}: file {} does not exist", f.display());
            }
        }
        for (i, id) in self.identities.iter().enumerate() {
            for (what, f) in [("cert", &id.cert), ("key", &id.key)] {
                if !f.is_file() {
                    invalid!(
                        "identities[{i}].{what}: file {} does not exist",
                        f.display()
                    );
                }
            }
        }
        if self.trust.is_empty() {
            invalid!("trust: at least one network CA must be trusted");
        }
        for (i, t) in self.trust.iter().enumerate() {
            let files = match (&t.bundle, &t.ca, &t.crl) {
                (Some(b), None, None) => vec![("bundle", b)],
                (Some(_), _, _) => {
                    invalid!("trust[{i}]: give either bundle or ca and crl, not both")
                }
                (None, Some(ca), Some(crl)) => vec![("ca", ca), ("crl", crl)],
                (None, Some(_), None) => invalid!(
                    "trust[{i}].crl: required with ca (a network that cannot revoke is not trusted)"
                ),
                (None, None, _) => invalid!("trust[{i}]: give ca and crl, or bundle"),
            };
            for (key, f) in files {
                if !f.is_file() {
                    invalid!("trust[{i}].{key}: file {} does not exist", f.display());
                }
            }
        }
        if !self.api.listen.ip().is_loopback() {
            invalid!(
                "api.listen: {} is not a loopback address; the officer API is local only",
                self.api.listen
            );
        }
        if let Some(tls) = self.api.tls_listen {
            if !tls.ip().is_loopback() {
                invalid!(
                    "api.tls_listen: {tls} is not a loopback address; the officer API is local only"
                );
            }
        }
        if self.api.max_connections == 0 {
            invalid!("api.max_connections: must be at least 1");
        }
        for (key, secs) in [
            ("api.header_timeout_secs", self.api.header_timeout_secs),
            ("api.idle_timeout_secs", self.api.idle_timeout_secs),
            ("api.body_timeout_secs", self.api.body_timeout_secs),
        ] {
            if secs == 0 || secs > 3600 {
                invalid!("{key}: must be between 1 and 3600 seconds");
            }
        }
        if self.api.max_body_bytes < 4096 || self.api.max_body_bytes > MAX_API_BODY_CEILING {
            invalid!("api.max_body_bytes: must be between 4096 and {MAX_API_BODY_CEILING}");
        }
        match (&self.api.tls_cert, &self.api.tls_key) {
            (None, None) => {}
            (Some(_), None) => invalid!("api.tls_key: required with api.tls_cert"),
            (None, Some(_)) => invalid!("api.tls_cert: required with api.tls_key"),
            (Some(cert), Some(key)) => {
                if self.api.tls_listen.is_none() {
                    invalid!(
                        "api.tls_cert: set, but api.tls_listen is not (nothing would present it)"
                    );
                }
                for (what, f) in [("api.tls_cert", cert), ("api.tls_key", key)] {
                    if !f.is_file() {
                        invalid!("{what}: file {} does not exist", f.display());
                    }
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.peers {
            if p.node_id == self.node_id {
                invalid!("peers: {} is this node itself", p.node_id);
            }
            if !seen.insert(&p.node_id) {
                invalid!("peers: {} is listed twice", p.node_id);
            }
        }
        for (i, r) in self.routes.iter().enumerate() {
            r.destination()
                .map_err(|e| ConfigError::Invalid(format!("routes[{i}]: {e}")))?;
            if !seen.contains(&r.via) {
                invalid!("routes[{i}].via: {} is not a configured peer", r.via);
            }
        }
        if self.limits.max_frame < 1024
            || self.limits.max_frame > liaison_protocol::limits::MAX_FRAME_CEILING
        {
            invalid!(
                "limits.max_frame: must be between 1024 and {}",
                liaison_protocol::limits::MAX_FRAME_CEILING
            );
        }
        if self.limits.window == 0 {
            invalid!("limits.window: must be at least 1");
        }
        let frame = self.limits.max_frame as u64;
        if self.outbox.max_messages == 0 {
            invalid!("outbox.max_messages: must be at least 1");
        }
        if self.outbox.max_bytes < frame {
            invalid!("outbox.max_bytes: must be at least limits.max_frame ({frame} bytes)");
        }
        if self.outbox.urgent_headroom_percent > 1000 {
            invalid!("outbox.urgent_headroom_percent: must be at most 1000");
        }
        for (i, p) in self.peers.iter().enumerate() {
            if p.max_outbox_messages == Some(0) {
                invalid!("peers[{i}].max_outbox_messages: must be at least 1");
            }
            if p.max_outbox_bytes.is_some_and(|b| b < frame) {
                invalid!(
                    "peers[{i}].max_outbox_bytes: must be at least limits.max_frame ({frame} bytes)"
                );
            }
        }
        let d = &self.deconfliction;
        if let Some(k) = &d.key_file {
            if !k.is_file() {
                invalid!(
                    "deconfliction.key_file: file {} does not exist",
                    k.display()
                );
            }
            if d.serve {
                invalid!("deconfliction.serve: a node that runs the deconfliction service must not hold the key (remove deconfliction.key_file); otherwise it could test guesses against every centre's hashes");
            }
            if d.service.is_none() {
                invalid!("deconfliction.service: name the node that runs the deconfliction service (needed with key_file)");
            }
        }
        if let Some(cc) = &d.country_code {
            if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) {
                invalid!("deconfliction.country_code: {cc:?} is not a country calling code (1 to 3 digits, e.g. \"7\")");
            }
        }
        Ok(())
    }

    /// Whether a message from a peer in network `from` may be handed on to a peer in `to`.
    pub fn may_relay(&self, from: &str, to: &str) -> bool {
        self.relay
            .iter()
            .any(|r| r.from.as_str() == from && r.to.iter().any(|t| t.as_str() == to))
    }
}
