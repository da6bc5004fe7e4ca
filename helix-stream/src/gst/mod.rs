//! Capture and encoding through GStreamer (feature `gstreamer`).
//!
//! [`GstSource`] is the [`VideoSource`](crate::VideoSource) of a desktop: a
//! [`Capture`] (what to grab) feeding an [`Encoder`] (how to compress it), as one
//! GStreamer pipeline per running stream:
//!
//! ```text
//! <capture> ! video/x-raw,framerate=F/1 ! queue (leaky, 2 buffers) ! videoconvert
//!   ! video/x-raw,format=I420 ! queue (1 buffer) ! <encoder> ! h264parse config-interval=-1
//!   ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink
//! ```
//!
//! The leaky queue drops captured frames when the encoder cannot keep up rather than
//! building latency; the second queue puts conversion and encoding on their own threads
//! (two cores at work instead of one); `h264parse config-interval=-1` puts SPS and PPS
//! before every IDR so any keyframe starts a decoder.

mod capture;
mod encoder;
#[cfg(feature = "nvenc")]
pub mod nvenc;
mod pipeline;
mod wayland;
pub mod worker;

pub use capture::{Capture, TestPatternCapture, X11Capture};
pub use encoder::{available_encoders, select_encoder, Encoder, EncoderChoice, H264Encoder};
pub use pipeline::{GstSource, StreamSettings};
pub use wayland::{PixelOrder, WaylandCapture};
pub use worker::{CaptureSpec, ProcessSource, WorkerSpec};

use crate::{Result, StreamError};

/// Initialises GStreamer once per process; later calls are free.
pub fn init() -> Result<()> {
    static INIT: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| gstreamer::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| StreamError::Pipeline(format!("cannot initialise GStreamer: {e}")))
}
