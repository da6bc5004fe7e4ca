//! GGUF header parsing: model metadata and tensor layout without loading weights.
//!
//! A GGUF file (the llama.cpp model format) starts with a header:
//!
//! | field | type |
//! |---|---|
//! | magic | 4 bytes, `GGUF` |
//! | version | `u32`, 2 or 3 |
//! | tensor count | `u64` |
//! | metadata kv count | `u64` |
//! | metadata | `kv count` × (key: string, value type: `u32`, value) |
//! | tensor infos | `tensor count` × (name: string, `n_dims`: `u32`, `n_dims` × `u64`, ggml type: `u32`, offset: `u64`) |
//!
//! All integers are little-endian; a string is a `u64` byte length followed by UTF-8
//! bytes; an array value is an element type (`u32`), a `u64` length, then the elements.
//! Tensor data follows, aligned to `general.alignment` (default 32).
//!
//! [`GgufHeader::read`] parses all of that from any [`std::io::Read`], bounded by
//! [`GgufLimits`], and stops before the tensor data.

mod ggml_type;
mod reader;
mod value;

#[cfg(test)]
mod test_writer;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

pub use ggml_type::GgmlType;
pub use value::{MetadataValue, MetadataValueType};

use crate::{Result, SchedError};

/// Tensor data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// Hard limits that protect the parser from hostile or corrupt files.
///
/// Anything above a limit fails with
/// [`SchedError::GgufLimitExceeded`] before memory is reserved for it.
/// The defaults accept every real model we know of (vocabularies of a few hundred
/// thousand tokens, a few thousand tensors) with a wide margin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufLimits {
    /// Longest string (key, value or tensor name), in bytes. Default 1 MiB.
    pub max_string_len: u64,
    /// Most elements in one array value. Default 4 Mi.
    pub max_array_len: u64,
    /// Deepest nesting of arrays inside arrays. Default 4.
    pub max_array_depth: u32,
    /// Most metadata key/value pairs. Default 65 536.
    pub max_kv_count: u64,
    /// Most tensors. Default 65 536.
    pub max_tensors: u64,
    /// Budget for the decoded header in memory, in bytes (approximate: strings plus a
    /// fixed cost per value and tensor). Default 512 MiB.
    pub max_metadata_bytes: u64,
}

impl Default for GgufLimits {
    fn default() -> Self {
        Self {
            max_string_len: 1 << 20,
            max_array_len: 4 << 20,
            max_array_depth: 4,
            max_kv_count: 1 << 16,
            max_tensors: 1 << 16,
            max_metadata_bytes: 512 << 20,
        }
    }
}

/// One tensor's description from the header (its data is not read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    name: String,
    dims: Vec<u64>,
    ggml_type: GgmlType,
    offset: u64,
    elements: u64,
}

impl TensorInfo {
    /// The tensor's name, for example `blk.0.attn_q.weight`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dimensions, innermost first (ggml order).
    pub fn dims(&self) -> &[u64] {
        &self.dims
    }

    /// The element type.
    pub fn ggml_type(&self) -> GgmlType {
        self.ggml_type
    }

    /// Offset of the tensor's data, relative to the start of the tensor data section.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Number of elements (product of the dimensions).
    pub fn element_count(&self) -> u64 {
        self.elements
    }

    /// Bytes of data, or `None` for an unknown type or a partial quantization block.
    pub fn byte_size(&self) -> Option<u64> {
        self.ggml_type.bytes_for(self.elements)
    }
}

/// A parsed GGUF header: version, metadata and tensor infos.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    version: u32,
    metadata: BTreeMap<String, MetadataValue>,
    tensors: Vec<TensorInfo>,
    header_len: u64,
    alignment: u64,
    parameter_count: u64,
}

impl GgufHeader {
    /// Parses a header from `reader` with the default [`GgufLimits`].
    ///
    /// Reads exactly the header and nothing after it. Wrap unbuffered readers (files,
    /// sockets) in a [`BufReader`]; the parser reads field by field.
    pub fn read<R: Read>(reader: R) -> Result<Self> {
        Self::read_with_limits(reader, &GgufLimits::default())
    }

    /// Parses a header from `reader` with explicit limits.
    pub fn read_with_limits<R: Read>(reader: R, limits: &GgufLimits) -> Result<Self> {
        reader::parse(reader, limits)
    }

