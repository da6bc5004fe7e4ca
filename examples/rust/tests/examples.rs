//! The examples run, and do what they say: the embedded scheduler grants every request;
//! a sandbox made by this process runs a command and its result file is read back (root
//! and Docker needed; `HELIX_TEST_REQUIRE_DOCKER=1` makes their absence a failure).

use std::path::Path;
use std::process::Command;

#[test]
fn embed_scheduler_grants_every_request() {
    let out = Command::new(env!("CARGO_BIN_EXE_embed_scheduler"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all 4 requests granted"), "{stdout}");
    assert!(stdout.contains("kind=grant"), "{stdout}");
}

fn sandboxes_possible() -> bool {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    });
    let tools = ["dockerd", "ip", "iptables", "nsenter", "busybox"]
        .iter()
        .all(|t| {
            Command::new("which")
                .arg(t)
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if !(root && tools) {
        assert!(
            std::env::var("HELIX_TEST_REQUIRE_DOCKER").as_deref() != Ok("1"),
            "HELIX_TEST_REQUIRE_DOCKER=1 but root={root} tools={tools}"
        );
        eprintln!("skipping: needs root, dockerd, ip, iptables, nsenter and busybox");
    }
    root && tools
}

fn busybox_rootfs(dir: &Path) -> std::path::PathBuf {
    let (root, tar) = (dir.join("rootfs"), dir.join("busybox.tar"));
    let script = format!(
        "set -e; mkdir -p {r}/bin {r}/tmp {r}/etc; cp \"$(command -v busybox)\" {r}/bin/busybox; \
         for a in $({r}/bin/busybox --list); do [ -e {r}/bin/$a ] || ln -s busybox {r}/bin/$a; done; \
         tar -C {r} -cf {t} .",
        r = root.display(),
        t = tar.display()
    );
    let st = Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(st.success());
    tar
}

#[test]
fn sandbox_run_locally_streams_and_reads_the_result() {
    if !sandboxes_possible() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tar = busybox_rootfs(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_sandbox_run"))
        .args([
            "--local",
            tar.to_str().unwrap(),
            "--image",
            "hxexample/busybox:1",
        ])
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("step 1\nstep 2\nstep 3\n"), "{stdout}");
    assert!(stdout.contains("/tmp/result.txt: ok"), "{stdout}");
    assert!(stdout.contains("exit status 0"), "{stdout}");

    // A failing command's status is the program's.
    let out = Command::new(env!("CARGO_BIN_EXE_sandbox_run"))
        .args([
            "--local",
            tar.to_str().unwrap(),
            "--image",
            "hxexample/busybox:1",
        ])
        .args(["--", "sh", "-c", "echo broken >&2; exit 3"])
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken"));
}
