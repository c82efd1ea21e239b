//! Trust while the node runs: revocations take effect without a restart.
//!
//! * **Reload.** The trust files (CA certificates, CRLs, trust bundles) are read again when
//!   they change — looked at every [`WATCH_INTERVAL`] — or on `SIGHUP`. Files that do not
//!   read or are not acceptable leave the trust in force as it was and raise
//!   `trust-reload-failed`.
//! * **CRLs over the network.** A CRL newer than the one in force for its CA (a higher CRL
//!   number, signed by that CA) is handed to every peer on a stream of its own (frame type
//!   `Crl`), and every peer at the start of each session gets the CRLs in force. A node that
//!   receives a newer one keeps it in the data dir ([`KEPT_CRLS`]), puts it in force and
//!   hands it on, so a revocation made at one node of a network reaches every node connected
//!   to it within a round trip per hop. The list's signature is its only authority: a peer
//!   can neither forge nor roll back a revocation, only carry it.
//! * **Connections re-checked.** Each replacement makes every open connection check its
//!   peer's certificate again ([`refused`]); a connection whose peer the trust now refuses is
//!   closed with the reason (`revoked-certificate`), and its next handshake is refused.
//!
//! Every change is an administrative entry in the log (`crl-applied`, `trust-loaded`,
//! `trust-removed`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use liaison_certs::revocation::{apply_crl, CrlUpdate};
use liaison_certs::tls::TlsError;
use liaison_certs::CertError;
use liaison_protocol::log::Event;
use liaison_protocol::{FrameDecoder, FrameType, NodeId, TrustStore};
use ring::digest::{Context, SHA256};

use crate::alarm::AlarmKind;
use crate::config::Config;
use crate::core::Ctx;
use crate::wire::{code, FrameReader};

/// The data dir's folder of CRLs received from peers (DER, one per CA, named by the CA's
/// fingerprint): at start they are applied over the configured files where newer.
pub(crate) const KEPT_CRLS: &str = "crls";

/// How often the trust files are looked at for a change.
pub(crate) const WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// An administrative act to record: its name and detail.
pub(crate) type Act = (&'static str, String);

/// The configured trust, with each kept CRL that is newer than its file's in force, and the
/// acts that describe those.
pub(crate) fn load(cfg: &Config) -> Result<(TrustStore, Vec<Act>), CertError> {
    let mut store = liaison_certs::load::load_trust_sources(cfg.trust.iter().map(|t| t.source()))?;
    let mut acts = Vec::new();
    for (path, der) in kept_crls(&cfg.data_dir) {
        match apply_crl(&store, &der) {
            Ok(CrlUpdate::Newer {
                store: next,
                network,
                fingerprint,
                number,
                previous,
                newly_revoked,
            }) => {
                acts.push((
                    "crl-applied",
                    describe(
                        &network,
                        &fingerprint.to_string(),
                        previous,
                        number,
                        &newly_revoked,
                        &format!("kept in {} from a peer", path.display()),
                    ),
                ));
                store = next;
            }
            Ok(CrlUpdate::NotNewer { .. } | CrlUpdate::NotTrusted) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), reason = e.reason_code(), error = %e, "a kept CRL is not acceptable; ignored")
            }
        }
    }
    Ok((store, acts))
}

