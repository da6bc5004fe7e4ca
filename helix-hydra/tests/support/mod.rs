//! Real-dockerd test support: root filesystem images, hosts with their own prefixes and
//! address ranges, and listings of what a host leaves on the machine.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use helix_hydra::docker::{DockerConfig, DockerHost, ImageConfig, ImageLibrary};
use helix_hydra::{ExecEvent, ExecSpec, SandboxId, SandboxRuntime};

pub const IMAGE: &str = "hxtest/busybox:1";
pub const TOOLS_IMAGE: &str = "hxtest/tools:1";
pub const WWW_TEXT: &str = "hydra-www-ok";

/// Whether real-dockerd tests can run here; when `HELIX_TEST_REQUIRE_DOCKER=1` (CI) a
/// missing piece fails the test instead of skipping it.
pub fn docker_available() -> bool {
    let root = nix_is_root();
    let tools = ["dockerd", "ip", "iptables", "nsenter", "busybox"]
        .iter()
        .all(|t| which(t).is_some());
    let ok = root && tools;
    if !ok {
        if std::env::var("HELIX_TEST_REQUIRE_DOCKER").as_deref() == Ok("1") {
            panic!("HELIX_TEST_REQUIRE_DOCKER=1 but root={root} tools={tools}: install docker.io, iptables, busybox-static");
        }
        eprintln!("skipping: needs root, dockerd, ip, iptables, nsenter and busybox");
    }
    ok
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let out = Command::new("which").arg(tool).output().ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Writes a root filesystem tarball of busybox (static), its applets, a web root and,
/// with `docker_cli`, a static docker client.
pub fn build_rootfs(dir: &Path, docker_cli: bool) -> PathBuf {
    let busybox = which("busybox").expect("busybox");
    let tar_path = dir.join(if docker_cli {
        "tools.tar"
    } else {
        "busybox.tar"
    });
    let file = std::fs::File::create(&tar_path).expect("create tar");
    let mut b = tar::Builder::new(file);
    let dir_entry = |b: &mut tar::Builder<std::fs::File>, name: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, name, std::io::empty()).expect("dir");
    };
    for d in [
        "bin",
        "etc",
        "tmp",
        "www",
        "root",
        "usr",
        "usr/local",
        "usr/local/bin",
        "var",
        "var/run",
        "proc",
        "sys",
        "dev",
    ] {
        dir_entry(&mut b, d);
    }
    b.append_path_with_name(&busybox, "bin/busybox")
        .expect("busybox");
    let list = Command::new(&busybox)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet == "busybox" {
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .expect("link");
    }
    let mut file = |name: &str, body: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(mode);
        b.append_data(&mut h, name, body).expect("file");
    };
    file("www/index.html", WWW_TEXT.as_bytes(), 0o644);
    file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
        0o644,
    );
    file("etc/group", b"root:x:0:\nnobody:x:65534:\n", 0o644);
    if docker_cli {
        let cli = ["/usr/local/bin/docker", "/usr/bin/docker"]
            .into_iter()
            .find(|p| is_static(p))
            .expect("a statically linked docker client");
        b.append_path_with_name(cli, "usr/local/bin/docker")
            .expect("docker cli");
    }
    b.finish().expect("finish tar");
    tar_path
}

fn is_static(path: &str) -> bool {
    Command::new("file")
        .arg("-L")
        .arg(path)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("statically linked"))
        .unwrap_or(false)
}

/// A host with its own prefix and address ranges (so test binaries running at the same
/// time never share anything), its images imported.
pub async fn start_host(prefix: &str, third_octet: u8, dir: &Path, tools: bool) -> DockerHost {
    start_host_with(prefix, third_octet, dir, tools, |_| {}).await
}

