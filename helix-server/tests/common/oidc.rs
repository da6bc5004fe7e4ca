//! A REAL OpenID provider for SSO tests: npm `oidc-provider`, run by node from
//! `tests/oidc-provider/` (see its README for the users and the flow).
//!
//! Required when `HELIX_TEST_REQUIRE_OIDC=1` (scripts/test.sh, CI); otherwise tests
//! skip with a message when node or the provider's node_modules are missing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const CLIENT_ID: &str = "helix-test";
pub const CLIENT_SECRET: &str = "a-long-random-test-client-secret";

/// The provider process (killed when dropped) and its issuer URL.
pub struct Provider {
    child: Child,
    pub issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/oidc-provider/` when it can run, or `None` (skip).
pub fn provider_dir() -> Option<std::path::PathBuf> {
    let dir = std::env::var("HELIX_OIDC_PROVIDER_DIR")
        .map(Into::into)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc-provider")
        });
    let ready = dir.join("node_modules/oidc-provider").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            std::env::var("HELIX_TEST_REQUIRE_OIDC").as_deref() != Ok("1"),
            "HELIX_TEST_REQUIRE_OIDC=1 but node or {}/node_modules is missing",
            dir.display()
        );
        eprintln!("OIDC provider not installed (npm ci in tests/oidc-provider): SSO test not run");
        return None;
    }
    Some(dir)
}

/// Starts the provider on a port it picks itself and waits for its `ready` line. A
/// node process that has not said ready within 30 s is killed and started again (a
/// rare startup hang of node was seen here once; a test must not hang CI on it).
pub fn start_provider(dir: &std::path::Path, redirect_uri: &str, code_ttl: u64) -> Provider {
    for attempt in 1..=3 {
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(dir)
            .env("PORT", "0")
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", redirect_uri)
            .env("CODE_TTL", code_ttl.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node oidc provider");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.starts_with("ready ") => {
                return Provider {
                    child,
                    issuer: line.trim().trim_start_matches("ready ").to_owned(),
                };
            }
            other => {
                eprintln!("oidc provider attempt {attempt} did not start ({other:?}); retrying");
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    panic!("the oidc provider did not start in 3 attempts");
}
