//! Sealing and opening content with this node's keys: a body's content sealed to its
//! recipients' sealing keys (and to this node's own, so it can show what it sent), and stored
//! or received messages opened with this node's sealing secret
//! ([`liaison_protocol::seal`]).

use liaison_protocol::message::{Body, Header, Kind};
use liaison_protocol::seal::{open_kind, seal_kind, SenderShare};
use liaison_protocol::{NodeId, Recipient};
use std::collections::BTreeMap;

use crate::error::Result;
use crate::keys::Keys;
use crate::refusal::Refusal;
use crate::store::now;
use crate::store::Store;

/// Seals `body`'s content to its recipients and to this node (so it can show what it sent):
/// each named node, and every node of a named network whose key this node knows. Refuses
/// (`no-sealing-key`) when a named node's key, or any key of a named network, is unknown:
/// content never leaves in the clear.
pub fn seal_body(own: &Keys, body: &mut Body) -> Result<(), Refusal> {
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
    keys.insert(body.header.originator.clone(), own.public());
    {
        let d = own.directory().ok_or_else(|| refuse("anyone".into()))?;
        for r in &body.header.recipients {
            match r {
                Recipient::Node(n) if own.mine().contains(n) => {
                    keys.insert(n.clone(), own.public());
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
                    for me in own.mine() {
                        if me.network_str() == net.as_str() {
                            keys.insert(me.clone(), own.public());
                        }
                    }
                }
            }
        }
    }
    let sealed = seal_to(own, &body.kind, &body.header, &keys)?;
    body.kind = Kind::Sealed(sealed);
    Ok(())
}

/// The sealing key of `node` as this node knows it now (its own for its identities).
pub fn key_of(own: &Keys, node: &NodeId) -> Option<[u8; 32]> {
    own.key_of(node, now())
}

/// Seals the content `kind` of a body with `header` to the nodes of `keys`, reusing this
/// node's agreements with them while they are fresh.
pub fn seal_to(
    own: &Keys,
    kind: &Kind,
    header: &Header,
    keys: &BTreeMap<NodeId, [u8; 32]>,
) -> Result<liaison_protocol::message::SealedContent, Refusal> {
    let t = now();
    let shares = own.shares_for(keys, t)?;
    let refs: Vec<&SenderShare> = shares.iter().map(|s| s.as_ref()).collect();
    seal_kind(kind, header, &refs, &ring::rand::SystemRandom::new()).map_err(Refusal::from)
}

/// A stored message's state and readable body (opened where this node can; see
/// [`open_body`]); `None` if unknown or purged.
pub fn read_opened(
    store: &Store,
    own: &Keys,
    id: &liaison_protocol::MessageId,
) -> Result<Option<(crate::store::MessageState, Body)>, crate::store::StoreError> {
    let Some(state) = store.state(id)? else {
        return Ok(None);
    };
    let Some(env) = store.envelope(id)? else {
        return Ok(None);
    };
    // The store checked the bytes against the id, and the message was verified when it was
    // stored, so it decodes; if not, it is treated as the damage it would be.
    let body = Body::decode(&env.signed.body).map_err(|e| crate::store::StoreError::Damaged {
        id: *id,
        why: format!("its body does not decode: {}", e.reason_code()),
    })?;
    Ok(Some((state, open_body(own, body).0)))
}

/// The readable form of a stored body: sealed content opened for whichever of this node's
/// identities it was sealed to. `Err` (with the reason) if it is sealed and cannot be opened
/// here; the body is then returned as it is.
pub fn open_body(own: &Keys, mut body: Body) -> (Body, Option<String>) {
    if let Kind::Share(share) = &body.kind {
        return open_share(own, share).map_or_else(|why| (body, Some(why)), |b| (b, None));
    }
    let Kind::Sealed(sealed) = &body.kind else {
        return (body, None);
    };
    let mine = own.mine();
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
    match open_kind(sealed, &body.header, &me, own.secret()) {
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
fn open_share(own: &Keys, share: &liaison_protocol::message::Share) -> Result<Body, String> {
    let original = Body::decode(&share.original.body).map_err(|e| e.to_string())?;
    if !matches!(original.kind, Kind::Sealed(_)) {
        return Ok(original);
    }
    let mine = own.mine();
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
        let kind = open_kind(&resealed, &original.header, &me, own.secret())
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
