//! What to capture: a [`Capture`] describes the GStreamer source of raw video.

use crate::Result;
use gstreamer as gst;

/// A desktop (or test picture) to capture, as the source part of a GStreamer pipeline.
pub trait Capture: Send + Sync + std::fmt::Debug + 'static {
    /// A `gst-launch` fragment producing `video/x-raw` at the given rate.
    fn source(&self, fps: u32) -> String;
    /// A short description for logs (`x11 :99`).
    fn describe(&self) -> String;
    /// Starts what feeds the source once the pipeline exists (a capture process pushing
    /// into an `appsrc`); the returned guard lives as long as the stream.
    fn attach(&self, _pipeline: &gst::Pipeline, _fps: u32) -> Result<Option<Box<dyn Send>>> {
        Ok(None)
    }
}

/// An X11 display (Xvfb, Xorg, Xwayland) through `ximagesrc`, pointer drawn in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X11Capture {
    display: String,
    show_pointer: bool,
}

impl X11Capture {
    /// Captures the whole screen of `display` (`:99`, `:0.0`, `host:1`).
    pub fn new(display: &str) -> Result<Self> {
        crate::display::validate(display)?;
        Ok(X11Capture {
            display: display.to_owned(),
            show_pointer: true,
        })
    }

    /// Whether the pointer is drawn into the picture (default: yes).
    pub fn show_pointer(mut self, show: bool) -> Self {
        self.show_pointer = show;
        self
    }

    /// The display captured.
    pub fn display(&self) -> &str {
        &self.display
    }
}

impl Capture for X11Capture {
    fn source(&self, _fps: u32) -> String {
        // Damage tracking makes ximagesrc send partial, stale frames; grab whole ones.
        format!(
            "ximagesrc display-name={} use-damage=false show-pointer={}",
            self.display, self.show_pointer
        )
    }

    fn describe(&self) -> String {
        format!("x11 {}", self.display)
    }
}

/// A moving test picture (`videotestsrc`, live): for tests and benchmarks without a
/// display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPatternCapture {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// A `videotestsrc` pattern name: `ball` (mostly static), `smpte`, `snow` (busy).
    pub pattern: &'static str,
}

impl Capture for TestPatternCapture {
    fn source(&self, _fps: u32) -> String {
        format!(
            "videotestsrc is-live=true pattern={} ! video/x-raw,width={},height={}",
            self.pattern, self.width, self.height
        )
    }

    fn describe(&self) -> String {
        format!("test {} {}x{}", self.pattern, self.width, self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_validated() {
        for ok in [":99", ":0.0", "localhost:1", "host-1.lan:10.1"] {
            assert!(X11Capture::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "99",
            ":",
            ":99 ! filesink location=/etc/x",
            ":a",
            "x:9;",
            &":1".repeat(40),
        ] {
            let err = X11Capture::new(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_setting", "{bad}");
        }
    }
}
