//! Deconfliction on a node (see [`liaison_protocol::selector`] and `docs/DECISIONS.md`).
//!
//! * **Centres** that hold the federation's key (`deconfliction.key_file`) send, after each
//!   content message they originate, the keyed hashes of its selectors to the service
//!   (`deconfliction.service`) in a `selectors` message sealed to the service: relays see
//!   neither the selectors nor their hashes.
//! * **The service** (`deconfliction.serve`, a node that does not hold the key) keeps every
//!   hash it was sent with who sent it, for which message and case; when a hash arrives from
//!   a node that another node also sent, it sends each of the two a `deconfliction` notice
//!   (sealed to it alone) naming the kind of selector, that node's own message and case, and
//!   the other node — nothing of the other's content. Its index is rebuilt at start-up from
//!   the `selectors` messages in its store; a pair is notified once per pair of messages.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::error::{fail, NodeError, Result};
use liaison_protocol::message::{Body, ContentKind, Header, Kind};
use liaison_protocol::selector::{
    of_payload, Overlap, PhoneContext, SelectorHash, SelectorKey, Selectors,
};
use liaison_protocol::{CaseId, MessageId, NodeId, Recipient, Release, Timestamp};

use crate::compose::DEFAULT_HOP_LIMIT;
use crate::config::DeconflictionConfig;
use crate::node::Ctx;
use crate::store::{now, Role};

/// Reads the deconfliction key: 64 hex digits (whitespace around them ignored).
pub fn load_key(cfg: &DeconflictionConfig) -> Result<Option<SelectorKey>> {
    let Some(path) = &cfg.key_file else {
        return Ok(None);
    };
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| {
            NodeError::Failed(format!(
                "deconfliction.key_file: cannot read {}: {e}",
                path.display()
            ))
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        fail!(
            "deconfliction.key_file: {} has mode {:04o}; the key lets its holder test guesses against the service's hashes. Run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        NodeError::Failed(format!(
            "deconfliction.key_file: cannot read {}: {e}",
            path.display()
        ))
    })?;
    let bytes = liaison_protocol::ids::unhex(text.trim())
        .filter(|b| b.len() == 32)
        .ok_or_else(|| {
            NodeError::Failed(format!(
                "deconfliction.key_file: {} does not hold 64 hex digits (make one with `liaison certs deconfliction-key`)",
                path.display()
            ))
        })?;
    let mut k = [0u8; 32];
    k.copy_from_slice(&bytes);
    Ok(Some(SelectorKey::new(&k)))
}

/// How phone numbers in national form are read here.
fn phone_context(cfg: &DeconflictionConfig) -> PhoneContext {
    PhoneContext {
        country_code: cfg.country_code.clone(),
        trunk_prefix: cfg.trunk_prefix.clone(),
    }
}

/// One holder of a selector hash, as the service keeps it.
#[derive(Clone, Debug)]
struct Holder {
    node: NodeId,
    message: MessageId,
    case: Option<CaseId>,
    since: Timestamp,
}

/// The service's index: hash → holders; pairs of messages already notified.
#[derive(Default)]
pub struct Service {
    holders: HashMap<SelectorHash, Vec<Holder>>,
    notified: HashSet<(MessageId, MessageId)>,
}

/// After `id` (whose readable body is `body`) was originated here: sends the keyed hashes
/// of its selectors to the service, if this node holds the key and the message has any.
/// Failures are logged: the message itself is already sent.
pub async fn submit(ctx: &Ctx, id: MessageId, body: &Body) {
    let (Some(key), Some(service)) = (&ctx.selector_key, &ctx.cfg.deconfliction.service) else {
        return;
    };
    let payload = match body.kind.content_kind() {
        Some(k) if crate::kinds::submits_selectors(k) => body.kind.payload(),
        _ => None,
    };
    let Some(payload) = payload else { return };
    let selectors = of_payload(payload, &phone_context(&ctx.cfg.deconfliction));
    if selectors.is_empty() || ctx.is_me(service) {
        return;
    }
    let mut hashes: Vec<SelectorHash> = selectors.iter().map(|s| key.hash(s)).collect();
    hashes.sort();
    hashes.dedup();
    let n = hashes.len();
    let result = async {
        let mut body = Body {
            header: Header {
                originator: ctx.id.clone(),
                created_at: now(),
                nonce: ctx.nonce()?,
                recipients: vec![Recipient::Node(service.clone())],
                case: body.header.case.clone(),
                in_reply_to: Some(id),
                expires_at: None,
                hop_limit: DEFAULT_HOP_LIMIT,
            },
            handling: notice_handling(&ctx.id, service)?,
            kind: Kind::Selectors(Selectors { hashes }),
        };
        body.normalise();
        Box::pin(crate::node::send_body(ctx, body)).await
    }
    .await;
    match result {
        Ok(sent) => {
            tracing::info!(id = %id.short(), selectors = n, submission = %sent.id.short(), service = %service, "selectors sent for deconfliction")
        }
        Err(e) => {
            tracing::warn!(id = %id.short(), service = %service, error = %format!("{e:#}"), "cannot send selectors for deconfliction")
        }
    }
}

