//! Checking every stored body against the journal's checksums, its id, its signature and its
//! route ([`Store::scrub`]).

use std::time::{Duration, Instant};

use liaison_protocol::log::Event;
use liaison_protocol::{Envelope, MessageId, Timestamp};
use serde::Serialize;

use crate::alarm::AlarmKind;
use crate::journal::{self, Loc, Record};
use crate::{
    check_envelope, decode_state, now, MessageState, Role, Store, StoreError, StoreResult,
};

/// How a scrub checks a stored message's signature ([`Store::scrub`]): the id the signed
/// bytes verify as, `None` when they cannot be checked here (their network's CA is no longer
/// trusted), or what fails.
pub type SignatureCheck<'a> = &'a (dyn Fn(&liaison_protocol::SignedMessage) -> std::result::Result<Option<MessageId>, String>
         + Sync);

/// What a scrub found ([`Store::scrub`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ScrubReport {
    /// Batches read.
    pub batches: u64,
    /// Batches whose bodies checksum held (every body in them intact).
    pub batches_intact: u64,
    /// Bodies checked one by one (in batches with a purged body or a failed checksum).
    pub bodies_checked: u64,
    /// Messages found damaged (newly or before).
    pub damaged: Vec<MessageId>,
    /// Signed receipts or refusals kept for auditors found damaged, by log entry.
    pub damaged_answers: Vec<u64>,
    /// Offsets of batches whose bodies checksum fails although no body in them could be
    /// named as damaged (alarmed).
    pub unexplained: Vec<u64>,
    /// When it finished (none if it was stopped before the end).
    #[serde(serialize_with = "crate::alarm::rfc3339_opt")]
    pub finished_at: Option<Timestamp>,
}

