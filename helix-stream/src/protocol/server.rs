//! Messages from the server to a viewer.

use super::wire::{self, Writer};
use super::{error_code, Codec};
use crate::{Result, StreamError};

const INIT: u8 = 0x01;
const VIDEO_FRAME: u8 = 0x02;
const PONG: u8 = 0x03;
const ERROR: u8 = 0x04;
const STREAM_INFO: u8 = 0x05;
const CLIPBOARD: u8 = 0x06;

/// A message from the server to a viewer. See the [module docs](super) for the wire
/// layout of each variant.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    /// Starts (or restarts) the stream: the chosen version, the video size and codec.
    Init {
        /// The protocol version the server will speak.
        version: u8,
        /// Video width in pixels.
        width: u32,
        /// Video height in pixels.
        height: u32,
        /// The video codec.
        codec: Codec,
    },
    /// One encoded video access unit.
    VideoFrame {
        /// Whether the frame can be decoded on its own.
        keyframe: bool,
        /// Capture time in microseconds on the server's clock.
        capture_ts_us: u64,
        /// The encoded bitstream.
        data: Vec<u8>,
    },
    /// The answer to a `Ping`.
    Pong {
        /// The `Ping`'s timestamp, echoed.
        client_ts_us: u64,
        /// The server's clock when it answered, in microseconds.
        server_ts_us: u64,
    },
    /// Something went wrong.
    Error {
        /// One of [`error_code`](super::error_code).
        code: u16,
        /// A human-readable description.
        message: String,
    },
    /// How the stream is encoded; sent after `Init` and after every bitrate change.
    StreamInfo {
        /// The encoder in use (a GStreamer element name such as `x264enc`).
        encoder: String,
        /// The target bitrate in kbit/s.
        bitrate_kbps: u32,
        /// The capture frame rate in frames per second.
        fps: u32,
    },
    /// The desktop's clipboard holds this text (sent on joining and on every change).
    Clipboard {
        /// The text.
        text: String,
    },
}

impl ServerMessage {
    /// The message type byte.
    pub fn message_type(&self) -> u8 {
        match self {
            ServerMessage::Init { .. } => INIT,
            ServerMessage::VideoFrame { .. } => VIDEO_FRAME,
            ServerMessage::Pong { .. } => PONG,
            ServerMessage::Error { .. } => ERROR,
            ServerMessage::StreamInfo { .. } => STREAM_INFO,
            ServerMessage::Clipboard { .. } => CLIPBOARD,
        }
    }

    /// A short `snake_case` name for logs and errors.
    pub fn name(&self) -> &'static str {
        name(self.message_type()).unwrap_or("unknown")
    }

    /// The `Error` message a server sends back for a viewer frame it could not decode.
    pub fn error_for(err: &StreamError) -> Self {
        let code = match err {
            StreamError::UnsupportedVersion { .. } => error_code::UNSUPPORTED_VERSION,
            _ => error_code::MALFORMED_MESSAGE,
        };
        ServerMessage::Error {
            code,
            message: err.to_string(),
        }
    }

    /// Encodes the message as one frame.
    ///
    /// Fails with [`StreamError::FrameTooLarge`] when the frame would exceed
    /// [`MAX_FRAME_LEN`](super::MAX_FRAME_LEN) (a huge video frame).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let payload_len = match self {
            ServerMessage::Init { .. } => 1 + 4 + 4 + 1,
            ServerMessage::VideoFrame { data, .. } => (1 + 8 + 4usize).saturating_add(data.len()),
            ServerMessage::Pong { .. } => 8 + 8,
            ServerMessage::Error { message, .. } => (2 + 4usize).saturating_add(message.len()),
            ServerMessage::StreamInfo { encoder, .. } => {
                (4 + 4 + 4usize).saturating_add(encoder.len())
            }
            ServerMessage::Clipboard { text } => 4usize.saturating_add(text.len()),
        };
        wire::check_encoded_len(payload_len)?;
        let w = Writer::new(self.message_type(), payload_len);
        let w = match self {
            ServerMessage::Init {
                version,
                width,
                height,
                codec,
            } => w.u8(*version).u32(*width).u32(*height).u8(codec.id()),
            ServerMessage::VideoFrame {
                keyframe,
                capture_ts_us,
                data,
            } => w.bool(*keyframe).u64(*capture_ts_us).bytes(data),
            ServerMessage::Pong {
                client_ts_us,
                server_ts_us,
            } => w.u64(*client_ts_us).u64(*server_ts_us),
            ServerMessage::Error { code, message } => w.u16(*code).bytes(message.as_bytes()),
            ServerMessage::StreamInfo {
                encoder,
                bitrate_kbps,
                fps,
            } => w.bytes(encoder.as_bytes()).u32(*bitrate_kbps).u32(*fps),
            ServerMessage::Clipboard { text } => w.bytes(text.as_bytes()),
        };
        Ok(w.finish())
    }

    /// Decodes one frame received from a server.
    pub fn decode(frame: &[u8]) -> Result<Self> {
        let (message_type, mut r) = wire::open(frame)?;
        let name = name(message_type).ok_or_else(|| unknown(message_type))?;
        r.message(name);
        let message = match message_type {
            INIT => ServerMessage::Init {
                version: r.u8("version")?,
                width: r.u32("width")?,
                height: r.u32("height")?,
                codec: {
                    let id = r.u8("codec")?;
                    Codec::from_id(id)
                        .ok_or_else(|| r.invalid("codec", format!("unknown codec id {id}")))?
                },
            },
            VIDEO_FRAME => ServerMessage::VideoFrame {
                keyframe: r.bool("keyframe")?,
                capture_ts_us: r.u64("capture_ts_us")?,
                data: r.bytes("data")?.to_vec(),
            },
            PONG => ServerMessage::Pong {
                client_ts_us: r.u64("client_ts_us")?,
                server_ts_us: r.u64("server_ts_us")?,
            },
            ERROR => ServerMessage::Error {
                code: r.u16("code")?,
                message: r.string("message")?,
            },
            STREAM_INFO => ServerMessage::StreamInfo {
                encoder: r.string("encoder")?,
                bitrate_kbps: r.u32("bitrate_kbps")?,
                fps: r.u32("fps")?,
            },
            CLIPBOARD => ServerMessage::Clipboard {
                text: r.string("text")?,
            },
            _ => return Err(unknown(message_type)),
        };
        r.finish()?;
        Ok(message)
    }
}

fn name(message_type: u8) -> Option<&'static str> {
    Some(match message_type {
        INIT => "init",
        VIDEO_FRAME => "video_frame",
        PONG => "pong",
        ERROR => "error",
        STREAM_INFO => "stream_info",
        CLIPBOARD => "clipboard",
        _ => return None,
    })
}

fn unknown(message_type: u8) -> StreamError {
    StreamError::UnknownMessageType {
        direction: "server",
        message_type,
    }
}
