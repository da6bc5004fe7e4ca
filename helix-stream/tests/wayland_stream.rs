//! Real capture of a real Wayland compositor: a headless Sway with a red background,
//! grabbed through wf-recorder, as raw pixels and as an H.264 stream from a worker.

mod support;

use gstreamer as gst;
use gstreamer::prelude::*;
use helix_stream::gst::{
    Capture, CaptureSpec, EncoderChoice, ProcessSource, StreamSettings, WaylandCapture, WorkerSpec,
};
use helix_stream::{CloseReason, Codec, Desktop, Viewer, ViewerEvent};
use std::sync::Arc;
use std::time::Duration;

async fn next(v: &mut Viewer) -> ViewerEvent {
    tokio::time::timeout(Duration::from_secs(20), v.next())
        .await
        .expect("an event within 20 s")
}

#[test]
fn the_capture_shows_the_compositors_picture() {
    let Some(sway) = helix_stream::testing::sway(640, 480, "#ff0000") else {
        return;
    };
    helix_stream::gst::init().unwrap();
    let capture = WaylandCapture::new(&sway.socket).unwrap();
    let description = format!(
        "{} ! video/x-raw,framerate=10/1 ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false",
        capture.source(10)
    );
    let pipeline = gst::parse::launch(&description)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let guard = capture.attach(&pipeline, 10).expect("wf-recorder starts");
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    // swaybg paints the background shortly after Sway starts: wait for a red frame.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut last = Vec::new();
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the background never showed red: {last:?}"
        );
        let sample = sink
            .try_pull_sample(gst::ClockTime::from_seconds(15))
            .expect("a frame");
        let caps = sample.caps().unwrap().structure(0).unwrap().to_owned();
        assert_eq!(
            (
                caps.get::<i32>("width").unwrap(),
                caps.get::<i32>("height").unwrap()
            ),
            (640, 480)
        );
        let buffer = sample.buffer().unwrap().map_readable().unwrap();
        let at = (240 * 640 + 320) * 3;
        last = buffer.as_slice()[at..at + 3].to_vec();
        if last[0] > 200 && last[1] < 60 && last[2] < 60 {
            break;
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wayland_desktop_streams_until_its_compositor_goes() {
    let Some(sway) = helix_stream::testing::sway(640, 480, "#0000ff") else {
        return;
    };
    let spec = WorkerSpec {
        capture: CaptureSpec::Wayland {
            socket: sway.socket.clone(),
        },
        encoder: EncoderChoice::Auto,
        settings: StreamSettings::default(),
    };
    let source = ProcessSource::new(env!("CARGO_BIN_EXE_helix-stream-worker"), vec![], spec);
    let desktop = Desktop::new("wayland", Arc::new(source), None);
    let mut v = desktop.subscribe(None).expect("subscribe");
    let ViewerEvent::Format(f) = next(&mut v).await else {
        panic!("the format first")
    };
    assert_eq!((f.width, f.height, f.codec), (640, 480, Codec::H264));
    let mut frames = Vec::new();
    while frames.len() < 20 {
        if let ViewerEvent::Frame(frame) = next(&mut v).await {
            frames.push(frame);
        }
    }
    assert!(frames[0].keyframe, "starts at a keyframe");
    // A static screen still streams (the last picture is repeated), so late viewers
    // get a keyframe.
    let mut late = desktop.subscribe(None).expect("subscribe");
    assert!(matches!(next(&mut late).await, ViewerEvent::Format(_)));
    assert!(matches!(next(&mut late).await, ViewerEvent::Frame(f) if f.keyframe));

    drop(sway);
    loop {
        match next(&mut v).await {
            ViewerEvent::Closed(CloseReason::Unavailable(_)) => break,
            ViewerEvent::Closed(other) => panic!("{other:?}"),
            _ => continue,
        }
    }
}

#[test]
fn keys_text_and_buttons_reach_the_compositor() {
    // Sway's own key bindings witness the virtual keyboard: each touches a file.
    let bindings = "bindsym a exec touch {dir}/key-a\nbindsym Shift+b exec touch {dir}/key-shift-b\nbindsym Return exec touch {dir}/key-return\nbindsym --whole-window button3 exec touch {dir}/button3";
    let Some(sway) = helix_stream::testing::sway_with(640, 480, "#000000", bindings) else {
        return;
    };
    let input = helix_stream::wl::WaylandInput::connect(&sway.socket).expect("virtual devices");
    use helix_stream::{InputEvent, InputSink};
    input
        .inject(InputEvent::PointerMove { x: 10, y: 10 })
        .unwrap();
    input
        .inject(InputEvent::Key {
            code: 0x04,
            down: true,
        })
        .unwrap(); // HID a
    input
        .inject(InputEvent::Key {
            code: 0x04,
            down: false,
        })
        .unwrap();
    input.inject(InputEvent::Text("B\n".into())).unwrap();
    input
        .inject(InputEvent::PointerMove { x: 320, y: 240 })
        .unwrap();
    input
        .inject(InputEvent::Button {
            button: 2,
            down: true,
        })
        .unwrap(); // secondary
    input
        .inject(InputEvent::Button {
            button: 2,
            down: false,
        })
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for file in ["key-a", "key-shift-b", "key-return", "button3"] {
        while !sway.dir().join(file).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "{file}: the binding did not fire"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
