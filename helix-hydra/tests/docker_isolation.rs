//! Two sandboxes on REAL dockerd engines: every probe from one into the other is blocked,
//! each sees only its own containers and names, and a workspace reaches its own
//! containers by name.

mod support;

use helix_hydra::{SandboxRuntime, SandboxSpec};
use support::*;

/// `get HOST PORT` prints the body of `GET /` and fails when nothing answers (busybox's
/// `wget` crashes in Debian's static build; `nc` works). The listener answers with a
/// one-line body, so the last line is the body.
const GET: &str = "get() { out=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 \"$1\" \"$2\") || return 1; [ -n \"$out\" ] || return 1; printf '%s' \"$out\" | tail -n1; };";

async fn container_ip(
    host: &helix_hydra::docker::DockerHost,
    id: &helix_hydra::SandboxId,
    name: &str,
) -> String {
    let r = sh(
        host,
        id,
        &format!("docker inspect -f '{{{{range .NetworkSettings.Networks}}}}{{{{.IPAddress}}}} {{{{end}}}}' {name}"),
    )
    .await;
    assert_eq!(r.code, 0, "inspect {name}: {r:?}");
    r.stdout
        .split_whitespace()
        .next()
        .expect("an address")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_cannot_see_or_reach_each_other() {
    if !docker_available() {
        return;
    }
    let dir = std::path::PathBuf::from("/var/tmp/hxt-state-tiso");
    clean_dir(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let host = start_host("tiso", 10, &dir, true).await;

    let a = host
        .create(SandboxSpec::new(TOOLS_IMAGE))
        .await
        .expect("create a");
    let b = host
        .create(SandboxSpec::new(TOOLS_IMAGE))
        .await
        .expect("create b");

    // Each session runs a web server on a user network and one on the default bridge,
    // publishing a port.
    for (s, tag) in [(&a.id, "a"), (&b.id, "b")] {
        let r = sh(
            &host,
            s,
            &format!(
                "docker network create appnet >/dev/null && \
                 docker run -d --name svc-{tag} --network appnet {TOOLS_IMAGE} httpd -f -p 8080 -h /www >/dev/null && \
                 docker run -d --name pub-{tag} -p 9090:8080 {TOOLS_IMAGE} httpd -f -p 8080 -h /www >/dev/null && echo started"
            ),
        )
        .await;
        assert_eq!(r.code, 0, "start services in {tag}: {r:?}");
    }

    // Positive controls inside A: by session DNS name from the workspace, by docker's
    // embedded DNS from a sibling, and the published port.
    let r = sh(&host, &a.id, &format!("{GET} for i in 1 2 3 4 5 6 7 8 9 10; do get svc-a 8080 && exit 0; sleep 0.3; done; exit 1")).await;
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, WWW_TEXT),
        "workspace → svc-a by name: {r:?}"
    );
    let r = sh(
        &host,
        &a.id,
        &format!("{GET} get svc-a.hydra.internal 8080"),
    )
    .await;
    assert_eq!(r.stdout, WWW_TEXT, "fqdn: {r:?}");
    let r = sh(&host, &a.id, &format!("{GET} get 127.0.0.1 9090")).await;
    assert_eq!(
        r.stdout, WWW_TEXT,
        "published port from the workspace: {r:?}"
    );
    host.write_file(
        &a.id,
        "/tmp/get-svc-a.sh",
        format!("{GET} get svc-a 8080").into(),
    )
    .await
    .unwrap();
    let r = sh(
        &host,
        &a.id,
        &format!("docker run -i --rm --network appnet {TOOLS_IMAGE} sh < /tmp/get-svc-a.sh"),
    )
    .await;
    assert_eq!(r.stdout, WWW_TEXT, "sibling → svc-a: {r:?}");

    // The engine serves the sandbox but refuses every way to the host through it.
    let refused = [
        (
            "host root bind mount",
            format!("docker run --rm -v /:/host {TOOLS_IMAGE} ls /host"),
        ),
        (
            "privileged container",
            format!("docker run --rm --privileged {TOOLS_IMAGE} true"),
        ),
        (
            "host pid namespace",
            format!("docker run --rm --pid host {TOOLS_IMAGE} true"),
        ),
        (
            "CAP_SYS_ADMIN",
            format!("docker run --rm --cap-add SYS_ADMIN {TOOLS_IMAGE} true"),
        ),
        (
            "a host device",
            format!("docker run --rm --device /dev/kmsg {TOOLS_IMAGE} true"),
        ),
        (
            "seccomp off",
            format!("docker run --rm --security-opt seccomp=unconfined {TOOLS_IMAGE} true"),
        ),
        (
            "cgroup escape",
            format!("docker run --rm --cgroup-parent / {TOOLS_IMAGE} true"),
        ),
        (
            "bind volume",
            "docker volume create --opt type=none --opt o=bind --opt device=/ hostroot".to_owned(),
        ),
        (
            "privileged exec",
            "docker exec --privileged svc-a true".to_owned(),
        ),
    ];
    for (what, cmd) in refused {
        let r = sh(&host, &a.id, &cmd).await;
        assert_ne!(r.code, 0, "{what} must be refused: {r:?}");
        assert!(r.stderr.contains("authorization denied"), "{what}: {r:?}");
    }
    let r = sh(
        &host,
        &a.id,
        &format!("docker run --rm -v data:/data {TOOLS_IMAGE} sh -c 'echo kept > /data/f' && docker run --rm -v data:/data {TOOLS_IMAGE} cat /data/f"),
    )
    .await;
    assert_eq!(r.stdout, "kept\n", "named volumes work: {r:?}");

    // Names: A's resolve in A, B's do not.
    let r = sh(&host, &a.id, "nslookup svc-a && nslookup pub-a").await;
    assert_eq!(r.code, 0, "A's names resolve in A: {r:?}");
    for name in ["svc-b", "pub-b", "svc-b.hydra.internal"] {
        let r = sh(&host, &a.id, &format!("nslookup {name}")).await;
        assert_ne!(r.code, 0, "{name} must not resolve in A: {r:?}");
    }

    // docker ps in A lists A's containers only.
    let r = sh(
        &host,
        &a.id,
        "docker ps -a --format '{{.Names}}' | sort | tr '\\n' ' '",
    )
    .await;
    assert_eq!(
        r.stdout.trim(),
        "pub-a svc-a workspace",
        "A's docker ps: {r:?}"
    );
    let r = sh(
        &host,
        &b.id,
        "docker ps -a --format '{{.Names}}' | sort | tr '\\n' ' '",
    )
    .await;
    assert_eq!(
        r.stdout.trim(),
        "pub-b svc-b workspace",
        "B's docker ps: {r:?}"
    );
    let r = sh(&host, &a.id, "docker inspect svc-b").await;
    assert_ne!(r.code, 0, "A cannot inspect B's container");

    // Every target of B (containers by address and name, its workspace's address and
    // published port) and the host itself, from every source in A (the workspace, a
    // container on A's user network, a container on A's default bridge).
    let b_targets = vec![
        format!("{} 8080", container_ip(&host, &b.id, "svc-b").await),
        format!("{} 8080", container_ip(&host, &b.id, "pub-b").await),
        format!("{} 9090", host.port_target(&b.id, 9090).await.unwrap().ip()),
        "svc-b 8080".to_owned(),
        "pub-b 8080".to_owned(),
    ];
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let host_port = listener.local_addr().unwrap().port();
    let a_gateway = {
        let ip = host.port_target(&a.id, 1).await.unwrap().ip().to_string();
        let mut octets: Vec<u8> = ip.split('.').map(|o| o.parse().unwrap()).collect();
        octets[3] -= 1;
        format!("{}.{}.{}.{}", octets[0], octets[1], octets[2], octets[3])
    };
    let mut targets = b_targets.clone();
    targets.push(format!("{a_gateway} {host_port}"));
    let probe = targets
        .iter()
        .map(|t| format!("(r=$(get {t} 2>&1) && echo REACHED {t}: $r || echo blocked {t}) &"))
        .collect::<Vec<_>>()
        .join(" ");
    let script = format!("{GET} {probe} wait");
    host.write_file(&a.id, "/tmp/probe.sh", script.into())
        .await
        .unwrap();
    let sources = [
        ("workspace", "sh /tmp/probe.sh".to_owned()),
        (
            "user-network container",
            format!("docker run -i --rm --network appnet {TOOLS_IMAGE} sh < /tmp/probe.sh"),
        ),
        (
            "default-bridge container",
            format!("docker run -i --rm {TOOLS_IMAGE} sh < /tmp/probe.sh"),
        ),
    ];
    let mut probes = 0;
    for (source, cmd) in sources {
        let r = sh(&host, &a.id, &cmd).await;
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            targets.len(),
            "{source}: one line per target: {r:?}"
        );
        for l in lines {
            assert!(l.starts_with("blocked "), "{source}: {l}");
            probes += 1;
        }
    }
    assert_eq!(probes, 3 * targets.len());
    drop(listener);

    // And the same from B towards A's user-network container by address.
    let a_svc = container_ip(&host, &a.id, "svc-a").await;
    let r = sh(
        &host,
        &b.id,
        &format!("{GET} get {a_svc} 8080 || echo blocked"),
    )
    .await;
    assert_eq!(r.stdout.trim(), "blocked", "B → A: {r:?}");

    host.kill(&a.id).await.unwrap();
    host.kill(&b.id).await.unwrap();
    host.uninstall().await.unwrap();
    assert_eq!(leftovers("tiso"), Vec::<String>::new());
    assert_eq!(firewall_rules("tiso"), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&dir);
}
