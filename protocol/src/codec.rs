//! Framing and the wire envelope.
//!
//! ```text
//! frame    = length:u32be  type:u8  payload          (length counts type + payload)
//! type 1   = envelope: postcard { signed: { body, signer_cert, signature }, route: [NodeId] }
//! ```
//!
//! The length is checked against the configured maximum *before* any allocation, and an
//! incomplete frame is the normal "need more bytes" answer (`Ok(None)`), not an error.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::ids::NodeId;
use crate::limits::{FRAME_HEADER_LEN, MAX_CERT_DER, MAX_FRAME_CEILING, MAX_ROUTE};
use crate::signing::SignedMessage;

/// The type byte of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameType {
    /// A signed message with its route so far ([`Envelope`]).
    Envelope,
    /// A checkpoint to cosign ([`crate::witness::WitnessRequest`]), first on its own stream.
    WitnessRequest,
    /// A witness's answer ([`crate::witness::WitnessReply`]).
    WitnessReply,
    /// A network CA's certificate revocation list (DER, as the CA signed it), first on its
    /// own stream; the list's own signature is its only authority.
    Crl,
}

impl FrameType {
    /// The byte on the wire.
    pub fn to_byte(self) -> u8 {
        match self {
            FrameType::Envelope => 1,
            FrameType::WitnessRequest => 2,
            FrameType::WitnessReply => 3,
            FrameType::Crl => 4,
        }
    }
    /// Parses the byte on the wire.
    pub fn from_byte(b: u8) -> Result<Self, DecodeError> {
        match b {
            1 => Ok(FrameType::Envelope),
            2 => Ok(FrameType::WitnessRequest),
            3 => Ok(FrameType::WitnessReply),
            4 => Ok(FrameType::Crl),
            other => Err(DecodeError::UnknownFrameType(other)),
        }
    }
}

/// One decoded frame, borrowing its payload from the input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Frame type.
    pub frame_type: FrameType,
    /// Payload bytes (after the type byte).
    pub payload: &'a [u8],
}

/// Splits frames off a byte stream, enforcing a maximum frame size.
#[derive(Clone, Copy, Debug)]
pub struct FrameDecoder {
    max: usize,
}

impl FrameDecoder {
    /// A decoder refusing frames larger than `max` bytes (capped at [`MAX_FRAME_CEILING`]).
    pub fn new(max: usize) -> Self {
        Self {
            max: max.min(MAX_FRAME_CEILING),
        }
    }

    /// The maximum frame size in force.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Looks at the length prefix only: `Ok(Some(total))` with the total bytes the next
    /// frame occupies, `Ok(None)` if fewer than 4 bytes are buffered, or an error if the
    /// declared length is zero or too large. Call before reading the rest from a stream.
    pub fn check_header(&self, buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        let Some(head) = buf.get(..FRAME_HEADER_LEN) else {
            return Ok(None);
        };
        let mut len = [0u8; 4];
        len.copy_from_slice(head);
        let declared = u32::from_be_bytes(len) as usize;
        if declared == 0 {
            return Err(DecodeError::EmptyFrame);
        }
        if declared > self.max {
            return Err(DecodeError::FrameTooLarge {
                declared,
                max: self.max,
            });
        }
        Ok(Some(FRAME_HEADER_LEN + declared))
    }

    /// Decodes the first frame of `buf`: `Ok(Some((frame, consumed)))`, or `Ok(None)` if
    /// the buffer does not yet hold a whole frame.
    pub fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<(Frame<'a>, usize)>, DecodeError> {
        let Some(total) = self.check_header(buf)? else {
            return Ok(None);
        };
        let Some(frame) = buf.get(FRAME_HEADER_LEN..total) else {
            return Ok(None);
        };
        let (&t, payload) = frame.split_first().ok_or(DecodeError::EmptyFrame)?;
        let frame_type = FrameType::from_byte(t)?;
        Ok(Some((
            Frame {
                frame_type,
                payload,
            },
            total,
        )))
    }

