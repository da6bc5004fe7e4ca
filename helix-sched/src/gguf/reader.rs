//! The bounded GGUF header parser.
//!
//! Every count and length read from the file is checked against [`GgufLimits`] before
//! anything is allocated for it, decoded metadata is charged against a byte budget,
//! array nesting is capped, and all arithmetic is checked: malformed or hostile input
//! produces a [`SchedError`], never a panic or an unbounded allocation.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read};
use std::mem::size_of;

use super::{GgmlType, GgufHeader, GgufLimits, MetadataValue, MetadataValueType, TensorInfo};
use crate::{Result, SchedError};

/// The four bytes every GGUF file starts with.
pub(super) const MAGIC: [u8; 4] = *b"GGUF";
/// ggml tensors have at most this many dimensions.
const MAX_DIMS: u32 = 4;
/// Never reserve more than this many elements ahead of reading them.
const MAX_PREALLOC: u64 = 4096;
/// Rough heap cost of one metadata entry besides its strings (map node, key, value).
const ENTRY_COST: u64 = (size_of::<String>() + size_of::<MetadataValue>() + 32) as u64;

/// Parses a GGUF header (everything before the tensor data) from `reader`.
pub(super) fn parse<R: Read>(reader: R, limits: &GgufLimits) -> Result<GgufHeader> {
    let mut p = Parser {
        reader,
        offset: 0,
        limits,
        budget_left: limits.max_metadata_bytes,
    };

    let mut magic = [0u8; 4];
    p.fill(&mut magic, "magic")?;
    if magic != MAGIC {
        return Err(SchedError::GgufBadMagic { found: magic });
    }
    let version = p.u32("version")?;
    if !(2..=3).contains(&version) {
        return Err(SchedError::GgufUnsupportedVersion { version });
    }

    let at = p.offset;
    let tensor_count = p.u64("tensor count")?;
    check_limit("tensor count", tensor_count, limits.max_tensors, at)?;
    let at = p.offset;
    let kv_count = p.u64("metadata kv count")?;
    check_limit("metadata kv count", kv_count, limits.max_kv_count, at)?;

    let mut metadata = BTreeMap::new();
    for _ in 0..kv_count {
        let key_at = p.offset;
        let key = p.strict_string("metadata key")?;
        p.charge(ENTRY_COST, key_at)?;
        let value_type = p.value_type("metadata value type")?;
        let value = p.value(value_type, 0)?;
        if metadata.contains_key(&key) {
            return Err(invalid(key_at, format!("duplicate metadata key {key}")));
        }
        metadata.insert(key, value);
    }

    let mut tensors = Vec::with_capacity(usize_cap(tensor_count));
    let mut names = HashSet::with_capacity(usize_cap(tensor_count));
    for _ in 0..tensor_count {
        let info_at = p.offset;
        let name = p.strict_string("tensor name")?;
        let dims_at = p.offset;
        let n_dims = p.u32("tensor dimension count")?;
        if n_dims > MAX_DIMS {
            return Err(invalid(
                dims_at,
                format!("tensor {name} has {n_dims} dimensions, at most {MAX_DIMS} allowed"),
            ));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        let mut elements: u64 = 1;
        for _ in 0..n_dims {
            let dim_at = p.offset;
            let dim = p.u64("tensor dimension")?;
            elements = elements.checked_mul(dim).ok_or_else(|| {
                invalid(dim_at, format!("element count of tensor {name} overflows"))
            })?;
            dims.push(dim);
        }
        let ggml_type = GgmlType::from_id(p.u32("tensor type")?);
        let data_offset = p.u64("tensor data offset")?;
        let cost = (size_of::<TensorInfo>() as u64)
            .saturating_add(name.len() as u64)
            .saturating_add(8 * u64::from(n_dims));
        p.charge(cost, info_at)?;
        if !names.insert(name.clone()) {
            return Err(invalid(info_at, format!("duplicate tensor name {name}")));
        }
        tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset: data_offset,
            elements,
        });
    }

    GgufHeader::new(version, metadata, tensors, p.offset)
}

fn check_limit(what: &'static str, value: u64, limit: u64, offset: u64) -> Result<()> {
    if value > limit {
        return Err(SchedError::GgufLimitExceeded {
            what,
            value,
            limit,
            offset,
        });
    }
    Ok(())
}

fn invalid(offset: u64, reason: String) -> SchedError {
    SchedError::GgufInvalid { offset, reason }
}

/// A capacity hint that never reserves more than [`MAX_PREALLOC`] slots.
fn usize_cap(n: u64) -> usize {
    // MAX_PREALLOC fits in usize on every platform Rust supports.
    n.min(MAX_PREALLOC) as usize
}

struct Parser<'l, R> {
    reader: R,
    offset: u64,
    limits: &'l GgufLimits,
    budget_left: u64,
}

