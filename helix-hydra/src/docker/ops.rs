//! Exec, files and logs against a session's workspace container.

use std::io::Read;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{
    DownloadFromContainerOptions, LogsOptions, UploadToContainerOptions,
};
use bollard::Docker;
use bytes::Bytes;
use futures::StreamExt;

use crate::paths::{sandbox_path, split_parent};
use crate::sandbox::{ExecEvent, ExecSpec, ExecStream, FileEntry, FileKind, LogStream};
use crate::{HydraError, Result};

/// The workspace container's name inside every session engine.
pub(crate) const WORKSPACE: &str = "workspace";

pub(crate) fn engine_err(e: DockerError) -> HydraError {
    HydraError::Engine {
        message: e.to_string(),
    }
}

fn status_of(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn log_event(out: LogOutput) -> Option<ExecEvent> {
    match out {
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            Some(ExecEvent::Stdout { data: message })
        }
        LogOutput::StdErr { message } => Some(ExecEvent::Stderr { data: message }),
        LogOutput::StdIn { .. } => None,
    }
}

/// Starts a command and streams its output; the command is killed if the stream is
/// dropped before it ends or its timeout passes.
pub(crate) async fn exec(
    docker: &Docker,
    base_env: &[String],
    spec: ExecSpec,
) -> Result<ExecStream> {
    let mut env: Vec<String> = base_env.to_vec();
    env.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));
    let created = docker
        .create_exec(
            WORKSPACE,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(spec.cmd.clone()),
                env: Some(env),
                working_dir: spec.cwd.clone(),
                user: spec.user.clone(),
                ..Default::default()
            },
        )
        .await
        .map_err(engine_err)?;
    let started = docker
        .start_exec(&created.id, None)
        .await
        .map_err(engine_err)?;
    let StartExecResults::Attached { mut output, .. } = started else {
        return Err(HydraError::Engine {
            message: "exec started detached".into(),
        });
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<ExecEvent>>(64);
    let docker = docker.clone();
    let exec_id = created.id;
    let timeout = spec.timeout;
    tokio::spawn(async move {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let expired = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        let mut timed_out = false;
        loop {
            let next = tokio::select! {
                n = output.next() => n,
                _ = &mut expired => {
                    timed_out = true;
                    kill_exec(&docker, &exec_id).await;
                    break;
                }
                // The caller went away, even from a command that prints nothing: do not
                // leave it running.
                _ = tx.closed() => {
                    kill_exec(&docker, &exec_id).await;
                    return;
                }
            };
            match next {
                None => break,
                Some(Ok(out)) => {
                    if let Some(ev) = log_event(out) {
                        if tx.send(Ok(ev)).await.is_err() {
                            kill_exec(&docker, &exec_id).await;
                            return;
                        }
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(engine_err(e))).await;
                    return;
                }
            }
        }
        let code = exit_code(&docker, &exec_id).await;
        let _ = tx.send(Ok(ExecEvent::Exit { code, timed_out })).await;
    });
    let events = futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|ev| (ev, rx)) },
    );
    Ok(events.boxed())
}

async fn exit_code(docker: &Docker, exec_id: &str) -> i64 {
    // The exit code is set a moment after the output closes.
    for _ in 0..100 {
        match docker.inspect_exec(exec_id).await {
            Ok(i) if i.running != Some(true) => return i.exit_code.unwrap_or(-1),
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(_) => return -1,
        }
    }
    -1
}

async fn kill_exec(docker: &Docker, exec_id: &str) {
    // The engine reports the exec's pid in the host's pid namespace; the sandbox host
    // runs on that host, so it kills the process and everything it started directly.
    if let Ok(info) = docker.inspect_exec(exec_id).await {
        if let Some(pid) = info.pid.filter(|p| *p > 1) {
            let mut tree = crate::docker::sys::descendants(pid as i32);
            tree.push(pid as i32);
            crate::docker::sys::kill_all(&tree);
        }
    }
}

