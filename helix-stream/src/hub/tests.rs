//! The fan-out policy, against a scripted source (the seam; real pipelines are tested
//! in tests/x11_stream.rs).

use super::*;
use crate::input::ClipboardSync;
use crate::protocol::Codec;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Default)]
struct Script {
    sinks: Mutex<Vec<Arc<dyn FrameSink>>>,
    active: AtomicUsize,
    keyframe_requests: AtomicUsize,
    fail_start: AtomicBool,
}

struct ScriptSource(Arc<Script>);
struct ScriptStream(Arc<Script>);

impl VideoSource for ScriptSource {
    fn start(&self, sink: Arc<dyn FrameSink>) -> Result<Box<dyn ActiveStream>> {
        if self.0.fail_start.load(Ordering::SeqCst) {
            return Err(StreamError::Pipeline("no display".into()));
        }
        self.0.active.fetch_add(1, Ordering::SeqCst);
        self.0.sinks.lock().unwrap().push(sink);
        Ok(Box::new(ScriptStream(self.0.clone())))
    }
}

impl ActiveStream for ScriptStream {
    fn request_keyframe(&self) {
        self.0.keyframe_requests.fetch_add(1, Ordering::SeqCst);
    }
    fn set_bitrate(&self, _kbps: u32) -> Result<()> {
        Ok(())
    }
}

impl Drop for ScriptStream {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Script {
    fn sink(&self) -> Arc<dyn FrameSink> {
        self.sinks
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a started stream")
    }
}

fn format(width: u32) -> VideoFormat {
    VideoFormat {
        width,
        height: 720,
        codec: Codec::H264,
        encoder: "script".into(),
        bitrate_kbps: 1000,
        fps: 30,
    }
}

fn frame(n: u64, keyframe: bool) -> EncodedFrame {
    EncodedFrame {
        keyframe,
        capture_ts_us: n,
        data: vec![n as u8],
    }
}

fn desktop(queue: usize) -> (Desktop, Arc<Script>) {
    let script = Arc::new(Script::default());
    let d = Desktop::with_queue("d1", Arc::new(ScriptSource(script.clone())), None, queue);
    (d, script)
}

/// What a viewer has received so far, without waiting.
fn drain(v: &mut Viewer) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(reason) = v.closed.try_recv() {
        out.push(format!("closed {reason:?}"));
    }
    while let Ok(event) = v.rx.try_recv() {
        out.push(match event {
            ViewerEvent::Format(f) => format!("format {}", f.width),
            ViewerEvent::Info(f) => format!("info {}", f.bitrate_kbps),
            ViewerEvent::Frame(f) => {
                format!("{}{}", if f.keyframe { "K" } else { "d" }, f.capture_ts_us)
            }
            ViewerEvent::Closed(r) => format!("closed {r:?}"),
            ViewerEvent::Clipboard(t) => format!("clipboard {t}"),
        });
    }
    out
}

#[test]
fn the_pipeline_runs_while_someone_watches() {
    let (d, script) = desktop(8);
    assert!(!d.stats().streaming);
    let a = d.subscribe(None).unwrap();
    let b = d.subscribe(None).unwrap();
    assert_eq!(
        script.active.load(Ordering::SeqCst),
        1,
        "one pipeline for all viewers"
    );
    assert_eq!(d.stats().viewers, 2);
    drop(a);
    assert_eq!(script.active.load(Ordering::SeqCst), 1);
    drop(b);
    assert_eq!(
        script.active.load(Ordering::SeqCst),
        0,
        "stopped with the last viewer"
    );
    assert!(!d.stats().streaming);
    let _c = d.subscribe(None).unwrap();
    assert_eq!(script.active.load(Ordering::SeqCst), 1, "restarted");
    assert_eq!(d.stats().pipelines_started, 2);
}

