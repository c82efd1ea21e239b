//! Third-party consent on a node: asking an originator for consent, answering such a
//! request, and sharing a message onward under a grant (see [`liaison_protocol::consent`]).
//!
//! * `request` (at a recipient R): a `consent-request` to the originator O, released back
//!   along the relays the message came through.
//! * `answer` (at O, by its officer): a signed `consent-answer` to R; a grant re-seals the
//!   message's content for the newly allowed nodes (O opens its own sealed copy and seals it
//!   to their keys; a relay never re-seals).
//! * `share` (at R): a `share` message to the allowed nodes, carrying O's original signed
//!   bytes and O's grants. R's node checks it as every relay and the destination will: the
//!   original's handling rules with the granted nodes as consented; an originator-controlled
//!   message without a valid grant is refused (`originator-control`, `consent-expired`, …).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{NodeError, Result};
use liaison_protocol::consent::{verify_share, ConsentError, VerifiedShare};
use liaison_protocol::handling::{check_hop, Hop};
use liaison_protocol::message::{
    Body, ConsentAnswer, ConsentRequest, ControlKind, Header, Kind, Share,
};
use liaison_protocol::routing::Target;
use liaison_protocol::{Envelope, HandlingError, MessageId, NodeId, Recipient, Release, Timestamp};

use crate::compose::DEFAULT_HOP_LIMIT;
use crate::core::{Ctx, Sent};
use crate::exchange::check_leg;
use crate::refusal::Refusal;
use crate::store::{now, Role, Store};

/// The stored, decoded body of `id`, with its route.
fn stored(store: &Store, id: &MessageId) -> Result<(Envelope, Body)> {
    let env = store.envelope(id)?.ok_or_else(|| {
        Refusal::UnknownMessage(format!("no message {id} here (or its body was purged)"))
    })?;
    let body = Body::decode(&env.signed.body)
        .map_err(|e| Refusal::InvalidMessage(format!("stored message {id}: {e}")))?;
    Ok((env, body))
}

/// Asks the originator of `target` (delivered here) for consent to share it with `to`.
pub async fn request(
    ctx: &Arc<Ctx>,
    target: MessageId,
    mut to: Vec<NodeId>,
    reason: String,
) -> Result<Sent> {
    let state = ctx
        .store
        .state(&target)?
        .ok_or_else(|| Refusal::UnknownMessage(format!("no message {target} here")))?;
    if state.role != Role::Delivered {
        return Err(Refusal::NotARecipient(
            "consent is asked for a message this node received".into(),
        )
        .into());
    }
    to.sort();
    to.dedup();
    let originator = state.facts.originator.clone();
    let back = crate::exchange::relays_before_me(&ctx.store, &ctx.me, &target);
    let kind = Kind::ConsentRequest(ConsentRequest { target, to, reason });
    sent(crate::exchange::send_control(ctx, &originator, &back, kind, Some(target)).await)
}

fn sent(r: Result<(MessageId, Vec<NodeId>)>) -> Result<Sent> {
    // A refusal keeps its own code (`no-sealing-key`); anything else is a routing failure.
    let (id, next_hops) = r.map_err(|e| {
        if let NodeError::Refused(_) = e {
            e
        } else {
            Refusal::NoRoute(e.to_string()).into()
        }
    })?;
    Ok(Sent {
        id,
        leaf: 0,
        next_hops,
    })
}

