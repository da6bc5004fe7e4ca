//! Real capture and encoding of a real X server (Xvfb), and real XTest input.

mod support;

use helix_stream::gst::{
    CaptureSpec, EncoderChoice, GstSource, ProcessSource, StreamSettings, WorkerSpec, X11Capture,
};
use helix_stream::x11::X11Input;
use helix_stream::{Codec, Desktop, InputEvent, InputSink, Viewer, ViewerEvent};
use std::sync::Arc;
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::protocol::Event;

fn x11_desktop(display: &str) -> Desktop {
    let capture = Arc::new(X11Capture::new(display).expect("display name"));
    let source = GstSource::new(capture, &EncoderChoice::Auto, StreamSettings::default())
        .expect("an encoder");
    Desktop::new("x11", Arc::new(source), None)
}

async fn next(v: &mut Viewer) -> ViewerEvent {
    tokio::time::timeout(Duration::from_secs(15), v.next())
        .await
        .expect("an event within 15 s")
}

/// The NAL unit types of an Annex B access unit.
fn nal_types(au: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i + 3 < au.len() {
        if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
            types.push(au[i + 3] & 0x1f);
            i += 3;
        } else {
            i += 1;
        }
    }
    types
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_x_desktop_streams_h264_from_a_keyframe_to_every_viewer() {
    let Some(x) = support::xvfb(1280, 720) else {
        return;
    };
    let desktop = x11_desktop(&x.display);
    let mut a = desktop.subscribe(None).expect("subscribe");
    let ViewerEvent::Format(format) = next(&mut a).await else {
        panic!("the format comes first");
    };
    assert_eq!(
        (format.width, format.height, format.codec),
        (1280, 720, Codec::H264)
    );
    assert!(["x264enc", "openh264enc", "nvh264enc"].contains(&format.encoder.as_str()));
    assert_eq!(format.fps, 30);

    let started = Instant::now();
    let mut frames = Vec::new();
    while started.elapsed() < Duration::from_secs(2) {
        match next(&mut a).await {
            ViewerEvent::Frame(f) => frames.push(f),
            other => panic!("unexpected {other:?}"),
        }
    }
    let first = &frames[0];
    assert!(first.keyframe, "the first frame is a keyframe");
    let types = nal_types(&first.data);
    for t in [7, 8, 5] {
        assert!(
            types.contains(&t),
            "keyframe has SPS, PPS and IDR: {types:?}"
        );
    }
    // 30 fps for two seconds, give or take a slow machine.
    assert!(frames.len() >= 20, "{} frames in 2 s", frames.len());
    assert!(frames
        .windows(2)
        .all(|w| w[0].capture_ts_us <= w[1].capture_ts_us));
    let now = helix_stream::session::now_us();
    let last = frames.last().expect("frames").capture_ts_us;
    assert!(
        now >= last && now - last < 2_000_000,
        "capture timestamps are wall-clock µs"
    );
    assert!(
        frames[1..].iter().any(|f| !f.keyframe),
        "delta frames follow"
    );

    // A second viewer joins mid-stream and starts at a fresh keyframe.
    let mut b = desktop.subscribe(None).expect("subscribe");
    assert!(matches!(next(&mut b).await, ViewerEvent::Format(_)));
    let ViewerEvent::Frame(f) = next(&mut b).await else {
        panic!("a frame")
    };
    assert!(f.keyframe && nal_types(&f.data).contains(&7));
    assert_eq!(
        desktop.stats().pipelines_started,
        1,
        "one pipeline for both"
    );

    // Bitrate changes live.
    desktop.set_bitrate(1500).expect("set bitrate");
    assert_eq!(desktop.format().expect("format").bitrate_kbps, 1500);
    drop(a);
    drop(b);
    assert!(!desktop.stats().streaming);
}

