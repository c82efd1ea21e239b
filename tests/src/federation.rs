//! A network of networks for scenario tests and benchmarks: three networks, seven nodes,
//! two gateways into the Gulf, real certificates, real QUIC on loopback, real stores.
//!
//! ```text
//!   central-asia                 inter-regional                     gulf
//!   kz ──┐                  ┌── caricc.ir ──┬── gcc.ir ──┐      ┌── oman
//!        ├── caricc.ca ═════╡               │            ╞═ gcc.gulf ──┤
//!   uz ──┘                  └──────── apicc.ir ──────────┘      └── uae
//!                                         ╚═ apicc.gulf ── oman, uae (second way in)
//! ```
//!
//! `caricc` (central-asia + inter-regional), `gcc` (gulf + inter-regional) and `apicc`
//! (inter-regional + gulf) are gateways with one certificate per network; each relays between
//! its networks in both directions. Units route other networks through their centre;
//! `caricc` reaches the Gulf through `gcc` (distance 0) or `apicc` (distance 1).

use std::time::Duration;

use liaison_node::compose::SendRequest;
use liaison_node::config::{Config, RelayRule, RouteConfig};
use liaison_node::node::Node;
use liaison_protocol::case::CaseState;
use liaison_protocol::{CaseId, MessageId};

use crate::cluster::{start, wait_for, Cluster};

/// How long scenario waits on the federation may take before they fail.
pub const LONG: Duration = Duration::from_secs(60);

/// Kazakh unit.
pub const KZ: &str = "kz.central-asia";
/// Uzbek unit.
pub const UZ: &str = "uz.central-asia";
/// CARICC, in central-asia.
pub const CARICC: &str = "caricc.central-asia";
/// CARICC, in inter-regional.
pub const CARICC_IR: &str = "caricc.inter-regional";
/// GCC-CIC, in gulf.
pub const GCC: &str = "gcc.gulf";
/// GCC-CIC, in inter-regional.
pub const GCC_IR: &str = "gcc.inter-regional";
/// APICC, in inter-regional.
pub const APICC: &str = "apicc.inter-regional";
/// APICC, in gulf.
pub const APICC_GULF: &str = "apicc.gulf";
/// Omani unit.
pub const OMAN: &str = "oman.gulf";
/// Emirati unit.
pub const UAE: &str = "uae.gulf";

/// The seven nodes, by main identity.
pub const NODES: [&str; 7] = [KZ, UZ, CARICC, GCC, APICC, OMAN, UAE];

/// The federation's certificates, addresses and configurations (nodes not started).
pub struct Federation {
    /// PKI, addresses, directories.
    pub cluster: Cluster,
    /// Configuration of each node, in [`NODES`] order.
    pub configs: Vec<Config>,
}

impl Federation {
    /// Builds the federation's PKI and configuration files.
    pub fn new() -> Self {
        let mut c = Cluster::new(&["central-asia", "gulf", "inter-regional"]);
        for n in NODES {
            c.add(n);
        }
        c.alias(CARICC_IR, CARICC);
        c.alias(GCC_IR, GCC);
        c.alias(APICC_GULF, APICC);
        let route = |to: &str, via: &str, distance: u8| RouteConfig {
            to: to.into(),
            via: via.parse().expect("via"),
            distance,
        };
        let relay = |from: &str, to: &[&str]| RelayRule {
            from: from.parse().expect("network"),
            to: to.iter().map(|t| t.parse().expect("network")).collect(),
        };
        let both = |a: &str, b: &str| vec![relay(a, &[a, b]), relay(b, &[a, b])];
        let mut configs = Vec::new();
        for n in NODES {
            let mut cfg = match n {
                KZ | UZ => {
                    let mut cfg = c.config(n, &[CARICC]);
                    cfg.routes = vec![
                        route("network:central-asia", CARICC, 0),
                        route("network:gulf", CARICC, 1),
                        route("network:inter-regional", CARICC, 0),
                    ];
                    cfg
                }
                CARICC => {
                    let mut cfg = c.config(n, &[KZ, UZ, GCC_IR, APICC]);
                    c.add_identity(&mut cfg, CARICC_IR);
                    cfg.routes = vec![
                        route("network:gulf", GCC_IR, 0),
                        route("network:gulf", APICC, 1),
                    ];
                    cfg.relay = both("central-asia", "inter-regional");
                    cfg
                }
                GCC => {
                    let mut cfg = c.config(n, &[OMAN, UAE, CARICC_IR, APICC]);
                    c.add_identity(&mut cfg, GCC_IR);
                    cfg.routes = vec![route("network:central-asia", CARICC_IR, 0)];
                    cfg.relay = both("gulf", "inter-regional");
                    cfg
                }
                APICC => {
                    let mut cfg = c.config(n, &[CARICC_IR, GCC_IR, OMAN, UAE]);
                    c.add_identity(&mut cfg, APICC_GULF);
                    cfg.routes = vec![route("network:central-asia", CARICC_IR, 0)];
                    cfg.relay = both("gulf", "inter-regional");
                    cfg
                }
                _ => {
                    let mut cfg = c.config(n, &[GCC, APICC_GULF]);
                    cfg.routes = vec![
                        route("network:gulf", GCC, 0),
                        route("network:central-asia", GCC, 1),
                        route("network:central-asia", APICC_GULF, 2),
                        route("network:inter-regional", GCC, 0),
                    ];
                    cfg
                }
            };
            cfg.checkpoints.interval_secs = 3600;
            configs.push(cfg);
        }
        Self {
            cluster: c,
            configs,
        }
    }