/// Answers the consent request `request_id` (delivered here, about a message this node
/// originated): grants it for `expires_in_secs` (none: no expiry) or denies it.
pub async fn answer(
    ctx: &Arc<Ctx>,
    request_id: MessageId,
    granted: bool,
    expires_in_secs: Option<u64>,
    reason: String,
) -> Result<Sent> {
    let (req_env, req_body) = stored(&ctx.store, &request_id)?;
    // Requests arrive sealed to this node (earlier ones may be in the clear).
    let (req_body, why) = crate::sealing::open_body(&ctx.keys, req_body);
    if let Some(why) = why {
        return Err(Refusal::CannotOpen(why).into());
    }
    let Kind::ConsentRequest(req) = &req_body.kind else {
        return Err(Refusal::InvalidMessage(format!(
            "{request_id} is a {}, not a consent request",
            req_body.kind.name()
        ))
        .into());
    };
    let target_state = ctx.store.state(&req.target)?.ok_or_else(|| {
        Refusal::UnknownMessage(format!("the requested message {} is not here", req.target))
    })?;
    if target_state.role != Role::Originated {
        return Err(Refusal::NotOriginator(
            "only the originator of a message answers consent requests about it".into(),
        )
        .into());
    }
    let resealed = if granted {
        reseal(ctx, &req.target, &req.to)?
    } else {
        None
    };
    let expires_at = grant_expiry(now(), expires_in_secs);
    let requester = req_body.header.originator.clone();
    let kind = Kind::ConsentAnswer(ConsentAnswer {
        target: req.target,
        to: req.to.clone(),
        granted,
        expires_at,
        resealed,
        reason,
    });
    sent(
        crate::exchange::send_control(ctx, &requester, &req_env.route, kind, Some(request_id))
            .await,
    )
}

/// The content of `target` (originated here) re-sealed for the nodes `to`, if it is sealed:
/// this node opens its own sealed copy and seals it to their keys.
fn reseal(
    ctx: &Ctx,
    target: &MessageId,
    to: &[NodeId],
) -> Result<Option<liaison_protocol::message::SealedContent>> {
    let (_, target_body) = stored(&ctx.store, target)?;
    if !matches!(target_body.kind, Kind::Sealed(_)) {
        return Ok(None);
    }
    let (clear, why) = crate::sealing::open_body(&ctx.keys, target_body.clone());
    if let Some(why) = why {
        return Err(Refusal::CannotOpen(why).into());
    }
    let mut keys = BTreeMap::new();
    for n in to {
        let k = crate::sealing::key_of(&ctx.keys, n).ok_or_else(|| {
            Refusal::NoSealingKey(format!(
                "the sealing key of {n} is not known here; it cannot be re-sealed for it"
            ))
        })?;
        keys.insert(n.clone(), k);
    }
    Ok(Some(crate::sealing::seal_to(
        &ctx.keys,
        &clear.kind,
        &target_body.header,
        &keys,
    )?))
}

/// When a grant given at `now` for `expires_in_secs` (an officer's number, any `u64`)
/// expires; none: never. A period too long to write saturates at the end of time instead of
/// wrapping around to an expiry in the past.
pub fn grant_expiry(now: Timestamp, expires_in_secs: Option<u64>) -> Option<Timestamp> {
    expires_in_secs.map(|s| now.plus_millis(s.saturating_mul(1000)))
}

/// The consent answers about `target` in this node's inbox, newest last. Reads the whole
/// inbox: call it off the async workers ([`crate::core::off_workers`]).
fn grants_for(store: &Store, target: &MessageId) -> Result<Vec<liaison_protocol::SignedMessage>> {
    let mut out = Vec::new();
    for item in store.inbox(0, usize::MAX)? {
        if item.state.facts.kind != ControlKind::ConsentAnswer.as_str() {
            continue;
        }
        let Ok((env, body)) = stored(store, &item.state.facts.id) else {
            continue;
        };
        if let Kind::ConsentAnswer(a) = &body.kind {
            if &a.target == target && a.granted {
                out.push(env.signed);
            }
        }
    }
    Ok(out)
}

/// Verifies a share (its original and every grant: a signature and a certificate chain
/// each), once per message, before its copies are checked with [`check_share_leg`].
pub fn verify(
    trust: &liaison_protocol::TrustStore,
    share: &Share,
    t: Timestamp,
) -> Result<VerifiedShare, Refusal> {
    verify_share(share, trust, t).map_err(Refusal::from)
}

