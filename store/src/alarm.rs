//! Alarms: conditions an operator must look at, kept for `liaison status` and the API.
//!
//! An alarm is raised with a kind (a stable reason code) and a subject (what it is about: a
//! message id, a peer, a file). The same kind and subject raised again is one alarm with a
//! count and the time it was last seen, not another line: a peer that keeps failing, or a
//! damaged message that every session tries to send, must not bury the other alarms. A
//! supervisor clears them once dealt with (`POST /v1/alarms/clear`, `liaison alarms clear`),
//! which the node records in its log as an administrative act. At most [`MAX_ALARMS`]
//! distinct alarms are kept; beyond that the oldest is dropped and counted in
//! [`AlarmKind::AlarmsDropped`].

use std::sync::Mutex;

use liaison_protocol::Timestamp;
use serde::Serialize;

/// Most distinct alarms kept.
pub const MAX_ALARMS: usize = 256;

/// What an alarm is about, as a stable reason code (listed in docs/REASONS.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlarmKind {
    /// A stored message no longer matches its id (or its signature): the disk or someone
    /// altered it. It is shown as damaged and never forwarded.
    StoredBodyDamaged,
    /// A journal batch fails its checksum and no message in it could be named as damaged.
    StoredBatchDamaged,
    /// A write to the store failed (I/O error, short write).
    StorageWrite,
    /// The disk holding the data dir is full.
    DiskFull,
    /// A checkpoint could not be signed or written.
    CheckpointFailed,
    /// A line of the checkpoint history does not parse.
    CheckpointHistoryDamaged,
    /// A witness holds a checkpoint of this node's log that the log does not extend: the
    /// store was rolled back or rewritten since.
    LogRolledBack,
    /// A peer presented a rewritten history of its own log (evidence kept).
    PeerRewroteHistory,
    /// The outbox of a peer could not be read.
    OutboxUnreadable,
    /// A message could not be framed or sent.
    SendFailed,
    /// A peer's answer (receipt or refusal) could not be recorded.
    AnswerNotRecorded,
    /// A refusal or receipt could not be logged or signed.
    AnswerNotSent,
    /// Messages received from a peer could not be stored.
    InboundNotStored,
    /// A verification task failed.
    VerifierFailed,
    /// The sealing-key directory could not be kept.
    DirectoryNotKept,
    /// A witness's certificate could not be kept.
    WitnessNotKept,
    /// What this node witnessed of a peer's log could not be read or kept: it cannot cosign
    /// that peer's checkpoints until it can.
    WitnessStateNotKept,
    /// Deconfliction could not notify a party of an overlap.
    DeconflictionNotice,
    /// A certificate this node presents, trusts or talks to, or a CRL it trusts, ends
    /// within 30 days (subject: what, and the threshold crossed: 30 or 7 days).
    CertificateExpiring,
    /// Changed trust files (CAs, CRLs, trust bundles) could not be read or are not
    /// acceptable; the trust in force stays.
    TrustReloadFailed,
    /// The trust in force no longer accepts a certificate this node presents (its CA revoked
    /// it): peers refuse this node until it has a new one.
    OwnCertificateRefused,
    /// More than [`MAX_ALARMS`] distinct alarms: the oldest were dropped.
    AlarmsDropped,
}