/// A desktop whose pipelines run in `helix-stream-worker` processes.
fn worker_desktop(display: &str) -> Desktop {
    let spec = WorkerSpec {
        capture: CaptureSpec::X11 {
            display: display.into(),
        },
        encoder: EncoderChoice::Auto,
        settings: StreamSettings::default(),
    };
    let source = ProcessSource::new(env!("CARGO_BIN_EXE_helix-stream-worker"), vec![], spec);
    Desktop::new("x11-worker", Arc::new(source), None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_display_that_goes_away_closes_its_viewers_not_the_process() {
    let Some(x) = support::xvfb(640, 480) else {
        return;
    };
    // In-process, libX11 would end this whole test process when the display dies.
    let desktop = worker_desktop(&x.display);
    let mut v = desktop.subscribe(None).expect("subscribe");
    let ViewerEvent::Format(f) = next(&mut v).await else {
        panic!("format first")
    };
    assert_eq!((f.width, f.height), (640, 480));
    let ViewerEvent::Frame(first) = next(&mut v).await else {
        panic!("a frame")
    };
    assert!(first.keyframe && nal_types(&first.data).contains(&7));
    drop(x);
    loop {
        match next(&mut v).await {
            ViewerEvent::Closed(helix_stream::CloseReason::Unavailable(why)) => {
                assert!(!why.is_empty());
                break;
            }
            ViewerEvent::Frame(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    // Nothing to capture any more: a new viewer is refused or closed at once.
    match desktop.subscribe(None) {
        Err(e) => assert_eq!(e.code(), "pipeline_failed"),
        Ok(mut v) => loop {
            match next(&mut v).await {
                ViewerEvent::Closed(_) => break,
                ViewerEvent::Format(_)
                | ViewerEvent::Frame(_)
                | ViewerEvent::Info(_)
                | ViewerEvent::Clipboard(_) => {}
            }
        },
    }
}

/// A test window that records what the X server delivers to it.
struct Window {
    conn: x11rb::rust_connection::RustConnection,
    id: u32,
}

impl Window {
    fn open(display: &str) -> Window {
        let (conn, screen) = x11rb::connect(Some(display)).expect("connect");
        let root = conn.setup().roots[screen].root;
        let id = conn.generate_id().expect("id");
        conn.create_window(
            0,
            id,
            root,
            0,
            0,
            400,
            300,
            0,
            xproto::WindowClass::INPUT_OUTPUT,
            0,
            &xproto::CreateWindowAux::new().event_mask(
                xproto::EventMask::KEY_PRESS
                    | xproto::EventMask::BUTTON_PRESS
                    | xproto::EventMask::POINTER_MOTION,
            ),
        )
        .expect("create window");
        conn.map_window(id).expect("map");
        conn.flush().expect("flush");
        conn.get_input_focus().expect("sync").reply().expect("sync");
        conn.set_input_focus(xproto::InputFocus::POINTER_ROOT, id, x11rb::CURRENT_TIME)
            .expect("focus");
        conn.flush().expect("flush");
        Window { conn, id }
    }

    /// Events until `want` of them match, or 5 s pass.
    fn collect(&self, want: usize, pick: impl Fn(&Event) -> Option<u32>) -> Vec<u32> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < want && Instant::now() < deadline {
            match self.conn.poll_for_event().expect("poll") {
                Some(e) => got.extend(pick(&e)),
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        got
    }
}

#[test]
fn input_reaches_the_x_server() {
    let Some(x) = support::xvfb(800, 600) else {
        return;
    };
    let window = Window::open(&x.display);
    let input = X11Input::connect(&x.display).expect("xtest");
    assert_eq!(input.screen_size(), (800, 600));

    input
        .inject(InputEvent::PointerMove { x: 120, y: 80 })
        .unwrap();
    let moved = window.collect(1, |e| match e {
        Event::MotionNotify(m) if m.event_x == 120 && m.event_y == 80 => Some(1),
        _ => None,
    });
    assert_eq!(moved, [1], "the pointer moved to (120, 80)");
    // Outside the screen is clamped.
    input
        .inject(InputEvent::PointerMove { x: 5000, y: -3 })
        .unwrap();
    let clamped = window.collect(1, |e| match e {
        Event::MotionNotify(m) if m.root_x == 799 && m.root_y == 0 => Some(1),
        _ => None,
    });
    assert!(
        clamped.is_empty(),
        "the pointer left the window, which sees no motion there"
    );
    let p = window
        .conn
        .query_pointer(window.id)
        .unwrap()
        .reply()
        .unwrap();
    assert_eq!((p.root_x, p.root_y), (799, 0));

    input
        .inject(InputEvent::PointerMove { x: 10, y: 10 })
        .unwrap();
    input
        .inject(InputEvent::Button {
            button: 2,
            down: true,
        })
        .unwrap();
    input
        .inject(InputEvent::Button {
            button: 2,
            down: false,
        })
        .unwrap();
    input.inject(InputEvent::Scroll { dx: 0, dy: 120 }).unwrap();
    let buttons = window.collect(3, |e| match e {
        Event::ButtonPress(b) => Some(u32::from(b.detail)),
        _ => None,
    });
    assert_eq!(
        buttons,
        [3, 5, 5],
        "secondary click, then two wheel clicks down"
    );

    // HID 0x04 is the key labelled A: evdev 30, X key code 38.
    input
        .inject(InputEvent::Key {
            code: 0x04,
            down: true,
        })
        .unwrap();
    input
        .inject(InputEvent::Key {
            code: 0x04,
            down: false,
        })
        .unwrap();
    let keys = window.collect(1, |e| match e {
        Event::KeyPress(k) => Some(u32::from(k.detail)),
        _ => None,
    });
    assert_eq!(keys, [38]);

    // Text: "aB" is a, then shift + b; "€" is not on the keymap and borrows a key code.
    input.inject(InputEvent::Text("aB€".into())).unwrap();
    let typed = window.collect(4, |e| match e {
        Event::KeyPress(k) => Some(u32::from(k.detail)),
        _ => None,
    });
    assert_eq!(typed.len(), 4, "{typed:?}");
    assert_eq!(typed[0], 38);
    assert_eq!(&typed[1..3], [50, 56], "shift (50) then b (56)");
    assert!(
        ![38, 50, 56].contains(&typed[3]),
        "a borrowed key code for €"
    );
}

/// `xclip` (a real X client) copying and pasting on the display.
fn xclip(display: &str, args: &[&str], input: Option<&str>) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("xclip")
        .args(["-display", display, "-selection", "clipboard"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        // Copying, xclip stays in the background holding the selection: it must not
        // hold our pipe open too.
        .stdout(if input.is_some() {
            std::process::Stdio::null()
        } else {
            std::process::Stdio::piped()
        })
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("xclip (apt-get install xclip)");
    if let Some(text) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clipboard_goes_both_ways() {
    let Some(x) = support::xvfb(640, 480) else {
        return;
    };
    let desktop = x11_desktop(&x.display);
    helix_stream::x11::clipboard::watch(&x.display, &desktop).expect("watch");
    let mut v = desktop.subscribe(None).expect("subscribe");

    // Copied on the desktop (xclip stays in the background as the owner): viewers hear it.
    xclip(&x.display, &["-i"], Some("from the desktop ✓"));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(Instant::now() < deadline, "no clipboard event");
        if let ViewerEvent::Clipboard(text) = next(&mut v).await {
            assert_eq!(&*text, "from the desktop ✓");
            break;
        }
    }
    // A later viewer is told on joining.
    let mut late = desktop.subscribe(None).expect("subscribe");
    assert!(
        matches!(next(&mut late).await, ViewerEvent::Clipboard(t) if &*t == "from the desktop ✓")
    );

    // Set by a viewer: the desktop's applications paste it.
    desktop
        .write_clipboard("from the browser".into())
        .expect("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pasted = String::new();
    while Instant::now() < deadline && pasted != "from the browser" {
        tokio::time::sleep(Duration::from_millis(50)).await;
        pasted = xclip(&x.display, &["-o"], None);
    }
    assert_eq!(pasted, "from the browser");
    // ... and the other viewers hear of it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(Instant::now() < deadline, "no clipboard event");
        if let ViewerEvent::Clipboard(text) = next(&mut v).await {
            assert_eq!(&*text, "from the browser");
            break;
        }
    }
    let too_big = "x".repeat(helix_stream::protocol::MAX_CLIPBOARD_LEN + 1);
    assert_eq!(
        desktop.write_clipboard(too_big).unwrap_err().code(),
        "invalid_setting"
    );
}
