//! The whole supervisor path for Ollama and vLLM: the contract fakes run as the
//! engine binary (a script named `ollama` / `vllm`), started, prepared, proxied to
//! and stopped by the `InstanceManager`.

use std::sync::Arc;

use bytes::Bytes;
use helix_sched::runner::{InstanceManager, ModelConfig, OllamaRuntime};
use helix_sched::{GpuInfo, InstanceId, InstanceSpec, InstanceState};
use reqwest::Method;
use serde_json::json;

use crate::fakes::{engine_script, recorded};
use crate::{assert_group_gone, fast_config, sse_text, wait_for};

fn chat() -> Bytes {
    json!({"model": "caller-name", "stream": true, "messages": [{"role": "user", "content": "Hi"}]})
        .to_string()
        .into()
}

fn spec(instance: &InstanceId, model: &str, gpus: Vec<u32>) -> InstanceSpec {
    InstanceSpec {
        instance: instance.clone(),
        model: model.into(),
        gpus,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ollama_as_a_supervised_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = engine_script(dir.path(), "ollama", "ollama", &["llama3.1:8b"]);
    let mut present: ModelConfig =
        "name=llama3,runtime=ollama,source=llama3.1:8b,memory=6GiB,ctx=8192,parallel=3"
            .parse()
            .expect("model");
    present.max_gpus = 2;
    let missing: ModelConfig = "name=mistral,runtime=ollama,source=mistral:7b,memory=5GiB"
        .parse()
        .expect("model");
    let manager = InstanceManager::new(vec![present, missing], dir.path().join("state"))
        .expect("manager")
        .with_runtime(Arc::new(OllamaRuntime::new(&binary)))
        .with_config(fast_config());
    let mut events = manager.subscribe();

    let id = InstanceId::generate();
    manager
        .start(spec(&id, "llama3", vec![0, 1]))
        .expect("start");
    let seen = wait_for(&mut events, &id, InstanceState::Ready).await;
    assert_eq!(seen[0].state, InstanceState::Loading);
    assert_eq!(seen.last().expect("ready").gpus, [0, 1]);

    let (args, env) = recorded(dir.path());
    assert_eq!(args, ["serve"]);
    let port = manager.base_url(&id).expect("ready").port().expect("port");
    for var in [
        format!("OLLAMA_HOST=127.0.0.1:{port}"),
        "OLLAMA_KEEP_ALIVE=-1".into(),
        "OLLAMA_NUM_PARALLEL=3".into(),
        "OLLAMA_CONTEXT_LENGTH=8192".into(),
        "OLLAMA_MAX_LOADED_MODELS=1".into(),
        "CUDA_VISIBLE_DEVICES=0,1".into(),
        "OLLAMA_SCHED_SPREAD=1".into(),
    ] {
        assert!(env.contains(&var), "{var} not in {env:?}");
    }

    assert_eq!(manager.upstream_model(&id).as_deref(), Some("llama3.1:8b"));
    let resp = manager
        .forward(&id, Method::POST, "/v1/chat/completions", chat())
        .await
        .expect("forward");
    assert_eq!(resp.status, 200);
    assert_eq!(
        sse_text(&resp.collect().await.expect("body")),
        "Hello from fake ollama!"
    );

    // A tag that was never pulled: Failed at once, saying so.
    let bad = InstanceId::generate();
    manager.start(spec(&bad, "mistral", vec![])).expect("start");
    let seen = wait_for(&mut events, &bad, InstanceState::Failed).await;
    let message = seen
        .last()
        .and_then(|s| s.message.clone())
        .expect("message");
    assert!(message.contains("ollama pull mistral:7b"), "{message}");
    assert!(
        !seen.iter().any(|s| s.state == InstanceState::Restarting),
        "{seen:#?}"
    );

    let pid = manager.pid(&id).expect("pid");
    manager.stop_all().await;
    assert_group_gone(pid).await;
    assert!(manager.list().is_empty());
    let stopped = wait_for(&mut events, &id, InstanceState::Stopped).await;
    assert_eq!(
        stopped.last().expect("stopped").state,
        InstanceState::Stopped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vllm_as_a_supervised_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = engine_script(dir.path(), "vllm", "vllm", &[]);
    let model: ModelConfig = format!(
        "name=qwen,runtime=vllm,source=Qwen/Qwen2.5-0.5B-Instruct,memory=20GiB,ctx=4096,parallel=8,binary={}",
        binary.display()
    )
    .parse()
    .expect("model");
    let gpus = vec![
        GpuInfo {
            index: 0,
            name: "NVIDIA H100".into(),
            total_bytes: 80 << 30,
            free_bytes: 80 << 30,
        },
        GpuInfo {
            index: 1,
            name: "NVIDIA H100".into(),
            total_bytes: 80 << 30,
            free_bytes: 80 << 30,
        },
    ];
    let manager = InstanceManager::new(vec![model], dir.path().join("state"))
        .expect("manager")
        .with_gpus(gpus)
        .with_config(fast_config());
    let mut events = manager.subscribe();

    // Unknown model and GPU are refused before anything starts.
    let err = manager
        .start(spec(&InstanceId::generate(), "nope", vec![0]))
        .expect_err("unknown model");
    assert_eq!(err.code(), "unknown_model");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = manager
        .start(spec(&InstanceId::generate(), "qwen", vec![7]))
        .expect_err("unknown gpu");
    assert!(err.to_string().contains("no gpu 7"), "{err}");
    let err = manager
        .start(spec(&InstanceId::generate(), "qwen", vec![0, 1]))
        .expect_err("too many gpus");
    assert!(err.to_string().contains("allows 1"), "{err}");

    let id = InstanceId::generate();
    manager.start(spec(&id, "qwen", vec![1])).expect("start");
    let err = manager
        .start(spec(&id, "qwen", vec![0]))
        .expect_err("twice");
    assert_eq!(err.code(), "instance_exists");
    // Loading: vLLM refuses connections until the model is loaded; no URL yet.
    assert!(manager.base_url(&id).is_none());
    let err = manager
        .forward(&id, Method::POST, "/v1/chat/completions", chat())
        .await
        .expect_err("not ready");
    assert_eq!(err.code(), "instance_not_ready");
    wait_for(&mut events, &id, InstanceState::Ready).await;

    let (args, env) = recorded(dir.path());
    let port = manager.base_url(&id).expect("ready").port().expect("port");
    assert_eq!(
        args.join(" "),
        format!(
            "serve Qwen/Qwen2.5-0.5B-Instruct --host 127.0.0.1 --port {port} --served-model-name qwen \
             --tensor-parallel-size 1 --max-model-len 4096 --max-num-seqs 8 --gpu-memory-utilization 0.25"
        )
    );
    assert!(
        env.contains(&"CUDA_VISIBLE_DEVICES=1".to_owned()),
        "{env:?}"
    );

    let resp = manager
        .forward(&id, Method::POST, "/v1/chat/completions", chat())
        .await
        .expect("forward");
    assert_eq!(
        sse_text(&resp.collect().await.expect("body")),
        "Hello from fake vllm!"
    );
    assert!(manager
        .recent_output(&id)
        .expect("output")
        .iter()
        .any(|l| l.contains("fake vllm listening")));

    let pid = manager.pid(&id).expect("pid");
    manager.stop(&id).await.expect("stop");
    assert_group_gone(pid).await;
    let err = manager.stop(&id).await.expect_err("gone");
    assert_eq!(err.code(), "unknown_instance");
    assert!(!dir.path().join("state").join(format!("{id}.pid")).exists());
}
