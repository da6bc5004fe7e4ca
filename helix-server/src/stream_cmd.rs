//! `helix stream --display :99`: one desktop streamed to browsers on its own, without a
//! control plane, to try streaming out or to watch a local display.
//!
//! It serves the web UI's stand-alone viewer (`viewer.html` of `frontend/dist`) and the
//! stream at `/stream`. Nobody gets in without the random token in the printed URL; it
//! listens on loopback unless told otherwise.

use crate::desktops::{desktop, valid_id, DesktopArgs};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::Args;
use helix_stream::{serve_viewer, Desktop, ViewerOptions};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Flags of `helix stream`.
#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    /// The display to stream: an X display (`:99`) or `wayland:SOCKET` (a wlroots
    /// compositor such as Sway).
    #[arg(long, env = "DISPLAY")]
    pub display: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// The web UI's build (for `viewer.html`); default `frontend/dist`.
    #[arg(long, default_value = "frontend/dist")]
    pub web_dir: PathBuf,
    /// Only watch: input from viewers is refused.
    #[arg(long)]
    pub view_only: bool,
    /// The access token (default: a random one, printed in the URL).
    #[arg(long, env = "HELIX_STREAM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Encoder, frame rate and bitrate.
    #[command(flatten)]
    pub encoding: DesktopArgs,
}

struct Shared {
    desktop: Desktop,
    token: String,
    web_dir: PathBuf,
    view_only: bool,
}

#[derive(Debug, Deserialize)]
struct StreamQuery {
    token: Option<String>,
    client_id: Option<String>,
}

/// Runs until interrupted.
pub async fn run(args: StreamArgs) -> anyhow::Result<()> {
    let entry = desktop("local", &args.display, &args.encoding)?;
    let token = match args.token.clone() {
        Some(t) => t,
        None => {
            use rand::Rng;
            let bytes: [u8; 16] = rand::thread_rng().gen();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
    };
    anyhow::ensure!(token.len() >= 16, "--token must be at least 16 characters");
    if !args.web_dir.join("viewer.html").is_file() {
        tracing::warn!(dir = %args.web_dir.display(), "no viewer.html: build the web UI (cd frontend && npm ci && npm run build)");
    }
    let shared = Arc::new(Shared {
        desktop: entry.desktop,
        token: token.clone(),
        web_dir: args.web_dir.clone(),
        view_only: args.view_only,
    });
    let app = Router::new()
        .route("/stream", get(stream))
        .fallback(page)
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let addr = listener.local_addr()?;
    println!("streaming {} at http://{addr}/?token={token}", args.display);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn page(State(s): State<Arc<Shared>>, uri: Uri, headers: axum::http::HeaderMap) -> Response {
    crate::routes::web::serve(&s.web_dir, uri.path(), "viewer.html", &headers).await
}

async fn stream(
    State(s): State<Arc<Shared>>,
    Query(q): Query<StreamQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let given = q.token.unwrap_or_default();
    let ok: bool = subtle_eq(given.as_bytes(), s.token.as_bytes());
    if !ok {
        return (StatusCode::UNAUTHORIZED, "a valid ?token= is required").into_response();
    }
    if q.client_id.as_deref().is_some_and(|c| !valid_id(c)) {
        return (StatusCode::UNPROCESSABLE_ENTITY, "bad client_id").into_response();
    }
    let options = ViewerOptions {
        client_id: q.client_id,
        can_input: !s.view_only,
        ..ViewerOptions::default()
    };
    // Viewer frames are small (input); video goes the other way.
    upgrade
        .max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            let (incoming, outgoing) = crate::routes::desktop_socket(socket);
            serve_viewer(&s.desktop, options, incoming, outgoing).await;
        })
}

/// Compares without an early exit on the first differing byte.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
