//! Capture and encoding in a child process, so a dying X server (whose client library
//! ends the process it lives in) or a crashing encoder takes only the worker down.
//!
//! [`ProcessSource`] is a [`VideoSource`] that runs each pipeline in a worker process
//! (a host's hidden subcommand calling [`worker_main`], or the `helix-stream-worker`
//! binary). The worker writes records to its stdout and reads commands on its stdin:
//!
//! - records: one tag byte, a `u32` little-endian length, then the payload:
//!   `F` format (`u32` width, `u32` height, `u8` codec id, `u32` kbps, `u32` fps, encoder
//!   name), `V` frame (`u8` keyframe, `u64` capture µs, access unit), `E` failure (text);
//! - commands, one per line: `keyframe`, `bitrate KBPS`.
//!
//! The worker exits when its stdin closes (its parent is gone).

use super::{Capture, EncoderChoice, GstSource, StreamSettings, TestPatternCapture, X11Capture};
use crate::protocol::Codec;
use crate::source::{ActiveStream, EncodedFrame, FrameSink, VideoFormat, VideoSource};
use crate::{Result, StreamError};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Largest record a worker may send (a frame of the protocol's maximum size).
const MAX_RECORD: usize = crate::MAX_FRAME_LEN;

/// What a worker captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureSpec {
    /// An X display.
    X11 {
        /// `:99`.
        display: String,
    },
    /// A Wayland compositor (wlroots: Sway), through `wf-recorder`.
    Wayland {
        /// The compositor's socket, `$XDG_RUNTIME_DIR/wayland-N`.
        socket: std::path::PathBuf,
    },
    /// A moving test picture.
    TestPattern {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// `ball`, `smpte` or `snow`.
        pattern: String,
    },
}

impl CaptureSpec {
    /// A display as operators write it: an X display (`:99`, `host:1.0`) or
    /// `wayland:SOCKET` (the absolute path of a wlroots compositor's socket).
    pub fn from_display(display: &str) -> Result<Self> {
        match display.strip_prefix("wayland:") {
            Some(socket) => {
                let socket = std::path::PathBuf::from(socket);
                super::wayland::validate_socket(&socket)?;
                Ok(CaptureSpec::Wayland { socket })
            }
            None => {
                crate::display::validate(display)?;
                Ok(CaptureSpec::X11 {
                    display: display.to_owned(),
                })
            }
        }
    }
}

/// Everything a worker needs, as command-line arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSpec {
    /// What to capture.
    pub capture: CaptureSpec,
    /// Which encoder (`auto` probes in the worker).
    pub encoder: EncoderChoice,
    /// Rate, bitrate, keyframe spacing.
    pub settings: StreamSettings,
}

impl WorkerSpec {
    /// The worker's arguments.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = match &self.capture {
            CaptureSpec::X11 { display } => vec!["--x11".into(), display.clone()],
            CaptureSpec::Wayland { socket } => {
                vec!["--wayland".into(), socket.display().to_string()]
            }
            CaptureSpec::TestPattern {
                width,
                height,
                pattern,
            } => {
                vec![
                    "--test-pattern".into(),
                    format!("{width}x{height}:{pattern}"),
                ]
            }
        };
        let encoder = match &self.encoder {
            EncoderChoice::Auto => "auto",
            EncoderChoice::Named(e) => super::Encoder::element(e),
        };
        let s = &self.settings;
        args.extend([
            "--encoder".into(),
            encoder.into(),
            "--fps".into(),
            s.fps.to_string(),
            "--bitrate".into(),
            s.bitrate_kbps.to_string(),
            "--keyframe-interval".into(),
            s.keyframe_interval_s.to_string(),
        ]);
        args
    }

    /// Parses [`WorkerSpec::to_args`].
    pub fn from_args(args: &[String]) -> Result<Self> {
        let bad = |what: &str| StreamError::InvalidSetting(format!("stream worker: {what}"));
        let mut capture = None;
        let mut encoder = EncoderChoice::Auto;
        let mut settings = StreamSettings::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .ok_or_else(|| bad(&format!("{flag} needs a value")))?;
            let number = || {
                value
                    .parse::<u32>()
                    .map_err(|_| bad(&format!("{flag} {value:?}")))
            };
            match flag.as_str() {
                "--x11" => {
                    crate::display::validate(value)?;
                    capture = Some(CaptureSpec::X11 {
                        display: value.clone(),
                    });
                }
                "--wayland" => {
                    let socket = std::path::PathBuf::from(value);
                    super::wayland::validate_socket(&socket)?;
                    capture = Some(CaptureSpec::Wayland { socket });
                }
                "--test-pattern" => {
                    let (size, pattern) = value
                        .split_once(':')
                        .ok_or_else(|| bad("--test-pattern WxH:PATTERN"))?;
                    let (w, h) = size
                        .split_once('x')
                        .ok_or_else(|| bad("--test-pattern WxH:PATTERN"))?;
                    let pattern = match pattern {
                        "ball" | "smpte" | "snow" => pattern.to_owned(),
                        other => return Err(bad(&format!("unknown test pattern {other:?}"))),
                    };
                    capture = Some(CaptureSpec::TestPattern {
                        width: w.parse().map_err(|_| bad("width"))?,
                        height: h.parse().map_err(|_| bad("height"))?,
                        pattern,
                    });
                }
                "--encoder" => encoder = value.parse()?,
                "--fps" => settings.fps = number()?,
                "--bitrate" => settings.bitrate_kbps = number()?,
                "--keyframe-interval" => settings.keyframe_interval_s = number()?,
                other => return Err(bad(&format!("unknown flag {other}"))),
            }
        }
        Ok(WorkerSpec {
            capture: capture
                .ok_or_else(|| bad("--x11, --wayland or --test-pattern is required"))?,
            encoder,
            settings,
        })
    }

    fn capture(&self) -> Result<Arc<dyn Capture>> {
        Ok(match &self.capture {
            CaptureSpec::X11 { display } => Arc::new(X11Capture::new(display)?),
            CaptureSpec::Wayland { socket } => {
                Arc::new(super::WaylandCapture::new(socket.clone())?)
            }
            CaptureSpec::TestPattern {
                width,
                height,
                pattern,
            } => Arc::new(TestPatternCapture {
                width: *width,
                height: *height,
                pattern: match pattern.as_str() {
                    "smpte" => "smpte",
                    "snow" => "snow",
                    _ => "ball",
                },
            }),
        })
    }
}

