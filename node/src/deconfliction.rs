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

use std::sync::Mutex;

use crate::error::{fail, NodeError, Result};
use liaison_protocol::message::{Body, ContentKind, Header, Kind};
use liaison_protocol::selector::{Overlap, SelectorKey};
use liaison_protocol::{MessageId, Recipient};

use crate::compose::DEFAULT_HOP_LIMIT;
use crate::config::DeconflictionConfig;
use crate::core::Ctx;
pub(crate) use crate::selector_index::Service;
use crate::selector_index::{submission, Holder};
use crate::store::{now, Role};

/// Reads the deconfliction key: 64 hex digits (whitespace around them ignored).
pub(crate) fn load_key(cfg: &DeconflictionConfig) -> Result<Option<SelectorKey>> {
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

/// Rebuilds the service's index from the `selectors` messages this node holds.
pub(crate) fn rebuild(store: &crate::store::Store, keys: &crate::core::Keys) -> Result<Service> {
    let mut service = Service::default();
    for id in store.message_ids() {
        // Only submissions are opened (an X25519 agreement each).
        let submitted = store.state(&id)?.is_some_and(|s| {
            s.role == Role::Delivered
                && ContentKind::parse(&s.facts.kind)
                    .is_ok_and(crate::kinds::indexed_by_deconfliction)
        });
        if !submitted {
            continue;
        }
        let body = match crate::sealing::read_opened(store, keys, &id) {
            Ok(Some((_, body))) => body,
            Ok(None) => continue,
            // Alarmed by the store; the rest of the index is rebuilt.
            Err(crate::store::StoreError::Damaged { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some((holder, hashes)) = submission(&body) {
            for h in hashes {
                service.add(h, holder.clone());
            }
        }
    }
    Ok(service)
}

/// At the service, once a `selectors` message (opened: `body`) is durable: records its
/// hashes and tells both sides of every new overlap with another node.
pub(crate) async fn serve(ctx: &Ctx, service: &Mutex<Service>, body: &Body) {
    let Some((holder, hashes)) = submission(body) else {
        return;
    };
    let notices = match service.lock() {
        Ok(mut s) => s.record(holder, hashes),
        Err(_) => Vec::new(),
    };
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
            originator: ctx.me.id().clone(),
            created_at: now(),
            nonce: ctx.me.nonce()?,
            recipients: vec![Recipient::Node(to.node.clone())],
            case: to.case.clone(),
            in_reply_to: Some(to.message),
            expires_at: None,
            hop_limit: DEFAULT_HOP_LIMIT,
        },
        handling: crate::selector_index::notice_handling(ctx.me.id(), &to.node)?,
        kind: Kind::Deconfliction(overlap),
    };
    body.normalise();
    Ok(Box::pin(crate::exchange::send_body(ctx, body)).await?.id)
}
