//! Tests for the GGUF parser, driven by a small byte-level GGUF writer.

use std::io::{self, Cursor, Read};

pub(crate) use super::test_writer::GgufWriter;
use super::*;

fn strings(items: &[&str]) -> MetadataValue {
    MetadataValue::Array {
        element_type: MetadataValueType::String,
        values: items
            .iter()
            .map(|s| MetadataValue::String((*s).into()))
            .collect(),
    }
}

/// Every metadata value type once, plus the llama keys the accessors read.
fn sample_metadata() -> Vec<(&'static str, MetadataValue)> {
    use MetadataValue as V;
    vec![
        ("general.architecture", V::String("llama".into())),
        ("general.name", V::String("tiny test model".into())),
        ("general.alignment", V::U32(32)),
        ("llama.block_count", V::U32(2)),
        ("llama.context_length", V::U64(4096)),
        ("llama.embedding_length", V::U32(64)),
        ("llama.attention.head_count", V::U32(8)),
        ("llama.attention.head_count_kv", V::I32(2)),
        ("test.u8", V::U8(200)),
        ("test.i8", V::I8(-5)),
        ("test.u16", V::U16(60_000)),
        ("test.i16", V::I16(-30_000)),
        ("test.f32", V::F32(0.5)),
        ("test.bool", V::Bool(true)),
        ("test.i64", V::I64(-1)),
        ("test.f64", V::F64(1e-6)),
        ("tokenizer.ggml.tokens", strings(&["<s>", "</s>", "héllo"])),
        (
            "tokenizer.ggml.scores",
            V::Array {
                element_type: MetadataValueType::F32,
                values: vec![V::F32(0.0), V::F32(-1.5), V::F32(2.25)],
            },
        ),
        (
            "test.nested",
            V::Array {
                element_type: MetadataValueType::Array,
                values: vec![strings(&["a"]), strings(&[])],
            },
        ),
        (
            "test.empty",
            V::Array {
                element_type: MetadataValueType::U64,
                values: vec![],
            },
        ),
    ]
}

/// `(name, dims, type, bytes)` of the sample tensors.
const SAMPLE_TENSORS: &[(&str, &[u64], GgmlType, u64)] = &[
    ("token_embd.weight", &[64, 100], GgmlType::Q8_0, 200 * 34),
    ("blk.0.attn_q.weight", &[64, 64], GgmlType::Q4_K, 16 * 144),
    (
        "blk.0.ffn_up.weight",
        &[64, 128],
        GgmlType::F16,
        64 * 128 * 2,
    ),
    (
        "blk.1.ffn_up.weight",
        &[64, 128],
        GgmlType::BF16,
        64 * 128 * 2,
    ),
    ("blk.1.attn_k.weight", &[64, 16], GgmlType::Q4_0, 32 * 18),
    ("blk.1.attn_v.weight", &[64, 16], GgmlType::Q5_1, 32 * 24),
    ("blk.1.ffn_down.weight", &[256, 2], GgmlType::Q6_K, 2 * 210),
    ("output_norm.weight", &[64], GgmlType::F32, 64 * 4),
    ("rope_freqs", &[], GgmlType::F32, 4),
];

fn sample_file(version: u32) -> Vec<u8> {
    let metadata = sample_metadata();
    let mut w =
        GgufWriter::with_header(version, SAMPLE_TENSORS.len() as u64, metadata.len() as u64);
    for (key, value) in &metadata {
        w.kv(key, value);
    }
    let mut offset = 0;
    for (name, dims, ty, bytes) in SAMPLE_TENSORS {
        w.tensor(name, dims, *ty, offset);
        offset += bytes.div_ceil(32) * 32;
    }
    w.buf
}

fn parse(bytes: &[u8]) -> Result<GgufHeader> {
    GgufHeader::read(bytes)
}

fn error_code(bytes: &[u8]) -> &'static str {
    parse(bytes).expect_err("parse should fail").code()
}

