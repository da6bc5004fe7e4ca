//! The web UI in a real browser: `frontend/e2e/chat.e2e.mjs` (playwright-core driving
//! Debian's Chromium) against a real `helix serve` serving `frontend/dist`, with an
//! in-process runner on a real llama-server. Screenshots go to
//! `$CARGO_TARGET_DIR/web-screenshots` (CI keeps them as artifacts).

mod common;

use common::browser::{browser_ready, run_script, screenshots};
use common::engine::{engine, start_helix_with};

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
    run_script("chat.e2e.mjs", &base, &[]).await;
    let shots = screenshots();
    for shot in ["01-sign-in.png", "04-chat.png", "05-chat-toggled-theme.png"] {
        assert!(shots.join(shot).exists(), "{shot}");
    }
}
