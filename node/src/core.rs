//! The node's core: the parts of a running node ([`Ctx`]: configuration, identities
//! ([`Me`]), trust, store, peers' sessions and routes ([`Sessions`]), sealing keys ([`Keys`]),
//! alarms), what it reports ([`Status`], [`Sent`]), and running work off the async workers.
//!
//! [`crate::node`] builds the parts and starts the tasks; each service takes the parts it
//! uses (see docs/ARCHITECTURE.md).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use liaison_certs::tls::{TlsError, TlsTrust};
use liaison_protocol::{MessageId, NodeId, SignedMessage, TrustStore};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{NodeError, Result};
pub use crate::identity::{Identity, Me};
pub use crate::keys::Keys;
pub use crate::sessions::{PeerState, Sessions};
use crate::store::{now, Store};

/// The CAs and CRLs the node trusts, replaceable while it runs: a reload or a CRL from a
/// peer swaps them for every TLS handshake from then on ([`TlsTrust`]), and
/// [`changes`](Trust::changes) tells the connections already open to check their peer again
/// (see `crate::trust`).
pub(crate) struct Trust {
    tls: TlsTrust,
    generation: tokio::sync::watch::Sender<u64>,
    /// CRLs to hand to every peer (newer ones, as they are applied).
    published: tokio::sync::broadcast::Sender<Arc<Vec<u8>>>,
    /// Serialises replacing the trust (a reload and a CRL from a peer at once).
    pub(crate) replacing: tokio::sync::Mutex<()>,
}

impl Trust {
    /// The trust of `tls`, in force from now.
    pub(crate) fn new(tls: TlsTrust) -> Self {
        Self {
            tls,
            generation: tokio::sync::watch::Sender::new(0),
            published: tokio::sync::broadcast::Sender::new(64),
            replacing: tokio::sync::Mutex::new(()),
        }
    }

    /// The trust store in force now.
    pub(crate) fn store(&self) -> Arc<TrustStore> {
        self.tls.trust_store()
    }

    /// The same trust for TLS configurations (they follow every replacement).
    pub(crate) fn tls(&self) -> &TlsTrust {
        &self.tls
    }

    /// Puts `store` in force and tells every watcher of [`changes`](Self::changes).
    pub(crate) fn replace(&self, store: TrustStore) -> std::result::Result<(), TlsError> {
        self.tls.replace(store)?;
        self.generation.send_modify(|g| *g += 1);
        Ok(())
    }

    /// Changes each time the trust is replaced.
    pub(crate) fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// How many times the trust was replaced since start.
    pub(crate) fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Hands a CRL newly in force to every peer session.
    pub(crate) fn publish(&self, crl_der: Vec<u8>) {
        let _ = self.published.send(Arc::new(crl_der));
    }

    /// The CRLs published from now on.
    pub(crate) fn published(&self) -> tokio::sync::broadcast::Receiver<Arc<Vec<u8>>> {
        self.published.subscribe()
    }
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
    /// Bytes of the messages waiting for this peer's receipt.
    pub outbox_bytes: u64,
    /// How much may wait for this peer.
    pub outbox_limits: crate::config::OutboxLimits,
    /// Sends from this node refused since start because this peer's outbox was full.
    pub outbox_refused: u64,
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
    /// What ends (certificates, CAs, CRLs, peers' certificates), soonest first.
    pub expiries: Vec<crate::expiry::Expiry>,
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

/// A running node, as its parts: what each service and task is given. Each part keeps its
/// own state private and is changed only through its methods ([`Me`] signs, [`Sessions`]
/// plans, [`Keys`] seals and learns, [`Store`] logs); the services take the parts they use.
pub struct Ctx {
    /// Configuration.
    pub(crate) cfg: Config,
    /// This node's identities.
    pub(crate) me: Me,
    /// Trusted networks.
    pub(crate) trust: Trust,
    /// Durable state.
    pub(crate) store: Store,
    /// Peers' sessions and the routes beyond them.
    pub(crate) sessions: Sessions,
    /// Sealing keys: this node's and those it knows.
    pub(crate) keys: Keys,
    /// Alarms (shared with the store).
    pub(crate) alarms: Arc<crate::alarm::Alarms>,
    /// Cancelled on shutdown.
    pub(crate) cancel: CancellationToken,
    /// Serialises witnessing decisions (see `crate::witness`).
    pub(crate) witness_lock: tokio::sync::Mutex<()>,
    /// The federation's deconfliction key, if this node submits selectors.
    pub(crate) selector_key: Option<liaison_protocol::selector::SelectorKey>,
    /// The deconfliction service's index, if this node runs the service.
    pub(crate) deconfliction: std::sync::OnceLock<Mutex<crate::selector_index::Service>>,
    /// The cases this node holds, kept derived (see `crate::case_cache`).
    pub(crate) cases: crate::case_cache::CaseCache,
    /// Serialises the forwarding of case messages to participants they missed (see
    /// `crate::case::forward_missed`).
    pub(crate) forwarding: tokio::sync::Mutex<()>,
    /// What ends, as read at start and after each trust replacement (certificates, CAs, CRLs;
    /// peers' are in `sessions`).
    pub(crate) expiries: Mutex<Vec<crate::expiry::Expiry>>,
    /// Work that must finish before the store closes, even when the task that started it is
    /// cancelled (recording a peer's answer and reporting it onward).
    pub(crate) finishing: tokio_util::task::TaskTracker,
    /// Sends refused since start because a peer's outbox was full, per peer.
    pub(crate) outbox_refused: Mutex<std::collections::HashMap<NodeId, u64>>,
}

impl Ctx {
    /// This node's main id.
    pub fn id(&self) -> &NodeId {
        self.me.id()
    }

