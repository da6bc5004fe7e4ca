//! X display names.

use crate::{Result, StreamError};

/// Accepts X display names only (`[host]:N[.S]`), so nothing else reaches a pipeline
/// description.
pub(crate) fn validate(display: &str) -> Result<()> {
    let ok = (1..=64).contains(&display.len())
        && display
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_'))
        && display.rsplit_once(':').is_some_and(|(_, n)| {
            !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.')
        });
    if ok {
        Ok(())
    } else {
        Err(StreamError::InvalidSetting(format!(
            "{display:?} is not an X display name like :99"
        )))
    }
}
