//! The desktop stream protocol: versioned binary frames over one WebSocket.
//!
//! A viewer opens one WebSocket to the desktop (HTTPS port friendly: no WebRTC, no
//! TURN). The server sends encoded video on it; the viewer sends input back on the same
//! socket. There is one message enum per direction: [`ServerMessage`] (server to
//! viewer) and [`ClientMessage`] (viewer to server).
//!
//! The specification (frame layout, every message and field, the session, close codes)
//! is `docs/stream-protocol.md` in the repository. In short: every binary message is one
//! frame, `[version: u8][type: u8][fields...]`, little-endian, `bytes`/`string` fields
//! prefixed by a `u32` length; server types are `0x01..`, client types `0x81..`.
//!
//! A decoder refuses, each with its own [`StreamError`](crate::StreamError) code: a frame
//! larger than [`MAX_FRAME_LEN`] (`frame_too_large`), another version
//! (`unsupported_version`), a type that is not a message of that direction
//! (`unknown_message_type`), a frame that ends inside a field (`truncated`), bytes after
//! the last field (`trailing_bytes`), and out-of-domain values (`invalid_field`). It
//! never panics, whatever the bytes (fuzzed in the tests).
//!
//! # Example
//!
//! ```
//! use helix_stream::protocol::ClientMessage;
//!
//! let ping = ClientMessage::Ping { client_ts_us: 1 };
//! let frame = ping.encode()?;
//! assert_eq!(frame, [0x01, 0x83, 0x01, 0, 0, 0, 0, 0, 0, 0]);
//! assert_eq!(ClientMessage::decode(&frame)?, ping);
//!
//! let err = ClientMessage::decode(&[0x01, 0x83, 0x01]).unwrap_err();
//! assert_eq!(err.code(), "truncated");
//! # Ok::<(), helix_stream::StreamError>(())
//! ```

mod client;
mod server;
mod wire;

#[cfg(test)]
mod tests;

use std::fmt;

pub use client::{ClientMessage, TouchPhase, BITRATE_RANGE_KBPS, MAX_CLIPBOARD_LEN, MAX_TEXT_LEN};
pub use server::ServerMessage;

/// The protocol version this build speaks (byte 0 of every frame).
pub const PROTOCOL_VERSION: u8 = 1;

/// The largest frame, header included: 16 MiB.
pub const MAX_FRAME_LEN: usize = 16 << 20;

/// Well-known [`ServerMessage::Error`] codes.
pub mod error_code {
    /// The viewer's protocol version is not supported.
    pub const UNSUPPORTED_VERSION: u16 = 1;
    /// The viewer sent a frame that could not be decoded.
    pub const MALFORMED_MESSAGE: u16 = 2;
    /// The desktop cannot be streamed (gone, or capture or encoding failed).
    pub const STREAM_UNAVAILABLE: u16 = 3;
    /// Any other server-side failure.
    pub const INTERNAL: u16 = 4;
    /// The viewer sent input (or a setting) but may only watch.
    pub const INPUT_NOT_ALLOWED: u16 = 5;
}

/// WebSocket close codes the server ends a session with (besides `1000` normal).
pub mod close_code {
    /// A newer connection with the same client id took over. Do NOT reconnect.
    pub const SUPERSEDED: u16 = 4001;
    /// The desktop cannot be streamed (gone, capture or encoding failed). Reconnect
    /// with backoff.
    pub const UNAVAILABLE: u16 = 4002;
    /// The viewer broke the protocol (no `Hello`, unsupported version). Do NOT
    /// reconnect.
    pub const PROTOCOL_ERROR: u16 = 4003;
    /// Nothing was heard from the viewer for 30 s (viewers ping every few seconds).
    pub const IDLE: u16 = 4004;
}

/// The video codec of a stream.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// H.264 / AVC (wire id 1).
    H264,
    /// H.265 / HEVC (wire id 2).
    H265,
    /// AV1 (wire id 3).
    Av1,
}

impl Codec {
    /// The codec for a wire id, or `None` for an unknown id.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Codec::H264),
            2 => Some(Codec::H265),
            3 => Some(Codec::Av1),
            _ => None,
        }
    }

    /// The wire id.
    pub fn id(self) -> u8 {
        match self {
            Codec::H264 => 1,
            Codec::H265 => 2,
            Codec::Av1 => 3,
        }
    }

    /// A short lowercase name: `h264`, `h265` or `av1`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
            Codec::Av1 => "av1",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
