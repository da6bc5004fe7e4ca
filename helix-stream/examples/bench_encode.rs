//! Encoder speed, CPU and bitrate per resolution, against a baseline measured in the
//! same run: the same pipeline without the encoder (picture generation and colour
//! conversion only), so the ratio is what encoding costs on this machine.
//!
//!     cargo run --release -p helix-stream --example bench_encode [FRAMES]
//!
//! Prints one line per (resolution, picture, encoder): frames per second, CPU cores
//! busy, kbit/s at 30 fps, and fps relative to the baseline. `ball` is a mostly static
//! picture (a desktop with a moving cursor); `snow` is noise (the worst case).

use gstreamer as gst;
use gstreamer::prelude::*;
use helix_stream::gst::{available_encoders, Encoder};
use std::time::Instant;

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

struct Run {
    fps: f64,
    cores: f64,
    kbps: f64,
}

/// Runs `frames` frames of `pattern` at WxH through `tail` (the part after I420).
fn run(w: u32, h: u32, pattern: &str, frames: u32, tail: &str) -> Run {
    let desc = format!(
        "videotestsrc num-buffers={frames} pattern={pattern} \
         ! video/x-raw,width={w},height={h},framerate=30/1,format=BGRx \
         ! videoconvert ! video/x-raw,format=I420 ! {tail} ! appsink name=sink sync=false"
    );
    let pipeline = gst::parse::launch(&desc)
        .expect("pipeline")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let sink = pipeline
        .by_name("sink")
        .and_then(|s| s.downcast::<gstreamer_app::AppSink>().ok())
        .expect("appsink");
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    pipeline.set_state(gst::State::Playing).expect("play");
    let mut bytes = 0usize;
    let mut n = 0u32;
    while let Ok(sample) = sink.pull_sample() {
        bytes += sample.buffer().map(|b| b.size()).unwrap_or(0);
        n += 1;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    pipeline.set_state(gst::State::Null).expect("stop");
    Run {
        fps: f64::from(n) / secs,
        cores: cpu / secs,
        // Bytes per frame at 30 frames per second.
        kbps: bytes as f64 * 8.0 / 1000.0 / f64::from(n.max(1)) * 30.0,
    }
}

fn main() {
    let frames: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    helix_stream::gst::init().expect("GStreamer");
    let encoders: Vec<_> = available_encoders()
        .into_iter()
        .filter_map(|(e, ok)| ok.ok().map(|()| e))
        .collect();
    println!(
        "{frames} frames each; cores = CPU seconds / wall seconds ({} CPUs here)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!(
        "{:<10} {:<6} {:<14} {:>8} {:>6} {:>9} {:>12}",
        "size", "scene", "encoder", "fps", "cores", "kbit/s", "vs baseline"
    );
    for (w, h) in [(1280, 720), (1920, 1080)] {
        for pattern in ["ball", "snow"] {
            let base = run(w, h, pattern, frames, "queue max-size-buffers=1 ! identity");
            println!(
                "{:<10} {:<6} {:<14} {:>8.1} {:>6.2} {:>9} {:>12}",
                format!("{w}x{h}"),
                pattern,
                "(baseline)",
                base.fps,
                base.cores,
                "-",
                "1.00x"
            );
            for e in &encoders {
                let tail = format!(
                    "queue max-size-buffers=1 ! {} ! h264parse \
                     ! video/x-h264,stream-format=byte-stream,alignment=au",
                    e.description(30, 4000, 300)
                );
                let r = run(w, h, pattern, frames, &tail);
                println!(
                    "{:<10} {:<6} {:<14} {:>8.1} {:>6.2} {:>9.0} {:>11.2}x",
                    format!("{w}x{h}"),
                    pattern,
                    e.element(),
                    r.fps,
                    r.cores,
                    r.kbps,
                    r.fps / base.fps
                );
            }
        }
    }
}