#[test]
fn parses_every_accessor_of_a_v3_file() {
    let bytes = sample_file(3);
    let header = parse(&bytes).expect("valid file");
    assert_eq!(header.version(), 3);
    assert_eq!(header.architecture(), Some("llama"));
    assert_eq!(header.block_count(), Some(2));
    assert_eq!(header.context_length(), Some(4096));
    assert_eq!(header.embedding_length(), Some(64));
    assert_eq!(header.head_count(), Some(8));
    assert_eq!(header.head_count_kv(), Some(2));
    let params: u64 = SAMPLE_TENSORS
        .iter()
        .map(|(_, dims, _, _)| dims.iter().product::<u64>())
        .sum();
    assert_eq!(header.parameter_count(), params);
    let bytes_total: u64 = SAMPLE_TENSORS.iter().map(|t| t.3).sum();
    assert_eq!(header.weights_bytes().expect("sized"), bytes_total);
    assert_eq!(header.header_len(), bytes.len() as u64);
    assert_eq!(header.alignment(), 32);
    assert_eq!(header.tensor_data_offset() % 32, 0);
    assert!(header.tensor_data_offset() >= header.header_len());
}

#[test]
fn metadata_values_and_tensor_infos_round_trip() {
    let header = parse(&sample_file(3)).expect("valid file");
    let expected = sample_metadata();
    assert_eq!(header.metadata().count(), expected.len());
    for (key, value) in &expected {
        assert_eq!(header.get(key), Some(value), "{key}");
    }
    assert_eq!(header.tensors().len(), SAMPLE_TENSORS.len());
    for (info, (name, dims, ty, bytes)) in header.tensors().iter().zip(SAMPLE_TENSORS) {
        assert_eq!(info.name(), *name);
        assert_eq!(info.dims(), *dims);
        assert_eq!(info.ggml_type(), *ty);
        assert_eq!(info.byte_size(), Some(*bytes));
    }
    let q = header.tensor("blk.0.attn_q.weight").expect("present");
    assert_eq!(q.element_count(), 4096);
    assert_eq!(q.offset(), 6816);
    assert!(header.tensor("missing").is_none());
}

#[test]
fn version_2_files_parse_too() {
    let header = parse(&sample_file(2)).expect("valid v2 file");
    assert_eq!(header.version(), 2);
    assert_eq!(header.block_count(), Some(2));
}

#[test]
fn reads_exactly_the_header_and_nothing_more() {
    let mut bytes = sample_file(3);
    let header_len = bytes.len() as u64;
    bytes.extend_from_slice(&[0xAB; 100]);
    let mut cursor = Cursor::new(bytes);
    GgufHeader::read(&mut cursor).expect("valid file");
    assert_eq!(cursor.position(), header_len);
}