/// The worker process's main: streams until stdin closes. Returns the exit code.
pub fn worker_main(args: &[String]) -> i32 {
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let fail = |out: &Mutex<std::io::Stdout>, why: String| {
        write_record(out, b'E', why.as_bytes());
        1
    };
    let spec = match WorkerSpec::from_args(args) {
        Ok(s) => s,
        Err(e) => return fail(&out, e.to_string()),
    };
    let source = match spec
        .capture()
        .and_then(|c| GstSource::new(c, &spec.encoder, spec.settings))
    {
        Ok(s) => s,
        Err(e) => return fail(&out, e.to_string()),
    };
    let sink = Arc::new(StdoutSink { out: out.clone() });
    let stream = match source.start(sink) {
        Ok(s) => s,
        Err(e) => return fail(&out, e.to_string()),
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        match (words.next(), words.next().map(str::parse::<u32>)) {
            (Some("keyframe"), None) => stream.request_keyframe(),
            (Some("bitrate"), Some(Ok(kbps))) => {
                if let Err(e) = stream.set_bitrate(kbps) {
                    tracing::warn!(error = %e, "bitrate refused");
                }
            }
            _ => tracing::warn!(%line, "unknown stream worker command"),
        }
    }
    drop(stream);
    0
}

struct StdoutSink {
    out: Arc<Mutex<std::io::Stdout>>,
}

fn write_record(out: &Mutex<std::io::Stdout>, tag: u8, payload: &[u8]) {
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    let mut head = [0u8; 5];
    head[0] = tag;
    head[1..].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    // A closed stdout means the parent is gone; stdin's end stops the worker.
    let _ = out
        .write_all(&head)
        .and_then(|_| out.write_all(payload))
        .and_then(|_| out.flush());
}

impl FrameSink for StdoutSink {
    fn format(&self, f: VideoFormat) {
        let mut p = Vec::with_capacity(32);
        p.extend_from_slice(&f.width.to_le_bytes());
        p.extend_from_slice(&f.height.to_le_bytes());
        p.push(f.codec.id());
        p.extend_from_slice(&f.bitrate_kbps.to_le_bytes());
        p.extend_from_slice(&f.fps.to_le_bytes());
        p.extend_from_slice(f.encoder.as_bytes());
        write_record(&self.out, b'F', &p);
    }

    fn frame(&self, f: EncodedFrame) {
        let mut p = Vec::with_capacity(9 + f.data.len());
        p.push(u8::from(f.keyframe));
        p.extend_from_slice(&f.capture_ts_us.to_le_bytes());
        p.extend_from_slice(&f.data);
        write_record(&self.out, b'V', &p);
    }

    fn failed(&self, reason: String) {
        write_record(&self.out, b'E', reason.as_bytes());
        // The pipeline is dead; so is the worker (the parent sees the record, then EOF).
        std::process::exit(1);
    }
}

/// A [`VideoSource`] that runs each pipeline in a worker process.
#[derive(Debug, Clone)]
pub struct ProcessSource {
    program: PathBuf,
    prefix_args: Vec<String>,
    spec: WorkerSpec,
}

