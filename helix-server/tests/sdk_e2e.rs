//! The SDKs end to end against a REAL `helix serve` with a real engine (llama.cpp) and
//! real sandboxes (a dockerd per sandbox): first the Rust `helix-client` here, then the
//! Python (pytest) and Node (`node --test`) suites of `bindings/`, run on the packages
//! as installed from the built wheel / tarball (scripts/test.sh builds them with
//! bindings/build.sh and names them in HELIX_SDK_PYTHON / HELIX_SDK_NODE_DIR), then the
//! uniffi-generated Python bindings (`bindings/uniffi`, HELIX_SDK_UNIFFI_DIR), then the
//! Python and Node examples (examples/run.sh). The suites also run sandboxes in their own
//! process (`LocalSandboxes`, from the rootfs in HELIX_LOCAL_ROOTFS).

mod common;

use common::engine::{add_endpoint, admin_key, engine, start_helix_with, start_llama, user_key};
use common::sandbox_env::{clean_dir, docker_available, rootfs, stop};
use helix_client::{ChatChunk, Client, ExecSpec, NewSession, SandboxSpec};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const IMAGE: &str = "hxtest/busybox:1";
const MODEL: &str = "llama/tiny";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdks_against_a_real_server() {
    let Some((bin, model)) = engine() else { return };
    if !docker_available() {
        return;
    }
    let (_llama, llama_url) = start_llama(&bin, &model, &["-c", "2048"]).await;
    let dir = PathBuf::from("/var/tmp/hxt-sdk-state");
    clean_dir(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let tar = rootfs(&dir);
    let image = format!("{IMAGE}={}", tar.display());
    let args = [
        "--sandboxes",
        "on",
        "--sandbox-prefix",
        "tsd",
        "--sandbox-warm",
        "1",
        "--sandbox-image",
        &image,
    ];
    let (helix, base) = start_helix_with(&dir.join("data"), &args).await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let admin = admin_key(&http, &base).await;
    add_endpoint(&base, &admin, "llama", &llama_url).await;
    let alice = user_key(&base, "alice@example.com").await;
    let bob = user_key(&base, "bob@example.com").await;

    rust_client(&base, &alice, &bob).await;

    let env = [
        ("HELIX_URL", base.as_str()),
        ("HELIX_API_KEY", alice.as_str()),
        ("HELIX_OTHER_API_KEY", bob.as_str()),
        ("HELIX_CHAT_MODEL", MODEL),
        ("HELIX_SANDBOX_IMAGE", IMAGE),
        ("HELIX_LOCAL_ROOTFS", tar.to_str().unwrap()),
    ];
    let mut failed = Vec::new();
    for (suite, var) in [
        ("python", "HELIX_SDK_PYTHON"),
        ("node", "HELIX_SDK_NODE_DIR"),
        ("uniffi", "HELIX_SDK_UNIFFI_DIR"),
        ("examples", "HELIX_SDK_NODE_DIR"),
    ] {
        // The examples need both SDKs.
        let var = if suite == "examples" && std::env::var_os(var).is_some() {
            "HELIX_SDK_PYTHON"
        } else {
            var
        };
        if std::env::var_os(var).is_none() {
            assert!(
                std::env::var("HELIX_TEST_REQUIRE_SDK").as_deref() != Ok("1"),
                "HELIX_TEST_REQUIRE_SDK=1 but {var} is not set (bindings/build.sh)"
            );
            eprintln!("{var} not set: the {suite} SDK suite was not run (bindings/build.sh)");
            continue;
        }
        if !run_suite(suite, &env) {
            failed.push(suite);
        }
    }
    stop(helix);
    clean_dir(&dir);
    assert!(failed.is_empty(), "SDK suites failed: {failed:?}");
}

/// `bindings/run-tests.sh SUITE` (or `examples/run.sh`) with the server described in
/// the environment.
fn run_suite(suite: &str, env: &[(&str, &str)]) -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new("bash");
    if suite == "examples" {
        cmd.arg(root.join("examples/run.sh"));
    } else {
        cmd.arg(root.join("bindings/run-tests.sh")).arg(suite);
    }
    let status = cmd
        .envs(env.iter().copied())
        .status()
        .expect("run bindings/run-tests.sh");
    status.success()
}

/// The same ground through the Rust client the bindings wrap.
async fn rust_client(base: &str, alice: &str, bob: &str) {
    let client = Client::new(base, alice).unwrap();
    let models = client.list_models().await.unwrap();
    assert!(models.iter().any(|m| m.id == MODEL), "{models:?}");

    // Streaming chat: text in pieces, then the finished answer, kept by the server.
    let session = client
        .create_session(NewSession {
            model: Some(MODEL.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut stream = client.chat(session.id.as_str(), "hello").await.unwrap();
    let mut text = String::new();
    let mut pieces = 0;
    let done = loop {
        match stream.next_chunk().await.unwrap() {
            Some(ChatChunk::Text(t)) => {
                pieces += 1;
                text.push_str(&t);
            }
            Some(ChatChunk::Done(i)) => break i,
            None => panic!("the stream ended without an answer"),
        }
    };
    assert!(pieces >= 2, "one piece only: {text:?}");
    assert_eq!(done.content, text);
    assert!(stream.next_chunk().await.unwrap().is_none());
    let kept = client.get_session(session.id.as_str()).await.unwrap();
    assert_eq!(kept.interactions.len(), 2);
    assert_eq!(kept.interactions[1].content, text);

    // Errors keep the server's codes.
    let other = Client::new(base, bob).unwrap();
    let e = other.get_session(session.id.as_str()).await.unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (Some(404), "not_found"));
    let e = Client::new(base, "hx-wrong")
        .unwrap()
        .list_sessions()
        .await
        .unwrap_err();
    assert_eq!(e.status, Some(401));
    client.delete_session(session.id.as_str()).await.unwrap();

    // A sandbox: a command with its output, a file both ways, kill.
    let mut sbx = client
        .create_sandbox(SandboxSpec {
            image: IMAGE.into(),
            timeout: Some(Duration::from_secs(120)),
            ..Default::default()
        })
        .await
        .unwrap();
    let out = sbx
        .run(ExecSpec::new(["sh", "-c", "echo hi; echo no >&2; exit 2"]))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice(), out.exit_code),
        (&b"hi\n"[..], &b"no\n"[..], 2)
    );
    sbx.write_file("/data/x.txt", &b"round trip"[..])
        .await
        .unwrap();
    assert_eq!(
        sbx.read_file("/data/x.txt").await.unwrap().as_ref(),
        b"round trip"
    );
    assert_eq!(sbx.list_dir("/data").await.unwrap()[0].name, "x.txt");
    assert_eq!(
        other.connect_sandbox(sbx.id()).await.unwrap_err().code,
        "sandbox_not_found"
    );
    // Killed twice (a cleanup path after an explicit kill): no error. A handle of the
    // same sandbox that does not know it is gone asks the server, which says so; that
    // counts as killed too.
    let mut stale = client.connect_sandbox(sbx.id()).await.unwrap();
    sbx.kill().await.unwrap();
    assert_eq!(sbx.info().state, helix_client::SandboxState::Stopped);
    sbx.kill().await.unwrap();
    stale.kill().await.unwrap();
    assert_eq!(stale.info().state, helix_client::SandboxState::Stopped);
    assert!(client
        .connect_sandbox(sbx.id())
        .await
        .unwrap_err()
        .is_not_found());
}
