//! The session against a scripted source over in-memory sockets: the handshake, and
//! random frames that must never end or crash it.

use super::*;
use crate::protocol::Codec;
use crate::source::{ActiveStream, EncodedFrame, FrameSink, VideoSource};
use futures::channel::mpsc;
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

struct Still(Mutex<Option<Arc<dyn FrameSink>>>);
struct Running;

impl VideoSource for Still {
    fn start(&self, sink: Arc<dyn FrameSink>) -> crate::Result<Box<dyn ActiveStream>> {
        sink.format(VideoFormat {
            width: 64,
            height: 48,
            codec: Codec::H264,
            encoder: "still".into(),
            bitrate_kbps: 1000,
            fps: 30,
        });
        *self.0.lock().unwrap() = Some(sink);
        Ok(Box::new(Running))
    }
}

impl ActiveStream for Running {
    fn request_keyframe(&self) {}
    fn set_bitrate(&self, _kbps: u32) -> crate::Result<()> {
        Ok(())
    }
}

/// Runs a session, feeding `frames` after `Hello`, then a `Ping`; returns what the
/// server sent.
async fn session(frames: Vec<Vec<u8>>) -> Vec<ServerMessage> {
    let source = Arc::new(Still(Mutex::new(None)));
    let desktop = Desktop::new("t", source.clone(), None);
    let (in_tx, in_rx) = mpsc::unbounded::<WsIn>();
    let (out_tx, mut out_rx) = mpsc::unbounded::<WsOut>();
    let task = {
        let desktop = desktop.clone();
        tokio::spawn(async move {
            serve_viewer(&desktop, ViewerOptions::default(), in_rx, out_tx).await;
        })
    };
    let hello = ClientMessage::Hello { version: 1 }.encode().unwrap();
    in_tx.unbounded_send(WsIn::Binary(hello)).unwrap();
    // The stream starts with the viewer; it then encodes one keyframe.
    let sink = loop {
        if let Some(sink) = source.0.lock().unwrap().clone() {
            break sink;
        }
        tokio::task::yield_now().await;
    };
    sink.frame(EncodedFrame {
        keyframe: true,
        capture_ts_us: 1,
        data: vec![0, 0, 0, 1, 0x67],
    });
    let mut got = Vec::new();
    while let Some(WsOut::Binary(b)) = out_rx.next().await {
        got.push(ServerMessage::decode(&b).unwrap());
        if got.len() == 3 {
            break;
        }
    }
    for f in frames {
        in_tx.unbounded_send(WsIn::Binary(f)).unwrap();
    }
    let ping = ClientMessage::Ping { client_ts_us: 7 }.encode().unwrap();
    in_tx.unbounded_send(WsIn::Binary(ping)).unwrap();
    loop {
        match out_rx.next().await {
            Some(WsOut::Binary(b)) => {
                let m = ServerMessage::decode(&b).unwrap();
                let done = matches!(
                    m,
                    ServerMessage::Pong {
                        client_ts_us: 7,
                        ..
                    }
                );
                got.push(m);
                if done {
                    break;
                }
            }
            other => panic!("the session ended: {other:?}"),
        }
    }
    in_tx.unbounded_send(WsIn::Close).unwrap();
    task.await.unwrap();
    assert_eq!(desktop.stats().viewers, 0, "the viewer left");
    got
}

#[tokio::test]
async fn hello_gets_init_stream_info_and_a_keyframe() {
    let got = session(vec![]).await;
    assert!(matches!(
        got[0],
        ServerMessage::Init {
            width: 64,
            height: 48,
            ..
        }
    ));
    assert!(matches!(got[1], ServerMessage::StreamInfo { .. }));
    assert!(matches!(
        got[2],
        ServerMessage::VideoFrame { keyframe: true, .. }
    ));
    assert!(matches!(
        got[3],
        ServerMessage::Pong {
            client_ts_us: 7,
            ..
        }
    ));
}

#[tokio::test]
async fn input_on_a_view_only_desktop_is_refused_but_the_session_goes_on() {
    let frames = vec![ClientMessage::KeyDown { code: 4 }.encode().unwrap()];
    let got = session(frames).await;
    assert!(got.iter().any(|m| matches!(
        m,
        ServerMessage::Error {
            code: error_code::INPUT_NOT_ALLOWED,
            ..
        }
    )));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_frames_never_end_the_session(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..20)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let got = rt.block_on(session(frames));
        let ended_with_pong = matches!(got.last(), Some(ServerMessage::Pong { client_ts_us: 7, .. }));
        prop_assert!(ended_with_pong, "the session answered after the random frames: {:?}", got.last());
    }
}
