//! Sending: an officer's request or a body this node composed, planned, checked against its
//! handling code on every leg, sealed to its recipients, signed, logged and queued for the next
//! hops; returns once durable.

use std::sync::Arc;

use liaison_protocol::handling::{check_hop, check_network_hop, Hop};
use liaison_protocol::message::{Body, Header, Kind, Urgency};
use liaison_protocol::routing::{Leg, Target};
use liaison_protocol::{MessageId, NodeId, Recipient, Release, Timestamp};

use crate::compose::{self, SendRequest, DEFAULT_HOP_LIMIT};
use crate::core::{Ctx, Me, Sent};
use crate::error::Result;
use crate::refusal::Refusal;
use crate::store::{now, Store};
use liaison_protocol::log::MessageFacts;
use liaison_protocol::selector::{of_payload, PhoneContext, SelectorHash, Selectors};
use liaison_protocol::{Envelope, Signer};

/// How long `send` waits for a recipient's sealing key to arrive before refusing.
const KEY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Composes, signs, logs and queues a message from this node; returns once durable.
pub async fn send(ctx: &Ctx, req: &SendRequest) -> Result<Sent> {
    let body = compose::body(ctx.me.id(), req, now(), ctx.me.nonce()?)?;
    send_body(ctx, body).await
}

