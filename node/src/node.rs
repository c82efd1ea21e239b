//! A running node: wires configuration, identity, trust, the store, the QUIC endpoint, peer
//! sessions and the local API together, and shuts them down in a fixed order.
//!
//! Calling shape: [`Node::start`] → use the handle ([`Node::send`], [`Node::status`], the
//! store) → [`Node::shutdown`] (stop accepting, close sessions, finish the current group
//! commit, close the store).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use liaison_protocol::log::Event;
use liaison_protocol::routing::{Route, RouteSource};
use liaison_protocol::NodeId;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::compose::SendRequest;
use crate::config::{Config, ConfigError};
use crate::error::{NodeError, Result};
use crate::store::{now, Store};

pub use crate::core::{
    check_store, off_workers, status, Ctx, Identity, Keys, Me, PeerState, PeerStatus, Sent,
    Sessions, Status,
};
pub use crate::exchange::{check_leg, seal_when_keys_known, send, send_body};

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
        // The configured trust, with the CRLs received from peers that are newer.
        let (trust, kept_crl_acts) = crate::trust::load(&cfg).map_err(StartError::Trust)?;
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
        let sealing_public = sealing.public();
        let own_statements = crate::directory::own_statements(&signers, &sealing)?;
        let directory = crate::directory::load(&cfg.data_dir, &trust);
        let alarms = Arc::new(crate::alarm::Alarms::new());
        // Alarms raised from here on are recorded in the log once the node runs.
        let (raised_tx, raised_rx) = tokio::sync::mpsc::channel(256);
        alarms.notify_raised(raised_tx);
        // The keys of this node's earlier certificates that still chain to a trusted CA: the
        // newest checkpoint may be signed by one of them (its certificate was re-issued).
        let earlier_keys = crate::store::checkpoint::kept_certs(&cfg.data_dir, "node")
            .iter()
            .filter_map(|der| trust.certify(der).ok())
            .filter(|c| &c.node == signer.node())
            .map(|c| c.public_key)
            .collect();
        let store = Store::open_with_options(
            &cfg.data_dir,
            signer.clone(),
            crate::store::StoreOptions {
                alarms: alarms.clone(),
                lock: Some(lock),
                accept_missing_checkpoints: opts.accept_missing_checkpoints,
                medium: opts.medium.clone(),
                earlier_keys,
            },
        )?;
        let selector_key = crate::deconfliction::load_key(&cfg.deconfliction)?;
        // The same trust store, for TLS: the files are read once.
        let tls_trust =
            liaison_certs::tls::TlsTrust::from_trust_store(&trust).map_err(StartError::TlsTrust)?;
        let restart_keys = crate::endpoint::RestartKeys::from_secret(&sealing.to_bytes()[..]);
        let (endpoint, clients) = bind_when_free(&cfg, &tls_trust, restart_keys).await?;
        let identities = signers
            .into_iter()
            .zip(clients)
            .map(|(signer, client)| Identity { signer, client })
            .collect();
        let me = Me::new(identities)?;
        let keys = Keys::new(sealing, me.ids().to_vec(), own_statements, directory);
        let sessions = Sessions::new(
            cfg.peers.iter().map(|p| p.node_id.clone()).collect(),
            routes,
        );
        let ctx = Arc::new(Ctx {
            me,
            trust: crate::core::Trust::new(tls_trust),
            store,
            sessions,
            keys,
            alarms,
            cancel: CancellationToken::new(),
            witness_lock: tokio::sync::Mutex::new(()),
            selector_key,
            deconfliction: std::sync::OnceLock::new(),
            cases: Default::default(),
            forwarding: tokio::sync::Mutex::new(()),
            expiries: Default::default(),
            finishing: tokio_util::task::TaskTracker::new(),
            outbox_refused: Default::default(),
            cfg,
        });
        record_start(&ctx, sealing_public, &endpoint).await?;
        for (act, detail) in kept_crl_acts {
            crate::admin_log::record(&ctx.store, act, detail).await;
        }
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
        crate::witness::raise_kept_alarms(&ctx.cfg.data_dir, &ctx.alarms);
        if ctx.cfg.deconfliction.serve {
            let service = crate::deconfliction::rebuild(&ctx.store, &ctx.keys)?;
            let _ = ctx.deconfliction.set(Mutex::new(service));
        }
        // The API first: a bad token file or a taken port stops start-up before any session.
        let api = crate::api::bind(ctx.clone(), crate::console::shell()?).await?;
        let (api_addr, api_tls_addr) = (api.local_addr, api.tls_addr);
        let mut tasks = JoinSet::new();
        tasks.spawn(api.serve);
        tasks.spawn(crate::inbound::accept_loop(ctx.clone(), endpoint.clone()));
        for p in &ctx.cfg.peers {
            tasks.spawn(crate::peer::run(ctx.clone(), endpoint.clone(), p.clone()));
        }
        tasks.spawn(checkpoint_loop(ctx.clone()));
        tasks.spawn(record_alarms(ctx.clone(), raised_rx));
        tasks.spawn(watch_expiries(ctx.clone()));
        tasks.spawn(crate::trust::watch(ctx.clone()));
        tasks.spawn(check_store_in_background(ctx.clone()));
        tasks.spawn(forward_missed_in_background(ctx.clone()));
        tracing::info!(node = %ctx.me.id(), quic = %endpoint.local_addr().map_err(StartError::Io)?, api = %api_addr, "node started");
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
        self.ctx.me.id()
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
        tracing::info!(node = %self.ctx.me.id(), "shutting down");
        crate::admin_log::record(
            &self.ctx.store,
            "stop",
            format!(
                "orderly shutdown of liaison {} ({} log entries)",
                env!("CARGO_PKG_VERSION"),
                self.ctx.store.log_size()
            ),
        )
        .await;
        self.ctx.cancel.cancel();
        let mut tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .map_err(|_| NodeError::failed("poisoned"))?,
        );
        while tasks.join_next().await.is_some() {}
        // Answers recorded while the sessions stopped are reported before the store closes.
        self.ctx.finishing.close();
        self.ctx.finishing.wait().await;
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

