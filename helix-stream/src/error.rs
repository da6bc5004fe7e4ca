//! The crate's error type.

/// Everything that can go wrong in `helix-stream`.
///
/// Each variant carries a stable machine-readable [`code`](StreamError::code) that hosts
/// map to HTTP statuses, Python exception classes or JS errors, and that a server can
/// log when it drops a malformed frame from a viewer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The frame's version byte is not a protocol version this build speaks.
    #[error("unsupported stream protocol version {version} (supported: {supported})")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
        /// The version this build speaks.
        supported: u8,
    },

    /// The frame's type byte names no message of this direction.
    #[error("unknown {direction} message type 0x{message_type:02x}")]
    UnknownMessageType {
        /// `"server"` or `"client"`: the direction being decoded.
        direction: &'static str,
        /// The type byte found.
        message_type: u8,
    },

    /// The frame ended before a field was complete.
    #[error("{message} frame truncated at byte {offset} while reading {field}")]
    Truncated {
        /// The message being decoded (`"frame header"` before the type is known).
        message: &'static str,
        /// The field being read.
        field: &'static str,
        /// Byte offset of the field in the frame.
        offset: usize,
    },

    /// The frame has bytes after the last field of its message.
    #[error("{message} frame has {count} trailing bytes")]
    TrailingBytes {
        /// The message decoded.
        message: &'static str,
        /// How many bytes were left over.
        count: usize,
    },

    /// The frame (to decode, or as encoded) is larger than the protocol allows.
    #[error("frame of {len} bytes is larger than the maximum of {max}")]
    FrameTooLarge {
        /// The frame's length.
        len: usize,
        /// The maximum frame length.
        max: usize,
    },

    /// A field holds a value outside its domain (bool not 0 or 1, unknown codec,
    /// invalid UTF-8).
    #[error("{message} frame has an invalid {field}: {reason}")]
    InvalidField {
        /// The message being decoded.
        message: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The desktop cannot be streamed right now (not streaming, gone, view-only).
    #[error("stream unavailable: {0}")]
    Unavailable(String),

    /// No usable encoder: none is installed, the one asked for is unknown or failed its
    /// probe.
    #[error("no usable encoder: {0}")]
    NoEncoder(String),

    /// Building or running the capture and encoding pipeline failed.
    #[error("pipeline failed: {0}")]
    Pipeline(String),

    /// Injecting input into the desktop failed (the display went away).
    #[error("input injection failed: {0}")]
    Input(String),

    /// A setting is outside what is allowed (a bitrate, a size, a display name).
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
}

impl StreamError {
    /// A stable, machine-readable code for this error (`snake_case`, never changes).
    pub fn code(&self) -> &'static str {
        match self {
            StreamError::UnsupportedVersion { .. } => "unsupported_version",
            StreamError::UnknownMessageType { .. } => "unknown_message_type",
            StreamError::Truncated { .. } => "truncated",
            StreamError::TrailingBytes { .. } => "trailing_bytes",
            StreamError::FrameTooLarge { .. } => "frame_too_large",
            StreamError::InvalidField { .. } => "invalid_field",
            StreamError::Unavailable(_) => "stream_unavailable",
            StreamError::NoEncoder(_) => "no_encoder",
            StreamError::Pipeline(_) => "pipeline_failed",
            StreamError::Input(_) => "input_failed",
            StreamError::InvalidSetting(_) => "invalid_setting",
        }
    }
}

/// `Result` with [`StreamError`] as the default error type.
pub type Result<T, E = StreamError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let errors = [
            StreamError::UnsupportedVersion {
                version: 9,
                supported: 1,
            },
            StreamError::UnknownMessageType {
                direction: "client",
                message_type: 0x7f,
            },
            StreamError::Truncated {
                message: "ping",
                field: "client_ts_us",
                offset: 2,
            },
            StreamError::TrailingBytes {
                message: "ping",
                count: 1,
            },
            StreamError::FrameTooLarge { len: 10, max: 5 },
            StreamError::Unavailable("the desktop is gone".into()),
            StreamError::NoEncoder("x264enc is not installed".into()),
            StreamError::Pipeline("ximagesrc: cannot open display".into()),
            StreamError::Input("broken pipe".into()),
            StreamError::InvalidSetting("bitrate 0".into()),
        ];
        let mut codes = std::collections::HashSet::new();
        for err in errors {
            let msg = err.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert!(msg.starts_with(|c: char| c.is_lowercase()), "{msg}");
            assert!(codes.insert(err.code()), "codes are distinct");
        }
    }
}