impl AlarmKind {
    /// The stable reason code.
    pub fn code(self) -> &'static str {
        match self {
            Self::StoredBodyDamaged => "stored-body-damaged",
            Self::StoredBatchDamaged => "stored-batch-damaged",
            Self::StorageWrite => "storage-write-failed",
            Self::DiskFull => "disk-full",
            Self::CheckpointFailed => "checkpoint-failed",
            Self::CheckpointHistoryDamaged => "checkpoint-history-damaged",
            Self::LogRolledBack => "log-rolled-back",
            Self::PeerRewroteHistory => "peer-rewrote-history",
            Self::OutboxUnreadable => "outbox-unreadable",
            Self::SendFailed => "send-failed",
            Self::AnswerNotRecorded => "answer-not-recorded",
            Self::AnswerNotSent => "answer-not-sent",
            Self::InboundNotStored => "inbound-not-stored",
            Self::VerifierFailed => "verifier-failed",
            Self::DirectoryNotKept => "directory-not-kept",
            Self::WitnessNotKept => "witness-cert-not-kept",
            Self::WitnessStateNotKept => "witness-state-not-kept",
            Self::DeconflictionNotice => "deconfliction-notice-failed",
            Self::CertificateExpiring => "certificate-expiring",
            Self::TrustReloadFailed => "trust-reload-failed",
            Self::OwnCertificateRefused => "own-certificate-refused",
            Self::AlarmsDropped => "alarms-dropped",
        }
    }

    /// Every kind, for the documentation check.
    pub const ALL: &'static [AlarmKind] = &[
        Self::StoredBodyDamaged,
        Self::StoredBatchDamaged,
        Self::StorageWrite,
        Self::DiskFull,
        Self::CheckpointFailed,
        Self::CheckpointHistoryDamaged,
        Self::LogRolledBack,
        Self::PeerRewroteHistory,
        Self::OutboxUnreadable,
        Self::SendFailed,
        Self::AnswerNotRecorded,
        Self::AnswerNotSent,
        Self::InboundNotStored,
        Self::VerifierFailed,
        Self::DirectoryNotKept,
        Self::WitnessNotKept,
        Self::WitnessStateNotKept,
        Self::DeconflictionNotice,
        Self::CertificateExpiring,
        Self::TrustReloadFailed,
        Self::OwnCertificateRefused,
        Self::AlarmsDropped,
    ];
}

impl Serialize for AlarmKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// One alarm as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alarm {
    /// Its reason code.
    pub code: AlarmKind,
    /// What it is about (a message id, a peer, a file).
    pub subject: String,
    /// What happened, the last time it was raised.
    pub text: String,
    /// How often it was raised since it was first raised (or last cleared).
    pub count: u64,
    /// When it was first raised.
    #[serde(serialize_with = "rfc3339")]
    pub first_at: Timestamp,
    /// When it was last raised.
    #[serde(serialize_with = "rfc3339")]
    pub last_at: Timestamp,
}

/// Serialises a timestamp as the API shows times (RFC 3339, UTC).
pub(crate) fn rfc3339<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

/// As [`rfc3339`], for an optional timestamp.
pub(crate) fn rfc3339_opt<S: serde::Serializer>(
    t: &Option<Timestamp>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339()),
        None => s.serialize_none(),
    }
}

/// The node's alarms (see the module documentation). Shared by every part of the node.
#[derive(Debug, Default)]
pub struct Alarms {
    list: Mutex<Vec<Alarm>>,
    /// Where each newly raised alarm is sent (the node records it in its log).
    raised: std::sync::OnceLock<tokio::sync::mpsc::Sender<Alarm>>,
}

impl Alarms {
    /// No alarms.
    pub fn new() -> Self {
        Self::default()
    }

