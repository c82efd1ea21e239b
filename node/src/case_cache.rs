//! The cases this node holds, kept derived in memory so that a case message is checked
//! without reading and opening the whole case again.
//!
//! A case's state is a pure function of the case messages this node can read
//! ([`liaison_protocol::case::derive`]); the cache keeps, per case, those messages and that
//! state ([`CaseLog`]). It is filled lazily: the first use of a case reads and opens its
//! messages from the store. A case message received here is added as soon as it is durable
//! (already opened for its check, [`CaseCache::stored`]); every later use reads and opens only
//! the other messages the store gained since (the store's list of a case's messages only
//! grows: those this node sent, for one), and adds them to the log, which applies a message in place when it sorts last and derives again in memory
//! otherwise. So the cache is never ahead of the store (a message is added once it is
//! durable) and never behind it when it is used, whichever path stored the message. A purge
//! removes bodies from the store: the node then forgets every case ([`CaseCache::forget_all`])
//! and derives them again from what remains.
//!
//! Opened case content stays in memory for the life of the process, as the derived state
//! (summaries, updates) already does.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use liaison_protocol::case::CaseLog;
use liaison_protocol::message::Body;
use liaison_protocol::{CaseId, MessageId};

use crate::store::{MessageState, Role, Store, StoreError, StoreResult};

/// Per case, the messages this node can read and the state derived from them.
#[derive(Default)]
pub(crate) struct CaseCache {
    cases: Mutex<HashMap<CaseId, Arc<Mutex<Held>>>>,
}

/// One case as the cache holds it.
struct Held {
    /// How many entries of the store's list of the case's messages were looked at (the list
    /// only grows, and holds each message once).
    seen: usize,
    /// Messages added as they were stored ([`CaseCache::stored`]) that the store's list was
    /// not yet looked at for: skipped there, not read and opened again.
    added: HashSet<MessageId>,
    log: CaseLog,
}

impl CaseCache {
    /// Calls `f` with case `case` brought up to date with `store`: reads and opens (with
    /// `open`, which reads a message, opens its sealed content and says which case message it
    /// counts as: itself, or the original it forwards) the messages the store
    /// gained since the last use (all of them on first use). Reads the store: call it off the
    /// async workers.
    pub(crate) fn with<T>(
        &self,
        store: &Store,
        case: &CaseId,
        open: impl Fn(&MessageId) -> StoreResult<Option<(MessageState, MessageId, Body)>>,
        f: impl FnOnce(&CaseLog) -> T,
    ) -> StoreResult<T> {
        let entry = self
            .cases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(case.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Held {
                    seen: 0,
                    added: HashSet::new(),
                    log: CaseLog::new(case.clone(), Vec::new()),
                }))
            })
            .clone();
        // One case at a time is brought up to date; other cases are not held up.
        let mut held = entry.lock().unwrap_or_else(PoisonError::into_inner);
        let ids = store.case_messages(case)?;
        for id in ids.iter().skip(held.seen) {
            if held.added.remove(id) {
                held.seen += 1;
                continue;
            }
            match open(id) {
                Ok(Some((state, counts_as, body))) if state.role != Role::Relayed => {
                    held.log.add(counts_as, body);
                }
                Ok(_) => {}
                // Alarmed by the store; the case is derived from the messages still intact.
                Err(StoreError::Damaged { .. }) => {}
                Err(e) => return Err(e),
            }
            held.seen += 1;
        }
        Ok(f(&held.log))
    }

    /// Adds a case message this node has just stored durably as delivered here (`id`; it
    /// counts as `counts_as`: itself, or the original it forwards), opened (`body`), to its
    /// case if the case is held, so that it is not read and opened again. A case not yet held
    /// is read whole on first use anyway.
    pub(crate) fn stored(&self, case: &CaseId, id: MessageId, counts_as: MessageId, body: Body) {
        let Some(entry) = self
            .cases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(case)
            .cloned()
        else {
            return;
        };
        let mut held = entry.lock().unwrap_or_else(PoisonError::into_inner);
        held.log.add(counts_as, body);
        held.added.insert(id);
    }

    /// Forgets every case, to be read again from the store on next use (after message bodies
    /// were purged).
    pub(crate) fn forget_all(&self) {
        self.cases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
