//! Desktops that viewers watch and drive over `/api/v1/desktops/{id}/stream`.
//!
//! `helix serve --desktop ID=DISPLAY` streams an X display the operator runs (site
//! admins only). Each desktop's capture and encoding run in a `helix stream-worker`
//! child process (started with the first viewer, stopped with the last), so a dying
//! X server or encoder never takes the control plane down. Input goes in through XTest;
//! the clipboard is kept in sync both ways.

use anyhow::Context;
use clap::Args;
use helix_stream::gst::{CaptureSpec, EncoderChoice, ProcessSource, StreamSettings, WorkerSpec};
use helix_stream::x11::LazyX11Input;
use helix_stream::Desktop;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Desktop streaming flags of `helix serve` (and `helix stream`).
#[derive(Debug, Clone, Args)]
pub struct DesktopArgs {
    /// Stream a display as a desktop: `ID=DISPLAY`, an X display (`main=:99`) or a
    /// wlroots compositor's socket (`main=wayland:/run/user/1000/wayland-1`); repeatable.
    /// Site administrators may watch and drive it.
    #[arg(long = "desktop", env = "HELIX_DESKTOPS", value_delimiter = ',')]
    pub desktops: Vec<String>,
    /// Encoder: `auto` (the first of nvh264enc, x264enc, openh264enc that works here),
    /// or one of them.
    #[arg(long, env = "HELIX_DESKTOP_ENCODER", default_value = "auto")]
    pub desktop_encoder: String,
    /// Frames per second.
    #[arg(long, env = "HELIX_DESKTOP_FPS", default_value_t = 30)]
    pub desktop_fps: u32,
    /// Starting bitrate in kbit/s (viewers may change it).
    #[arg(long, env = "HELIX_DESKTOP_BITRATE_KBPS", default_value_t = 4000)]
    pub desktop_bitrate_kbps: u32,
}

impl DesktopArgs {
    /// The worker spec for one display.
    pub fn spec(&self, display: &str) -> anyhow::Result<WorkerSpec> {
        let encoder: EncoderChoice = self
            .desktop_encoder
            .parse()
            .map_err(|e| anyhow::anyhow!("--desktop-encoder: {e}"))?;
        let capture = CaptureSpec::from_display(display).map_err(|e| anyhow::anyhow!("{e}"))?;
        let spec = WorkerSpec {
            capture,
            encoder,
            settings: StreamSettings {
                fps: self.desktop_fps,
                bitrate_kbps: self.desktop_bitrate_kbps,
                ..StreamSettings::default()
            },
        };
        // Refuses bad displays and settings now, not at the first viewer.
        WorkerSpec::from_args(&spec.to_args()).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// A desktop and where it comes from.
#[derive(Debug, Clone)]
pub struct DesktopEntry {
    /// The shared stream.
    pub desktop: Desktop,
    /// The X display.
    pub display: String,
}

/// What `GET /api/v1/desktops` tells about a desktop.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DesktopInfo {
    /// The desktop's id (the `ID` of `--desktop ID=DISPLAY`).
    pub id: String,
    /// The X display it streams.
    pub display: String,
    /// Viewers connected now.
    pub viewers: usize,
    /// Whether a capture+encode pipeline runs now.
    pub streaming: bool,
    /// Width of the stream, once known.
    pub width: Option<u32>,
    /// Height of the stream, once known.
    pub height: Option<u32>,
    /// The encoder in use, once known.
    pub encoder: Option<String>,
}

impl DesktopEntry {
    /// Its public description.
    pub fn info(&self) -> DesktopInfo {
        let stats = self.desktop.stats();
        let format = self.desktop.format();
        DesktopInfo {
            id: self.desktop.id().to_owned(),
            display: self.display.clone(),
            viewers: stats.viewers,
            streaming: stats.streaming,
            width: format.as_ref().map(|f| f.width),
            height: format.as_ref().map(|f| f.height),
            encoder: format.map(|f| f.encoder),
        }
    }
}

/// Every configured desktop, by id.
#[derive(Debug, Clone, Default)]
pub struct DesktopRegistry {
    desktops: Arc<BTreeMap<String, DesktopEntry>>,
}

/// The worker command: this same binary's hidden `stream-worker` subcommand.
fn worker_program() -> anyhow::Result<std::path::PathBuf> {
    std::env::current_exe().context("cannot find the helix binary for stream workers")
}

/// Builds one desktop streaming `display` through worker processes.
pub fn desktop(id: &str, display: &str, args: &DesktopArgs) -> anyhow::Result<DesktopEntry> {
    let spec = args.spec(display)?;
    let source = ProcessSource::new(worker_program()?, vec!["stream-worker".into()], spec);
    let desktop = if let Some(socket) = display.strip_prefix("wayland:") {
        // The virtual keyboard and pointer of wlroots compositors (no clipboard yet).
        let input = helix_stream::wl::LazyWaylandInput::new(socket);
        Desktop::new(id, Arc::new(source), Some(Arc::new(input)))
    } else {
        let input = LazyX11Input::new(display).map_err(|e| anyhow::anyhow!("{e}"))?;
        let desktop = Desktop::new(id, Arc::new(source), Some(Arc::new(input)));
        // The display's clipboard, both ways, (re)connecting in the background.
        helix_stream::x11::clipboard::watch(display, &desktop)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        desktop
    };
    Ok(DesktopEntry {
        desktop,
        display: display.to_owned(),
    })
}

impl DesktopRegistry {
    /// The desktops of `--desktop ID=DISPLAY` flags.
    pub fn from_args(args: &DesktopArgs) -> anyhow::Result<Self> {
        let mut desktops = BTreeMap::new();
        for item in args.desktops.iter().filter(|d| !d.trim().is_empty()) {
            let (id, x_display) = item.split_once('=').with_context(|| {
                format!("--desktop {item:?}: expected ID=DISPLAY, e.g. main=:99")
            })?;
            let id = id.trim();
            anyhow::ensure!(
                valid_id(id),
                "--desktop {item:?}: the id must be 1-64 letters, digits, '-' or '_'"
            );
            let x_display = x_display.trim();
            let entry =
                desktop(id, x_display, args).with_context(|| format!("--desktop {item:?}"))?;
            anyhow::ensure!(
                desktops.insert(id.to_owned(), entry).is_none(),
                "--desktop {id}: given twice"
            );
            tracing::info!(desktop = id, display = x_display, "desktop configured");
        }
        Ok(DesktopRegistry {
            desktops: Arc::new(desktops),
        })
    }

    /// One desktop.
    pub fn get(&self, id: &str) -> Option<&DesktopEntry> {
        self.desktops.get(id)
    }

    /// Every desktop, by id.
    pub fn all(&self) -> impl Iterator<Item = &DesktopEntry> {
        self.desktops.values()
    }
}

/// Desktop ids and client ids: short, URL- and log-safe.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
