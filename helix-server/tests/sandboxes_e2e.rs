//! The sandbox API end to end: a real `helix serve --sandboxes on` process running REAL
//! dockerd engines; exec streamed as NDJSON, files, a port through the control plane,
//! who may see what, bad input, and a killed server leaving nothing behind.

mod common;

use common::engine::{start_helix_with, user_key, Proc};
use common::sandbox_env::{clean_dir, docker_available, rootfs, stop};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PREFIX: &str = "tsv";
const IMAGE: &str = "hxtest/busybox:1";
use common::sandbox_env::WWW;

fn leftovers() -> Vec<String> {
    leftovers_of(PREFIX)
}

/// The state folder of the test using `prefix`, as it appears in mount points.
fn state_marker(prefix: &str) -> &'static str {
    if prefix == PREFIX {
        "/hxt-srv-state/"
    } else {
        "/hxt-srv-remote/"
    }
}

fn leftovers_of(prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    for l in String::from_utf8_lossy(&ns.stdout).lines() {
        if l.starts_with(&format!("{prefix}-")) {
            out.push(format!("netns {l}"));
        }
    }
    for e in std::fs::read_dir("/sys/class/net").unwrap().flatten() {
        let n = e.file_name().into_string().unwrap();
        if n.starts_with(&format!("hy{prefix}")) {
            out.push(format!("link {n}"));
        }
    }
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(c) = std::fs::read(p.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(&format!("/run/helix-hydra/{prefix}/")) {
                out.push(format!("process {c}"));
            }
        }
    }
    for m in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
    {
        if m.contains(&format!("/run/helix-hydra/{prefix}/")) || m.contains(state_marker(prefix)) {
            out.push(format!("mount {m}"));
        }
    }
    for ctl in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        if let Ok(rd) = std::fs::read_dir(ctl.path()) {
            for e in rd.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{prefix}-"))
                {
                    out.push(format!("cgroup {}", e.path().display()));
                }
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir("/run/docker/plugins") {
        for e in rd.flatten() {
            let n = e.file_name().into_string().unwrap();
            if n.starts_with(&format!("hydra-{prefix}-")) {
                out.push(format!("plugin socket {n}"));
            }
        }
    }
    out.sort();
    out
}

