//! Exact command lines and environments of each runtime.

use super::*;
use crate::GpuInfo;

fn model(runtime: RuntimeKind, source: &str) -> ModelConfig {
    let mut m = ModelConfig::new("tiny", runtime, source);
    m.context_len = 2048;
    m.parallel = 4;
    m
}

fn args(cmd: &EngineCommand) -> String {
    cmd.args.join(" ")
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn llama_cpp_on_one_gpu() {
    let cmd = LlamaCppRuntime::default()
        .command(&model(RuntimeKind::LlamaCpp, "/m/tiny.gguf"), 8081, &[3])
        .expect("command");
    assert_eq!(cmd.program, PathBuf::from("llama-server"));
    assert_eq!(
        args(&cmd),
        "-m /m/tiny.gguf --host 127.0.0.1 --port 8081 --alias tiny -c 8192 -np 4 -ngl 999"
    );
    assert_eq!(cmd.env, env(&[("CUDA_VISIBLE_DEVICES", "3")]));
}

#[test]
fn llama_cpp_on_several_gpus_splits_layers_evenly() {
    let cmd = LlamaCppRuntime::new("/opt/llama/llama-server")
        .command(
            &model(RuntimeKind::LlamaCpp, "/m/tiny.gguf"),
            9000,
            &[0, 2, 5],
        )
        .expect("command");
    assert_eq!(cmd.program, PathBuf::from("/opt/llama/llama-server"));
    assert_eq!(
        args(&cmd),
        "-m /m/tiny.gguf --host 127.0.0.1 --port 9000 --alias tiny -c 8192 -np 4 -ngl 999 \
         --split-mode layer --tensor-split 1,1,1"
    );
    assert_eq!(cmd.env_var("CUDA_VISIBLE_DEVICES"), Some("0,2,5"));
}

#[test]
fn llama_cpp_on_cpu_with_embeddings_and_extra_args() {
    let mut m = model(RuntimeKind::LlamaCpp, "/m/minilm.gguf");
    m.embeddings = true;
    m.parallel = 1;
    m.extra_args = vec!["--threads".into(), "4".into()];
    m.binary = Some("/custom/llama-server".into());
    let cmd = LlamaCppRuntime::default()
        .command(&m, 8082, &[])
        .expect("command");
    assert_eq!(cmd.program, PathBuf::from("/custom/llama-server"));
    assert_eq!(
        args(&cmd),
        "-m /m/minilm.gguf --host 127.0.0.1 --port 8082 --alias tiny -c 2048 -np 1 \
         --embeddings --pooling mean -ngl 0 --threads 4"
    );
    // No GPU: CUDA sees none, so a CUDA build never touches a GPU it was not given.
    assert_eq!(cmd.env, env(&[("CUDA_VISIBLE_DEVICES", "-1")]));
}

#[test]
fn llama_cpp_refuses_other_runtimes_models() {
    let err = LlamaCppRuntime::default()
        .command(&model(RuntimeKind::Vllm, "x"), 1, &[])
        .expect_err("wrong kind");
    assert_eq!(err.code(), "invalid_config");
    assert!(err.to_string().contains("runtime is vllm"), "{err}");
    let runtime = LlamaCppRuntime::default();
    assert_eq!(runtime.kind(), RuntimeKind::LlamaCpp);
    assert_eq!(
        runtime.upstream_model(&model(RuntimeKind::LlamaCpp, "x")),
        "tiny"
    );
}

#[test]
fn ollama_on_one_gpu() {
    let runtime = OllamaRuntime::default();
    let m = model(RuntimeKind::Ollama, "llama3.1:8b");
    let cmd = runtime.command(&m, 11500, &[1]).expect("command");
    assert_eq!(cmd.program, PathBuf::from("ollama"));
    assert_eq!(cmd.args, ["serve"]);
    assert_eq!(
        cmd.env,
        env(&[
            ("OLLAMA_HOST", "127.0.0.1:11500"),
            ("OLLAMA_KEEP_ALIVE", "-1"),
            ("OLLAMA_NUM_PARALLEL", "4"),
            ("OLLAMA_CONTEXT_LENGTH", "2048"),
            ("OLLAMA_MAX_LOADED_MODELS", "1"),
            ("CUDA_VISIBLE_DEVICES", "1"),
        ])
    );
    assert_eq!(runtime.upstream_model(&m), "llama3.1:8b");
    assert_eq!(runtime.kind(), RuntimeKind::Ollama);
}

#[test]
fn ollama_on_several_gpus_spreads_and_on_cpu_sees_none() {
    let runtime = OllamaRuntime::new("/usr/local/bin/ollama");
    let m = model(RuntimeKind::Ollama, "llama3.1:70b");
    let cmd = runtime.command(&m, 11501, &[0, 1]).expect("command");
    assert_eq!(cmd.program, PathBuf::from("/usr/local/bin/ollama"));
    assert_eq!(cmd.env_var("CUDA_VISIBLE_DEVICES"), Some("0,1"));
    assert_eq!(cmd.env_var("OLLAMA_SCHED_SPREAD"), Some("1"));
    let cpu = runtime.command(&m, 11502, &[]).expect("command");
    assert_eq!(cpu.env_var("CUDA_VISIBLE_DEVICES"), Some("-1"));
    assert_eq!(cpu.env_var("OLLAMA_SCHED_SPREAD"), None);
    assert_eq!(cpu.env_var("OLLAMA_HOST"), Some("127.0.0.1:11502"));
}

fn h100s(n: u32) -> Vec<GpuInfo> {
    (0..n)
        .map(|index| GpuInfo {
            index,
            name: "NVIDIA H100".into(),
            total_bytes: 80 << 30,
            free_bytes: 80 << 30,
        })
        .collect()
}

#[test]
fn vllm_on_one_gpu_with_a_memory_fraction() {
    let mut m = model(RuntimeKind::Vllm, "Qwen/Qwen2.5-7B-Instruct");
    m.memory_bytes = Some(34 << 30);
    let runtime = VllmRuntime::default().with_gpus(h100s(2));
    let cmd = runtime.command(&m, 8100, &[1]).expect("command");
    assert_eq!(cmd.program, PathBuf::from("vllm"));
    // 34 GiB of 80 GiB = 0.425, rounded up to hundredths.
    assert_eq!(
        args(&cmd),
        "serve Qwen/Qwen2.5-7B-Instruct --host 127.0.0.1 --port 8100 --served-model-name tiny \
         --tensor-parallel-size 1 --max-model-len 2048 --max-num-seqs 4 \
         --gpu-memory-utilization 0.43"
    );
    assert_eq!(cmd.env, env(&[("CUDA_VISIBLE_DEVICES", "1")]));
    assert_eq!(runtime.upstream_model(&m), "tiny");
}

#[test]
fn vllm_tensor_parallel_splits_memory_over_gpus() {
    let mut m = model(RuntimeKind::Vllm, "/models/llama-70b");
    m.memory_bytes = Some(120 << 30);
    m.max_gpus = 2;
    m.extra_args = vec!["--enforce-eager".into()];
    let cmd = VllmRuntime::new("/venv/bin/vllm")
        .with_gpus(h100s(2))
        .command(&m, 8101, &[0, 1])
        .expect("command");
    assert_eq!(cmd.program, PathBuf::from("/venv/bin/vllm"));
    assert_eq!(
        args(&cmd),
        "serve /models/llama-70b --host 127.0.0.1 --port 8101 --served-model-name tiny \
         --tensor-parallel-size 2 --max-model-len 2048 --max-num-seqs 4 \
         --gpu-memory-utilization 0.75 --enforce-eager"
    );
    assert_eq!(cmd.env_var("CUDA_VISIBLE_DEVICES"), Some("0,1"));
}

#[test]
fn vllm_embeddings_without_gpu_sizes_or_on_cpu() {
    let mut m = model(RuntimeKind::Vllm, "BAAI/bge-small-en-v1.5");
    m.embeddings = true;
    m.memory_bytes = Some(2 << 30);
    // GPU sizes unknown: vLLM's default utilization.
    let cmd = VllmRuntime::default()
        .command(&m, 8102, &[0])
        .expect("command");
    assert_eq!(
        args(&cmd),
        "serve BAAI/bge-small-en-v1.5 --host 127.0.0.1 --port 8102 --served-model-name tiny \
         --tensor-parallel-size 1 --max-model-len 2048 --max-num-seqs 4 --runner pooling"
    );
    let cpu = VllmRuntime::default()
        .with_gpus(h100s(1))
        .command(&m, 8103, &[])
        .expect("command");
    assert!(args(&cpu).contains("--tensor-parallel-size 1"), "{cpu:?}");
    assert!(!args(&cpu).contains("--gpu-memory-utilization"), "{cpu:?}");
    assert_eq!(cpu.env_var("CUDA_VISIBLE_DEVICES"), Some("-1"));
}

#[test]
fn vllm_refuses_more_memory_than_the_gpu_has() {
    let mut m = model(RuntimeKind::Vllm, "big");
    m.memory_bytes = Some(81 << 30);
    let err = VllmRuntime::default()
        .with_gpus(h100s(1))
        .command(&m, 8104, &[0])
        .expect_err("too big");
    assert_eq!(err.code(), "invalid_config");
    assert!(err.to_string().contains("smallest"), "{err}");
}
