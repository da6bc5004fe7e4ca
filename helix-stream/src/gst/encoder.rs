//! How to compress: H.264 encoders, chosen by probing that they really produce frames.

use crate::protocol::Codec;
use crate::{Result, StreamError};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// An encoder element of the pipeline.
pub trait Encoder: Send + Sync + std::fmt::Debug + 'static {
    /// The GStreamer element (`x264enc`).
    fn element(&self) -> &'static str;
    /// The codec it produces.
    fn codec(&self) -> Codec;
    /// The `gst-launch` fragment, named `enc`, for these settings.
    fn description(&self, fps: u32, bitrate_kbps: u32, keyframe_interval: u32) -> String;
    /// Sets the bitrate of a running `enc` element.
    fn set_bitrate(&self, element: &gst::Element, kbps: u32);
}

/// The H.264 encoders Helix knows, fastest first in [`EncoderChoice::Auto`] order.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum H264Encoder {
    /// NVIDIA NVENC through GStreamer's `nvh264enc` (needs a GPU with NVENC and its
    /// driver; H100/A100 have none).
    NvH264,
    /// `x264enc`: ultrafast, zero latency, no B-frames, constrained baseline.
    X264,
    /// Cisco's `openh264enc`: a second software path.
    OpenH264,
}

impl H264Encoder {
    /// Every known encoder, in automatic preference order.
    pub const ALL: [H264Encoder; 3] = [
        H264Encoder::NvH264,
        H264Encoder::X264,
        H264Encoder::OpenH264,
    ];

    /// The encoder for a GStreamer element name.
    pub fn from_element(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.element() == name)
    }
}

impl Encoder for H264Encoder {
    fn element(&self) -> &'static str {
        match self {
            H264Encoder::NvH264 => "nvh264enc",
            H264Encoder::X264 => "x264enc",
            H264Encoder::OpenH264 => "openh264enc",
        }
    }

    fn codec(&self) -> Codec {
        Codec::H264
    }

    fn description(&self, _fps: u32, kbps: u32, gop: u32) -> String {
        match self {
            H264Encoder::NvH264 => format!(
                "nvh264enc name=enc preset=low-latency-hq rc-mode=cbr zerolatency=true bframes=0 \
                 gop-size={gop} bitrate={kbps}"
            ),
            // Baseline caps below: x264 gives Constrained Baseline at ultrafast without
            // CABAC; WebCodecs decodes it everywhere.
            H264Encoder::X264 => format!(
                "x264enc name=enc tune=zerolatency speed-preset=ultrafast bframes=0 \
                 key-int-max={gop} bitrate={kbps} threads=2 \
                 ! video/x-h264,profile=constrained-baseline"
            ),
            H264Encoder::OpenH264 => format!(
                "openh264enc name=enc usage-type=screen rate-control=bitrate complexity=low \
                 gop-size={gop} bitrate={} max-bitrate={}",
                kbps.saturating_mul(1000),
                kbps.saturating_mul(2000),
            ),
        }
    }

    fn set_bitrate(&self, element: &gst::Element, kbps: u32) {
        match self {
            H264Encoder::OpenH264 => element.set_property("bitrate", kbps.saturating_mul(1000)),
            H264Encoder::NvH264 | H264Encoder::X264 => element.set_property("bitrate", kbps),
        }
    }
}

/// Which encoder to use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EncoderChoice {
    /// The first of [`H264Encoder::ALL`] that is installed and passes its probe.
    #[default]
    Auto,
    /// This one, or an error if it does not work here.
    Named(H264Encoder),
}

impl std::str::FromStr for EncoderChoice {
    type Err = StreamError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(EncoderChoice::Auto),
            name => H264Encoder::from_element(name)
                .map(EncoderChoice::Named)
                .ok_or_else(|| {
                    StreamError::NoEncoder(format!(
                        "unknown encoder {name:?} (known: auto, nvh264enc, x264enc, openh264enc)"
                    ))
                }),
        }
    }
}

/// Every known encoder with whether it works here (installed and its probe produced
/// a frame), probing each once per process.
pub fn available_encoders() -> Vec<(H264Encoder, Result<()>)> {
    H264Encoder::ALL
        .into_iter()
        .map(|e| (e, probe_cached(e)))
        .collect()
}

/// Resolves a choice to an encoder that works here.
pub fn select_encoder(choice: &EncoderChoice) -> Result<H264Encoder> {
    match choice {
        EncoderChoice::Named(e) => probe_cached(*e).map(|()| *e),
        EncoderChoice::Auto => {
            let mut why = Vec::new();
            for e in H264Encoder::ALL {
                match probe_cached(e) {
                    Ok(()) => return Ok(e),
                    Err(err) => why.push(format!("{}: {err}", e.element())),
                }
            }
            Err(StreamError::NoEncoder(why.join("; ")))
        }
    }
}

fn probe_cached(encoder: H264Encoder) -> Result<()> {
    static PROBES: OnceLock<Mutex<HashMap<H264Encoder, Result<()>>>> = OnceLock::new();
    let probes = PROBES.get_or_init(Default::default);
    let mut probes = probes.lock().unwrap_or_else(|e| e.into_inner());
    probes
        .entry(encoder)
        .or_insert_with(|| {
            let result = probe(encoder);
            match &result {
                Ok(()) => tracing::info!(encoder = encoder.element(), "encoder probe passed"),
                Err(e) => {
                    tracing::info!(encoder = encoder.element(), error = %e, "encoder unusable")
                }
            }
            result
        })
        .clone()
}

/// Encodes a few frames of a test picture; the encoder works if an access unit comes
/// out (a present plugin can still fail: no GPU, no driver, no NVENC on this GPU).
fn probe(encoder: H264Encoder) -> Result<()> {
    super::init()?;
    if gst::ElementFactory::find(encoder.element()).is_none() {
        return Err(StreamError::NoEncoder(format!(
            "the GStreamer element {} is not installed",
            encoder.element()
        )));
    }
    let description = format!(
        "videotestsrc num-buffers=3 ! video/x-raw,width=320,height=240,framerate=30/1 \
         ! videoconvert ! video/x-raw,format=I420 ! {} ! h264parse \
         ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false",
        encoder.description(30, 1000, 30)
    );
    let fail =
        |e: String| StreamError::NoEncoder(format!("{} probe failed: {e}", encoder.element()));
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| fail(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| fail("not a pipeline".into()))?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| fail("no appsink".into()))?;
    let result = pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| fail(e.to_string()))
        .and_then(|_| {
            sink.try_pull_sample(gst::ClockTime::from_seconds(10))
                .filter(|s| s.buffer().is_some_and(|b| b.size() > 0))
                .map(|_| ())
                .ok_or_else(|| fail("no frame came out".into()))
        });
    let _ = pipeline.set_state(gst::State::Null);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse() {
        assert_eq!(
            "auto".parse::<EncoderChoice>().unwrap(),
            EncoderChoice::Auto
        );
        assert_eq!(
            "x264enc".parse::<EncoderChoice>().unwrap(),
            EncoderChoice::Named(H264Encoder::X264)
        );
        let err = "vp8enc".parse::<EncoderChoice>().unwrap_err();
        assert_eq!(err.code(), "no_encoder");
    }
}
