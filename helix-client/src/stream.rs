//! Line framing of streamed answers: server-sent events and NDJSON.

use crate::error::{Error, Result, INVALID_RESPONSE, STREAM_ERROR};
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::StreamExt;
use serde::de::DeserializeOwned;

/// The largest record (line or event) accepted: 16 MiB.
const MAX_RECORD: usize = 16 << 20;

/// How records are framed in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `data: ...` lines, events ended by a blank line (`text/event-stream`).
    Sse,
    /// One JSON document per line (`application/x-ndjson`).
    Ndjson,
}

/// Decodes a streamed body into `T`s, one per record, as bytes arrive.
pub(crate) struct Records<T> {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    buf: BytesMut,
    framing: Framing,
    /// `data:` lines of the SSE event being read.
    data: String,
    ended: bool,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Records<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("framing", &self.framing)
            .field("buffered", &self.buf.len())
            .field("ended", &self.ended)
            .finish()
    }
}

impl<T: DeserializeOwned> Records<T> {
    pub(crate) fn new(resp: reqwest::Response, framing: Framing) -> Self {
        Self::from_stream(resp.bytes_stream().boxed(), framing)
    }

    pub(crate) fn from_stream(
        body: BoxStream<'static, reqwest::Result<Bytes>>,
        framing: Framing,
    ) -> Self {
        Records {
            body,
            buf: BytesMut::new(),
            framing,
            data: String::new(),
            ended: false,
            _t: std::marker::PhantomData,
        }
    }

    /// The next record, `None` at the end of the body.
    pub(crate) async fn next(&mut self) -> Result<Option<T>> {
        loop {
            while let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line = self.buf.split_to(i + 1);
                let mut line = &line[..i];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                if let Some(record) = self.line(line)? {
                    return Ok(Some(record));
                }
            }
            if self.ended {
                // A record without its terminator was cut off: never decode half of one.
                let partial =
                    self.buf.iter().any(|b| !b.is_ascii_whitespace()) || !self.data.is_empty();
                self.buf.clear();
                self.data.clear();
                if partial {
                    return Err(Error::new(STREAM_ERROR, "the stream ended inside a record"));
                }
                return Ok(None);
            }
            if self.buf.len() > MAX_RECORD {
                self.ended = true;
                self.buf.clear();
                return Err(Error::new(
                    INVALID_RESPONSE,
                    "a streamed record is too large",
                ));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    self.ended = true;
                    self.buf.clear();
                    self.data.clear();
                    return Err(Error::new(
                        STREAM_ERROR,
                        format!("the stream broke: {}", e.without_url()),
                    ));
                }
                None => self.ended = true,
            }
        }
    }

    fn line(&mut self, line: &[u8]) -> Result<Option<T>> {
        match self.framing {
            Framing::Ndjson => {
                if line.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                decode(line).map(Some)
            }
            Framing::Sse => {
                if line.is_empty() {
                    if self.data.is_empty() {
                        return Ok(None);
                    }
                    let data = std::mem::take(&mut self.data);
                    return decode(data.as_bytes()).map(Some);
                }
                let text = String::from_utf8_lossy(line);
                // Comments (keep-alives) start with ':'; only `data` matters here.
                if let Some(v) = text.strip_prefix("data:") {
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    self.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
                Ok(None)
            }
        }
    }
}

fn decode<T: DeserializeOwned>(data: &[u8]) -> Result<T> {
    // A failure the server reports inside the stream: {"type":"error","code","message"}.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if v["type"] == "error" {
            if let (Some(code), Some(message)) = (v["code"].as_str(), v["message"].as_str()) {
                // The answer's status was 200 already; give the error the status it has
                // before a stream starts, so it maps to the same class.
                let status = match code {
                    "not_found" | "sandbox_not_found" | "file_not_found" => Some(404),
                    "sandbox_not_running" => Some(409),
                    "invalid_request" | "invalid_path" => Some(422),
                    _ => None,
                };
                return Err(Error {
                    status,
                    code: code.into(),
                    message: message.into(),
                });
            }
        }
    }
    serde_json::from_slice(data).map_err(|e| {
        Error::new(
            INVALID_RESPONSE,
            format!(
                "unexpected record {:?}: {e}",
                String::from_utf8_lossy(&data[..data.len().min(200)])
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn records(chunks: &[&'static str], framing: Framing) -> Records<Value> {
        let body = futures::stream::iter(
            chunks
                .iter()
                .map(|c| Ok(Bytes::from_static(c.as_bytes())))
                .collect::<Vec<_>>(),
        );
        Records::from_stream(body.boxed(), framing)
    }

    async fn all(mut r: Records<Value>) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        while let Some(v) = r.next().await? {
            out.push(v);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn sse_events_split_anywhere() {
        let r = records(
            &[
                ": keep-alive\n\nda",
                "ta: {\"a\":1}\r\n\r\ndata: {\"b\"",
                ":2}\n\ndata: {\"c\":3}\n\n",
            ],
            Framing::Sse,
        );
        let got = all(r).await.unwrap();
        assert_eq!(
            got,
            vec![
                serde_json::json!({"a":1}),
                serde_json::json!({"b":2}),
                serde_json::json!({"c":3})
            ]
        );
    }

    #[tokio::test]
    async fn cut_off_records_are_stream_errors() {
        let r = records(&["{\"x\":1}\n{\"x\":"], Framing::Ndjson);
        assert_eq!(all(r).await.unwrap_err().code, STREAM_ERROR);
        let r = records(&["data: {\"a\":1}\n"], Framing::Sse);
        assert_eq!(all(r).await.unwrap_err().code, STREAM_ERROR);
        let r = records(&["{\"x\":1}\n\n"], Framing::Ndjson);
        assert_eq!(all(r).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn ndjson_lines_and_error_records() {
        let r = records(&["{\"x\":1}\n\n{\"x\"", ":2}\n"], Framing::Ndjson);
        assert_eq!(all(r).await.unwrap().len(), 2);
        let r = records(
            &["{\"x\":1}\n{\"type\":\"error\",\"code\":\"sandbox_gone\",\"message\":\"m\"}\n"],
            Framing::Ndjson,
        );
        let e = all(r).await.unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("sandbox_gone", "m"));
        let r = records(
            &["{\"type\":\"error\",\"code\":\"sandbox_not_running\",\"message\":\"m\"}\n"],
            Framing::Ndjson,
        );
        assert_eq!(all(r).await.unwrap_err().status, Some(409));
        let r = records(&["not json\n"], Framing::Ndjson);
        assert_eq!(all(r).await.unwrap_err().code, INVALID_RESPONSE);
    }
}
