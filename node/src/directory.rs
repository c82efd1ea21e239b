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
use liaison_protocol::seal::{open_kind, seal_kind, SealingKey, SealingSecret, SenderShare};
use liaison_protocol::{
    Evaluation, Handling, NodeId, Recipient, SignedMessage, Timestamp, Tlp, TrustStore,
};

use crate::error::{NodeError, Result};
use crate::node::Ctx;
use crate::refusal::Refusal;
use crate::store::now;

/// How long a sealing-key statement is valid.
const KEY_VALIDITY_MS: u64 = 365 * 86_400_000;

/// A verified sealing key of some node.
#[derive(Clone, Debug)]
pub struct KnownKey {
    /// The X25519 public key.
    pub key: [u8; 32],
    /// Valid until.
    pub not_after: Timestamp,
    /// The signed statement, passed on in announcements.
    pub statement: SignedMessage,
}

/// The sealing keys a node knows, by node id.
#[derive(Default)]
pub struct Directory {
    keys: BTreeMap<NodeId, KnownKey>,
}

impl Directory {
    /// The key of `node`, if known and valid at `at`.
    pub fn key(&self, node: &NodeId, at: Timestamp) -> Option<[u8; 32]> {
        self.keys
            .get(node)
            .filter(|k| k.not_after > at)
            .map(|k| k.key)
    }

    /// The valid keys of every known node in `network`.
    pub fn keys_in(&self, network: &str, at: Timestamp) -> Vec<(NodeId, [u8; 32])> {
        self.keys
            .iter()
            .filter(|(n, k)| n.network_str() == network && k.not_after > at)
            .map(|(n, k)| (n.clone(), k.key))
            .collect()
    }

    /// Every statement known.
    pub fn statements(&self) -> Vec<SignedMessage> {
        self.keys.values().map(|k| k.statement.clone()).collect()
    }

    /// Adds a verified statement; true if it is new or newer than the one held.
    fn learn(&mut self, node: NodeId, k: KnownKey) -> bool {
        match self.keys.get(&node) {
            Some(old) if old.key == k.key && old.not_after >= k.not_after => false,
            _ => {
                self.keys.insert(node, k);
                true
            }
        }
    }
}

/// Verifies a sealing-key statement: a `sealing-key` message that verifies against `trust`
/// and is valid at `at`. Returns its signer and key.
pub fn verify_statement(
    statement: &SignedMessage,
    trust: &TrustStore,
    at: Timestamp,
) -> Result<(NodeId, KnownKey), String> {
    let v = statement
        .clone()
        .verify(trust)
        .map_err(|e| format!("{}: {e}", e.reason_code()))?;
    match &v.body().kind {
        Kind::SealingKey(k) if k.not_after > at => Ok((
            v.originator().clone(),
            KnownKey {
                key: k.key,
                not_after: k.not_after,
                statement: statement.clone(),
            },
        )),
        Kind::SealingKey(_) => Err("expired sealing-key statement".into()),
        other => Err(format!(
            "a {} message is not a sealing-key statement",
            other.name()
        )),
    }
}

/// File name of the sealing secret in the data dir.
pub const SEALING_KEY_FILE: &str = "sealing.key";

/// The sealing secret of the node with data dir `data`, created on first use (mode 0600).
pub fn load_or_create_secret(data: &Path) -> Result<SealingSecret> {
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
pub fn load(data: &Path, trust: &TrustStore) -> Directory {
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
pub fn own_statements(
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
            handling: control_handling(vec![Release::Network(net)])?,
            kind: Kind::SealingKey(SealingKey {
                key: sealing.public(),
                not_after: Timestamp(t.millis() + KEY_VALIDITY_MS),
            }),
        };
        out.push(signer.sign(&mut body).map_err(NodeError::failed)?);
    }
    Ok(out)
}

/// The handling block of the messages nodes exchange among themselves.
pub fn control_handling(releasability: Vec<Release>) -> Result<Handling> {
    Ok(Handling {
        tlp: Tlp::Green,
        releasability,
        originator_control: false,
        h0_crime_only: false,
        h1_no_judicial_use: false,
        h3_restrictions: None,
        evaluation: "A1".parse::<Evaluation>().map_err(NodeError::failed)?,
    })
}