/// Checks one copy of a share that verified (`verified`, from [`verify`]): the original's
/// handling rules hold for it with the granted nodes as consented.
pub fn check_share_leg(
    verified: &Result<VerifiedShare, Refusal>,
    next: &NodeId,
    target: &Target,
    route: &[NodeId],
    t: Timestamp,
) -> Result<(), Refusal> {
    let v = verified.as_ref().map_err(Clone::clone)?;
    let Target::Node(dest) = target else {
        return Err(HandlingError::Invalid(
            "a share goes to named nodes, not to whole networks".into(),
        )
        .into());
    };
    check_hop(
        &v.original.body().addressing(),
        &Hop {
            next,
            destination: dest,
            route,
            now: t,
            consented: &v.consented,
        },
    )
    .map_err(|e| Refusal::from(e).at("the shared message"))
}

/// Shares `target` (delivered here) with `to`, under the grants this node holds.
pub async fn share(ctx: &Arc<Ctx>, target: MessageId, mut to: Vec<NodeId>) -> Result<Sent> {
    let (env, original) = stored(&ctx.store, &target)?;
    to.sort();
    to.dedup();
    // The grants held here that are valid now (newest first, a handful); remember whether an
    // expired one was left out, to say so if the share is then refused. Every grant in the
    // inbox is read and verified: off the async workers.
    let t = now();
    let original_signed = env.signed.clone();
    let (mut grants, had_expired) = crate::core::off_workers(ctx, move |ctx| {
        let mut valid = Vec::new();
        let mut had_expired = false;
        for g in grants_for(&ctx.store, &target)? {
            let one = Share {
                original: original_signed.clone(),
                grants: vec![g],
            };
            match verify_share(&one, &ctx.trust.store(), t) {
                Ok(_) => valid.extend(one.grants),
                Err(ConsentError::Expired(_)) => had_expired = true,
                Err(_) => {}
            }
        }
        Ok((valid, had_expired))
    })
    .await?;
    grants.reverse();
    grants.truncate(4);
    send_share(
        ctx,
        ctx.me.signer(),
        env.signed,
        &original,
        target,
        to,
        grants,
        had_expired,
        t,
    )
    .await
}

/// Forwards `target`, a case message this node originated, to the case's participants `to`
/// that it did not reach (see [`crate::case::forward_missed`] and
/// [`crate::case::share_history`]; `reason` is the grant's): a share of the original,
/// under this node's own grant, which re-seals the content for them. Checked as every share:
/// the original's handling rules with `to` as consented.
pub(crate) async fn forward_own(
    ctx: &Ctx,
    target: MessageId,
    mut to: Vec<NodeId>,
    reason: &str,
) -> Result<Sent> {
    to.sort();
    to.dedup();
    let (env, original) = stored(&ctx.store, &target)?;
    let signer = ctx
        .me
        .signer_of(&original.header.originator)
        .ok_or_else(|| {
            Refusal::NotOriginator(format!(
                "{target} was not originated by this node; only its originator forwards it"
            ))
        })?
        .clone();
    let resealed = reseal(ctx, &target, &to)?;
    let t = now();
    let mut grant = Body {
        header: about(ctx, &signer, &to, &original, target, None, t)?,
        handling: crate::compose::control_handling(
            to.iter().cloned().map(Release::Node).collect(),
        )?,
        kind: Kind::ConsentAnswer(ConsentAnswer {
            target,
            to: to.clone(),
            granted: true,
            expires_at: None,
            resealed,
            reason: reason.into(),
        }),
    };
    grant.normalise();
    let grant = signer.sign(&mut grant).map_err(NodeError::failed)?;
    send_share(
        ctx,
        &signer,
        env.signed,
        &original,
        target,
        to,
        vec![grant],
        false,
        t,
    )
    .await
}

