//! Model config parsing (CLI form, JSON), sizes and offers.

use super::*;
use crate::gguf::tests::GgufWriter;
use crate::{GgmlType, MetadataValue};

#[test]
fn cli_form_reads_every_key() {
    let model: ModelConfig = "name=tiny,runtime=llama_cpp,source=/m/tiny.gguf,ctx=2048,parallel=2,embeddings=true,memory=2GiB,max_gpus=2"
        .parse()
        .expect("parse");
    assert_eq!(
        model,
        ModelConfig {
            name: "tiny".into(),
            runtime: RuntimeKind::LlamaCpp,
            source: "/m/tiny.gguf".into(),
            context_len: 2048,
            parallel: 2,
            embeddings: true,
            memory_bytes: Some(2 << 30),
            max_gpus: 2,
            extra_args: vec![],
            binary: None,
        }
    );
    let model: ModelConfig =
        "name=llama3,runtime=ollama,source=llama3.1:8b,memory=6GB,binary=/opt/ollama/bin/ollama,arg=--verbose,arg=x"
            .parse()
            .expect("parse");
    assert_eq!(model.runtime, RuntimeKind::Ollama);
    assert_eq!(model.source, "llama3.1:8b");
    assert_eq!(model.context_len, DEFAULT_CONTEXT_LEN);
    assert_eq!(model.parallel, 1);
    assert_eq!(model.max_gpus, 1);
    assert_eq!(model.memory_bytes, Some(6_000_000_000));
    assert_eq!(model.binary, Some(PathBuf::from("/opt/ollama/bin/ollama")));
    assert_eq!(model.extra_args, ["--verbose", "x"]);
    // Display writes the same form back.
    assert_eq!(
        model.to_string().parse::<ModelConfig>().expect("again"),
        model
    );
}

#[test]
fn cli_form_errors_say_what_is_wrong() {
    for (spec, needle) in [
        ("runtime=vllm,source=x", "name is missing"),
        ("name=a,source=x", "runtime is missing"),
        ("name=a,runtime=vllm", "source is missing"),
        (
            "name=a,runtime=tgi,source=x",
            "runtime \"tgi\" is not one of",
        ),
        (
            "name=a,runtime=vllm,source=x,ctx=big",
            "ctx \"big\" is not a whole number",
        ),
        (
            "name=a,runtime=vllm,source=x,parallel=0",
            "parallel must be at least 1",
        ),
        (
            "name=a,runtime=vllm,source=x,max_gpus=0",
            "max_gpus must be at least 1",
        ),
        (
            "name=a,runtime=vllm,source=x,embeddings=maybe",
            "\"maybe\" is not true or false",
        ),
        (
            "name=a,runtime=vllm,source=x,colour=red",
            "unknown key \"colour\"",
        ),
        ("name=a,runtime=vllm,source", "\"source\" is not key=value"),
        (
            "name=a,runtime=vllm,source=x,memory=2 elephants",
            "unit must be",
        ),
        ("name=a b,runtime=vllm,source=x", "without spaces"),
        ("name=a,runtime=vllm,source=", "source is empty"),
    ] {
        let err = spec.parse::<ModelConfig>().expect_err(spec);
        assert_eq!(err.code(), "invalid_config", "{spec}");
        assert!(err.to_string().contains(needle), "{spec}: {err}");
        assert!(err.is_user_error());
    }
}

#[test]
fn json_and_toml_shapes() {
    let model: ModelConfig = serde_json::from_str(
        r#"{"name":"m","runtime":"vllm","source":"Qwen/Qwen2.5-0.5B","memory_bytes":1073741824}"#,
    )
    .expect("json");
    assert_eq!(model.memory_bytes, Some(1 << 30));
    assert_eq!(model.context_len, DEFAULT_CONTEXT_LEN);
    let with_size: ModelConfig = serde_json::from_str(
        r#"{"name":"m","runtime":"vllm","source":"x","memory_bytes":"1GiB","extra_args":["--enforce-eager"],"binary":"/usr/bin/vllm"}"#,
    )
    .expect("json");
    assert_eq!(with_size.memory_bytes, Some(1 << 30));
    assert_eq!(with_size.extra_args, ["--enforce-eager"]);
    let err = serde_json::from_str::<ModelConfig>(
        r#"{"name":"m","runtime":"vllm","source":"x","memory_bytes":"lots"}"#,
    )
    .expect_err("bad size");
    assert!(err.to_string().contains("lots"), "{err}");
    let err = serde_json::from_str::<ModelConfig>(
        r#"{"name":"m","runtime":"vllm","source":"x","ctx":5}"#,
    )
    .expect_err("unknown field");
    assert!(err.to_string().contains("ctx"), "{err}");
    // Serialized form leaves out what is unset.
    let json =
        serde_json::to_string(&ModelConfig::new("m", RuntimeKind::Ollama, "tag")).expect("json");
    assert_eq!(
        json,
        r#"{"name":"m","runtime":"ollama","source":"tag","context_len":4096,"parallel":1,"embeddings":false,"max_gpus":1}"#
    );
}

