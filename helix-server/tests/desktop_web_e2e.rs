//! A desktop in a real browser: `frontend/e2e/desktop.e2e.mjs` (playwright-core driving
//! Debian's Chromium, WebCodecs decoding) against a real `helix serve --desktop` on a
//! real Xvfb running two xterms (one red, one reading a line into a file). Screenshots
//! go to `$CARGO_TARGET_DIR/web-screenshots`.

mod common;

use common::browser::{browser_ready, run_script};
use common::engine::start_helix_with;
use std::process::{Child, Command, Stdio};

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
    let Some(frontend) = browser_ready() else {
        return;
    };
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
    let log = run_script("desktop.e2e.mjs", &base, &[typed.as_os_str()]).await;
    eprintln!("{log}");
    assert_eq!(std::fs::read_to_string(&typed).unwrap(), "hello helix");
}
