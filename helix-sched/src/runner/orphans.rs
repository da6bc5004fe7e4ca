//! Pidfiles and the cleanup of engines left behind by a runner that died without
//! stopping them (SIGKILL, OOM kill, power loss of the container).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use super::process::{pgid, signal_group};
use super::procfs;
use crate::{InstanceId, Result, SchedError};

/// Pidfiles are `<state_dir>/<instance>.pid`.
const PIDFILE_EXTENSION: &str = "pid";

/// What a pidfile records about one engine process group (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PidFile {
    /// The instance the engine served.
    pub(crate) instance: InstanceId,
    /// The group leader's pid, which is also the process group id.
    pub(crate) pid: u32,
    /// The leader's start time (clock ticks since boot, `/proc/<pid>/stat`).
    pub(crate) start_time: Option<u64>,
    /// The boot it ran in (`/proc/sys/kernel/random/boot_id`).
    pub(crate) boot_id: Option<String>,
    /// The engine's command line, program first.
    pub(crate) argv: Vec<String>,
}

impl PidFile {
    /// Writes the pidfile (atomically) and returns its path.
    pub(crate) fn write(&self, state_dir: &Path) -> Result<PathBuf> {
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| SchedError::RunnerIo {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(state_dir).map_err(io("create state dir", state_dir))?;
        let path = state_dir.join(format!("{}.{PIDFILE_EXTENSION}", self.instance));
        let tmp = path.with_extension("pid.tmp");
        let json = serde_json::to_vec(self).map_err(std::io::Error::other);
        json.and_then(|json| std::fs::write(&tmp, json))
            .map_err(io("write pidfile", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("write pidfile", &path))?;
        Ok(path)
    }
}

/// An engine process group killed by [`reap_orphans`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReapedEngine {
    /// The instance it served.
    pub instance: InstanceId,
    /// Its process group id.
    pub pgid: u32,
    /// How many live processes the group had.
    pub processes: usize,
}

/// Kills the engine process groups that a previous run of the runner left behind,
/// as recorded by the pidfiles in `state_dir`, and removes those pidfiles.
///
/// A group is killed only when it is provably the one recorded: same boot, and its
/// leader has the recorded start time and command line (`/proc/<pid>/cmdline`); a
/// pid reused by an unrelated process is never signalled. When the leader is gone
/// but members of its group remain, they are killed if they started after it. Call
/// this at runner start-up, before starting instances. Outside Linux nothing can be
/// verified and nothing is killed.
pub fn reap_orphans(state_dir: &Path) -> Result<Vec<ReapedEngine>> {
    let entries = match std::fs::read_dir(state_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(SchedError::RunnerIo {
                action: "read state dir",
                path: state_dir.to_path_buf(),
                source,
            })
        }
    };
    let mut reaped = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().and_then(|e| e.to_str()) != Some(PIDFILE_EXTENSION) {
            continue;
        }
        let record = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<PidFile>(&bytes).ok());
        match record {
            Some(record) => {
                if let Some(done) = reap_one(&record) {
                    reaped.push(done);
                }
            }
            None => tracing::warn!(path = %path.display(), "ignoring unreadable pidfile"),
        }
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), "cannot remove pidfile: {e}");
        }
    }
    Ok(reaped)
}

fn reap_one(record: &PidFile) -> Option<ReapedEngine> {
    let skip = |why: &str| {
        tracing::info!(instance = %record.instance, pid = record.pid, "not reaping: {why}");
        None
    };
    if record.boot_id.is_none() || record.boot_id != procfs::boot_id() {
        return skip("recorded in another boot");
    }
    let Some(start_time) = record.start_time else {
        return skip("no start time recorded");
    };
    let group = pgid(record.pid);
    let own_group = procfs::stat(std::process::id()).map(|s| s.pgrp);
    if own_group == Some(group) {
        return skip("that is this runner's own process group");
    }
    let leader = procfs::stat(record.pid).filter(|s| s.state != 'Z');
    if leader.is_some_and(|l| l.start_time != start_time || !cmdline_matches(record)) {
        return skip("the pid now belongs to another process");
    }
    let members = procfs::group_members(group);
    if members.is_empty() {
        return skip("no process of the group is left");
    }
    if members.iter().any(|(_, s)| s.start_time < start_time) {
        return skip("the group has processes older than the engine");
    }
    tracing::warn!(
        instance = %record.instance,
        pgid = record.pid,
        processes = members.len(),
        "killing engine left by a previous runner"
    );
    signal_group(record.pid, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !procfs::group_members(group).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(ReapedEngine {
        instance: record.instance.clone(),
        pgid: record.pid,
        processes: members.len(),
    })
}

/// Whether the live process `record.pid` runs the recorded command: its arguments
/// end with the recorded ones, right after the recorded program (or a program of the
/// same file name: a script's interpreter puts its own path first).
fn cmdline_matches(record: &PidFile) -> bool {
    let Some(live) = procfs::cmdline(record.pid) else {
        return false;
    };
    let Some((program, args)) = record.argv.split_first() else {
        return false;
    };
    if live.len() <= args.len() || !live.ends_with(args) {
        return false;
    }
    let live_program = &live[live.len() - args.len() - 1];
    let name = |p: &str| Path::new(p).file_name().map(|n| n.to_owned());
    live_program == program || name(live_program) == name(program)
}
