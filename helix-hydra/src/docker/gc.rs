//! Garbage collection of whatever dead sessions left behind.
//!
//! At start a host owns nothing yet, so everything carrying its prefix is garbage:
//! engines named by a record file are torn down from the record; then namespaces, host
//! veths, cgroups and run directories carrying the prefix that no record named are
//! removed by name. Pass everything through here once and the host is as it was.

use std::path::Path;

use crate::docker::engine::{read_records, teardown, HOST_VETH_MARK};
use crate::docker::sys;

/// What a collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Engines torn down from their record.
    pub engines: usize,
    /// Leftovers removed by name only (namespaces, links, cgroups, directories).
    pub orphans: usize,
}

/// Removes every engine of `prefix`, recorded under `records_dir` or not.
pub(crate) async fn collect_all(prefix: &str, records_dir: &Path, run_root: &Path) -> GcReport {
    let mut report = GcReport::default();
    for (path, record) in read_records(records_dir) {
        if record.prefix != prefix {
            continue;
        }
        tracing::info!(slot = record.slot, key = %record.key, "gc: tearing down engine");
        teardown(&record).await;
        let _ = std::fs::remove_file(path);
        report.engines += 1;
    }
    let ns_prefix = format!("{prefix}-");
    for ns in sys::netns_names() {
        if is_slot_name(&ns, &ns_prefix) {
            sys::kill_all(&sys::netns_pids(&ns).await);
            if sys::delete_netns(&ns).await.is_ok() {
                report.orphans += 1;
            }
        }
    }
    let link_prefix = format!("{HOST_VETH_MARK}{prefix}");
    for link in sys::link_names() {
        if is_slot_name(&link, &link_prefix) && sys::delete_link(&link).await.is_ok() {
            report.orphans += 1;
        }
    }
    for cg in sys::cgroup_names_with_prefix(&ns_prefix) {
        if is_slot_name(&cg, &ns_prefix) {
            sys::destroy_cgroup(&cg).await;
            report.orphans += 1;
        }
    }
    let plugin_prefix = format!("hydra-{prefix}-");
    if let Ok(rd) = std::fs::read_dir(crate::docker::authz::PLUGIN_DIR) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let slot = name.strip_suffix(".sock").unwrap_or("");
            if is_slot_name(slot, &plugin_prefix) && std::fs::remove_file(e.path()).is_ok() {
                report.orphans += 1;
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(records_dir) {
        for e in rd.flatten() {
            if e.path().is_dir() && sys::remove_tree(&e.path()).is_ok() {
                report.orphans += 1;
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(run_root) {
        for e in rd.flatten() {
            let is_slot = e
                .file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok());
            if is_slot {
                if let Some(pid) = sys::read_pidfile(&e.path().join("docker.pid")) {
                    sys::terminate(pid, "dockerd", std::time::Duration::from_secs(2)).await;
                }
                if sys::remove_tree(&e.path()).is_ok() {
                    report.orphans += 1;
                }
            }
        }
    }
    report
}

/// `hx-12` with prefix `hx-`: the prefix followed by digits only.
fn is_slot_name(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_slot_names_match() {
        assert!(is_slot_name("hx-12", "hx-"));
        assert!(is_slot_name("hxh7", "hxh"));
        assert!(!is_slot_name("hx-", "hx-"));
        assert!(!is_slot_name("hx-12a", "hx-"));
        assert!(!is_slot_name("hxt-1", "hx-"));
        assert!(!is_slot_name("hxhost", "hxh"));
    }
}
