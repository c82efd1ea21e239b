//! A running node: wires configuration, identity, trust, the store, the QUIC endpoint, peer
//! sessions and the local API together, and shuts them down in a fixed order.
//!
//! Calling shape: [`Node::start`] → use the handle ([`Node::send`], [`Node::status`], the
//! store) → [`Node::shutdown`] (stop accepting, close sessions, finish the current group
//! commit, close the store).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use liaison_protocol::handling::{check_hop, check_network_hop, Hop};
use liaison_protocol::log::{Event, MessageFacts};
use liaison_protocol::message::{self, Body, Header, Kind, Receipt, ReceiptStatus};
use liaison_protocol::routing::{Leg, Plan, Route, RouteSource, Router, Target};
use liaison_protocol::seal::SealingSecret;
use liaison_protocol::{
    Envelope, Evaluation, Handling, MessageId, NodeId, Recipient, Release, SignedMessage, Signer,
    Timestamp, Tlp, TrustStore,
};
use ring::rand::SecureRandom;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::compose::{self, SendRequest};
use crate::config::{Config, ConfigError, PeerConfig};
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
    /// Serialises witnessing decisions (see [`crate::witness`]).
    pub witness_lock: tokio::sync::Mutex<()>,
    /// This node's identities, one per network it belongs to; the main one first.
    pub identities: Vec<Identity>,
    /// Routes to nodes and networks that are not direct peers.
    pub routes: std::sync::RwLock<Vec<Route>>,
    /// The configured peers' ids.
    pub peer_ids: Vec<NodeId>,
    /// Per configured peer: wakes its outbound session's reconnect (see [`Ctx::peer_dialled_in`]).
    pub peer_wake: BTreeMap<NodeId, Arc<tokio::sync::Notify>>,
    /// This node's sealing secret (see [`crate::directory`]).
    pub sealing: SealingSecret,
    /// This node's signed sealing-key statements, one per identity.
    pub own_statements: Vec<SignedMessage>,
    /// The sealing keys this node knows.
    pub directory: std::sync::RwLock<crate::directory::Directory>,
    /// Agreements with recipients' sealing keys, reused for a while.
    pub shares: Mutex<crate::directory::Shares>,
    /// Bumped whenever the directory learns a key.
    pub keys_learned: tokio::sync::watch::Sender<u64>,
    /// The federation's deconfliction key, if this node submits selectors.
    pub selector_key: Option<liaison_protocol::selector::SelectorKey>,
    /// The deconfliction service's index, if this node runs the service.
    pub deconfliction: std::sync::OnceLock<Mutex<crate::deconfliction::Service>>,
    /// The cases this node holds, kept derived (see [`crate::case_cache`]).
    pub cases: crate::case_cache::CaseCache,
    rng: ring::rand::SystemRandom,
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

/// A running node.
pub struct Node {
    ctx: Arc<Ctx>,
    tasks: Mutex<JoinSet<()>>,
    endpoint: quinn::Endpoint,
    api_addr: SocketAddr,
    api_tls_addr: Option<SocketAddr>,
}

/// Choices an operator makes when starting a node, beyond its configuration.
#[derive(Clone, Default)]
pub struct StartOptions {
    /// Start although no checkpoint file exists beside a non-empty log (after the operator
    /// found out why); the node records that in its log and signs a checkpoint at once.
    pub accept_missing_checkpoints: bool,
    /// The medium the store writes its journal through, instead of the journal file in the
    /// data dir (tests inject disk faults with it).
    pub medium: Option<Arc<dyn crate::store::journal::Medium>>,
}

impl std::fmt::Debug for StartOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartOptions")
            .field(
                "accept_missing_checkpoints",
                &self.accept_missing_checkpoints,
            )
            .field("medium", &self.medium.as_ref().map(|_| "injected"))
            .finish()
    }
}

