//! One buffered HTTP exchange with a port of a sandbox, for hosts the control plane
//! cannot reach directly (remote sandbox hosts): the request travels to the host, which
//! makes it on loopback-like local addresses and sends the answer back.
//!
//! HTTP/1.0 with `Connection: close`, so the answer is never chunked and ends at EOF;
//! bodies are capped at [`MAX_BODY`] each way.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{HydraError, Result};

/// Largest request or response body relayed.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(120);

/// Hop-by-hop headers: they describe one connection, never the next.
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// The control plane's credentials: never sent to a sandbox.
const CREDENTIALS: [&str; 4] = ["authorization", "cookie", "x-csrf-token", "x-api-key"];

/// Answer headers that would act on the control plane's origin.
const ORIGIN_WIDE: [&str; 6] = [
    "set-cookie",
    "clear-site-data",
    "strict-transport-security",
    "content-security-policy",
    "content-security-policy-report-only",
    "service-worker-allowed",
];

/// The `Content-Security-Policy` a sandbox's answer is served with: an opaque origin, so
/// its scripts cannot use the viewer's session on the control plane.
pub const ANSWER_CSP: &str = "sandbox allow-scripts allow-forms allow-popups";

/// Whether a caller's request header goes on to the sandbox (lowercase name): not
/// hop-by-hop, not a credential of the control plane.
pub fn request_header_passes(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    !HOP_BY_HOP.contains(&n.as_str()) && !CREDENTIALS.contains(&n.as_str())
}

/// Whether a sandbox's answer header goes back to the caller: not hop-by-hop, nothing
/// that acts on the control plane's origin.
pub fn answer_header_passes(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    request_header_passes(&n) && !ORIGIN_WIDE.contains(&n.as_str())
}

/// A request to relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpExchange {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Headers (hop-by-hop headers and credentials already removed by the caller).
    pub headers: Vec<(String, String)>,
    /// The body.
    #[serde(with = "b64")]
    pub body: Vec<u8>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Headers as sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    #[serde(with = "b64")]
    pub body: Vec<u8>,
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

fn unreachable(target: SocketAddr, e: impl std::fmt::Display) -> HydraError {
    HydraError::Engine {
        message: format!("port {} of the sandbox did not answer: {e}", target.port()),
    }
}

/// Makes the exchange with `target`.
pub async fn exchange(target: SocketAddr, req: &HttpExchange) -> Result<HttpAnswer> {
    let valid_token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    if !valid_token(&req.method)
        || !req.path.starts_with('/')
        || req.path.contains(['\r', '\n', ' '])
    {
        return Err(HydraError::invalid("bad method or path"));
    }
    if req.body.len() > MAX_BODY {
        return Err(HydraError::TooLarge {
            what: "relayed request body",
            size: req.body.len() as u64,
            limit: MAX_BODY as u64,
        });
    }
    let mut head = format!(
        "{} {} HTTP/1.0\r\nHost: {target}\r\nConnection: close\r\n",
        req.method, req.path
    );
    for (k, v) in &req.headers {
        if !request_header_passes(k) || !valid_token(k) || v.contains(['\r', '\n']) {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", req.body.len()));
    let run = async {
        let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target))
            .await
            .map_err(|e| unreachable(target, e))?
            .map_err(|e| unreachable(target, e))?;
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| unreachable(target, e))?;
        stream
            .write_all(&req.body)
            .await
            .map_err(|e| unreachable(target, e))?;
        let mut raw = Vec::new();
        let cap = (MAX_BODY + 64 * 1024) as u64;
        (&mut stream)
            .take(cap + 1)
            .read_to_end(&mut raw)
            .await
            .map_err(|e| unreachable(target, e))?;
        if raw.len() as u64 > cap {
            return Err(HydraError::TooLarge {
                what: "relayed response",
                size: raw.len() as u64,
                limit: MAX_BODY as u64,
            });
        }
        parse_answer(&raw).ok_or_else(|| unreachable(target, "not an HTTP answer"))
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, run)
        .await
        .map_err(|e| unreachable(target, e))?
}

fn parse_answer(raw: &[u8]) -> Option<HttpAnswer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(HttpAnswer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_policy() {
        for h in [
            "Authorization",
            "cookie",
            "X-Api-Key",
            "x-csrf-token",
            "Connection",
            "Host",
        ] {
            assert!(!request_header_passes(h), "{h}");
        }
        assert!(request_header_passes("Accept") && request_header_passes("x-custom"));
        for h in [
            "Set-Cookie",
            "Clear-Site-Data",
            "Strict-Transport-Security",
            "Content-Length",
        ] {
            assert!(!answer_header_passes(h), "{h}");
        }
        assert!(answer_header_passes("content-type") && answer_header_passes("etag"));
    }

    #[tokio::test]
    async fn relays_one_exchange() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            s.write_all(b"HTTP/1.0 201 Created\r\nX-A: b\r\n\r\nbody!")
                .await
                .unwrap();
            req
        });
        let req = HttpExchange {
            method: "POST".into(),
            path: "/x?y=1".into(),
            headers: vec![
                ("X-Test".into(), "1".into()),
                ("Host".into(), "evil".into()),
            ],
            body: b"hi".to_vec(),
        };
        let answer = exchange(addr, &req).await.unwrap();
        assert_eq!(answer.status, 201);
        assert_eq!(answer.body, b"body!");
        assert_eq!(answer.headers, vec![("X-A".to_owned(), "b".to_owned())]);
        let seen = server.await.unwrap();
        assert!(seen.starts_with("POST /x?y=1 HTTP/1.0\r\n"), "{seen}");
        assert!(
            seen.contains("X-Test: 1\r\n")
                && !seen.contains("evil")
                && seen.ends_with("\r\n\r\nhi")
        );
        // Injection and nothing listening.
        let mut bad = req.clone();
        bad.path = "/x HTTP/1.0\r\nX: y".into();
        assert_eq!(
            exchange(addr, &bad).await.unwrap_err().code(),
            "invalid_request"
        );
        assert_eq!(
            exchange(addr, &req).await.unwrap_err().code(),
            "engine_error"
        );
    }
}
