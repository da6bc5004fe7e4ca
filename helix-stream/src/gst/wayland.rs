//! Wayland capture (wlroots compositors such as Sway) through `wf-recorder`.
//!
//! Debian's GStreamer has no wlroots capture source, so a `wf-recorder` child grabs the
//! screen with the screencopy protocol and writes raw 32-bit frames to a pipe. One thread
//! reads them and keeps the newest; another pushes the newest into the pipeline's
//! `appsrc` at the stream's frame rate (timestamped on arrival, so capture times stay
//! true). Frames are requested only when the screen changes (damage), so a static
//! desktop costs almost nothing, and the last picture is repeated so new viewers always
//! get a keyframe.

use super::Capture;
use crate::{Result, StreamError};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A Wayland compositor's output, by the path of its socket
/// (`$XDG_RUNTIME_DIR/wayland-1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaylandCapture {
    socket: PathBuf,
    recorder: PathBuf,
    format: &'static str,
}

impl WaylandCapture {
    /// Captures the compositor listening on `socket`, with `wf-recorder` from `PATH`.
    pub fn new(socket: impl Into<PathBuf>) -> Result<Self> {
        let socket = socket.into();
        validate_socket(&socket)?;
        Ok(WaylandCapture {
            socket,
            recorder: PathBuf::from("wf-recorder"),
            format: "RGBx",
        })
    }

    /// The byte order of the compositor's pixels: `RGBx` (the default: wlroots' pixman
    /// renderer, which headless Sway uses, shares XBGR8888) or `BGRx` (XRGB8888, usual
    /// with GPU renderers). wf-recorder passes the buffer through unconverted but labels
    /// both `bgr0`, so its banner cannot tell.
    pub fn pixel_format(mut self, format: PixelOrder) -> Self {
        self.format = match format {
            PixelOrder::Rgbx => "RGBx",
            PixelOrder::Bgrx => "BGRx",
        };
        self
    }

    /// Another `wf-recorder` binary.
    pub fn recorder(mut self, path: impl Into<PathBuf>) -> Self {
        self.recorder = path.into();
        self
    }
}

/// Byte order of 32-bit pixels, see [`WaylandCapture::pixel_format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelOrder {
    /// Red, green, blue, padding (XBGR8888).
    Rgbx,
    /// Blue, green, red, padding (XRGB8888).
    Bgrx,
}

/// An absolute path of plain characters naming a socket file (`.../wayland-N`).
pub(crate) fn validate_socket(socket: &Path) -> Result<()> {
    let text = socket.to_string_lossy();
    let ok = socket.is_absolute()
        && socket.file_name().is_some()
        && socket.parent().is_some()
        && text.len() <= 256
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(StreamError::InvalidSetting(format!(
            "{text:?} is not the absolute path of a Wayland socket"
        )))
    }
}

impl Capture for WaylandCapture {
    fn source(&self, _fps: u32) -> String {
        // Caps are set by the feeder once wf-recorder says the size.
        "appsrc name=capture is-live=true do-timestamp=true format=time block=false".into()
    }

    fn describe(&self) -> String {
        format!("wayland {}", self.socket.display())
    }

    fn attach(&self, pipeline: &gst::Pipeline, fps: u32) -> Result<Option<Box<dyn Send>>> {
        let appsrc = pipeline
            .by_name("capture")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| StreamError::Pipeline("no capture appsrc".into()))?;
        let feeder = Feeder::start(self, appsrc, fps)?;
        Ok(Some(Box::new(feeder)))
    }
}

