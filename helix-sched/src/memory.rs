//! GPU memory estimation for a model instance, from its GGUF header.
//!
//! The scheduler books memory itself instead of trusting the driver's lagging
//! free-memory figure, so it needs a number before the model is loaded. The estimate
//! has three parts:
//!
//! - **weights**: [`GgufHeader::weights_bytes`], the tensor data as stored;
//! - **KV cache**: `2 (K and V) × block_count × context_len × parallel ×
//!   (embedding_length / head_count × head_count_kv) × 2 bytes` (an f16 cache);
//! - **overhead**: [`BASE_OVERHEAD_BYTES`] for the runtime's context and compute
//!   buffers plus 1/[`OVERHEAD_DIVISOR`] (5 %) of weights and KV cache.
//!
//! It is deliberately simple and slightly pessimistic; it is a pure function so every
//! placement decision built on it can be tested and explained.

use serde::{Deserialize, Serialize};

use crate::{GgufHeader, Result, SchedError};

/// Fixed overhead per model instance: runtime context and compute buffers (256 MiB).
pub const BASE_OVERHEAD_BYTES: u64 = 256 << 20;

/// Proportional overhead: weights and KV cache divided by this (20, i.e. 5 %).
pub const OVERHEAD_DIVISOR: u64 = 20;

/// Bytes per KV cache element (the cache is f16).
const KV_ELEMENT_BYTES: u64 = 2;

/// Memory needed to serve one model instance, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEstimate {
    /// Tensor data.
    pub weights_bytes: u64,
    /// Keys and values for every layer, position and parallel sequence.
    pub kv_cache_bytes: u64,
    /// Runtime context, compute buffers and safety margin.
    pub overhead_bytes: u64,
    /// The sum of the three.
    pub total_bytes: u64,
}

/// Estimates the memory to serve the model described by `header` with `parallel`
/// sequences of `context_len` tokens each.
///
/// `context_len` is per sequence: a runtime started for `parallel` slots needs a
/// total context of `context_len × parallel`.
///
/// Fails when the header lacks `general.architecture`, `{arch}.block_count`,
/// `{arch}.embedding_length` or `{arch}.attention.head_count` (a missing
/// `head_count_kv` means no grouped-query attention), when `head_count` is zero, when
/// a tensor cannot be sized, or when the numbers overflow 64 bits.
pub fn estimate_memory(
    header: &GgufHeader,
    context_len: u64,
    parallel: u32,
) -> Result<MemoryEstimate> {
    let weights_bytes = header.weights_bytes()?;
    let kv_cache_bytes = kv_cache_bytes(header, context_len, parallel)?;
    let sized = weights_bytes
        .checked_add(kv_cache_bytes)
        .ok_or(SchedError::Overflow {
            what: "memory estimate",
        })?;
    let overhead_bytes = BASE_OVERHEAD_BYTES + sized / OVERHEAD_DIVISOR;
    let total_bytes = sized
        .checked_add(overhead_bytes)
        .ok_or(SchedError::Overflow {
            what: "memory estimate",
        })?;
    Ok(MemoryEstimate {
        weights_bytes,
        kv_cache_bytes,
        overhead_bytes,
        total_bytes,
    })
}

