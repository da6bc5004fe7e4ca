//! Carries the sandbox-host protocol's text messages over a WebSocket transport (the
//! runner protocol's [`Frame`] stream, on both ends).

use futures::{SinkExt, StreamExt};
use helix_sched::protocol::Frame;
use helix_sched::runner::BoxTransport;
use tokio::sync::mpsc;

/// Channels for a transport: `(incoming, outgoing)`. The link closes when either side
/// ends; binary frames are a protocol error and close it.
pub fn bridge(transport: BoxTransport) -> (mpsc::Receiver<String>, mpsc::Sender<String>) {
    let (in_tx, in_rx) = mpsc::channel::<String>(256);
    let (out_tx, mut out_rx) = mpsc::channel::<String>(256);
    tokio::spawn(async move {
        let (mut sink, mut stream) = transport.split();
        loop {
            tokio::select! {
                frame = stream.next() => match frame {
                    Some(Frame::Text(t)) => {
                        if in_tx.send(t).await.is_err() {
                            break;
                        }
                    }
                    Some(Frame::Binary(_)) => {
                        let _ = sink.send(Frame::Close(4000, "binary frames are not part of this protocol".into())).await;
                        break;
                    }
                    Some(Frame::Close(..)) | None => break,
                },
                msg = out_rx.recv() => match msg {
                    Some(t) => {
                        if sink.send(Frame::Text(t)).await.is_err() {
                            break;
                        }
                    }
                    None => {
                        let _ = sink.send(Frame::Close(1000, String::new())).await;
                        break;
                    }
                },
            }
        }
    });
    (in_rx, out_tx)
}