#[test]
fn open_reads_a_file_and_names_a_missing_one() {
    let dir = std::env::temp_dir().join(format!("helix-sched-gguf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("model.gguf");
    std::fs::write(&path, sample_file(3)).expect("write");
    assert_eq!(
        GgufHeader::open(&path).expect("opens").block_count(),
        Some(2)
    );
    let err = GgufHeader::open(dir.join("nope.gguf")).expect_err("missing file");
    assert_eq!(err.code(), "gguf_open");
    assert!(err.to_string().contains("nope.gguf"));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn head_count_kv_falls_back_to_head_count_and_arrays_give_the_max() {
    let mut w = GgufWriter::with_header(3, 0, 3);
    w.kv(
        "general.architecture",
        &MetadataValue::String("openelm".into()),
    )
    .kv(
        "openelm.attention.head_count",
        &MetadataValue::Array {
            element_type: MetadataValueType::U32,
            values: vec![MetadataValue::U32(12), MetadataValue::U32(20)],
        },
    )
    .kv("openelm.block_count", &MetadataValue::String("two".into()));
    let header = parse(&w.buf).expect("valid");
    assert_eq!(header.head_count(), Some(20));
    assert_eq!(header.head_count_kv(), Some(20));
    assert_eq!(header.block_count(), None);
    assert_eq!(header.context_length(), None);
    assert_eq!(header.parameter_count(), 0);
    assert_eq!(header.weights_bytes().expect("no tensors"), 0);
    let err = header.arch_u64("block_count").expect_err("string value");
    assert_eq!(err.code(), "invalid_metadata");
}

#[test]
fn every_truncation_is_reported_as_truncated() {
    let bytes = sample_file(3);
    for len in 0..bytes.len() {
        let err = parse(&bytes[..len]).expect_err("truncated");
        assert_eq!(err.code(), "gguf_truncated", "prefix of {len} bytes: {err}");
    }
}

#[test]
fn bad_magic_and_unsupported_versions_are_refused() {
    let mut bytes = sample_file(3);
    bytes[..4].copy_from_slice(b"GGML");
    assert_eq!(error_code(&bytes), "gguf_bad_magic");
    for version in [0, 1, 4, 0x0300_0000] {
        let err = parse(&sample_file(version)).expect_err("version");
        assert_eq!(err.code(), "gguf_unsupported_version");
        assert!(err.to_string().contains(&version.to_string()));
    }
}

#[test]
fn absurd_counts_and_lengths_hit_the_limits() {
    // Tensor and kv counts are checked before anything else is read.
    assert_eq!(
        error_code(&GgufWriter::with_header(3, u64::MAX, 0).buf),
        "gguf_limit_exceeded"
    );
    assert_eq!(
        error_code(&GgufWriter::with_header(3, 0, u64::MAX).buf),
        "gguf_limit_exceeded"
    );

    let mut w = GgufWriter::with_header(3, 0, 1);
    w.u64(u64::MAX);
    assert_eq!(error_code(&w.buf), "gguf_limit_exceeded");

    let mut w = GgufWriter::with_header(3, 0, 1);
    w.string("k")
        .u32(MetadataValueType::Array.tag())
        .u32(0)
        .u64(u64::MAX);
    let err = parse(&w.buf).expect_err("array too long");
    assert!(
        matches!(
            err,
            SchedError::GgufLimitExceeded {
                what: "array length",
                ..
            }
        ),
        "{err}"
    );

    let mut w = GgufWriter::with_header(3, 1, 0);
    w.string("t").u32(1).u64(4).u32(0).u64(0);
    assert_eq!(w.buf.len(), 24 + 8 + 1 + 4 + 8 + 4 + 8);
    assert!(parse(&w.buf).is_ok());
}

#[test]
fn custom_limits_bound_strings_depth_and_memory() {
    let bytes = sample_file(3);
    let tight = |f: fn(&mut GgufLimits)| {
        let mut limits = GgufLimits::default();
        f(&mut limits);
        GgufHeader::read_with_limits(bytes.as_slice(), &limits).expect_err("over a limit")
    };
    type Tighten = fn(&mut GgufLimits);
    let cases: [(Tighten, &str); 6] = [
        (|l| l.max_string_len = 4, "string length"),
        (|l| l.max_array_len = 2, "array length"),
        (|l| l.max_array_depth = 1, "array nesting depth"),
        (|l| l.max_kv_count = 3, "metadata kv count"),
        (|l| l.max_tensors = 1, "tensor count"),
        (|l| l.max_metadata_bytes = 1000, "decoded metadata size"),
    ];
    for (set, expected) in cases {
        match tight(set) {
            SchedError::GgufLimitExceeded { what, .. } => assert_eq!(what, expected),
            other => panic!("expected limit {expected}, got {other}"),
        }
    }
}

#[test]
fn structural_errors_are_invalid() {
    let kv_file = |f: &dyn Fn(&mut GgufWriter)| {
        let mut w = GgufWriter::with_header(3, 0, 1);
        f(&mut w);
        error_code(&w.buf)
    };
    assert_eq!(
        kv_file(&|w| {
            w.string("k").u32(13).u32(0);
        }),
        "gguf_invalid"
    );
    assert_eq!(
        kv_file(&|w| {
            w.string("k").u32(7).raw(&[2]);
        }),
        "gguf_invalid"
    );
    assert_eq!(
        kv_file(&|w| {
            w.u64(2).raw(&[0xff, 0xfe]).u32(4).u32(1);
        }),
        "gguf_invalid"
    );
    assert_eq!(
        kv_file(&|w| {
            w.string("k").u32(9).u32(99).u64(0);
        }),
        "gguf_invalid"
    );

    let mut w = GgufWriter::with_header(3, 0, 2);
    w.kv("k", &MetadataValue::U8(1))
        .kv("k", &MetadataValue::U8(2));
    assert!(parse(&w.buf)
        .expect_err("dup")
        .to_string()
        .contains("duplicate metadata key k"));

    let mut w = GgufWriter::with_header(3, 2, 0);
    w.tensor("t", &[1], GgmlType::F32, 0)
        .tensor("t", &[1], GgmlType::F32, 32);
    assert_eq!(error_code(&w.buf), "gguf_invalid");

    let mut w = GgufWriter::with_header(3, 1, 0);
    w.tensor("t", &[1, 1, 1, 1, 1], GgmlType::F32, 0);
    assert_eq!(error_code(&w.buf), "gguf_invalid");

    let mut w = GgufWriter::with_header(3, 1, 0);
    w.tensor("t", &[u64::MAX, 2], GgmlType::F32, 0);
    assert_eq!(error_code(&w.buf), "gguf_invalid");

    let mut w = GgufWriter::with_header(3, 2, 0);
    w.tensor("a", &[u64::MAX], GgmlType::F32, 0)
        .tensor("b", &[2], GgmlType::F32, 0);
    assert_eq!(error_code(&w.buf), "gguf_invalid");

    let mut w = GgufWriter::with_header(3, 0, 1);
    w.kv("general.alignment", &MetadataValue::U32(24));
    assert_eq!(error_code(&w.buf), "invalid_metadata");
}

#[test]
fn invalid_utf8_in_values_is_replaced_not_refused() {
    let mut w = GgufWriter::with_header(3, 0, 1);
    w.string("k").u32(8).u64(3).raw(&[b'a', 0xff, b'b']);
    let header = parse(&w.buf).expect("lossy value");
    assert_eq!(
        header.get("k").and_then(MetadataValue::as_str),
        Some("a\u{fffd}b")
    );
}

#[test]
fn unsizable_tensors_fail_weights_bytes_only() {
    let mut w = GgufWriter::with_header(3, 1, 0);
    w.tensor("odd", &[33], GgmlType::Q4_0, 0);
    let header = parse(&w.buf).expect("parses");
    assert_eq!(header.parameter_count(), 33);
    assert_eq!(
        header.weights_bytes().expect_err("partial").code(),
        "unsized_tensor"
    );

    let mut w = GgufWriter::with_header(3, 1, 0);
    w.tensor("new", &[32], GgmlType::Other(1234), 0);
    let err = parse(&w.buf)
        .expect("parses")
        .weights_bytes()
        .expect_err("unknown");
    assert!(err.to_string().contains("ggml_type(1234)"), "{err}");
}

#[test]
fn io_errors_other_than_eof_are_io_errors() {
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    let err = GgufHeader::read(Failing).expect_err("io");
    assert_eq!(err.code(), "gguf_io");
    assert!(!err.is_user_error());
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn random_bytes_after_a_valid_preamble_never_panic(
            version in 2u32..=3,
            tail in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut bytes = GgufWriter::with_header(version, 3, 3).buf;
            bytes[8..24].fill(0);
            bytes[8] = tail.first().copied().unwrap_or(0) % 4;
            bytes[16] = tail.get(1).copied().unwrap_or(0) % 4;
            bytes.extend_from_slice(&tail);
            let _ = parse(&bytes);
        }

        #[test]
        fn mutated_valid_files_never_panic(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        ) {
            let mut bytes = sample_file(3);
            let len = bytes.len();
            for (at, value) in flips {
                bytes[at % len] = value;
            }
            if let Ok(header) = parse(&bytes) {
                let _ = header.weights_bytes();
                let _ = header.head_count_kv();
            }
        }
    }
}
