//! Input validation shared by operations.

use crate::error::{CoreError, Result};

/// Trims and bounds a display name or label.
pub(crate) fn name(field: &'static str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(CoreError::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(CoreError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_owned())
}

/// Bounds a free text.
pub(crate) fn text(field: &'static str, value: &str, max_bytes: usize) -> Result<String> {
    if value.len() > max_bytes {
        return Err(CoreError::invalid(
            field,
            format!("must be at most {max_bytes} bytes"),
        ));
    }
    Ok(value.to_owned())
}

/// Checks a slug: 1 to 63 lowercase ASCII letters, digits and dashes, not starting
/// with a dash (`^[a-z0-9][a-z0-9-]{0,62}$`), so it is safe in names, labels and URLs.
pub(crate) fn slug(field: &'static str, value: &str) -> Result<String> {
    let ok_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-';
    let ok =
        (1..=63).contains(&value.len()) && !value.starts_with('-') && value.bytes().all(ok_char);
    if ok {
        Ok(value.to_owned())
    } else {
        Err(CoreError::invalid(
            field,
            "must be 1 to 63 lowercase letters, digits or dashes, not starting with a dash",
        ))
    }
}

/// Normalises and checks an email address (lowercase, one `@`, a dotted domain).
pub(crate) fn email(value: &str) -> Result<String> {
    let v = value.trim().to_lowercase();
    let bad = || CoreError::invalid("email", "is not a valid email address");
    if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" Alice@Example.COM ").unwrap(), "alice@example.com");
        for bad in ["", "a", "a@b", "@b.c", "a@@b.c", "a b@c.d", "a@.c", "a@c."] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs() {
        for good in ["a", "0", "gpu-node-1", "a-", "a".repeat(63).as_str()] {
            assert_eq!(slug("runner_id", good).unwrap(), good);
        }
        for bad in [
            "",
            "-a",
            "A",
            "gpu_1",
            "gpu 1",
            " gpu",
            "gpu.1",
            "é",
            "a".repeat(64).as_str(),
        ] {
            let err = slug("runner_id", bad).unwrap_err();
            assert_eq!(err.code().as_str(), "invalid_input", "{bad:?}");
            assert!(err.to_string().contains("runner_id"), "{err}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(name("name", "  x ", 5).unwrap(), "x");
        assert!(name("name", "   ", 5).is_err());
        assert!(name("name", "abcdef", 5).is_err());
        assert!(name("name", "a\u{0}b", 5).is_err());
    }
}