#[test]
fn viewers_start_at_a_keyframe_with_the_format_first() {
    let (d, script) = desktop(8);
    let mut a = d.subscribe(None).unwrap();
    let sink = script.sink();
    sink.format(format(1280));
    sink.frame(frame(1, true));
    sink.frame(frame(2, false));
    assert_eq!(drain(&mut a), ["format 1280", "K1", "d2"]);

    // A late joiner asks for a keyframe and sees nothing until one comes.
    let before = script.keyframe_requests.load(Ordering::SeqCst);
    let mut b = d.subscribe(None).unwrap();
    assert_eq!(script.keyframe_requests.load(Ordering::SeqCst), before + 1);
    sink.frame(frame(3, false));
    sink.frame(frame(4, true));
    sink.frame(frame(5, false));
    assert_eq!(drain(&mut a), ["d3", "K4", "d5"]);
    assert_eq!(drain(&mut b), ["format 1280", "K4", "d5"]);

    // A new size reaches everyone before the keyframe that starts it.
    sink.format(format(1920));
    sink.frame(frame(6, false));
    sink.frame(frame(7, true));
    assert_eq!(drain(&mut a), ["format 1920", "K7"]);
    assert_eq!(drain(&mut b), ["format 1920", "K7"]);
}

#[test]
fn a_slow_viewer_skips_to_the_next_keyframe_and_slows_no_one() {
    let (d, script) = desktop(4);
    let mut fast = d.subscribe(None).unwrap();
    let mut slow = d.subscribe(None).unwrap();
    let sink = script.sink();
    sink.format(format(1280));
    sink.frame(frame(0, true));
    let requests = script.keyframe_requests.load(Ordering::SeqCst);
    let mut fast_got = drain(&mut fast);
    for n in 1..=10 {
        sink.frame(frame(n, false));
        fast_got.extend(drain(&mut fast));
    }
    assert_eq!(
        fast_got.len(),
        12,
        "the fast viewer got everything: {fast_got:?}"
    );
    assert_eq!(
        script.keyframe_requests.load(Ordering::SeqCst),
        requests,
        "a viewer that stays full (gone, or too slow) does not make everyone get keyframes"
    );
    // The slow one holds what fit, then nothing until a keyframe, asked for as soon as
    // it has room again.
    assert_eq!(drain(&mut slow), ["format 1280", "K0", "d1", "d2"]);
    sink.frame(frame(11, false));
    assert_eq!(
        script.keyframe_requests.load(Ordering::SeqCst),
        requests + 1
    );
    sink.frame(frame(12, false));
    assert_eq!(
        script.keyframe_requests.load(Ordering::SeqCst),
        requests + 1,
        "asked once"
    );
    sink.frame(frame(13, true));
    sink.frame(frame(14, false));
    assert_eq!(drain(&mut slow), ["K13", "d14"]);
    assert!(d.stats().frames_dropped >= 10);
}

#[test]
fn a_viewer_that_lost_its_decoder_waits_for_its_keyframe() {
    let (d, script) = desktop(8);
    let mut a = d.subscribe(None).unwrap();
    let sink = script.sink();
    sink.format(format(1280));
    sink.frame(frame(1, true));
    drain(&mut a);
    a.request_keyframe();
    sink.frame(frame(2, false));
    sink.frame(frame(3, true));
    assert_eq!(drain(&mut a), ["format 1280", "K3"]);
}

#[test]
fn the_same_client_id_supersedes_the_older_connection() {
    let (d, _script) = desktop(8);
    let mut old = d.subscribe(Some("tab-1".into())).unwrap();
    let _other = d.subscribe(Some("tab-2".into())).unwrap();
    let _new = d.subscribe(Some("tab-1".into())).unwrap();
    assert_eq!(drain(&mut old), ["closed Superseded"]);
    assert_eq!(d.stats().viewers, 2);
}

#[test]
fn a_failed_stream_closes_its_viewers_and_the_next_one_restarts_it() {
    let (d, script) = desktop(8);
    let mut a = d.subscribe(None).unwrap();
    let old_sink = script.sink();
    old_sink.failed("ximagesrc: display closed".into());
    let got = drain(&mut a);
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("display closed"), "{got:?}");
    // The failed pipeline is dropped off the reporting thread.
    for _ in 0..100 {
        if script.active.load(Ordering::SeqCst) == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(script.active.load(Ordering::SeqCst), 0);

    let mut b = d.subscribe(None).unwrap();
    assert_eq!(d.stats().pipelines_started, 2);
    // Late reports from the dead pipeline are ignored.
    old_sink.format(format(640));
    old_sink.frame(frame(9, true));
    assert!(drain(&mut b).is_empty());
}

