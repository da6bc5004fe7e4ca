//! Sandbox creation benchmark on REAL dockerd engines (needs root and docker.io).
//!
//! ```text
//! cargo run -p helix-hydra --example bench_sandboxes -- [RUNS] [IDLE]
//! ```
//!
//! Measures create-to-first-successful-exec (`true`), p50/p95 over RUNS (default 20):
//! - **cold**: a new engine per sandbox (namespace, veth, DNS, dockerd, image import);
//! - **warm**: an engine from the warm pool, its workspace already started (the pool
//!   refills between runs, so this is the latency of an idle host, not sustained load);
//! - **baseline** (same run): a plain container created, started and exec'd in one
//!   already-running shared dockerd, i.e. what creation costs with no per-session
//!   isolation at all.
//!
//! Then IDLE (default 6) idle sandboxes: their processes' proportional memory (PSS),
//! and how many would fit in 24 GiB.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use bollard::Docker;
use futures::StreamExt;
use helix_hydra::docker::{DockerConfig, DockerHost, ImageConfig};
use helix_hydra::{ExecEvent, ExecSpec, SandboxRuntime, SandboxSpec};

const IMAGE: &str = "bench/busybox:1";
type Res<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let idle: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(6);
    let dir = PathBuf::from("/var/tmp/helix-bench-sandboxes");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let rootfs = busybox_rootfs(&dir)?;

    let mut cfg = DockerConfig::new(dir.join("state"), "/run/helix-hydra/hxb");
    cfg.prefix = "hxb".into();
    cfg.uplink_pool = "10.251.200.0/24".parse()?;
    cfg.container_pool = "10.224.0.0/12".parse()?;
    cfg.warm_pool = 0;
    cfg.max_sandboxes = runs + idle + 4;
    let (host, _) = DockerHost::start(cfg.clone()).await?;
    host.images()
        .import_rootfs(IMAGE, &rootfs, &ImageConfig::default())?;

    eprintln!("cold: {runs} runs");
    let cold = measure(&host, runs, false).await?;

    eprintln!("baseline: {runs} runs");
    let base_sbx = host.create(SandboxSpec::new(IMAGE)).await?;
    let sock = host.engine_socket(&base_sbx.id).await?;
    let docker =
        Docker::connect_with_unix(&sock.to_string_lossy(), 120, bollard::API_DEFAULT_VERSION)?
            .negotiate_version()
            .await?;
    let mut baseline = Vec::new();
    for i in 0..runs {
        baseline.push(plain_container(&docker, &format!("b{i}")).await?);
    }
    host.kill(&base_sbx.id).await?;
    host.shutdown().await;
    drop(host);

    cfg.warm_pool = 2;
    cfg.warm_images = vec![IMAGE.into()];
    let (host, _) = DockerHost::start(cfg).await?;
    host.images()
        .import_rootfs(IMAGE, &rootfs, &ImageConfig::default())?;
    eprintln!("warm: {runs} runs");
    let warm = measure(&host, runs, true).await?;

    eprintln!("idle: {idle} sandboxes");
    let mut ids = Vec::new();
    for _ in 0..idle {
        ids.push(host.create(SandboxSpec::new(IMAGE)).await?.id);
    }
    // Let the pool refill so every engine counted is settled.
    wait_warm(&host, 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let engines = idle + host.warm_ready().await;
    let pss = pss_of_prefix("hxb");
    for id in &ids {
        host.kill(id).await?;
    }
    host.uninstall().await?;

    let (c50, c95) = pct(&cold);
    let (w50, w95) = pct(&warm);
    let (b50, b95) = pct(&baseline);
    let ratio = |d: Duration| d.as_secs_f64() / b50.as_secs_f64();
    println!("create -> first exec, {runs} runs each (2-core machine, debug build)");
    println!("| path | p50 | p95 | p50 vs baseline |");
    println!("|---|---|---|---|");
    println!(
        "| baseline: plain container in a shared running dockerd | {} | {} | 1.00x |",
        ms(b50),
        ms(b95)
    );
    println!(
        "| warm pool (engine and workspace started ahead) | {} | {} | {:.2}x |",
        ms(w50),
        ms(w95),
        ratio(w50)
    );
    println!(
        "| cold (new dockerd per sandbox) | {} | {} | {:.2}x |",
        ms(c50),
        ms(c95),
        ratio(c50)
    );
    println!(
        "published anchors (not measured here): Daytona ~110 ms, E2B ~440 ms median; \
         warm p50 is {:.2}x Daytona's, {:.2}x E2B's",
        w50.as_secs_f64() / 0.11,
        w50.as_secs_f64() / 0.44
    );
    let per = pss as f64 / engines as f64;
    println!(
        "idle memory: {:.1} MiB PSS per session ({engines} engines, {:.0} MiB in all) -> ~{} idle sessions in 24 GiB",
        per / 1048576.0,
        pss as f64 / 1048576.0,
        (24.0 * 1024.0 * 1048576.0 / per) as u64
    );
    Ok(())
}