fn kept_crls(data_dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(dir) = std::fs::read_dir(data_dir.join(KEPT_CRLS)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crl"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|der| (p, der)))
        .collect()
}

fn keep_crl(data_dir: &Path, fingerprint: &str, der: &[u8]) -> Result<(), String> {
    let dir = data_dir.join(KEPT_CRLS);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name: String = fingerprint.chars().filter(|c| *c != ':').collect();
    crate::files::write_durably(&dir.join(format!("{name}.crl")), der).map_err(|e| e.to_string())
}

/// What a CRL newly in force changes, in words.
fn describe(
    network: &impl std::fmt::Display,
    fingerprint: &str,
    previous: u128,
    number: u128,
    newly_revoked: &[String],
    from: &str,
) -> String {
    let revokes = if newly_revoked.is_empty() {
        "no new revocation".to_owned()
    } else {
        format!("revokes serial {}", newly_revoked.join(", "))
    };
    format!(
        "CA {network} sha256:{fingerprint}: CRL number {previous} → {number}, {from}; {revokes}"
    )
}

/// SHA-256 over the trust files' contents (a missing file counts as such), to notice a change.
fn files_digest(cfg: &Config) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    let mut add = |p: &Path| {
        ctx.update(p.as_os_str().as_encoded_bytes());
        match std::fs::read(p) {
            Ok(bytes) => {
                ctx.update(&(bytes.len() as u64).to_be_bytes());
                ctx.update(&bytes);
            }
            Err(_) => ctx.update(b"\xffmissing"),
        }
    };
    for t in &cfg.trust {
        match t.source() {
            liaison_certs::load::TrustSource::Files { ca, crl } => {
                add(ca);
                if let Some(crl) = crl {
                    add(crl);
                }
            }
            liaison_certs::load::TrustSource::Bundle(path) => add(path),
        }
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Each trusted CA and its CRL, as bytes, to tell whether two trusts are the same.
fn contents(store: &TrustStore) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    store
        .cas()
        .map(|ca| (ca.ca_der().to_vec(), ca.crl_der().map(<[u8]>::to_vec)))
        .collect()
}

/// The acts that describe going from trust `before` to `after`, for `why`, and the CRLs
/// that are new in `after` (to hand to the peers).
fn changes(before: &TrustStore, after: &TrustStore, why: &str) -> (Vec<Act>, Vec<Vec<u8>>) {
    let facts = |s: &TrustStore| {
        liaison_certs::facts::store_facts(s, Path::new("trust in force")).unwrap_or_default()
    };
    let (old, new) = (facts(before), facts(after));
    let mut acts = Vec::new();
    let mut crls = Vec::new();
    for (ca, f) in after.cas().zip(&new) {
        let fp = &f.ca.fingerprint;
        let number = f.crl.as_ref().map_or(0, |c| c.number);
        match old.iter().find(|o| &o.ca.fingerprint == fp) {
            None => {
                acts.push((
                    "trust-loaded",
                    format!(
                        "CA {} sha256:{fp}, valid until {}, CRL number {number}; newly trusted ({why})",
                        f.ca.subject,
                        f.ca.not_after.to_rfc3339()
                    ),
                ));
                crls.extend(ca.crl_der().map(<[u8]>::to_vec));
            }
            Some(o) => {
                let previous = o.crl.as_ref().map_or(0, |c| c.number);
                if previous != number || o.crl != f.crl {
                    let newly: Vec<String> = f
                        .crl
                        .iter()
                        .flat_map(|c| c.revoked.iter())
                        .filter(|s| !o.crl.as_ref().is_some_and(|c| c.revoked.contains(s)))
                        .cloned()
                        .collect();
                    acts.push((
                        "crl-applied",
                        describe(&f.ca.subject, fp, previous, number, &newly, why),
                    ));
                    if number > previous {
                        crls.extend(ca.crl_der().map(<[u8]>::to_vec));
                    }
                }
            }
        }
    }
    for o in &old {
        if !new.iter().any(|f| f.ca.fingerprint == o.ca.fingerprint) {
            acts.push((
                "trust-removed",
                format!(
                    "CA {} sha256:{} is no longer trusted ({why})",
                    o.ca.subject, o.ca.fingerprint
                ),
            ));
        }
    }
    (acts, crls)
}

/// Reads the trust files again and puts what they say in force (with the kept CRLs that are
/// newer). Returns whether the trust changed; a failure is alarmed and logged, and leaves
/// the trust in force as it was.
pub(crate) async fn reload(ctx: &Arc<Ctx>, why: &str) -> bool {
    let _one = ctx.trust.replacing.lock().await;
    let next = match load(&ctx.cfg) {
        Ok((next, _)) => next,
        Err(e) => {
            refuse_reload(ctx, why, &e.to_string(), e.reason_code()).await;
            return false;
        }
    };
    let before = ctx.trust.store();
    if contents(&before) == contents(&next) {
        tracing::info!(why, "trust reloaded: nothing changed");
        return false;
    }
    let (acts, crls) = changes(&before, &next, why);
    if let Err(e) = ctx.trust.replace(next) {
        refuse_reload(ctx, why, &e.to_string(), e.reason_code()).await;
        return false;
    }
    tracing::info!(why, changes = acts.len(), "trust reloaded");
    for (act, detail) in acts {
        crate::admin_log::record(&ctx.store, act, detail).await;
    }
    for crl in crls {
        ctx.trust.publish(crl);
    }
    after_change(ctx);
    true
}

async fn refuse_reload(ctx: &Ctx, why: &str, error: &str, reason: &str) {
    tracing::error!(
        why,
        reason,
        error,
        "the trust files are not acceptable; the trust in force stays"
    );
    ctx.alarm(
        AlarmKind::TrustReloadFailed,
        "trust",
        format!("{why}: {error} ({reason}); the trust in force stays"),
    );
}

/// What follows any replacement: this node's own certificates checked under the new trust,
/// and the expiry report's CAs and CRLs updated.
fn after_change(ctx: &Ctx) {
    let store = ctx.trust.store();
    let now = crate::store::now();
    for id in ctx.me.ids() {
        if let Some(s) = ctx.me.signer_of(id) {
            if let Err(e) = store.check_node_cert(s.cert_der(), now) {
                ctx.alarm(
                    AlarmKind::OwnCertificateRefused,
                    id.as_str(),
                    format!(
                        "the trust in force refuses this node's certificate for {id}: {e} ({}); \
                         peers refuse it too",
                        e.reason_code()
                    ),
                );
            }
        }
    }
    if let Some(mut state) = crate::admin_log::StartState::read(&ctx.cfg.data_dir) {
        if let Ok(facts) = liaison_certs::facts::store_facts(&store, Path::new("trust in force")) {
            state.trust = facts
                .iter()
                .map(|f| {
                    (
                        f.ca.fingerprint.clone(),
                        crate::admin_log::TrustLine::from(f),
                    )
                })
                .collect();
            *ctx.expiries.lock().unwrap_or_else(|e| e.into_inner()) =
                crate::expiry::of_start(&state);
        }
    }
}

/// Takes a CRL a peer handed over: puts it in force, keeps it and hands it on if it is newer
/// than the one in force for its CA; ignores it if not newer or for a network not trusted
/// here; logs a refusal if it claims a trusted CA that did not sign it.
async fn receive(ctx: &Arc<Ctx>, peer: &NodeId, der: Vec<u8>) {
    let _one = ctx.trust.replacing.lock().await;
    match apply_crl(&ctx.trust.store(), &der) {
        Ok(CrlUpdate::Newer {
            store,
            network,
            fingerprint,
            number,
            previous,
            newly_revoked,
        }) => {
            let fp = fingerprint.to_string();
            if let Err(e) = keep_crl(&ctx.cfg.data_dir, &fp, &der) {
                // In force all the same; a restart before the next copy arrives would not
                // have it until a peer hands it over again (each session starts with the CRLs).
                tracing::error!(peer = %peer, error = %e, "cannot keep a CRL received from a peer");
            }
            if let Err(e) = ctx.trust.replace(store) {
                tracing::error!(peer = %peer, error = %e, "a CRL from a peer could not be put in force");
                return;
            }
            let detail = describe(
                &network,
                &fp,
                previous,
                number,
                &newly_revoked,
                &format!("received from {peer}"),
            );
            tracing::info!(peer = %peer, %network, number, "CRL received and in force");
            crate::admin_log::record(&ctx.store, "crl-applied", detail).await;
            ctx.trust.publish(der);
            after_change(ctx);
        }
        Ok(CrlUpdate::NotNewer { .. } | CrlUpdate::NotTrusted) => {}
        Err(e) => {
            tracing::warn!(peer = %peer, reason = e.reason_code(), error = %e, "a peer handed over a CRL that is not acceptable");
            let _ = ctx
                .store
                .record(Event::Refused {
                    id: None,
                    msg: None,
                    peer: peer.clone(),
                    reason_code: e.reason_code().into(),
                })
                .await;
        }
    }
}

/// Serves a stream a peer opened with a `Crl` frame: that list and every further one on the
/// stream. Any other frame stops the stream (`unexpected-frame`).
pub(crate) async fn serve(
    ctx: Arc<Ctx>,
    peer: NodeId,
    (mut send, mut recv): (quinn::SendStream, quinn::RecvStream),
    mut frames: FrameReader,
    first: Vec<u8>,
) {
    let _ = send.finish();
    receive(&ctx, &peer, first).await;
    let decoder = FrameDecoder::new(ctx.cfg.limits.max_frame);
    loop {
        match frames.next(&mut recv, &decoder).await {
            Ok(Some((FrameType::Crl, der))) => receive(&ctx, &peer, der).await,
            Ok(Some((t, _))) => {
                tracing::warn!(peer = %peer, frame = ?t, reason = "unexpected-frame", "a frame other than a CRL on a CRL stream");
                let _ = recv.stop(code::BAD_FRAME.into());
                return;
            }
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(peer = %peer, reason = e.reason_code(), error = %e, "CRL stream ended");
                let _ = recv.stop(code::BAD_FRAME.into());
                return;
            }
        }
    }
}

