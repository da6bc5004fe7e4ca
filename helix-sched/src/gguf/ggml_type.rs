//! ggml tensor element types and their storage sizes.
//!
//! Sizes follow the public ggml type table: a type stores `block_size` elements in
//! `type_size` bytes. Plain types (`F32`, `F16`, ...) have a block size of 1;
//! block-quantized types pack 32 (legacy quants) or 256 (k-quants, i-quants) elements
//! per block.

use std::fmt;

/// The element type of a tensor, as stored in a GGUF tensor info (`ggml_type`).
///
/// Ids that this crate does not know are kept as [`GgmlType::Other`] so that parsing a
/// file with a newer type never fails; only size computations need the table.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum GgmlType {
    /// 32-bit IEEE float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// 4-bit quantization, 32 elements per block, one f16 scale.
    Q4_0,
    /// 4-bit quantization, 32 elements per block, f16 scale and minimum.
    Q4_1,
    /// 5-bit quantization, 32 elements per block, one f16 scale.
    Q5_0,
    /// 5-bit quantization, 32 elements per block, f16 scale and minimum.
    Q5_1,
    /// 8-bit quantization, 32 elements per block, one f16 scale.
    Q8_0,
    /// 8-bit quantization, 32 elements per block, f16 scale and sum.
    Q8_1,
    /// 2-bit k-quant, 256 elements per block.
    Q2_K,
    /// 3-bit k-quant, 256 elements per block.
    Q3_K,
    /// 4-bit k-quant, 256 elements per block.
    Q4_K,
    /// 5-bit k-quant, 256 elements per block.
    Q5_K,
    /// 6-bit k-quant, 256 elements per block.
    Q6_K,
    /// 8-bit k-quant (intermediate type), 256 elements per block.
    Q8_K,
    /// 2.06 bits-per-weight i-quant.
    IQ2_XXS,
    /// 2.31 bits-per-weight i-quant.
    IQ2_XS,
    /// 3.06 bits-per-weight i-quant.
    IQ3_XXS,
    /// 1.56 bits-per-weight i-quant.
    IQ1_S,
    /// 4.5 bits-per-weight non-linear quant, 32 elements per block.
    IQ4_NL,
    /// 3.44 bits-per-weight i-quant.
    IQ3_S,
    /// 2.5 bits-per-weight i-quant.
    IQ2_S,
    /// 4.25 bits-per-weight non-linear quant, 256 elements per block.
    IQ4_XS,
    /// 8-bit signed integer.
    I8,
    /// 16-bit signed integer.
    I16,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer.
    I64,
    /// 64-bit IEEE float.
    F64,
    /// 1.75 bits-per-weight i-quant.
    IQ1_M,
    /// bfloat16.
    BF16,
    /// Ternary quant, 1.69 bits per weight.
    TQ1_0,
    /// Ternary quant, 2.06 bits per weight.
    TQ2_0,
    /// Microscaling FP4, 32 elements per block.
    MXFP4,
    /// A type id this crate does not know (or one that ggml has retired).
    Other(u32),
}

/// `(type, id, block_size, type_size)` for every known type.
const TABLE: &[(GgmlType, u32, u64, u64)] = &[
    (GgmlType::F32, 0, 1, 4),
    (GgmlType::F16, 1, 1, 2),
    (GgmlType::Q4_0, 2, 32, 18),
    (GgmlType::Q4_1, 3, 32, 20),
    (GgmlType::Q5_0, 6, 32, 22),
    (GgmlType::Q5_1, 7, 32, 24),
    (GgmlType::Q8_0, 8, 32, 34),
    (GgmlType::Q8_1, 9, 32, 36),
    (GgmlType::Q2_K, 10, 256, 84),
    (GgmlType::Q3_K, 11, 256, 110),
    (GgmlType::Q4_K, 12, 256, 144),
    (GgmlType::Q5_K, 13, 256, 176),
    (GgmlType::Q6_K, 14, 256, 210),
    (GgmlType::Q8_K, 15, 256, 292),
    (GgmlType::IQ2_XXS, 16, 256, 66),
    (GgmlType::IQ2_XS, 17, 256, 74),
    (GgmlType::IQ3_XXS, 18, 256, 98),
    (GgmlType::IQ1_S, 19, 256, 50),
    (GgmlType::IQ4_NL, 20, 32, 18),
    (GgmlType::IQ3_S, 21, 256, 110),
    (GgmlType::IQ2_S, 22, 256, 82),
    (GgmlType::IQ4_XS, 23, 256, 136),
    (GgmlType::I8, 24, 1, 1),
    (GgmlType::I16, 25, 1, 2),
    (GgmlType::I32, 26, 1, 4),
    (GgmlType::I64, 27, 1, 8),
    (GgmlType::F64, 28, 1, 8),
    (GgmlType::IQ1_M, 29, 256, 56),
    (GgmlType::BF16, 30, 1, 2),
    (GgmlType::TQ1_0, 34, 256, 54),
    (GgmlType::TQ2_0, 35, 256, 66),
    (GgmlType::MXFP4, 39, 32, 17),
];

