//! Real nodes for scenario tests: certificates and configuration files written to a temp
//! dir, nodes started in-process over real loopback QUIC with real stores on disk.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use liaison_certs::load::to_pem;
use liaison_node::compose::SendRequest;
use liaison_node::config::{
    ApiConfig, CheckpointConfig, Config, IdentityConfig, Limits, LogFormat, PeerConfig, TrustConfig,
};
use liaison_node::node::Node;
use liaison_protocol::NodeId;

use crate::TestPki;

/// A free UDP port on 127.0.0.1 for a node to listen on later, taken from below the kernel's
/// ephemeral range (see `free_port`).
pub fn free_udp_addr() -> SocketAddr {
    free_port("UDP", |port| {
        UdpSocket::bind(("127.0.0.1", port)).and_then(|s| s.local_addr())
    })
}

/// A free TCP port on 127.0.0.1 for a process started later to listen on, taken from below the
/// kernel's ephemeral range (see `free_port`).
/// A node started in this process should rather listen on port 0 and report what it bound.
pub fn free_tcp_addr() -> SocketAddr {
    free_port("TCP", |port| {
        TcpListener::bind(("127.0.0.1", port)).and_then(|s| s.local_addr())
    })
}

/// A port that `try_bind` could bind, for something to listen on later. Taken from below the
/// kernel's ephemeral range (32768 and up), in turn from a per-process counter, and checked
/// free: a port the kernel handed out for `:0` could be handed out again, to a client of a test
/// running alongside (an outgoing connection or a client endpoint), before the listener bound
/// it (CI failed twice with "address in use", once for QUIC and once for the HTTPS API).
fn free_port(what: &str, try_bind: impl Fn(u16) -> std::io::Result<SocketAddr>) -> SocketAddr {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 12_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Start where the process id points, so test binaries run one after another differ too.
    let start = (std::process::id() % u32::from(SPAN)) as u16;
    for _ in 0..SPAN {
        let port = FIRST + (start + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) % SPAN;
        if let Ok(addr) = try_bind(port) {
            return addr;
        }
    }
    panic!("no free {what} port between {FIRST} and {}", FIRST + SPAN)
}

/// A federation under construction: one PKI, a base dir, node definitions.
pub struct Cluster {
    /// Temp dir holding everything.
    pub dir: tempfile::TempDir,
    /// The PKI.
    pub pki: TestPki,
    /// Node id → its QUIC address.
    pub addrs: Vec<(NodeId, SocketAddr)>,
}

impl Cluster {
    /// A cluster over the given networks; CA and CRL files are written at once.
    pub fn new(networks: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = TestPki::new(networks);
        let c = Self {
            dir,
            pki,
            addrs: Vec::new(),
        };
        c.write_trust();
        c
    }

    /// (Re)writes every network's CA and current CRL to `<dir>/pki/<network>/`, and its
    /// trust bundle (CA + CRL in one file) beside them as `bundle.pem`.
    pub fn write_trust(&self) {
        for (name, net) in &self.pki.networks {
            let d = self.dir.path().join("pki").join(name);
            std::fs::create_dir_all(&d).expect("mkdir");
            let ca = to_pem("CERTIFICATE", net.ca.cert_der());
            let crl = to_pem("X509 CRL", &net.crl_der);
            std::fs::write(d.join("ca.crt"), &ca).expect("ca");
            std::fs::write(d.join("crl.pem"), &crl).expect("crl");
            std::fs::write(d.join("bundle.pem"), format!("{ca}{crl}")).expect("bundle");
        }
    }

    /// Reserves an address for a node id (call for every node before building configs).
    pub fn add(&mut self, node: &str) -> SocketAddr {
        let addr = free_udp_addr();
        self.addrs.push((node.parse().expect("node id"), addr));
        addr
    }

    /// Lets `other` (a second membership of a node, e.g. `caricc.inter-regional`) be dialled
    /// at the address reserved for `node`.
    pub fn alias(&mut self, other: &str, node: &str) {
        let addr = self.addr(node);
        self.addrs.push((other.parse().expect("node id"), addr));
    }

    /// Issues (once) a certificate for `other`, a further membership of `cfg`'s node, and
    /// adds it to the configuration's identities.
    pub fn add_identity(&self, cfg: &mut Config, other: &str) {
        let d = self.node_dir(cfg.node_id.as_str());
        std::fs::create_dir_all(&d).expect("mkdir");
        let cert = d.join(format!("{other}.crt"));
        let key = d.join(format!("{other}.key"));
        if !cert.exists() {
            let issued = self.pki.node(other);
            std::fs::write(&cert, &issued.cert_pem).expect("cert");
            write_secret(&key, issued.key_pem.as_bytes());
        }
        cfg.identities.push(IdentityConfig { cert, key });
    }

