//! Sealing keys and route announcements: how a node learns which peers reach which networks,
//! and the sealing public keys of the nodes it may write to.
//!
//! * Each node keeps one X25519 sealing secret in `<data>/sealing.key` (created at first
//!   start, mode 0600) and, per identity, a signed `sealing-key` message stating its public
//!   key (valid for a year; re-signed at each start).
//! * At every session start a node sends its peer an `announce` message: the destinations it
//!   reaches for that peer (its own networks and its routes, only where a `[[relay]]` rule
//!   lets it relay from the peer's network; never a route learned from that same peer; one
//!   more relay each) and every sealing-key statement it knows. A node accepts an
//!   announcement only from the peer whose connection identity signed it; each statement in it
//!   is verified on its own (signature, certificate chain to a trusted CA, not expired), so a
//!   relay cannot substitute a key. What changed is announced on to the other peers.
//! * Known statements are kept in `<data>/directory.bin` and verified again at start-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use liaison_protocol::handling::Release;
use liaison_protocol::message::{Body, Header, Kind};
use liaison_protocol::routing::{Announcement, Reach, Route, RouteSource};
use liaison_protocol::seal::{SealingKey, SealingSecret};
use liaison_protocol::{NodeId, Recipient, SignedMessage, Timestamp, TrustStore};

use crate::core::Ctx;
use crate::error::{NodeError, Result};
pub(crate) use crate::keys::{verify_statement, Directory};
use crate::store::now;

/// How long a sealing-key statement is valid.
const KEY_VALIDITY_MS: u64 = 365 * 86_400_000;

/// File name of the sealing secret in the data dir.
pub(crate) const SEALING_KEY_FILE: &str = "sealing.key";

