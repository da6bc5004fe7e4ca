//! `helix serve`: build the control plane from configuration and run the HTTP server.

use crate::config::{Mode, RunnerPoolArgs, ServeConfig};
use crate::state::{AppState, HttpSettings};
use anyhow::Context;
use helix_core::auth::oidc::{GroupRole, OidcConfig};
use helix_core::{ControlPlane, KeySource, SecretBox, SqlStore, Store};
use helix_sched::hub::{HubConfig, LocalConnector, RunnerHub, RunnerPool};
use helix_sched::scheduler::Prewarm;
use std::sync::Arc;
use std::time::Duration;

/// Builds the application state: opens the store, loads secrets, checks production
/// requirements.
pub async fn build_state(cfg: &ServeConfig) -> anyhow::Result<AppState> {
    let public_url = cfg.public_url();
    if cfg.mode == Mode::Production {
        let problems = helix_core::secrets::production_problems(
            cfg.encryption_key.as_deref(),
            cfg.public_url.as_deref(),
            cfg.oidc.oidc_client_secret.as_deref(),
        );
        anyhow::ensure!(
            problems.is_empty(),
            "refusing to start in production mode:\n  - {}",
            problems.join("\n  - ")
        );
    }
    let store = match &cfg.database_url {
        Some(url) => SqlStore::connect(url)
            .await
            .context("cannot open the database")?,
        None => SqlStore::open_sqlite_dir(&cfg.data_dir)
            .await
            .context("cannot open the embedded database")?,
    };
    tracing::info!(backend = store.backend().as_str(), "database ready");
    let (secrets, source) =
        SecretBox::load_or_generate(cfg.encryption_key.as_deref(), &cfg.data_dir)?;
    match source {
        KeySource::Generated(path) => tracing::warn!(
            path = %path.display(),
            "generated an encryption key for secrets at rest; back it up, or set HELIX_ENCRYPTION_KEY"
        ),
        KeySource::File(path) => {
            tracing::info!(path = %path.display(), "using the encryption key from the data dir")
        }
        _ => {}
    }
    let mut builder = ControlPlane::builder();
    if let Some(url) = cfg
        .database_url
        .as_deref()
        .filter(|_| store.backend() == helix_core::Backend::Postgres)
    {
        // Several replicas may share this database: events go through it.
        builder = builder.events(Arc::new(
            helix_core::events::PgEventBus::connect(url).await?,
        ));
    }
    let hub = RunnerHub::new(hub_config(&cfg.runners)?);
    let pool = RunnerPool::new(
        hub.clone(),
        Duration::from_secs(cfg.runners.runner_queue_wait_secs),
    );
    let mut builder = builder
        .runner_pool(Arc::new(pool))
        .store(Arc::new(store))
        .secrets(secrets)
        .registration_enabled(!cfg.disable_registration)
        .allow_private_upstreams(cfg.allow_private_upstreams)
        .auth_cache_ttl(std::time::Duration::from_secs(cfg.auth_cache_secs))
        .session_ttl(chrono::Duration::hours(i64::from(cfg.session_ttl_hours)));
    if let Some(oidc) = oidc_config(cfg, &public_url)? {
        builder = builder.oidc(oidc);
    }
    let http = HttpSettings {
        public_url,
        max_body_bytes: cfg.max_body_bytes,
        request_timeout: Duration::from_secs(cfg.request_timeout_secs),
        web_dir: web_dir(cfg)?,
        live_reauth_every: Duration::from_secs(cfg.live_reauth_secs),
        trusted_proxies: cfg.trusted_proxies.clone(),
    };
    let cp = builder.build()?;
    if let Err(e) = cp.ensure_runner_endpoint().await {
        // For example a global endpoint already named `runners` of another kind.
        tracing::warn!(error = %e, "cannot create the runners endpoint; runner models are reachable only by defaults");
    }
    let mut state = AppState::new(cp, http).with_runners(hub);
    let local = crate::sandbox_host::start(&cfg.sandboxes, &cfg.data_dir).await?;
    state = state.with_fleet(local);
    state.desktops = crate::desktops::DesktopRegistry::from_args(&cfg.desktops)?;
    Ok(state)
}

/// The web UI's folder: `--web-dir`, else `frontend/dist` under the current directory
/// when it holds a build. Must contain `index.html`.
fn web_dir(cfg: &ServeConfig) -> anyhow::Result<Option<std::path::PathBuf>> {
    let dir = match &cfg.web_dir {
        Some(d) => d.clone(),
        None => {
            let d = std::path::PathBuf::from("frontend/dist");
            if !d.join("index.html").is_file() {
                tracing::info!("no web UI build (frontend/dist): serving the API only");
                return Ok(None);
            }
            d
        }
    };
    anyhow::ensure!(
        dir.join("index.html").is_file(),
        "--web-dir {}: no index.html there (build it: cd frontend && npm ci && npm run build)",
        dir.display()
    );
    let dir = std::fs::canonicalize(&dir)?;
    tracing::info!(dir = %dir.display(), "serving the web UI");
    Ok(Some(dir))
}

