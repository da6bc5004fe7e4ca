//! A small, allocation-bounded parser for server-sent events (`text/event-stream`).

use crate::error::{CoreError, Result};

/// Longest event accepted; an upstream sending more without a blank line is broken.
pub const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// One event: its `event:` name (if any) and its `data:` lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field.
    pub event: Option<String>,
    /// The `data:` field(s).
    pub data: String,
}

/// Feeds bytes in, takes complete events out. Chunk boundaries may fall anywhere,
/// including inside a UTF-8 sequence or between `\r` and `\n`.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    /// A new parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>> {
        self.buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some((end, sep)) = find_blank_line(&self.buf) {
            let block: Vec<u8> = self.buf.drain(..end + sep).take(end).collect();
            if let Some(ev) = parse_block(&block) {
                events.push(ev);
            }
        }
        if self.buf.len() > MAX_EVENT_BYTES {
            return Err(CoreError::Upstream {
                status: None,
                message: "upstream sent an oversized event".into(),
            });
        }
        Ok(events)
    }

    /// The event left when the stream ends without a final blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let block = std::mem::take(&mut self.buf);
        parse_block(&block)
    }
}

/// Position and length of the first event separator (`\n\n`, `\r\n\r\n`, `\r\r`).
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 1 < buf.len() {
        match (buf[i], buf[i + 1]) {
            (b'\n', b'\n') | (b'\r', b'\r') => return Some((i, 2)),
            (b'\r', b'\n') if buf.get(i + 2..i + 4) == Some(b"\r\n") => return Some((i, 4)),
            _ => i += 1,
        }
    }
    None
}

fn parse_block(block: &[u8]) -> Option<SseEvent> {
    let text = String::from_utf8_lossy(block);
    let mut event = None;
    let mut data: Option<String> = None;
    for line in text.split(['\n', '\r']).filter(|l| !l.is_empty()) {
        if line.starts_with(':') {
            continue; // comment / keep-alive
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            "event" => event = Some(value.to_owned()),
            _ => {}
        }
    }
    data.map(|data| SseEvent { event, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "data: {\"a\":1}\n\n: keep-alive\n\nevent: error\ndata: {\"b\":\"é\"}\r\n\r\ndata: x\ndata: y\n\ndata: [DONE]\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                event: None,
                data: "{\"a\":1}".into(),
            },
            SseEvent {
                event: Some("error".into()),
                data: "{\"b\":\"é\"}".into(),
            },
            SseEvent {
                event: None,
                data: "x\ny".into(),
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
            },
        ]
    }

    #[test]
    fn parses_events_whatever_the_chunking() {
        let bytes = STREAM.as_bytes();
        for chunk in 1..=bytes.len() {
            let mut p = SseParser::new();
            let mut got = Vec::new();
            for c in bytes.chunks(chunk) {
                got.extend(p.push(c).unwrap());
            }
            assert_eq!(got, expected(), "chunk size {chunk}");
            assert_eq!(p.finish(), None);
        }
    }

    #[test]
    fn unterminated_last_event_and_oversize() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: tail").unwrap().is_empty());
        assert_eq!(p.finish().unwrap().data, "tail");
        let mut p = SseParser::new();
        let err = p.push(&vec![b'x'; MAX_EVENT_BYTES + 1]).unwrap_err();
        assert_eq!(err.code().as_str(), "upstream_error");
    }
}