/// The handling of submissions and notices: AMBER, released to the networks of the sender
/// and of the one node concerned (so the gateways between them may carry it; the content is
/// sealed to that node alone).
fn notice_handling(from: &NodeId, to: &NodeId) -> Result<liaison_protocol::Handling> {
    let mut release = vec![
        Release::Network(from.network()),
        Release::Network(to.network()),
    ];
    release.sort();
    release.dedup();
    crate::directory::control_handling(release).map(|mut h| {
        h.tlp = liaison_protocol::Tlp::Amber;
        h
    })
}

/// Rebuilds the service's index from the `selectors` messages this node holds.
pub fn rebuild(ctx: &Ctx) -> Result<Service> {
    let mut service = Service::default();
    for id in ctx.store.message_ids() {
        // Only submissions are opened (an X25519 agreement each).
        let submitted = ctx.store.state(&id)?.is_some_and(|s| {
            s.role == Role::Delivered
                && ContentKind::parse(&s.facts.kind)
                    .is_ok_and(crate::kinds::indexed_by_deconfliction)
        });
        if !submitted {
            continue;
        }
        let body = match crate::directory::read_opened(ctx, &id) {
            Ok(Some((_, body))) => body,
            Ok(None) => continue,
            // Alarmed by the store; the rest of the index is rebuilt.
            Err(crate::store::StoreError::Damaged { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some((holder, hashes)) = submission(&body) {
            for h in hashes {
                service.holders.entry(h).or_default().push(holder.clone());
            }
        }
    }
    Ok(service)
}

/// A submission's holder and hashes (none if `body` is not an opened `selectors` message).
fn submission(body: &Body) -> Option<(Holder, Vec<SelectorHash>)> {
    let Kind::Selectors(s) = &body.kind else {
        return None;
    };
    Some((
        Holder {
            node: body.header.originator.clone(),
            message: body.header.in_reply_to?,
            case: body.header.case.clone(),
            since: body.header.created_at,
        },
        s.hashes.clone(),
    ))
}

/// At the service, once a `selectors` message (opened: `body`) is durable: records its
/// hashes and tells both sides of every new overlap with another node.
pub async fn serve(ctx: &Ctx, service: &Mutex<Service>, body: &Body) {
    let Some((holder, hashes)) = submission(body) else {
        return;
    };
    let mut notices = Vec::new();
    if let Ok(mut s) = service.lock() {
        for h in hashes {
            let others: Vec<Holder> = s
                .holders
                .get(&h)
                .map(|v| {
                    v.iter()
                        .filter(|o| o.node != holder.node)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for other in others {
                let pair = if holder.message < other.message {
                    (holder.message, other.message)
                } else {
                    (other.message, holder.message)
                };
                if s.notified.insert(pair) {
                    notices.push((h.kind, holder.clone(), other.clone()));
                    notices.push((h.kind, other, holder.clone()));
                }
            }
            s.holders.entry(h).or_default().push(holder.clone());
        }
    }
    for (kind, to, other) in notices {
        let overlap = Overlap {
            kind,
            yours: to.message,
            your_case: to.case.clone(),
            other: other.node.clone(),
            other_since: other.since,
        };
        match notify(ctx, &to, overlap).await {
            Ok(id) => {
                tracing::info!(to = %to.node, other = %other.node, kind = kind.name(), notice = %id.short(), "deconfliction: overlap notified")
            }
            Err(e) => ctx.alarm(
                crate::alarm::AlarmKind::DeconflictionNotice,
                to.node.as_str(),
                format!(
                    "deconfliction: cannot notify {} of an overlap: {e:#}",
                    to.node
                ),
            ),
        }
    }
}

async fn notify(ctx: &Ctx, to: &Holder, overlap: Overlap) -> Result<MessageId> {
    let mut body = Body {
        header: Header {
            originator: ctx.id.clone(),
            created_at: now(),
            nonce: ctx.nonce()?,
            recipients: vec![Recipient::Node(to.node.clone())],
            case: to.case.clone(),
            in_reply_to: Some(to.message),
            expires_at: None,
            hop_limit: DEFAULT_HOP_LIMIT,
        },
        handling: notice_handling(&ctx.id, &to.node)?,
        kind: Kind::Deconfliction(overlap),
    };
    body.normalise();
    Ok(Box::pin(crate::node::send_body(ctx, body)).await?.id)
}
