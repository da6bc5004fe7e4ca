//! A byte-level GGUF writer for tests: builds valid and deliberately broken files.

use super::{GgmlType, MetadataValue};

/// Writes GGUF bytes field by field, so tests can build valid and broken files.
#[derive(Debug, Default)]
pub(crate) struct GgufWriter {
    pub(crate) buf: Vec<u8>,
}

impl GgufWriter {
    /// A writer positioned after magic, version and the two counts.
    pub(crate) fn with_header(version: u32, tensors: u64, kvs: u64) -> Self {
        let mut w = Self::default();
        w.raw(b"GGUF").u32(version).u64(tensors).u64(kvs);
        w
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }

    pub(crate) fn string(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64).raw(s.as_bytes())
    }

    /// A value's payload, without its type tag.
    pub(crate) fn payload(&mut self, value: &MetadataValue) -> &mut Self {
        match value {
            MetadataValue::U8(v) => self.raw(&v.to_le_bytes()),
            MetadataValue::I8(v) => self.raw(&v.to_le_bytes()),
            MetadataValue::U16(v) => self.raw(&v.to_le_bytes()),
            MetadataValue::I16(v) => self.raw(&v.to_le_bytes()),
            MetadataValue::U32(v) => self.raw(&v.to_le_bytes()),
            MetadataValue::I32(v) => self.raw(&v.to_le_bytes()),
            MetadataValue::F32(v) => self.raw(&v.to_le_bytes()),
            MetadataValue::Bool(v) => self.raw(&[u8::from(*v)]),
            MetadataValue::String(v) => self.string(v),
            MetadataValue::U64(v) => self.raw(&v.to_le_bytes()),
            MetadataValue::I64(v) => self.raw(&v.to_le_bytes()),
            MetadataValue::F64(v) => self.raw(&v.to_le_bytes()),
            MetadataValue::Array {
                element_type,
                values,
            } => {
                self.u32(element_type.tag()).u64(values.len() as u64);
                for v in values {
                    self.payload(v);
                }
                self
            }
        }
    }

    pub(crate) fn kv(&mut self, key: &str, value: &MetadataValue) -> &mut Self {
        self.string(key)
            .u32(value.value_type().tag())
            .payload(value)
    }

    pub(crate) fn tensor(&mut self, name: &str, dims: &[u64], ty: GgmlType, off: u64) -> &mut Self {
        self.string(name).u32(dims.len() as u32);
        for d in dims {
            self.u64(*d);
        }
        self.u32(ty.id()).u64(off)
    }
}