#[test]
fn sizes() {
    for (text, bytes) in [
        ("0", 0),
        ("1", 1),
        ("10B", 10),
        ("1KB", 1000),
        ("1KiB", 1024),
        ("2 MiB", 2 << 20),
        ("3mb", 3_000_000),
        ("80GiB", 80 << 30),
        ("80gib", 80 << 30),
        ("16GB", 16_000_000_000),
        ("1TiB", 1 << 40),
        ("1.5GiB", 3 << 29),
        ("0.25KiB", 256),
        (".5KiB", 512),
        ("1.1B", 1),
    ] {
        assert_eq!(parse_size(text).expect(text), bytes, "{text}");
    }
    for bad in [
        "",
        "GiB",
        "1.2.3GiB",
        "-1GiB",
        "1 parsec",
        "99999999999TiB",
        "1e9",
    ] {
        let err = parse_size(bad).expect_err(bad);
        assert_eq!(err.code(), "invalid_config", "{bad}");
    }
}

/// A llama-shaped GGUF with one F16 tensor of 1024 elements, written to a file.
fn gguf_file() -> tempfile::NamedTempFile {
    let kvs = [
        ("block_count", 2u32),
        ("embedding_length", 64),
        ("attention.head_count", 8),
        ("attention.head_count_kv", 2),
    ];
    let mut w = GgufWriter::with_header(3, 1, kvs.len() as u64 + 1);
    w.kv(
        "general.architecture",
        &MetadataValue::String("llama".into()),
    );
    for (key, value) in kvs {
        w.kv(&format!("llama.{key}"), &MetadataValue::U32(value));
    }
    w.tensor("w", &[1024], GgmlType::F16, 0);
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(file.path(), &w.buf).expect("write gguf");
    file
}

#[test]
fn llama_cpp_offer_estimates_from_the_gguf_header() {
    let file = gguf_file();
    let mut model = ModelConfig::new(
        "tiny",
        RuntimeKind::LlamaCpp,
        file.path().to_str().expect("utf-8 path"),
    );
    model.context_len = 2048;
    model.parallel = 2;
    model.embeddings = true;
    model.max_gpus = 2;
    let header = GgufHeader::open(file.path()).expect("header");
    let expected = estimate_memory(&header, 2048, 2).expect("estimate");
    assert_eq!(
        model.offer().expect("offer"),
        ModelOffer {
            name: "tiny".into(),
            runtime: RuntimeKind::LlamaCpp,
            memory_bytes: expected.total_bytes,
            context_len: 2048,
            parallel: 2,
            embeddings: true,
            max_gpus: 2,
        }
    );
    // 2 (K, V) × 2 layers × 2048 × 2 sequences × (64 / 8 × 2 = 16) × 2 bytes.
    assert_eq!(expected.kv_cache_bytes, 2 * 2 * 2048 * 2 * 16 * 2);

    model.memory_bytes = Some(5 << 30);
    assert_eq!(model.offer().expect("offer").memory_bytes, 5 << 30);
}

#[test]
fn offer_errors() {
    let missing = ModelConfig::new("gone", RuntimeKind::LlamaCpp, "/nonexistent/model.gguf");
    let err = missing.offer().expect_err("no file");
    assert_eq!(err.code(), "gguf_open");
    assert!(err.to_string().contains("/nonexistent/model.gguf"), "{err}");

    for runtime in [RuntimeKind::Ollama, RuntimeKind::Vllm] {
        let model = ModelConfig::new("big", runtime, "some/model");
        let err = model.offer().expect_err("no memory");
        assert_eq!(err.code(), "invalid_config");
        let msg = err.to_string();
        assert!(msg.contains("memory_bytes is required"), "{msg}");
        assert!(
            msg.contains("big") && msg.contains(runtime.as_str()),
            "{msg}"
        );
    }
}
