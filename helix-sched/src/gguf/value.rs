//! GGUF metadata values.

use std::fmt;

/// The type tag of a GGUF metadata value (`gguf_metadata_value_type`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataValueType {
    /// `uint8` (tag 0).
    U8,
    /// `int8` (tag 1).
    I8,
    /// `uint16` (tag 2).
    U16,
    /// `int16` (tag 3).
    I16,
    /// `uint32` (tag 4).
    U32,
    /// `int32` (tag 5).
    I32,
    /// `float32` (tag 6).
    F32,
    /// `bool`, one byte that must be 0 or 1 (tag 7).
    Bool,
    /// Length-prefixed UTF-8 string (tag 8).
    String,
    /// Typed, length-prefixed array (tag 9).
    Array,
    /// `uint64` (tag 10).
    U64,
    /// `int64` (tag 11).
    I64,
    /// `float64` (tag 12).
    F64,
}

impl MetadataValueType {
    /// The type for a raw tag, or `None` if the tag is not defined by GGUF.
    pub fn from_tag(tag: u32) -> Option<Self> {
        Some(match tag {
            0 => Self::U8,
            1 => Self::I8,
            2 => Self::U16,
            3 => Self::I16,
            4 => Self::U32,
            5 => Self::I32,
            6 => Self::F32,
            7 => Self::Bool,
            8 => Self::String,
            9 => Self::Array,
            10 => Self::U64,
            11 => Self::I64,
            12 => Self::F64,
            _ => return None,
        })
    }

    /// The raw tag written in the file.
    pub fn tag(self) -> u32 {
        match self {
            Self::U8 => 0,
            Self::I8 => 1,
            Self::U16 => 2,
            Self::I16 => 3,
            Self::U32 => 4,
            Self::I32 => 5,
            Self::F32 => 6,
            Self::Bool => 7,
            Self::String => 8,
            Self::Array => 9,
            Self::U64 => 10,
            Self::I64 => 11,
            Self::F64 => 12,
        }
    }
}

/// One metadata value of a GGUF header.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// `uint8`.
    U8(u8),
    /// `int8`.
    I8(i8),
    /// `uint16`.
    U16(u16),
    /// `int16`.
    I16(i16),
    /// `uint32`.
    U32(u32),
    /// `int32`.
    I32(i32),
    /// `float32`.
    F32(f32),
    /// `bool`.
    Bool(bool),
    /// A string. Invalid UTF-8 in values is replaced with U+FFFD (keys and tensor
    /// names must be valid UTF-8).
    String(String),
    /// `uint64`.
    U64(u64),
    /// `int64`.
    I64(i64),
    /// `float64`.
    F64(f64),
    /// An array whose elements all have `element_type`.
    Array {
        /// The declared element type (kept so empty arrays stay typed).
        element_type: MetadataValueType,
        /// The elements.
        values: Vec<MetadataValue>,
    },
}

impl MetadataValue {
    /// The value's type tag.
    pub fn value_type(&self) -> MetadataValueType {
        match self {
            Self::U8(_) => MetadataValueType::U8,
            Self::I8(_) => MetadataValueType::I8,
            Self::U16(_) => MetadataValueType::U16,
            Self::I16(_) => MetadataValueType::I16,
            Self::U32(_) => MetadataValueType::U32,
            Self::I32(_) => MetadataValueType::I32,
            Self::F32(_) => MetadataValueType::F32,
            Self::Bool(_) => MetadataValueType::Bool,
            Self::String(_) => MetadataValueType::String,
            Self::U64(_) => MetadataValueType::U64,
            Self::I64(_) => MetadataValueType::I64,
            Self::F64(_) => MetadataValueType::F64,
            Self::Array { .. } => MetadataValueType::Array,
        }
    }

    /// The value as `u64` if it is an integer of any width that is not negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as `f64` if it is a number (integers are converted).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(v.into()),
            Self::F64(v) => Some(v),
            Self::I8(v) => Some(v.into()),
            Self::I16(v) => Some(v.into()),
            Self::I32(v) => Some(v.into()),
            // Lossy above 2^53, which is fine for metadata numbers.
            Self::I64(v) => Some(v as f64),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    /// The value as a string slice if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a bool if it is a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The elements if the value is an array.
    pub fn as_array(&self) -> Option<&[MetadataValue]> {
        match self {
            Self::Array { values, .. } => Some(values),
            _ => None,
        }
    }
}

impl fmt::Display for MetadataValue {
    /// Scalars print as themselves; arrays print as `[type; len]` so that a
    /// 150 000-token vocabulary does not flood a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::U8(v) => write!(f, "{v}"),
            Self::I8(v) => write!(f, "{v}"),
            Self::U16(v) => write!(f, "{v}"),
            Self::I16(v) => write!(f, "{v}"),
            Self::U32(v) => write!(f, "{v}"),
            Self::I32(v) => write!(f, "{v}"),
            Self::F32(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::String(v) => write!(f, "{v:?}"),
            Self::U64(v) => write!(f, "{v}"),
            Self::I64(v) => write!(f, "{v}"),
            Self::F64(v) => write!(f, "{v}"),
            Self::Array {
                element_type,
                values,
            } => write!(f, "[{element_type:?}; {}]", values.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        for tag in 0..=12 {
            let ty = MetadataValueType::from_tag(tag).expect("defined tag");
            assert_eq!(ty.tag(), tag);
        }
        assert_eq!(MetadataValueType::from_tag(13), None);
    }

    #[test]
    fn integer_accessors_widen_and_refuse_negatives() {
        assert_eq!(MetadataValue::U8(7).as_u64(), Some(7));
        assert_eq!(MetadataValue::I32(32).as_u64(), Some(32));
        assert_eq!(MetadataValue::I64(-1).as_u64(), None);
        assert_eq!(MetadataValue::F32(1.0).as_u64(), None);
        assert_eq!(MetadataValue::U32(3).as_f64(), Some(3.0));
        assert_eq!(MetadataValue::Bool(true).as_bool(), Some(true));
        assert_eq!(MetadataValue::String("x".into()).as_str(), Some("x"));
    }

    #[test]
    fn arrays_display_compactly() {
        let arr = MetadataValue::Array {
            element_type: MetadataValueType::String,
            values: vec![MetadataValue::String("a".into()); 3],
        };
        assert_eq!(arr.to_string(), "[String; 3]");
        assert_eq!(arr.as_array().map(<[_]>::len), Some(3));
        assert_eq!(arr.value_type(), MetadataValueType::Array);
    }
}