    /// The configuration of a node (by main identity).
    pub fn config(&self, node: &str) -> Config {
        self.configs
            .iter()
            .find(|c| c.node_id.as_str() == node)
            .cloned()
            .expect("a node of the federation")
    }
}

impl Default for Federation {
    fn default() -> Self {
        Self::new()
    }
}

/// The whole federation, started.
pub struct Running {
    /// The federation's files and configurations.
    pub fed: Federation,
    nodes: Vec<(String, Node)>,
}

impl Running {
    /// Starts every node of a new federation.
    pub async fn start() -> Self {
        Self::start_with(Federation::new()).await
    }

    /// Starts every node of `fed` (its configurations adjusted by the caller).
    pub async fn start_with(fed: Federation) -> Self {
        let mut nodes = Vec::new();
        for n in NODES {
            nodes.push((n.to_string(), start(fed.config(n)).await));
        }
        Self { fed, nodes }
    }

    /// The running nodes.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().map(|(_, n)| n)
    }

    /// A running node.
    pub fn node(&self, id: &str) -> &Node {
        &self.nodes.iter().find(|(n, _)| n == id).expect("node").1
    }

    /// Shuts a node down cleanly (its files stay).
    pub async fn stop(&mut self, id: &str) {
        let i = self.nodes.iter().position(|(n, _)| n == id).expect("node");
        let (_, node) = self.nodes.remove(i);
        node.shutdown().await.expect("shutdown");
    }

    /// Starts a stopped node again from its files.
    pub async fn restart(&mut self, id: &str) {
        self.nodes
            .push((id.to_string(), start(self.fed.config(id)).await));
    }

    /// Sends a message from a node; its id.
    pub async fn send(&self, from: &str, req: &SendRequest) -> MessageId {
        liaison_node::node::send(self.node(from).ctx(), req)
            .await
            .expect("sent")
            .id
    }

    /// Stops every node; the federation's files stay until the returned value is dropped.
    pub async fn shutdown(self) -> Federation {
        let mut all = tokio::task::JoinSet::new();
        for (_, n) in self.nodes {
            all.spawn(async move { n.shutdown().await.expect("shutdown") });
        }
        while all.join_next().await.is_some() {}
        self.fed
    }

    /// Whether `node` has a session up with `peer`.
    pub fn connected(&self, node: &str, peer: &str) -> bool {
        self.node(node)
            .status()
            .peers
            .iter()
            .any(|p| p.node.as_str() == peer && p.state.connected)
    }

    /// The case as `node` derives it now.
    pub fn case(&self, node: &str, case: &CaseId) -> CaseState {
        liaison_node::case::state(self.node(node).ctx(), case).expect("case state")
    }

    /// Waits until the case as `node` derives it meets `cond` (`what` names it in a failure).
    pub async fn wait_case(
        &self,
        node: &str,
        case: &CaseId,
        what: &str,
        cond: impl Fn(&CaseState) -> bool,
    ) {
        wait_for(&format!("{what} at {node}"), LONG, || {
            cond(&self.case(node, case))
        })
        .await;
    }

    /// Waits until `node`'s session with `peer` is up (or down).
    pub async fn wait_connected(&self, node: &str, peer: &str, up: bool) {
        wait_for(&format!("{node} → {peer} up={up}"), LONG, || {
            self.connected(node, peer) == up
        })
        .await;
    }

    /// The refusals in `id`'s trail at `node`: (signer, outcome).
    pub fn refusals(&self, node: &str, id: &MessageId) -> Vec<(String, String)> {
        self.hops(node, id)
            .into_iter()
            .filter(|(_, o)| o.starts_with("refused"))
            .collect()
    }

    /// Whether `id` is in `node`'s inbox.
    pub fn inbox_has(&self, node: &str, id: &MessageId) -> bool {
        self.node(node)
            .store()
            .inbox(0, usize::MAX)
            .expect("inbox")
            .iter()
            .any(|i| &i.state.facts.id == id)
    }

    /// The trail of `id` at `node`: (signer, outcome) of every hop answer.
    pub fn hops(&self, node: &str, id: &MessageId) -> Vec<(String, String)> {
        self.node(node)
            .store()
            .state(id)
            .expect("state")
            .map(|s| {
                s.hops
                    .iter()
                    .map(|h| (h.peer.to_string(), h.outcome.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until `signer` answered `outcome` about `id` in `node`'s trail.
    pub async fn wait_hop(&self, node: &str, id: &MessageId, signer: &str, outcome: &str) {
        wait_for(
            &format!("{signer}: {outcome} in the trail at {node}"),
            LONG,
            || {
                self.hops(node, id)
                    .iter()
                    .any(|(s, o)| s == signer && o == outcome)
            },
        )
        .await;
    }
}
