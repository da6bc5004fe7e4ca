//! The web UI in a real browser: `frontend/e2e/chat.e2e.mjs` (playwright-core driving
//! Debian's Chromium) against a real `helix serve` serving `frontend/dist`, with an
//! in-process runner on a real llama-server. Screenshots go to
//! `$CARGO_TARGET_DIR/web-screenshots` (CI keeps them as artifacts).

mod common;

use common::engine::{engine, start_helix_with};
use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The browser, node and a built frontend with its node_modules, or `None` (skipped)
/// unless `HELIX_TEST_REQUIRE_BROWSER=1`.
fn browser_ready() -> Option<PathBuf> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_chat_reload_and_share_in_a_real_browser() {
    let Some(frontend) = browser_ready() else {
        return;
    };
    let Some((bin, model)) = engine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let web = frontend.join("dist");
    let runner =
        format!("name=tiny,runtime=llama_cpp,source={model},ctx=1024,parallel=2,binary={bin}");
    let (_helix, base) = start_helix_with(
        dir.path(),
        &[
            "--web-dir",
            web.to_str().unwrap(),
            "--runner-model",
            &runner,
            "--runner-gpu",
            "cpu:2GiB",
        ],
    )
    .await;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("target"));
    let shots = target.join("web-screenshots");
    let out = tokio::process::Command::new("node")
        .arg(frontend.join("e2e/chat.e2e.mjs"))
        .arg(&base)
        .arg(&shots)
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
        "browser e2e failed (screenshots in {}):\n{log}",
        shots.display()
    );
    assert!(log.contains("e2e: ok"), "{log}");
    for shot in ["01-sign-in.png", "04-chat.png", "05-chat-toggled-theme.png"] {
        assert!(shots.join(shot).exists(), "{shot}");
    }
}
