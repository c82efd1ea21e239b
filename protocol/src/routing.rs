//! Routing: which peers a message goes to next, for each of its recipients.
//!
//! Pure: the node supplies what it knows (its own identities, its peers, which sessions are
//! up, its routes from configuration and verified announcements), and [`Router::plan`]
//! answers with the copies to queue. Rules, in order, for each recipient:
//!
//! | recipient | rule |
//! |---|---|
//! | one of this node's identities | deliver here |
//! | a direct peer | send to it |
//! | another node | the best route whose destination is that node, else its network |
//! | a network this node or one of its peers is in | deliver here if a member; send to every peer in it (fan-out) |
//! | another network | the best route to that network |
//!
//! Never to the peer it came from, to the originator, or to a node already on its route
//! (loop prevention; a node that sees a message id again does not forward it again either).
//! "Best" is deterministic: a route whose peer is up before one that is down, then the
//! shorter distance, then configured before announced, then the smaller peer id.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::handling::Recipient;
use crate::ids::{NetworkId, NodeId};
use crate::signing::SignedMessage;

/// Most destinations one announcement lists.
pub const MAX_REACH: usize = 256;
/// Most sealing-key statements one announcement carries.
pub const MAX_KEYS: usize = 256;

/// A node's signed statement to a direct peer (sent as a message of kind `announce`, whose
/// originator must be that peer's connection identity): what the peer can reach through it,
/// and the sealing keys it knows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// Destinations reachable through the announcer, sorted, one entry each.
    pub reach: Vec<Reach>,
    /// Signed `sealing-key` messages (the announcer's own and those it learned).
    pub keys: Vec<SignedMessage>,
}

/// One reachable destination and how many relays lie beyond the announcer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reach {
    /// A node or a whole network.
    pub dest: Recipient,
    /// Relays after the announcer (0: it delivers or enters the network itself).
    pub distance: u8,
}

impl Announcement {
    /// Checks limits and canonical order.
    pub fn validate(&self) -> Result<(), DecodeError> {
        crate::entity::limit("announced destinations", self.reach.len(), MAX_REACH)?;
        crate::entity::limit("announced keys", self.keys.len(), MAX_KEYS)?;
        if !self.reach.windows(2).all(|w| w[0].dest < w[1].dest) {
            return Err(DecodeError::NonCanonical(
                "announced destinations (must be sorted, one entry each)",
            ));
        }
        for k in &self.keys {
            k.check_shape()?;
        }
        Ok(())
    }

    /// The routes a node learns from `peer`'s announcement (distances past the hop limit are
    /// dropped: they can only be counting to infinity).
    pub fn routes_via(&self, peer: &NodeId) -> Vec<Route> {
        self.reach
            .iter()
            .filter(|r| r.distance < crate::limits::MAX_HOP_LIMIT)
            .map(|r| Route {
                dest: r.dest.clone(),
                via: peer.clone(),
                distance: r.distance,
                source: RouteSource::Announced,
            })
            .collect()
    }
}

/// Where a route came from; configured routes win ties over announced ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteSource {
    /// The node's configuration.
    Config,
    /// A verified route announcement from the peer `via`.
    Announced,
}

/// Messages for `dest` can go to the peer `via`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    /// A node, or a whole network.
    pub dest: Recipient,
    /// The peer to hand them to.
    pub via: NodeId,
    /// Relays after `via` (0: `via` delivers or enters the network itself).
    pub distance: u8,
    /// Configured or announced.
    pub source: RouteSource,
}

/// What one copy of a message is for: the destination the handling checks judge.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// One node.
    Node(NodeId),
    /// A whole network, fanned out by the gateway that enters it.
    Network(NetworkId),
}

/// One copy to queue: to peer `next`, for `target`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Leg {
    /// The peer it goes to.
    pub next: NodeId,
    /// What it is for.
    pub target: Target,
}

/// The routing decision for one message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// This node is a recipient.
    pub deliver: bool,
    /// Copies to queue, sorted; a peer can appear once per target.
    pub legs: Vec<Leg>,
    /// Recipients with no route at all.
    pub unroutable: Vec<Recipient>,
    /// Recipients reached only through the peer the message came from, a relay before or
    /// its originator: their copies are theirs to send (a multi-recipient message reaches
    /// each node with every recipient in it), so nothing is sent and nothing refused here.
    pub behind: Vec<Recipient>,
}

impl Plan {
    /// The distinct next hops of the plan, sorted.
    pub fn next_hops(&self) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = self.legs.iter().map(|l| l.next.clone()).collect();
        v.dedup();
        v
    }
}

