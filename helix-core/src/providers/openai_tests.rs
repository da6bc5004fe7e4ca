use super::*;
use crate::providers::{ChatMessage, ChatRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads one HTTP/1.1 request (headers and a Content-Length body); false at EOF.
async fn read_request(sock: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                return true;
            }
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn answer(sock: &mut TcpStream) {
    let body = r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}]}"#;
    let resp = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(resp.as_bytes()).await.unwrap();
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![ChatMessage {
            role: "user".into(),
            content: Some(Value::from("hi")),
            extra: Default::default(),
        }],
        stream: None,
        extra: Default::default(),
    }
}

#[tokio::test]
async fn a_keep_alive_connection_closed_by_the_upstream_is_retried_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        // First connection: one answer, then the next request on it is dropped without
        // a response, the way a server closing an idle keep-alive connection looks.
        let (mut first, _) = listener.accept().await.unwrap();
        assert!(read_request(&mut first).await);
        answer(&mut first).await;
        assert!(read_request(&mut first).await);
        drop(first);
        // The retry comes on a new connection.
        let (mut second, _) = listener.accept().await.unwrap();
        assert!(read_request(&mut second).await);
        answer(&mut second).await;
        second
    });
    let p = OpenAiProvider::new(reqwest::Client::new(), &base, None);
    assert_eq!(
        p.chat(&request()).await.unwrap()["choices"][0]["message"]["content"],
        "hi"
    );
    let v = p
        .chat(&request())
        .await
        .expect("sent again on a new connection");
    assert_eq!(v["choices"][0]["message"]["content"], "hi");
    server.await.unwrap();
}

#[tokio::test]
async fn an_upstream_that_keeps_closing_fails_with_the_cause() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = requests.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            if read_request(&mut s).await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    });
    let p = OpenAiProvider::new(reqwest::Client::new(), &base, None);
    let e = p.chat(&request()).await.unwrap_err();
    // Sent twice (the first try and the one retry), never more.
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
    let CoreError::Upstream { status, message } = e else {
        panic!("{e:?}")
    };
    assert_eq!(status, None);
    assert!(
        message.contains("connection closed before message completed"),
        "{message}"
    );
}

#[tokio::test]
async fn a_connection_that_breaks_after_a_while_is_not_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = requests.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            if read_request(&mut s).await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // The model "works" on it, then the upstream dies without answering.
                tokio::time::sleep(STALE_WITHIN * 2).await;
            }
        }
    });
    let p = OpenAiProvider::new(reqwest::Client::new(), &base, None);
    p.chat(&request()).await.unwrap_err();
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
}