/// The sealing secret of the node with data dir `data`, created on first use (mode 0600).
pub(crate) fn load_or_create_secret(data: &Path) -> Result<SealingSecret> {
    let path = data.join(SEALING_KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let b: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                NodeError::Failed(format!(
                    "{}: a sealing key is 32 bytes, this file has {}",
                    path.display(),
                    bytes.len()
                ))
            })?;
            Ok(SealingSecret::from_bytes(b))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let s = SealingSecret::generate(&ring::rand::SystemRandom::new())
                .map_err(|e| NodeError::Failed(format!("cannot create a sealing key: {e}")))?;
            crate::files::create_durably(&path, &s.to_bytes()[..])?;
            tracing::info!(path = %path.display(), "created the sealing key");
            Ok(s)
        }
        Err(e) => Err(NodeError::Failed(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn directory_file(data: &Path) -> PathBuf {
    data.join("directory.bin")
}

/// Loads the kept statements (each verified again; what no longer verifies is dropped).
pub(crate) fn load(data: &Path, trust: &TrustStore) -> Directory {
    let mut d = Directory::default();
    let Ok(bytes) = std::fs::read(directory_file(data)) else {
        return d;
    };
    let kept: Vec<SignedMessage> = postcard::from_bytes(&bytes).unwrap_or_default();
    let t = now();
    for s in kept {
        if let Ok((node, k)) = verify_statement(&s, trust, t) {
            d.learn(node, k);
        }
    }
    d
}

/// Signs this node's sealing-key statement for each of its identities.
pub(crate) fn own_statements(
    signers: &[Arc<liaison_protocol::Signer>],
    sealing: &SealingSecret,
) -> Result<Vec<SignedMessage>> {
    use ring::rand::SecureRandom;
    let t = now();
    let rng = ring::rand::SystemRandom::new();
    let mut out = Vec::new();
    for signer in signers {
        let mut nonce = [0u8; 16];
        rng.fill(&mut nonce)
            .map_err(|_| NodeError::failed("system random generator failed"))?;
        let node = signer.node().clone();
        let net = node.network();
        let mut body = Body {
            header: Header {
                originator: node,
                created_at: t,
                nonce,
                recipients: vec![Recipient::Network(net.clone())],
                case: None,
                in_reply_to: None,
                expires_at: None,
                hop_limit: 1,
            },
            handling: crate::compose::control_handling(vec![Release::Network(net)])?,
            kind: Kind::SealingKey(SealingKey {
                key: sealing.public(),
                not_after: Timestamp(t.millis() + KEY_VALIDITY_MS),
            }),
        };
        out.push(signer.sign(&mut body).map_err(NodeError::failed)?);
    }
    Ok(out)
}

/// What this node announces to `peer`.
pub(crate) fn announcement_for(ctx: &Ctx, peer: &NodeId) -> Announcement {
    let from = peer.network_str();
    let mut best: BTreeMap<Recipient, u8> = BTreeMap::new();
    let mut offer = |dest: Recipient, d: u8| {
        let e = best.entry(dest).or_insert(d);
        *e = (*e).min(d);
    };
    for me in ctx.me() {
        let net = me.network_str();
        if net != from && ctx.cfg.may_relay(from, net) {
            offer(Recipient::Network(me.network()), 0);
        }
    }
    let routes = ctx.routes.read().map(|r| r.clone()).unwrap_or_default();
    for r in routes {
        if &r.via != peer
            && ctx.cfg.may_relay(from, r.via.network_str())
            && r.distance + 1 < liaison_protocol::limits::MAX_HOP_LIMIT
        {
            offer(r.dest, r.distance + 1);
        }
    }
    let mut keys = ctx.own_statements.clone();
    if let Ok(d) = ctx.directory.read() {
        keys.extend(d.statements());
    }
    keys.truncate(liaison_protocol::routing::MAX_KEYS);
    Announcement {
        reach: best
            .into_iter()
            .map(|(dest, distance)| Reach { dest, distance })
            .collect(),
        keys,
    }
}

/// Queues an announcement for `peer` (durably, like any message).
pub(crate) async fn announce(ctx: &Arc<Ctx>, peer: &NodeId) -> Result<()> {
    let signer = ctx.identity_for(peer).signer.clone();
    let mut body = crate::exchange::control_body(
        ctx,
        signer.node(),
        peer,
        vec![Release::Node(peer.clone())],
        Kind::Announce(announcement_for(ctx, peer)),
        None,
        1,
    )?;
    ctx.originate(&signer, &mut body, vec![peer.clone()])
        .await?;
    Ok(())
}

/// Takes in `peer`'s announcement: its routes replace those announced by it before; each
/// key statement that verifies joins the directory. Returns whether anything changed.
pub(crate) fn learn(ctx: &Ctx, peer: &NodeId, a: &Announcement) -> bool {
    let t = now();
    let mut changed = false;
    if let Ok(mut routes) = ctx.routes.write() {
        let mut fresh: Vec<Route> = routes
            .iter()
            .filter(|r| !(r.source == RouteSource::Announced && &r.via == peer))
            .cloned()
            .collect();
        fresh.extend(a.routes_via(peer));
        if fresh != *routes {
            *routes = fresh;
            changed = true;
        }
    }
    let mut learned = false;
    if let Ok(mut d) = ctx.directory.write() {
        for s in &a.keys {
            match verify_statement(s, &ctx.trust, t) {
                Ok((node, k)) if !ctx.is_me(&node) => learned |= d.learn(node, k),
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(peer = %peer, error = %e, "announced sealing key not taken")
                }
            }
        }
        if learned {
            ctx.keys_learned.send_modify(|n| *n += 1);
            let kept = postcard::to_stdvec(&d.statements()).unwrap_or_default();
            if let Err(e) = crate::files::write_durably(&directory_file(&ctx.cfg.data_dir), kept) {
                ctx.alarm(
                    crate::alarm::AlarmKind::DirectoryNotKept,
                    "directory",
                    format!("cannot keep the sealing-key directory: {e:#}"),
                );
            }
        }
    }
    changed || learned
}

/// Announces to every connected peer except `except` (after something changed).
pub(crate) async fn announce_to_others(ctx: &Arc<Ctx>, except: &NodeId) {
    let peers: Vec<NodeId> = ctx
        .peers
        .lock()
        .map(|p| {
            p.iter()
                .filter(|(n, s)| *n != except && s.connected)
                .map(|(n, _)| n.clone())
                .collect()
        })
        .unwrap_or_default();
    for p in peers {
        if let Err(e) = announce(ctx, &p).await {
            tracing::warn!(peer = %p, error = %e, "cannot queue an announcement");
        }
    }
}