/// Checks every end (certificates, CAs, CRLs, peers' certificates) against the alarm
/// thresholds now and every [`crate::expiry::CHECK_EVERY`], until the node stops.
async fn watch_expiries(ctx: Arc<Ctx>) {
    loop {
        let now = crate::store::now();
        for (subject, text) in crate::expiry::alarms(&crate::core::expiries(&ctx), now) {
            ctx.alarms.raise(
                crate::alarm::AlarmKind::CertificateExpiring,
                &subject,
                text,
                now,
            );
        }
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = tokio::time::sleep(crate::expiry::CHECK_EVERY) => {}
        }
    }
}

/// Records each alarm in the log as it is first raised (`alarm-raised`).
async fn record_alarms(
    ctx: Arc<Ctx>,
    mut raised: tokio::sync::mpsc::Receiver<crate::alarm::Alarm>,
) {
    loop {
        let alarm = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            a = raised.recv() => match a {
                Some(a) => a,
                None => return,
            },
        };
        let subject = if alarm.subject.is_empty() || alarm.text.contains(&alarm.subject) {
            String::new()
        } else {
            format!(" ({})", alarm.subject)
        };
        crate::admin_log::record(
            &ctx.store,
            "alarm-raised",
            format!("{}{subject}: {}", alarm.code.code(), alarm.text),
        )
        .await;
    }
}

/// Records the start's administrative acts (what it runs with and what changed since the
/// last start, [`crate::admin_log`]) and keeps its facts for the next start.
async fn record_start(
    ctx: &Ctx,
    sealing_public: [u8; 32],
    endpoint: &quinn::Endpoint,
) -> Result<(), StartError> {
    let cfg = &ctx.cfg;
    let fail = |e: String| StartError::Invalid(e);
    let mut trust = Vec::new();
    for t in &cfg.trust {
        trust.extend(liaison_certs::facts::trust_facts(t.source()).map_err(StartError::Trust)?);
    }
    let mut certificates: Vec<(String, Vec<u8>)> = ctx
        .me
        .ids()
        .iter()
        .filter_map(|id| ctx.me.signer_of(id))
        .map(|s| (format!("identity {}", s.node()), s.cert_der().to_vec()))
        .collect();
    if let Some(path) = &cfg.api.tls_cert {
        let der = liaison_certs::load::read_cert(path).map_err(StartError::Trust)?;
        certificates.push(("console and API HTTPS certificate".to_owned(), der));
    }
    // The token is created here if missing (the API reads the same file when it binds).
    let token = crate::api::auth::load_or_create_token(&cfg.api.token_file)
        .map_err(|e| fail(e.to_string()))?;
    let mut secrets = vec![
        ("sealing key", sealing_public.to_vec()),
        ("API token", token.as_bytes().to_vec()),
    ];
    if let Some(path) = &cfg.deconfliction.key_file {
        if let Ok(bytes) = std::fs::read(path) {
            secrets.push(("deconfliction key", bytes));
        }
    }
    let now = crate::admin_log::StartState::of(
        cfg,
        certificates.iter().map(|(w, d)| (w.clone(), d.as_slice())),
        &trust,
        secrets,
    )?;
    let prev = crate::admin_log::StartState::read(&cfg.data_dir);
    let listen = endpoint.local_addr().map_err(StartError::Io)?.to_string();
    let fresh = ctx.store.log_size() == 0;
    for (act, detail) in crate::admin_log::start_acts(
        env!("CARGO_PKG_VERSION"),
        &listen,
        fresh,
        prev.as_ref(),
        &now,
    ) {
        ctx.store
            .record(Event::Admin {
                act: act.to_owned(),
                detail,
            })
            .await?;
    }
    now.write(&cfg.data_dir)?;
    *ctx.expiries.lock().unwrap_or_else(|e| e.into_inner()) = crate::expiry::of_start(&now);
    Ok(())
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

/// Once after start-up, forwards in every case the messages of this node that participants
/// missed (see [`crate::case::forward_missed`]) and deletes what reached this node after it
/// stopped taking part (see [`crate::case::purge_after_removal`]): a participation or a
/// removal learnt just before a stop is acted on after the restart.
async fn forward_missed_in_background(ctx: Arc<Ctx>) {
    for case in ctx.store.case_ids() {
        if ctx.cancel.is_cancelled() {
            return;
        }
        if let Err(e) = crate::case::forward_missed(&ctx, &case).await {
            tracing::warn!(case = %case, error = %format!("{e:#}"), "case: cannot look for messages participants missed");
        }
        if let Err(e) = crate::case::purge_after_removal(&ctx, &case).await {
            tracing::warn!(case = %case, error = %format!("{e:#}"), "case: cannot delete messages written after this node's removal");
        }
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
