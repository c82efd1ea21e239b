//! The node's shared core: the context every task of a running node holds ([`Ctx`]: its
//! identities, trust, store, peers' session state, routes, sealing keys), what it reports
//! ([`Status`], [`Sent`]), and the helpers every service uses (signing control messages,
//! planning copies, running work off the async workers).
//!
//! The services (exchange, cases, consent, relay, deconfliction, witness) take the context;
//! [`crate::node`] builds it and starts them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use liaison_protocol::log::MessageFacts;
use liaison_protocol::message::{self, Body, Header, Kind, Receipt, ReceiptStatus};
use liaison_protocol::routing::{Plan, Route, Router};
use liaison_protocol::seal::SealingSecret;
use liaison_protocol::{
    Envelope, Evaluation, Handling, MessageId, NodeId, Recipient, Release, SignedMessage, Signer,
    Timestamp, Tlp, TrustStore,
};
use ring::rand::SecureRandom;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, PeerConfig};
use crate::error::{NodeError, Result};
use crate::refusal::Refusal;
use crate::store::{now, Store};

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
}

/// One peer in the status report.
#[derive(Clone, Debug, Serialize)]
pub struct PeerStatus {
    /// Peer node id.
    pub node: NodeId,
    /// Configured address.
    pub address: SocketAddr,
    /// Session state.
    #[serde(flatten)]
    pub state: PeerState,
    /// Messages waiting for this peer's receipt.
    pub outbox: u64,
}

/// The node's status report (`liaison status`).
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// This node.
    pub node: NodeId,
    /// QUIC address.
    pub listen: SocketAddr,
    /// Log entries.
    pub log_size: u64,
    /// Current tree root (hex).
    pub log_root: String,
    /// Last signed checkpoint.
    pub last_checkpoint: Option<String>,
    /// Inbox messages not yet acknowledged.
    pub unread: u64,
    /// Peers.
    pub peers: Vec<PeerStatus>,
    /// Alarms raised since start-up (or since a supervisor cleared them), one per kind and
    /// subject, with counts.
    pub alarms: Vec<crate::alarm::Alarm>,
    /// Store size on disk, bytes.
    pub disk_bytes: u64,
    /// Messages whose stored copy is damaged.
    pub damaged_messages: u64,
    /// The last check of every stored body (none until the first finishes after start-up).
    pub store_check: Option<crate::store::ScrubReport>,
}

/// What `send` did.
#[derive(Clone, Debug, Serialize)]
pub struct Sent {
    /// The message id.
    pub id: MessageId,
    /// Log index of the `sent` entry.
    pub leaf: u64,
    /// Next hops it was queued for.
    pub next_hops: Vec<NodeId>,
}

/// Shared by every task of a node.
pub struct Ctx {
    /// This node.
    pub id: NodeId,
    /// Configuration.
    pub cfg: Config,
    /// Signing identity.
    pub signer: Arc<Signer>,
    /// Trusted networks.
    pub trust: Arc<TrustStore>,
    /// Durable state.
    pub store: Store,
    /// Per-peer session state.
    pub peers: Mutex<BTreeMap<NodeId, PeerState>>,
    /// Alarms (shared with the store).
    pub alarms: Arc<crate::alarm::Alarms>,
    /// Cancelled on shutdown.
    pub cancel: CancellationToken,
    /// Serialises witnessing decisions (see `crate::witness`).
    pub witness_lock: tokio::sync::Mutex<()>,
    /// This node's identities, one per network it belongs to; the main one first.
    pub identities: Vec<Identity>,
    /// Routes to nodes and networks that are not direct peers.
    pub routes: std::sync::RwLock<Vec<Route>>,
    /// The configured peers' ids.
    pub peer_ids: Vec<NodeId>,
    /// Per configured peer: wakes its outbound session's reconnect (see [`Ctx::peer_dialled_in`]).
    pub peer_wake: BTreeMap<NodeId, Arc<tokio::sync::Notify>>,
    /// This node's sealing secret (see `crate::directory`).
    pub sealing: SealingSecret,
    /// This node's signed sealing-key statements, one per identity.
    pub own_statements: Vec<SignedMessage>,
    /// The sealing keys this node knows.
    pub directory: std::sync::RwLock<crate::keys::Directory>,
    /// Agreements with recipients' sealing keys, reused for a while.
    pub shares: Mutex<crate::keys::Shares>,
    /// Bumped whenever the directory learns a key.
    pub keys_learned: tokio::sync::watch::Sender<u64>,
    /// The federation's deconfliction key, if this node submits selectors.
    pub selector_key: Option<liaison_protocol::selector::SelectorKey>,
    /// The deconfliction service's index, if this node runs the service.
    pub deconfliction: std::sync::OnceLock<Mutex<crate::selector_index::Service>>,
    /// The cases this node holds, kept derived (see `crate::case_cache`).
    pub cases: crate::case_cache::CaseCache,
    pub(crate) rng: ring::rand::SystemRandom,
}

