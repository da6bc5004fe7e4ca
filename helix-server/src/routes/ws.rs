//! `GET /api/v1/ws`: live updates of chat sessions over one WebSocket.
//!
//! Client frames (JSON text): `{"type":"subscribe","session_id":...}`,
//! `{"type":"unsubscribe","session_id":...}`, `{"type":"ping"}`.
//! Server frames: `{"type":"snapshot","session":{...}}` first for each subscription,
//! then `{"type":"event","session_id":...,"event":{...}}` (see `ChatEvent`), and
//! `{"type":"error","session_id":...,"error":{"code","message"}}` for refused
//! subscriptions and bad frames, `{"type":"pong"}`. A subscription's snapshot plus its
//! events hold every delta exactly once, also after a reconnect.
//!
//! The socket checks its credentials again every `live_reauth_every` (15 s): signed out,
//! session expired, key revoked or user removed, it gets an error frame
//! (`session_expired`, `invalid_credentials`, ...) and is closed (code 4401).

use crate::error::{ApiError, ErrorBody};
use crate::extract::Auth;
use crate::state::AppState;
use axum::extract::ws::CloseFrame;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::Method;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use helix_core::auth::AuthMethod;
use helix_core::id::SessionId;
use helix_core::{ControlPlane, CoreError, Credentials, Principal};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

/// Most sessions one socket may follow at once.
const MAX_SUBSCRIPTIONS: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientFrame {
    Subscribe { session_id: String },
    Unsubscribe { session_id: String },
    Ping,
}

/// Browsers send cookies with cross-site WebSocket handshakes where SameSite allows;
/// a cookie-authenticated upgrade must come from Helix's own origin.
pub(super) fn origin_ok(headers: &HeaderMap, p: &Principal, public_url: &str) -> bool {
    if !matches!(p.method, AuthMethod::Session { .. }) {
        return true;
    }
    match headers.get("origin").and_then(|o| o.to_str().ok()) {
        None => true,
        Some(origin) => {
            url::Url::parse(public_url).is_ok_and(|u| u.origin().ascii_serialization() == origin)
        }
    }
}

#[utoipa::path(get, path = "/api/v1/ws", tag = "sessions",
    responses((status = 101, description = "WebSocket for live session updates"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn ws(
    State(s): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if !origin_ok(&headers, &p, &s.http.public_url) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "websocket from a foreign origin",
        ));
    }
    let creds = Credentials::from_headers(&Method::GET, &headers);
    let every = s.http.live_reauth_every;
    Ok(upgrade.on_upgrade(move |socket| run(socket, s.cp, p, creds, every)))
}

/// Completes when the credentials a live connection was opened with stop working
/// (signed out, session expired, key revoked, user removed), checking every `every`. A
/// store that cannot answer right now does not end the connection.
pub(crate) async fn signed_out(
    cp: &ControlPlane,
    creds: &Credentials,
    every: Duration,
) -> CoreError {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match cp.authenticate(creds).await {
            Err(e) if !e.is_internal() => return e,
            _ => {}
        }
    }
}

fn error_frame(session_id: Option<&str>, code: &str, message: &str) -> String {
    json!({"type": "error", "session_id": session_id, "error": {"code": code, "message": message}})
        .to_string()
}

async fn run(
    socket: WebSocket,
    cp: ControlPlane,
    p: Principal,
    creds: Credentials,
    every: Duration,
) {
    let (mut sink, mut incoming) = socket.split();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<String>(256);
    let mut subs: HashMap<SessionId, tokio::task::JoinHandle<()>> = HashMap::new();
    let gone = signed_out(&cp, &creds, every);
    tokio::pin!(gone);
    loop {
        tokio::select! {
            e = &mut gone => {
                let e = ApiError::from(e);
                let _ = sink.send(Message::Text(error_frame(None, e.code, &e.message).into())).await;
                let close = CloseFrame { code: 4401, reason: "signed out".into() };
                let _ = sink.send(Message::Close(Some(close))).await;
                break;
            }
            frame = incoming.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Some(reply) = handle(&cp, &p, text.as_str(), &mut subs, &out_tx).await {
                        if sink.send(Message::Text(reply.into())).await.is_err() { break; }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let reply = error_frame(None, "bad_frame", "frames are JSON text");
                    if sink.send(Message::Text(reply.into())).await.is_err() { break; }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {} // ping/pong are answered by the library
            },
            Some(out) = out_rx.recv() => {
                if sink.send(Message::Text(out.into())).await.is_err() { break; }
            }
        }
    }
    for (_, task) in subs {
        task.abort();
    }
}

/// Handles one client frame; returns a direct reply, if any.
async fn handle(
    cp: &ControlPlane,
    p: &Principal,
    text: &str,
    subs: &mut HashMap<SessionId, tokio::task::JoinHandle<()>>,
    out: &tokio::sync::mpsc::Sender<String>,
) -> Option<String> {
    let frame = match serde_json::from_str::<ClientFrame>(text) {
        Ok(f) => f,
        Err(e) => return Some(error_frame(None, "bad_frame", &e.to_string())),
    };
    match frame {
        ClientFrame::Ping => Some(json!({"type": "pong"}).to_string()),
        ClientFrame::Unsubscribe { session_id } => {
            if let Ok(id) = session_id.parse::<SessionId>() {
                if let Some(task) = subs.remove(&id) {
                    task.abort();
                }
            }
            None
        }
        ClientFrame::Subscribe { session_id } => {
            let id = match session_id.parse::<SessionId>() {
                Ok(id) => id,
                Err(e) => {
                    return Some(error_frame(
                        Some(&session_id),
                        e.code().as_str(),
                        &e.to_string(),
                    ))
                }
            };
            subs.retain(|_, t| !t.is_finished());
            if subs.len() >= MAX_SUBSCRIPTIONS && !subs.contains_key(&id) {
                return Some(error_frame(
                    Some(&session_id),
                    "too_many_subscriptions",
                    "unsubscribe from a session first",
                ));
            }
            let mut feed = match cp.subscribe_session(p, &id).await {
                Ok(feed) => feed,
                Err(e) => {
                    let e = ApiError::from(e);
                    return Some(error_frame(Some(&session_id), e.code, &e.message));
                }
            };
            let out = out.clone();
            let task = tokio::spawn(async move {
                while let Some(item) = feed.next().await {
                    let frame = match item {
                        Ok(item) => serde_json::to_string(&item).unwrap_or_default(),
                        Err(e) => {
                            let e = ApiError::from(e);
                            error_frame(Some(&session_id), e.code, &e.message)
                        }
                    };
                    if out.send(frame).await.is_err() {
                        break;
                    }
                }
            });
            if let Some(old) = subs.insert(id, task) {
                old.abort();
            }
            None
        }
    }
}