fn kv_cache_bytes(header: &GgufHeader, context_len: u64, parallel: u32) -> Result<u64> {
    let block_count = header.arch_u64("block_count")?;
    let embedding_length = header.arch_u64("embedding_length")?;
    let head_count = header.arch_u64("attention.head_count")?;
    let head_count_kv = match header.arch_u64("attention.head_count_kv") {
        Err(SchedError::MissingMetadata { .. }) => head_count,
        other => other?,
    };
    if head_count == 0 {
        return Err(SchedError::InvalidMetadata {
            key: format!(
                "{}.attention.head_count",
                header.architecture().unwrap_or_default()
            ),
            reason: "head count is zero".into(),
        });
    }
    let kv_width = embedding_length / head_count * head_count_kv;
    [
        block_count,
        context_len,
        u64::from(parallel),
        kv_width,
        KV_ELEMENT_BYTES,
    ]
    .into_iter()
    .try_fold(2u64, u64::checked_mul)
    .ok_or(SchedError::Overflow { what: "kv cache" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::tests::GgufWriter;
    use crate::{GgmlType, MetadataValue};

    /// A llama-shaped header with the given attention layout and one F16 tensor of
    /// `weight_elements` elements.
    fn header(kvs: &[(&str, u64)], weight_elements: u64) -> GgufHeader {
        let mut w = GgufWriter::with_header(3, 1, kvs.len() as u64 + 1);
        w.kv(
            "general.architecture",
            &MetadataValue::String("llama".into()),
        );
        for (key, value) in kvs {
            w.kv(&format!("llama.{key}"), &MetadataValue::U32(*value as u32));
        }
        w.tensor("w", &[weight_elements], GgmlType::F16, 0);
        GgufHeader::read(w.buf.as_slice()).expect("valid header")
    }

    const LLAMA_8B_SHAPE: &[(&str, u64)] = &[
        ("block_count", 32),
        ("embedding_length", 4096),
        ("attention.head_count", 32),
        ("attention.head_count_kv", 8),
    ];

    #[test]
    fn kv_cache_follows_the_formula() {
        let h = header(LLAMA_8B_SHAPE, 1024);
        let est = estimate_memory(&h, 8192, 1).expect("estimate");
        // 2 × 32 layers × 8192 × (4096 / 32 × 8 = 1024) × 2 bytes = 1 GiB.
        assert_eq!(est.kv_cache_bytes, 1 << 30);
        assert_eq!(est.weights_bytes, 2048);
        let sized = est.weights_bytes + est.kv_cache_bytes;
        assert_eq!(est.overhead_bytes, BASE_OVERHEAD_BYTES + sized / 20);
        assert_eq!(
            est.total_bytes,
            est.weights_bytes + est.kv_cache_bytes + est.overhead_bytes
        );
    }

    #[test]
    fn kv_cache_scales_with_parallel_and_context() {
        let h = header(LLAMA_8B_SHAPE, 1024);
        let one = estimate_memory(&h, 4096, 1)
            .expect("estimate")
            .kv_cache_bytes;
        let four = estimate_memory(&h, 4096, 4)
            .expect("estimate")
            .kv_cache_bytes;
        let long = estimate_memory(&h, 16384, 1)
            .expect("estimate")
            .kv_cache_bytes;
        assert_eq!(four, 4 * one);
        assert_eq!(long, 4 * one);
        let none = estimate_memory(&h, 0, 1).expect("estimate");
        assert_eq!(none.kv_cache_bytes, 0);
        assert_eq!(none.overhead_bytes, BASE_OVERHEAD_BYTES + 2048 / 20);
    }

    #[test]
    fn missing_head_count_kv_means_full_attention() {
        let h = header(&LLAMA_8B_SHAPE[..3], 32);
        let est = estimate_memory(&h, 1024, 1).expect("estimate");
        assert_eq!(est.kv_cache_bytes, 2 * 32 * 1024 * 4096 * 2);
    }

    #[test]
    fn missing_or_bad_metadata_is_named() {
        let h = header(&LLAMA_8B_SHAPE[1..], 32);
        let err = estimate_memory(&h, 1024, 1).expect_err("no block count");
        assert_eq!(err.code(), "missing_metadata");
        assert!(err.to_string().contains("llama.block_count"), "{err}");

        let h = header(
            &[
                ("block_count", 1),
                ("embedding_length", 64),
                ("attention.head_count", 0),
            ],
            32,
        );
        let err = estimate_memory(&h, 1024, 1).expect_err("zero heads");
        assert_eq!(err.code(), "invalid_metadata");
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        let h = header(LLAMA_8B_SHAPE, 32);
        let err = estimate_memory(&h, u64::MAX, u32::MAX).expect_err("overflow");
        assert_eq!(err.code(), "overflow");
    }

    #[test]
    fn serializes_with_named_fields() {
        let est = MemoryEstimate {
            weights_bytes: 1,
            kv_cache_bytes: 2,
            overhead_bytes: 3,
            total_bytes: 6,
        };
        let json = serde_json::to_string(&est).expect("json");
        assert_eq!(
            json,
            r#"{"weights_bytes":1,"kv_cache_bytes":2,"overhead_bytes":3,"total_bytes":6}"#
        );
    }
}