/// [`start_host`] with changes to the configuration; images are in the library before
/// the host starts (so warm engines find them).
pub async fn start_host_with(
    prefix: &str,
    third_octet: u8,
    dir: &Path,
    tools: bool,
    change: impl FnOnce(&mut DockerConfig),
) -> DockerHost {
    let mut cfg = DockerConfig::new(dir.join("state"), format!("/run/hxt/{prefix}"));
    cfg.prefix = prefix.into();
    cfg.uplink_pool = format!("10.251.{third_octet}.0/24").parse().unwrap();
    cfg.container_pool = format!("10.{}.0.0/16", 160 + third_octet).parse().unwrap();
    cfg.session_prefix_len = 20;
    cfg.max_upload_bytes = 1024 * 1024;
    cfg.max_read_bytes = 1024 * 1024;
    cfg.reap_interval = Duration::from_millis(200);
    change(&mut cfg);
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let library = ImageLibrary::new(cfg.state_dir.join("images"));
    let rootfs = build_rootfs(&images, false);
    library
        .import_rootfs(IMAGE, &rootfs, &ImageConfig::default())
        .expect("import busybox");
    if tools {
        let rootfs = build_rootfs(&images, true);
        library
            .import_rootfs(TOOLS_IMAGE, &rootfs, &ImageConfig::default())
            .expect("import tools");
    }
    let (host, _) = DockerHost::start(cfg).await.expect("start docker host");
    host
}

/// Output of a command run to completion.
#[derive(Debug, Default)]
pub struct Ran {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

pub async fn sh(host: &DockerHost, id: &SandboxId, script: &str) -> Ran {
    let mut spec = ExecSpec::new(["sh", "-c", script]);
    spec.timeout = Some(Duration::from_secs(60));
    run(host, id, spec).await
}

pub async fn run(host: &DockerHost, id: &SandboxId, spec: ExecSpec) -> Ran {
    let mut stream = host.exec(id, spec).await.expect("exec");
    let mut ran = Ran {
        code: -999,
        ..Default::default()
    };
    while let Some(ev) = stream.next().await {
        match ev.expect("exec event") {
            ExecEvent::Stdout { data } => ran.stdout.push_str(&String::from_utf8_lossy(&data)),
            ExecEvent::Stderr { data } => ran.stderr.push_str(&String::from_utf8_lossy(&data)),
            ExecEvent::Exit { code, timed_out } => {
                ran.code = code;
                ran.timed_out = timed_out;
            }
        }
    }
    ran
}

/// Everything of `prefix` a host can leave on the machine, as sorted text lines.
pub fn leftovers(prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let cmd = |c: &str, args: &[&str]| {
        String::from_utf8_lossy(&Command::new(c).args(args).output().expect(c).stdout).into_owned()
    };
    for ns in cmd("ip", &["netns", "list"]).lines() {
        if ns.starts_with(&format!("{prefix}-")) {
            out.push(format!("netns {ns}"));
        }
    }
    for link in std::fs::read_dir("/sys/class/net").unwrap().flatten() {
        let n = link.file_name().into_string().unwrap();
        if n.starts_with(&format!("hy{prefix}")) {
            out.push(format!("link {n}"));
        }
    }
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&format!("/run/hxt/{prefix}/")) {
            out.push(format!("process {cmdline}"));
        }
    }
    for m in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
    {
        if m.contains(&format!("/run/hxt/{prefix}/"))
            || m.contains(&format!("/hxt-state-{prefix}/"))
        {
            out.push(format!("mount {m}"));
        }
    }
    for ctl in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        if let Ok(rd) = std::fs::read_dir(ctl.path()) {
            for e in rd.flatten() {
                let n = e.file_name().into_string().unwrap();
                if n.starts_with(&format!("{prefix}-")) {
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

/// The iptables rules of a host prefix (its chains, jumps and interface matches), as
/// `iptables-save` prints them without counters.
pub fn firewall_rules(prefix: &str) -> Vec<String> {
    let out = Command::new("iptables-save")
        .output()
        .expect("iptables-save");
    let chain = format!("{}-HYDRA-", prefix.to_uppercase());
    let iface = format!("hy{prefix}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&chain) || l.contains(&iface))
        .map(|l| match l.find(" [") {
            Some(i) if l.starts_with(':') => l[..i].to_owned(),
            _ => l.to_owned(),
        })
        .collect()
}

/// Removes what an earlier, failed run left in `dir` (engine mounts included).
pub fn clean_dir(dir: &Path) {
    let script = format!(
        "awk '{{print $5}}' /proc/self/mountinfo | grep '^{d}/' | sort -r | xargs -r umount -l; rm -rf {d}",
        d = dir.display()
    );
    let _ = Command::new("sh").args(["-c", &script]).status();
}
