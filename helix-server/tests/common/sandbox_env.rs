//! Sandboxes for end-to-end tests: whether dockerd and friends can run here, a busybox
//! image to run, and cleaning up after a server.

use super::engine::Proc;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the busybox image serves at `/www/index.html`.
pub const WWW: &str = "served-through-helix";

/// Whether sandboxes can run here (root, dockerd and the network tools); panics when
/// `HELIX_TEST_REQUIRE_DOCKER=1` and they cannot.
pub fn docker_available() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    let tools = ["dockerd", "ip", "iptables", "nsenter", "busybox"]
        .iter()
        .all(|t| {
            Command::new("which")
                .arg(t)
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if !(root && tools) {
        if std::env::var("HELIX_TEST_REQUIRE_DOCKER").as_deref() == Ok("1") {
            panic!("HELIX_TEST_REQUIRE_DOCKER=1 but root={root} tools={tools}");
        }
        eprintln!("skipping: needs root, dockerd, ip, iptables, nsenter and busybox");
    }
    root && tools
}

/// A busybox root filesystem tarball with a web root.
pub fn rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    let tar = dir.join("busybox.tar");
    let script = format!(
        "set -e; mkdir -p {r}/bin {r}/www {r}/tmp {r}/etc; cp \"$(command -v busybox)\" {r}/bin/busybox; \
         for a in $({r}/bin/busybox --list); do [ -e {r}/bin/$a ] || ln -s busybox {r}/bin/$a; done; \
         printf '{WWW}' > {r}/www/index.html; tar -C {r} -cf {t} .",
        r = root.display(),
        t = tar.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tar
}

/// Removes what an earlier, failed run left in `dir` (engine mounts included).
pub fn clean_dir(dir: &Path) {
    let script = format!(
        "awk '{{print $5}}' /proc/self/mountinfo | grep '^{d}/' | sort -r | xargs -r umount -l; rm -rf {d}",
        d = dir.display()
    );
    let _ = Command::new("sh").args(["-c", &script]).status();
}

/// Stops a server the way an operator does (SIGTERM) and waits for it.
pub fn stop(mut helix: Proc) {
    let _ = Command::new("kill")
        .args(["-TERM", &helix.0.id().to_string()])
        .status();
    let _ = helix.0.wait();
}
