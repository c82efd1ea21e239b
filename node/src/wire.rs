//! Frames on QUIC streams: application error codes, and [`FrameReader`], which reads whole
//! frames (length checked before allocation) through a buffer.

use liaison_protocol::{DecodeError, FrameDecoder, FrameType};
use tokio::io::{AsyncRead, AsyncReadExt};

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

/// Bytes a [`FrameReader`] takes from its stream at a time.
const READ_BUF: usize = 32 * 1024;

/// Reads the frames of one stream through a buffer: many small frames cost one read of the
/// stream (one lock of the QUIC connection) instead of three each. A frame's declared length
/// is checked against the maximum before its payload is allocated. Keep one reader per stream:
/// it may hold the start of the next frame.
pub struct FrameReader {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self {
            buf: vec![0u8; READ_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }
}

impl FrameReader {
    /// Reads the next frame; `Ok(None)` on a clean end of stream between frames.
    pub async fn next(
        &mut self,
        recv: &mut (impl AsyncRead + Unpin),
        decoder: &FrameDecoder,
    ) -> Result<Option<(FrameType, Vec<u8>)>, ReadError> {
        use liaison_protocol::limits::FRAME_HEADER_LEN;
        let ended = |what: &str| {
            ReadError::Stream(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("stream ended inside a frame {what}"),
            ))
        };
        while self.end - self.start < FRAME_HEADER_LEN {
            if !self.fill(recv).await? {
                if self.end == self.start {
                    return Ok(None);
                }
                return Err(ended("header"));
            }
        }
        // The declared length is checked against the maximum before anything is allocated.
        let total = decoder
            .check_header(&self.buf[self.start..self.end])?
            .unwrap_or(FRAME_HEADER_LEN);
        while self.end - self.start < FRAME_HEADER_LEN + 1 {
            if !self.fill(recv).await? {
                return Err(ended("header"));
            }
        }
        let frame_type = FrameType::from_byte(self.buf[self.start + FRAME_HEADER_LEN])?;
        self.start += FRAME_HEADER_LEN + 1;
        let mut payload = vec![0u8; total - FRAME_HEADER_LEN - 1];
        let buffered = (self.end - self.start).min(payload.len());
        payload[..buffered].copy_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if buffered < payload.len() {
            // The rest of a frame larger than what is buffered goes straight into its payload.
            recv.read_exact(&mut payload[buffered..])
                .await
                .map_err(|_| ended("payload"))?;
        }
        Ok(Some((frame_type, payload)))
    }

    /// Reads what the stream has into the buffer, after what is left of a partial frame;
    /// `false` at the end of the stream.
    async fn fill(&mut self, recv: &mut (impl AsyncRead + Unpin)) -> Result<bool, ReadError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        let n = recv.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A stream that hands out its bytes in the given pieces, one piece per read at most.
    struct Pieces(std::collections::VecDeque<Vec<u8>>);

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if let Some(mut piece) = self.0.pop_front() {
                let n = piece.len().min(out.remaining());
                out.put_slice(&piece[..n]);
                if n < piece.len() {
                    self.0.push_front(piece.split_off(n));
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    fn frame(t: FrameType, payload: &[u8]) -> Vec<u8> {
        FrameDecoder::default().encode(t, payload).unwrap()
    }

    async fn read_all(pieces: Vec<Vec<u8>>) -> (Vec<(FrameType, Vec<u8>)>, Option<ReadError>) {
        let mut src = Pieces(pieces.into());
        let (mut reader, decoder) = (FrameReader::default(), FrameDecoder::default());
        let mut frames = Vec::new();
        loop {
            match reader.next(&mut src, &decoder).await {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => return (frames, None),
                Err(e) => return (frames, Some(e)),
            }
        }
    }

    #[tokio::test]
    async fn frames_are_read_whole_however_the_stream_cuts_them() {
        let small = frame(FrameType::Envelope, b"first");
        let large_payload: Vec<u8> = (0..3 * READ_BUF).map(|i| i as u8).collect();
        let large = frame(FrameType::Envelope, &large_payload);
        let last = frame(FrameType::WitnessRequest, b"");
        let stream: Vec<u8> = [small.clone(), large.clone(), last.clone()].concat();
        let expected = vec![
            (FrameType::Envelope, b"first".to_vec()),
            (FrameType::Envelope, large_payload),
            (FrameType::WitnessRequest, Vec::new()),
        ];
        // All at once; one byte at a time; cut inside every header and payload.
        let cuts: Vec<Vec<Vec<u8>>> = vec![
            vec![stream.clone()],
            stream.iter().map(|b| vec![*b]).collect(),
            stream.chunks(7).map(<[u8]>::to_vec).collect(),
            vec![
                small[..2].to_vec(),
                [&small[2..], &large[..4]].concat(),
                large[4..].to_vec(),
                last.clone(),
            ],
        ];
        for pieces in cuts {
            let n = pieces.len();
            let (frames, err) = read_all(pieces).await;
            assert!(err.is_none(), "{n} pieces: {err:?}");
            assert_eq!(frames, expected, "{n} pieces");
        }
    }

    #[tokio::test]
    async fn a_bad_length_or_an_end_inside_a_frame_is_an_error() {
        // Declared length over the maximum: refused from the header alone.
        let too_large = (DEFAULT_MAX + 1) as u32;
        let (frames, err) = read_all(vec![too_large.to_be_bytes().to_vec()]).await;
        assert!(frames.is_empty());
        assert!(matches!(err, Some(ReadError::Bad(_))), "{err:?}");
        // Zero length, unknown type.
        let (_, err) = read_all(vec![vec![0, 0, 0, 0]]).await;
        assert!(matches!(err, Some(ReadError::Bad(_))), "{err:?}");
        let (_, err) = read_all(vec![vec![0, 0, 0, 1, 0xEE]]).await;
        assert!(matches!(err, Some(ReadError::Bad(_))), "{err:?}");
        // The stream ends inside a header, inside a payload.
        let whole = frame(FrameType::Envelope, b"payload");
        for cut in [2, whole.len() - 1] {
            let (frames, err) = read_all(vec![whole[..cut].to_vec()]).await;
            assert!(frames.is_empty());
            assert!(
                matches!(err, Some(ReadError::Stream(_))),
                "cut {cut}: {err:?}"
            );
        }
        // A clean end between frames is not an error.
        let (frames, err) = read_all(vec![whole.clone()]).await;
        assert_eq!(frames.len(), 1);
        assert!(err.is_none());
    }

    const DEFAULT_MAX: usize = liaison_protocol::limits::DEFAULT_MAX_FRAME;
}
