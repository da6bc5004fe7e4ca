//! One running capture+encode pipeline, reporting to a [`FrameSink`].

use super::{select_encoder, Capture, Encoder, EncoderChoice};
use crate::protocol::BITRATE_RANGE_KBPS;
use crate::session::now_us;
use crate::source::{ActiveStream, EncodedFrame, FrameSink, VideoFormat, VideoSource};
use crate::{Result, StreamError};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use std::sync::{Arc, Mutex};

/// Frame rate, bitrate and keyframe spacing of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSettings {
    /// Frames per second captured and encoded.
    pub fps: u32,
    /// Target bitrate in kbit/s (viewers may change it live).
    pub bitrate_kbps: u32,
    /// Seconds between unrequested keyframes (viewers ask for more when they need one).
    pub keyframe_interval_s: u32,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            fps: 30,
            bitrate_kbps: 4000,
            keyframe_interval_s: 10,
        }
    }
}

impl StreamSettings {
    fn validate(&self) -> Result<()> {
        if !(1..=120).contains(&self.fps) {
            return Err(StreamError::InvalidSetting(format!(
                "fps {} is outside 1..=120",
                self.fps
            )));
        }
        if !BITRATE_RANGE_KBPS.contains(&self.bitrate_kbps) {
            return Err(StreamError::InvalidSetting(format!(
                "bitrate {} kbit/s is outside {}..={}",
                self.bitrate_kbps,
                BITRATE_RANGE_KBPS.start(),
                BITRATE_RANGE_KBPS.end()
            )));
        }
        if !(1..=600).contains(&self.keyframe_interval_s) {
            return Err(StreamError::InvalidSetting(format!(
                "keyframe interval {} s is outside 1..=600",
                self.keyframe_interval_s
            )));
        }
        Ok(())
    }
}

/// A desktop's [`VideoSource`]: its capture, the encoder chosen for it, and settings.
#[derive(Debug, Clone)]
pub struct GstSource {
    capture: Arc<dyn Capture>,
    encoder: Arc<dyn Encoder>,
    settings: StreamSettings,
}

impl GstSource {
    /// A source capturing `capture`, encoded with the encoder `choice` resolves to here
    /// (probed once per process).
    pub fn new(
        capture: Arc<dyn Capture>,
        choice: &EncoderChoice,
        settings: StreamSettings,
    ) -> Result<Self> {
        settings.validate()?;
        let encoder = select_encoder(choice)?;
        Ok(GstSource {
            capture,
            encoder: Arc::new(encoder),
            settings,
        })
    }

    /// The encoder element in use.
    pub fn encoder(&self) -> &'static str {
        self.encoder.element()
    }

    /// The whole `gst-launch` description of the pipeline.
    pub fn description(&self) -> String {
        let s = &self.settings;
        format!(
            "{src} ! video/x-raw,framerate={fps}/1 \
             ! queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream \
             ! videoconvert ! video/x-raw,format=I420 \
             ! queue max-size-buffers=1 max-size-bytes=0 max-size-time=0 ! {enc} \
             ! h264parse config-interval=-1 \
             ! video/x-h264,stream-format=byte-stream,alignment=au \
             ! appsink name=sink sync=false max-buffers=8 drop=true",
            src = self.capture.source(s.fps),
            fps = s.fps,
            enc = self.encoder.description(
                s.fps,
                s.bitrate_kbps,
                s.fps.saturating_mul(s.keyframe_interval_s)
            ),
        )
    }
}