    /// Raises an alarm at `now`: logged at error level the first time (and every 1000th time
    /// after), and kept, one entry per kind and subject.
    pub fn raise(&self, kind: AlarmKind, subject: &str, text: String, now: Timestamp) {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = list
            .iter_mut()
            .find(|a| a.code == kind && a.subject == subject)
        {
            a.count += 1;
            a.last_at = now;
            if a.count % 1000 == 0 {
                tracing::error!(alarm = kind.code(), subject, count = a.count, "{text}");
            }
            a.text = text;
            return;
        }
        tracing::error!(alarm = kind.code(), subject, "{text}");
        if list.len() >= MAX_ALARMS {
            // Drop the oldest alarm (never the count of dropped ones), and count it.
            if let Some(i) = list.iter().position(|a| a.code != AlarmKind::AlarmsDropped) {
                list.remove(i);
            }
            match list.iter_mut().find(|a| a.code == AlarmKind::AlarmsDropped) {
                Some(a) => {
                    a.count += 1;
                    a.last_at = now;
                }
                None => {
                    if let Some(i) = list.iter().position(|a| a.code != AlarmKind::AlarmsDropped) {
                        list.remove(i);
                    }
                    list.push(Alarm {
                        code: AlarmKind::AlarmsDropped,
                        subject: String::new(),
                        text: format!(
                            "more than {MAX_ALARMS} distinct alarms: the oldest were dropped \
                             (the node's log has every one)"
                        ),
                        count: 2,
                        first_at: now,
                        last_at: now,
                    });
                }
            }
        }
        let alarm = Alarm {
            code: kind,
            subject: subject.to_owned(),
            text,
            count: 1,
            first_at: now,
            last_at: now,
        };
        list.push(alarm.clone());
        drop(list);
        if let Some(tx) = self.raised.get() {
            // Full (a burst of new alarms): the alarm stands, and tracing has it.
            let _ = tx.try_send(alarm);
        }
    }

    /// Sends every alarm raised from now on, once when it is first raised (not its repeats),
    /// to `tx`. Set once; later calls are ignored.
    pub fn notify_raised(&self, tx: tokio::sync::mpsc::Sender<Alarm>) {
        let _ = self.raised.set(tx);
    }

    /// The alarms, oldest first.
    pub fn list(&self) -> Vec<Alarm> {
        self.list.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether an alarm of this kind is raised.
    pub fn has(&self, kind: AlarmKind) -> bool {
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|a| a.code == kind)
    }

    /// Clears every alarm; returns what was cleared.
    pub fn clear(&self) -> Vec<Alarm> {
        std::mem::take(&mut *self.list.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_alarm_is_counted_not_repeated() {
        let a = Alarms::new();
        for i in 0..86 {
            a.raise(
                AlarmKind::CheckpointFailed,
                "",
                format!("try {i}"),
                Timestamp(i),
            );
        }
        a.raise(
            AlarmKind::StoredBodyDamaged,
            "ab12",
            "x".into(),
            Timestamp(90),
        );
        let list = a.list();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].count, 86);
        assert_eq!(list[0].first_at, Timestamp(0));
        assert_eq!(list[0].last_at, Timestamp(85));
        assert_eq!(list[0].text, "try 85");
        assert_eq!(list[1].subject, "ab12");
        assert_eq!(a.clear().len(), 2);
        assert!(a.list().is_empty());
    }

    #[test]
    fn distinct_alarms_are_bounded() {
        let a = Alarms::new();
        for i in 0..(MAX_ALARMS as u64 + 50) {
            a.raise(
                AlarmKind::SendFailed,
                &i.to_string(),
                "x".into(),
                Timestamp(i),
            );
        }
        let list = a.list();
        assert_eq!(list.len(), MAX_ALARMS);
        let dropped = list
            .iter()
            .find(|x| x.code == AlarmKind::AlarmsDropped)
            .unwrap();
        assert_eq!(dropped.count, 51);
        assert_eq!(
            list.last().unwrap().subject,
            (MAX_ALARMS as u64 + 49).to_string()
        );
    }

    /// Every alarm code, and every code of the store, its lock and its files, is documented
    /// in docs/REASONS.md.
    #[test]
    fn every_code_is_in_reasons_md() {
        let doc = include_str!("../../docs/REASONS.md");
        let codes = crate::reason_codes();
        for code in codes {
            assert!(
                doc.contains(&format!("`{code}`")),
                "{code} is not in docs/REASONS.md"
            );
        }
    }

    #[test]
    fn codes_are_distinct() {
        let mut codes: Vec<&str> = AlarmKind::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), AlarmKind::ALL.len());
    }
}
