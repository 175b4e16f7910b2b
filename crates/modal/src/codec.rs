//! The egress tunnel's framing: many TCP connections multiplexed over one exec's stdin and
//! stdout. Pure and synchronous; `relay.js` speaks the same format inside the sandbox.
//!
//! A frame is `[u32 BE connection id][u8 kind][u32 BE payload length][payload]`. The relay
//! sends `Ready` once it listens, `Open` for each accepted connection, then `Data`, `Eof` (the
//! sender will write no more) and `Close` (the connection is gone) in both directions.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes before a frame's payload.
pub const HEADER_LEN: usize = 9;
/// The largest payload accepted. The relay and the runtime split data into chunks of at most
/// this; anything larger means the stream is corrupt, and buffering it would let a broken
/// relay grow memory without bound.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// What a frame says about its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// The relay listens (connection id 0, no payload).
    Ready,
    /// A new connection was accepted inside the sandbox.
    Open,
    Data,
    /// The sender's half is done; the other direction may go on.
    Eof,
    /// The connection is gone in both directions.
    Close,
}

impl FrameKind {
    fn to_byte(self) -> u8 {
        match self {
            Self::Ready => 0,
            Self::Open => 1,
            Self::Data => 2,
            Self::Eof => 3,
            Self::Close => 4,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0 => Self::Ready,
            1 => Self::Open,
            2 => Self::Data,
            3 => Self::Eof,
            4 => Self::Close,
            _ => return None,
        })
    }
}

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub conn: u32,
    pub kind: FrameKind,
    pub payload: Bytes,
}

impl Frame {
    /// A frame without payload.
    pub fn control(conn: u32, kind: FrameKind) -> Self {
        Self {
            conn,
            kind,
            payload: Bytes::new(),
        }
    }

    /// A data frame; `payload` must be at most [`MAX_PAYLOAD`] (callers chunk).
    pub fn data(conn: u32, payload: Bytes) -> Self {
        Self {
            conn,
            kind: FrameKind::Data,
            payload,
        }
    }

    /// Appends the encoded frame to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(HEADER_LEN + self.payload.len());
        out.put_u32(self.conn);
        out.put_u8(self.kind.to_byte());
        out.put_u32(u32::try_from(self.payload.len()).unwrap_or(u32::MAX));
        out.extend_from_slice(&self.payload);
    }
}

/// Why the byte stream is not a valid frame sequence. Fatal: the tunnel is torn down.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("frame payload of {len} bytes exceeds the limit of {MAX_PAYLOAD}")]
    Oversize { len: usize },
}

/// Turns a byte stream into frames; bytes may arrive split anywhere.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, CodecError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let header = &self.buf[..HEADER_LEN];
        let kind_byte = header[4];
        let kind = FrameKind::from_byte(kind_byte).ok_or(CodecError::UnknownKind(kind_byte))?;
        let len = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(CodecError::Oversize { len });
        }
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let conn = self.buf.get_u32();
        self.buf.advance(5);
        let payload = self.buf.split_to(len).freeze();
        Ok(Some(Frame {
            conn,
            kind,
            payload,
        }))
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn encoded(frames: &[Frame]) -> Vec<u8> {
        let mut out = BytesMut::new();
        for frame in frames {
            frame.encode(&mut out);
        }
        out.to_vec()
    }

    fn frames() -> Vec<Frame> {
        vec![
            Frame::control(0, FrameKind::Ready),
            Frame::control(7, FrameKind::Open),
            Frame::data(
                7,
                Bytes::from_static(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
            ),
            Frame::data(u32::MAX, Bytes::from(vec![0xAB; MAX_PAYLOAD])),
            Frame::control(7, FrameKind::Eof),
            Frame::control(7, FrameKind::Close),
        ]
    }

    #[test]
    fn round_trip() {
        let mut decoder = Decoder::new();
        decoder.push(&encoded(&frames()));
        let mut got = Vec::new();
        while let Some(frame) = decoder.next_frame().unwrap() {
            got.push(frame);
        }
        assert_eq!(got, frames());
        assert_eq!(decoder.pending(), 0);
    }

    #[test]
    fn bytes_split_anywhere() {
        let bytes = encoded(&frames());
        for step in [1, 2, 8, 9, 10, 4096] {
            let mut decoder = Decoder::new();
            let mut got = Vec::new();
            for chunk in bytes.chunks(step) {
                decoder.push(chunk);
                while let Some(frame) = decoder.next_frame().unwrap() {
                    got.push(frame);
                }
            }
            assert_eq!(got, frames(), "chunks of {step}");
        }
    }

    #[test]
    fn header_layout_is_fixed() {
        let bytes = encoded(&[Frame::data(0x0102_0304, Bytes::from_static(b"hi"))]);
        assert_eq!(bytes, vec![1, 2, 3, 4, 2, 0, 0, 0, 2, b'h', b'i']);
    }

    #[test]
    fn oversize_and_unknown_frames_are_refused() {
        let mut decoder = Decoder::new();
        let len = (MAX_PAYLOAD as u32 + 1).to_be_bytes();
        decoder.push(&[0, 0, 0, 1, 2, len[0], len[1], len[2], len[3]]);
        assert_eq!(
            decoder.next_frame(),
            Err(CodecError::Oversize {
                len: MAX_PAYLOAD + 1
            })
        );
        let mut decoder = Decoder::new();
        decoder.push(&[0, 0, 0, 1, 9, 0, 0, 0, 0]);
        assert_eq!(decoder.next_frame(), Err(CodecError::UnknownKind(9)));
    }
}
