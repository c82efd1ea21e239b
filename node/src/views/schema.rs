//! The string forms the views share, as named schemas of the API document
//! (docs/openapi.yaml): a view field holding a message id, a node id or a time is a `String`
//! in Rust and refers to one of these in the document, with its pattern or format.

use std::borrow::Cow;

use liaison_protocol::case::{CaseStatus, MemberStatus, TaskStatus};
use liaison_protocol::limits::MAX_SHORT_STRING;
use liaison_protocol::message::{ContentKind, Urgency};
use liaison_protocol::Tlp;

use crate::store::Role;

use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(description))
}

/// A message id in the document: 64 lower-case hex digits.
pub struct MessageIdText;

impl PartialSchema for MessageIdText {
    fn schema() -> RefOr<Schema> {
        string("A message id: 64 lower-case hex digits, the SHA-256 of the signed body.")
            .pattern(Some("^[0-9a-f]{64}$"))
            .into()
    }
}

impl ToSchema for MessageIdText {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("MessageId")
    }
}

/// A node id in the document: `<centre>.<network>`.
pub struct NodeIdText;

impl PartialSchema for NodeIdText {
    fn schema() -> RefOr<Schema> {
        string(
            "`<centre>.<network>`, e.g. caricc.central-asia: each a DNS label (1-63 of a-z, 0-9 \
             and -, not starting or ending with -).",
        )
        .pattern(Some(NODE_ID_PATTERN))
        .into()
    }
}

impl ToSchema for NodeIdText {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("NodeId")
    }
}

/// The pattern of a node id, as `liaison_protocol::NodeId` parses it.
pub const NODE_ID_PATTERN: &str =
    "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?[.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";

/// A time in the document: RFC 3339, UTC.
pub struct TimeText;

impl PartialSchema for TimeText {
    fn schema() -> RefOr<Schema> {
        string("RFC 3339, UTC, millisecond precision.")
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into()
    }
}

impl ToSchema for TimeText {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Time")
    }
}

/// A TLP label in the document, as views write it.
pub struct TlpText;

impl PartialSchema for TlpText {
    fn schema() -> RefOr<Schema> {
        string("A TLP 2.0 label.")
            .enum_values(Some(
                [
                    Tlp::Clear,
                    Tlp::Green,
                    Tlp::Amber,
                    Tlp::AmberStrict,
                    Tlp::Red,
                ]
                .map(Tlp::label),
            ))
            .into()
    }
}

impl ToSchema for TlpText {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TlpLabel")
    }
}

/// A string of at most [`MAX_SHORT_STRING`] bytes in a request (a node id, a label, a
/// reason): longer, the request is refused with 422 `limit-exceeded`.
pub struct ShortText;

impl PartialSchema for ShortText {
    fn schema() -> RefOr<Schema> {
        string("A short string: at most 1,024 bytes of UTF-8.")
            .max_length(Some(MAX_SHORT_STRING))
            .into()
    }
}

impl ToSchema for ShortText {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ShortText")
    }
}

/// A named string schema with a fixed set of values, each taken from the code that writes it.
macro_rules! text_enum {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $description:literal, $values:expr) => {
        $(#[$doc])*
        pub struct $ty;

        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                string($description).enum_values(Some($values)).into()
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

text_enum!(
    /// What this node did with a message.
    RoleText,
    "Role",
    "What this node did with the message: originated it, had it delivered or relayed it.",
    [Role::Originated, Role::Delivered, Role::Relayed].map(super::role)
);

text_enum!(
    /// A case's status.
    CaseStatusText,
    "CaseStatus",
    "A case's status.",
    [CaseStatus::Open, CaseStatus::Suspended, CaseStatus::Closed].map(CaseStatus::name)
);

text_enum!(
    /// A node's standing in a case.
    StandingText,
    "Standing",
    "A node's standing in a case.",
    [
        MemberStatus::Invited,
        MemberStatus::Joined,
        MemberStatus::Declined,
        MemberStatus::Left,
        MemberStatus::Removed,
    ]
    .map(MemberStatus::name)
);

text_enum!(
    /// This node's standing in a case, as a case list shows it.
    OwnStandingText,
    "OwnStanding",
    "This node's standing in the case: `lead`, a participant's standing, or `-` (none).",
    std::iter::once("lead")
        .chain(
            [
                MemberStatus::Invited,
                MemberStatus::Joined,
                MemberStatus::Declined,
                MemberStatus::Left,
                MemberStatus::Removed,
            ]
            .map(MemberStatus::name),
        )
        .chain(std::iter::once("-"))
);

text_enum!(
    /// A task's status.
    TaskStatusText,
    "TaskStatus",
    "A task's status.",
    [
        TaskStatus::Open,
        TaskStatus::InProgress,
        TaskStatus::Done,
        TaskStatus::Cancelled,
    ]
    .map(TaskStatus::name)
);

text_enum!(
    /// A request's urgency.
    UrgencyText,
    "Urgency",
    "A request's urgency: its reply deadline is 8 hours, 3 days or 7 days after it was sent.",
    [Urgency::Urgent, Urgency::ThreeDays, Urgency::SevenDays].map(super::urgency)
);

text_enum!(
    /// An EU handling code.
    HandlingCodeText,
    "HandlingCode",
    "An EU handling code: H0 (crime only), H1 (no judicial use without permission), H2 \
     (originator control), H3 (other restrictions).",
    ["H0", "H1", "H2", "H3"]
);

text_enum!(
    /// The kinds of message an officer sends with `POST /v1/messages`.
    SendKindText,
    "SendKind",
    "The kind of message: an alert, a request (with a reply deadline), a reply, or the \
     retraction of an earlier message.",
    [
        ContentKind::Alert,
        ContentKind::Request,
        ContentKind::Reply,
        ContentKind::Retraction,
    ]
    .map(ContentKind::as_str)
);
