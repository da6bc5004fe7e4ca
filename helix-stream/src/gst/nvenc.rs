//! NVENC through the NVIDIA Video Codec SDK (feature `nvenc`, off by default).
//!
//! [`NvencSource`] captures with GStreamer as [`GstSource`](super::GstSource) does, but
//! hands raw BGRA frames to NVENC through the `nvidia-video-codec-sdk` crate instead of a
//! GStreamer encoder element: one encode session per stream on a thread of its own, fed
//! through a two-frame queue (frames are dropped, not queued, when the GPU falls behind).
//! Every keyframe carries SPS and PPS (NVENC emits them once; they are kept and put back
//! in front of later IDRs), so any keyframe starts a decoder.
//!
//! The crate links `libnvidia-encode` at build time and needs a driver and a GPU with
//! NVENC at run time (L4, L40S, A10, RTX; H100/H200/A100 have none), so this path is built
//! only with the feature; CI checks that it compiles (`cargo check --features nvenc`,
//! through the crate's `ci-check`). Without such a GPU, GStreamer's `nvh264enc` (probed
//! at run time) is the NVENC path of the default build. Bitrate changes need a session
//! reconfiguration and are refused here.

use super::{init, Capture, StreamSettings};
use crate::annexb::with_parameter_sets;
use crate::protocol::Codec;
use crate::session::now_us;
use crate::source::{ActiveStream, EncodedFrame, FrameSink, VideoFormat, VideoSource};
use crate::{Result, StreamError};
use cudarc::driver::CudaContext;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use nvidia_video_codec_sdk::sys::nvEncodeAPI::{
    NV_ENC_BUFFER_FORMAT, NV_ENC_CODEC_H264_GUID, NV_ENC_PARAMS_RC_MODE, NV_ENC_PIC_TYPE,
    NV_ENC_PRESET_P1_GUID, NV_ENC_TUNING_INFO,
};
use nvidia_video_codec_sdk::{EncodePictureParams, Encoder, EncoderInitParams};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

/// A desktop's [`VideoSource`] encoding on an NVIDIA GPU through the Video Codec SDK.
#[derive(Debug, Clone)]
pub struct NvencSource {
    capture: Arc<dyn Capture>,
    settings: StreamSettings,
    gpu: usize,
}

impl NvencSource {
    /// Captures `capture` and encodes it on CUDA device `gpu`.
    pub fn new(capture: Arc<dyn Capture>, settings: StreamSettings, gpu: usize) -> Self {
        NvencSource {
            capture,
            settings,
            gpu,
        }
    }
}

struct RawFrame {
    width: u32,
    height: u32,
    capture_ts_us: u64,
    bgra: Vec<u8>,
}

impl VideoSource for NvencSource {
    fn start(&self, sink: Arc<dyn FrameSink>) -> Result<Box<dyn ActiveStream>> {
        init()?;
        let fps = self.settings.fps;
        let description = format!(
            "{src} ! video/x-raw,framerate={fps}/1 \
             ! queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream \
             ! videoconvert ! video/x-raw,format=BGRA \
             ! appsink name=raw sync=false max-buffers=2 drop=true",
            src = self.capture.source(fps),
        );
        let fail = |e: String| StreamError::Pipeline(e);
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| fail(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| fail("not a pipeline".into()))?;
        let appsink = pipeline
            .by_name("raw")
            .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| fail("no appsink".into()))?;
        let feeder = self.capture.attach(&pipeline, fps)?;
        let (tx, rx) = mpsc::sync_channel::<RawFrame>(2);
        appsink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |appsink| {
                    let sample = appsink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let Some((width, height)) =
                        sample.caps().and_then(|c| c.structure(0)).and_then(|s| {
                            Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?))
                        })
                    else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let Some(buffer) = sample.buffer() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                    // A busy encoder drops this frame rather than queue latency.
                    let _ = tx.try_send(RawFrame {
                        width: width.max(0) as u32,
                        height: height.max(0) as u32,
                        capture_ts_us: now_us(),
                        bgra: map.as_slice().to_vec(),
                    });
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        let force_idr = Arc::new(AtomicBool::new(true));
        let encoder = {
            let (sink, force_idr, settings, gpu) =
                (sink.clone(), force_idr.clone(), self.settings, self.gpu);
            std::thread::Builder::new()
                .name("nvenc".into())
                .spawn(move || {
                    if let Err(e) = encode_loop(&rx, sink.as_ref(), &force_idr, settings, gpu) {
                        sink.failed(e.to_string());
                    }
                })
                .map_err(|e| fail(format!("cannot start the encoder thread: {e}")))?
        };
        if let Err(e) = pipeline.set_state(gst::State::Playing) {
            let _ = pipeline.set_state(gst::State::Null);
            return Err(fail(format!("cannot start: {e}")));
        }
        Ok(Box::new(NvencStream {
            pipeline,
            force_idr,
            encoder: Some(encoder),
            _feeder: feeder,
        }))
    }
}

fn nv_err(e: impl std::fmt::Debug) -> StreamError {
    StreamError::Pipeline(format!("nvenc: {e:?}"))
}

