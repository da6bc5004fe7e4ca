//! Creating and destroying 50 real pipelines leaves file descriptors, threads and
//! memory flat. Alone in its test binary so no other test moves the counts.

mod support;

use helix_stream::gst::{EncoderChoice, GstSource, StreamSettings, X11Capture};
use helix_stream::{Desktop, Viewer, ViewerEvent};
use std::sync::Arc;
use std::time::Duration;

async fn next(v: &mut Viewer) -> ViewerEvent {
    tokio::time::timeout(Duration::from_secs(15), v.next())
        .await
        .expect("an event within 15 s")
}

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_pipelines_come_and_go_without_leaking() {
    let Some(x) = support::xvfb(640, 480) else {
        return;
    };
    let capture = Arc::new(X11Capture::new(&x.display).expect("display name"));
    let source = GstSource::new(capture, &EncoderChoice::Auto, StreamSettings::default())
        .expect("an encoder");
    let desktop = Desktop::new("leaks", Arc::new(source), None);
    let cycle = || {
        let desktop = desktop.clone();
        async move {
            let mut v = desktop.subscribe(None).expect("subscribe");
            loop {
                if let ViewerEvent::Frame(f) = next(&mut v).await {
                    assert!(f.keyframe);
                    break;
                }
            }
            drop(v);
            assert!(!desktop.stats().streaming);
        }
    };
    for _ in 0..5 {
        cycle().await;
    }
    let (fds, threads, rss) = (count("/proc/self/fd"), count("/proc/self/task"), rss_kib());
    for _ in 0..50 {
        cycle().await;
    }
    let (fds2, threads2, rss2) = (count("/proc/self/fd"), count("/proc/self/task"), rss_kib());
    eprintln!("fds {fds} -> {fds2}, threads {threads} -> {threads2}, rss {rss} KiB -> {rss2} KiB");
    assert_eq!(desktop.stats().pipelines_started, 55);
    assert!(fds2 <= fds + 2, "file descriptors leak: {fds} -> {fds2}");
    assert!(
        threads2 <= threads + 2,
        "threads leak: {threads} -> {threads2}"
    );
    // A leaked pipeline holds frame pools of megabytes; 50 of them would be hundreds.
    assert!(
        rss2 <= rss + 24 * 1024,
        "memory grows: {rss} KiB -> {rss2} KiB"
    );
}
