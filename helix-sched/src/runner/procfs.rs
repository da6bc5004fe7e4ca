//! Just enough of Linux `/proc` to find and identify engine processes. Elsewhere
//! every lookup finds nothing, so nothing is ever killed on a guess.

use std::fs;

/// The fields of `/proc/<pid>/stat` the runner uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// `R`, `S`, `Z` (zombie), ...
    pub(crate) state: char,
    /// Process group.
    pub(crate) pgrp: i32,
    /// Start time in clock ticks since boot: with the pid, it identifies a process.
    pub(crate) start_time: u64,
}

/// `/proc/<pid>/stat`, if the process exists.
pub(crate) fn stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name (field 2) is in parentheses and may contain anything,
    // including spaces and parentheses: the fields resume after the last `)`.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// `/proc/<pid>/cmdline` as arguments, if the process exists.
pub(crate) fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// Live (not zombie) processes in process group `pgid`, with their stat.
pub(crate) fn group_members(pgid: i32) -> Vec<(u32, ProcStat)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .filter(|(_, s)| s.pgrp == pgid && s.state != 'Z' && s.state != 'X')
        .collect()
}

/// This boot's id: pids and start times only mean something within one boot.
pub(crate) fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_survives_odd_command_names() {
        let text =
            "4242 (a) b (c) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse_stat(text),
            Some(ProcStat {
                state: 'S',
                pgrp: 4240,
                start_time: 987654,
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let s = stat(me).expect("own stat");
        assert_ne!(s.state, 'Z');
        assert!(!cmdline(me).expect("own cmdline").is_empty());
        assert!(group_members(s.pgrp).iter().any(|(pid, _)| *pid == me));
        assert!(boot_id().is_some_and(|id| !id.is_empty()));
    }
}