    /// This node's identities.
    pub fn me(&self) -> &Me {
        &self.me
    }

    /// The node's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// This node's sealing keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The peers' sessions and the routes beyond them.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The alarms raised since start-up.
    pub fn alarms(&self) -> &crate::alarm::Alarms {
        &self.alarms
    }

    /// This node's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Raises an alarm about `subject`: logged at error level and kept for `status`, once per
    /// kind and subject (see [`crate::alarm`]).
    pub(crate) fn alarm(&self, kind: crate::alarm::AlarmKind, subject: &str, text: String) {
        self.alarms.raise(kind, subject, text, now());
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
    let peers = ctx.sessions.states();
    let refused = ctx
        .outbox_refused
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let unread = ctx.store.unread();
    Status {
        node: ctx.me.id().clone(),
        listen: ctx.cfg.listen,
        log_size: ctx.store.log_size(),
        log_root: liaison_protocol::ids::hex(&ctx.store.log_root()),
        last_checkpoint: ctx.store.last_checkpoint(),
        unread,
        peers: ctx
            .cfg
            .peers
            .iter()
            .map(|p| {
                let (outbox, outbox_bytes) = ctx.store.outbox_load(&p.node_id);
                PeerStatus {
                    node: p.node_id.clone(),
                    address: p.address,
                    state: peers.get(&p.node_id).cloned().unwrap_or_default(),
                    outbox,
                    outbox_bytes,
                    outbox_limits: ctx.cfg.outbox_limits(&p.node_id),
                    outbox_refused: refused.get(&p.node_id).copied().unwrap_or(0),
                }
            })
            .collect(),
        alarms: ctx.alarms.list(),
        disk_bytes: ctx.store.size_on_disk(),
        damaged_messages: ctx.store.damaged_count() as u64,
        store_check: ctx.store.last_scrub(),
        expiries: expiries_with(ctx, &peers),
    }
}

/// Every end the node knows of now, soonest first: the start's (certificates, CAs, CRLs)
/// and each peer's certificate on its current or last connection.
pub(crate) fn expiries(ctx: &Ctx) -> Vec<crate::expiry::Expiry> {
    expiries_with(ctx, &ctx.sessions.states())
}

/// [`expiries`] with the peers' states already read, so that a status report shows each peer's
/// certificate in its list of ends exactly when its peer entry does.
fn expiries_with(
    ctx: &Ctx,
    peers: &std::collections::BTreeMap<NodeId, crate::sessions::PeerState>,
) -> Vec<crate::expiry::Expiry> {
    let mut out = ctx
        .expiries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for (peer, s) in peers {
        if let Some(at) = s.certificate_expires {
            out.push(crate::expiry::Expiry {
                what: format!("peer {peer}"),
                at,
                crl: false,
            });
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.what.cmp(&b.what)));
    out
}

/// Runs a check of every stored body on the blocking pool (see [`crate::store::Store::scrub`]);
/// stops early, with what it found so far, when the node shuts down.
pub async fn check_store(ctx: &Arc<Ctx>) -> Result<crate::store::ScrubReport> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || {
        let trust = ctx.trust.store();
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
            outbox_bytes: p.outbox_bytes,
            outbox_full: p.outbox >= p.outbox_limits.messages
                || p.outbox_bytes >= p.outbox_limits.bytes,
            outbox_max_messages: p.outbox_limits.messages,
            outbox_max_bytes: p.outbox_limits.bytes,
            outbox_refused: p.outbox_refused,
            certificate_expires_at: p.state.certificate_expires.map(|t| t.to_rfc3339()),
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
            case_gaps: Vec::new(),
            expiries: {
                let now = crate::store::now();
                s.expiries
                    .iter()
                    .map(|e| crate::views::ExpiryView {
                        what: e.what.clone(),
                        at: e.at.to_rfc3339(),
                        days_left: e.days_left(now),
                    })
                    .collect()
            },
        }
    }
}
