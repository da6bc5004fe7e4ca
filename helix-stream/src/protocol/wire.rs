//! Little-endian field readers and writers shared by both message directions.

use super::{MAX_FRAME_LEN, PROTOCOL_VERSION};
use crate::{Result, StreamError};

/// Reads the fields of one frame, front to back, naming the message and field in
/// every error.
#[derive(Debug)]
pub(super) struct Reader<'a> {
    frame: &'a [u8],
    pos: usize,
    message: &'static str,
}

/// Checks a frame's size and version and returns its type byte and a reader over
/// the fields.
pub(super) fn open(frame: &[u8]) -> Result<(u8, Reader<'_>)> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(StreamError::FrameTooLarge {
            len: frame.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let mut reader = Reader {
        frame,
        pos: 0,
        message: "frame header",
    };
    let version = reader.u8("version")?;
    if version != PROTOCOL_VERSION {
        return Err(StreamError::UnsupportedVersion {
            version,
            supported: PROTOCOL_VERSION,
        });
    }
    let message_type = reader.u8("message type")?;
    Ok((message_type, reader))
}

impl<'a> Reader<'a> {
    /// Names the message the remaining fields belong to, for error messages.
    pub(super) fn message(&mut self, message: &'static str) {
        self.message = message;
    }

    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8]> {
        let rest = &self.frame[self.pos..];
        if rest.len() < len {
            return Err(StreamError::Truncated {
                message: self.message,
                field,
                offset: self.pos,
            });
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(super) fn bool(&mut self, field: &'static str) -> Result<bool> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.invalid(field, format!("{other} is not 0 or 1"))),
        }
    }

    pub(super) fn u16(&mut self, field: &'static str) -> Result<u16> {
        self.array(field).map(u16::from_le_bytes)
    }

    pub(super) fn u32(&mut self, field: &'static str) -> Result<u32> {
        self.array(field).map(u32::from_le_bytes)
    }

    pub(super) fn i32(&mut self, field: &'static str) -> Result<i32> {
        self.array(field).map(i32::from_le_bytes)
    }

    pub(super) fn u64(&mut self, field: &'static str) -> Result<u64> {
        self.array(field).map(u64::from_le_bytes)
    }

    /// A `u32` length followed by that many bytes.
    pub(super) fn bytes(&mut self, field: &'static str) -> Result<&'a [u8]> {
        let at = self.pos;
        let len = self.u32(field)?;
        // A length beyond the frame is truncation, whatever its size.
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.take(len, field).map_err(|_| StreamError::Truncated {
            message: self.message,
            field,
            offset: at,
        })
    }

    /// A `u32` length followed by that many bytes of UTF-8.
    pub(super) fn string(&mut self, field: &'static str) -> Result<String> {
        let bytes = self.bytes(field)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| self.invalid(field, format!("not valid utf-8 ({e})")))
    }

    pub(super) fn invalid(&self, field: &'static str, reason: String) -> StreamError {
        StreamError::InvalidField {
            message: self.message,
            field,
            reason,
        }
    }

    /// Ends decoding: every byte of the frame must have been read.
    pub(super) fn finish(self) -> Result<()> {
        match self.frame.len() - self.pos {
            0 => Ok(()),
            count => Err(StreamError::TrailingBytes {
                message: self.message,
                count,
            }),
        }
    }
}

/// Builds one frame: header first, then fields in order.
#[derive(Debug)]
pub(super) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A frame of `message_type` with room for `payload_len` bytes of fields.
    pub(super) fn new(message_type: u8, payload_len: usize) -> Self {
        let mut buf = Vec::with_capacity(2 + payload_len);
        buf.extend_from_slice(&[PROTOCOL_VERSION, message_type]);
        Self { buf }
    }

    pub(super) fn u8(mut self, v: u8) -> Self {
        self.buf.push(v);
        self
    }

    pub(super) fn bool(self, v: bool) -> Self {
        self.u8(u8::from(v))
    }

    pub(super) fn u16(mut self, v: u16) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(super) fn u32(mut self, v: u32) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(super) fn i32(mut self, v: i32) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(super) fn u64(mut self, v: u64) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A `u32` length and the bytes. Callers check the frame size first, so the
    /// length always fits in `u32`.
    pub(super) fn bytes(mut self, v: &[u8]) -> Self {
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(v);
        self
    }

    pub(super) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Fails when a message of `payload_len` field bytes would not fit in a frame.
pub(super) fn check_encoded_len(payload_len: usize) -> Result<()> {
    let len = payload_len.saturating_add(2);
    if len > MAX_FRAME_LEN {
        return Err(StreamError::FrameTooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    Ok(())
}