/// One membership of this node: its signer and the TLS client configuration that presents
/// the same certificate.
pub struct Identity {
    /// Signs what this node says to peers of that network.
    pub signer: Arc<Signer>,
    /// Presents the certificate when dialling.
    pub client: quinn::ClientConfig,
}

impl Ctx {
    /// Whether `node` is one of this node's identities.
    pub fn is_me(&self, node: &NodeId) -> bool {
        self.identities.iter().any(|i| i.signer.node() == node)
    }

    /// This node's identities.
    pub fn me(&self) -> Vec<NodeId> {
        self.identities
            .iter()
            .map(|i| i.signer.node().clone())
            .collect()
    }

    /// The identity this node shows `peer`: its membership in the peer's network, or the
    /// main one.
    pub fn identity_for(&self, peer: &NodeId) -> &Identity {
        self.identities
            .iter()
            .find(|i| i.signer.node().network_str() == peer.network_str())
            .unwrap_or(&self.identities[0])
    }

    /// Plans the copies of a message: deliver here, and which peers it goes to next (see
    /// [`liaison_protocol::routing`]). `from` is the peer it came from (none if this node
    /// originates it); `route` the relays it passed.
    pub fn plan(&self, body: &Body, from: Option<&NodeId>, route: &[NodeId]) -> Plan {
        // Runs for every message a node relays: borrow, do not copy, what it reads.
        let me = self.me();
        let sessions = self.peers.lock().ok();
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
            me: &me,
            peers: &self.peer_ids,
            routes: routes.as_deref().map_or(&[], |r| r.as_slice()),
            up: &up,
        }
        .plan(&body.header.recipients, from, &avoid)
    }

    /// Signs `body` as `signer` (one of this node's identities), logs it as sent and queues it
    /// for `hops`; returns its id and log index once durable.
    pub async fn originate(
        &self,
        signer: &Signer,
        body: &mut Body,
        hops: Vec<NodeId>,
    ) -> Result<(MessageId, u64)> {
        // Signing takes a while: a group commit meanwhile may wait for this message.
        let announced = self.store.announce();
        let (signed, id) = signer.sign_with_id(body).map_err(Refusal::from)?;
        let facts = MessageFacts::of(id, body);
        let leaf = self
            .store
            .originate_announced(
                announced,
                Envelope {
                    signed,
                    route: vec![],
                },
                facts,
                hops,
            )
            .await?;
        Ok((id, leaf))
    }

    /// The configured peer with this id.
    pub fn peer(&self, id: &NodeId) -> Option<&PeerConfig> {
        self.cfg.peers.iter().find(|p| &p.node_id == id)
    }

    /// Updates a peer's session state.
    pub fn set_peer(&self, id: &NodeId, f: impl FnOnce(&mut PeerState)) {
        if let Ok(mut peers) = self.peers.lock() {
            f(peers.entry(id.clone()).or_default());
        }
    }

    /// A configured peer has just connected to this node: it is reachable again, so the
    /// outbound session to it (which carries this node's outbox) stops waiting out its
    /// reconnect backoff and dials now. Nothing happens while that session is up.
    pub fn peer_dialled_in(&self, peer: &NodeId) {
        let up = self
            .peers
            .lock()
            .ok()
            .and_then(|p| p.get(peer).map(|s| s.connected))
            .unwrap_or(false);
        if let (false, Some(wake)) = (up, self.peer_wake.get(peer)) {
            wake.notify_one();
        }
    }

    /// Raises an alarm about `subject`: logged at error level and kept for `status`, once per
    /// kind and subject (see [`crate::alarm`]).
    pub fn alarm(&self, kind: crate::alarm::AlarmKind, subject: &str, text: String) {
        self.alarms.raise(kind, subject, text, now());
    }

    /// 16 random bytes.
    pub fn nonce(&self) -> Result<[u8; 16]> {
        let mut n = [0u8; 16];
        self.rng
            .fill(&mut n)
            .map_err(|_| NodeError::failed("system random generator failed"))?;
        Ok(n)
    }

    /// Signs a control message (receipt or refusal) from this node to `peer`; returns it with
    /// its id (computed while signing, so the caller need not hash the body again).
    pub fn sign_control(
        &self,
        peer: &NodeId,
        kind: Kind,
        about: Option<MessageId>,
    ) -> Result<(SignedMessage, MessageId)> {
        let signer = &self.identity_for(peer).signer;
        let mut body = Body {
            header: Header {
                originator: signer.node().clone(),
                created_at: now(),
                nonce: self.nonce()?,
                recipients: vec![Recipient::Node(peer.clone())],
                case: None,
                in_reply_to: about,
                expires_at: None,
                hop_limit: 1,
            },
            handling: Handling {
                tlp: Tlp::Green,
                releasability: vec![Release::Node(peer.clone())],
                originator_control: false,
                h0_crime_only: false,
                h1_no_judicial_use: false,
                h3_restrictions: None,
                evaluation: "A1".parse::<Evaluation>().map_err(NodeError::failed)?,
            },
            kind,
        };
        signer
            .sign_with_id(&mut body)
            .map_err(|e| NodeError::failed(format_args!("cannot sign a control message: {e}")))
    }

    /// A signed receipt for `ids`, with its id.
    pub fn receipt(
        &self,
        peer: &NodeId,
        status: ReceiptStatus,
        ids: Vec<MessageId>,
    ) -> Result<(SignedMessage, MessageId)> {
        self.sign_control(peer, Kind::Receipt(Receipt { status, ids }), None)
    }

    /// A signed refusal of `target`.
    pub fn refusal(
        &self,
        peer: &NodeId,
        target: MessageId,
        why: &Refusal,
    ) -> Result<SignedMessage> {
        self.sign_control(
            peer,
            Kind::Refusal(message::Refusal {
                target,
                reason_code: why.reason_code().into(),
                detail: why.detail().chars().take(512).collect(),
            }),
            Some(target),
        )
        .map(|(signed, _)| signed)
    }
}

