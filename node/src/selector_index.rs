//! The deconfliction service's index: which node holds which selector hash in which of its
//! messages, and which pairs of messages were already notified. Data and its rules only; the
//! service around it ([`crate::deconfliction`]) rebuilds it, receives submissions and sends the
//! notices.

use std::collections::{HashMap, HashSet};

use liaison_protocol::message::{Body, Kind};
use liaison_protocol::selector::{SelectorHash, SelectorKind};
use liaison_protocol::{CaseId, MessageId, NodeId, Timestamp};

/// One submission of a selector: who holds it, in which message (and case), since when.
#[derive(Clone, Debug)]
pub(crate) struct Holder {
    /// The submitting node.
    pub node: NodeId,
    /// Its message that holds the selector.
    pub message: MessageId,
    /// That message's case, if any.
    pub case: Option<CaseId>,
    /// When the submission was made.
    pub since: Timestamp,
}

/// The service's index: hash → holders; pairs of messages already notified.
#[derive(Default)]
pub(crate) struct Service {
    holders: HashMap<SelectorHash, Vec<Holder>>,
    notified: HashSet<(MessageId, MessageId)>,
}

impl Service {
    /// Adds a holder of `hash` without notifying anyone (rebuilding the index at start-up).
    pub(crate) fn add(&mut self, hash: SelectorHash, holder: Holder) {
        self.holders.entry(hash).or_default().push(holder);
    }

    /// Records a new submission; returns the notices it calls for, each once per pair of
    /// messages: (selector kind, the holder to notify, the other holder).
    pub(crate) fn record(
        &mut self,
        holder: Holder,
        hashes: Vec<SelectorHash>,
    ) -> Vec<(SelectorKind, Holder, Holder)> {
        let mut notices = Vec::new();
        for h in hashes {
            let others: Vec<Holder> = self
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
                if self.notified.insert(pair) {
                    notices.push((h.kind, holder.clone(), other.clone()));
                    notices.push((h.kind, other, holder.clone()));
                }
            }
            self.holders.entry(h).or_default().push(holder.clone());
        }
        notices
    }
}

/// A submission's holder and hashes (none if `body` is not an opened `selectors` message).
pub(crate) fn submission(body: &Body) -> Option<(Holder, Vec<SelectorHash>)> {
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

/// The handling of submissions and notices: AMBER, released to the networks of the sender
/// and of the one node concerned (so the gateways between them may carry it; the content is
/// sealed to that node alone).
pub(crate) fn notice_handling(
    from: &NodeId,
    to: &NodeId,
) -> crate::error::Result<liaison_protocol::Handling> {
    let mut release = vec![
        liaison_protocol::Release::Network(from.network()),
        liaison_protocol::Release::Network(to.network()),
    ];
    release.sort();
    release.dedup();
    crate::compose::control_handling(release).map(|mut h| {
        h.tlp = liaison_protocol::Tlp::Amber;
        h
    })
}