    /// Opens the file at `path` and parses its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| SchedError::GgufOpen {
            path: path.to_path_buf(),
            source,
        })?;
        Self::read(BufReader::new(file))
    }

    pub(crate) fn new(
        version: u32,
        metadata: BTreeMap<String, MetadataValue>,
        tensors: Vec<TensorInfo>,
        header_len: u64,
    ) -> Result<Self> {
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(value) => match value.as_u64() {
                Some(a) if a.is_power_of_two() => a,
                _ => {
                    return Err(SchedError::InvalidMetadata {
                        key: "general.alignment".into(),
                        reason: format!("{value} is not a power of two"),
                    })
                }
            },
        };
        let parameter_count = tensors
            .iter()
            .try_fold(0u64, |sum, t| sum.checked_add(t.elements))
            .ok_or(SchedError::GgufInvalid {
                offset: header_len,
                reason: "total parameter count overflows".into(),
            })?;
        Ok(Self {
            version,
            metadata,
            tensors,
            header_len,
            alignment,
            parameter_count,
        })
    }

    /// The GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The metadata value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.metadata.get(key)
    }

    /// All metadata, sorted by key.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &MetadataValue)> {
        self.metadata.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The tensor infos, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The tensor called `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Bytes taken by the header itself.
    pub fn header_len(&self) -> u64 {
        self.header_len
    }

    /// Tensor data alignment (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// File offset where tensor data starts: the header length rounded up to the
    /// alignment.
    pub fn tensor_data_offset(&self) -> u64 {
        self.header_len.div_ceil(self.alignment) * self.alignment
    }

    /// `general.architecture`, for example `llama`.
    pub fn architecture(&self) -> Option<&str> {
        self.get("general.architecture")?.as_str()
    }

    /// `{arch}.block_count`: the number of transformer layers.
    pub fn block_count(&self) -> Option<u64> {
        self.arch_u64("block_count").ok()
    }

    /// `{arch}.context_length`: the context the model was trained with.
    pub fn context_length(&self) -> Option<u64> {
        self.arch_u64("context_length").ok()
    }

    /// `{arch}.embedding_length`: the hidden size.
    pub fn embedding_length(&self) -> Option<u64> {
        self.arch_u64("embedding_length").ok()
    }

    /// `{arch}.attention.head_count`. When the file stores one value per layer, the
    /// largest is returned.
    pub fn head_count(&self) -> Option<u64> {
        self.arch_u64("attention.head_count").ok()
    }

    /// `{arch}.attention.head_count_kv`, falling back to [`head_count`](Self::head_count)
    /// when absent (models without grouped-query attention). Per-layer values give the
    /// largest.
    pub fn head_count_kv(&self) -> Option<u64> {
        match self.arch_u64("attention.head_count_kv") {
            Err(SchedError::MissingMetadata { .. }) => self.head_count(),
            other => other.ok(),
        }
    }

    /// Total number of parameters: the sum of every tensor's element count.
    pub fn parameter_count(&self) -> u64 {
        self.parameter_count
    }

    /// Bytes of tensor data: the sum over tensors of their size for their ggml type
    /// (block-quantized types counted by blocks).
    ///
    /// Fails with [`SchedError::UnsizedTensor`] when a tensor has a type this crate
    /// cannot size, or an element count that is not a whole number of blocks.
    pub fn weights_bytes(&self) -> Result<u64> {
        self.tensors.iter().try_fold(0u64, |sum, t| {
            let bytes = t.byte_size().ok_or_else(|| SchedError::UnsizedTensor {
                tensor: t.name.clone(),
                reason: match t.ggml_type.block_size() {
                    None => format!("unknown ggml type {}", t.ggml_type),
                    Some(block) => format!(
                        "{} elements are not a whole number of {block}-element {} blocks",
                        t.elements, t.ggml_type
                    ),
                },
            })?;
            sum.checked_add(bytes).ok_or(SchedError::Overflow {
                what: "weights bytes",
            })
        })
    }

    /// `{arch}.{suffix}` as an integer, with errors saying which key is missing or bad.
    /// Arrays of integers (per-layer values) give their maximum.
    pub(crate) fn arch_u64(&self, suffix: &str) -> Result<u64> {
        let arch = self
            .architecture()
            .ok_or_else(|| SchedError::MissingMetadata {
                key: "general.architecture".into(),
            })?;
        let key = format!("{arch}.{suffix}");
        let value = self
            .get(&key)
            .ok_or_else(|| SchedError::MissingMetadata { key: key.clone() })?;
        let number = match value.as_array() {
            Some(values) => values
                .iter()
                .map(MetadataValue::as_u64)
                .try_fold(None, |max: Option<u64>, v| Some(max.max(Some(v?))))
                .flatten(),
            None => value.as_u64(),
        };
        number.ok_or_else(|| SchedError::InvalidMetadata {
            key,
            reason: format!("{value} is not a non-negative integer"),
        })
    }
}