#[test]
fn a_source_that_cannot_start_is_an_error() {
    let (d, script) = desktop(8);
    script.fail_start.store(true, Ordering::SeqCst);
    let err = d.subscribe(None).unwrap_err();
    assert_eq!(err.code(), "pipeline_failed");
    assert_eq!(d.stats().viewers, 0);
    assert!(!d.stats().streaming);
    script.fail_start.store(false, Ordering::SeqCst);
    let _v = d.subscribe(None).unwrap();
    assert!(d.stats().streaming);
}

#[test]
fn bitrate_changes_reach_viewers_without_a_new_picture() {
    let (d, script) = desktop(8);
    assert_eq!(
        d.set_bitrate(2000).unwrap_err().code(),
        "stream_unavailable"
    );
    let mut a = d.subscribe(None).unwrap();
    let sink = script.sink();
    sink.format(format(1280));
    sink.frame(frame(1, true));
    drain(&mut a);
    d.set_bitrate(2500).unwrap();
    sink.frame(frame(2, false));
    assert_eq!(drain(&mut a), ["info 2500", "d2"]);
    assert_eq!(d.format().unwrap().bitrate_kbps, 2500);
}

#[test]
fn view_only_desktops_refuse_input() {
    let (d, _script) = desktop(8);
    assert!(!d.accepts_input());
    let err = d.inject(InputEvent::Text("x".into())).unwrap_err();
    assert_eq!(err.code(), "stream_unavailable");
}

#[test]
fn the_clipboard_reaches_every_viewer_and_later_joiners() {
    #[derive(Default)]
    struct Held(Mutex<Vec<String>>);
    impl ClipboardSync for Held {
        fn set(&self, text: String) -> Result<()> {
            self.0.lock().unwrap().push(text);
            Ok(())
        }
    }
    let (d, _script) = desktop(8);
    let mut a = d.subscribe(None).unwrap();
    assert_eq!(
        d.write_clipboard("x".into()).unwrap_err().code(),
        "stream_unavailable"
    );
    let held = Arc::new(Held::default());
    d.set_clipboard(held.clone());
    d.publish_clipboard("copied".into());
    d.publish_clipboard("copied".into()); // the same text again is no news
    assert_eq!(drain(&mut a), ["clipboard copied"]);
    let mut b = d.subscribe(None).unwrap();
    assert_eq!(drain(&mut b), ["clipboard copied"], "told on joining");
    d.write_clipboard("pasted".into()).unwrap();
    assert_eq!(*held.0.lock().unwrap(), ["pasted"]);
    assert_eq!(drain(&mut a), ["clipboard pasted"]);
    assert_eq!(drain(&mut b), ["clipboard pasted"]);
}

#[test]
fn a_keyframe_asked_for_after_the_last_one_came_is_not_merged_away() {
    let (d, script) = desktop(8);
    let mut a = d.subscribe(None).unwrap();
    let sink = script.sink();
    sink.format(format(1280));
    sink.frame(frame(1, true));
    drain(&mut a);
    // Two viewers lose their decoders in quick succession, a keyframe in between:
    // each gets one.
    a.request_keyframe();
    let asked = script.keyframe_requests.load(Ordering::SeqCst);
    sink.frame(frame(2, true));
    let b = d.subscribe(None).unwrap();
    assert_eq!(
        script.keyframe_requests.load(Ordering::SeqCst),
        asked + 1,
        "not merged into the one that came"
    );
    // While one is on its way, more requests wait for it.
    b.request_keyframe();
    a.request_keyframe();
    assert_eq!(script.keyframe_requests.load(Ordering::SeqCst), asked + 1);
}