/// Runs `f` on the blocking pool and waits for it: for work whose cost grows with what the
/// node holds (reading many journal entries, re-deriving a case from all its messages). On
/// an async worker it would hold up every task queued there, `/v1/status` and peer sessions
/// included. One thread hop: not for the per-message send path.
pub async fn off_workers<T, F>(ctx: &Arc<Ctx>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Ctx) -> Result<T> + Send + 'static,
{
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || f(&ctx))
        .await
        .map_err(|e| NodeError::failed(format_args!("a blocking task failed: {e}")))?
}

/// The status report of a node.
pub fn status(ctx: &Ctx) -> Status {
    let depths = ctx.store.outbox_depths();
    let peers = ctx.peers.lock().map(|p| p.clone()).unwrap_or_default();
    let unread = ctx.store.unread();
    Status {
        node: ctx.id.clone(),
        listen: ctx.cfg.listen,
        log_size: ctx.store.log_size(),
        log_root: liaison_protocol::ids::hex(&ctx.store.log_root()),
        last_checkpoint: ctx.store.last_checkpoint(),
        unread,
        peers: ctx
            .cfg
            .peers
            .iter()
            .map(|p| PeerStatus {
                node: p.node_id.clone(),
                address: p.address,
                state: peers.get(&p.node_id).cloned().unwrap_or_default(),
                outbox: depths.get(&p.node_id).copied().unwrap_or(0),
            })
            .collect(),
        alarms: ctx.alarms.list(),
        disk_bytes: ctx.store.size_on_disk(),
        damaged_messages: ctx.store.damaged_count() as u64,
        store_check: ctx.store.last_scrub(),
    }
}

/// Runs a check of every stored body on the blocking pool (see [`crate::store::Store::scrub`]);
/// stops early, with what it found so far, when the node shuts down.
pub async fn check_store(ctx: &Arc<Ctx>) -> Result<crate::store::ScrubReport> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || {
        let trust = ctx.trust.clone();
        let check = move |m: &SignedMessage| match m.check_integrity(&trust) {
            Ok(id) => Ok(Some(id)),
            // Its network is no longer trusted here: the bytes cannot be judged, which is not
            // damage.
            Err(liaison_protocol::VerifyError::UnknownCa(_)) => Ok(None),
            Err(e) => Err(format!(
                "its signature does not verify ({})",
                e.reason_code()
            )),
        };
        let cancel = ctx.cancel.clone();
        let stop = move || cancel.is_cancelled();
        ctx.store.scrub(&check, &stop)
    })
    .await
    .map_err(|e| NodeError::failed(format_args!("the store check failed: {e}")))?
    .map_err(Into::into)
}

impl crate::views::SentView {
    /// The view of what a send did.
    pub fn of(sent: &Sent) -> Self {
        Self {
            id: sent.id.to_string(),
            leaf: sent.leaf,
            next_hops: sent
                .next_hops
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect(),
        }
    }
}

impl crate::views::PeerView {
    /// The view of a peer's status.
    pub fn of(p: &PeerStatus) -> Self {
        Self {
            node: p.node.as_str().to_owned(),
            address: p.address.to_string(),
            connected: p.state.connected,
            since: p.state.since.map(|t| t.0),
            last_error: p.state.last_error.clone(),
            sent: p.state.sent,
            receipts: p.state.receipts,
            outbox: p.outbox,
        }
    }
}

impl crate::views::StatusView {
    /// The view of the node's status.
    pub fn of(s: &Status) -> Self {
        Self {
            node: s.node.as_str().to_owned(),
            listen: s.listen.to_string(),
            log_size: s.log_size,
            log_root: s.log_root.clone(),
            last_checkpoint: s.last_checkpoint.clone(),
            unread: s.unread,
            peers: s.peers.iter().map(crate::views::PeerView::of).collect(),
            alarms: s.alarms.iter().map(crate::views::AlarmView::of).collect(),
            disk_bytes: s.disk_bytes,
            damaged_messages: s.damaged_messages,
            store_check: s.store_check.as_ref().map(crate::views::ScrubView::of),
        }
    }
}