impl Store {
    /// Checks every stored body against the journal (see the module documentation): a batch
    /// whose bodies checksum holds is intact; in a batch with a purged body or a failed
    /// checksum, each body is checked against its id, its signature (`check`: the id the
    /// signed bytes verify as, `None` if they cannot be checked here, e.g. their network is no
    /// longer trusted) and its route, and so is each signed receipt or refusal kept for
    /// auditors. What fails is marked damaged and alarmed; a failed checksum no body explains
    /// is alarmed as `stored-batch-damaged`. Blocking (run it off the async workers); one at a
    /// time.
    /// It works at most half of the time of the thread it runs on (it waits as long as it
    /// worked after each batch), so a node catching up after a restart keeps its CPU; `stop`
    /// ends it early (the report then says it is not complete).
    pub fn scrub(
        &self,
        check: SignatureCheck<'_>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> StoreResult<ScrubReport> {
        let _one = self
            .shared
            .scrubbing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let medium = self.shared.medium.as_ref();
        let mut report = ScrubReport::default();
        let mut stopped = false;
        let scanned = journal::scan(medium, |batch| {
            if stop() {
                stopped = true;
                return Err(StoreError::Stopped);
            }
            let started = Instant::now();
            report.batches += 1;
            let done = self.scrub_batch(batch, check, &mut report);
            std::thread::sleep(started.elapsed().min(Duration::from_millis(50)));
            done
        });
        if stopped {
            return Ok(report);
        }
        match scanned {
            Ok(()) => {}
            // The journal no longer reads as it did at start-up.
            Err(e @ StoreError::JournalDamaged(_)) => {
                self.shared.alarms.raise(
                    AlarmKind::StoredBatchDamaged,
                    "journal",
                    e.to_string(),
                    now(),
                );
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        report.damaged = {
            let idx = self.shared.index();
            let mut d: Vec<MessageId> = idx
                .damaged
                .keys()
                .filter_map(|n| idx.ids.get(*n as usize).copied())
                .collect();
            d.sort();
            d
        };
        report.finished_at = Some(now());
        *self
            .shared
            .last_scrub
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(report.clone());
        Ok(report)
    }

    /// The last scrub's report, if one finished.
    pub fn last_scrub(&self) -> Option<ScrubReport> {
        self.shared
            .last_scrub
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn scrub_batch(
        &self,
        batch: &journal::Batch<'_>,
        check: SignatureCheck<'_>,
        report: &mut ScrubReport,
    ) -> StoreResult<()> {
        let medium = self.shared.medium.as_ref();
        // The bodies of this batch: new messages (with the state they were stored with) and
        // signed answers (with the log entry that names each).
        let mut news = Vec::new();
        let mut answers = Vec::new();
        let walked = batch.records(|rec| {
            match rec {
                Record::New { bytes, body, .. } => news.push((decode_state(bytes)?, body)),
                Record::Signed { leaf, body } => answers.push((leaf, body)),
                Record::Leaf { .. } | Record::Update { .. } => {}
            }
            Ok(())
        });
        let bad = |what: String| {
            StoreError::Corrupt(format!("the batch at byte {}: {what}", batch.start))
        };
        match walked {
            Ok(()) => {}
            Err(journal::RecordsError::Bad(what)) => return Err(bad(what)),
            Err(journal::RecordsError::Visit(e)) => return Err(bad(e.to_string())),
        }
        if news.is_empty() && answers.is_empty() {
            report.batches_intact += 1;
            return Ok(());
        }
        let numbered: Vec<(Option<u32>, MessageState, Loc)> = {
            let idx = self.shared.index();
            news.into_iter()
                .map(|(s, loc)| (idx.number(&s.facts.id), s, loc))
                .collect()
        };
        let any_purged = {
            let idx = self.shared.index();
            numbered
                .iter()
                .any(|(n, _, _)| n.is_some_and(|n| idx.purged.contains(&n)))
        };
        let intact = batch.bodies_intact(medium)?;
        if !any_purged && intact {
            report.batches_intact += 1;
            return Ok(());
        }
        let mut explained = false;
        for (n, state, loc) in numbered {
            let Some(n) = n else { continue };
            if self.shared.index().purged.contains(&n) {
                continue;
            }
            report.bodies_checked += 1;
            let id = state.facts.id;
            let bytes = journal::read(medium, loc)?;
            if let Some(why) = self.body_problem(&id, &state, &bytes, check)? {
                self.shared.mark_damaged(n, &id, &why);
                explained = true;
            }
        }
        for (leaf, loc) in answers {
            report.bodies_checked += 1;
            let bytes = journal::read(medium, loc)?;
            if let Some(why) = self.answer_problem(leaf, &bytes, check)? {
                report.damaged_answers.push(leaf);
                self.shared.alarms.raise(
                    AlarmKind::StoredBodyDamaged,
                    &format!("log entry {leaf}"),
                    format!(
                        "the signed receipt or refusal kept for log entry {leaf} is damaged \
                         ({why}); auditors will find it so"
                    ),
                    now(),
                );
                explained = true;
            }
        }
        if !intact && !explained && !any_purged {
            report.unexplained.push(batch.start);
            self.shared.alarms.raise(
                AlarmKind::StoredBatchDamaged,
                &format!("batch at byte {}", batch.start),
                format!(
                    "the journal's batch at byte {} no longer matches its checksum, and no \
                     message in it could be named as damaged: the disk may be failing",
                    batch.start
                ),
                now(),
            );
        }
        Ok(())
    }

    /// What is wrong with a stored message's envelope, if anything: it must decode, hash to
    /// its id, carry a signature that verifies, and have the route it was stored with.
    fn body_problem(
        &self,
        id: &MessageId,
        state: &MessageState,
        bytes: &[u8],
        check: SignatureCheck<'_>,
    ) -> StoreResult<Option<String>> {
        let env = match check_envelope(id, bytes) {
            Ok(env) => env,
            Err(why) => return Ok(Some(why)),
        };
        match check(&env.signed) {
            Ok(Some(v)) if v != *id => return Ok(Some(format!("it verifies as {}", v.short()))),
            Err(why) => return Ok(Some(why)),
            Ok(_) => {}
        }
        let first = state.leaves.first().copied();
        let event = match first {
            Some(leaf) => self.log_entry(leaf)?.map(|e| e.event),
            None => None,
        };
        let route_ok = match (&state.role, event) {
            (Role::Originated, _) => env.route.is_empty(),
            (_, Some(Event::Received { route, .. })) => env.route == route,
            (_, Some(Event::Relayed { to, .. })) if !to.is_empty() => {
                env.route.last() == Some(&self.shared.node)
            }
            _ => true,
        };
        Ok((!route_ok).then(|| "its route is not the one it was stored with".to_owned()))
    }

    /// What is wrong with a kept signed answer, if anything: it must decode, verify, and be
    /// the answer its log entry names.
    fn answer_problem(
        &self,
        leaf: u64,
        bytes: &[u8],
        check: SignatureCheck<'_>,
    ) -> StoreResult<Option<String>> {
        let env = match Envelope::decode(bytes) {
            Ok(e) => e,
            Err(e) => return Ok(Some(format!("it no longer decodes: {}", e.reason_code()))),
        };
        let named = match self.log_entry(leaf)?.map(|e| e.event) {
            Some(
                Event::ReceiptSent { receipt, .. }
                | Event::ReceiptReceived { receipt, .. }
                | Event::RefusalReceived {
                    refusal: receipt, ..
                },
            ) => Some(receipt),
            _ => None,
        };
        let id = env.signed.id();
        if named.is_some_and(|n| n != id) {
            return Ok(Some(format!("its body now hashes to {}", id.short())));
        }
        Ok(match check(&env.signed) {
            Err(why) => Some(why),
            Ok(Some(v)) if v != id => Some(format!("it verifies as {}", v.short())),
            Ok(_) => None,
        })
    }
}
