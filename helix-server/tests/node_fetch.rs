//! `scripts/node.sh`, which gives `scripts/run.sh` a Node.js new enough for the web UI
//! on machines whose own is missing or too old (Debian 12): it fetches the official
//! build from a dist server, checks it against SHASUMS256.txt, and refuses one that
//! does not match. Served here from a local dist folder built from this machine's node.

use std::path::Path;
use std::process::Command;

/// A dist folder like nodejs.org's, with a tarball made from the node and npm here.
fn fake_dist(root: &Path, version: &str) -> Option<()> {
    let node = which("node")?;
    let npm_cli = std::fs::canonicalize(which("npm")?).ok()?;
    let npm_dir = npm_cli.parent()?.parent()?.to_owned(); // .../npm/bin/npm-cli.js
    let name = format!("node-v{version}-linux-{}", arch()?);
    let build = root.join("build").join(&name);
    std::fs::create_dir_all(build.join("bin")).unwrap();
    std::fs::create_dir_all(build.join("lib/node_modules")).unwrap();
    std::fs::copy(&node, build.join("bin/node")).unwrap();
    let script = format!(
        "cp -r {npm} {lib}/npm && ln -s ../lib/node_modules/npm/bin/npm-cli.js {bin}/npm && \
         mkdir -p {dist} && tar -czf {dist}/{name}.tar.gz -C {parent} {name} && \
         cd {dist} && sha256sum {name}.tar.gz > SHASUMS256.txt",
        npm = npm_dir.display(),
        lib = build.join("lib/node_modules").display(),
        bin = build.join("bin").display(),
        dist = root.join(format!("dist/v{version}")).display(),
        parent = root.join("build").display(),
    );
    let ok = Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(ok.success());
    Some(())
}

fn which(cmd: &str) -> Option<std::path::PathBuf> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().into())
}

fn arch() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("x64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

/// Runs node.sh with no node on PATH (only the tools it needs) and `dist` as the mirror.
fn run_node_sh(home: &Path, tools: &Path, dist: &str) -> (bool, String, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/node.sh");
    let out = Command::new(tools.join("bash"))
        .arg(script)
        .env_clear()
        .env("HOME", home)
        .env("PATH", tools)
        .env("HELIX_NODE_DIST", dist)
        .env("HELIX_NODE_VERSION", "22.99.0")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn node_sh_fetches_a_checked_node_and_refuses_a_tampered_one() {
    let dir = tempfile::tempdir().unwrap();
    if fake_dist(dir.path(), "22.99.0").is_none() {
        // The browser tests need node too: where they are required, so is this.
        assert!(
            std::env::var("HELIX_TEST_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "HELIX_TEST_REQUIRE_BROWSER=1 but node or npm is missing"
        );
        eprintln!("node or npm not installed here: node.sh test not run");
        return;
    }
    // The tools node.sh uses, and no node.
    let tools = dir.path().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    for t in [
        "bash",
        "sh",
        "uname",
        "mktemp",
        "mkdir",
        "tar",
        "gzip",
        "grep",
        "sha256sum",
        "rm",
        "dirname",
    ] {
        std::os::unix::fs::symlink(which(t).unwrap(), tools.join(t)).unwrap();
    }
    // A file:// mirror: curl reads it like a web server.
    std::os::unix::fs::symlink(which("curl").expect("curl"), tools.join("curl")).unwrap();
    let dist = format!("file://{}", dir.path().join("dist").display());

    let home = dir.path().join("home");
    let (ok, stdout, stderr) = run_node_sh(&home, &tools, &dist);
    assert!(ok, "{stderr}");
    let want = home.join(format!(
        ".cache/helix/node-v22.99.0-linux-{}/bin/node",
        arch().unwrap()
    ));
    assert_eq!(stdout.trim(), want.to_str().unwrap(), "{stderr}");
    // Kept: a second run fetches nothing.
    let (ok, _, stderr) = run_node_sh(&home, &tools, "file:///nonexistent");
    assert!(ok && !stderr.contains("fetching"), "{stderr}");

    // A tarball that does not match its checksum is not installed.
    let sums = dir.path().join("dist/v22.99.0/SHASUMS256.txt");
    let text = std::fs::read_to_string(&sums).unwrap();
    std::fs::write(&sums, format!("{}{}", "0".repeat(64), &text[64..])).unwrap();
    let other_home = dir.path().join("home2");
    let (ok, _, stderr) = run_node_sh(&other_home, &tools, &dist);
    assert!(!ok, "a tampered node was accepted: {stderr}");
    assert!(stderr.contains("could not fetch or verify"), "{stderr}");
    assert!(!other_home
        .join(".cache/helix")
        .join(format!("node-v22.99.0-linux-{}", arch().unwrap()))
        .exists());
}
