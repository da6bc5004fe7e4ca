//! `helix-stream`: desktop streaming for Helix agent sessions.
//!
//! This crate will stream a session's desktop to any number of browser viewers:
//!
//! - capture an X11 or Wayland desktop;
//! - encode it once per desktop (H.264, HEVC or AV1; software through GStreamer, or
//!   NVIDIA NVENC) and fan the encoded frames out to every viewer;
//! - send video over **one WebSocket** per viewer (no WebRTC, no TURN: it works through
//!   anything that passes HTTPS), decoded in the browser with WebCodecs;
//! - take keyboard, mouse and scroll input back on the same socket and inject it into
//!   the desktop.
//!
//! Today it provides the wire format of that socket: the versioned binary
//! [`protocol`], with one message enum per direction and its full specification.
//!
//! # Cargo features
//!
//! None yet. Planned, all additive and off by default:
//!
//! - `gstreamer`: capture and software encoding through GStreamer;
//! - `nvenc`: NVIDIA hardware encoding (without it, asking for NVENC fails with a
//!   clear "built without nvenc" error);
//! - `test-util`: a fake `Encoder` and a scripted desktop for downstream tests.
//!
//! # Quick start
//!
//! ```
//! use helix_stream::{ClientMessage, Codec, ServerMessage, PROTOCOL_VERSION};
//!
//! // The viewer says hello ...
//! let hello = ClientMessage::Hello { version: PROTOCOL_VERSION }.encode()?;
//!
//! // ... the server decodes it and answers with the stream parameters.
//! let ClientMessage::Hello { version } = ClientMessage::decode(&hello)? else {
//!     unreachable!("the viewer sent hello");
//! };
//! let init = ServerMessage::Init { version, width: 1920, height: 1080, codec: Codec::H264 };
//! let frame: Vec<u8> = init.encode()?; // send as one binary WebSocket message
//!
//! assert_eq!(ServerMessage::decode(&frame)?, init);
//!
//! // Malformed input is refused with a stable code, never a panic.
//! let err = ClientMessage::decode(&[PROTOCOL_VERSION, 0x86, 1, 2]).unwrap_err();
//! assert_eq!(err.code(), "truncated");
//! # Ok::<(), helix_stream::StreamError>(())
//! ```

#![warn(missing_docs)]

mod display;
mod error;
#[cfg(feature = "gstreamer")]
pub mod gst;
pub mod hub;
pub mod input;
pub mod protocol;
pub mod session;
pub mod source;
pub mod testing;
#[cfg(feature = "x11")]
pub mod x11;

pub use error::{Result, StreamError};
pub use hub::{CloseReason, Desktop, DesktopStats, Viewer, ViewerEvent};
pub use input::{InputEvent, InputSink};
pub use protocol::{ClientMessage, Codec, ServerMessage, MAX_FRAME_LEN, PROTOCOL_VERSION};
pub use session::{serve_viewer, ViewerOptions, WsIn, WsOut};
pub use source::{ActiveStream, EncodedFrame, FrameSink, VideoFormat, VideoSource};