impl<R: Read> Parser<'_, R> {
    fn fill(&mut self, buf: &mut [u8], field: &'static str) -> Result<()> {
        let at = self.offset;
        self.reader
            .read_exact(buf)
            .map_err(|e| io_error(e, at, field))?;
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.fill(&mut buf, field)?;
        Ok(buf)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32> {
        self.array(field).map(u32::from_le_bytes)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64> {
        self.array(field).map(u64::from_le_bytes)
    }

    /// Takes `amount` bytes from the decoded-metadata budget.
    fn charge(&mut self, amount: u64, offset: u64) -> Result<()> {
        match self.budget_left.checked_sub(amount) {
            Some(left) => {
                self.budget_left = left;
                Ok(())
            }
            None => Err(SchedError::GgufLimitExceeded {
                what: "decoded metadata size",
                value: (self.limits.max_metadata_bytes - self.budget_left).saturating_add(amount),
                limit: self.limits.max_metadata_bytes,
                offset,
            }),
        }
    }

    fn raw_string(&mut self, field: &'static str) -> Result<Vec<u8>> {
        let at = self.offset;
        let len = self.u64(field)?;
        check_limit("string length", len, self.limits.max_string_len, at)?;
        self.charge(len, at)?;
        // Grow with the bytes actually present instead of trusting `len`.
        let mut buf = Vec::with_capacity(usize_cap(len));
        let read = (&mut self.reader)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| io_error(e, at, field))?;
        if read as u64 != len {
            return Err(SchedError::GgufTruncated { offset: at, field });
        }
        self.offset += len;
        Ok(buf)
    }

    /// A string that must be valid UTF-8 (keys, tensor names).
    fn strict_string(&mut self, field: &'static str) -> Result<String> {
        let at = self.offset;
        let bytes = self.raw_string(field)?;
        String::from_utf8(bytes).map_err(|_| invalid(at, format!("{field} is not valid utf-8")))
    }

    /// A string value; invalid UTF-8 is replaced rather than refused, because real
    /// tokenizer vocabularies sometimes hold partial byte sequences.
    fn lossy_string(&mut self, field: &'static str) -> Result<String> {
        let bytes = self.raw_string(field)?;
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn value_type(&mut self, field: &'static str) -> Result<MetadataValueType> {
        let at = self.offset;
        let tag = self.u32(field)?;
        MetadataValueType::from_tag(tag)
            .ok_or_else(|| invalid(at, format!("unknown metadata value type {tag}")))
    }

    fn value(&mut self, ty: MetadataValueType, depth: u32) -> Result<MetadataValue> {
        const FIELD: &str = "metadata value";
        Ok(match ty {
            MetadataValueType::U8 => MetadataValue::U8(u8::from_le_bytes(self.array(FIELD)?)),
            MetadataValueType::I8 => MetadataValue::I8(i8::from_le_bytes(self.array(FIELD)?)),
            MetadataValueType::U16 => MetadataValue::U16(u16::from_le_bytes(self.array(FIELD)?)),
            MetadataValueType::I16 => MetadataValue::I16(i16::from_le_bytes(self.array(FIELD)?)),
            MetadataValueType::U32 => MetadataValue::U32(u32::from_le_bytes(self.array(FIELD)?)),
            MetadataValueType::I32 => MetadataValue::I32(i32::from_le_bytes(self.array(FIELD)?)),
            MetadataValueType::F32 => MetadataValue::F32(f32::from_le_bytes(self.array(FIELD)?)),
            MetadataValueType::U64 => MetadataValue::U64(u64::from_le_bytes(self.array(FIELD)?)),
            MetadataValueType::I64 => MetadataValue::I64(i64::from_le_bytes(self.array(FIELD)?)),
            MetadataValueType::F64 => MetadataValue::F64(f64::from_le_bytes(self.array(FIELD)?)),
            MetadataValueType::Bool => {
                let at = self.offset;
                match self.array::<1>(FIELD)?[0] {
                    0 => MetadataValue::Bool(false),
                    1 => MetadataValue::Bool(true),
                    other => return Err(invalid(at, format!("bool value is {other}, not 0 or 1"))),
                }
            }
            MetadataValueType::String => MetadataValue::String(self.lossy_string(FIELD)?),
            MetadataValueType::Array => self.array_value(depth)?,
        })
    }

    fn array_value(&mut self, depth: u32) -> Result<MetadataValue> {
        let at = self.offset;
        let depth = depth + 1;
        check_limit(
            "array nesting depth",
            depth.into(),
            self.limits.max_array_depth.into(),
            at,
        )?;
        let element_type = self.value_type("array element type")?;
        let len_at = self.offset;
        let len = self.u64("array length")?;
        check_limit("array length", len, self.limits.max_array_len, len_at)?;
        self.charge(
            len.saturating_mul(size_of::<MetadataValue>() as u64),
            len_at,
        )?;
        let mut values = Vec::with_capacity(usize_cap(len));
        for _ in 0..len {
            values.push(self.value(element_type, depth)?);
        }
        Ok(MetadataValue::Array {
            element_type,
            values,
        })
    }
}

fn io_error(error: io::Error, offset: u64, field: &'static str) -> SchedError {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        SchedError::GgufTruncated { offset, field }
    } else {
        SchedError::GgufIo {
            offset,
            source: error,
        }
    }
}
