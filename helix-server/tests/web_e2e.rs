//! The web UI in a real browser: `frontend/e2e/chat.e2e.mjs` (playwright-core driving
//! Debian's Chromium) against a real `helix serve` serving `frontend/dist`, with an
//! in-process runner on a real llama-server (and in-process sandboxes on real dockerd
//! where they can run). Screenshots go to
//! `$CARGO_TARGET_DIR/web-screenshots` (CI keeps them as artifacts).

mod common;

use common::browser::{browser_ready, run_script, screenshots};
use common::engine::{engine, free_port, start_helix_at, start_helix_with};
use common::oidc::{provider_dir, start_provider, CLIENT_ID, CLIENT_SECRET};
use common::sandbox_env::{clean_dir, docker_available, rootfs, stop};

/// The busybox image the sandbox steps run.
const IMAGE: &str = "hxtest/busybox:1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_chat_reload_and_share_in_a_real_browser() {
    let Some(frontend) = browser_ready() else {
        return;
    };
    let Some((bin, model)) = engine() else { return };
    // Sandboxes too where they can run (CI requires it; elsewhere their steps are left out
    // and the script says so).
    let sandboxes = docker_available();
    // Sandbox engines need a disk dockerd can use (not /tmp's tmpfs); otherwise a tempdir.
    let tmp = tempfile::tempdir().unwrap();
    let dir = if sandboxes {
        std::path::PathBuf::from("/var/tmp/hxt-web-state")
    } else {
        tmp.path().to_owned()
    };
    clean_dir(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let shots = screenshots();
    let expected = [
        "01-sign-in.png",
        "04-chat.png",
        "04d-edited-and-resent.png",
        "05-chat-toggled-theme.png",
        "11b-runner-tokens.png",
        "15-usage.png",
        "16-orgs.png",
        "17-admin.png",
    ];
    // Shots of an earlier run must not pass for this one's.
    for shot in expected.iter().chain(&["18-sandboxes.png"]) {
        let _ = std::fs::remove_file(shots.join(shot));
    }
    let web = frontend.join("dist");
    let runner =
        format!("name=tiny,runtime=llama_cpp,source={model},ctx=1024,parallel=2,binary={bin}");
    let image = if sandboxes {
        format!("{IMAGE}={}", rootfs(&dir).display())
    } else {
        String::new()
    };
    let mut args = vec![
        "--web-dir",
        web.to_str().unwrap(),
        "--runner-model",
        &runner,
        "--runner-gpu",
        "cpu:2GiB",
    ];
    if sandboxes {
        args.extend([
            "--sandboxes",
            "on",
            "--sandbox-prefix",
            "tsw",
            "--sandbox-warm",
            "1",
            "--sandbox-image",
            &image,
        ]);
    }
    let (helix, base) = start_helix_with(&dir.join("data"), &args).await;
    let extra: Vec<&std::ffi::OsStr> = if sandboxes {
        vec![IMAGE.as_ref()]
    } else {
        vec![]
    };
    run_script("chat.e2e.mjs", &base, &extra).await;
    stop(helix);
    clean_dir(&dir);
    for shot in expected {
        assert!(shots.join(shot).exists(), "{shot}");
    }
    assert_eq!(shots.join("18-sandboxes.png").exists(), sandboxes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_sign_in_through_a_real_provider_in_a_real_browser() {
    let Some(frontend) = browser_ready() else {
        return;
    };
    let Some(provider_dir) = provider_dir() else {
        return;
    };
    // The provider must know the redirect URI, so Helix's port is chosen first.
    let port = free_port();
    let redirect = format!("http://localhost:{port}/api/v1/auth/oidc/callback");
    let provider = start_provider(&provider_dir, &redirect, 60);
    let dir = tempfile::tempdir().unwrap();
    let web = frontend.join("dist");
    let (_helix, base) = start_helix_at(
        dir.path(),
        port,
        &[
            "--web-dir",
            web.to_str().unwrap(),
            "--oidc-issuer",
            &provider.issuer,
            "--oidc-client-id",
            CLIENT_ID,
            "--oidc-client-secret",
            CLIENT_SECRET,
            "--oidc-scopes",
            "email,profile,groups",
            "--oidc-allowed-domains",
            "example.com",
            "--oidc-admin-groups",
            "helix-admins",
        ],
    )
    .await;
    let shots = screenshots();
    let expected = [
        "12-sso-provider.png",
        "13-sso-signed-in.png",
        "14-sso-refused.png",
    ];
    for shot in expected {
        let _ = std::fs::remove_file(shots.join(shot));
    }
    run_script("sso.e2e.mjs", &base, &[]).await;
    for shot in expected {
        assert!(shots.join(shot).exists(), "{shot}");
    }
}