/// The scheduler's settings from flags.
fn hub_config(r: &RunnerPoolArgs) -> anyhow::Result<HubConfig> {
    let mut cfg = HubConfig::default();
    cfg.scheduler.keep_alive = Duration::from_secs(r.runner_keep_alive_secs);
    for p in r.runner_prewarm.iter().filter(|p| !p.is_empty()) {
        let (model, n) = p
            .split_once('=')
            .with_context(|| format!("bad prewarm {p:?}: expected model=instances"))?;
        cfg.scheduler.prewarm.push(Prewarm {
            model: model.trim().to_owned(),
            instances: n
                .trim()
                .parse()
                .with_context(|| format!("bad prewarm {p:?}: instances must be a number"))?,
        });
    }
    Ok(cfg)
}

fn oidc_config(cfg: &ServeConfig, public_url: &str) -> anyhow::Result<Option<OidcConfig>> {
    let o = &cfg.oidc;
    let Some(issuer) = &o.oidc_issuer else {
        return Ok(None);
    };
    let client_id = o
        .oidc_client_id
        .clone()
        .context("HELIX_OIDC_CLIENT_ID is required with HELIX_OIDC_ISSUER")?;
    let mut c = OidcConfig::new(
        issuer,
        client_id,
        format!("{public_url}/api/v1/auth/oidc/callback"),
    );
    c.client_secret = o.oidc_client_secret.clone();
    c.scopes = o
        .oidc_scopes
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    c.allowed_email_domains = o
        .oidc_allowed_domains
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    c.groups_claim = o.oidc_groups_claim.clone();
    c.admin_groups = o
        .oidc_admin_groups
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    c.group_roles = o
        .oidc_group_roles
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<GroupRole>())
        .collect::<Result<_, _>>()?;
    Ok(Some(c))
}

/// Sets `TCP_NODELAY` on every accepted connection. Streams (SSE, WebSocket) are
/// written as many small frames; with Nagle's algorithm on, each small write after the
/// first waits for the client's delayed ACK (~40 ms).
pub fn nodelay(
    listener: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    fn set(tcp: &mut tokio::net::TcpStream) {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    }
    listener.tap_io(set as fn(&mut tokio::net::TcpStream))
}

/// Runs the server until SIGINT or SIGTERM, then drains in-flight requests.
pub async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    let state = build_state(&cfg).await?;
    let listener = tokio::net::TcpListener::bind((cfg.host.as_str(), cfg.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", cfg.host, cfg.port))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, public_url = %state.http.public_url, "helix listening");
    let janitor = tokio::spawn(cleanup_loop(state.cp.clone()));
    let cp = state.cp.clone();
    let hub = state.runners.clone();
    let sandbox_host = state.sandbox_host.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let local_runner = match (
        &hub,
        cfg.runners.runner_models.iter().any(|m| !m.is_empty()),
    ) {
        (Some(hub), true) => Some(crate::runner_cmd::spawn_local(
            &crate::runner_cmd::LocalRunnerArgs {
                models: cfg.runners.runner_models.clone(),
                gpus: cfg.runners.runner_gpus.clone(),
                state_dir: cfg.data_dir.join("runner"),
            },
            Arc::new(LocalConnector::new(hub.clone(), LOCAL_RUNNER_ID.into())),
            stop_rx,
        )?),
        _ => None,
    };
    let app = crate::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(nodelay(listener), app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    janitor.abort();
    let _ = stop_tx.send(true);
    if let Some(task) = local_runner {
        // The in-process runner stops its engines before we exit.
        let _ = tokio::time::timeout(Duration::from_secs(20), task).await;
    }
    if let Some(hub) = hub {
        hub.shutdown();
    }
    if let Some(host) = sandbox_host {
        // Sandboxes do not outlive the control plane that owns them (yet).
        host.shutdown().await;
    }
    cp.store().close().await;
    tracing::info!("helix stopped");
    Ok(())
}

async fn cleanup_loop(cp: ControlPlane) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match cp.cleanup_expired_sessions().await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "expired login sessions removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "session cleanup failed"),
        }
    }
}

/// The runner id of `helix serve`'s in-process runner.
pub const LOCAL_RUNNER_ID: &str = "local";

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: draining in-flight requests");
}