async fn plain_container(docker: &Docker, name: &str) -> Res<Duration> {
    let t = Instant::now();
    docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.to_owned()),
                ..Default::default()
            }),
            ContainerCreateBody {
                image: Some(IMAGE.into()),
                cmd: Some(vec!["sleep".into(), "600".into()]),
                ..Default::default()
            },
        )
        .await?;
    docker.start_container(name, None).await?;
    let ex = docker
        .create_exec(
            name,
            CreateExecOptions {
                cmd: Some(vec!["true"]),
                attach_stdout: Some(true),
                ..Default::default()
            },
        )
        .await?;
    if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&ex.id, None).await? {
        while output.next().await.is_some() {}
    }
    let took = t.elapsed();
    docker
        .remove_container(
            name,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await?;
    Ok(took)
}

async fn wait_warm(host: &DockerHost, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while host.warm_ready().await < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn measure(host: &DockerHost, runs: usize, warm: bool) -> Res<Vec<Duration>> {
    let mut out = Vec::new();
    for _ in 0..runs {
        if warm {
            wait_warm(host, 1).await;
        }
        let t = Instant::now();
        let sbx = host.create(SandboxSpec::new(IMAGE)).await?;
        let mut s = host.exec(&sbx.id, ExecSpec::new(["true"])).await?;
        let mut code = -1;
        while let Some(ev) = s.next().await {
            if let ExecEvent::Exit { code: c, .. } = ev? {
                code = c;
            }
        }
        out.push(t.elapsed());
        if code != 0 {
            return Err(format!("first exec exited {code}").into());
        }
        host.kill(&sbx.id).await?;
    }
    Ok(out)
}

fn pct(v: &[Duration]) -> (Duration, Duration) {
    let mut v = v.to_vec();
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.95))
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// PSS of every process in the prefix's namespaces and cgroups.
fn pss_of_prefix(prefix: &str) -> u64 {
    let mut pids = BTreeSet::new();
    let ns = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip");
    for line in String::from_utf8_lossy(&ns.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if name.starts_with(&format!("{prefix}-")) {
            let out = std::process::Command::new("ip")
                .args(["netns", "pids", name])
                .output()
                .expect("ip");
            pids.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| l.trim().parse::<u32>().ok()),
            );
        }
    }
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup/pids") {
        for e in rd.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{prefix}-"))
            {
                collect(&e.path(), &mut pids);
            }
        }
    }
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .sum::<u64>()
        * 1024
}

fn collect(dir: &Path, out: &mut BTreeSet<u32>) {
    if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(s.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                collect(&e.path(), out);
            }
        }
    }
}

fn busybox_rootfs(dir: &Path) -> Res<PathBuf> {
    let root = dir.join("rootfs");
    let tar = dir.join("busybox.tar");
    let script = format!(
        "set -e; mkdir -p {r}/bin {r}/tmp {r}/etc; cp \"$(command -v busybox)\" {r}/bin/busybox; \
         for a in $({r}/bin/busybox --list); do [ -e {r}/bin/$a ] || ln -s busybox {r}/bin/$a; done; \
         tar -C {r} -cf {t} .",
        r = root.display(),
        t = tar.display()
    );
    let st = std::process::Command::new("sh")
        .args(["-c", &script])
        .status()?;
    if !st.success() {
        return Err("cannot build a busybox rootfs (apt-get install busybox-static)".into());
    }
    Ok(tar)
}
