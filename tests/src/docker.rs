//! Real containers for scenario tests: the runtime image built offline by
//! `deploy/build-image.sh`, and a federation of `liaison` nodes, one container each, on Docker
//! networks of their own (one per regional network, plus a link network between gateways).
//!
//! The harness drives the `docker` CLI and talks to each node through the officer CLI inside
//! its container (`docker exec … liaison …`): the officer API listens on loopback only, so
//! that is also how an officer on the host would reach it. Everything a federation creates
//! carries a unique name prefix and is removed on drop, also when a test fails.
//!
//! A node may have a standby: a second container on the same configuration and data dir (the
//! same host directories, bind-mounted into both), created beside it and started only by the
//! scenario — an active/standby pair on shared storage, where the data dir's lock fences the
//! second process and [`Federation::take_over`] moves the node's address to the standby as a
//! VRRP or Pacemaker pair moves its floating address.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use liaison_node::config::Config;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The uid and gid the image runs the node as (deploy/Dockerfile).
pub const NODE_UID: u32 = 10001;
/// Where the harness mounts libfaketime in a container whose clock is offset.
const FAKETIME_IN_CONTAINER: &str = "/opt/faketime/libfaketimeMT.so.1";
/// libfaketime on the host (Debian's `libfaketime` package).
pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// Runs `docker` with `args`; its standard output, or an error with its standard error.
pub fn docker(args: &[&str]) -> Result<String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run docker {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "docker {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether a Docker engine answers.
pub fn engine_reachable() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the container scenario `test` can run here. Without a Docker engine it says so
/// loudly and returns false, except under CI (`CI=true`), where a missing engine fails the
/// test: CI must run these scenarios.
pub fn available(test: &str) -> bool {
    if engine_reachable() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(
        !ci,
        "{test}: no Docker engine is reachable, and CI is set: the container scenarios must run"
    );
    eprintln!(
        "\n!!!!!!!! SKIPPED {test}: no Docker engine is reachable (docker info failed). \
         The container scenarios did NOT run. !!!!!!!!\n"
    );
    false
}

/// One scenario at a time per test process: each starts several containers, and the
/// machine has two cores.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is inside the workspace")
        .to_owned()
}

/// The `liaison` binary the image is built from: `LIAISON_BINARY` if set, else the one of
/// this test binary's profile (`target/<profile>/liaison`), as it is when it is newer than
/// every source file of the node, protocol and certs crates, else built once with cargo.
pub fn binary() -> Result<&'static Path> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| find_or_build_binary().map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow!("{e}"))
}

fn find_or_build_binary() -> Result<PathBuf> {
    if let Some(b) = std::env::var_os("LIAISON_BINARY") {
        return Ok(PathBuf::from(b));
    }
    // target/<profile>/deps/<test binary>
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot find the target directory of this test binary")?;
    let bin = profile_dir.join("liaison");
    // `cargo test --workspace` (CI) has just built it: use it as it is. Calling cargo here
    // would build it a second time whenever the features it unifies differ from that run's.
    let newest_source = ["cli", "node", "store", "audit", "protocol", "certs"]
        .iter()
        .filter_map(|c| newest_mtime(&repo_root().join(c).join("src")))
        .max();
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
    if let (Some(built), Some(src)) = (built, newest_source) {
        if built >= src {
            return Ok(bin);
        }
    }
    let target = profile_dir.parent().context("no target directory")?;
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let started = Instant::now();
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo_root())
        .args([
            "build",
            "-p",
            "liaison-cli",
            "--bin",
            "liaison",
            "--target-dir",
        ])
        .arg(target);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build of the liaison binary failed");
    }
    eprintln!(
        "containers: liaison binary {} built in {:.1?}",
        bin.display(),
        started.elapsed()
    );
    Ok(bin)
}

/// The latest modification time of any file under `dir`.
fn newest_mtime(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else if let Ok(t) = meta.modified() {
                newest = newest.max(Some(t));
            }
        }
    }
    newest
}

/// The runtime image, built once per test process by `deploy/build-image.sh` from
/// [`binary`] (the debootstrapped base is cached between runs, so this takes seconds).
pub fn image() -> Result<&'static str> {
    static IMAGE: OnceLock<Result<String, String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| build_image().map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow!("{e}"))
}

