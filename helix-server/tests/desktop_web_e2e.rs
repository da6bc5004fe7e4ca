//! A desktop in a real browser: `frontend/e2e/desktop.e2e.mjs` (playwright-core driving
//! Debian's Chromium, WebCodecs decoding) against a real `helix serve --desktop` on a
//! real Xvfb running two xterms (one red, one reading a line into a file). Screenshots
//! go to `$CARGO_TARGET_DIR/web-screenshots`.

mod common;

use common::engine::start_helix_with;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn xterm(display: &str, args: &[&str]) -> Kill {
    Kill(
        Command::new("xterm")
            .args(["-display", display])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xterm (apt-get install xterm)"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_and_drive_a_desktop_in_a_real_browser() {
    let frontend = repo().join("frontend");
    let ready = std::path::Path::new("/usr/bin/chromium").exists()
        && frontend.join("dist/index.html").exists()
        && frontend.join("node_modules/playwright-core").exists();
    if !ready {
        assert!(
            std::env::var("HELIX_TEST_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "HELIX_TEST_REQUIRE_BROWSER=1 but chromium, frontend/dist or frontend/node_modules is missing"
        );
        eprintln!("browser test not run: chromium or the frontend build is missing");
        return;
    }
    let Some(x) = helix_stream::testing::xvfb(1280, 720) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let typed = dir.path().join("typed.txt");
    let script = format!(
        "read line; printf %s \"$line\" > '{}'; sleep 600",
        typed.display()
    );
    let _input = xterm(
        &x.display,
        &["-geometry", "60x10+0+0", "-e", "sh", "-c", &script],
    );
    let _red = xterm(
        &x.display,
        &[
            "-geometry",
            "66x23+700+100",
            "-bg",
            "red",
            "-e",
            "sleep",
            "600",
        ],
    );
    let desktop = format!("main={}", x.display);
    let web = frontend.join("dist");
    let (_helix, base) = start_helix_with(
        dir.path(),
        &["--desktop", &desktop, "--web-dir", web.to_str().unwrap()],
    )
    .await;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("target"));
    let shots = target.join("web-screenshots");
    let out = tokio::process::Command::new("node")
        .arg(frontend.join("e2e/desktop.e2e.mjs"))
        .arg(&base)
        .arg(&shots)
        .arg(&typed)
        .current_dir(&frontend)
        .output()
        .await
        .unwrap();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{log}");
    assert!(
        out.status.success(),
        "browser e2e failed (screenshots in {}):\n{log}",
        shots.display()
    );
    assert!(log.contains("e2e: ok"), "{log}");
    assert_eq!(std::fs::read_to_string(&typed).unwrap(), "hello helix");
}
