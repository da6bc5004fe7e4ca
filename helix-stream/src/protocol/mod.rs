//! The desktop stream protocol: versioned binary frames over one WebSocket.
//!
//! A viewer opens one WebSocket to the desktop (HTTPS port friendly: no WebRTC, no
//! TURN). The server sends encoded video on it; the viewer sends input back on the same
//! socket. There is one message enum per direction: [`ServerMessage`] (server to
//! viewer) and [`ClientMessage`] (viewer to server). This page is the specification;
//! a third party can implement either side from it.
//!
//! # Frames
//!
//! Every WebSocket **binary** message carries exactly one frame of at most
//! [`MAX_FRAME_LEN`] bytes:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | protocol version, [`PROTOCOL_VERSION`] (1) |
//! | 1 | 1 | message type (table below) |
//! | 2 | rest | the message's fields, in order, with no padding |
//!
//! Field encodings:
//!
//! - `u8`, `u16`, `u32`, `u64`, `i32`: little-endian, two's complement for `i32`;
//! - `bool`: one byte, `0` or `1` (anything else is invalid);
//! - `bytes`: a `u32` length, then that many bytes;
//! - `string`: `bytes` holding UTF-8.
//!
//! A decoder refuses, each with its own [`StreamError`](crate::StreamError) code: a frame larger than
//! [`MAX_FRAME_LEN`] (`frame_too_large`), another version (`unsupported_version`), a
//! type that is not a message of that direction (`unknown_message_type`), a frame that
//! ends inside a field (`truncated`), bytes after the last field (`trailing_bytes`),
//! and out-of-domain values (`invalid_field`). Server and client message types are
//! disjoint (client types have the high bit set), so a frame sent the wrong way is
//! refused as an unknown type.
//!
//! # Server to client
//!
//! | type | message | fields |
//! |---|---|---|
//! | `0x01` | `Init` | `version: u8`, `width: u32`, `height: u32`, `codec: u8` |
//! | `0x02` | `VideoFrame` | `keyframe: bool`, `capture_ts_us: u64`, `data: bytes` |
//! | `0x03` | `Pong` | `client_ts_us: u64`, `server_ts_us: u64` |
//! | `0x04` | `Error` | `code: u16`, `message: string` |
//!
//! - `Init.version` is the protocol version the server chose; `width` and `height`
//!   are the video size in pixels; `codec` is a [`Codec`] id: `1` H.264, `2` H.265
//!   (HEVC), `3` AV1. A new `Init` (for example after a resolution change) is always
//!   followed by a keyframe.
//! - `VideoFrame.data` is one access unit of the codec's Annex B bitstream (AV1: one
//!   temporal unit of OBUs); `capture_ts_us` is when the desktop was captured, in
//!   microseconds on the server's clock.
//! - `Pong` echoes a `Ping`'s `client_ts_us` and adds the server's clock, so the viewer
//!   can measure round-trip time and clock offset (and so glass-to-glass latency).
//! - `Error.code` is one of [`error_code`]; the server closes the socket after an
//!   error it cannot recover from.
//!
//! # Client to server
//!
//! | type | message | fields |
//! |---|---|---|
//! | `0x81` | `Hello` | `version: u8` |
//! | `0x82` | `RequestKeyframe` | none |
//! | `0x83` | `Ping` | `client_ts_us: u64` |
//! | `0x84` | `KeyDown` | `code: u32` |
//! | `0x85` | `KeyUp` | `code: u32` |
//! | `0x86` | `MouseMove` | `x: i32`, `y: i32` |
//! | `0x87` | `MouseButton` | `button: u8`, `down: bool` |
//! | `0x88` | `Scroll` | `dx: i32`, `dy: i32` |
//!
//! - `Hello.version` is the highest protocol version the viewer speaks.
//! - Key `code`s are USB HID usage ids of the keyboard page (0x07), which name the
//!   physical key independently of layout (a browser maps `KeyboardEvent.code` to
//!   them). Modifiers are keys like any other.
//! - `MouseMove` is absolute, in video pixels from the top-left corner; values outside
//!   the video are clamped by the server. `button` follows the DOM numbering: `0`
//!   main, `1` auxiliary (middle), `2` secondary (right), `3` back, `4` forward.
//!   `Scroll` deltas are in pixels, positive right and down.
//!
//! # Session
//!
//! 1. The viewer connects and sends `Hello`.
//! 2. The server answers `Init` and then `VideoFrame`s, the first one a keyframe. One
//!    encoder serves every viewer of a desktop; a viewer that joins late or loses its
//!    decoder state sends `RequestKeyframe`.
//! 3. Either side may send at any time: `Ping`/`Pong`, input messages, `Error`.
//!
//! A server that cannot decode a viewer's frame answers with
//! [`ServerMessage::error_for`] and may keep the connection open.
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

pub use client::{ClientMessage, TouchPhase, BITRATE_RANGE_KBPS, MAX_TEXT_LEN};
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