fn build_image() -> Result<String> {
    let bin = binary()?;
    // One tag, rebuilt by each test process (cached layers: seconds); running containers
    // keep the image they were created from.
    let tag = "liaison:test".to_owned();
    let started = Instant::now();
    let out = Command::new(repo_root().join("deploy/build-image.sh"))
        .env("LIAISON_BINARY", bin)
        .env("LIAISON_IMAGE", &tag)
        .stdin(Stdio::null())
        .output()
        .context("cannot run deploy/build-image.sh")?;
    if !out.status.success() {
        bail!(
            "deploy/build-image.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("containers: image {tag} built in {:.1?}", started.elapsed());
    Ok(tag)
}

/// A node of a [`Federation`].
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// `centre.network`.
    pub id: String,
    /// Peers with the other network's gateway and relays between the networks.
    pub gateway: bool,
    /// A libfaketime offset for the container's clock (`+900`, in seconds), if any.
    pub clock_offset: Option<String>,
    /// Whether the node has a standby container (see [`NodeSpec::with_standby`]).
    pub standby: bool,
}

impl NodeSpec {
    /// A node.
    pub fn unit(id: &str) -> Self {
        Self {
            id: id.into(),
            gateway: false,
            clock_offset: None,
            standby: false,
        }
    }

    /// A gateway.
    pub fn gateway(id: &str) -> Self {
        Self {
            gateway: true,
            ..Self::unit(id)
        }
    }

    /// The same node with its clock offset by `offset` (libfaketime syntax, e.g. `+900`).
    pub fn clock(mut self, offset: &str) -> Self {
        self.clock_offset = Some(offset.into());
        self
    }

    /// The same node with a standby container: a second container of this node on the same
    /// configuration, identity and data dir (one bind mount of each, shared by both), at an
    /// address of its own on the node's regional network. Created with the node, never started
    /// by the harness: see [`Federation::start_standby`] and [`Federation::take_over`].
    pub fn with_standby(mut self) -> Self {
        self.standby = true;
        self
    }

    fn network(&self) -> &str {
        self.id.split_once('.').map_or("", |(_, n)| n)
    }

    fn centre(&self) -> &str {
        self.id.split_once('.').map_or("", |(c, _)| c)
    }
}

/// A running node's container.
#[derive(Clone, Debug)]
pub struct NodeBox {
    /// The node's spec.
    pub spec: NodeSpec,
    /// Container name.
    pub container: String,
    /// Its address on each Docker network it is attached to (by network key).
    pub ips: BTreeMap<String, Ipv4Addr>,
    /// Host directory mounted as /etc/liaison.
    pub etc: PathBuf,
    /// Host directory mounted as /var/lib/liaison.
    pub data: PathBuf,
    /// Its standby container, if its spec asked for one.
    pub standby: Option<Standby>,
}

/// A node's standby container: the same node, the same mounts, another container.
#[derive(Clone, Debug)]
pub struct Standby {
    /// Container name.
    pub container: String,
    /// Its own address on the node's regional network, until it takes the node's addresses
    /// over.
    pub ip: Ipv4Addr,
}

/// What a send loop did: how many sends it tried, and (k, id) of each one the node
/// acknowledged.
#[derive(Clone, Debug, Default)]
pub struct Sent {
    /// Sends tried.
    pub tried: usize,
    /// (k, id) of each message the node acknowledged.
    pub acknowledged: Vec<(u32, String)>,
}

/// How a container that stopped ended.
#[derive(Clone, Debug)]
pub struct Exited {
    /// The exit status of its process.
    pub code: i64,
    /// Its log (standard output and error).
    pub log: String,
}

/// A Docker network made for a federation.
#[derive(Clone, Debug)]
pub struct Net {
    /// The Docker network's name.
    pub name: String,
    /// The first address of its /24 subnet.
    pub base: Ipv4Addr,
}

impl Net {
    fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }
}

/// A federation of nodes in containers: one Docker network per regional network, a `link`
/// network between the gateways, certificates from each network's CA (made with the real
/// `liaison-certs` code), and configurations as `liaison demo` writes them (a star per
/// network, gateways peering across). Removed, containers and networks, on drop.
pub struct Federation {
    /// Name prefix of everything this federation created.
    pub prefix: String,
    dir: tempfile::TempDir,
    /// Docker networks by key (a regional network's name, or `link`).
    pub nets: BTreeMap<String, Net>,
    /// The nodes, in the order given.
    pub nodes: Vec<NodeBox>,
    /// The container serving a node, by node id, where it is not the node's own (after
    /// [`Federation::take_over`]).
    serving: Mutex<BTreeMap<String, String>>,
    image: String,
    passed: AtomicBool,
}

static SERIAL: AtomicUsize = AtomicUsize::new(0);

/// A node's configuration inside its container: `fields` (node id, identity, trust, peers,
/// routes, relay) plus what every node here shares; every other key at its default. Built
/// through serde, so that keys added to the configuration later keep their defaults.
fn node_config(mut fields: Value) -> Result<Config> {
    let common = json!({
        "data_dir": "/var/lib/liaison",
        "listen": "0.0.0.0:7400",
        "log_level": "info",
        "api": { "listen": "127.0.0.1:7443" },
        // Checkpoints every second, so witnessing keeps up with a short scenario.
        "checkpoints": { "interval_secs": 1 },
    });
    if let (Some(f), Value::Object(c)) = (fields.as_object_mut(), common) {
        f.extend(c);
    }
    serde_json::from_value(fields).context("a node configuration")
}

