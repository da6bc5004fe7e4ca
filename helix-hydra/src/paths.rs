//! Paths inside a sandbox, as the file API accepts them.
//!
//! A path must be absolute and is normalised (`//` and `.` dropped); `..` is refused
//! outright rather than resolved, so a request can never name something other than what
//! it spells. (The engine's archive API resolves paths inside the container's root, so a
//! symbolic link in the sandbox cannot reach the host either.)

use crate::{HydraError, Result};

/// The longest path accepted, in bytes (Linux's `PATH_MAX`).
pub const MAX_PATH: usize = 4096;

/// Validates and normalises a sandbox path: `/a//b/./c/` becomes `/a/b/c`.
pub fn sandbox_path(path: &str) -> Result<String> {
    let bad = |reason: &str| HydraError::InvalidPath {
        path: path.chars().take(200).collect(),
        reason: reason.into(),
    };
    if path.len() > MAX_PATH {
        return Err(bad("longer than 4096 bytes"));
    }
    if path.contains('\0') {
        return Err(bad("contains NUL"));
    }
    if !path.starts_with('/') {
        return Err(bad("must be absolute"));
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(bad("must not contain `..`")),
            p => parts.push(p),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Splits a normalised path into its parent directory and file name; `None` for `/`.
pub fn split_parent(path: &str) -> Option<(&str, &str)> {
    let idx = path.rfind('/')?;
    let name = &path[idx + 1..];
    if name.is_empty() {
        return None;
    }
    let parent = if idx == 0 { "/" } else { &path[..idx] };
    Some((parent, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises() {
        assert_eq!(sandbox_path("/").unwrap(), "/");
        assert_eq!(sandbox_path("/a//b/./c/").unwrap(), "/a/b/c");
        assert_eq!(
            sandbox_path("/home/user/x.txt").unwrap(),
            "/home/user/x.txt"
        );
    }

    #[test]
    fn refuses_traversal_relative_and_nul() {
        for bad in ["../etc/passwd", "/home/../etc", "/..", "a/b", "", "/a\0b"] {
            let err = sandbox_path(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_path", "{bad:?}");
        }
        assert!(sandbox_path(&format!("/{}", "a".repeat(MAX_PATH))).is_err());
    }

    #[test]
    fn splits() {
        assert_eq!(split_parent("/a/b"), Some(("/a", "b")));
        assert_eq!(split_parent("/x"), Some(("/", "x")));
        assert_eq!(split_parent("/"), None);
    }

    proptest! {
        #[test]
        fn accepted_paths_never_climb(s in "[/a.]{0,24}") {
            if let Ok(p) = sandbox_path(&s) {
                prop_assert!(p.starts_with('/'));
                prop_assert!(!p.split('/').any(|c| c == ".." || c == "."));
                prop_assert!(!p.contains("//"));
                prop_assert_eq!(sandbox_path(&p).unwrap(), p.clone());
            }
        }
    }
}