/// A node's routing knowledge.
pub struct Router<'a> {
    /// This node's identities (one per network it belongs to).
    pub me: &'a [NodeId],
    /// Its configured peers.
    pub peers: &'a [NodeId],
    /// Its routes (configured and announced).
    pub routes: &'a [Route],
    /// Whether the session to a peer is up now.
    pub up: &'a dyn Fn(&NodeId) -> bool,
}

impl Router<'_> {
    /// Plans the copies of a message for `recipients`, which arrived from `from` (none if
    /// this node originates it); `avoid` holds the originator and the relays on its route.
    pub fn plan(&self, recipients: &[Recipient], from: Option<&NodeId>, avoid: &[NodeId]) -> Plan {
        let usable = |p: &NodeId| Some(p) != from && !avoid.contains(p);
        let mut plan = Plan::default();
        for r in recipients {
            match r {
                Recipient::Node(n) => {
                    if self.me.contains(n) {
                        plan.deliver = true;
                    } else if self.peers.contains(n) {
                        if usable(n) {
                            plan.legs.push(Leg {
                                next: n.clone(),
                                target: Target::Node(n.clone()),
                            });
                        }
                    } else {
                        let net = n.network();
                        let rank = |d: &Recipient| match d {
                            Recipient::Node(x) => (x == n).then_some(0),
                            Recipient::Network(x) => (*x == net).then_some(1),
                        };
                        match self.best(rank, &usable) {
                            Some(via) => plan.legs.push(Leg {
                                next: via,
                                target: Target::Node(n.clone()),
                            }),
                            None if self.best(rank, &|_| true).is_some() => {
                                plan.behind.push(r.clone())
                            }
                            None => plan.unroutable.push(r.clone()),
                        }
                    }
                }
                Recipient::Network(net) => {
                    let member = self.me.iter().any(|m| m.network_str() == net.as_str());
                    plan.deliver |= member;
                    let inside: Vec<&NodeId> = self
                        .peers
                        .iter()
                        .filter(|p| p.network_str() == net.as_str())
                        .collect();
                    if !inside.is_empty() {
                        plan.legs
                            .extend(inside.into_iter().filter(|p| usable(p)).map(|p| Leg {
                                next: p.clone(),
                                target: Target::Node(p.clone()),
                            }));
                    } else if !member {
                        let rank = |d: &Recipient| {
                            matches!(d, Recipient::Network(x) if x == net).then_some(0)
                        };
                        match self.best(rank, &usable) {
                            Some(via) => plan.legs.push(Leg {
                                next: via,
                                target: Target::Network(net.clone()),
                            }),
                            None if self.best(rank, &|_| true).is_some() => {
                                plan.behind.push(r.clone())
                            }
                            None => plan.unroutable.push(r.clone()),
                        }
                    }
                }
            }
        }
        plan.legs.sort();
        plan.legs.dedup();
        plan
    }

    /// The best usable route among those `rank` matches (lower rank first).
    fn best(
        &self,
        rank: impl Fn(&Recipient) -> Option<u8>,
        usable: &dyn Fn(&NodeId) -> bool,
    ) -> Option<NodeId> {
        self.routes
            .iter()
            .filter(|r| self.peers.contains(&r.via) && usable(&r.via))
            .filter_map(|r| {
                rank(&r.dest).map(|k| (k, !(self.up)(&r.via), r.distance, r.source, &r.via))
            })
            .min()
            .map(|(.., via)| via.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> NodeId {
        s.parse().unwrap()
    }
    fn net(s: &str) -> Recipient {
        Recipient::Network(s.parse().unwrap())
    }
    fn route(dest: Recipient, via: &str, distance: u8, source: RouteSource) -> Route {
        Route {
            dest,
            via: n(via),
            distance,
            source,
        }
    }

    /// caricc is a gateway: `caricc.central-asia` and `caricc.inter-regional`.
    fn caricc_plan(
        routes: &[Route],
        up: &dyn Fn(&NodeId) -> bool,
        to: &[Recipient],
        from: Option<&NodeId>,
        avoid: &[NodeId],
    ) -> Plan {
        let me = [n("caricc.central-asia"), n("caricc.inter-regional")];
        let peers = [
            n("kz.central-asia"),
            n("uz.central-asia"),
            n("gcc.inter-regional"),
            n("apicc.inter-regional"),
        ];
        Router {
            me: &me,
            peers: &peers,
            routes,
            up,
        }
        .plan(to, from, avoid)
    }

    fn legs(p: &Plan) -> Vec<(String, String)> {
        p.legs
            .iter()
            .map(|l| {
                let t = match &l.target {
                    Target::Node(x) => x.to_string(),
                    Target::Network(x) => format!("network:{x}"),
                };
                (l.next.to_string(), t)
            })
            .collect()
    }

    #[test]
    fn delivers_to_any_identity_and_sends_direct_peers_directly() {
        let p = caricc_plan(
            &[],
            &|_| true,
            &[
                Recipient::Node(n("caricc.inter-regional")),
                Recipient::Node(n("uz.central-asia")),
            ],
            Some(&n("kz.central-asia")),
            &[],
        );
        assert!(p.deliver);
        assert_eq!(
            legs(&p),
            [("uz.central-asia".into(), "uz.central-asia".into())]
        );
        assert!(p.unroutable.is_empty());
    }

    #[test]
    fn routes_by_node_before_network_then_up_distance_source_and_id() {
        let oman = [Recipient::Node(n("oman.gulf"))];
        let both = [
            route(net("gulf"), "apicc.inter-regional", 1, RouteSource::Config),
            route(net("gulf"), "gcc.inter-regional", 0, RouteSource::Announced),
        ];
        let p = caricc_plan(&both, &|_| true, &oman, None, &[]);
        assert_eq!(
            legs(&p),
            [("gcc.inter-regional".into(), "oman.gulf".into())]
        );
        // The shorter route's peer is down: the other one, which is up, is taken.
        let p = caricc_plan(
            &both,
            &|p| p.as_str() != "gcc.inter-regional",
            &oman,
            None,
            &[],
        );
        assert_eq!(
            legs(&p),
            [("apicc.inter-regional".into(), "oman.gulf".into())]
        );
        // Both down: the better one, where the message waits.
        let p = caricc_plan(&both, &|_| false, &oman, None, &[]);
        assert_eq!(p.next_hops(), [n("gcc.inter-regional")]);
        // A route to the node itself beats a route to its network.
        let mut exact = both.to_vec();
        exact.push(route(
            oman[0].clone(),
            "apicc.inter-regional",
            5,
            RouteSource::Announced,
        ));
        let p = caricc_plan(&exact, &|_| true, &oman, None, &[]);
        assert_eq!(p.next_hops(), [n("apicc.inter-regional")]);
        // Equal in all else: configured, then the smaller id.
        let tie = [
            route(net("gulf"), "gcc.inter-regional", 0, RouteSource::Announced),
            route(net("gulf"), "apicc.inter-regional", 0, RouteSource::Config),
        ];
        let p = caricc_plan(&tie, &|_| true, &oman, None, &[]);
        assert_eq!(p.next_hops(), [n("apicc.inter-regional")]);
        let tie = [
            route(net("gulf"), "gcc.inter-regional", 0, RouteSource::Config),
            route(net("gulf"), "apicc.inter-regional", 0, RouteSource::Config),
        ];
        let p = caricc_plan(&tie, &|_| true, &oman, None, &[]);
        assert_eq!(p.next_hops(), [n("apicc.inter-regional")]);
    }

    #[test]
    fn never_back_to_the_sender_the_originator_or_the_route() {
        let routes = [
            route(net("gulf"), "gcc.inter-regional", 0, RouteSource::Config),
            route(net("gulf"), "apicc.inter-regional", 1, RouteSource::Config),
        ];
        let oman = [Recipient::Node(n("oman.gulf"))];
        let p = caricc_plan(
            &routes,
            &|_| true,
            &oman,
            Some(&n("gcc.inter-regional")),
            &[],
        );
        assert_eq!(p.next_hops(), [n("apicc.inter-regional")]);
        let p = caricc_plan(
            &routes,
            &|_| true,
            &oman,
            Some(&n("gcc.inter-regional")),
            &[n("apicc.inter-regional")],
        );
        assert!(p.legs.is_empty());
        assert!(p.unroutable.is_empty());
        assert_eq!(
            p.behind, oman,
            "only through where it came from: theirs to send"
        );
        // A direct peer on the route is not sent back either.
        let p = caricc_plan(
            &[],
            &|_| true,
            &[Recipient::Node(n("kz.central-asia"))],
            None,
            &[n("kz.central-asia")],
        );
        assert!(p.legs.is_empty() && p.unroutable.is_empty());
    }

    #[test]
    fn networks_fan_out_to_peers_inside_or_route_to_a_gateway() {
        let routes = [route(
            net("gulf"),
            "gcc.inter-regional",
            0,
            RouteSource::Config,
        )];
        let p = caricc_plan(
            &routes,
            &|_| true,
            &[net("central-asia"), net("gulf")],
            Some(&n("kz.central-asia")),
            &[],
        );
        assert!(p.deliver, "caricc is in central-asia");
        assert_eq!(
            legs(&p),
            [
                ("gcc.inter-regional".into(), "network:gulf".into()),
                ("uz.central-asia".into(), "uz.central-asia".into()),
            ]
        );
        let p = caricc_plan(&[], &|_| true, &[net("gulf")], None, &[]);
        assert!(!p.deliver);
        assert_eq!(p.unroutable, [net("gulf")]);
    }
}
