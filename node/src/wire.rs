//! Frames on QUIC streams: read one whole frame (length checked before allocation), write one.

use liaison_protocol::{DecodeError, FrameDecoder, FrameType};

/// Application error codes used to reset streams and close connections.
pub mod code {
    /// Clean close.
    pub const OK: u32 = 0;
    /// A frame could not be decoded (malformed, too large, unknown type).
    pub const BAD_FRAME: u32 = 1;
    /// The peer is not one this node accepts.
    pub const UNEXPECTED_PEER: u32 = 2;
    /// The node is shutting down.
    pub const SHUTDOWN: u32 = 3;
    /// Too many connections.
    pub const BUSY: u32 = 4;
}

/// Why reading a frame stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer sent a bad frame; the stream must be reset with [`code::BAD_FRAME`].
    #[error("{0}")]
    Bad(#[from] DecodeError),
    /// The stream or connection failed.
    #[error("stream: {0}")]
    Stream(#[from] std::io::Error),
}

impl ReadError {
    /// Reason code for logs and refusals.
    pub fn reason_code(&self) -> &'static str {
        match self {
            ReadError::Bad(e) => e.reason_code(),
            ReadError::Stream(_) => "stream-error",
        }
    }
}

/// Reads one frame; `Ok(None)` on a clean end of stream between frames. Returns the frame's
/// type and payload.
pub async fn read_frame(
    recv: &mut quinn::RecvStream,
    decoder: &FrameDecoder,
) -> Result<Option<(FrameType, Vec<u8>)>, ReadError> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let read = recv
            .read(&mut head[got..])
            .await
            .map_err(std::io::Error::from)?;
        match read {
            None if got == 0 => return Ok(None),
            None => {
                return Err(ReadError::Stream(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "stream ended inside a frame header",
                )))
            }
            Some(n) => got += n,
        }
    }
    // The declared length is checked against the maximum before anything is allocated.
    let total = decoder
        .check_header(&head)?
        .unwrap_or(liaison_protocol::limits::FRAME_HEADER_LEN);
    let eof = |e: quinn::ReadExactError| {
        ReadError::Stream(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e))
    };
    let mut t = [0u8; 1];
    recv.read_exact(&mut t).await.map_err(eof)?;
    let frame_type = FrameType::from_byte(t[0])?;
    let mut payload = vec![0u8; total - liaison_protocol::limits::FRAME_HEADER_LEN - 1];
    recv.read_exact(&mut payload).await.map_err(eof)?;
    Ok(Some((frame_type, payload)))
}
