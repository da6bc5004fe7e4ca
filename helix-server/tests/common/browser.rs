//! Browser tests: Debian's Chromium driven by playwright-core scripts in
//! `frontend/e2e/`, against a built `frontend/dist`.

use std::path::PathBuf;
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// `frontend/` when the browser, node and a built frontend with its node_modules are
/// there, or `None` (skipped) unless `HELIX_TEST_REQUIRE_BROWSER=1`.
pub fn browser_ready() -> Option<PathBuf> {
    let frontend = repo().join("frontend");
    let chromium = std::env::var("HELIX_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing: Vec<&str> = [
        (!std::path::Path::new(&chromium).exists())
            .then_some("chromium (apt-get install chromium)"),
        (!frontend.join("dist/index.html").exists()).then_some("frontend/dist (npm run build)"),
        (!frontend.join("node_modules/playwright-core").exists())
            .then_some("frontend/node_modules (npm ci)"),
        Command::new("node")
            .arg("--version")
            .output()
            .is_err()
            .then_some("node"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return Some(frontend);
    }
    assert!(
        std::env::var("HELIX_TEST_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "HELIX_TEST_REQUIRE_BROWSER=1 but missing: {missing:?}"
    );
    eprintln!("browser test not run: missing {missing:?}");
    None
}

/// Where screenshots go: `$CARGO_TARGET_DIR/web-screenshots`.
pub fn screenshots() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("target"))
        .join("web-screenshots")
}

/// Runs `frontend/e2e/SCRIPT BASE SCREENSHOTS EXTRA...`; fails the test unless it exits
/// 0 and prints `e2e: ok`. Returns its output.
pub async fn run_script(script: &str, base: &str, extra: &[&std::ffi::OsStr]) -> String {
    let frontend = repo().join("frontend");
    let shots = screenshots();
    let out = tokio::process::Command::new("node")
        .arg(frontend.join("e2e").join(script))
        .arg(base)
        .arg(&shots)
        .args(extra)
        .current_dir(&frontend)
        .output()
        .await
        .unwrap();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "browser e2e {script} failed (screenshots in {}):\n{log}",
        shots.display()
    );
    assert!(log.contains("e2e: ok"), "{log}");
    log
}
