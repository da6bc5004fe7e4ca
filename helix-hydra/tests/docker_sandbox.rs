//! The sandbox API on REAL dockerd engines: exec with streamed output, files, limits,
//! timeouts, bad input, and garbage collection after a crashed host.

mod support;

use std::time::Duration;

use futures::StreamExt;
use helix_hydra::{
    ExecEvent, ExecSpec, FileKind, SandboxId, SandboxRuntime, SandboxSpec, SandboxState,
};
use support::*;

fn state_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(format!("/var/tmp/hxt-state-{prefix}"));
    clean_dir(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_files_limits_and_bad_input() {
    if !docker_available() {
        return;
    }
    let dir = state_dir("tapi");
    let host = start_host("tapi", 20, &dir, false).await;

    // Unknown image: refused before anything is created.
    // A sandbox may not ask for more disk than the host's size.
    let mut huge = SandboxSpec::new(IMAGE);
    huge.limits.disk_bytes = Some(20 << 30);
    assert_eq!(
        host.create(huge).await.unwrap_err().code(),
        "invalid_request"
    );

    let err = host
        .create(SandboxSpec::new("nope/missing:1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "image_not_found");

    let mut spec = SandboxSpec::new(IMAGE);
    spec.env.insert("GREETING".into(), "hello".into());
    spec.labels.insert("job".into(), "ci-42".into());
    spec.limits.memory_bytes = Some(64 * 1024 * 1024);
    spec.limits.pids = Some(64);
    spec.limits.cpus = Some(0.5);
    spec.limits.disk_bytes = Some(256 * 1024 * 1024);
    let sbx = host.create(spec).await.expect("create");
    assert_eq!(sbx.state, SandboxState::Running);
    assert_eq!(sbx.labels["job"], "ci-42");
    assert_eq!(host.list().await.unwrap().len(), 1);

    // Output streams as it is written: the first chunk arrives before the command ends.
    let mut stream = host
        .exec(
            &sbx.id,
            ExecSpec::new(["sh", "-c", "echo $GREETING; sleep 1; echo err >&2; exit 7"]),
        )
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_millis(900), stream.next())
        .await
        .expect("first chunk before the command ends")
        .unwrap()
        .unwrap();
    assert_eq!(
        first,
        ExecEvent::Stdout {
            data: "hello\n".into()
        }
    );
    let rest: Vec<ExecEvent> = stream.map(|e| e.unwrap()).collect().await;
    assert_eq!(
        rest,
        vec![
            ExecEvent::Stderr {
                data: "err\n".into()
            },
            ExecEvent::Exit {
                code: 7,
                timed_out: false
            }
        ]
    );

    // cwd, env and a timeout that kills the command.
    let mut spec = ExecSpec::new(["sh", "-c", "pwd; echo $X"]);
    spec.cwd = Some("/tmp".into());
    spec.env.insert("X".into(), "y".into());
    let r = run(&host, &sbx.id, spec).await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "/tmp\ny\n"));
    let mut spec = ExecSpec::new(["sleep", "30"]);
    spec.timeout = Some(Duration::from_millis(500));
    let r = run(&host, &sbx.id, spec).await;
    assert!(r.timed_out, "{r:?}");
    assert_ne!(r.code, 0);

    // Limits bound the session's cgroup tree.
    assert_pids_bounded(&host, &sbx.id, 64).await;
    // The disk bounds what the sandbox stores: a full sandbox fails its own writes.
    let r = sh(&host, &sbx.id, "df -k / | tail -n1").await;
    let size_kib: u64 = r
        .stdout
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        (150_000..=262_144).contains(&size_kib),
        "disk of 256 MiB: {r:?}"
    );
    let r = sh(
        &host,
        &sbx.id,
        "dd if=/dev/zero of=/fill bs=1048576 count=400 2>&1; rm -f /fill",
    )
    .await;
    assert!(r.stdout.contains("No space left"), "{r:?}");

    // Files: round trip, nested parents, listing, binary content.
    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    host.write_file(&sbx.id, "/work/deep/dir/data.bin", body.clone().into())
        .await
        .unwrap();
    let back = host
        .read_file(&sbx.id, "/work//deep/./dir/data.bin")
        .await
        .unwrap();
    assert_eq!(back.as_ref(), body.as_slice());
    host.write_file(&sbx.id, "/work/deep/note.txt", "hi".into())
        .await
        .unwrap();
    let r = sh(
        &host,
        &sbx.id,
        "ln -s /work/deep/note.txt /work/link; cat /work/deep/note.txt",
    )
    .await;
    assert_eq!(r.stdout, "hi");
    assert_eq!(
        host.read_file(&sbx.id, "/work/link")
            .await
            .unwrap()
            .as_ref(),
        b"hi"
    );
    let entries = host.list_dir(&sbx.id, "/work/deep").await.unwrap();
    let names: Vec<(&str, FileKind)> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(
        names,
        vec![("dir", FileKind::Dir), ("note.txt", FileKind::File)]
    );
    assert_eq!(entries[1].size, 2);
    assert_eq!(entries[1].path, "/work/deep/note.txt");

    // Bad file requests.
    for bad in ["../etc/passwd", "/work/../etc/passwd", "relative.txt"] {
        assert_eq!(
            host.read_file(&sbx.id, bad).await.unwrap_err().code(),
            "invalid_path",
            "{bad}"
        );
        assert_eq!(
            host.write_file(&sbx.id, bad, "x".into())
                .await
                .unwrap_err()
                .code(),
            "invalid_path"
        );
        assert_eq!(
            host.list_dir(&sbx.id, bad).await.unwrap_err().code(),
            "invalid_path"
        );
    }
    assert_eq!(
        host.read_file(&sbx.id, "/nope/x").await.unwrap_err().code(),
        "file_not_found"
    );
    assert_eq!(
        host.list_dir(&sbx.id, "/nope").await.unwrap_err().code(),
        "file_not_found"
    );
    assert_eq!(
        host.read_file(&sbx.id, "/work").await.unwrap_err().code(),
        "wrong_file_kind"
    );
    assert_eq!(
        host.list_dir(&sbx.id, "/work/deep/note.txt")
            .await
            .unwrap_err()
            .code(),
        "wrong_file_kind"
    );
    let big = vec![0u8; 1024 * 1024 + 1];
    let err = host
        .write_file(&sbx.id, "/tmp/big", big.into())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "too_large");
    let r = sh(&host, &sbx.id, "ls /tmp/big 2>&1 || echo absent").await;
    assert!(
        r.stdout.contains("absent"),
        "nothing of an oversized upload is written: {r:?}"
    );
    let r = sh(
        &host,
        &sbx.id,
        "dd if=/dev/zero of=/tmp/big2 bs=1024 count=1100 2>/dev/null; echo ok",
    )
    .await;
    assert_eq!(r.stdout.trim(), "ok");
    assert_eq!(
        host.read_file(&sbx.id, "/tmp/big2")
            .await
            .unwrap_err()
            .code(),
        "too_large"
    );

    // Unknown ids.
    let ghost = SandboxId::generate();
    assert_eq!(
        host.get(&ghost).await.unwrap_err().code(),
        "sandbox_not_found"
    );
    assert_eq!(
        host.exec(&ghost, ExecSpec::new(["true"]))
            .await
            .err()
            .unwrap()
            .code(),
        "sandbox_not_found"
    );
    assert_eq!(
        host.kill(&ghost).await.unwrap_err().code(),
        "sandbox_not_found"
    );

    // The workspace's main process ends: the sandbox is stopped, exec and files refuse.
    let r = sh(&host, &sbx.id, "echo bye; kill -TERM 1").await;
    assert_eq!(r.stdout, "bye\n");
    let mut state = SandboxState::Running;
    for _ in 0..50 {
        state = host.get(&sbx.id).await.unwrap().state;
        if state == SandboxState::Stopped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, SandboxState::Stopped);
    assert_eq!(
        host.exec(&sbx.id, ExecSpec::new(["true"]))
            .await
            .err()
            .unwrap()
            .code(),
        "sandbox_not_running"
    );
    assert_eq!(
        host.read_file(&sbx.id, "/work/link")
            .await
            .unwrap_err()
            .code(),
        "sandbox_not_running"
    );
    host.kill(&sbx.id).await.unwrap();
    assert_eq!(
        host.kill(&sbx.id).await.unwrap_err().code(),
        "sandbox_not_found"
    );

    // A sandbox whose engine dies is collected with everything it had.
    let doomed = host.create(SandboxSpec::new(IMAGE)).await.unwrap();
    let sock = host.engine_socket(&doomed.id).await.unwrap();
    let pid: i32 = std::fs::read_to_string(sock.with_file_name("docker.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let before = leftovers("tapi").len();
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let mut collected = false;
    for _ in 0..100 {
        if host.get(&doomed.id).await.is_err() {
            collected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(collected, "a sandbox with a dead engine is collected");
    let after = leftovers("tapi");
    assert!(
        after.len() < before,
        "its engine's leftovers went too: {after:?}"
    );
    assert!(
        !after
            .iter()
            .any(|l| l.contains(&sock.parent().unwrap().display().to_string())),
        "{after:?}"
    );

    // A timeout kills the command and everything it started; so does the caller going
    // away, even from a command that prints nothing.
    let live = host.create(SandboxSpec::new(IMAGE)).await.unwrap();
    let mut spec = ExecSpec::new(["sh", "-c", "sleep 300 & sleep 301"]);
    spec.timeout = Some(Duration::from_millis(500));
    let r = run(&host, &live.id, spec).await;
    assert!(r.timed_out);
    let silent = host
        .exec(&live.id, ExecSpec::new(["sleep", "302"]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(silent);
    let mut left = String::new();
    for _ in 0..50 {
        left = sh(
            &host,
            &live.id,
            "ps -o args | grep -E '^sleep 30[012]' || true",
        )
        .await
        .stdout;
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, "", "no command outlives its timeout or its caller");
    host.kill(&live.id).await.unwrap();

    // A timeout kills the sandbox; set_timeout extends it.
    let mut spec = SandboxSpec::new(IMAGE);
    spec.timeout = Some(Duration::from_secs(1));
    let short = host.create(spec.clone()).await.unwrap();
    let kept = host.create(spec).await.unwrap();
    host.set_timeout(&kept.id, Duration::from_secs(60))
        .await
        .unwrap();
    let mut gone = false;
    for _ in 0..100 {
        if host.get(&short.id).await.is_err() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the short sandbox was reaped");
    assert_eq!(
        host.get(&kept.id).await.unwrap().state,
        SandboxState::Running
    );
    host.kill(&kept.id).await.unwrap();

    host.uninstall().await.unwrap();
    assert_eq!(leftovers("tapi"), Vec::<String>::new());
    assert_eq!(firewall_rules("tapi"), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A listening unix socket at `path` while it lives, unless something is there already.
struct FakeSocket(Option<(std::path::PathBuf, std::os::unix::net::UnixListener)>);

impl FakeSocket {
    fn at(path: &str) -> Self {
        let p = std::path::PathBuf::from(path);
        if p.exists() {
            return FakeSocket(None);
        }
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
        FakeSocket(Some((p, l)))
    }
}

impl Drop for FakeSocket {
    fn drop(&mut self) {
        if let Some((p, _)) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Starts 100 background processes; at most `limit` processes may exist at once.
async fn assert_pids_bounded(host: &helix_hydra::docker::DockerHost, id: &SandboxId, limit: usize) {
    let r = sh(
        host,
        id,
        // Only builtins once the limit is reached: a fork would fail.
        // (ash gives up on the first failed fork, so the loop runs in a subshell.)
        "(for i in $(seq 1 100); do sleep 30 & done) 2>/dev/null; \
         set -- /proc/[0-9]*; n=$#; \
         for p in /proc/[0-9]*; do read -r c < $p/comm && [ \"$c\" = sleep ] && kill ${p#/proc/}; done; \
         echo $n",
    )
    .await;
    let n: usize = r.stdout.trim().parse().unwrap_or_else(|_| panic!("{r:?}"));
    assert!(
        n <= limit && n > limit / 2,
        "{n} processes with pids limit {limit}: {r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_engines_with_a_prestarted_workspace_honour_the_spec() {
    if !docker_available() {
        return;
    }
    let dir = state_dir("twm");
    let host = start_host_with("twm", 40, &dir, false, |cfg| {
        cfg.warm_pool = 1;
        cfg.warm_images = vec![IMAGE.into()];
    })
    .await;
    for _ in 0..600 {
        if host.warm_ready().await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(host.warm_ready().await, 1, "the warm engine is ready");
    let mut spec = SandboxSpec::new(IMAGE);
    spec.env.insert("FROM_SPEC".into(), "yes".into());
    spec.limits.pids = Some(48);
    let sbx = host.create(spec).await.unwrap();
    let r = sh(&host, &sbx.id, "echo $FROM_SPEC").await;
    assert_eq!(r.stdout, "yes\n");
    assert_pids_bounded(&host, &sbx.id, 48).await;
    // A custom command never gets a prestarted workspace.
    let mut spec = SandboxSpec::new(IMAGE);
    spec.command = Some(vec![
        "sh".into(),
        "-c".into(),
        "echo custom-main; exec sleep 600".into(),
    ]);
    let custom = host.create(spec).await.unwrap();
    // Its main process runs the command: its first output is in the logs (the
    // command may not have written it yet when create returns).
    let mut first = None;
    for _ in 0..100 {
        let mut logs = host.logs(&custom.id, false).await.unwrap();
        if let Some(ev) = logs.next().await {
            first = Some(ev.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        first,
        Some(ExecEvent::Stdout {
            data: "custom-main\n".into()
        })
    );
    host.uninstall().await.unwrap();
    assert_eq!(leftovers("twm"), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_host_removes_what_a_crashed_one_left() {
    if !docker_available() {
        return;
    }
    let dir = state_dir("tgc");
    // A system containerd on the machine must not be used by session engines (its shims
    // would live in the host's network namespace): pretend there is one.
    let _fake_system_containerd = FakeSocket::at("/run/containerd/containerd.sock");
    // Whatever an earlier, failed run left: a host collects it at start, `uninstall`
    // removes the rules too.
    start_host("tgc", 30, &dir, false)
        .await
        .uninstall()
        .await
        .unwrap();
    let rules_before = firewall_rules("tgc");
    assert_eq!(leftovers("tgc"), Vec::<String>::new());
    let host = start_host("tgc", 30, &dir, false).await;
    let rules_installed = firewall_rules("tgc");
    assert_eq!(rules_before, Vec::<String>::new());
    for rule in [
        "-A TGC-HYDRA-FWD -i hytgc+ -o hy+ -j DROP",
        "-A TGC-HYDRA-FWD -o hytgc+ -j DROP",
        "-A TGC-HYDRA-IN -i hytgc+ -j DROP",
        "-A TGC-HYDRA-NAT -s 10.251.30.0/24 ! -o hytgc+ -j MASQUERADE",
    ] {
        assert!(
            rules_installed.iter().any(|r| r == rule),
            "{rule} in {rules_installed:#?}"
        );
    }
    let a = host.create(SandboxSpec::new(IMAGE)).await.unwrap();
    let _b = host.create(SandboxSpec::new(IMAGE)).await.unwrap();
    let r = sh(&host, &a.id, "echo alive").await;
    assert_eq!(r.stdout, "alive\n");
    let during = leftovers("tgc");
    assert!(
        during.iter().any(|l| l.starts_with("netns tgc-")),
        "{during:?}"
    );
    assert!(
        during.iter().any(|l| l.starts_with("link hytgc")),
        "{during:?}"
    );
    assert!(
        during
            .iter()
            .any(|l| l.starts_with("process ") && l.contains("dockerd")),
        "{during:?}"
    );
    assert!(
        during.iter().any(|l| l.starts_with("cgroup ")),
        "{during:?}"
    );

    // Crash: dropping a host without `shutdown` tears nothing down (daemons, namespaces,
    // links and cgroups stay, exactly as when the process is killed); only its lock goes.
    drop(host);
    // (Its authorization plugins' sockets go with it: the engines now refuse every
    // request, which fails closed.)
    let engines_only = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|l| !l.starts_with("plugin socket"))
            .collect()
    };
    assert!(
        during.iter().any(|l| l.starts_with("plugin socket")),
        "{during:?}"
    );
    let still = leftovers("tgc");
    assert_eq!(
        engines_only(still),
        engines_only(during),
        "a dropped host leaves everything running"
    );

    let host = start_host("tgc", 30, &dir, false).await;
    assert_eq!(host.list().await.unwrap().len(), 0);
    assert_eq!(
        leftovers("tgc"),
        Vec::<String>::new(),
        "nothing of the crashed host is left"
    );
    assert_eq!(
        firewall_rules("tgc"),
        rules_installed,
        "rules are re-installed, not duplicated"
    );
    host.uninstall().await.unwrap();
    assert_eq!(firewall_rules("tgc"), rules_before);
    let _ = std::fs::remove_dir_all(&dir);
}
