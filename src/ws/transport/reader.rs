//! The frame reader: bytes read from a client's socket in, client frames out. It holds no
//! socket, so the socket task ([`super::socket::Inbound`]) and the fuzz targets run the
//! very same steps.
//!
//! Client frames are decoded with actix-http's `Codec` (server side: every frame must be
//! masked) into a buffer that is released whenever it is empty: an idle connection holds
//! no buffer.

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, ProtocolError};
use bytes::BytesMut;

/// Decodes the client frames in a byte stream fed to it in pieces of any size.
pub struct FrameReader {
    /// Bytes of a frame not complete yet; empty (no allocation) between frames.
    buf: BytesMut,
    codec: Codec,
}

impl FrameReader {
    /// A reader that refuses frames whose payload is over `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Self::with_leftover(max_frame, &[])
    }

    /// A reader that starts with `leftover`: what the client sent after its request head.
    pub fn with_leftover(max_frame: usize, leftover: &[u8]) -> Self {
        let buf = if leftover.is_empty() {
            BytesMut::new()
        } else {
            BytesMut::from(leftover)
        };
        Self {
            buf,
            codec: Codec::new().max_size(max_frame),
        }
    }

    /// Appends bytes read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame; `Ok(None)` when more bytes are needed. After an error the
    /// connection is to be closed: the stream cannot be resynchronised.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let frame = self.codec.decode(&mut self.buf)?;
        if frame.is_some() && self.buf.is_empty() {
            // Give the allocation back: an idle connection holds no buffer.
            self.buf = BytesMut::new();
        }
        Ok(frame)
    }

    /// Bytes held of a frame not complete yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes allocated for them.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}
