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
    /// The outbound session ended because the peer restarted, and is being dialled again at
    /// once: the peer is alive, so routing still counts it as up (see [`Sessions::plan`]).
    pub reconnecting: bool,
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

/// An outbound session up for less than this is not ended when its peer dials in (see
/// [`Sessions::dialled_in`]): longer than a peer's restart takes to reach it through a reset.
pub(crate) const FRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// The configured peers' sessions and the routes beyond them.
pub struct Sessions {
    ids: Vec<NodeId>,
    state: Mutex<BTreeMap<NodeId, PeerState>>,
    wake: BTreeMap<NodeId, Arc<tokio::sync::Notify>>,
    /// Per peer: bumped when the peer dials in while an earlier inbound connection of its
    /// is still open, i.e. it restarted; the outbound session then ends at once.
    restarted: BTreeMap<NodeId, tokio::sync::watch::Sender<u64>>,
    /// Per peer: inbound connections open now.
    inbound: Mutex<BTreeMap<NodeId, u32>>,
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
            restarted: ids
                .iter()
                .map(|p| (p.clone(), tokio::sync::watch::Sender::new(0)))
                .collect(),
            inbound: Mutex::new(BTreeMap::new()),
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
        // A peer dialled again after its restart is alive: what is routed meanwhile queues
        // behind what already waits for it, instead of overtaking it by another route.
        let up = |p: &NodeId| {
            sessions
                .as_ref()
                .and_then(|s| s.get(p))
                .is_some_and(|s| s.connected || s.reconnecting)
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
    /// reconnect backoff and dials now.
    ///
    /// While that session is up, a new connection from the peer is evidence that it
    /// restarted only if an earlier inbound connection of its is still open here: a running
    /// peer does not dial again while its connection stands, and a restarted one has lost
    /// it without telling. Then the outbound session, most likely on a connection the peer
    /// no longer holds, ends at once and dials again (instead of waiting for its next packet
    /// to meet the restarted peer's reset). Not when that session came up less than
    /// 2 s (`FRESH`) ago, though: after a restart the session is often dialled again (on the
    /// peer's reset) before the peer's own dial arrives, and is then already on the new
    /// process; a stale session that young is still ended by the reset or the idle timeout.
    /// Returns a guard that counts the new connection as open until dropped.
    pub fn dialled_in(&self, peer: &NodeId) -> InboundGuard<'_> {
        let earlier = {
            let mut inbound = self.inbound.lock().unwrap_or_else(|e| e.into_inner());
            let n = inbound.entry(peer.clone()).or_default();
            *n += 1;
            *n > 1
        };
        let t = liaison_store::now().millis();
        let (up, fresh) = self
            .state
            .lock()
            .ok()
            .and_then(|p| {
                p.get(peer).map(|s| {
                    let age = s.since.map(|at| t.saturating_sub(at.millis()));
                    (
                        s.connected,
                        age.is_some_and(|a| a < FRESH.as_millis() as u64),
                    )
                })
            })
            .unwrap_or((false, false));
        if !up {
            if let Some(wake) = self.wake.get(peer) {
                wake.notify_one();
            }
        } else if earlier && !fresh {
            if let Some(r) = self.restarted.get(peer) {
                r.send_modify(|n| *n += 1);
            }
        }
        InboundGuard {
            sessions: self,
            peer: peer.clone(),
        }
    }

    /// What tells the outbound session to `peer` that the peer restarted.
    pub(crate) fn restarts(&self, peer: &NodeId) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.restarted
            .get(peer)
            .map(tokio::sync::watch::Sender::subscribe)
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

/// An inbound connection counted as open (see [`Sessions::dialled_in`]) until dropped.
pub struct InboundGuard<'a> {
    sessions: &'a Sessions,
    peer: NodeId,
}

impl Drop for InboundGuard<'_> {
    fn drop(&mut self) {
        let mut inbound = self
            .sessions
            .inbound
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = inbound.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_connection_from_a_peer_whose_first_is_open_is_a_restart() {
        let peer: NodeId = "kz-dcu.central-asia".parse().unwrap();
        let s = Sessions::new(vec![peer.clone()], vec![]);
        let mut restarts = s.restarts(&peer).unwrap();
        // Up for a while (since the epoch).
        s.set(&peer, |p| {
            p.connected = true;
            p.since = Some(Timestamp(0));
        });
        let first = s.dialled_in(&peer);
        assert!(
            !restarts.has_changed().unwrap(),
            "a first connection is no evidence"
        );
        let second = s.dialled_in(&peer);
        assert!(
            restarts.has_changed().unwrap(),
            "a second while the first is open is"
        );
        restarts.borrow_and_update();
        drop((first, second));
        let third = s.dialled_in(&peer);
        assert!(
            !restarts.has_changed().unwrap(),
            "after the earlier ones closed it is not"
        );
        // With the outbound session down, a connection only wakes it.
        s.set(&peer, |p| p.connected = false);
        let _fourth = s.dialled_in(&peer);
        assert!(!restarts.has_changed().unwrap());
        drop(third);
    }

    #[test]
    fn a_session_that_just_came_up_is_not_ended_by_the_restarted_peers_own_dial() {
        let peer: NodeId = "kz-dcu.central-asia".parse().unwrap();
        let s = Sessions::new(vec![peer.clone()], vec![]);
        let mut restarts = s.restarts(&peer).unwrap();
        // The peer's old process's connection is still open here when its new process dials
        // in; the outbound session was dialled again a moment ago.
        let _old = s.dialled_in(&peer);
        s.set(&peer, |p| {
            p.connected = true;
            p.since = Some(liaison_store::now());
        });
        let _new = s.dialled_in(&peer);
        assert!(
            !restarts.has_changed().unwrap(),
            "a session younger than FRESH stays"
        );
        // The same evidence against a session up for longer ends it.
        s.set(&peer, |p| {
            p.since = Some(Timestamp(liaison_store::now().millis() - 3_000));
        });
        let _newer = s.dialled_in(&peer);
        assert!(restarts.has_changed().unwrap());
        restarts.borrow_and_update();
    }
}