impl ProcessSource {
    /// Workers run as `program prefix_args... <spec args>`.
    pub fn new(program: impl Into<PathBuf>, prefix_args: Vec<String>, spec: WorkerSpec) -> Self {
        ProcessSource {
            program: program.into(),
            prefix_args,
            spec,
        }
    }
}

impl VideoSource for ProcessSource {
    fn start(&self, sink: Arc<dyn FrameSink>) -> Result<Box<dyn ActiveStream>> {
        let mut command = Command::new(&self.program);
        // The worker gets what GStreamer, X and logging need, not the host's secrets
        // (HELIX_ENCRYPTION_KEY, database URLs, API keys in the environment).
        command
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| worker_env(k)));
        let mut child = command
            .args(&self.prefix_args)
            .args(self.spec.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                StreamError::Pipeline(format!(
                    "cannot start the stream worker {}: {e}",
                    self.program.display()
                ))
            })?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| StreamError::Pipeline("no worker stdout".into()))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| StreamError::Pipeline("no worker stderr".into()))?;
        let tail = Arc::new(Mutex::new(VecDeque::<String>::new()));
        let tail_w = tail.clone();
        let err_thread = std::thread::spawn(move || {
            for line in BufReader::new(stderr)
                .lines()
                .map_while(std::result::Result::ok)
            {
                tracing::debug!(target: "helix_stream::worker", "{line}");
                let mut t = tail_w.lock().unwrap_or_else(|e| e.into_inner());
                if t.len() == 5 {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        let out_thread = std::thread::spawn(move || {
            let why = read_records(stdout, sink.as_ref());
            let _ = err_thread.join();
            let tail = tail.lock().unwrap_or_else(|e| e.into_inner());
            let detail = tail.iter().cloned().collect::<Vec<_>>().join(" | ");
            sink.failed(if detail.is_empty() {
                why
            } else {
                format!("{why} ({detail})")
            });
        });
        Ok(Box::new(WorkerStream {
            child,
            stdin: Mutex::new(stdin),
            reader: Some(out_thread),
        }))
    }
}

/// Environment variables a stream worker inherits.
fn worker_env(name: &str) -> bool {
    matches!(
        name,
        "PATH"
            | "HOME"
            | "USER"
            | "LANG"
            | "LC_ALL"
            | "TMPDIR"
            | "XAUTHORITY"
            | "XDG_RUNTIME_DIR"
            | "RUST_LOG"
    ) || name.starts_with("GST_")
        || name.starts_with("LC_")
        || name.starts_with("__GL")
        || name.starts_with("CUDA_")
        || name.starts_with("NVIDIA_")
}

/// Reads records until the worker's stdout ends; returns why it ended.
fn read_records(stdout: impl Read, sink: &dyn FrameSink) -> String {
    let mut r = BufReader::with_capacity(1 << 20, stdout);
    loop {
        let mut head = [0u8; 5];
        if r.read_exact(&mut head).is_err() {
            return "the stream worker exited".into();
        }
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_RECORD {
            return format!("the stream worker sent a record of {len} bytes");
        }
        let mut p = vec![0u8; len];
        if r.read_exact(&mut p).is_err() {
            return "the stream worker exited mid-record".into();
        }
        match (head[0], p.len()) {
            (b'F', 21..) => {
                let u = |i: usize| u32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
                let Some(codec) = Codec::from_id(p[8]) else {
                    return format!("the stream worker reported codec {}", p[8]);
                };
                sink.format(VideoFormat {
                    width: u(0),
                    height: u(4),
                    codec,
                    bitrate_kbps: u(9),
                    fps: u(13),
                    encoder: String::from_utf8_lossy(&p[17..]).into_owned(),
                });
            }
            (b'V', 9..) => {
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&p[1..9]);
                sink.frame(EncodedFrame {
                    keyframe: p[0] == 1,
                    capture_ts_us: u64::from_le_bytes(ts),
                    data: p[9..].to_vec(),
                });
            }
            (b'E', _) => return String::from_utf8_lossy(&p).into_owned(),
            (tag, len) => {
                return format!("the stream worker sent a bad record ({tag:#x}, {len} bytes)")
            }
        }
    }
}

struct WorkerStream {
    child: Child,
    stdin: Mutex<Option<ChildStdin>>,
    reader: Option<JoinHandle<()>>,
}

impl WorkerStream {
    fn command(&self, line: &str) {
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = stdin.as_mut() {
            let _ = writeln!(s, "{line}").and_then(|_| s.flush());
        }
    }
}

impl ActiveStream for WorkerStream {
    fn request_keyframe(&self) {
        self.command("keyframe");
    }

    fn set_bitrate(&self, kbps: u32) -> Result<()> {
        if !crate::protocol::BITRATE_RANGE_KBPS.contains(&kbps) {
            return Err(StreamError::InvalidSetting(format!(
                "bitrate {kbps} kbit/s"
            )));
        }
        self.command(&format!("bitrate {kbps}"));
        Ok(())
    }
}

impl Drop for WorkerStream {
    fn drop(&mut self) {
        self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_get_no_secrets() {
        for name in [
            "PATH",
            "GST_DEBUG",
            "XAUTHORITY",
            "LC_CTYPE",
            "CUDA_VISIBLE_DEVICES",
        ] {
            assert!(worker_env(name), "{name}");
        }
        for name in [
            "HELIX_ENCRYPTION_KEY",
            "HELIX_DATABASE_URL",
            "OPENAI_API_KEY",
            "DISPLAY",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(!worker_env(name), "{name}");
        }
    }

    #[test]
    fn specs_round_trip_through_arguments() {
        let spec = WorkerSpec {
            capture: CaptureSpec::X11 {
                display: ":99".into(),
            },
            encoder: "x264enc".parse().unwrap(),
            settings: StreamSettings {
                fps: 60,
                bitrate_kbps: 2500,
                keyframe_interval_s: 5,
            },
        };
        assert_eq!(WorkerSpec::from_args(&spec.to_args()).unwrap(), spec);
        let wayland = WorkerSpec {
            capture: CaptureSpec::Wayland {
                socket: "/run/user/1000/wayland-1".into(),
            },
            ..spec.clone()
        };
        assert_eq!(WorkerSpec::from_args(&wayland.to_args()).unwrap(), wayland);
        let bad = |args: &[&str]| {
            WorkerSpec::from_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap_err()
                .code()
        };
        assert_eq!(bad(&[]), "invalid_setting");
        assert_eq!(bad(&["--x11", ":1 ! filesink"]), "invalid_setting");
        assert_eq!(bad(&["--x11", ":1", "--fps"]), "invalid_setting");
        assert_eq!(bad(&["--test-pattern", "1x1:evil"]), "invalid_setting");
        assert_eq!(bad(&["--wayland", "wayland-1"]), "invalid_setting");
        assert_eq!(
            CaptureSpec::from_display("wayland:/run/user/1/wayland-1").unwrap(),
            CaptureSpec::Wayland {
                socket: "/run/user/1/wayland-1".into()
            }
        );
        assert_eq!(
            CaptureSpec::from_display(":99").unwrap(),
            CaptureSpec::X11 {
                display: ":99".into()
            }
        );
        for display in ["wayland:relative", "99", ":1;x"] {
            assert_eq!(
                CaptureSpec::from_display(display).unwrap_err().code(),
                "invalid_setting"
            );
        }
        assert_eq!(bad(&["--x11", ":1", "--encoder", "vp8enc"]), "no_encoder");
    }

    struct Recorder(Mutex<Vec<String>>);
    impl FrameSink for Recorder {
        fn format(&self, f: VideoFormat) {
            self.0.lock().unwrap().push(format!(
                "F {}x{} {} {}",
                f.width, f.height, f.encoder, f.bitrate_kbps
            ));
        }
        fn frame(&self, f: EncodedFrame) {
            self.0
                .lock()
                .unwrap()
                .push(format!("V {} {} {:?}", f.keyframe, f.capture_ts_us, f.data));
        }
        fn failed(&self, reason: String) {
            self.0.lock().unwrap().push(format!("E {reason}"));
        }
    }

    #[test]
    fn records_are_read_and_bad_ones_end_the_stream() {
        let mut wire = Vec::new();
        let mut rec = |tag: u8, p: &[u8]| {
            wire.push(tag);
            wire.extend_from_slice(&(p.len() as u32).to_le_bytes());
            wire.extend_from_slice(p);
        };
        let mut f = Vec::new();
        for v in [1280u32, 720] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.push(1);
        f.extend_from_slice(&4000u32.to_le_bytes());
        f.extend_from_slice(&30u32.to_le_bytes());
        f.extend_from_slice(b"x264enc");
        rec(b'F', &f);
        let mut v = vec![1];
        v.extend_from_slice(&7u64.to_le_bytes());
        v.extend_from_slice(&[0, 0, 1, 0x65]);
        rec(b'V', &v);
        rec(b'Z', b"?");
        let sink = Recorder(Mutex::new(Vec::new()));
        let why = read_records(&wire[..], &sink);
        assert_eq!(
            *sink.0.lock().unwrap(),
            ["F 1280x720 x264enc 4000", "V true 7 [0, 0, 1, 101]"]
        );
        assert!(why.contains("bad record"), "{why}");
        // A truncated record and an oversized length end it too.
        assert!(read_records(&wire[..7], &sink).contains("mid-record"));
        let huge = [b'V', 0xFF, 0xFF, 0xFF, 0x7F];
        assert!(read_records(&huge[..], &sink).contains("record of"));
    }
}