struct Feeder {
    child: Arc<Mutex<Child>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// How often the compositor is checked for life.
const COMPOSITOR_CHECK: Duration = Duration::from_secs(1);

/// The newest frame read from wf-recorder.
type Latest = Arc<Mutex<Option<gst::Buffer>>>;

impl Feeder {
    fn start(capture: &WaylandCapture, appsrc: gst_app::AppSrc, fps: u32) -> Result<Self> {
        let dir = capture.socket.parent().unwrap_or(Path::new("/"));
        let name = capture.socket.file_name().unwrap_or_default();
        let mut child = Command::new(&capture.recorder)
            .args([
                "-c", "rawvideo", "-m", "rawvideo", "-x", "bgr0", "-f", "pipe:1",
            ])
            .env("XDG_RUNTIME_DIR", dir)
            .env("WAYLAND_DISPLAY", name)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                StreamError::Pipeline(format!(
                    "cannot run {} (apt-get install wf-recorder): {e}",
                    capture.recorder.display()
                ))
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| StreamError::Pipeline("no wf-recorder stdout".into()))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| StreamError::Pipeline("no wf-recorder stderr".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let latest: Latest = Arc::new(Mutex::new(None));

        // wf-recorder says the size on stderr before the first frame.
        let (size_tx, size_rx) = std::sync::mpsc::channel::<(usize, usize)>();
        let logs = std::thread::spawn(move || {
            for line in BufReader::new(stderr)
                .lines()
                .map_while(std::result::Result::ok)
            {
                if let Some(size) = parse_size(&line) {
                    let _ = size_tx.send(size);
                }
                tracing::debug!(target: "helix_stream::wayland", "wf-recorder: {line}");
            }
        });
        let (width, height) = match size_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(size) => size,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StreamError::Pipeline(format!(
                    "wf-recorder did not start on {}",
                    capture.socket.display()
                )));
            }
        };
        appsrc.set_caps(Some(
            &gst::Caps::builder("video/x-raw")
                .field("format", capture.format)
                .field("width", width as i32)
                .field("height", height as i32)
                .field("framerate", gst::Fraction::new(fps.max(1) as i32, 1))
                .build(),
        ));

        let reader = {
            let (latest, stop, appsrc) = (latest.clone(), stop.clone(), appsrc.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::with_capacity(width * height * 4, stdout);
                loop {
                    let mut frame = vec![0u8; width * height * 4];
                    if r.read_exact(&mut frame).is_err() {
                        if !stop.load(Ordering::SeqCst) {
                            // The compositor or the recorder went away.
                            let _ = appsrc.end_of_stream();
                        }
                        return;
                    }
                    *latest.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(gst::Buffer::from_mut_slice(frame));
                }
            })
        };
        let child = Arc::new(Mutex::new(child));
        let pusher = {
            let (latest, stop, child) = (latest.clone(), stop.clone(), child.clone());
            let socket = capture.socket.clone();
            let interval = Duration::from_secs(1) / fps.max(1);
            std::thread::spawn(move || {
                let mut next = Instant::now();
                let mut checked = Instant::now();
                while !stop.load(Ordering::SeqCst) {
                    // wf-recorder waits forever when its compositor dies: check that
                    // the compositor still answers, and end the capture if not.
                    if checked.elapsed() >= COMPOSITOR_CHECK {
                        checked = Instant::now();
                        if std::os::unix::net::UnixStream::connect(&socket).is_err() {
                            let _ = child.lock().unwrap_or_else(|e| e.into_inner()).kill();
                            let _ = appsrc.end_of_stream();
                            return;
                        }
                    }
                    // The newest picture, again if nothing changed (new viewers need frames
                    // to get a keyframe from).
                    // A fresh buffer each time (sharing the pixels): appsrc stamps it with
                    // the time it is pushed, which an already pushed one would keep.
                    let buffer = latest
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_ref()
                        .map(|b| b.copy());
                    if let Some(buffer) = buffer {
                        if appsrc.push_buffer(buffer).is_err() {
                            return;
                        }
                    }
                    next += interval;
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    } else {
                        next = now;
                    }
                }
            })
        };
        Ok(Feeder {
            child,
            stop,
            threads: vec![logs, reader, pusher],
        })
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
        drop(child);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// `..., bgr0(pc), 1280x720 [SAR ...` -> (1280, 720).
fn parse_size(line: &str) -> Option<(usize, usize)> {
    let rest = &line[line.find("bgr0")?..];
    rest.split([' ', ',']).find_map(|word| {
        let (w, h) = word.split_once('x')?;
        let (w, h) = (w.parse().ok()?, h.parse().ok()?);
        ((1..=16384).contains(&w) && (1..=16384).contains(&h)).then_some((w, h))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_is_read_from_wf_recorders_banner() {
        let line = "  Stream #0:0: Video: rawvideo (BGR[0] / 0x524742), bgr0(pc), 1280x720 [SAR 1:1 DAR 16:9], q=2-31";
        assert_eq!(parse_size(line), Some((1280, 720)));
        assert_eq!(parse_size("selected region 0,0 0x0"), None);
        assert_eq!(parse_size("bgr0(pc), 0x0"), None);
    }

    #[test]
    fn sockets_are_validated() {
        assert!(WaylandCapture::new("/run/user/1000/wayland-1").is_ok());
        for bad in ["wayland-1", "/tmp/a b", "/tmp/x;rm", "/"] {
            assert_eq!(
                WaylandCapture::new(bad).unwrap_err().code(),
                "invalid_setting",
                "{bad}"
            );
        }
    }
}
