//! `helix-stream`: desktop streaming for Helix agent sessions.
//!
//! It streams a desktop to any number of browser viewers:
//!
//! - capture an X11 display ([`gst::X11Capture`], GStreamer `ximagesrc`) or a wlroots
//!   Wayland compositor ([`gst::WaylandCapture`], through `wf-recorder`);
//! - encode it once per desktop: H.264 with `x264enc`, `openh264enc` or NVENC
//!   (`nvh264enc`), chosen by probing that the encoder really produces frames
//!   ([`gst::select_encoder`]); the pipeline runs in a worker process
//!   ([`gst::ProcessSource`]) so a dying X server or encoder never takes the host down;
//! - fan the encoded frames out to every viewer ([`Desktop`]: one pipeline shared by all,
//!   slow viewers skip to the next keyframe, late joiners start at one);
//! - speak the [`protocol`] over **one WebSocket** per viewer ([`serve_viewer`], over any
//!   WebSocket library), decoded in the browser with WebCodecs (`frontend/src/stream/`);
//! - inject keyboard, mouse, scroll, touch and text back into the desktop
//!   ([`x11::X11Input`], XTest; [`wl::WaylandInput`], virtual keyboard and pointer),
//!   and keep an X desktop's clipboard in sync both ways ([`x11::clipboard`]).
//!
//! Backends sit behind traits: [`VideoSource`] (start a pipeline for a [`FrameSink`]),
//! [`gst::Capture`], [`gst::Encoder`], [`InputSink`].
//!
//! # Cargo features
//!
//! - `gstreamer` (default): capture and encoding through GStreamer 1.22+ (needs
//!   `libgstreamer1.0-dev` and `libgstreamer-plugins-base1.0-dev` to build, and the
//!   plugins at run time), and the `helix-stream-worker` binary;
//! - `x11` (default): input injection through XTest and the X clipboard (pure Rust);
//! - `wayland` (default): input injection into wlroots compositors through the virtual
//!   keyboard and virtual pointer protocols (pure Rust);
//! - `nvenc` (off): `gst::nvenc::NvencSource`, encoding on NVIDIA GPUs through the
//!   Video Codec SDK crate (links `libnvidia-encode` at build time; CI only checks that it
//!   compiles). The default build reaches NVENC through GStreamer's `nvh264enc` instead.
//!
//! Without them the crate still offers the protocol, the fan-out and the session, for
//! hosts that bring their own [`VideoSource`].
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

mod annexb;
#[cfg(any(feature = "gstreamer", feature = "x11"))]
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
#[cfg(feature = "wayland")]
pub mod wl;
#[cfg(feature = "x11")]
pub mod x11;

pub use error::{Result, StreamError};
pub use hub::{CloseReason, Desktop, DesktopStats, Viewer, ViewerEvent};
pub use input::{InputEvent, InputSink};
pub use protocol::{ClientMessage, Codec, ServerMessage, MAX_FRAME_LEN, PROTOCOL_VERSION};
pub use session::{serve_viewer, ViewerOptions, WsIn, WsOut};
pub use source::{ActiveStream, EncodedFrame, FrameSink, VideoFormat, VideoSource};