/// Runs a command to completion and returns (exit code, stdout, stderr).
pub(crate) async fn run_capture(
    docker: &Docker,
    cmd: Vec<String>,
) -> Result<(i64, Vec<u8>, Vec<u8>)> {
    let mut spec = ExecSpec::new(cmd);
    spec.timeout = Some(Duration::from_secs(60));
    let mut stream = exec(docker, &[], spec).await?;
    let (mut out, mut err, mut code) = (Vec::new(), Vec::new(), -1);
    while let Some(ev) = stream.next().await {
        match ev? {
            ExecEvent::Stdout { data } => out.extend_from_slice(&data),
            ExecEvent::Stderr { data } => err.extend_from_slice(&data),
            ExecEvent::Exit { code: c, .. } => code = c,
        }
    }
    Ok((code, out, err))
}

/// Writes one file, creating its parent directories.
pub(crate) async fn write_file(docker: &Docker, path: &str, data: Bytes, limit: u64) -> Result<()> {
    let path = sandbox_path(path)?;
    if data.len() as u64 > limit {
        return Err(HydraError::TooLarge {
            what: "upload",
            size: data.len() as u64,
            limit,
        });
    }
    let Some((parent, name)) = split_parent(&path) else {
        return Err(HydraError::WrongFileKind {
            path,
            found: "a directory",
            expected: "a file",
        });
    };
    let (code, _, err) =
        run_capture(docker, vec!["mkdir".into(), "-p".into(), parent.into()]).await?;
    if code != 0 {
        return Err(HydraError::InvalidPath {
            path: path.clone(),
            reason: format!(
                "cannot create parent: {}",
                String::from_utf8_lossy(&err).trim()
            ),
        });
    }
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
    header.set_entry_type(tar::EntryType::Regular);
    let mut builder = tar::Builder::new(Vec::with_capacity(data.len() + 1024));
    builder
        .append_data(&mut header, name, data.as_ref())
        .map_err(HydraError::io("build upload archive"))?;
    let archive = builder
        .into_inner()
        .map_err(HydraError::io("build upload archive"))?;
    docker
        .upload_to_container(
            WORKSPACE,
            Some(UploadToContainerOptions {
                path: parent.to_owned(),
                ..Default::default()
            }),
            bollard::body_full(Bytes::from(archive)),
        )
        .await
        .map_err(|e| match status_of(&e) {
            Some(404) => HydraError::FileNotFound {
                path: parent.to_owned(),
            },
            Some(400) => HydraError::WrongFileKind {
                path: parent.to_owned(),
                found: "not a directory",
                expected: "a directory",
            },
            _ => engine_err(e),
        })
}

/// Reads one file (following symbolic links, at most 8).
pub(crate) async fn read_file(docker: &Docker, path: &str, limit: u64) -> Result<Bytes> {
    let mut path = sandbox_path(path)?;
    for _ in 0..8 {
        match read_entry(docker, &path, limit).await? {
            Entry::File(b) => return Ok(b),
            Entry::Dir => {
                return Err(HydraError::WrongFileKind {
                    path,
                    found: "a directory",
                    expected: "a file",
                })
            }
            Entry::Link(target) => {
                let next = if target.starts_with('/') {
                    target
                } else {
                    let (parent, _) = split_parent(&path).unwrap_or(("/", ""));
                    format!("{parent}/{target}")
                };
                path = resolve_dots(&next);
            }
        }
    }
    Err(HydraError::InvalidPath {
        path,
        reason: "too many levels of symbolic links".into(),
    })
}