impl Federation {
    /// Creates the PKI, configurations, networks and containers, and starts every node.
    pub fn start(specs: &[NodeSpec]) -> Result<Self> {
        let image = image()?.to_owned();
        let prefix = format!(
            "lt{}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        let dir = tempfile::Builder::new()
            .prefix("liaison-containers-")
            .tempdir()?;
        let mut fed = Self {
            prefix,
            dir,
            nets: BTreeMap::new(),
            nodes: Vec::new(),
            serving: Mutex::new(BTreeMap::new()),
            image,
            passed: AtomicBool::new(false),
        };
        let networks: BTreeSet<String> = specs.iter().map(|s| s.network().to_owned()).collect();
        let mut keys: Vec<String> = networks.iter().cloned().collect();
        if specs.iter().filter(|s| s.gateway).count() > 1 {
            keys.push("link".into());
        }
        for key in &keys {
            fed.create_net(key)?;
        }
        // PKI: a CA per network, a certificate per node.
        let pki = fed.dir.path().join("pki");
        let now = OffsetDateTime::now_utc();
        for net in &networks {
            liaison_certs::create_network(
                &net.parse().map_err(|e| anyhow!("network {net}: {e:?}"))?,
                &pki.join(net),
                liaison_certs::Validity::days_from(now, 3650)?,
                now,
                liaison_certs::revocation::CRL_VALIDITY,
            )?;
        }
        // Addresses: .10 upwards in each network, in the order given; a standby's own
        // address is .100 plus the node's place in that order.
        let mut next: BTreeMap<String, u32> = BTreeMap::new();
        for (place, spec) in (0u32..).zip(specs) {
            let mut ips = BTreeMap::new();
            let mut attach = vec![spec.network().to_owned()];
            if spec.gateway && fed.nets.contains_key("link") {
                attach.push("link".into());
            }
            for key in attach {
                let n = next.entry(key.clone()).or_insert(10);
                ips.insert(key.clone(), fed.nets[&key].host(*n));
                *n += 1;
            }
            let home = fed.dir.path().join(spec.centre());
            let standby = spec.standby.then(|| Standby {
                container: format!("{}-{}-standby", fed.prefix, spec.centre()),
                ip: fed.nets[spec.network()].host(100 + place),
            });
            fed.nodes.push(NodeBox {
                spec: spec.clone(),
                container: format!("{}-{}", fed.prefix, spec.centre()),
                ips,
                etc: home.join("etc"),
                data: home.join("data"),
                standby,
            });
        }
        for i in 0..fed.nodes.len() {
            fed.write_config(i, &pki, &networks)?;
        }
        for i in 0..fed.nodes.len() {
            fed.create_container(i)?;
        }
        for n in &fed.nodes {
            docker(&["start", &n.container])?;
        }
        Ok(fed)
    }

    fn create_net(&mut self, key: &str) -> Result<()> {
        let name = format!("{}-{key}", self.prefix);
        // Fixed addresses need a subnet of our own: a /24 in 10.100.0.0–10.199.255.0,
        // starting from one derived from the process id, skipping any that overlap a
        // network the engine already has (another test process's, say).
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let seed = std::process::id() as usize * 7;
        let mut last = None;
        for _ in 0..64 {
            let n = (seed + NEXT.fetch_add(1, Ordering::Relaxed)) % 25_600;
            let base = Ipv4Addr::new(10, 100 + (n / 256) as u8, (n % 256) as u8, 0);
            let subnet = format!("{base}/24");
            match docker(&[
                "network",
                "create",
                "--label",
                "liaison-test=1",
                "--subnet",
                &subnet,
                &name,
            ]) {
                Ok(_) => {
                    self.nets.insert(key.into(), Net { name, base });
                    return Ok(());
                }
                Err(e) if e.to_string().contains("overlap") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("no free subnet for {name}")))
    }

    fn write_config(&self, i: usize, pki: &Path, networks: &BTreeSet<String>) -> Result<()> {
        let me = &self.nodes[i];
        let net = me.spec.network();
        std::fs::create_dir_all(&me.etc)?;
        std::fs::create_dir_all(&me.data)?;
        liaison_certs::issue_node_files(
            &pki.join(net),
            me.spec.centre(),
            &me.etc,
            liaison_certs::Validity::days_from(OffsetDateTime::now_utc(), 365)?,
        )?;
        for n in networks {
            let t = me.etc.join("trust").join(n);
            std::fs::create_dir_all(&t)?;
            std::fs::copy(pki.join(n).join("ca.crt"), t.join("ca.crt"))?;
            std::fs::copy(pki.join(n).join("crl.pem"), t.join("crl.pem"))?;
        }
        let gateway_of = |net: &str| {
            self.nodes
                .iter()
                .find(|n| n.spec.gateway && n.spec.network() == net)
        };
        let other = networks.iter().find(|n| n.as_str() != net);
        let mut peers = Vec::new();
        for p in &self.nodes {
            if p.spec.id == me.spec.id {
                continue;
            }
            let addr = if p.spec.network() == net {
                p.ips[net]
            } else if me.spec.gateway && p.spec.gateway {
                p.ips["link"]
            } else {
                continue;
            };
            peers.push(json!({
                "node_id": p.spec.id,
                "address": SocketAddr::new(addr.into(), 7400).to_string(),
            }));
        }
        let mut routes = Vec::new();
        let mut relay = Vec::new();
        if let Some(other) = other {
            if me.spec.gateway {
                if let Some(g) = gateway_of(other) {
                    routes.push(json!({
                        "to": format!("network:{other}"),
                        "via": g.spec.id,
                        "distance": 0,
                    }));
                }
                relay.push(json!({ "from": net, "to": [net, other] }));
                relay.push(json!({ "from": other, "to": [net] }));
            } else if let Some(g) = gateway_of(net) {
                routes.push(json!({
                    "to": format!("network:{other}"),
                    "via": g.spec.id,
                    "distance": 1,
                }));
            }
        }
        let trust: Vec<Value> = networks
            .iter()
            .map(|n| {
                json!({
                    "ca": format!("/etc/liaison/trust/{n}/ca.crt"),
                    "crl": format!("/etc/liaison/trust/{n}/crl.pem"),
                })
            })
            .collect();
        let cfg = node_config(json!({
            "node_id": me.spec.id,
            "identity": {
                "cert": format!("/etc/liaison/{}.crt", me.spec.id),
                "key": format!("/etc/liaison/{}.key", me.spec.id),
            },
            "trust": trust,
            "peers": peers,
            "routes": routes,
            "relay": relay,
        }))?;
        std::fs::write(me.etc.join("node.toml"), toml::to_string(&cfg)?)?;
        own_for_node(&me.etc)?;
        own_for_node(&me.data)?;
        Ok(())
    }

    fn create_container(&self, i: usize) -> Result<()> {
        let n = &self.nodes[i];
        let mut ips = n.ips.iter();
        let (first_key, first_ip) = ips.next().context("a node on no network")?;
        self.create(n, &n.container, n.spec.centre(), first_key, *first_ip)?;
        for (key, ip) in ips {
            docker(&[
                "network",
                "connect",
                "--ip",
                &ip.to_string(),
                &self.nets[key].name,
                &n.container,
            ])?;
        }
        if let Some(standby) = &n.standby {
            let hostname = format!("{}-standby", n.spec.centre());
            self.create(
                n,
                &standby.container,
                &hostname,
                n.spec.network(),
                standby.ip,
            )?;
        }
        Ok(())
    }

    /// `docker create` of a container running node `n` under `name`, attached to network
    /// `key` at `ip`, with the node's configuration and data dir mounted.
    fn create(
        &self,
        n: &NodeBox,
        name: &str,
        hostname: &str,
        key: &str,
        ip: Ipv4Addr,
    ) -> Result<()> {
        let etc = format!("{}:/etc/liaison:ro", n.etc.display());
        let data = format!("{}:/var/lib/liaison", n.data.display());
        let (net, ip) = (self.nets[key].name.clone(), ip.to_string());
        let mut args: Vec<String> = [
            "create",
            "--name",
            name,
            "--hostname",
            hostname,
            "--label",
            "liaison-test=1",
            "--network",
            &net,
            "--ip",
            &ip,
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "-v",
            &etc,
            "-v",
            &data,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(uid) = user_override() {
            args.extend(["--user".into(), uid]);
        }
        if let Some(offset) = &n.spec.clock_offset {
            args.extend([
                "-v".into(),
                format!("{FAKETIME_LIB}:{FAKETIME_IN_CONTAINER}:ro"),
                "-e".into(),
                format!("LD_PRELOAD={FAKETIME_IN_CONTAINER}"),
                "-e".into(),
                format!("FAKETIME={offset}"),
                "-e".into(),
                "FAKETIME_DONT_FAKE_MONOTONIC=1".into(),
                "-e".into(),
                "FAKETIME_DONT_RESET=1".into(),
            ]);
        }
        args.extend([self.image.clone(), "node".into(), "run".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&args).map(drop)
    }

    /// Marks the scenario as passed: dropping the federation then prints no node logs.
    pub fn passed(&self) {
        self.passed.store(true, Ordering::Relaxed);
    }

    /// The node with this id (or centre name).
    pub fn node(&self, id: &str) -> &NodeBox {
        self.nodes
            .iter()
            .find(|n| n.spec.id == id || n.spec.centre() == id)
            .unwrap_or_else(|| panic!("no node {id} in this federation"))
    }

    /// Runs the officer CLI in a node's container: `liaison <args>`.
    pub fn cli(&self, id: &str, args: &[&str]) -> Result<Output> {
        let c = &self.container(id);
        let mut all = vec!["exec", c.as_str(), "liaison"];
        all.extend_from_slice(args);
        Command::new("docker")
            .args(&all)
            .stdin(Stdio::null())
            .output()
            .context("cannot run docker exec")
    }

    /// `liaison <args> --json`, parsed.
    pub fn json(&self, id: &str, args: &[&str]) -> Result<Value> {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cli(id, &all)?;
        if !out.status.success() {
            bail!(
                "{id}: liaison {} failed: {}",
                all.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("{id}: liaison {} printed no JSON", all.join(" ")))
    }

    /// `liaison status`.
    pub fn status(&self, id: &str) -> Result<Value> {
        self.json(id, &["status"])
    }

    /// Whether every peer of `id` has a session up.
    pub fn connected(&self, id: &str) -> bool {
        self.status(id).is_ok_and(|s| {
            s["peers"]
                .as_array()
                .is_some_and(|p| p.iter().all(|p| p["connected"] == true))
        })
    }

    /// Waits until every running node's API answers and all its peers are connected.
    pub fn wait_connected(&self, ids: &[&str], limit: Duration) -> Result<()> {
        for id in ids {
            wait_for(&format!("{id} connected to its peers"), limit, || {
                Ok(self.connected(id))
            })?;
        }
        Ok(())
    }

    /// Every inbox item of a node, in inbox order.
    pub fn inbox(&self, id: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut from = 0u64;
        loop {
            let page = self.json(
                id,
                &["inbox", "--limit", "1000", "--from", &from.to_string()],
            )?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_from"].as_u64() {
                Some(n) => from = n,
                None => return Ok(items),
            }
        }
    }

    /// Sends alerts from `from` to `to` in one `docker exec` (a shell loop around
    /// `liaison send`, one every `gap_ms`) until [`Federation::stop_sending`] is called with
    /// the same `tag` (or `max` were sent); the text of message `k` is `<tag> <k>`. Returns
    /// (k, id) for each message the node acknowledged (the CLI printed its id). Blocks: run
    /// it on a thread of its own.
    pub fn send_loop(
        &self,
        from: &str,
        to: &str,
        tag: &str,
        max: u32,
        gap_ms: u32,
    ) -> Result<Vec<(u32, String)>> {
        Ok(self
            .send_loop_counted(from, to, tag, max, gap_ms)?
            .acknowledged)
    }

    /// As [`Federation::send_loop`], also counting the sends tried.
    pub fn send_loop_counted(
        &self,
        from: &str,
        to: &str,
        tag: &str,
        max: u32,
        gap_ms: u32,
    ) -> Result<Sent> {
        let script = format!(
            "k=0; while [ ! -e /tmp/stop.{tag} ] && [ $k -lt {max} ]; do \
               id=$(liaison send --to {to} --tlp GREEN --eval B2 --release {release} \
                    --text \"{tag} $k\" 2>>/tmp/send.{tag}.err) \
                 && echo \"$k $id\" || echo \"$k -\"; \
               k=$((k+1)); sleep {}; \
             done",
            f64::from(gap_ms) / 1000.0,
            release = self.release(from, to),
        );
        let c = &self.container(from);
        let out = Command::new("docker")
            .args(["exec", c, "bash", "-c", &script])
            .stdin(Stdio::null())
            .output()
            .context("cannot run docker exec")?;
        let out = String::from_utf8_lossy(&out.stdout);
        Ok(Sent {
            tried: out
                .lines()
                .filter(|l| {
                    l.split(' ')
                        .next()
                        .is_some_and(|k| k.parse::<u32>().is_ok())
                })
                .count(),
            acknowledged: parse_sent(&out),
        })
    }

    /// Releasability for a message from `from` to `to`: both their networks (the gateways
    /// on the way are members of one of them; a message released only to its recipient is
    /// refused by the first gateway, `releasability-violation`).
    fn release(&self, from: &str, to: &str) -> String {
        let a = self.node(from).spec.network().to_owned();
        let b = to.split_once('.').map_or(a.as_str(), |(_, n)| n).to_owned();
        if a == b {
            format!("network:{a}")
        } else {
            format!("network:{a},network:{b}")
        }
    }

    /// What a [`Federation::send_loop`] tagged `tag` in `from`'s container could not send
    /// (the CLI's error lines).
    pub fn send_errors(&self, from: &str, tag: &str) -> String {
        docker(&[
            "exec",
            &self.container(from),
            "cat",
            &format!("/tmp/send.{tag}.err"),
        ])
        .unwrap_or_default()
    }

    /// Ends the [`Federation::send_loop`] tagged `tag` running in `from`'s container.
    pub fn stop_sending(&self, from: &str, tag: &str) -> Result<()> {
        docker(&[
            "exec",
            &self.container(from),
            "touch",
            &format!("/tmp/stop.{tag}"),
        ])
        .map(drop)
    }

    /// Sends one alert with `liaison send` in `from`'s container; its id if the node
    /// acknowledged it, else what the CLI said (for example while the node restarts).
    pub fn send_one(
        &self,
        from: &str,
        to: &str,
        text: &str,
    ) -> std::result::Result<String, String> {
        let release = self.release(from, to);
        let args = [
            "send",
            "--to",
            to,
            "--tlp",
            "GREEN",
            "--eval",
            "B2",
            "--release",
            &release,
            "--text",
            text,
        ];
        let out = self.cli(from, &args).map_err(|e| format!("{e:#}"))?;
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && id.len() == 64 {
            Ok(id)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// `docker kill` (SIGKILL).
    pub fn kill(&self, id: &str) -> Result<()> {
        docker(&["kill", &self.container(id)]).map(drop)
    }

    /// `docker start`.
    pub fn start_node(&self, id: &str) -> Result<()> {
        docker(&["start", &self.container(id)]).map(drop)
    }

    /// `docker restart` (SIGTERM, then start again).
    pub fn restart(&self, id: &str) -> Result<()> {
        docker(&["restart", "-t", "20", &self.container(id)]).map(drop)
    }

    /// `docker stop` (SIGTERM: a clean shutdown).
    pub fn stop(&self, id: &str) -> Result<()> {
        docker(&["stop", "-t", "20", &self.container(id)]).map(drop)
    }

    /// Cuts a node off Docker network `key`.
    pub fn disconnect(&self, id: &str, key: &str) -> Result<()> {
        docker(&[
            "network",
            "disconnect",
            &self.nets[key].name,
            &self.container(id),
        ])
        .map(drop)
    }

    /// Attaches a node to Docker network `key` again, with its old address.
    pub fn reconnect(&self, id: &str, key: &str) -> Result<()> {
        let n = self.node(id);
        docker(&[
            "network",
            "connect",
            "--ip",
            &n.ips[key].to_string(),
            &self.nets[key].name,
            &n.container,
        ])
        .map(drop)
    }

    /// The last lines of a node's log.
    pub fn logs(&self, id: &str) -> String {
        container_logs(&self.container(id))
    }

    /// The container serving node `id`: its own, or its standby's after
    /// [`Federation::take_over`].
    pub fn container(&self, id: &str) -> String {
        let n = self.node(id);
        self.serving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&n.spec.id)
            .cloned()
            .unwrap_or_else(|| n.container.clone())
    }

    fn standby_of(&self, id: &str) -> Result<&Standby> {
        self.node(id)
            .standby
            .as_ref()
            .with_context(|| format!("{id} has no standby (NodeSpec::with_standby)"))
    }

    /// Starts `id`'s standby container where it stands (at its own address, on the shared
    /// data dir) whether or not the node runs: the start the data dir's lock must refuse
    /// while it does.
    pub fn start_standby(&self, id: &str) -> Result<()> {
        docker(&["start", &self.standby_of(id)?.container]).map(drop)
    }

    /// Waits up to `limit` for `container` to stop, and says how it ended; an error if it
    /// is still running then.
    pub fn wait_exited(&self, container: &str, limit: Duration) -> Result<Exited> {
        wait_for(&format!("{container} to stop"), limit, || {
            Ok(
                docker(&["inspect", "--format", "{{.State.Running}}", container])?.trim()
                    == "false",
            )
        })?;
        let code = docker(&["inspect", "--format", "{{.State.ExitCode}}", container])?;
        Ok(Exited {
            code: code
                .trim()
                .parse()
                .with_context(|| format!("exit code of {container}: {code:?}"))?,
            log: container_logs(container),
        })
    }

    /// Fails node `id` over to its standby container, as a VRRP or Pacemaker pair does once
    /// the active host is gone: moves the node's addresses (the ones its peers dial) from
    /// the active container to the standby and starts the standby there, on the same data
    /// dir. Docker refuses an address a running container holds, so stop or kill the active
    /// first. From then on every call about `id` goes to the standby.
    pub fn take_over(&self, id: &str) -> Result<()> {
        let n = self.node(id);
        let standby = self.standby_of(id)?;
        docker(&[
            "network",
            "disconnect",
            &self.nets[n.spec.network()].name,
            &standby.container,
        ])?;
        for (key, ip) in &n.ips {
            docker(&[
                "network",
                "connect",
                "--ip",
                &ip.to_string(),
                &self.nets[key].name,
                &standby.container,
            ])?;
        }
        docker(&["start", &standby.container])?;
        self.serving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(n.spec.id.clone(), standby.container.clone());
        Ok(())
    }

    /// Adds a stranger: a node of a network whose CA no member trusts, attached to the
    /// Docker network `key`, configured to peer with `peer` (and trusting `peer`'s CA, so
    /// that only the other side can refuse). Started.
    pub fn add_stranger(&mut self, key: &str, peer: &str) -> Result<String> {
        let pki = self.dir.path().join("rogue-pki");
        let now = OffsetDateTime::now_utc();
        liaison_certs::create_network(
            &"rogue".parse().map_err(|e| anyhow!("{e:?}"))?,
            &pki,
            liaison_certs::Validity::days_from(now, 3650)?,
            now,
            liaison_certs::revocation::CRL_VALIDITY,
        )?;
        let target = self.node(peer).clone();
        let net = &self.nets[key];
        let used = self
            .nodes
            .iter()
            .filter(|n| n.ips.contains_key(key))
            .count();
        let ip = net.host(10 + u32::try_from(used)? + 5);
        let spec = NodeSpec::unit("stranger.rogue");
        let home = self.dir.path().join("stranger");
        let n = NodeBox {
            spec,
            container: format!("{}-stranger", self.prefix),
            ips: BTreeMap::from([(key.to_owned(), ip)]),
            etc: home.join("etc"),
            data: home.join("data"),
            standby: None,
        };
        std::fs::create_dir_all(&n.etc)?;
        std::fs::create_dir_all(&n.data)?;
        liaison_certs::issue_node_files(
            &pki,
            "stranger",
            &n.etc,
            liaison_certs::Validity::days_from(now, 365)?,
        )?;
        let peer_net = target.spec.network().to_owned();
        let t = n.etc.join("trust");
        std::fs::create_dir_all(t.join("rogue"))?;
        std::fs::create_dir_all(t.join(&peer_net))?;
        std::fs::copy(pki.join("ca.crt"), t.join("rogue/ca.crt"))?;
        std::fs::copy(pki.join("crl.pem"), t.join("rogue/crl.pem"))?;
        std::fs::copy(
            target.etc.join("trust").join(&peer_net).join("ca.crt"),
            t.join(&peer_net).join("ca.crt"),
        )?;
        std::fs::copy(
            target.etc.join("trust").join(&peer_net).join("crl.pem"),
            t.join(&peer_net).join("crl.pem"),
        )?;
        let trust: Vec<Value> = ["rogue", peer_net.as_str()]
            .iter()
            .map(|net| {
                json!({
                    "ca": format!("/etc/liaison/trust/{net}/ca.crt"),
                    "crl": format!("/etc/liaison/trust/{net}/crl.pem"),
                })
            })
            .collect();
        let cfg = node_config(json!({
            "node_id": "stranger.rogue",
            "identity": {
                "cert": "/etc/liaison/stranger.rogue.crt",
                "key": "/etc/liaison/stranger.rogue.key",
            },
            "trust": trust,
            "peers": [{
                "node_id": target.spec.id,
                "address": SocketAddr::new(target.ips[key].into(), 7400).to_string(),
            }],
        }))?;
        std::fs::write(n.etc.join("node.toml"), toml::to_string(&cfg)?)?;
        own_for_node(&n.etc)?;
        own_for_node(&n.data)?;
        self.nodes.push(n);
        let i = self.nodes.len() - 1;
        self.create_container(i)?;
        docker(&["start", &self.nodes[i].container])?;
        Ok("stranger.rogue".into())
    }
}

impl Drop for Federation {
    fn drop(&mut self) {
        // A scenario that did not reach `passed` (an error, a panic) leaves the nodes' logs.
        if !self.passed.load(Ordering::Relaxed) {
            for n in &self.nodes {
                // A node with a standby: first the log of the container not serving it.
                let serving = self.container(&n.spec.id);
                let other = std::iter::once(&n.container)
                    .chain(n.standby.as_ref().map(|s| &s.container))
                    .find(|c| **c != serving);
                if let (Some(other), Some(_)) = (other, &n.standby) {
                    eprintln!(
                        "----- last log lines of {} ({other}) -----\n{}",
                        n.spec.id,
                        tail(&container_logs(other), 40),
                    );
                }
                eprintln!(
                    "----- last log lines of {} ({serving}) -----\n{}\n----- its status -----\n{}",
                    n.spec.id,
                    tail(&self.logs(&n.spec.id), 40),
                    self.cli(&n.spec.id, &["status"])
                        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                        .unwrap_or_default()
                );
            }
        }
        for n in &self.nodes {
            let _ = docker(&["rm", "-f", "-v", &n.container]);
            if let Some(standby) = &n.standby {
                let _ = docker(&["rm", "-f", "-v", &standby.container]);
            }
        }
        for net in self.nets.values() {
            let _ = docker(&["network", "rm", &net.name]);
        }
    }
}

/// The last lines of a container's log, standard output and error.
fn container_logs(container: &str) -> String {
    Command::new("docker")
        .args(["logs", "--tail", "400", container])
        .output()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default()
}

fn parse_sent(out: &str) -> Vec<(u32, String)> {
    out.lines()
        .filter_map(|l| {
            let (k, id) = l.split_once(' ')?;
            Some((k.parse().ok()?, id.trim().to_owned()))
        })
        .filter(|(_, id)| id.len() == 64)
        .collect()
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// When the test runs as root, files it makes for a node are handed to the image's user;
/// otherwise the container runs as the test's own user instead (see [`user_override`]).
fn own_for_node(dir: &Path) -> Result<()> {
    if user_override().is_some() {
        return Ok(());
    }
    let mut stack = vec![dir.to_owned()];
    while let Some(p) = stack.pop() {
        std::os::unix::fs::chown(&p, Some(NODE_UID), Some(NODE_UID))
            .with_context(|| format!("chown {}", p.display()))?;
        if p.is_dir() {
            for e in std::fs::read_dir(&p)? {
                stack.push(e?.path());
            }
        }
    }
    Ok(())
}

/// `uid:gid` to run containers as, when the test is not root (it cannot chown files to the
/// image's user then).
fn user_override() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // The owner of a file this process just made is its effective uid.
    let probe = std::env::temp_dir().join(format!("liaison-uid-{}", std::process::id()));
    std::fs::write(&probe, b"").ok()?;
    let meta = std::fs::metadata(&probe).ok()?;
    let _ = std::fs::remove_file(&probe);
    (meta.uid() != 0).then(|| format!("{}:{}", meta.uid(), meta.gid()))
}

/// Polls `cond` every 100 ms until it is true, failing after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> Result<bool>) -> Result<()> {
    let start = Instant::now();
    let mut last = None;
    loop {
        match cond() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = Some(e),
        }
        if start.elapsed() > limit {
            bail!(
                "timed out after {limit:?} waiting for {what}{}",
                last.map(|e| format!(" (last error: {e:#})"))
                    .unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An RFC 3339 timestamp from the API.
pub fn timestamp(v: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v.as_str()?, &Rfc3339).ok()
}

/// What a scenario saw of one sender's messages at one receiver.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Messages the sender acknowledged.
    pub sent: usize,
    /// Distinct ones in the receiver's inbox.
    pub delivered: usize,
    /// Inbox items beyond the first for the same id.
    pub duplicates: usize,
    /// Acknowledged messages missing from the inbox.
    pub missing: Vec<u32>,
    /// Whether the inbox holds them in the order they were sent.
    pub in_order: bool,
}

/// Compares what `sent` (k, id) says was acknowledged with a receiver's inbox.
pub fn delivery(sent: &[(u32, String)], inbox: &[Value]) -> Delivery {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for item in inbox {
        if let Some(id) = item["id"].as_str() {
            *count.entry(id).or_default() += 1;
        }
    }
    let ours: BTreeSet<&str> = sent.iter().map(|(_, id)| id.as_str()).collect();
    let order: Vec<&str> = inbox
        .iter()
        .filter_map(|i| i["id"].as_str())
        .filter(|id| ours.contains(id))
        .collect();
    let mut by_k = sent.to_vec();
    by_k.sort();
    let expected: Vec<&str> = by_k.iter().map(|(_, id)| id.as_str()).collect();
    let mut first = Vec::new();
    let mut seen = BTreeSet::new();
    for id in &order {
        if seen.insert(*id) {
            first.push(*id);
        }
    }
    Delivery {
        sent: sent.len(),
        delivered: seen.len(),
        duplicates: ours
            .iter()
            .map(|id| count.get(id).copied().unwrap_or(0).saturating_sub(1))
            .sum(),
        missing: by_k
            .iter()
            .filter(|(_, id)| !count.contains_key(id.as_str()))
            .map(|(k, _)| *k)
            .collect(),
        in_order: first == expected,
    }
}
