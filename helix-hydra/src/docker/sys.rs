//! The host-side system calls and commands the Docker backend depends on: `ip` for
//! namespaces and links, signals, mounts and cgroups. Every helper is idempotent where
//! garbage collection needs it to be (deleting what is already gone succeeds).

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::process::Command;

use crate::{HydraError, Result};

/// Runs a command and returns its standard output; a non-zero exit is an error carrying
/// standard error.
pub(crate) async fn run(program: &str, args: &[&str]) -> Result<String> {
    let command = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| HydraError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(HydraError::Command {
            command,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip ARGS`.
pub(crate) async fn ip(args: &[&str]) -> Result<String> {
    run("ip", args).await
}

/// Names of the network namespaces under `/run/netns`.
pub(crate) fn netns_names() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes a network namespace if it exists.
pub(crate) async fn delete_netns(name: &str) -> Result<()> {
    if !Path::new("/run/netns").join(name).exists() {
        return Ok(());
    }
    ip(&["netns", "delete", name]).await.map(drop)
}

/// Names of the host's network interfaces.
pub(crate) fn link_names() -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes a host interface if it exists.
pub(crate) async fn delete_link(name: &str) -> Result<()> {
    if !Path::new("/sys/class/net").join(name).exists() {
        return Ok(());
    }
    ip(&["link", "delete", name]).await.map(drop)
}

/// Process ids inside a network namespace.
pub(crate) async fn netns_pids(name: &str) -> Vec<i32> {
    if !Path::new("/run/netns").join(name).exists() {
        return Vec::new();
    }
    match ip(&["netns", "pids", name]).await {
        Ok(out) => out.lines().filter_map(|l| l.trim().parse().ok()).collect(),
        Err(_) => Vec::new(),
    }
}

/// The program name of a live process (`/proc/PID/comm`), if it exists.
pub(crate) fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Reads a pid file; `None` when absent or unparsable.
pub(crate) fn read_pidfile(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Sends SIGTERM to `pid` if it still runs `expected_comm`, waits up to `grace`, then
/// SIGKILLs it. Returns whether it had been running.
pub(crate) async fn terminate(pid: i32, expected_comm: &str, grace: Duration) -> bool {
    if comm(pid).as_deref() != Some(expected_comm) {
        return false;
    }
    let p = Pid::from_raw(pid);
    let _ = kill(p, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = kill(p, Signal::SIGKILL);
    true
}

/// Whether a process exists and is not a zombie.
pub(crate) fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// SIGKILLs every pid given (ignoring those already gone).
pub(crate) fn kill_all(pids: &[i32]) {
    for &pid in pids {
        if pid > 1 && pid != std::process::id() as i32 {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Every descendant of `pid` (children, their children, ...), from `/proc`.
pub(crate) fn descendants(pid: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<i32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(child, ppid) in &parent_of {
            if ppid == parent && !out.contains(&child) {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out
}

/// Mount points at or below `root`, deepest first.
pub(crate) fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .map(PathBuf::from)
        .filter(|p| p.starts_with(root))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

fn unescape_mountinfo(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo octal.
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(v as char);
                i += 4;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// Lazily unmounts everything at or below `root`.
pub(crate) fn unmount_under(root: &Path) {
    for m in mounts_under(root) {
        if let Err(e) = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH) {
            tracing::debug!(mount = %m.display(), error = %e, "unmount failed");
        }
    }
}

/// Removes a directory tree, unmounting whatever is mounted inside it first.
pub(crate) fn remove_tree(root: &Path) -> Result<()> {
    if !root.exists() {
        return Ok(());
    }
    unmount_under(root);
    std::fs::remove_dir_all(root).map_err(HydraError::io(format!("remove {}", root.display())))
}

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Every cgroup directory named `name` directly under a controller (v1) or the unified
/// root (v2).
pub(crate) fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let root = Path::new(CGROUP_ROOT);
    let mut dirs = Vec::new();
    let direct = root.join(name);
    if direct.join("cgroup.procs").exists() {
        dirs.push(direct);
    }
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            let d = e.path().join(name);
            if d.is_dir() && !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    dirs
}

/// Names of cgroups under the controllers that start with `prefix`.
pub(crate) fn cgroup_names_with_prefix(prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let pids = Path::new(CGROUP_ROOT).join("pids");
    let root = if pids.is_dir() {
        pids
    } else {
        PathBuf::from(CGROUP_ROOT)
    };
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            if let Ok(n) = e.file_name().into_string() {
                if n.starts_with(prefix) && e.path().is_dir() {
                    names.push(n);
                }
            }
        }
    }
    names
}

/// Kills every process in the cgroup tree `name` and removes its directories.
pub(crate) async fn destroy_cgroup(name: &str) {
    for _ in 0..20 {
        let mut pids = Vec::new();
        for dir in cgroup_dirs(name) {
            collect_procs(&dir, &mut pids);
        }
        if pids.is_empty() {
            break;
        }
        kill_all(&pids);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for dir in cgroup_dirs(name) {
        remove_cgroup_dir(&dir);
    }
}

fn collect_procs(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                collect_procs(&e.path(), out);
            }
        }
    }
}

fn remove_cgroup_dir(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                remove_cgroup_dir(&e.path());
            }
        }
    }
    // cgroup directories are removed with rmdir even though they list files.
    let _ = std::fs::remove_dir(dir);
}

/// Applies a sandbox's limits to its engine's cgroup tree, which holds the workspace and
/// every container the session starts, so the limits bound the session as a whole.
pub(crate) fn apply_cgroup_limits(name: &str, limits: &crate::sandbox::Limits) -> Result<()> {
    let root = Path::new(CGROUP_ROOT);
    let v2 = root.join("cgroup.controllers").exists();
    let write = |controller: &str, file: &str, value: String| -> Result<()> {
        let dir = if v2 {
            root.join(name)
        } else {
            root.join(controller).join(name)
        };
        std::fs::create_dir_all(&dir)
            .map_err(HydraError::io(format!("create {}", dir.display())))?;
        std::fs::write(dir.join(file), &value).map_err(HydraError::io(format!(
            "write {value} to {}/{file}",
            dir.display()
        )))
    };
    if let Some(m) = limits.memory_bytes {
        if v2 {
            write("memory", "memory.max", m.to_string())?;
        } else {
            write("memory", "memory.limit_in_bytes", m.to_string())?;
        }
    }
    if let Some(c) = limits.cpus {
        let period = 100_000u64;
        let quota = ((c * period as f64) as u64).max(1000);
        if v2 {
            write("cpu", "cpu.max", format!("{quota} {period}"))?;
        } else {
            write("cpu", "cpu.cfs_period_us", period.to_string())?;
            write("cpu", "cpu.cfs_quota_us", quota.to_string())?;
        }
    }
    if let Some(p) = limits.pids {
        write("pids", "pids.max", p.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn descendants_are_found() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let tree = descendants(child.id() as i32);
        assert_eq!(tree.len(), 1, "{tree:?}");
        assert_eq!(comm(tree[0]).as_deref(), Some("sleep"));
        kill_all(&tree);
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn own_process_is_alive_and_named() {
        let me = std::process::id() as i32;
        assert!(alive(me));
        assert!(comm(me).is_some());
        assert!(!alive(i32::MAX));
    }
}
