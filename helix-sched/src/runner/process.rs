//! One engine process: started in its own process group (behind `setpriv
//! --pdeathsig KILL` where available), its output turned into log lines, a pidfile
//! while it runs, and the whole group killed when it ends.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::task::JoinHandle;

use super::orphans::PidFile;
use super::procfs;
use crate::runner::EngineCommand;
use crate::{InstanceId, Result, SchedError};

/// Longest log line kept; the rest of a longer line becomes further lines.
const MAX_LINE: u64 = 4096;

/// How long to wait for a killed group's processes to disappear from `/proc`.
const GROUP_EXIT_WAIT: Duration = Duration::from_secs(5);

/// The last lines an engine printed (stdout and stderr interleaved), shared across
/// its restarts.
#[derive(Debug)]
pub(crate) struct OutputTail {
    lines: Mutex<VecDeque<String>>,
    capacity: usize,
}

impl OutputTail {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            lines: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }

    fn push(&self, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        if self.capacity > 0 {
            lines.push_back(line);
        }
    }

    /// The last `n` lines, oldest first.
    pub(crate) fn last(&self, n: usize) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .iter()
            .skip(lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }
}

/// A running engine. Dropping it kills its process group.
#[derive(Debug)]
pub(crate) struct EngineProcess {
    child: tokio::process::Child,
    pid: u32,
    pidfile: Option<PathBuf>,
    readers: Vec<JoinHandle<()>>,
    /// The group has been killed and the pidfile removed.
    done: bool,
}

impl EngineProcess {
    /// Starts `command` for `instance` in a new process group, with stdin closed and
    /// stdout/stderr logged, and records it in a pidfile under `state_dir`.
    pub(crate) fn spawn(
        command: &EngineCommand,
        instance: &InstanceId,
        state_dir: &Path,
        pdeathsig: bool,
        output: &Arc<OutputTail>,
    ) -> Result<Self> {
        let program = find_program(&command.program).ok_or_else(|| SchedError::EngineSpawn {
            program: command.program.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not found (or not executable) on PATH",
            ),
        })?;
        let mut argv: Vec<String> = vec![program.to_string_lossy().into_owned()];
        argv.extend(command.args.iter().cloned());
        let wrapper = setpriv().filter(|_| pdeathsig);
        let mut cmd = match wrapper {
            Some(setpriv) => {
                let mut cmd = tokio::process::Command::new(setpriv);
                cmd.args(["--pdeathsig", "KILL", "--"]).args(&argv);
                cmd
            }
            None => {
                let mut cmd = tokio::process::Command::new(&program);
                cmd.args(&command.args);
                cmd
            }
        };
        cmd.envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|source| SchedError::EngineSpawn {
            program: program.clone(),
            source,
        })?;
        let pid = child.id().ok_or_else(|| SchedError::EngineSpawn {
            program: program.clone(),
            source: std::io::Error::other("exited before its pid was read"),
        })?;
        let mut engine = Self {
            child,
            pid,
            pidfile: None,
            readers: Vec::new(),
            done: false,
        };
        if let Some(stdout) = engine.child.stdout.take() {
            engine.readers.push(tokio::spawn(pump(
                stdout,
                "stdout",
                instance.clone(),
                output.clone(),
            )));
        }
        if let Some(stderr) = engine.child.stderr.take() {
            engine.readers.push(tokio::spawn(pump(
                stderr,
                "stderr",
                instance.clone(),
                output.clone(),
            )));
        }
        let record = PidFile {
            instance: instance.clone(),
            pid,
            start_time: procfs::stat(pid).map(|s| s.start_time),
            boot_id: procfs::boot_id(),
            argv,
        };
        // Dropping `engine` on error kills the group just started.
        engine.pidfile = Some(record.write(state_dir)?);
        tracing::info!(
            instance = %instance,
            pid,
            program = %program.display(),
            pdeathsig = wrapper.is_some(),
            args = ?command.args,
            env = ?command.env,
            "engine started"
        );
        Ok(engine)
    }

    /// The engine's pid, which is also its process group id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the group leader to exit (and reaps it).
    pub(crate) async fn wait(&mut self) -> ExitStatus {
        loop {
            match self.child.wait().await {
                Ok(status) => return status,
                // Only fails when interrupted; retry.
                Err(e) => tracing::warn!(pid = self.pid, "waiting for engine: {e}"),
            }
        }
    }

    /// Stops the engine: SIGTERM to the whole group, up to `grace` for the leader to
    /// exit, then SIGKILL to whatever is left of the group.
    pub(crate) async fn terminate(&mut self, grace: Duration) {
        signal_group(self.pid, Signal::SIGTERM);
        if tokio::time::timeout(grace, self.wait()).await.is_err() {
            tracing::warn!(
                pid = self.pid,
                "engine ignored SIGTERM for {grace:?}; killing it"
            );
        }
        self.kill().await;
    }

    /// Kills whatever is left of the group, reaps the leader, collects the last output
    /// and removes the pidfile.
    pub(crate) async fn kill(&mut self) {
        signal_group(self.pid, Signal::SIGKILL);
        self.wait().await;
        // Members of the group that outlived the leader are not our children: wait
        // until they are gone from /proc (or zombies of their new parent).
        let deadline = tokio::time::Instant::now() + GROUP_EXIT_WAIT;
        while !procfs::group_members(pgid(self.pid)).is_empty()
            && tokio::time::Instant::now() < deadline
        {
            signal_group(self.pid, Signal::SIGKILL);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The pipes close once every process that held them has exited.
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
        }
        self.cleanup();
    }

    fn cleanup(&mut self) {
        if let Some(path) = self.pidfile.take() {
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), "cannot remove pidfile: {e}");
            }
        }
        self.done = true;
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        if !self.done {
            // Not stopped in order (task aborted, runtime shutting down): kill the
            // group now; tokio reaps the leader (kill_on_drop).
            signal_group(self.pid, Signal::SIGKILL);
            self.cleanup();
        }
    }
}

pub(crate) fn pgid(pid: u32) -> i32 {
    i32::try_from(pid).unwrap_or(i32::MAX)
}

/// Sends `signal` to process group `pid`; a group already gone is fine.
pub(crate) fn signal_group(pid: u32, signal: Signal) {
    match killpg(Pid::from_raw(pgid(pid)), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pgid = pid, "cannot send {signal} to process group: {e}"),
    }
}

/// Logs each line of an engine's stream and keeps it in the tail.
async fn pump(
    stream: impl AsyncRead + Unpin,
    name: &'static str,
    instance: InstanceId,
    output: Arc<OutputTail>,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        tracing::info!(target: "helix_sched::engine", instance = %instance, stream = name, "{line}");
        output.push(line.to_owned());
    }
}

/// `program` itself when it is a path, else its first executable match on `PATH`.
pub(crate) fn find_program(program: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.components().count() > 1 || program.is_absolute() {
        return executable(program).then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}

/// `setpriv`, when it is installed and supports `--pdeathsig` (util-linux 2.33+):
/// it makes the kernel SIGKILL the engine when the runner dies, even by SIGKILL.
pub(crate) fn setpriv() -> Option<&'static Path> {
    static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETPRIV
        .get_or_init(|| {
            let setpriv = find_program(Path::new("setpriv"))?;
            let works = std::process::Command::new(&setpriv)
                .args(["--pdeathsig", "KILL", "--", "true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            works.then_some(setpriv)
        })
        .as_deref()
}
