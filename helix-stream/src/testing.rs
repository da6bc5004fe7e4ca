//! Real X servers for tests of helix-stream and of crates embedding it: an Xvfb per
//! test, and the switch that turns "not installed" into a failure.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this run must have Xvfb and GStreamer (CI sets `HELIX_TEST_REQUIRE_X11=1`).
pub fn required() -> bool {
    std::env::var("HELIX_TEST_REQUIRE_X11").is_ok_and(|v| v == "1")
}

/// `None` (after saying why) when Xvfb is missing and not required.
pub fn xvfb(width: u32, height: u32) -> Option<Xvfb> {
    let found = Command::new("Xvfb")
        .arg("-help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            !required(),
            "HELIX_TEST_REQUIRE_X11=1 but Xvfb is not installed"
        );
        eprintln!("skipping: Xvfb is not installed (apt-get install xvfb)");
        return None;
    }
    Some(Xvfb::start(width, height))
}

/// An Xvfb server on a free display, killed on drop.
#[derive(Debug)]
pub struct Xvfb {
    /// The display, `:N`.
    pub display: String,
    child: Child,
}

impl Xvfb {
    /// Xvfb picks a free display itself and writes its number to us (`-displayfd`), so
    /// tests running at once never share one.
    pub fn start(width: u32, height: u32) -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &format!("{width}x{height}x24"),
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn Xvfb");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("Xvfb display number");
        let n: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb said {line:?}"));
        let display = format!(":{n}");
        let socket = format!("/tmp/.X11-unix/X{n}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new(&socket).exists() {
            assert!(Instant::now() < deadline, "Xvfb {display} has no socket");
            std::thread::sleep(Duration::from_millis(10));
        }
        Xvfb { display, child }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this run must have Sway and wf-recorder (CI sets `HELIX_TEST_REQUIRE_WAYLAND=1`).
pub fn wayland_required() -> bool {
    std::env::var("HELIX_TEST_REQUIRE_WAYLAND").is_ok_and(|v| v == "1")
}

/// A headless Sway (wlroots, pixman renderer) showing a solid background, or `None`
/// (after saying why) when Sway or wf-recorder is missing and not required. Sway refuses
/// to run as root: as root it runs as the user `helixwl` (scripts/test-deps.sh creates
/// it; `HELIX_TEST_WAYLAND_USER` names another).
pub fn sway(width: u32, height: u32, background: &str) -> Option<Sway> {
    sway_with(width, height, background, "")
}

/// [`sway`] with more lines of Sway configuration (`{dir}` in them is its runtime
/// directory, which the test can read).
pub fn sway_with(width: u32, height: u32, background: &str, config: &str) -> Option<Sway> {
    let missing: Vec<&str> = ["sway", "wf-recorder", "swaybg"]
        .into_iter()
        .filter(|bin| {
            !std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
                .unwrap_or(false)
        })
        .collect();
    if !missing.is_empty() {
        assert!(
            !wayland_required(),
            "HELIX_TEST_REQUIRE_WAYLAND=1 but {missing:?} missing"
        );
        eprintln!("skipping: {missing:?} not installed (apt-get install sway wf-recorder)");
        return None;
    }
    Some(Sway::start(width, height, background, config))
}

/// A headless Sway, killed (with its runtime directory) on drop.
#[derive(Debug)]
pub struct Sway {
    /// The compositor's socket: `$XDG_RUNTIME_DIR/wayland-N`.
    pub socket: std::path::PathBuf,
    dir: std::path::PathBuf,
    child: Child,
}

impl Sway {
    /// Starts one with its own runtime directory and `config` lines.
    pub fn start(width: u32, height: u32, background: &str, extra: &str) -> Sway {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        let user = std::env::var("HELIX_TEST_WAYLAND_USER").unwrap_or_else(|_| "helixwl".into());
        let dir = std::env::temp_dir().join(format!(
            "helix-sway-{}-{}",
            std::process::id(),
            SWAYS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("runtime dir");
        let config = dir.join("config");
        std::fs::write(
            &config,
            format!(
                "output HEADLESS-1 resolution {width}x{height}\noutput * bg {background} solid_color\n{}\n",
                extra.replace("{dir}", &dir.display().to_string())
            ),
        )
        .expect("sway config");
        let mut command = if root {
            let status = Command::new("chown")
                .arg("-R")
                .arg(&user)
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "no user {user} for Sway (scripts/test-deps.sh creates it)"
            );
            let mut c = Command::new("runuser");
            c.args(["-u", &user, "--", "sway"]);
            c
        } else {
            Command::new("sway")
        };
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod");
        let child = command
            .arg("-c")
            .arg(&config)
            .env("XDG_RUNTIME_DIR", &dir)
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sway");
        let deadline = Instant::now() + Duration::from_secs(15);
        let socket = loop {
            let found = std::fs::read_dir(&dir).ok().and_then(|d| {
                d.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
                    p.file_name().is_some_and(|n| {
                        n.to_string_lossy().starts_with("wayland-")
                            && !n.to_string_lossy().ends_with(".lock")
                    })
                })
            });
            if let Some(s) = found {
                break s;
            }
            assert!(Instant::now() < deadline, "Sway did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        // The background is drawn by swaybg, a client started by Sway: give it a moment.
        std::thread::sleep(Duration::from_millis(500));
        Sway { socket, dir, child }
    }

    /// Its runtime directory (where `{dir}` in the configuration points).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

static SWAYS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for Sway {
    fn drop(&mut self) {
        // runuser passes the signal on to Sway.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(self.dir.join("config"))
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
