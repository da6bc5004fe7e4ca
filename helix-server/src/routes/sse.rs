//! Server-sent event responses, written in batches: every event that is ready at the
//! same moment goes out in one body frame (one write here, one read at the client)
//! instead of one frame each, and never waits for more. An upstream that sends a burst
//! of chunks (a fast engine, a cached answer) costs a handful of writes instead of one
//! per chunk. A comment line keeps a silent stream alive through proxies.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};
use std::time::Duration;

/// How long a stream may stay silent before a keep-alive comment is sent.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Most events in one frame.
const BATCH: usize = 64;

/// One event: an optional `event:` name and its data.
#[derive(Debug, Clone)]
pub(crate) struct SseEvent {
    pub(crate) name: Option<&'static str>,
    pub(crate) data: String,
}

impl SseEvent {
    /// An unnamed event.
    pub(crate) fn data(data: impl Into<String>) -> Self {
        SseEvent {
            name: None,
            data: data.into(),
        }
    }

    fn write_to(&self, buf: &mut Vec<u8>) {
        if let Some(name) = self.name {
            buf.extend_from_slice(b"event: ");
            buf.extend_from_slice(name.as_bytes());
            buf.push(b'\n');
        }
        // A line break inside the data would end the field: each line gets its own.
        for line in self.data.split('\n') {
            buf.extend_from_slice(b"data: ");
            buf.extend_from_slice(line.trim_end_matches('\r').as_bytes());
            buf.push(b'\n');
        }
        buf.push(b'\n');
    }
}

/// A `text/event-stream` response of `events`; it ends after the last one.
pub(crate) fn response<S>(events: S) -> Response
where
    S: Stream<Item = SseEvent> + Send + 'static,
{
    let body = futures::stream::unfold(Some(events.boxed()), next_frame);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        // nginx and the like would otherwise hold the stream back.
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(body))
        .expect("static headers are valid")
}

type Events = BoxStream<'static, SseEvent>;

async fn next_frame(
    state: Option<Events>,
) -> Option<(Result<Bytes, std::convert::Infallible>, Option<Events>)> {
    let mut events = state?;
    let first = tokio::select! {
        biased;
        ev = events.next() => ev?,
        () = tokio::time::sleep(KEEP_ALIVE) => {
            return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), Some(events)));
        }
    };
    let mut buf = Vec::with_capacity(first.data.len() + 64);
    first.write_to(&mut buf);
    for _ in 1..BATCH {
        match events.next().now_or_never() {
            Some(Some(ev)) => ev.write_to(&mut buf),
            // The stream ended: this frame is the last.
            Some(None) => return Some((Ok(Bytes::from(buf)), None)),
            None => break,
        }
    }
    Some((Ok(Bytes::from(buf)), Some(events)))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(events: Vec<SseEvent>) -> Vec<String> {
        let body = futures::stream::unfold(Some(futures::stream::iter(events).boxed()), next_frame);
        body.map(|b| String::from_utf8(b.unwrap().to_vec()).unwrap())
            .collect()
            .await
    }

    #[tokio::test]
    async fn ready_events_share_a_frame_and_lines_are_fields() {
        let got = frames(vec![
            SseEvent::data("{\"a\":1}"),
            SseEvent {
                name: Some("message_stop"),
                data: "two\nlines".into(),
            },
            SseEvent::data("[DONE]"),
        ])
        .await;
        assert_eq!(
            got,
            ["data: {\"a\":1}\n\nevent: message_stop\ndata: two\ndata: lines\n\ndata: [DONE]\n\n"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn events_apart_are_sent_apart_and_silence_gets_a_keep_alive() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let events =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
        let mut body = futures::stream::unfold(Some(events.boxed()), next_frame).boxed();
        tx.send(SseEvent::data("1")).await.unwrap();
        assert_eq!(body.next().await.unwrap().unwrap(), "data: 1\n\n");
        // Nothing for longer than the keep-alive interval (the clock is paused and
        // advances by itself while everything waits).
        assert_eq!(body.next().await.unwrap().unwrap(), ": keep-alive\n\n");
        tx.send(SseEvent::data("2")).await.unwrap();
        drop(tx);
        assert_eq!(body.next().await.unwrap().unwrap(), "data: 2\n\n");
        assert!(body.next().await.is_none());
    }
}
