//! Every hard limit of the wire format, in one place.
//!
//! Limits are checked *before* allocation wherever a length comes from a peer
//! (the frame length prefix), and after decoding for counts inside a body, so a
//! body that decodes but is absurd is refused with `limit-exceeded`.
//!
//! Limits come before work: a body's counts and sizes are all checked by
//! [`crate::message::Body::check_limits`], which is linear in the body and runs before
//! any check whose cost grows faster than the input (the composition rules compare every
//! recipient with every releasability entry). The node checks officers' requests against
//! the same constants, with [`check`], before it parses them.

use crate::error::DecodeError;

/// Refuses a count or size `actual` above `max` with `limit-exceeded`, naming `field`,
/// the value and the limit.
pub fn check(field: &'static str, actual: usize, max: usize) -> Result<(), DecodeError> {
    if actual > max {
        Err(DecodeError::LimitExceeded {
            field,
            actual,
            limit: max,
        })
    } else {
        Ok(())
    }
}

/// Default maximum size of one frame's payload (1 MiB); nodes may configure lower or higher.
pub const DEFAULT_MAX_FRAME: usize = 1024 * 1024;
/// Absolute ceiling for a configured frame size (16 MiB), so no configuration can ask for more.
pub const MAX_FRAME_CEILING: usize = 16 * 1024 * 1024;
/// Bytes in the frame length prefix (u32, big-endian).
pub const FRAME_HEADER_LEN: usize = 4;
/// Maximum length of a signer certificate in DER.
pub const MAX_CERT_DER: usize = 8 * 1024;
/// Maximum recipients named on one message.
pub const MAX_RECIPIENTS: usize = 256;
/// Maximum releasability entries on one message.
pub const MAX_RELEASE: usize = 256;
/// Maximum entities carried by one payload.
pub const MAX_ENTITIES: usize = 1024;
/// Maximum attachments carried by one payload.
pub const MAX_ATTACHMENTS: usize = 16;
/// Maximum size of one attachment's content (256 KiB): attachments are small by design.
pub const MAX_ATTACHMENT_BYTES: usize = 256 * 1024;
/// Maximum length in bytes of the free text of a payload.
pub const MAX_TEXT_BYTES: usize = 512 * 1024;
/// Maximum length in bytes of any short string field (names, numbers, titles).
pub const MAX_SHORT_STRING: usize = 1024;
/// Maximum ids covered by one receipt.
pub const MAX_RECEIPT_IDS: usize = 4096;
/// Maximum hop limit an originator may set.
pub const MAX_HOP_LIMIT: u8 = 16;
/// Most signed answers one hop report carries.
pub const MAX_REPORT_ANSWERS: usize = 16;
/// Maximum relays recorded on the route beside a signed body.
pub const MAX_ROUTE: usize = MAX_HOP_LIMIT as usize;
/// Maximum length of a network or centre label (a DNS label).
pub const MAX_LABEL: usize = 63;
/// Maximum length of a case id.
pub const MAX_CASE_ID: usize = 64;
/// Maximum length of a language tag.
pub const MAX_LANGUAGE_TAG: usize = 35;
/// Maximum names on one person or organisation.
pub const MAX_NAMES: usize = 64;
/// Maximum nationalities on one person.
pub const MAX_NATIONALITIES: usize = 16;
/// Maximum length of a reason code.
pub const MAX_REASON_CODE: usize = 64;
/// Latest timestamp accepted anywhere: 9999-12-31T23:59:59.999Z, so every time has an RFC 3339 form.
pub const MAX_TIMESTAMP_MILLIS: u64 = 253_402_300_799_999;
