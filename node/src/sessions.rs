//! The node's peers and routes ([`Sessions`]): the state of each configured peer's session,
//! the routes to nodes and networks that are not peers (configured and announced), and the
//! planning of a message's copies over them ([`liaison_protocol::routing`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use liaison_protocol::message::Body;
use liaison_protocol::routing::{Announcement, Plan, Route, RouteSource, Router};
use liaison_protocol::{NodeId, Timestamp};
use serde::Serialize;

/// What the node knows about a peer's session, for `status` and `peers`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerState {
    /// Outbound session established.
    pub connected: bool,
    /// When the current state began.
    pub since: Option<Timestamp>,
    /// Last error seen on this peer (reason code and detail).
    pub last_error: Option<String>,
    /// Messages sent on the current session.
    pub sent: u64,
    /// Receipts received on the current session.
    pub receipts: u64,
    /// When the certificate the peer presented last ends its validity.
    pub certificate_expires: Option<Timestamp>,
}

/// The configured peers' sessions and the routes beyond them.
pub struct Sessions {
    ids: Vec<NodeId>,
    state: Mutex<BTreeMap<NodeId, PeerState>>,
    wake: BTreeMap<NodeId, Arc<tokio::sync::Notify>>,
    routes: RwLock<Vec<Route>>,
}

impl Sessions {
    /// The sessions of the peers `ids` (none up yet), with the configured `routes`.
    pub(crate) fn new(ids: Vec<NodeId>, routes: Vec<Route>) -> Self {
        Self {
            state: Mutex::new(
                ids.iter()
                    .map(|p| (p.clone(), PeerState::default()))
                    .collect(),
            ),
            wake: ids
                .iter()
                .map(|p| (p.clone(), Arc::new(tokio::sync::Notify::new())))
                .collect(),
            routes: RwLock::new(routes),
            ids,
        }
    }

    /// The configured peers' ids.
    pub fn ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// Plans the copies of a message: deliver here (`me` are this node's identities), and
    /// which peers it goes to next (see [`liaison_protocol::routing`]). `from` is the peer it
    /// came from (none if this node originates it); `route` the relays it passed.
    pub fn plan(
        &self,
        me: &[NodeId],
        body: &Body,
        from: Option<&NodeId>,
        route: &[NodeId],
    ) -> Plan {
        // Runs for every message a node relays: borrow, do not copy, what it reads.
        let sessions = self.state.lock().ok();
        let up = |p: &NodeId| {
            sessions
                .as_ref()
                .and_then(|s| s.get(p))
                .is_some_and(|s| s.connected)
        };
        let routes = self.routes.read().ok();
        let mut avoid = route.to_vec();
        avoid.push(body.header.originator.clone());
        Router {
            me,
            peers: &self.ids,
            routes: routes.as_deref().map_or(&[], |r| r.as_slice()),
            up: &up,
        }
        .plan(&body.header.recipients, from, &avoid)
    }

    /// Updates a peer's session state.
    pub fn set(&self, id: &NodeId, f: impl FnOnce(&mut PeerState)) {
        if let Ok(mut peers) = self.state.lock() {
            f(peers.entry(id.clone()).or_default());
        }
    }

    /// Every peer's session state.
    pub fn states(&self) -> BTreeMap<NodeId, PeerState> {
        self.state.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The peers whose outbound session is up, but `except`.
    pub fn connected_but(&self, except: &NodeId) -> Vec<NodeId> {
        self.state
            .lock()
            .map(|p| {
                p.iter()
                    .filter(|(n, s)| *n != except && s.connected)
                    .map(|(n, _)| n.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What wakes the outbound session to `peer` out of its reconnect backoff.
    pub(crate) fn waker(&self, peer: &NodeId) -> Option<Arc<tokio::sync::Notify>> {
        self.wake.get(peer).cloned()
    }

    /// A configured peer has just connected to this node: it is reachable again, so the
    /// outbound session to it (which carries this node's outbox) stops waiting out its
    /// reconnect backoff and dials now. Nothing happens while that session is up.
    pub fn dialled_in(&self, peer: &NodeId) {
        let up = self
            .state
            .lock()
            .ok()
            .and_then(|p| p.get(peer).map(|s| s.connected))
            .unwrap_or(false);
        if let (false, Some(wake)) = (up, self.wake.get(peer)) {
            wake.notify_one();
        }
    }

    /// The routes known now.
    pub fn routes(&self) -> Vec<Route> {
        self.routes.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Takes in the routes of `peer`'s announcement: they replace those it announced before.
    /// Returns whether anything changed.
    pub(crate) fn learn_routes(&self, peer: &NodeId, a: &Announcement) -> bool {
        let Ok(mut routes) = self.routes.write() else {
            return false;
        };
        let mut fresh: Vec<Route> = routes
            .iter()
            .filter(|r| !(r.source == RouteSource::Announced && &r.via == peer))
            .cloned()
            .collect();
        fresh.extend(a.routes_via(peer));
        if fresh != *routes {
            *routes = fresh;
            true
        } else {
            false
        }
    }
}
