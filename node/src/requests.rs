//! Requests and their answers: a request is answered for an addressee once a reply from that
//! addressee to it is held here. A request is overdue only while it is open.

use liaison_protocol::Recipient;

use crate::core::Ctx;
use crate::store::{MessageState, StoreResult};

/// Whether the request whose state is `state` is answered, as this node sees it: at an
/// addressee (not the requester), once this node has replied to it; elsewhere (the requester,
/// a relay), once every addressee has — a node named by a reply from it, a network by a
/// reply from any of its nodes.
pub(crate) fn answered(ctx: &Ctx, state: &MessageState) -> StoreResult<bool> {
    let repliers = ctx.store.repliers(&state.facts.id)?;
    let mine = ctx.me.ids();
    let addressee = !mine.contains(&state.facts.originator)
        && state
            .facts
            .recipients
            .iter()
            .any(|r| mine.iter().any(|m| r.includes(m)));
    Ok(if addressee {
        repliers.iter().any(|n| mine.contains(n))
    } else {
        !state.facts.recipients.is_empty()
            && state
                .facts
                .recipients
                .iter()
                .all(|r: &Recipient| repliers.iter().any(|n| r.includes(n)))
    })
}