/// Hands `peer` the CRLs in force, then every CRL newly in force, while `conn` lasts.
pub(crate) async fn offer_loop(ctx: Arc<Ctx>, conn: quinn::Connection, peer: NodeId) {
    let mut published = ctx.trust.published();
    let in_force = |ctx: &Ctx| -> Vec<Arc<Vec<u8>>> {
        ctx.trust
            .store()
            .cas()
            .filter_map(|ca| ca.crl_der().map(|d| Arc::new(d.to_vec())))
            .collect()
    };
    let mut next = in_force(&ctx);
    loop {
        if !next.is_empty() {
            if let Err(e) = hand_over(&ctx, &conn, &next).await {
                tracing::debug!(peer = %peer, error = %e, "cannot hand CRLs to the peer");
                return;
            }
        }
        next = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = conn.closed() => return,
            r = published.recv() => match r {
                Ok(crl) => vec![crl],
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => in_force(&ctx),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        };
    }
}

async fn hand_over(
    ctx: &Ctx,
    conn: &quinn::Connection,
    crls: &[Arc<Vec<u8>>],
) -> Result<(), String> {
    let decoder = FrameDecoder::new(ctx.cfg.limits.max_frame);
    let (mut send, _recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    for crl in crls {
        let frame = decoder
            .encode(FrameType::Crl, crl)
            .map_err(|e| e.to_string())?;
        send.write_all(&frame).await.map_err(|e| e.to_string())?;
    }
    send.finish().map_err(|e| e.to_string())?;
    // Until the peer has read the whole stream (or the connection ends).
    let _ = send.stopped().await;
    Ok(())
}

/// Resolves, with the reason, once the trust in force refuses the peer of `conn` (checked
/// now and after each replacement of the trust); never while it accepts it.
pub(crate) async fn refused(ctx: &Ctx, conn: &quinn::Connection) -> TlsError {
    let mut changes = ctx.trust.changes();
    changes.borrow_and_update();
    loop {
        if let Err(e) = crate::endpoint::verified_peer(conn, &ctx.trust.store()) {
            return e;
        }
        if changes.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Closes `conn` because the trust now refuses its peer, and logs why.
pub(crate) fn close_refused(conn: &quinn::Connection, peer: &NodeId, why: &TlsError) {
    tracing::warn!(peer = %peer, reason = why.reason_code(), error = %why, "closing the connection: the trust in force refuses the peer");
    conn.close(code::UNEXPECTED_PEER.into(), why.reason_code().as_bytes());
}

/// Reloads the trust on `SIGHUP` and whenever the trust files change, until the node stops.
pub(crate) async fn watch(ctx: Arc<Ctx>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; the trust files are still watched");
            None
        }
    };
    let mut seen = files_digest(&ctx.cfg);
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let why = tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = tick.tick() => {
                if files_digest(&ctx.cfg) == seen {
                    continue;
                }
                "the trust files changed"
            }
            Some(()) = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            } => "SIGHUP",
        };
        seen = files_digest(&ctx.cfg);
        reload(&ctx, why).await;
    }
}