impl VideoSource for GstSource {
    fn start(&self, sink: Arc<dyn FrameSink>) -> Result<Box<dyn ActiveStream>> {
        super::init()?;
        let span = tracing::info_span!("pipeline", capture = %self.capture.describe(), encoder = self.encoder.element());
        let _g = span.enter();
        let fail = |e: String| StreamError::Pipeline(e);
        let pipeline = gst::parse::launch(&self.description())
            .map_err(|e| fail(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| fail("not a pipeline".into()))?;
        let appsink = pipeline
            .by_name("sink")
            .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| fail("no appsink".into()))?;
        let encoder_element = pipeline
            .by_name("enc")
            .ok_or_else(|| fail("no encoder element".into()))?;
        let bitrate = Arc::new(Mutex::new(self.settings.bitrate_kbps));
        let feeder = self.capture.attach(&pipeline, self.settings.fps)?;

        let bus = pipeline.bus().ok_or_else(|| fail("no bus".into()))?;
        let bus_sink = sink.clone();
        // Every message is handled here and dropped, so none piles up on the bus.
        bus.set_sync_handler(move |_, msg| {
            match msg.view() {
                gst::MessageView::Error(err) => {
                    let src = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                    bus_sink.failed(format!("{src}: {}", err.error()));
                }
                gst::MessageView::Eos(_) => bus_sink.failed("the capture ended".into()),
                _ => {}
            }
            gst::BusSyncReply::Drop
        });

        let fps = self.settings.fps;
        let encoder_name = self.encoder.element();
        let codec = self.encoder.codec();
        let frame_sink = sink.clone();
        let frame_bitrate = bitrate.clone();
        let mut last_size = None;
        let weak_pipeline = pipeline.downgrade();
        appsink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |appsink| {
                    let sample = appsink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let Some((w, h)) = sample.caps().and_then(|c| c.structure(0)).and_then(|s| {
                        Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?))
                    }) {
                        if last_size != Some((w, h)) {
                            last_size = Some((w, h));
                            frame_sink.format(VideoFormat {
                                width: w.max(0) as u32,
                                height: h.max(0) as u32,
                                codec,
                                encoder: encoder_name.to_owned(),
                                bitrate_kbps: *frame_bitrate
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner()),
                                fps,
                            });
                        }
                    }
                    let Some(buffer) = sample.buffer() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                    let age_us = weak_pipeline
                        .upgrade()
                        .and_then(|p| capture_age_us(&p, &sample))
                        .unwrap_or(0);
                    frame_sink.frame(EncodedFrame {
                        keyframe: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
                        capture_ts_us: now_us().saturating_sub(age_us),
                        data: map.as_slice().to_vec(),
                    });
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );

        if let Err(e) = pipeline.set_state(gst::State::Playing) {
            bus.unset_sync_handler();
            let _ = pipeline.set_state(gst::State::Null);
            return Err(fail(format!("cannot start: {e}")));
        }
        tracing::debug!("pipeline playing");
        Ok(Box::new(GstStream {
            _feeder: feeder,
            pipeline,
            appsink,
            encoder_element,
            encoder: self.encoder.clone(),
            bitrate,
        }))
    }
}

/// How long ago (µs) the frame in `sample` was captured. Live sources stamp buffers
/// with the running time of capture; encoders move PTS into their own segment (the
/// video encoder base class starts it at 1000 hours), so the PTS is mapped back to
/// running time through the sample's segment before comparing with the clock.
fn capture_age_us(pipeline: &gst::Pipeline, sample: &gst::SampleRef) -> Option<u64> {
    let running = running_time(sample)?;
    let clock = pipeline.clock()?;
    let captured = pipeline.base_time()? + running;
    Some(clock.time().saturating_sub(captured).useconds())
}

/// The running time of the sample's buffer.
fn running_time(sample: &gst::SampleRef) -> Option<gst::ClockTime> {
    let pts = sample.buffer()?.pts()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    segment.to_running_time(pts)
}

struct GstStream {
    /// Dropped after the pipeline stops (fields drop in order; `Drop` stops it first).
    _feeder: Option<Box<dyn Send>>,
    pipeline: gst::Pipeline,
    appsink: gst_app::AppSink,
    encoder_element: gst::Element,
    encoder: Arc<dyn Encoder>,
    bitrate: Arc<Mutex<u32>>,
}

impl ActiveStream for GstStream {
    fn request_keyframe(&self) {
        let event = gst_video::UpstreamForceKeyUnitEvent::builder()
            .all_headers(true)
            .build();
        self.appsink.send_event(event);
    }

    fn set_bitrate(&self, kbps: u32) -> Result<()> {
        if !BITRATE_RANGE_KBPS.contains(&kbps) {
            return Err(StreamError::InvalidSetting(format!(
                "bitrate {kbps} kbit/s"
            )));
        }
        self.encoder.set_bitrate(&self.encoder_element, kbps);
        *self.bitrate.lock().unwrap_or_else(|e| e.into_inner()) = kbps;
        Ok(())
    }
}

impl Drop for GstStream {
    fn drop(&mut self) {
        if let Some(bus) = self.pipeline.bus() {
            bus.unset_sync_handler();
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        tracing::debug!("pipeline stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_timestamps_map_back_to_running_time() {
        super::super::init().expect("gstreamer");
        // As x264enc hands them out: the segment starts at 1000 h, PTS 10 ms after it.
        let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
        segment.set_start(gst::ClockTime::from_seconds(3_600_000));
        let mut buffer = gst::Buffer::with_size(4).expect("buffer");
        buffer
            .get_mut()
            .expect("writable")
            .set_pts(gst::ClockTime::from_seconds(3_600_000) + gst::ClockTime::from_mseconds(10));
        let sample = gst::Sample::builder()
            .buffer(&buffer)
            .segment(&segment)
            .build();
        assert_eq!(
            running_time(&sample),
            Some(gst::ClockTime::from_mseconds(10))
        );
    }
}