fn resolve_dots(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

enum Entry {
    File(Bytes),
    Dir,
    Link(String),
}

async fn read_entry(docker: &Docker, path: &str, limit: u64) -> Result<Entry> {
    let mut stream = docker.download_from_container(
        WORKSPACE,
        Some(DownloadFromContainerOptions {
            path: path.to_owned(),
        }),
    );
    // The archive carries a 512-byte header per entry and padding; allow for those.
    let cap = limit.saturating_add(64 * 1024);
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| match status_of(&e) {
            Some(404) => HydraError::FileNotFound {
                path: path.to_owned(),
            },
            _ => engine_err(e),
        })?;
        buf.extend_from_slice(&chunk);
        if buf.len() as u64 > cap {
            return Err(HydraError::TooLarge {
                what: "file",
                size: buf.len() as u64,
                limit,
            });
        }
    }
    let mut archive = tar::Archive::new(buf.as_slice());
    let mut entries = archive.entries().map_err(HydraError::io("read archive"))?;
    let Some(entry) = entries.next() else {
        return Err(HydraError::FileNotFound {
            path: path.to_owned(),
        });
    };
    let mut entry = entry.map_err(HydraError::io("read archive"))?;
    let kind = entry.header().entry_type();
    if kind.is_dir() {
        return Ok(Entry::Dir);
    }
    if kind.is_symlink() {
        let target = entry
            .link_name()
            .map_err(HydraError::io("read archive"))?
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(Entry::Link(target));
    }
    let size = entry.header().size().unwrap_or(0);
    if size > limit {
        return Err(HydraError::TooLarge {
            what: "file",
            size,
            limit,
        });
    }
    let mut data = Vec::with_capacity(size as usize);
    entry
        .read_to_end(&mut data)
        .map_err(HydraError::io("read archive"))?;
    Ok(Entry::File(Bytes::from(data)))
}

const LIST_SCRIPT: &str = r#"[ -e "$1" ] || exit 3; [ -d "$1" ] || exit 4; cd "$1" && find . -mindepth 1 -maxdepth 1 -exec stat -c '%F|%s|%a|%Y|%n' {} +"#;

/// Lists one directory level.
pub(crate) async fn list_dir(docker: &Docker, path: &str) -> Result<Vec<FileEntry>> {
    let path = sandbox_path(path)?;
    let cmd = vec![
        "sh".into(),
        "-c".into(),
        LIST_SCRIPT.into(),
        "sh".into(),
        path.clone(),
    ];
    let (code, out, err) = run_capture(docker, cmd).await?;
    match code {
        0 => {}
        3 => return Err(HydraError::FileNotFound { path }),
        4 => {
            return Err(HydraError::WrongFileKind {
                path,
                found: "a file",
                expected: "a directory",
            })
        }
        _ => {
            return Err(HydraError::Engine {
                message: format!("list {path}: {}", String::from_utf8_lossy(&err).trim()),
            })
        }
    }
    let mut entries: Vec<FileEntry> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| parse_stat_line(&path, l))
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn parse_stat_line(dir: &str, line: &str) -> Option<FileEntry> {
    let mut it = line.splitn(5, '|');
    let kind = match it.next()? {
        "directory" => FileKind::Dir,
        "symbolic link" => FileKind::Symlink,
        k if k.starts_with("regular") => FileKind::File,
        _ => FileKind::Other,
    };
    let size = it.next()?.parse().ok()?;
    let mode = u32::from_str_radix(it.next()?, 8).ok()?;
    let modified = it.next()?.parse().ok()?;
    let name = it.next()?.trim_start_matches("./").to_owned();
    let path = if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    };
    Some(FileEntry {
        name,
        path,
        kind,
        size,
        mode,
        modified,
    })
}

/// The workspace's output.
pub(crate) fn logs(docker: &Docker, follow: bool) -> LogStream {
    docker
        .logs(
            WORKSPACE,
            Some(LogsOptions {
                follow,
                stdout: true,
                stderr: true,
                tail: "all".into(),
                ..Default::default()
            }),
        )
        .filter_map(|item| async move {
            match item {
                Ok(out) => log_event(out).map(Ok),
                Err(e) => Some(Err(engine_err(e))),
            }
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse() {
        let e = parse_stat_line("/home", "regular file|12|644|1700000000|./a|b.txt").unwrap();
        assert_eq!(e.name, "a|b.txt");
        assert_eq!(e.path, "/home/a|b.txt");
        assert_eq!(e.kind, FileKind::File);
        assert_eq!(e.mode, 0o644);
        let d = parse_stat_line("/", "directory|4096|755|1|./etc").unwrap();
        assert_eq!((d.kind, d.path.as_str()), (FileKind::Dir, "/etc"));
        assert!(parse_stat_line("/", "garbage").is_none());
    }

    #[test]
    fn link_targets_resolve() {
        assert_eq!(resolve_dots("/a/b/../c/./d"), "/a/c/d");
        assert_eq!(resolve_dots("/../../x"), "/x");
    }
}
