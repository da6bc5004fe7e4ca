//! Desktops: `GET /api/v1/desktops`, `GET /api/v1/desktops/{id}` and the stream
//! `GET /api/v1/desktops/{id}/stream` (one WebSocket per viewer: video out, input in;
//! protocol in `docs/stream-protocol.md`).
//!
//! Desktops given with `--desktop` are the operator's: site administrators only.
//! Everyone else gets `desktop_not_found`, as for an id that does not exist.

use super::ws::origin_ok;
use crate::desktops::{valid_id, DesktopEntry, DesktopInfo};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiQuery, Auth};
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use futures::{SinkExt, StreamExt};
use helix_core::Principal;
use helix_stream::{serve_viewer, ViewerOptions, WsIn, WsOut, MAX_FRAME_LEN};
use serde::Deserialize;
use tracing::Instrument;

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "desktop_not_found",
        format!("no desktop {id:?}"),
    )
}

/// The desktop if `p` may watch and drive it.
fn visible<'a>(s: &'a AppState, p: &Principal, id: &str) -> Result<&'a DesktopEntry, ApiError> {
    match s.desktops.get(id) {
        Some(d) if p.is_admin() => Ok(d),
        _ => Err(not_found(id)),
    }
}

#[utoipa::path(get, path = "/api/v1/desktops", tag = "desktops",
    responses((status = 200, body = Vec<DesktopInfo>, description = "the desktops you may watch"),
              (status = 401, body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<DesktopInfo>>> {
    if !p.is_admin() {
        return Ok(Json(Vec::new()));
    }
    Ok(Json(s.desktops.all().map(DesktopEntry::info).collect()))
}

#[utoipa::path(get, path = "/api/v1/desktops/{id}", tag = "desktops",
    params(("id" = String, Path, description = "desktop id")),
    responses((status = 200, body = DesktopInfo), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`desktop_not_found`")))]
pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<DesktopInfo>> {
    Ok(Json(visible(&s, &p, &id)?.info()))
}

/// Query of the stream endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Identifies the viewer (a browser tab): a newer connection with the same id
    /// closes the older one with code 4001. 1-64 letters, digits, `-`, `_`.
    pub client_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/desktops/{id}/stream", tag = "desktops",
    params(("id" = String, Path, description = "desktop id"), StreamQuery),
    responses((status = 101, description = "WebSocket of the stream protocol (docs/stream-protocol.md)"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "foreign origin"),
              (status = 404, body = ErrorBody, description = "`desktop_not_found`"),
              (status = 422, body = ErrorBody, description = "bad client_id")))]
pub async fn stream(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<StreamQuery>,
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
    let desktop = visible(&s, &p, &id)?.desktop.clone();
    if let Some(c) = &q.client_id {
        if !valid_id(c) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                "client_id must be 1-64 letters, digits, '-' or '_'",
            ));
        }
    }
    let options = ViewerOptions {
        // Per user: nobody can close another user's viewer by guessing its id.
        client_id: q.client_id.map(|c| format!("{}:{c}", p.user.id)),
        can_input: true,
        ..ViewerOptions::default()
    };
    let metrics = s.metrics.clone();
    let span = tracing::info_span!("desktop_stream", desktop = %id, user = %p.user.id);
    // Signed out (or the key revoked) while watching: the stream ends.
    let creds = helix_core::Credentials::from_headers(&axum::http::Method::GET, &headers);
    let (cp, every) = (s.cp.clone(), s.http.live_reauth_every);
    Ok(upgrade
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_FRAME_LEN * 2)
        .on_upgrade(move |socket| {
            async move {
                metrics.desktop_viewers.inc();
                let (incoming, outgoing) = adapt(socket);
                // Signed out: the session ends as if the viewer had closed, so the keys
                // and buttons it holds on the desktop are released.
                let gone = futures::stream::once(async move {
                    let e = super::ws::signed_out(&cp, &creds, every).await;
                    tracing::info!(error = %e, "viewer signed out: stream closed");
                    WsIn::Close
                });
                // The socket's end is said as a Close too: `select` ends only when both
                // streams have, so a bare end would go unnoticed.
                let incoming = incoming.chain(futures::stream::once(async { WsIn::Close }));
                let incoming: Incoming = Box::pin(futures::stream::select(incoming, gone));
                serve_viewer(&desktop, options, incoming, outgoing).await;
                metrics.desktop_viewers.dec();
            }
            .instrument(span)
        }))
}

pub(crate) type Incoming = std::pin::Pin<Box<dyn futures::Stream<Item = WsIn> + Send>>;
pub(crate) type Outgoing = std::pin::Pin<Box<dyn futures::Sink<WsOut, Error = axum::Error> + Send>>;

/// The socket as the stream session's messages.
pub(crate) fn adapt(socket: WebSocket) -> (Incoming, Outgoing) {
    let (sink, stream) = socket.split();
    let incoming = stream.filter_map(|m| async move {
        match m {
            Ok(Message::Binary(b)) => Some(WsIn::Binary(b.to_vec())),
            Ok(Message::Text(t)) => Some(WsIn::Text(t.to_string())),
            Ok(Message::Close(_)) | Err(_) => Some(WsIn::Close),
            Ok(_) => None, // pings are answered by the library
        }
    });
    let outgoing = sink.with(|o: WsOut| async move {
        Ok::<_, axum::Error>(match o {
            WsOut::Binary(b) => Message::Binary(b.into()),
            WsOut::Close { code, reason } => Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })),
        })
    });
    (Box::pin(incoming), Box::pin(outgoing))
}
