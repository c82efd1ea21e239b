//! # liaison-protocol
//!
//! The sans-I/O core of Liaison: everything two nodes, a relay or an auditor must agree on,
//! with no sockets, no disk, no clock and no async runtime. Time and randomness come in
//! as arguments; bytes come in and go out.
//!
//! ```text
//!  officer ─▶ Body ─encode─▶ body bytes ─sign─▶ SignedMessage{body, signer_cert, sig}
//!                                                     │  relays forward these bytes unchanged
//!  frame:  ┌──────────────┬──────┬──────────────────────────────────────────────┐
//!          │ len: u32 BE  │ type │ Envelope{ SignedMessage, route: [NodeId] }   │
//!          └──────────────┴──────┴──────────────────────────────────────────────┘
//!                                                     │
//!  receiver ◀─ VerifiedMessage ◀─verify(TrustStore, created_at)─┘
//!  relay    ─▶ handling::check_hop(next hop, destination, route, now) ─▶ forward / Refusal
//!  log      ─▶ merkle (RFC 6962) ─▶ checkpoint (C2SP signed note)
//! ```
//!
//! * [`message`]: body, header, kinds; canonical, versioned encoding (postcard, strict decode).
//! * [`entity`]: payload content: text with language, entities, attachments.
//! * [`handling`]: TLP 2.0, EU H-codes, releasability, 4x4 evaluation, per-hop checks.
//! * [`signing`]: keys, signing, verification into [`signing::VerifiedMessage`].
//! * [`trust`]: trusted network CAs and CRLs; certificate → node id.
//! * [`codec`]: length-prefixed frames and the wire envelope.
//! * [`log`]: what each log leaf records (commitments, never content).
//! * [`merkle`], [`checkpoint`]: the tamper-evident log's tree, proofs and signed checkpoints.
//! * [`case`]: shared cases: the state each participant derives from the case's messages.
//! * [`selector`]: deconfliction selectors: normalisation and keyed hashes.
//! * [`stix`]: export to STIX 2.1 bundles for MISP/OpenCTI.
//! * [`error`], [`limits`]: reason codes and hard limits.
#![forbid(unsafe_code)]
#![warn(unreachable_pub)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod case;
pub mod checkpoint;
pub mod codec;
pub mod consent;
pub mod entity;
pub mod error;
pub mod handling;
pub mod ids;
pub mod limits;
pub mod log;
pub mod merkle;
pub mod message;
pub mod routing;
pub mod sample;
pub mod seal;
pub mod selector;
pub mod signing;
pub mod stix;
pub mod trust;
pub mod witness;

pub use codec::{Envelope, Frame, FrameDecoder, FrameType};
pub use entity::{Attachment, Entity, Name, PartialDate, Payload};
pub use error::{DecodeError, HandlingError, TrustError, VerifyError};
pub use handling::{Evaluation, Handling, Hop, Recipient, Release, Tlp};
pub use ids::{
    CaseId, CentreId, CountryCode, LanguageTag, MessageId, NetworkId, NodeId, Timestamp,
};
pub use message::{
    Body, ContentKind, ControlKind, Header, Kind, Receipt, ReceiptStatus, Refusal, Urgency,
};
pub use signing::{SignedMessage, Signer, SigningKey, VerifiedMessage};
pub use trust::TrustStore;
