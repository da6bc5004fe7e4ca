//! The seam between a desktop's encoder and its viewers.
//!
//! A [`VideoSource`] starts an encoding pipeline on demand; the pipeline hands what it
//! produces to a [`FrameSink`]. [`Desktop`](crate::Desktop) starts one source per
//! desktop when the first viewer arrives and stops it when the last one leaves.

use crate::protocol::Codec;
use crate::Result;
use std::fmt;
use std::sync::Arc;

/// One encoded access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// Whether the frame decodes on its own (an IDR with its parameter sets).
    pub keyframe: bool,
    /// When the desktop was captured, in microseconds since the Unix epoch.
    pub capture_ts_us: u64,
    /// The access unit (Annex B for H.264/H.265).
    pub data: Vec<u8>,
}

/// What a stream looks like; a change is announced to every viewer before the next
/// keyframe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFormat {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The codec of the frames.
    pub codec: Codec,
    /// The encoder producing them (for example `x264enc`).
    pub encoder: String,
    /// The target bitrate in kbit/s.
    pub bitrate_kbps: u32,
    /// Frames per second captured.
    pub fps: u32,
}

/// Receives what a running stream produces. Cheap to clone; every method is
/// non-blocking and may be called from any thread (a GStreamer streaming thread).
pub trait FrameSink: Send + Sync + 'static {
    /// The stream's format is known or has changed.
    fn format(&self, format: VideoFormat);
    /// One encoded frame.
    fn frame(&self, frame: EncodedFrame);
    /// The stream failed and produces nothing more.
    fn failed(&self, reason: String);
}

/// A running stream. Dropping it stops the pipeline and releases everything it holds.
pub trait ActiveStream: Send + 'static {
    /// Asks the encoder for a keyframe as soon as possible.
    fn request_keyframe(&self);
    /// Changes the target bitrate, live.
    fn set_bitrate(&self, kbps: u32) -> Result<()>;
}

/// Starts encoding pipelines for one desktop.
pub trait VideoSource: Send + Sync + 'static {
    /// Starts a pipeline that reports to `sink` until the returned stream is dropped.
    fn start(&self, sink: Arc<dyn FrameSink>) -> Result<Box<dyn ActiveStream>>;
}

impl fmt::Debug for dyn VideoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VideoSource")
    }
}
