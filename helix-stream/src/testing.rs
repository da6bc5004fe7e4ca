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