    /// The address reserved for a node.
    pub fn addr(&self, node: &str) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(n, _)| n.as_str() == node)
            .map(|(_, a)| *a)
            .expect("node added")
    }

    /// The node's directory.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.dir.path().join("nodes").join(node)
    }

    /// Issues (once) the node's certificate and writes a configuration peering it with `peers`.
    pub fn config(&self, node: &str, peers: &[&str]) -> Config {
        let d = self.node_dir(node);
        std::fs::create_dir_all(&d).expect("mkdir");
        let cert = d.join("node.crt");
        let key = d.join("node.key");
        if !cert.exists() {
            let issued = self.pki.node(node);
            std::fs::write(&cert, &issued.cert_pem).expect("cert");
            write_secret(&key, issued.key_pem.as_bytes());
        }
        Config {
            node_id: node.parse().expect("node id"),
            data_dir: d.join("data"),
            listen: self.addr(node),
            log_level: "info".into(),
            log_format: LogFormat::Human,
            identity: IdentityConfig { cert, key },
            trust: self
                .pki
                .networks
                .keys()
                .map(|n| {
                    // The node's own network from its CA and CRL files; the others from
                    // their trust bundles, as a gateway imports them.
                    let p = self.dir.path().join("pki").join(n);
                    if node.ends_with(&format!(".{n}")) {
                        TrustConfig {
                            ca: Some(p.join("ca.crt")),
                            crl: Some(p.join("crl.pem")),
                            bundle: None,
                        }
                    } else {
                        TrustConfig {
                            ca: None,
                            crl: None,
                            bundle: Some(p.join("bundle.pem")),
                        }
                    }
                })
                .collect(),
            peers: peers
                .iter()
                .map(|p| PeerConfig {
                    node_id: p.parse().expect("peer id"),
                    address: self.addr(p),
                    max_outbox_messages: None,
                    max_outbox_bytes: None,
                })
                .collect(),
            identities: vec![],
            routes: vec![],
            relay: vec![],
            // Struct update keeps this compiling as optional API fields are added.
            #[allow(clippy::needless_update)]
            api: ApiConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                token_file: d.join("data").join("api.token"),
                ..api_defaults()
            },
            limits: Limits::default(),
            outbox: Default::default(),
            checkpoints: CheckpointConfig::default(),
            retention: Default::default(),
            deconfliction: Default::default(),
            cases: Default::default(),
        }
    }
}

fn api_defaults() -> ApiConfig {
    toml_api()
}

/// An `ApiConfig` with every optional field at its default.
fn toml_api() -> ApiConfig {
    #[derive(serde::Deserialize)]
    struct W {
        api: ApiConfig,
    }
    let w: W = toml::from_str("[api]\nlisten = \"127.0.0.1:0\"\n").expect("api defaults");
    w.api
}

/// Writes a private key file readable by this account only (mode 0600), as the node demands.
pub fn write_secret(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .expect("key file");
    f.write_all(bytes).expect("write key");
}

/// A multi-threaded runtime of two workers with every driver enabled, for tests that run
/// nodes from plain `#[test]` functions.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Starts a node from a configuration.
pub async fn start(cfg: Config) -> Node {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Node::start(cfg).await.expect("node starts")
}

/// Waits until `cond` holds, checking every 20 ms, failing after `limit`.
pub async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `node` knows the sealing keys of `peers` (learnt from their announcements once
/// their sessions are up): content can then be sealed to them even while they are down.
pub async fn wait_keys(node: &Node, peers: &[&str]) {
    let ids: Vec<NodeId> = peers.iter().map(|p| p.parse().expect("node id")).collect();
    wait_for("sealing keys", Duration::from_secs(60), || {
        ids.iter()
            .all(|p| liaison_node::sealing::key_of(node.ctx().keys(), p).is_some())
    })
    .await;
}

/// A plain AMBER alert to `to`, released to the recipient's network and the sender's.
pub fn alert(to: &str, text: &str) -> SendRequest {
    let to_node: NodeId = to.parse().expect("node");
    SendRequest {
        kind: "alert".into(),
        to: vec![to.into()],
        tlp: "AMBER".into(),
        release: vec![format!("network:{}", to_node.network())],
        eval: "B2".into(),
        text: text.into(),
        lang: "en".into(),
        ..Default::default()
    }
}

/// A node as the `liaison` binary runs it: its configuration file, API address and token file.
pub struct NodeFiles {
    /// `<node dir>/node.toml`.
    pub config: PathBuf,
    /// The plain API listener (loopback, a free port).
    pub api: SocketAddr,
    /// The API token file the node creates at start.
    pub token_file: PathBuf,
}

impl Cluster {
    /// Writes `cfg`, with its API on a free port, as `<node dir>/node.toml` for a process.
    pub fn node_toml(&self, mut cfg: Config) -> NodeFiles {
        let api = free_tcp_addr();
        cfg.api.listen = api;
        let config = self.node_dir(cfg.node_id.as_str()).join("node.toml");
        std::fs::write(&config, toml::to_string(&cfg).expect("toml")).expect("node.toml");
        NodeFiles {
            config,
            api,
            token_file: cfg.data_dir.join(&cfg.api.token_file),
        }
    }
}

/// `GET /v1{path}` on a node process's plain API with the token the node wrote to
/// `token_file`: the body when it answers 200, `None` while it does not (not started yet,
/// stopped, or refusing).
pub fn api_get(api: SocketAddr, token_file: &Path, path: &str) -> Option<String> {
    let token = std::fs::read_to_string(token_file).ok()?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    let mut r = agent
        .get(format!("http://{api}/v1{path}"))
        .header("Authorization", format!("Bearer {}", token.trim()))
        .call()
        .ok()?;
    if r.status().as_u16() != 200 {
        return None;
    }
    r.body_mut().read_to_string().ok()
}

/// Starts `<bin> node run --config <config>`, its output appended to `log`.
pub fn spawn_node(bin: &str, config: &Path, log: &Path) -> std::process::Child {
    let log = std::fs::File::create(log).expect("log file");
    std::process::Command::new(bin)
        .args(["node", "run", "--config"])
        .arg(config)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .expect("start the node")
}