impl GgmlType {
    /// The type for a raw `ggml_type` id; unknown ids become [`GgmlType::Other`].
    pub fn from_id(id: u32) -> Self {
        TABLE
            .iter()
            .find(|(_, known, _, _)| *known == id)
            .map_or(GgmlType::Other(id), |(ty, _, _, _)| *ty)
    }

    /// The raw `ggml_type` id.
    pub fn id(self) -> u32 {
        match self {
            GgmlType::Other(id) => id,
            known => TABLE
                .iter()
                .find(|(ty, _, _, _)| *ty == known)
                .map_or(u32::MAX, |(_, id, _, _)| *id),
        }
    }

    /// Elements per block (1 for plain types), or `None` for an unknown type.
    pub fn block_size(self) -> Option<u64> {
        self.entry().map(|(_, _, block, _)| block)
    }

    /// Bytes per block, or `None` for an unknown type.
    pub fn type_size(self) -> Option<u64> {
        self.entry().map(|(_, _, _, size)| size)
    }

    /// Bytes needed to store `elements` elements of this type.
    ///
    /// `None` when the type is unknown, when `elements` is not a whole number of
    /// blocks, or on overflow.
    pub fn bytes_for(self, elements: u64) -> Option<u64> {
        let (_, _, block, size) = self.entry()?;
        if elements % block != 0 {
            return None;
        }
        (elements / block).checked_mul(size)
    }

    fn entry(self) -> Option<(GgmlType, u32, u64, u64)> {
        if let GgmlType::Other(_) = self {
            return None;
        }
        TABLE.iter().copied().find(|(ty, _, _, _)| *ty == self)
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GgmlType::Other(id) => write!(f, "ggml_type({id})"),
            known => write!(f, "{known:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_for_every_known_type() {
        for (ty, id, _, _) in TABLE {
            assert_eq!(GgmlType::from_id(*id), *ty);
            assert_eq!(ty.id(), *id);
        }
        assert_eq!(GgmlType::from_id(4), GgmlType::Other(4));
        assert_eq!(GgmlType::Other(4).id(), 4);
    }

    #[test]
    fn sizes_match_the_ggml_table() {
        let cases = [
            (GgmlType::F32, 1, 4),
            (GgmlType::F16, 1, 2),
            (GgmlType::BF16, 1, 2),
            (GgmlType::Q4_0, 32, 18),
            (GgmlType::Q8_0, 32, 34),
            (GgmlType::Q4_K, 256, 144),
            (GgmlType::Q6_K, 256, 210),
        ];
        for (ty, block, size) in cases {
            assert_eq!(ty.block_size(), Some(block), "{ty}");
            assert_eq!(ty.type_size(), Some(size), "{ty}");
        }
        assert_eq!(GgmlType::Other(99).block_size(), None);
    }

    #[test]
    fn bytes_for_handles_blocks_and_rejects_partial_blocks() {
        assert_eq!(GgmlType::F16.bytes_for(10), Some(20));
        assert_eq!(GgmlType::Q4_0.bytes_for(64), Some(36));
        assert_eq!(GgmlType::Q4_K.bytes_for(4096 * 256), Some(4096 * 144));
        assert_eq!(GgmlType::Q4_0.bytes_for(33), None);
        assert_eq!(GgmlType::F32.bytes_for(u64::MAX), None);
        assert_eq!(GgmlType::Other(7777).bytes_for(32), None);
    }

    #[test]
    fn display_names_the_type() {
        assert_eq!(GgmlType::Q4_K.to_string(), "Q4_K");
        assert_eq!(GgmlType::Other(4).to_string(), "ggml_type(4)");
    }
}