/// The header of a message from `signer` to the nodes `to` about `original` (id `target`):
/// in its case, in reply to it.
fn about(
    ctx: &Ctx,
    signer: &liaison_protocol::Signer,
    to: &[NodeId],
    original: &Body,
    target: MessageId,
    expires_at: Option<Timestamp>,
    t: Timestamp,
) -> Result<Header> {
    Ok(Header {
        originator: signer.node().clone(),
        created_at: t,
        nonce: ctx.me.nonce()?,
        recipients: to.iter().cloned().map(Recipient::Node).collect(),
        case: original.header.case.clone(),
        in_reply_to: Some(target),
        expires_at,
        hop_limit: DEFAULT_HOP_LIMIT,
    })
}

/// Signs, checks and sends a share of `original` (signed as `original_signed`, id `target`)
/// to `to` under `grants`, as `signer`. `had_expired`: a grant left out because it expired
/// (said in the refusal if the share is then refused).
#[allow(clippy::too_many_arguments)]
async fn send_share(
    ctx: &Ctx,
    signer: &liaison_protocol::Signer,
    original_signed: liaison_protocol::SignedMessage,
    original: &Body,
    target: MessageId,
    to: Vec<NodeId>,
    grants: Vec<liaison_protocol::SignedMessage>,
    had_expired: bool,
    t: Timestamp,
) -> Result<Sent> {
    let share = Share {
        original: original_signed,
        grants,
    };
    let mut release: Vec<Release> = original.handling.releasability.clone();
    release.extend(to.iter().map(|n| Release::Node(n.clone())));
    let mut body = Body {
        header: about(
            ctx,
            signer,
            &to,
            original,
            target,
            original.header.expires_at,
            t,
        )?,
        handling: {
            let mut h = original.handling.clone();
            h.releasability = release;
            h
        },
        kind: Kind::Share(share.clone()),
    };
    body.normalise();
    // Limits before routing and the handling checks: the original's releasability and the
    // nodes shared with must together fit one message.
    body.check_limits().map_err(Refusal::from)?;
    let plan = ctx.sessions.plan(ctx.me.ids(), &body, None, &[]);
    if let Some(r) = plan.unroutable.first() {
        return Err(Refusal::NoRoute(format!("no route to {r}")).into());
    }
    let verified = verify(&ctx.trust.store(), &share, t);
    for leg in &plan.legs {
        check_leg(&body, leg, &[], t).map_err(Refusal::from)?;
        match check_share_leg(&verified, &leg.next, &leg.target, &[], t) {
            Ok(()) => {}
            Err(
                why @ Refusal::Handling {
                    error: HandlingError::OriginatorControl { .. },
                    ..
                },
            ) if had_expired => return Err(Refusal::ConsentExpired(why.detail()).into()),
            Err(why) => return Err(why.into()),
        }
    }
    let hops = plan.next_hops();
    let (id, leaf) =
        crate::exchange::originate(&ctx.store, signer, &mut body, hops.clone()).await?;
    tracing::info!(id = %id.short(), original = %target.short(), to = ?hops, "message shared onward");
    Ok(Sent {
        id,
        leaf,
        next_hops: hops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The period is the officer's number: any u64 seconds, which in milliseconds after now
    /// overflowed (a panic in debug builds, in release a grant expiring in 1970).
    #[test]
    fn a_grant_for_longer_than_time_can_hold_never_expires_in_the_past() {
        let now = Timestamp(1_795_943_020_539);
        assert_eq!(grant_expiry(now, None), None);
        assert_eq!(grant_expiry(now, Some(60)), Some(Timestamp(now.0 + 60_000)));
        for secs in [u64::MAX / 1000, u64::MAX / 1000 + 1, u64::MAX] {
            assert_eq!(
                grant_expiry(now, Some(secs)),
                Some(Timestamp(u64::MAX)),
                "{secs}"
            );
        }
    }
}