/// Why a node did not start. Each message names the setting or file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The node certificate and key cannot be loaded.
    #[error("identity: cannot load the node certificate and key")]
    Identity(#[source] liaison_certs::CertError),
    /// A further identity's certificate and key cannot be loaded.
    #[error("identities[{index}]: cannot load the certificate and key")]
    OtherIdentity {
        /// Its position in `identities`.
        index: usize,
        /// Why.
        #[source]
        source: liaison_certs::CertError,
    },
    /// The trusted CAs and CRLs cannot be loaded.
    #[error("trust: cannot load the trusted CAs and CRLs")]
    Trust(#[source] liaison_certs::CertError),
    /// The trusted CAs cannot be used for TLS.
    #[error("trust: cannot use the trusted CAs for TLS")]
    TlsTrust(#[source] liaison_certs::tls::TlsError),
    /// The identities, the trust and the configuration do not fit together.
    #[error("{0}")]
    Invalid(String),
    /// The data dir (its lock, its files, the store) cannot be used.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Another process holds the data dir, or its lock cannot be taken.
    #[error(transparent)]
    Lock(#[from] crate::store::lock::LockError),
    /// A secret file can be read by others.
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    /// The QUIC endpoint cannot be bound.
    #[error(transparent)]
    Endpoint(#[from] crate::endpoint::EndpointError),
    /// The officer API cannot start.
    #[error(transparent)]
    Api(#[from] crate::api::ApiStartError),
    /// A socket's address cannot be read.
    #[error("cannot read the address of a socket")]
    Io(#[source] std::io::Error),
    /// Start-up failed after the store opened (keys, deconfliction, the first log entries).
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// Refuses to start with a secret that other accounts on the host can read: the node's keys,
/// the API token, the console's TLS key, the sealing secret (see [`crate::files`]).
fn check_secrets(cfg: &Config) -> Result<(), StartError> {
    let mut secrets = vec![
        ("identity.key".to_owned(), cfg.identity.key.clone()),
        ("api.token_file".to_owned(), cfg.api.token_file.clone()),
        (
            "the sealing key".to_owned(),
            cfg.data_dir.join(crate::directory::SEALING_KEY_FILE),
        ),
    ];
    for (i, id) in cfg.identities.iter().enumerate() {
        secrets.push((format!("identities[{i}].key"), id.key.clone()));
    }
    if let Some(k) = &cfg.api.tls_key {
        secrets.push(("api.tls_key".to_owned(), k.clone()));
    }
    if let Some(k) = &cfg.deconfliction.key_file {
        secrets.push(("deconfliction.key_file".to_owned(), k.clone()));
    }
    for (what, path) in secrets {
        crate::files::check_private(&what, &path)?;
    }
    Ok(())
}

impl Node {
    /// Starts a node: takes the data dir's lock, loads identity and trust, opens (and checks)
    /// the store, binds the QUIC endpoint, starts peer sessions, the accept loop, periodic
    /// checkpoints, the background check of every stored body and the local API.
    pub async fn start(cfg: Config) -> Result<Node, StartError> {
        Self::start_with(cfg, StartOptions::default()).await
    }

    /// As [`Node::start`], with the operator's start-up choices.
    pub async fn start_with(cfg: Config, opts: StartOptions) -> Result<Node, StartError> {
        // One process per data dir, before anything in it is read or written.
        let lock = crate::store::DataDirLock::acquire(&cfg.data_dir)?;
        check_secrets(&cfg)?;
        let signer = liaison_certs::load_signer(&cfg.identity.cert, &cfg.identity.key)
            .map_err(StartError::Identity)?;
        if signer.node() != &cfg.node_id {
            return Err(StartError::Invalid(format!(
                "node_id: the configuration says {} but the certificate {} names {}",
                cfg.node_id,
                cfg.identity.cert.display(),
                signer.node()
            )));
        }
        let trust = liaison_certs::load::load_trust_sources(cfg.trust.iter().map(|t| t.source()))
            .map_err(StartError::Trust)?;
        trust
            .check_node_cert(signer.cert_der(), now())
            .map_err(|e| {
                StartError::Invalid(format!(
                    "identity: this node's own certificate is not valid now: {e} ({})",
                    e.reason_code()
                ))
            })?;
        crate::store::checkpoint::keep_cert(&cfg.data_dir, signer.cert_der())?;
        let signer = Arc::new(signer);
        let mut signers = vec![signer.clone()];
        for (i, id) in cfg.identities.iter().enumerate() {
            let s = liaison_certs::load_signer(&id.cert, &id.key)
                .map_err(|source| StartError::OtherIdentity { index: i, source })?;
            if signers
                .iter()
                .any(|o| o.node().network_str() == s.node().network_str())
            {
                return Err(StartError::Invalid(format!(
                    "identities[{i}]: {} is a second identity in network {}; a node has one per network",
                    s.node(),
                    s.node().network_str()
                )));
            }
            trust.check_node_cert(s.cert_der(), now()).map_err(|e| {
                StartError::Invalid(format!(
                    "identities[{i}]: the certificate of {} is not valid now: {e} ({})",
                    s.node(),
                    e.reason_code()
                ))
            })?;
            crate::store::checkpoint::keep_cert(&cfg.data_dir, s.cert_der())?;
            signers.push(Arc::new(s));
        }
        let mut routes = Vec::with_capacity(cfg.routes.len());
        for r in &cfg.routes {
            routes.push(Route {
                dest: r.destination()?,
                via: r.via.clone(),
                distance: r.distance,
                source: RouteSource::Config,
            });
        }
        let sealing = crate::directory::load_or_create_secret(&cfg.data_dir)?;
        let own_statements = crate::directory::own_statements(&signers, &sealing)?;
        let directory = crate::directory::load(&cfg.data_dir, &trust);
        let alarms = Arc::new(crate::alarm::Alarms::new());
        let store = Store::open_with_options(
            &cfg.data_dir,
            signer.clone(),
            crate::store::StoreOptions {
                alarms: alarms.clone(),
                lock: Some(lock),
                accept_missing_checkpoints: opts.accept_missing_checkpoints,
                medium: opts.medium.clone(),
            },
        )?;
        let selector_key = crate::deconfliction::load_key(&cfg.deconfliction)?;
        // The same trust store, for TLS: the files are read once.
        let tls_trust =
            liaison_certs::tls::TlsTrust::from_trust_store(&trust).map_err(StartError::TlsTrust)?;
        let keys = crate::endpoint::RestartKeys::from_secret(&sealing.to_bytes()[..]);
        let (endpoint, clients) = bind_when_free(&cfg, &tls_trust, keys).await?;
        let identities = signers
            .into_iter()
            .zip(clients)
            .map(|(signer, client)| Identity { signer, client })
            .collect();
        let ctx = Arc::new(Ctx {
            id: cfg.node_id.clone(),
            signer,
            trust: Arc::new(trust),
            store,
            peers: Mutex::new(
                cfg.peers
                    .iter()
                    .map(|p| (p.node_id.clone(), PeerState::default()))
                    .collect(),
            ),
            alarms,
            cancel: CancellationToken::new(),
            witness_lock: tokio::sync::Mutex::new(()),
            identities,
            routes: std::sync::RwLock::new(routes),
            peer_ids: cfg.peers.iter().map(|p| p.node_id.clone()).collect(),
            peer_wake: cfg
                .peers
                .iter()
                .map(|p| (p.node_id.clone(), Arc::new(tokio::sync::Notify::new())))
                .collect(),
            sealing,
            own_statements,
            directory: std::sync::RwLock::new(directory),
            shares: Mutex::new(Default::default()),
            keys_learned: tokio::sync::watch::Sender::new(0),
            selector_key,
            deconfliction: std::sync::OnceLock::new(),
            cases: Default::default(),
            rng: ring::rand::SystemRandom::new(),
            cfg,
        });
        ctx.store
            .record(Event::Admin {
                act: "start".into(),
                detail: format!(
                    "liaison {} listening on {}",
                    env!("CARGO_PKG_VERSION"),
                    endpoint.local_addr().map_err(StartError::Io)?
                ),
            })
            .await?;
        if ctx.store.opened_without_checkpoints() {
            ctx.store
                .record(Event::Admin {
                    act: "accept-missing-checkpoints".into(),
                    detail: format!(
                        "started with --accept-missing-checkpoints: no checkpoint file was \
                         found beside a log of {} entries",
                        ctx.store.log_size() - 1
                    ),
                })
                .await?;
            ctx.store.checkpoint().await?;
        }
        crate::witness::raise_kept_alarms(&ctx);
        if ctx.cfg.deconfliction.serve {
            let service = crate::deconfliction::rebuild(&ctx)?;
            let _ = ctx.deconfliction.set(Mutex::new(service));
        }
        // The API first: a bad token file or a taken port stops start-up before any session.
        let api = crate::api::bind(ctx.clone()).await?;
        let (api_addr, api_tls_addr) = (api.local_addr, api.tls_addr);
        let mut tasks = JoinSet::new();
        tasks.spawn(api.serve);
        tasks.spawn(crate::inbound::accept_loop(ctx.clone(), endpoint.clone()));
        for p in &ctx.cfg.peers {
            tasks.spawn(crate::peer::run(ctx.clone(), endpoint.clone(), p.clone()));
        }
        tasks.spawn(checkpoint_loop(ctx.clone()));
        tasks.spawn(check_store_in_background(ctx.clone()));
        tracing::info!(node = %ctx.id, quic = %endpoint.local_addr().map_err(StartError::Io)?, api = %api_addr, "node started");
        Ok(Node {
            ctx,
            tasks: Mutex::new(tasks),
            endpoint,
            api_addr,
            api_tls_addr,
        })
    }

    /// The shared context.
    pub fn ctx(&self) -> &Arc<Ctx> {
        &self.ctx
    }

    /// This node's id.
    pub fn id(&self) -> &NodeId {
        &self.ctx.id
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// The QUIC address actually bound.
    pub fn quic_addr(&self) -> SocketAddr {
        self.endpoint.local_addr().unwrap_or(self.ctx.cfg.listen)
    }

    /// The local API address actually bound.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The officer-certificate (HTTPS) API address actually bound, if `api.tls_listen` is set.
    pub fn api_tls_addr(&self) -> Option<SocketAddr> {
        self.api_tls_addr
    }

    /// Composes, signs, logs and queues a message; returns once it is durable.
    pub async fn send(&self, req: &SendRequest) -> Result<Sent> {
        send(&self.ctx, req).await
    }

    /// The status report.
    pub fn status(&self) -> Status {
        status(&self.ctx)
    }

    /// Stops the node in a fixed order: stop accepting and cancel sessions, close the
    /// endpoint, let the writer finish its current group commit, close the store.
    pub async fn shutdown(self) -> Result<()> {
        tracing::info!(node = %self.ctx.id, "shutting down");
        self.ctx.cancel.cancel();
        let mut tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .map_err(|_| NodeError::failed("poisoned"))?,
        );
        while tasks.join_next().await.is_some() {}
        self.endpoint
            .close(crate::wire::code::SHUTDOWN.into(), b"shutdown");
        // Closed connections drain for three probe timeouts before the endpoint lets its socket
        // go; a handshake to a peer that is down has no RTT sample, so that is about 3 s. Wait
        // for it, or a restart at once (systemd) cannot bind the address. Bounded: a closed
        // endpoint accepts no new connection, so no peer can hold the shutdown hostage.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(6), self.endpoint.wait_idle())
            .await;
        let _ = self.ctx.store.checkpoint().await;
        self.ctx.store.shutdown().await?;
        Ok(())
    }
}

/// Binds the QUIC endpoint; if the address is still held by this node's previous run (a
/// restart at once, while the old endpoint drains connections to peers that are down), waits
/// for it for up to 10 s before giving up.
async fn bind_when_free(
    cfg: &Config,
    tls: &liaison_certs::tls::TlsTrust,
    keys: crate::endpoint::RestartKeys,
) -> Result<(quinn::Endpoint, Vec<quinn::ClientConfig>), StartError> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match crate::endpoint::bind(cfg, tls, keys.clone()) {
            Err(crate::endpoint::EndpointError::Bind { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            r => return Ok(r?),
        }
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

/// How long `send` waits for a recipient's sealing key to arrive before refusing.
const KEY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Composes, signs, logs and queues a message from this node; returns once durable.
pub async fn send(ctx: &Ctx, req: &SendRequest) -> Result<Sent> {
    let body = compose::body(&ctx.id, req, now(), ctx.nonce()?)?;
    send_body(ctx, body).await
}

/// Plans, checks, seals, signs, logs and queues a body this node composed (see [`send`]);
/// returns once durable. A body addressed only to this node itself (a case opened with no
/// one else yet) is logged and queued nowhere. Deconfliction selectors of its content go to
/// the service afterwards ([`crate::deconfliction::submit`]).
pub async fn send_body(ctx: &Ctx, mut body: Body) -> Result<Sent> {
    let t = body.header.created_at;
    let plan = ctx.plan(&body, None, &[]);
    if let Some(r) = plan.unroutable.first() {
        return Err(Refusal::NoRoute(format!(
            "no route to {r} from {}: it is neither a peer nor reachable through a configured or announced route",
            ctx.id
        ))
        .into());
    }
    for leg in &plan.legs {
        check_leg(&body, leg, &[], t)
            .map_err(|e| Refusal::from(e).at(format_args!("towards {}", leg.next)))?;
    }
    let hops = plan.next_hops();
    if hops.is_empty() && !plan.deliver {
        return Err(Refusal::NoRoute(
            "every recipient is this node itself; nothing to send".into(),
        )
        .into());
    }
    // The readable body is kept only where deconfliction will read it (not on every send).
    let clear = ctx.selector_key.is_some().then(|| body.clone());
    seal_when_keys_known(ctx, &mut body).await?;
    let (id, leaf) = ctx.originate(&ctx.signer, &mut body, hops.clone()).await?;
    tracing::info!(id = %id.short(), kind = body.kind.name(), to = ?hops, "message sent");
    if let Some(clear) = &clear {
        crate::deconfliction::submit(ctx, id, clear).await;
    }
    Ok(Sent {
        id,
        leaf,
        next_hops: hops,
    })
}

/// Seals `body`'s content (see [`crate::directory::seal_body`]). A recipient's key not known
/// yet usually arrives with the next announcement of a peer that has just connected, so a
/// missing key is waited for (up to 10 s) before the refusal (`no-sealing-key`) is returned.
pub async fn seal_when_keys_known(ctx: &Ctx, body: &mut Body) -> Result<(), Refusal> {
    let mut learned = ctx.keys_learned.subscribe();
    let deadline = tokio::time::Instant::now() + KEY_WAIT;
    loop {
        learned.borrow_and_update();
        match crate::directory::seal_body(ctx, body) {
            Ok(()) => return Ok(()),
            Err(refusal) => {
                let waited = matches!(refusal, Refusal::NoSealingKey(_))
                    && tokio::time::timeout_at(deadline, learned.changed())
                        .await
                        .is_ok_and(|r| r.is_ok());
                if !waited {
                    return Err(refusal);
                }
            }
        }
    }
}

/// The handling checks for one copy of a message (see [`liaison_protocol::handling`]):
/// to `leg.next`, for `leg.target`, with `route` the relays so far including this node.
pub fn check_leg(
    body: &Body,
    leg: &Leg,
    route: &[NodeId],
    now: Timestamp,
) -> Result<(), liaison_protocol::HandlingError> {
    let a = body.addressing();
    match &leg.target {
        Target::Node(d) => check_hop(
            &a,
            &Hop {
                next: &leg.next,
                destination: d,
                route,
                now,
                consented: &[],
            },
        ),
        Target::Network(net) => check_network_hop(
            &a,
            &Hop {
                next: &leg.next,
                destination: &leg.next,
                route,
                now,
                consented: &[],
            },
            net,
        ),
    }
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

/// Checks every stored body once after start-up (see [`crate::store::Store::scrub`]), off the
/// async workers; what is damaged is alarmed and marked as it is found.
async fn check_store_in_background(ctx: Arc<Ctx>) {
    match check_store(&ctx).await {
        Ok(r)
            if r.damaged.is_empty() && r.unexplained.is_empty() && r.damaged_answers.is_empty() =>
        {
            tracing::info!(
                batches = r.batches,
                bodies = r.bodies_checked,
                "every stored body is intact"
            )
        }
        Ok(r) => tracing::error!(
            damaged = r.damaged.len(),
            answers = r.damaged_answers.len(),
            batches = r.unexplained.len(),
            "stored bodies are damaged (see the alarms)"
        ),
        Err(e) => tracing::error!(error = %e, "cannot check the stored bodies"),
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

async fn checkpoint_loop(ctx: Arc<Ctx>) {
    let period = std::time::Duration::from_secs(ctx.cfg.checkpoints.interval_secs.max(1));
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = tick.tick() => {
                match ctx.store.checkpoint().await {
                    Ok(Some(_)) => tracing::debug!(size = ctx.store.log_size(), "checkpoint signed"),
                    Ok(None) => {}
                    Err(e) => ctx.alarm(
                        match e {
                            crate::store::StoreError::DiskFull(_) => crate::alarm::AlarmKind::DiskFull,
                            _ => crate::alarm::AlarmKind::CheckpointFailed,
                        },
                        "checkpoint",
                        format!("cannot sign a checkpoint: {e}"),
                    ),
                }
            }
        }
    }
}

// The views of what this module reports live in `crate::views` (below this module); they are
// made here, so that the views need not know the node.

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