struct Api {
    http: Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A call that must fail with `status` and the error `code`.
    #[allow(clippy::too_many_arguments)]
    async fn expect_error(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
        code: &str,
        why: &str,
    ) {
        let (st, err) = self.call(key, method.clone(), path, body).await;
        assert_eq!(
            (st, err["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {why}: {err}"
        );
    }

    /// Runs a command; returns the NDJSON events.
    async fn exec(&self, key: &str, id: &str, cmd: &[&str]) -> Vec<Value> {
        let resp = self
            .http
            .post(format!("{}/api/v1/sandboxes/{id}/exec", self.base))
            .bearer_auth(key)
            .json(&json!({"cmd": cmd}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
        let text = resp.text().await.unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
            .collect()
    }
}

fn stdout_of(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "stdout")
        .map(|e| e["data"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_api_end_to_end() {
    if !docker_available() {
        return;
    }
    let dir = PathBuf::from("/var/tmp/hxt-srv-state");
    clean_dir(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let image = format!("{IMAGE}={}", rootfs(&dir).display());
    let data = dir.join("data");
    let args = [
        "--sandboxes",
        "on",
        "--sandbox-prefix",
        PREFIX,
        "--sandbox-warm",
        "1",
        "--sandbox-image",
        &image,
        "--sandbox-max-upload-bytes",
        "1048576",
    ];
    let (mut helix, base) = start_helix_with(&data, &args).await;
    let api = Api {
        http: Client::new(),
        base: base.clone(),
    };
    let admin = user_key(&base, "admin@example.com").await;
    let alice = user_key(&base, "alice@example.com").await;
    let bob = user_key(&base, "bob@example.com").await;

    // Create: owned by the caller, running at once.
    let (st, sbx) = api
        .call(
            Some(&alice),
            Method::POST,
            "/api/v1/sandboxes",
            Some(json!({"image": IMAGE, "labels": {"job": "e2e"}, "timeout": 120})),
        )
        .await;
    assert_eq!(st, 201, "{sbx}");
    let id = sbx["id"].as_str().unwrap().to_owned();
    assert_eq!(sbx["state"], "running");
    assert_eq!(sbx["labels"]["job"], "e2e");
    assert!(sbx["labels"]["helix.owner"].is_string());

    // Exec: stdout, stderr and the exit code, one event per line, exit last.
    let events = api
        .exec(&alice, &id, &["sh", "-c", "echo out; echo err >&2; exit 3"])
        .await;
    assert_eq!(stdout_of(&events), "out\n");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "stderr" && e["data"] == "err\n"),
        "{events:?}"
    );
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "exit", "code": 3, "timed_out": false})
    );

    // Files round trip, listing, bad paths, oversized uploads.
    let put = |path: &str, body: Vec<u8>| {
        api.http
            .put(format!("{base}/api/v1/sandboxes/{id}/files"))
            .query(&[("path", path)])
            .bearer_auth(&alice)
            .body(body)
            .send()
    };
    assert_eq!(
        put("/data/in.txt", b"payload".to_vec())
            .await
            .unwrap()
            .status(),
        204
    );
    let got = api
        .http
        .get(format!("{base}/api/v1/sandboxes/{id}/files"))
        .query(&[("path", "/data/in.txt")])
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"payload");
    let (st, listing) = api
        .call(
            Some(&alice),
            Method::GET,
            &format!("/api/v1/sandboxes/{id}/dir?path=/data"),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(listing[0]["name"], "in.txt");
    assert_eq!(listing[0]["kind"], "file");
    api.expect_error(
        Some(&alice),
        Method::GET,
        &format!("/api/v1/sandboxes/{id}/files?path=/data/../etc/passwd"),
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_path",
        "",
    )
    .await;
    api.expect_error(
        Some(&alice),
        Method::GET,
        &format!("/api/v1/sandboxes/{id}/files?path=/nope"),
        None,
        StatusCode::NOT_FOUND,
        "file_not_found",
        "",
    )
    .await;
    let resp = put("/data/big", vec![0u8; 1024 * 1024 + 1]).await.unwrap();
    assert_eq!(resp.status(), 413);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "too_large");
    let events = api.exec(&alice, &id, &["sh", "-c", "ls /data"]).await;
    assert_eq!(
        stdout_of(&events),
        "in.txt\n",
        "nothing of the oversized upload was written"
    );

    // A port of the sandbox, reached through the control plane.
    let events = api
        .exec(&alice, &id, &["httpd", "-p", "8000", "-h", "/www"])
        .await;
    assert_eq!(events.last().unwrap()["code"], 0);
    let mut body = String::new();
    for _ in 0..50 {
        let r = api
            .http
            .get(format!("{base}/api/v1/sandboxes/{id}/ports/8000/"))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            body = r.text().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(body, WWW);
    let r = api
        .http
        .get(format!("{base}/api/v1/sandboxes/{id}/ports/8001/"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502, "nothing listens on 8001");

    // Who may see what: the owner and site admins; anyone else gets not-found; no key 401.
    let paths: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/sandboxes/{id}"), None),
        (
            Method::POST,
            format!("/api/v1/sandboxes/{id}/exec"),
            Some(json!({"cmd": ["true"]})),
        ),
        (
            Method::GET,
            format!("/api/v1/sandboxes/{id}/files?path=/data/in.txt"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/sandboxes/{id}/dir?path=/"),
            None,
        ),
        (Method::GET, format!("/api/v1/sandboxes/{id}/logs"), None),
        (
            Method::POST,
            format!("/api/v1/sandboxes/{id}/timeout"),
            Some(json!({"timeout": 60})),
        ),
        (
            Method::GET,
            format!("/api/v1/sandboxes/{id}/ports/8000/"),
            None,
        ),
        (Method::DELETE, format!("/api/v1/sandboxes/{id}"), None),
    ];
    for (m, p, b) in &paths {
        api.expect_error(
            Some(&bob),
            m.clone(),
            p,
            b.clone(),
            StatusCode::NOT_FOUND,
            "sandbox_not_found",
            "as bob",
        )
        .await;
        let (st, _) = api.call(None, m.clone(), p, b.clone()).await;
        assert_eq!(st, 401, "anonymous {m} {p}");
    }
    let (st, _) = api
        .call(
            Some(&admin),
            Method::GET,
            &format!("/api/v1/sandboxes/{id}"),
            None,
        )
        .await;
    assert_eq!(st, 200, "site admins see every sandbox");
    let (_, list) = api
        .call(Some(&bob), Method::GET, "/api/v1/sandboxes", None)
        .await;
    assert_eq!(list, json!([]));
    let (_, list) = api
        .call(Some(&alice), Method::GET, "/api/v1/sandboxes", None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (st, _) = api
        .call(
            Some(&alice),
            Method::POST,
            "/api/v1/sandboxes",
            Some(json!({"image": IMAGE, "labels": {"helix.owner": "me"}})),
        )
        .await;
    assert_eq!(st, 422, "reserved labels are refused");

    // Bad input.
    api.expect_error(
        Some(&alice),
        Method::POST,
        "/api/v1/sandboxes",
        Some(json!({"image": "nope/none:1"})),
        StatusCode::NOT_FOUND,
        "image_not_found",
        "",
    )
    .await;
    let (st, _) = api
        .call(
            Some(&alice),
            Method::POST,
            "/api/v1/sandboxes",
            Some(json!({"image": IMAGE, "imag": 1})),
        )
        .await;
    assert_eq!(st, 422, "unknown fields");
    let r = api
        .http
        .post(format!("{base}/api/v1/sandboxes"))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(r.status() == 400 || r.status() == 422, "{}", r.status());
    api.expect_error(
        Some(&alice),
        Method::GET,
        "/api/v1/sandboxes/sbx_../../etc",
        None,
        StatusCode::NOT_FOUND,
        "sandbox_not_found",
        "",
    )
    .await;

    // Exec in a stopped sandbox; then kill.
    api.exec(&alice, &id, &["kill", "-TERM", "1"]).await;
    let mut code = None;
    for _ in 0..50 {
        let (st, err) = api
            .call(
                Some(&alice),
                Method::POST,
                &format!("/api/v1/sandboxes/{id}/exec"),
                Some(json!({"cmd": ["true"]})),
            )
            .await;
        if st == 409 {
            code = err["error"]["code"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code.as_deref(), Some("sandbox_not_running"));
    let (st, _) = api
        .call(
            Some(&alice),
            Method::DELETE,
            &format!("/api/v1/sandboxes/{id}"),
            None,
        )
        .await;
    assert_eq!(st, 204);
    let (st, _) = api
        .call(
            Some(&alice),
            Method::GET,
            &format!("/api/v1/sandboxes/{id}"),
            None,
        )
        .await;
    assert_eq!(st, 404);

    // The same through the CLI, as a CI job would.
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_helix"))
            .arg("sandbox")
            .args(args)
            .env("HELIX_SERVER", &base)
            .env("HELIX_API_KEY", &alice)
            .output()
            .unwrap()
    };
    let out = cli(&[
        "create",
        "--image",
        IMAGE,
        "--env",
        "WHO=cli",
        "--timeout",
        "60",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cid = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(cid.starts_with("sbx_"), "{cid}");
    let job = dir.join("job.sh");
    std::fs::write(&job, "echo hello $WHO; echo warn >&2; exit 4\n").unwrap();
    let out = cli(&["put", &cid, job.to_str().unwrap(), "/work/job.sh"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["exec", &cid, "--", "sh", "/work/job.sh"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "the command's exit code is the CLI's"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello cli\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "warn\n");
    let out = cli(&[
        "exec",
        &cid,
        "--",
        "sh",
        "-c",
        "echo result > /work/out.txt",
    ]);
    assert!(out.status.success());
    let out = cli(&["get", &cid, "/work/out.txt"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "result\n");
    let out = cli(&["ls"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&cid));
    let out = cli(&["kill", &cid]);
    assert!(out.status.success());
    let out = cli(&["kill", &cid]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sandbox_not_found (404)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Kill the server with a sandbox running; a restart leaves nothing of it behind.
    let (st, _) = api
        .call(
            Some(&alice),
            Method::POST,
            "/api/v1/sandboxes",
            Some(json!({"image": IMAGE})),
        )
        .await;
    assert_eq!(st, 201);
    assert!(
        leftovers().iter().any(|l| l.contains("dockerd")),
        "{:?}",
        leftovers()
    );
    helix.0.kill().unwrap();
    helix.0.wait().unwrap();
    drop(helix);
    let args = [
        "--sandboxes",
        "on",
        "--sandbox-prefix",
        PREFIX,
        "--sandbox-warm",
        "0",
    ];
    let (helix, base) = start_helix_with(&data, &args).await;
    assert_eq!(
        leftovers(),
        Vec::<String>::new(),
        "the restarted server collected everything"
    );
    let (_, list) = Api {
        http: Client::new(),
        base,
    }
    .call(Some(&alice), Method::GET, "/api/v1/sandboxes", None)
    .await;
    assert_eq!(list, json!([]));
    stop(helix);
    assert_eq!(leftovers(), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&dir);
}

async fn wait_for_host(api: &Api, admin: &str, host: &str) {
    for _ in 0..600 {
        let (st, hosts) = api
            .call(Some(admin), Method::GET, "/api/v1/sandbox-hosts", None)
            .await;
        assert_eq!(st, 200, "{hosts}");
        if hosts.as_array().unwrap().iter().any(|h| h["id"] == host) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("sandbox host {host} did not connect");
}

fn sandbox_host(base: &str, token: &str, dir: &Path, image: &str) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_helix"))
        .args([
            "sandbox-host",
            "--server",
            base,
            "--token",
            token,
            "--sandbox-prefix",
            REMOTE_PREFIX,
        ])
        .args(["--sandbox-warm", "0", "--sandbox-image", image])
        .args(REMOTE_POOLS)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    Proc(child)
}

const REMOTE_PREFIX: &str = "tsr";
/// Its own ranges: two sandbox hosts on one machine must not share them.
const REMOTE_POOLS: [&str; 4] = [
    "--sandbox-uplink-pool",
    "10.252.0.0/16",
    "--sandbox-container-pool",
    "10.144.0.0/12",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_sandbox_host_dials_in_and_serves_sandboxes() {
    if !docker_available() {
        return;
    }
    let dir = PathBuf::from("/var/tmp/hxt-srv-remote");
    clean_dir(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let image = format!("{IMAGE}={}", rootfs(&dir).display());
    let (helix, base) = start_helix_with(&dir.join("cp"), &["--sandboxes", "off"]).await;
    let api = Api {
        http: Client::new(),
        base: base.clone(),
    };
    let admin = user_key(&base, "admin@example.com").await;
    let alice = user_key(&base, "alice@example.com").await;
    let bob = user_key(&base, "bob@example.com").await;

    // No host yet: creating is refused, not hung.
    api.expect_error(
        Some(&alice),
        Method::POST,
        "/api/v1/sandboxes",
        Some(json!({"image": IMAGE})),
        StatusCode::SERVICE_UNAVAILABLE,
        "at_capacity",
        "",
    )
    .await;

    // A bad token is refused and the host says so.
    let out = Command::new(env!("CARGO_BIN_EXE_helix"))
        .args([
            "sandbox-host",
            "--server",
            &base,
            "--token",
            "hxr-not-a-token",
            "--sandbox-prefix",
            REMOTE_PREFIX,
            "--sandbox-warm",
            "0",
        ])
        .args(REMOTE_POOLS)
        .arg("--data-dir")
        .arg(dir.join("badhost"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused the token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (st, tok) = api
        .call(
            Some(&admin),
            Method::POST,
            "/api/v1/runner-tokens",
            Some(json!({"runner_id": "box-1"})),
        )
        .await;
    assert_eq!(st, 201, "{tok}");
    let token = tok["token"].as_str().unwrap().to_owned();
    let host_dir = dir.join("host");
    let mut host = sandbox_host(&base, &token, &host_dir, &image);
    wait_for_host(&api, &admin, "box-1").await;
    let (st, _) = api
        .call(Some(&alice), Method::GET, "/api/v1/sandbox-hosts", None)
        .await;
    assert_eq!(st, 403, "only site admins see hosts");

    // The sandbox runs on the remote host; the API is the same.
    let (st, sbx) = api
        .call(
            Some(&alice),
            Method::POST,
            "/api/v1/sandboxes",
            Some(json!({"image": IMAGE})),
        )
        .await;
    assert_eq!(st, 201, "{sbx}");
    let id = sbx["id"].as_str().unwrap().to_owned();
    assert!(leftovers_of(REMOTE_PREFIX)
        .iter()
        .any(|l| l.contains("dockerd")));
    let events = api
        .exec(
            &alice,
            &id,
            &["sh", "-c", "echo remote; echo oops >&2; exit 5"],
        )
        .await;
    assert_eq!(stdout_of(&events), "remote\n");
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "exit", "code": 5, "timed_out": false})
    );
    let put = api
        .http
        .put(format!("{base}/api/v1/sandboxes/{id}/files"))
        .query(&[("path", "/w/f.bin")])
        .bearer_auth(&alice)
        .body(vec![0u8, 1, 2, 255])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let got = api
        .http
        .get(format!("{base}/api/v1/sandboxes/{id}/files"))
        .query(&[("path", "/w/f.bin")])
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), &[0u8, 1, 2, 255]);
    api.expect_error(
        Some(&alice),
        Method::GET,
        &format!("/api/v1/sandboxes/{id}/files?path=/w/../x"),
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_path",
        "",
    )
    .await;
    api.expect_error(
        Some(&alice),
        Method::GET,
        &format!("/api/v1/sandboxes/{id}/files?path=/nope"),
        None,
        StatusCode::NOT_FOUND,
        "file_not_found",
        "codes cross the link",
    )
    .await;
    let (st, list) = api
        .call(Some(&alice), Method::GET, "/api/v1/sandboxes", None)
        .await;
    assert_eq!((st, list.as_array().unwrap().len()), (StatusCode::OK, 1));
    let (st, _) = api
        .call(
            Some(&bob),
            Method::GET,
            &format!("/api/v1/sandboxes/{id}"),
            None,
        )
        .await;
    assert_eq!(st, 404, "owners only, on remote hosts too");
    // A port of the remote sandbox, relayed through the host's link.
    let events = api
        .exec(&alice, &id, &["httpd", "-p", "8000", "-h", "/www"])
        .await;
    assert_eq!(events.last().unwrap()["code"], 0);
    let mut body = String::new();
    for _ in 0..50 {
        let r = api
            .http
            .get(format!(
                "{base}/api/v1/sandboxes/{id}/ports/8000/index.html?x=1"
            ))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            assert!(r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .starts_with("sandbox"));
            body = r.text().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        body, WWW,
        "a remote sandbox's port answers through the control plane"
    );
    let r = api
        .http
        .get(format!("{base}/api/v1/sandboxes/{id}/ports/8001/"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502, "nothing listens on 8001");

    // The host dies: its sandboxes are unavailable, not lost from the API's view.
    host.0.kill().unwrap();
    host.0.wait().unwrap();
    drop(host);
    let mut code = None;
    for _ in 0..100 {
        let (st, err) = api
            .call(
                Some(&alice),
                Method::GET,
                &format!("/api/v1/sandboxes/{id}"),
                None,
            )
            .await;
        if st == 503 {
            code = err["error"]["code"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code.as_deref(), Some("host_unavailable"));

    // It comes back: everything of its previous run is collected; the sandbox is gone.
    let host = sandbox_host(&base, &token, &host_dir, &image);
    wait_for_host(&api, &admin, "box-1").await;
    assert_eq!(leftovers_of(REMOTE_PREFIX), Vec::<String>::new());
    let (st, _) = api
        .call(
            Some(&alice),
            Method::GET,
            &format!("/api/v1/sandboxes/{id}"),
            None,
        )
        .await;
    assert_eq!(st, 404);

    // A sandbox on the new link, then a clean stop of the host removes it.
    let (st, sbx) = api
        .call(
            Some(&alice),
            Method::POST,
            "/api/v1/sandboxes",
            Some(json!({"image": IMAGE})),
        )
        .await;
    assert_eq!(st, 201, "{sbx}");
    stop(host);
    assert_eq!(leftovers_of(REMOTE_PREFIX), Vec::<String>::new());
    stop(helix);
    let _ = std::fs::remove_dir_all(&dir);
}