/// What this node announces to `peer`.
pub fn announcement_for(ctx: &Ctx, peer: &NodeId) -> Announcement {
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
pub async fn announce(ctx: &Arc<Ctx>, peer: &NodeId) -> Result<()> {
    let signer = ctx.identity_for(peer).signer.clone();
    let mut body = crate::relay::control_body(
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
pub fn learn(ctx: &Ctx, peer: &NodeId, a: &Announcement) -> bool {
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
pub async fn announce_to_others(ctx: &Arc<Ctx>, except: &NodeId) {
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

/// How long a sender reuses its agreement with one recipient before making a new one.
const SHARE_LIFETIME_MS: u64 = 3_600_000;

/// The sender's agreements with recipients' sealing keys, reused for an hour
/// ([`liaison_protocol::seal::SenderShare`]).
#[derive(Default)]
pub struct Shares {
    held: std::collections::HashMap<NodeId, (Arc<SenderShare>, Timestamp)>,
}

/// Seals `body`'s content to its recipients and to this node (so it can show what it sent):
/// each named node, and every node of a named network whose key this node knows. Refuses
/// (`no-sealing-key`) when a named node's key, or any key of a named network, is unknown:
/// content never leaves in the clear.
pub fn seal_body(ctx: &Ctx, body: &mut Body) -> Result<(), Refusal> {
    if !body.kind.is_content() {
        return Ok(());
    }
    let t = now();
    let refuse = |what: String| {
        Refusal::NoSealingKey(format!(
            "the sealing key of {what} is not known here yet; keys arrive with the route announcements of connected peers, try again once {what} (or its gateway) is reachable"
        ))
    };
    let mut keys: BTreeMap<NodeId, [u8; 32]> = BTreeMap::new();
    keys.insert(body.header.originator.clone(), ctx.sealing.public());
    {
        let d = ctx.directory.read().map_err(|_| refuse("anyone".into()))?;
        for r in &body.header.recipients {
            match r {
                Recipient::Node(n) if ctx.is_me(n) => {
                    keys.insert(n.clone(), ctx.sealing.public());
                }
                Recipient::Node(n) => {
                    keys.insert(n.clone(), d.key(n, t).ok_or_else(|| refuse(n.to_string()))?);
                }
                Recipient::Network(net) => {
                    let found = d.keys_in(net.as_str(), t);
                    if found.is_empty() {
                        return Err(refuse(format!("any node of network:{net}")));
                    }
                    keys.extend(found);
                    for me in ctx.me() {
                        if me.network_str() == net.as_str() {
                            keys.insert(me, ctx.sealing.public());
                        }
                    }
                }
            }
        }
    }
    let sealed = seal_to(ctx, &body.kind, &body.header, &keys)?;
    body.kind = Kind::Sealed(sealed);
    Ok(())
}

/// The sealing key of `node` as this node knows it (its own for its identities).
pub fn key_of(ctx: &Ctx, node: &NodeId) -> Option<[u8; 32]> {
    if ctx.is_me(node) {
        return Some(ctx.sealing.public());
    }
    ctx.directory.read().ok()?.key(node, now())
}

/// Seals the content `kind` of a body with `header` to the nodes of `keys`, reusing this
/// node's agreements with them while they are fresh.
pub fn seal_to(
    ctx: &Ctx,
    kind: &Kind,
    header: &Header,
    keys: &BTreeMap<NodeId, [u8; 32]>,
) -> Result<liaison_protocol::message::SealedContent, Refusal> {
    let t = now();
    let shares = {
        let mut held = ctx
            .shares
            .lock()
            .map_err(|_| Refusal::SealingFailed("poisoned".to_string()))?;
        let mut out = Vec::with_capacity(keys.len());
        for (node, key) in keys {
            let fresh = held.held.get(node).is_some_and(|(s, at)| {
                s.public() == key && t.millis().saturating_sub(at.millis()) < SHARE_LIFETIME_MS
            });
            if !fresh {
                let s = SenderShare::new(node, key, &ring::rand::SystemRandom::new())
                    .map_err(|e| Refusal::from(e).at(node))?;
                held.held.insert(node.clone(), (Arc::new(s), t));
            }
            if let Some((s, _)) = held.held.get(node) {
                out.push(s.clone());
            }
        }
        out
    };
    let refs: Vec<&SenderShare> = shares.iter().map(|s| s.as_ref()).collect();
    seal_kind(kind, header, &refs, &ring::rand::SystemRandom::new()).map_err(Refusal::from)
}

/// A stored message's state and readable body (opened where this node can; see
/// [`open_body`]); `None` if unknown or purged.
pub fn read_opened(
    ctx: &Ctx,
    id: &liaison_protocol::MessageId,
) -> Result<Option<(crate::store::MessageState, Body)>, crate::store::StoreError> {
    let Some(state) = ctx.store.state(id)? else {
        return Ok(None);
    };
    let Some(env) = ctx.store.envelope(id)? else {
        return Ok(None);
    };
    // The store checked the bytes against the id, and the message was verified when it was
    // stored, so it decodes; if not, it is treated as the damage it would be.
    let body = Body::decode(&env.signed.body).map_err(|e| crate::store::StoreError::Damaged {
        id: *id,
        why: format!("its body does not decode: {}", e.reason_code()),
    })?;
    Ok(Some((state, open_body(ctx, body).0)))
}

/// The readable form of a stored body: sealed content opened for whichever of this node's
/// identities it was sealed to. `Err` (with the reason) if it is sealed and cannot be opened
/// here; the body is then returned as it is.
pub fn open_body(ctx: &Ctx, mut body: Body) -> (Body, Option<String>) {
    if let Kind::Share(share) = &body.kind {
        return open_share(ctx, share).map_or_else(|why| (body, Some(why)), |b| (b, None));
    }
    let Kind::Sealed(sealed) = &body.kind else {
        return (body, None);
    };
    let mine = ctx.me();
    let Some(me) = sealed
        .content
        .recipients()
        .find(|n| mine.contains(n))
        .cloned()
    else {
        return (
            body,
            Some("sealed to other nodes: this node holds no key to open it".into()),
        );
    };
    match open_kind(sealed, &body.header, &me, &ctx.sealing) {
        Ok(kind) => {
            let clear = Body {
                header: body.header.clone(),
                handling: body.handling.clone(),
                kind,
            };
            match clear.validate() {
                Ok(()) => {
                    body = clear;
                    (body, None)
                }
                Err(e) => (body, Some(format!("opened content is not valid: {e}"))),
            }
        }
        Err(e) => (body, Some(format!("{}: {e}", e.reason_code()))),
    }
}

/// A shared message as its recipient reads it: the original's header and handling, with the
/// content the originator re-sealed for this node in its grant.
fn open_share(ctx: &Ctx, share: &liaison_protocol::message::Share) -> Result<Body, String> {
    let original = Body::decode(&share.original.body).map_err(|e| e.to_string())?;
    if !matches!(original.kind, Kind::Sealed(_)) {
        return Ok(original);
    }
    let mine = ctx.me();
    for g in &share.grants {
        let Ok(gb) = Body::decode(&g.body) else {
            continue;
        };
        let Kind::ConsentAnswer(a) = gb.kind else {
            continue;
        };
        let Some(resealed) = a.resealed else {
            continue;
        };
        let Some(me) = resealed
            .content
            .recipients()
            .find(|n| mine.contains(n))
            .cloned()
        else {
            continue;
        };
        let kind = open_kind(&resealed, &original.header, &me, &ctx.sealing)
            .map_err(|e| format!("{}: {e}", e.reason_code()))?;
        let clear = Body {
            header: original.header.clone(),
            handling: original.handling.clone(),
            kind,
        };
        clear.validate().map_err(|e| e.to_string())?;
        return Ok(clear);
    }
    Err("no grant in this share re-seals the content for this node".into())
}
