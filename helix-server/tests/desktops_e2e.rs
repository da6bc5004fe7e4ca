//! Desktop streaming through a real `helix serve --desktop main=:N` on a real Xvfb:
//! who may see and open a desktop, the stream protocol over a real WebSocket (hello,
//! init, keyframe first, pings), malformed frames answered without ending the session,
//! a superseded connection, and a display that dies without taking the server down.

mod common;

use common::engine::{start_helix_with, user_key};
use futures::{SinkExt, StreamExt};
use helix_stream::protocol::{close_code, error_code};
use helix_stream::{ClientMessage, Codec, ServerMessage, PROTOCOL_VERSION};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(base: &str, key: &str, path: &str) -> Result<Ws, String> {
    let url = format!("{}{path}", base.replace("http://", "ws://"));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

async fn send(ws: &mut Ws, m: ClientMessage) {
    ws.send(Message::Binary(m.encode().unwrap().into()))
        .await
        .unwrap();
}

/// The next protocol message, or the close frame's code.
async fn recv(ws: &mut Ws) -> Result<ServerMessage, u16> {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("a message within 20 s");
        match m {
            Some(Ok(Message::Binary(b))) => {
                return Ok(ServerMessage::decode(&b).expect("a valid server frame"))
            }
            Some(Ok(Message::Close(c))) => {
                return Err(c.map(|c| u16::from(c.code)).unwrap_or(1005))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket error: {e}"),
            None => return Err(1006),
        }
    }
}

/// Skips video until a message that is not a frame.
async fn recv_control(ws: &mut Ws) -> Result<ServerMessage, u16> {
    loop {
        match recv(ws).await? {
            ServerMessage::VideoFrame { .. } => continue,
            other => return Ok(other),
        }
    }
}

fn error_code_of(m: &ServerMessage) -> u16 {
    match m {
        ServerMessage::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktops_stream_over_one_websocket_to_whoever_may_see_them() {
    let Some(x) = helix_stream::testing::xvfb(1280, 720) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let desktop = format!("main={}", x.display);
    let (_helix, base) = start_helix_with(
        dir.path(),
        &["--desktop", &desktop, "--live-reauth-secs", "1"],
    )
    .await;
    let admin = user_key(&base, "admin@example.com").await;
    let user = user_key(&base, "user@example.com").await;
    let http = reqwest::Client::new();
    let get = |key: &str, path: &str| http.get(format!("{base}{path}")).bearer_auth(key).send();

    // Who sees what.
    let list: serde_json::Value = get(&admin, "/api/v1/desktops")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["id"], "main");
    assert_eq!(list[0]["display"], x.display.as_str());
    assert_eq!(list[0]["streaming"], false);
    let list: serde_json::Value = get(&user, "/api/v1/desktops")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list,
        serde_json::json!([]),
        "the operator's desktops are for site admins"
    );
    for (key, path) in [
        (&user, "/api/v1/desktops/main"),
        (&admin, "/api/v1/desktops/nope"),
    ] {
        let r = get(key, path).await.unwrap();
        assert_eq!(r.status(), 404);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "desktop_not_found");
    }
    let r = http
        .get(format!("{base}/api/v1/desktops"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let err = open(&base, &user, "/api/v1/desktops/main/stream")
        .await
        .unwrap_err();
    assert!(err.contains("404"), "{err}");
    let err = open(
        &base,
        &admin,
        "/api/v1/desktops/main/stream?client_id=a%20b",
    )
    .await
    .unwrap_err();
    assert!(err.contains("422"), "{err}");
    let err = open(&base, "hx-wrong", "/api/v1/desktops/main/stream")
        .await
        .unwrap_err();
    assert!(err.contains("401"), "{err}");

    // The session: hello, init, stream info, then video from a keyframe.
    let mut a = open(
        &base,
        &admin,
        "/api/v1/desktops/main/stream?client_id=tab-1",
    )
    .await
    .unwrap();
    send(
        &mut a,
        ClientMessage::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .await;
    assert_eq!(
        recv(&mut a).await.unwrap(),
        ServerMessage::Init {
            version: 1,
            width: 1280,
            height: 720,
            codec: Codec::H264
        }
    );
    let ServerMessage::StreamInfo {
        encoder,
        bitrate_kbps,
        fps,
    } = recv(&mut a).await.unwrap()
    else {
        panic!("stream info after init");
    };
    assert!(!encoder.is_empty());
    assert_eq!((bitrate_kbps, fps), (4000, 30));
    let ServerMessage::VideoFrame { keyframe, data, .. } = recv(&mut a).await.unwrap() else {
        panic!("video");
    };
    assert!(
        keyframe && data.starts_with(&[0, 0, 0, 1]),
        "Annex B keyframe first"
    );
    let info: serde_json::Value = get(&admin, "/api/v1/desktops/main")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (info["viewers"].as_u64(), info["streaming"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(1280), Some(720))
    );

    // Bad frames get an error each; the session goes on.
    let bad: [&[u8]; 4] = [
        &[1],
        &[1, 0x86, 1],
        &[9, 0x83, 0, 0, 0, 0, 0, 0, 0, 0],
        &[1, 0x7F],
    ];
    let want = [
        error_code::MALFORMED_MESSAGE,
        error_code::MALFORMED_MESSAGE,
        error_code::UNSUPPORTED_VERSION,
        error_code::MALFORMED_MESSAGE,
    ];
    for (frame, code) in bad.iter().zip(want) {
        a.send(Message::Binary(frame.to_vec().into()))
            .await
            .unwrap();
        assert_eq!(
            error_code_of(&recv_control(&mut a).await.unwrap()),
            code,
            "{frame:?}"
        );
    }
    a.send(Message::Text("{\"type\":\"hello\"}".into()))
        .await
        .unwrap();
    assert_eq!(
        error_code_of(&recv_control(&mut a).await.unwrap()),
        error_code::MALFORMED_MESSAGE
    );
    send(&mut a, ClientMessage::SetBitrate { kbps: 2000 }).await;
    let ServerMessage::StreamInfo { bitrate_kbps, .. } = recv_control(&mut a).await.unwrap() else {
        panic!("a bitrate change is announced");
    };
    assert_eq!(bitrate_kbps, 2000);
    send(&mut a, ClientMessage::Ping { client_ts_us: 42 }).await;
    let ServerMessage::Pong {
        client_ts_us,
        server_ts_us,
    } = recv_control(&mut a).await.unwrap()
    else {
        panic!("pong");
    };
    assert_eq!(client_ts_us, 42);
    assert!(
        server_ts_us > 1_600_000_000_000_000,
        "server clock in µs since the epoch"
    );
    // Input is accepted (XTest on the display): no error comes back.
    send(&mut a, ClientMessage::MouseMove { x: 10, y: 10 }).await;
    send(&mut a, ClientMessage::Text { text: "hi".into() }).await;
    send(&mut a, ClientMessage::Ping { client_ts_us: 43 }).await;
    assert!(matches!(
        recv_control(&mut a).await.unwrap(),
        ServerMessage::Pong {
            client_ts_us: 43,
            ..
        }
    ));

    // A viewer that does not start with hello is told so and closed.
    let mut rude = open(&base, &admin, "/api/v1/desktops/main/stream")
        .await
        .unwrap();
    send(&mut rude, ClientMessage::Ping { client_ts_us: 1 }).await;
    assert_eq!(
        error_code_of(&recv(&mut rude).await.unwrap()),
        error_code::MALFORMED_MESSAGE
    );
    assert_eq!(
        recv(&mut rude).await.unwrap_err(),
        close_code::PROTOCOL_ERROR
    );

    // The same tab reconnecting supersedes the old socket, which is closed with 4001.
    let mut b = open(
        &base,
        &admin,
        "/api/v1/desktops/main/stream?client_id=tab-1",
    )
    .await
    .unwrap();
    send(&mut b, ClientMessage::Hello { version: 1 }).await;
    assert!(matches!(
        recv(&mut b).await.unwrap(),
        ServerMessage::Init { .. }
    ));
    assert_eq!(
        recv_control(&mut a).await.unwrap_err(),
        close_code::SUPERSEDED
    );
    assert!(matches!(
        recv(&mut b).await.unwrap(),
        ServerMessage::StreamInfo { .. }
    ));
    assert!(matches!(
        recv(&mut b).await.unwrap(),
        ServerMessage::VideoFrame { keyframe: true, .. }
    ));

    // Signed out while watching (here: the viewer's key revoked): the stream ends
    // within the re-check interval (1 s here).
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login: serde_json::Value = browser
        .post(format!("{base}/api/v1/auth/login"))
        .json(
            &serde_json::json!({"email": "admin@example.com", "password": "correct horse battery"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = login["csrf_token"].as_str().unwrap().to_owned();
    let key: serde_json::Value = browser
        .post(format!("{base}/api/v1/api-keys"))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"name": "viewer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut c = open(
        &base,
        key["key"].as_str().unwrap(),
        "/api/v1/desktops/main/stream?client_id=tab-2",
    )
    .await
    .unwrap();
    send(&mut c, ClientMessage::Hello { version: 1 }).await;
    assert!(matches!(
        recv(&mut c).await.unwrap(),
        ServerMessage::Init { .. }
    ));
    let r = browser
        .delete(format!(
            "{base}/api/v1/api-keys/{}",
            key["id"].as_str().unwrap()
        ))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match c.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its revoked key");

    // The display dies: its viewers are told and closed; the server lives on.
    drop(x);
    let m = recv_control(&mut b).await.unwrap();
    assert_eq!(error_code_of(&m), error_code::STREAM_UNAVAILABLE, "{m:?}");
    assert_eq!(recv(&mut b).await.unwrap_err(), close_code::UNAVAILABLE);
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert!(r.status().is_success(), "the control plane is still up");
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("helix_desktop_viewers 0"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wayland_desktop_streams_and_takes_input() {
    let bindings = "bindsym z exec touch {dir}/typed-z";
    let Some(sway) = helix_stream::testing::sway_with(800, 600, "#00ff00", bindings) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let desktop = format!("wl=wayland:{}", sway.socket.display());
    let (_helix, base) = start_helix_with(dir.path(), &["--desktop", &desktop]).await;
    let admin = user_key(&base, "admin@example.com").await;
    let mut ws = open(&base, &admin, "/api/v1/desktops/wl/stream")
        .await
        .unwrap();
    send(&mut ws, ClientMessage::Hello { version: 1 }).await;
    assert_eq!(
        recv(&mut ws).await.unwrap(),
        ServerMessage::Init {
            version: 1,
            width: 800,
            height: 600,
            codec: Codec::H264
        }
    );
    assert!(matches!(
        recv(&mut ws).await.unwrap(),
        ServerMessage::StreamInfo { .. }
    ));
    assert!(matches!(
        recv(&mut ws).await.unwrap(),
        ServerMessage::VideoFrame { keyframe: true, .. }
    ));
    // The browser's key reaches Sway through the virtual keyboard (its binding fires).
    send(&mut ws, ClientMessage::MouseMove { x: 1, y: 1 }).await;
    send(&mut ws, ClientMessage::KeyDown { code: 0x1D }).await; // HID z
    send(&mut ws, ClientMessage::KeyUp { code: 0x1D }).await;
    send(&mut ws, ClientMessage::Ping { client_ts_us: 5 }).await;
    assert!(matches!(
        recv_control(&mut ws).await.unwrap(),
        ServerMessage::Pong {
            client_ts_us: 5,
            ..
        }
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !sway.dir().join("typed-z").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the key did not reach the compositor"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