    /// Encodes one frame. Fails if the frame would exceed this decoder's maximum, so a
    /// node never sends what its peers must refuse.
    pub fn encode(&self, frame_type: FrameType, payload: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len() + 1);
        self.encode_into(frame_type, payload, &mut out)?;
        Ok(out)
    }

    /// As [`Self::encode`], appending the frame to `out` (a sender batching frames into one
    /// write buffer need not build each frame on its own first). Nothing is appended on error.
    pub fn encode_into(
        &self,
        frame_type: FrameType,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DecodeError> {
        let len = payload.len() + 1;
        if len > self.max {
            return Err(DecodeError::FrameTooLarge {
                declared: len,
                max: self.max,
            });
        }
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.push(frame_type.to_byte());
        out.extend_from_slice(payload);
        Ok(())
    }
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(crate::limits::DEFAULT_MAX_FRAME)
    }
}

/// A signed message as it travels: the originator's signed bytes, unchanged, plus the
/// route of relays so far. The route is not signed by the originator; each hop
/// authenticates its own addition with mTLS and its signed receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The signed message, exactly as the originator produced it.
    pub signed: SignedMessage,
    /// Relays the message has passed, in order.
    pub route: Vec<NodeId>,
}

impl Envelope {
    /// Encodes the envelope (the payload of an envelope frame).
    pub fn encode(&self) -> Vec<u8> {
        // Sized up front (byte strings, their length prefixes, the route) so encoding does not
        // grow the buffer repeatedly. Serialising plain structs into a Vec cannot fail.
        let s = &self.signed;
        let cap =
            s.body.len() + s.signer_cert.len() + s.signature.len() + 16 + 64 * self.route.len();
        let mut out = Vec::with_capacity(cap);
        let _ = postcard::to_io(self, &mut out);
        out
    }

    /// Decodes an envelope strictly: whole input consumed, sizes within limits. The body
    /// inside is not decoded here; verification does that.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (env, tail): (Envelope, _) =
            postcard::take_from_bytes(bytes).map_err(|e| DecodeError::Malformed {
                what: "envelope",
                detail: e.to_string(),
            })?;
        if !tail.is_empty() {
            return Err(DecodeError::TrailingBytes(tail.len(), "envelope"));
        }
        env.signed.check_shape()?;
        crate::entity::limit("route", env.route.len(), MAX_ROUTE)?;
        Ok(env)
    }

    /// Encodes the envelope as a whole frame.
    pub fn to_frame(&self, decoder: &FrameDecoder) -> Result<Vec<u8>, DecodeError> {
        decoder.encode(FrameType::Envelope, &self.encode())
    }
}

pub(crate) fn check_cert_len(len: usize) -> Result<(), DecodeError> {
    crate::entity::limit("signer certificate", len, MAX_CERT_DER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_into_appends_the_frame_encode_builds() {
        let d = FrameDecoder::new(64);
        let mut out = vec![0xAA];
        d.encode_into(FrameType::Envelope, b"abc", &mut out)
            .unwrap();
        d.encode_into(FrameType::Envelope, b"", &mut out).unwrap();
        let mut want = vec![0xAA];
        want.extend(d.encode(FrameType::Envelope, b"abc").unwrap());
        want.extend(d.encode(FrameType::Envelope, b"").unwrap());
        assert_eq!(out, want);
    }

    #[test]
    fn encode_into_appends_nothing_for_a_frame_too_large() {
        let d = FrameDecoder::new(4);
        let mut out = vec![1, 2];
        assert!(matches!(
            d.encode_into(FrameType::Envelope, &[0; 4], &mut out),
            Err(DecodeError::FrameTooLarge {
                declared: 5,
                max: 4
            })
        ));
        assert_eq!(out, [1, 2]);
    }
}
