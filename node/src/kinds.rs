//! What this node does with each kind of message, in one place.
//!
//! Every decision is an exhaustive `match` without a catch-all arm: a new content kind
//! ([`ContentKind`]) or a new message kind ([`Kind`]) does not compile until each decision
//! here names it, so nothing reaches the inbox, a case or the deconfliction service by
//! default. The rest of the node asks these functions and never compares kind names.

use liaison_protocol::message::{ContentKind, Kind};

/// Whether a message of this kind, delivered to this node, is shown in the officers' inbox.
/// Decided by inclusion: a kind is listed here as shown or as not shown.
pub fn in_inbox(kind: &Kind) -> bool {
    match kind {
        Kind::Alert(_)
        | Kind::Request { .. }
        | Kind::Reply(_)
        | Kind::CaseOpen { .. }
        | Kind::CaseInvite { .. }
        | Kind::CaseJoin { .. }
        | Kind::CaseUpdate(_)
        | Kind::CaseClose { .. }
        | Kind::Retraction { .. }
        | Kind::CaseRemove { .. }
        | Kind::CaseStatus { .. }
        | Kind::CaseTask(_)
        | Kind::Selectors(_)
        | Kind::Deconfliction(_)
        | Kind::ConsentRequest(_)
        | Kind::Sealed(_) => kind.content_kind().is_some_and(content_in_inbox),
        // A hop's refusal of this node's message, an originator's answer to this node's
        // request for consent, a message shared with this node: the officers act on them.
        Kind::Refusal(_) | Kind::ConsentAnswer(_) | Kind::Share(_) => true,
        // Receipts go to the trail (and travel back on the stream that carried the message),
        // hop reports to the trail, announcements to the routes, sealing keys to the key
        // directory.
        Kind::Receipt(_) | Kind::HopReport(_) | Kind::Announce(_) | Kind::SealingKey(_) => false,
    }
}

/// Whether content of this kind, delivered to this node, is shown in the officers' inbox.
pub fn content_in_inbox(kind: ContentKind) -> bool {
    match kind {
        ContentKind::Alert
        | ContentKind::Request
        | ContentKind::Reply
        | ContentKind::CaseOpen
        | ContentKind::CaseInvite
        | ContentKind::CaseJoin
        | ContentKind::CaseUpdate
        | ContentKind::CaseClose
        | ContentKind::Retraction
        | ContentKind::CaseRemove
        | ContentKind::CaseStatus
        | ContentKind::CaseTask
        | ContentKind::Deconfliction
        | ContentKind::ConsentRequest => true,
        // A submission to the deconfliction service: the service reads it, no officer.
        ContentKind::Selectors => false,
    }
}

/// Whether a message of this kind acts on its case: checked on arrival against the case as
/// this node holds it (and refused with the case rule's reason code), and part of the case's
/// derived state ([`crate::case`]).
pub fn acts_on_case(kind: ContentKind) -> bool {
    match kind {
        ContentKind::CaseOpen
        | ContentKind::CaseInvite
        | ContentKind::CaseJoin
        | ContentKind::CaseUpdate
        | ContentKind::CaseClose
        | ContentKind::CaseRemove
        | ContentKind::CaseStatus
        | ContentKind::CaseTask => true,
        ContentKind::Alert
        | ContentKind::Request
        | ContentKind::Reply
        | ContentKind::Retraction
        | ContentKind::Selectors
        | ContentKind::Deconfliction
        | ContentKind::ConsentRequest => false,
    }
}

/// Whether this node, when it runs the deconfliction service, opens a delivered message of
/// this kind and indexes its selectors (`crate::deconfliction`).
pub fn indexed_by_deconfliction(kind: ContentKind) -> bool {
    match kind {
        ContentKind::Selectors => true,
        ContentKind::Alert
        | ContentKind::Request
        | ContentKind::Reply
        | ContentKind::CaseOpen
        | ContentKind::CaseInvite
        | ContentKind::CaseJoin
        | ContentKind::CaseUpdate
        | ContentKind::CaseClose
        | ContentKind::Retraction
        | ContentKind::CaseRemove
        | ContentKind::CaseStatus
        | ContentKind::CaseTask
        | ContentKind::Deconfliction
        | ContentKind::ConsentRequest => false,
    }
}

/// Whether the selectors of a message of this kind that this node originates are submitted
/// to the deconfliction service. Kinds with intelligence in their payload are; an invitation
/// repeats the case's summary, which its opening submitted already.
pub fn submits_selectors(kind: ContentKind) -> bool {
    match kind {
        ContentKind::Alert
        | ContentKind::Request
        | ContentKind::Reply
        | ContentKind::CaseOpen
        | ContentKind::CaseUpdate => true,
        ContentKind::CaseInvite
        | ContentKind::CaseJoin
        | ContentKind::CaseClose
        | ContentKind::Retraction
        | ContentKind::CaseRemove
        | ContentKind::CaseStatus
        | ContentKind::CaseTask
        | ContentKind::Selectors
        | ContentKind::Deconfliction
        | ContentKind::ConsentRequest => false,
    }
}

/// Whether officers compose messages of this kind through the send form (`POST /v1/messages`,
/// the console's compose page); the case kinds have their own operations ([`crate::case`]).
pub fn composed_by_officers(kind: ContentKind) -> bool {
    match kind {
        ContentKind::Alert
        | ContentKind::Request
        | ContentKind::Reply
        | ContentKind::Retraction => true,
        ContentKind::CaseOpen
        | ContentKind::CaseInvite
        | ContentKind::CaseJoin
        | ContentKind::CaseUpdate
        | ContentKind::CaseClose
        | ContentKind::CaseRemove
        | ContentKind::CaseStatus
        | ContentKind::CaseTask
        | ContentKind::Selectors
        | ContentKind::Deconfliction
        | ContentKind::ConsentRequest => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_kind_acts_on_its_case() {
        for k in ContentKind::ALL {
            assert_eq!(acts_on_case(k), k.is_case(), "{k}");
        }
    }

    #[test]
    fn submissions_reach_the_service_and_no_inbox() {
        for k in ContentKind::ALL {
            if indexed_by_deconfliction(k) {
                assert!(!content_in_inbox(k), "{k}");
                assert!(!submits_selectors(k), "{k}");
            }
        }
    }
}
