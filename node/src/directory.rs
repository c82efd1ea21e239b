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
use liaison_protocol::routing::{Announcement, Reach};
use liaison_protocol::seal::{SealingKey, SealingSecret};
use liaison_protocol::{NodeId, Recipient, SignedMessage, Timestamp, TrustStore};

use crate::config::Config;
use crate::core::{Ctx, Keys, Me, Sessions};
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

/// What this node announces to `peer`: the networks of its identities `me` and the routes
/// of `sessions` that `cfg` lets it relay from the peer's network, and the sealing keys it
/// knows.
pub(crate) fn announcement_for(
    cfg: &Config,
    me: &Me,
    sessions: &Sessions,
    keys: &Keys,
    peer: &NodeId,
) -> Announcement {
    let from = peer.network_str();
    let mut best: BTreeMap<Recipient, u8> = BTreeMap::new();
    let mut offer = |dest: Recipient, d: u8| {
        let e = best.entry(dest).or_insert(d);
        *e = (*e).min(d);
    };
    for me in me.ids() {
        let net = me.network_str();
        if net != from && cfg.may_relay(from, net) {
            offer(Recipient::Network(me.network()), 0);
        }
    }
    for r in sessions.routes() {
        if &r.via != peer
            && cfg.may_relay(from, r.via.network_str())
            && r.distance + 1 < liaison_protocol::limits::MAX_HOP_LIMIT
        {
            offer(r.dest, r.distance + 1);
        }
    }
    Announcement {
        reach: best
            .into_iter()
            .map(|(dest, distance)| Reach { dest, distance })
            .collect(),
        keys: keys.statements(liaison_protocol::routing::MAX_KEYS),
    }
}

/// Queues an announcement for `peer` (durably, like any message).
pub(crate) async fn announce(ctx: &Ctx, peer: &NodeId) -> Result<()> {
    let signer = ctx.me.for_peer(peer).signer.clone();
    let a = announcement_for(&ctx.cfg, &ctx.me, &ctx.sessions, &ctx.keys, peer);
    let mut body = crate::exchange::control_body(
        &ctx.me,
        signer.node(),
        peer,
        vec![Release::Node(peer.clone())],
        Kind::Announce(a),
        None,
        1,
    )?;
    crate::exchange::originate(&ctx.store, &signer, &mut body, vec![peer.clone()]).await?;
    Ok(())
}

/// Takes in `peer`'s announcement: its routes replace those announced by it before; each
/// key statement that verifies against `trust` joins the directory, which is kept in the data
/// dir of `cfg` (an alarm says so if it cannot be). Returns whether anything changed.
pub(crate) fn learn(
    cfg: &Config,
    trust: &TrustStore,
    sessions: &Sessions,
    keys: &Keys,
    alarms: &crate::alarm::Alarms,
    peer: &NodeId,
    a: &Announcement,
) -> bool {
    let t = now();
    let changed = sessions.learn_routes(peer, a);
    let Some(kept) = keys.learn(&a.keys, trust, t, peer) else {
        return changed;
    };
    let kept = postcard::to_stdvec(&kept).unwrap_or_default();
    if let Err(e) = crate::files::write_durably(&directory_file(&cfg.data_dir), kept) {
        alarms.raise(
            crate::alarm::AlarmKind::DirectoryNotKept,
            "directory",
            format!("cannot keep the sealing-key directory: {e:#}"),
            t,
        );
    }
    true
}

/// Announces to every connected peer except `except` (after something changed).
pub(crate) async fn announce_to_others(ctx: &Ctx, except: &NodeId) {
    for p in ctx.sessions.connected_but(except) {
        if let Err(e) = announce(ctx, &p).await {
            tracing::warn!(peer = %p, error = %e, "cannot queue an announcement");
        }
    }
}