/// Encodes frames until the capture side goes away.
fn encode_loop(
    rx: &mpsc::Receiver<RawFrame>,
    sink: &dyn FrameSink,
    force_idr: &AtomicBool,
    settings: StreamSettings,
    gpu: usize,
) -> Result<()> {
    let Ok(first) = rx.recv() else {
        return Ok(());
    };
    let (width, height) = (first.width, first.height);
    let cuda = CudaContext::new(gpu).map_err(nv_err)?;
    let encoder = Encoder::initialize_with_cuda(cuda).map_err(nv_err)?;
    let mut preset = encoder
        .get_preset_config(
            NV_ENC_CODEC_H264_GUID,
            NV_ENC_PRESET_P1_GUID,
            NV_ENC_TUNING_INFO::NV_ENC_TUNING_INFO_ULTRA_LOW_LATENCY,
        )
        .map_err(nv_err)?;
    let config = &mut preset.presetCfg;
    config.gopLength = settings.fps.saturating_mul(settings.keyframe_interval_s);
    config.frameIntervalP = 1; // no B-frames
    config.rcParams.rateControlMode = NV_ENC_PARAMS_RC_MODE::NV_ENC_PARAMS_RC_CBR;
    config.rcParams.averageBitRate = settings.bitrate_kbps.saturating_mul(1000);
    config.rcParams.maxBitRate = settings.bitrate_kbps.saturating_mul(1000);
    let mut params = EncoderInitParams::new(NV_ENC_CODEC_H264_GUID, width, height);
    params
        .preset_guid(NV_ENC_PRESET_P1_GUID)
        .tuning_info(NV_ENC_TUNING_INFO::NV_ENC_TUNING_INFO_ULTRA_LOW_LATENCY)
        .framerate(settings.fps, 1)
        .encode_config(config);
    let session = encoder
        .start_session(NV_ENC_BUFFER_FORMAT::NV_ENC_BUFFER_FORMAT_ARGB, params)
        .map_err(nv_err)?;
    let mut input = session.create_input_buffer().map_err(nv_err)?;
    let mut output = session.create_output_bitstream().map_err(nv_err)?;
    sink.format(VideoFormat {
        width,
        height,
        codec: Codec::H264,
        encoder: "nvenc-sdk".into(),
        bitrate_kbps: settings.bitrate_kbps,
        fps: settings.fps,
    });
    let mut parameter_sets: Vec<u8> = Vec::new();
    let mut frame = Some(first);
    while let Some(raw) = frame.take().or_else(|| rx.recv().ok()) {
        if (raw.width, raw.height) != (width, height) {
            // A new size needs a new session: end this one; the hub restarts on demand.
            return Err(StreamError::Pipeline("the desktop changed size".into()));
        }
        let idr = force_idr.swap(false, Ordering::SeqCst);
        {
            let mut lock = input.lock().map_err(nv_err)?;
            // SAFETY: the input buffer was created by this session for `width` x
            // `height` ARGB frames, and `raw.bgra` is exactly one such frame (GStreamer
            // negotiated BGRA at that size, 4 bytes per pixel, no row padding at even
            // widths).
            #[allow(unsafe_code)]
            unsafe {
                lock.write(&raw.bgra)
            };
        }
        session
            .encode_picture(
                &mut input,
                &mut output,
                EncodePictureParams {
                    input_timestamp: raw.capture_ts_us,
                    picture_type: if idr {
                        NV_ENC_PIC_TYPE::NV_ENC_PIC_TYPE_IDR
                    } else {
                        NV_ENC_PIC_TYPE::NV_ENC_PIC_TYPE_P
                    },
                    ..Default::default()
                },
            )
            .map_err(nv_err)?;
        let lock = output.lock().map_err(nv_err)?;
        let keyframe = lock.picture_type() == NV_ENC_PIC_TYPE::NV_ENC_PIC_TYPE_IDR;
        let data = with_parameter_sets(lock.data(), keyframe, &mut parameter_sets);
        sink.frame(EncodedFrame {
            keyframe,
            capture_ts_us: raw.capture_ts_us,
            data,
        });
    }
    Ok(())
}

struct NvencStream {
    pipeline: gst::Pipeline,
    force_idr: Arc<AtomicBool>,
    encoder: Option<JoinHandle<()>>,
    _feeder: Option<Box<dyn Send>>,
}

impl ActiveStream for NvencStream {
    fn request_keyframe(&self) {
        self.force_idr.store(true, Ordering::SeqCst);
    }

    fn set_bitrate(&self, _kbps: u32) -> Result<()> {
        Err(StreamError::Unavailable(
            "the NVENC SDK encoder does not change bitrate while streaming".into(),
        ))
    }
}

impl Drop for NvencStream {
    fn drop(&mut self) {
        // Stopping the pipeline drops the appsink's sender: the encoder thread ends.
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some(bus) = self.pipeline.bus() {
            bus.unset_sync_handler();
        }
        if let Some(sink) = self
            .pipeline
            .by_name("raw")
            .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        {
            sink.set_callbacks(gst_app::AppSinkCallbacks::builder().build());
        }
        if let Some(t) = self.encoder.take() {
            let _ = t.join();
        }
    }
}