/// Plans, checks, seals, signs, logs and queues a body this node composed (see [`send`]);
/// returns once durable. A body addressed only to this node itself (a case opened with no
/// one else yet) is logged and queued nowhere. Deconfliction selectors of its content go to
/// the service afterwards (`submit`).
pub async fn send_body(ctx: &Ctx, mut body: Body) -> Result<Sent> {
    let t = body.header.created_at;
    let plan = ctx.sessions.plan(ctx.me.ids(), &body, None, &[]);
    if let Some(r) = plan.unroutable.first() {
        return Err(Refusal::NoRoute(format!(
            "no route to {r} from {}: it is neither a peer nor reachable through a configured or announced route",
            ctx.me.id()
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
    check_outboxes(ctx, &body, &hops)?;
    // The readable body is kept only where deconfliction will read it (not on every send).
    let clear = ctx.selector_key.is_some().then(|| body.clone());
    seal_when_keys_known(ctx, &mut body).await?;
    let (id, leaf) = originate(&ctx.store, ctx.me.signer(), &mut body, hops.clone()).await?;
    // Every message sent is in the log (`liaison audit export`): a line per message at the
    // default level would be a million lines in a flood.
    tracing::debug!(id = %id.short(), kind = body.kind.name(), to = ?hops, "message sent");
    if let Some(clear) = &clear {
        submit(ctx, id, clear).await;
    }
    Ok(Sent {
        id,
        leaf,
        next_hops: hops,
    })
}

/// Whether a message goes ahead of bulk traffic: alerts and urgent requests, which still get
/// into an outbox at its limit, up to its ceiling.
pub(crate) fn is_urgent(body: &Body) -> bool {
    matches!(
        body.kind,
        Kind::Alert(_)
            | Kind::Request {
                urgency: Urgency::Urgent,
                ..
            }
    )
}

/// Refuses a message from this node (`outbox-full`) when the outbox of one of its next hops
/// is at its limit: bulk traffic at `outbox.max_messages` / `max_bytes`, alerts and urgent
/// requests at those plus `urgent_headroom_percent` (see [`crate::config::OutboxConfig`]).
/// Nothing is dropped: the officer is told to try again, and what the outbox holds stays.
/// Sends checked at the same moment may each get in, so an outbox can pass its limit by the
/// number of sends in progress.
fn check_outboxes(ctx: &Ctx, body: &Body, hops: &[NodeId]) -> Result<(), Refusal> {
    // What the node sends on its own after an officer's message (its selectors for
    // deconfliction, an overlap notice) follows a send already accepted: never refused.
    if matches!(body.kind, Kind::Selectors(_) | Kind::Deconfliction(_)) {
        return Ok(());
    }
    let urgent = is_urgent(body);
    for peer in hops {
        let (messages, bytes) = ctx.store.outbox_load(peer);
        let l = ctx.cfg.outbox_limits(peer);
        let (max_messages, max_bytes) = if urgent {
            (l.urgent_messages, l.urgent_bytes)
        } else {
            (l.messages, l.bytes)
        };
        if messages < max_messages && bytes < max_bytes {
            continue;
        }
        *ctx.outbox_refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(peer.clone())
            .or_insert(0) += 1;
        let oldest = ctx
            .store
            .outbox(peer, 0, 1)
            .ok()
            .and_then(|v| v.into_iter().next())
            .and_then(|(_, id)| ctx.store.state(&id).ok().flatten())
            .map_or(0, |s| {
                now().millis().saturating_sub(s.logged_at.millis()) / 1000
            });
        let connected = ctx.sessions.states().get(peer).is_some_and(|s| s.connected);
        // A peer that is up drains its outbox in seconds; one that is down, when it returns.
        let retry_after_secs = if connected { 1 } else { 30 };
        let class = if urgent {
            "alerts and urgent requests"
        } else {
            "bulk traffic (anything but alerts and urgent requests)"
        };
        tracing::debug!(peer = %peer, messages, bytes, "send refused: outbox full");
        return Err(Refusal::OutboxFull {
            detail: format!(
                "outbox to {peer} is full: {messages} messages ({bytes} bytes), oldest {oldest} s; \
                 {class} to it is refused at {max_messages} messages or {max_bytes} bytes \
                 until it drains (the peer is {}); nothing was sent, try again in \
                 {retry_after_secs} s",
                if connected { "connected" } else { "not connected" }
            ),
            retry_after_secs,
        });
    }
    Ok(())
}

/// Signs `body` as `signer` (one of this node's identities), logs it as sent and queues it
/// for `hops`; returns its id and log index once durable.
pub(crate) async fn originate(
    store: &Store,
    signer: &Signer,
    body: &mut Body,
    hops: Vec<NodeId>,
) -> Result<(MessageId, u64)> {
    // Signing takes a while: a group commit meanwhile may wait for this message.
    let announced = store.announce();
    let (signed, id) = signer.sign_with_id(body).map_err(Refusal::from)?;
    let facts = MessageFacts::of(id, body);
    let leaf = store
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

/// Seals `body`'s content (see [`crate::sealing::seal_body`]). A recipient's key not known
/// yet usually arrives with the next announcement of a peer that has just connected, so a
/// missing key is waited for (up to 10 s) before the refusal (`no-sealing-key`) is returned.
pub async fn seal_when_keys_known(ctx: &Ctx, body: &mut Body) -> Result<(), Refusal> {
    let mut learned = ctx.keys.learned();
    let deadline = tokio::time::Instant::now() + KEY_WAIT;
    loop {
        learned.borrow_and_update();
        match crate::sealing::seal_body(&ctx.keys, body) {
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

/// Signs and queues a message this node writes to `to` about traffic it handled (a hop
/// report, a consent request or answer): TLP:GREEN, released to `to` and to the centres of
/// `back` (the relays between them, which are the way back). Returns its id and next hops.
pub(crate) async fn send_control(
    ctx: &Arc<Ctx>,
    to: &NodeId,
    back: &[NodeId],
    kind: Kind,
    in_reply_to: Option<MessageId>,
) -> crate::error::Result<(MessageId, Vec<NodeId>)> {
    let signer = ctx.me.for_peer(to).signer.clone();
    let mut release = vec![Release::Node(to.clone())];
    release.extend(back.iter().map(|n| Release::Centre(n.centre())));
    let t = now();
    let mut body = control_body(
        &ctx.me,
        signer.node(),
        to,
        release,
        kind,
        in_reply_to,
        DEFAULT_HOP_LIMIT,
    )?;
    body.normalise();
    // A control message that carries an officer's words (a consent request) is sealed like
    // any content: the gateways on the way route it by its header alone. As for `send`, a
    // recipient's key still on its way is waited for a little.
    seal_when_keys_known(ctx, &mut body).await?;
    let plan = ctx.sessions.plan(ctx.me.ids(), &body, None, &[]);
    let mut hops = Vec::new();
    for leg in &plan.legs {
        match check_leg(&body, leg, &[], t) {
            Ok(()) => hops.push(leg.next.clone()),
            Err(e) => {
                tracing::warn!(to = %to, next = %leg.next, reason = e.reason_code(), "message cannot take this hop")
            }
        }
    }
    hops.sort();
    hops.dedup();
    if hops.is_empty() {
        crate::error::fail!("no route to {to}");
    }
    let (id, _) = originate(&ctx.store, &signer, &mut body, hops.clone()).await?;
    Ok((id, hops))
}

/// The body of a message nodes exchange among themselves (TLP:GREEN, evaluation A1), from
/// `originator` (one of this node's identities) to the node `to`.
pub(crate) fn control_body(
    me: &crate::core::Me,
    originator: &NodeId,
    to: &NodeId,
    releasability: Vec<Release>,
    kind: Kind,
    in_reply_to: Option<MessageId>,
    hop_limit: u8,
) -> crate::error::Result<Body> {
    Ok(Body {
        header: Header {
            originator: originator.clone(),
            created_at: now(),
            nonce: me.nonce()?,
            recipients: vec![Recipient::Node(to.clone())],
            case: None,
            in_reply_to,
            expires_at: None,
            hop_limit,
        },
        handling: crate::compose::control_handling(releasability)?,
        kind,
    })
}

/// The relays a message passed before reaching this node (its stored route, minus this node).
pub(crate) fn relays_before_me(store: &Store, me: &Me, id: &MessageId) -> Vec<NodeId> {
    match store.envelope(id) {
        Ok(Some(env)) => env.route.into_iter().filter(|n| !me.is_me(n)).collect(),
        _ => Vec::new(),
    }
}

/// After `id` (whose readable body is `body`) was originated here: sends the keyed hashes
/// of its selectors to the service, if this node holds the key and the message has any.
/// Failures are logged: the message itself is already sent.
pub(crate) async fn submit(ctx: &Ctx, id: MessageId, body: &Body) {
    let (Some(key), Some(service)) = (&ctx.selector_key, &ctx.cfg.deconfliction.service) else {
        return;
    };
    let payload = match body.kind.content_kind() {
        Some(k) if crate::kinds::submits_selectors(k) => body.kind.payload(),
        _ => None,
    };
    let Some(payload) = payload else { return };
    let selectors = of_payload(payload, &phone_context(&ctx.cfg.deconfliction));
    if selectors.is_empty() || ctx.me.is_me(service) {
        return;
    }
    let mut hashes: Vec<SelectorHash> = selectors.iter().map(|s| key.hash(s)).collect();
    hashes.sort();
    hashes.dedup();
    let n = hashes.len();
    let result = async {
        let mut body = Body {
            header: Header {
                originator: ctx.me.id().clone(),
                created_at: now(),
                nonce: ctx.me.nonce()?,
                recipients: vec![Recipient::Node(service.clone())],
                case: body.header.case.clone(),
                in_reply_to: Some(id),
                expires_at: None,
                hop_limit: DEFAULT_HOP_LIMIT,
            },
            handling: crate::selector_index::notice_handling(ctx.me.id(), service)?,
            kind: Kind::Selectors(Selectors { hashes }),
        };
        body.normalise();
        Box::pin(send_body(ctx, body)).await
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

/// How phone numbers in national form are read here.
fn phone_context(cfg: &crate::config::DeconflictionConfig) -> PhoneContext {
    PhoneContext {
        country_code: cfg.country_code.clone(),
        trunk_prefix: cfg.trunk_prefix.clone(),
    }
}
