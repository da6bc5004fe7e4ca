//! Contract fakes of Ollama and vLLM: small HTTP servers speaking the documented
//! endpoints the runtimes use, in process or as an engine binary.
//!
//! - Ollama: `GET /api/version`, `POST /api/show` and `POST /api/generate` /
//!   `POST /api/embed` (404 `{"error": ...}` for a tag that is not pulled; loading
//!   takes `load_delay`), OpenAI `GET /v1/models` and `POST /v1/chat/completions`.
//! - vLLM: listens only after `load_delay` (a refused connection while loading, as
//!   vLLM does), then `GET /health`, `GET /v1/models`, `POST /v1/chat/completions`.
//!
//! Chat completions answer "Hello from fake ENGINE!", plain or as an SSE stream in
//! several chunks ending `data: [DONE]`, and 404 for a model the engine does not
//! serve, so a test sees whether the runner sent the engine's model name.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};

/// Requests a fake received: path and JSON body.
pub type Log = Arc<Mutex<Vec<(String, Value)>>>;

#[derive(Clone)]
struct Fake {
    engine: &'static str,
    models: Arc<Vec<String>>,
    load_delay: Duration,
    log: Log,
}

impl Fake {
    fn record(&self, path: &str, body: &Value) {
        self.log
            .lock()
            .expect("log")
            .push((path.to_owned(), body.clone()));
    }

    fn has(&self, model: &Value) -> bool {
        model
            .as_str()
            .is_some_and(|m| self.models.iter().any(|x| x == m))
    }
}

/// An Ollama server holding `models` (tags).
pub fn ollama(models: &[&str], load_delay: Duration, log: Log) -> Router {
    let fake = Fake {
        engine: "ollama",
        models: Arc::new(models.iter().map(|m| (*m).to_owned()).collect()),
        load_delay,
        log,
    };
    Router::new()
        .route(
            "/api/version",
            get(|| async { Json(json!({"version": "0.12.0-fake"})) }),
        )
        .route("/api/show", post(ollama_show))
        .route("/api/generate", post(ollama_generate))
        .route("/api/embed", post(ollama_embed))
        .route("/v1/models", get(models_list))
        .route("/v1/chat/completions", post(chat))
        .with_state(fake)
}

/// A vLLM server serving one model under `served_name`.
pub fn vllm(served_name: &str, log: Log) -> Router {
    let fake = Fake {
        engine: "vllm",
        models: Arc::new(vec![served_name.to_owned()]),
        load_delay: Duration::ZERO,
        log,
    };
    Router::new()
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/v1/models", get(models_list))
        .route("/v1/chat/completions", post(chat))
        .with_state(fake)
}

fn ollama_error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn ollama_show(State(fake): State<Fake>, Json(body): Json<Value>) -> Response {
    fake.record("/api/show", &body);
    if !fake.has(&body["model"]) {
        return ollama_error(
            StatusCode::NOT_FOUND,
            format!("model '{}' not found", body["model"].as_str().unwrap_or("")),
        );
    }
    Json(json!({
        "modelfile": "FROM fake",
        "details": {"format": "gguf", "family": "llama", "parameter_size": "8B"},
        "capabilities": ["completion"],
    }))
    .into_response()
}

async fn ollama_generate(State(fake): State<Fake>, Json(body): Json<Value>) -> Response {
    ollama_load(fake, "/api/generate", body).await
}

async fn ollama_embed(State(fake): State<Fake>, Json(body): Json<Value>) -> Response {
    ollama_load(fake, "/api/embed", body).await
}

/// `/api/generate` or `/api/embed` without input: loads the model.
async fn ollama_load(fake: Fake, path: &str, body: Value) -> Response {
    fake.record(path, &body);
    if !fake.has(&body["model"]) {
        return ollama_error(
            StatusCode::NOT_FOUND,
            format!(
                "model \"{}\" not found, try pulling it first",
                body["model"].as_str().unwrap_or("")
            ),
        );
    }
    tokio::time::sleep(fake.load_delay).await;
    Json(json!({
        "model": body["model"],
        "created_at": "2025-01-01T00:00:00Z",
        "response": "",
        "done": true,
        "done_reason": "load",
    }))
    .into_response()
}

async fn models_list(State(fake): State<Fake>) -> Json<Value> {
    let data: Vec<Value> = fake
        .models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": fake.engine}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

async fn chat(State(fake): State<Fake>, Json(body): Json<Value>) -> Response {
    fake.record("/v1/chat/completions", &body);
    let model = body["model"].clone();
    if !fake.has(&model) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"message": format!("model {model} does not exist"), "type": "NotFoundError", "code": 404}})),
        )
            .into_response();
    }
    let words = ["Hello", " from", " fake", &format!(" {}!", fake.engine)].map(str::to_owned);
    if body["stream"] != json!(true) {
        return Json(json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": words.concat()}, "finish_reason": "stop"}],
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        let c = json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        format!("data: {c}\n\n")
    };
    let mut events: Vec<String> = words
        .iter()
        .map(|w| chunk(json!({"role": "assistant", "content": w}), Value::Null))
        .collect();
    events.push(chunk(json!({}), json!("stop")));
    events.push("data: [DONE]\n\n".into());
    // One event at a time, with pauses, so the client sees a real stream.
    let stream = futures::stream::iter(events).then(|event| async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        Ok::<_, std::convert::Infallible>(event)
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .expect("response")
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Serves `router` on `port` after `delay` (nothing listens before).
pub fn serve_in_process(router: Router, port: u16, delay: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        serve(router, port).await;
    });
}

async fn serve(router: Router, port: u16) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind fake");
    axum::serve(listener, router).await.expect("serve fake");
}

/// Writes an executable `dir/name` that runs this test binary as fake `engine`
/// ("ollama" or "vllm"), after recording its arguments in `dir/args` and its
/// environment in `dir/env`.
pub fn engine_script(dir: &Path, name: &str, engine: &str, models: &[&str]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let exe = std::env::current_exe().expect("test binary");
    let script = format!(
        "#!/bin/sh\n\
         printf '%s\\n' \"$@\" > '{dir}/args'\n\
         env > '{dir}/env'\n\
         export HELIX_FAKE_ENGINE={engine}\n\
         export HELIX_FAKE_ARGS_FILE='{dir}/args'\n\
         export HELIX_FAKE_MODELS='{models}'\n\
         exec '{exe}' --exact fakes::engine_main --nocapture --test-threads=1 --quiet\n",
        dir = dir.display(),
        models = models.join(","),
        exe = exe.display(),
    );
    let path = dir.join(name);
    std::fs::write(&path, script).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// What `engine_script` recorded: arguments, and the environment as `KEY=VALUE`
/// lines.
pub fn recorded(dir: &Path) -> (Vec<String>, Vec<String>) {
    let read = |name| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    (read("args"), read("env"))
}

/// Role: a fake engine process, when `HELIX_FAKE_ENGINE` is set (see
/// [`engine_script`]); otherwise nothing.
#[test]
fn engine_main() {
    let Ok(engine) = std::env::var("HELIX_FAKE_ENGINE") else {
        return;
    };
    let args: Vec<String> = std::env::var("HELIX_FAKE_ARGS_FILE")
        .ok()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let models_env = std::env::var("HELIX_FAKE_MODELS").unwrap_or_default();
    let models: Vec<&str> = models_env.split(',').filter(|m| !m.is_empty()).collect();
    let log = Log::default();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        match engine.as_str() {
            "ollama" => {
                let host = std::env::var("OLLAMA_HOST").expect("OLLAMA_HOST");
                let port = host
                    .rsplit_once(':')
                    .expect("host:port")
                    .1
                    .parse()
                    .expect("port");
                eprintln!("fake ollama listening on {host}");
                serve(ollama(&models, Duration::from_millis(200), log), port).await;
            }
            "vllm" => {
                let port = flag("--port").expect("--port").parse().expect("port");
                let served = flag("--served-model-name").expect("--served-model-name");
                eprintln!("fake vllm loading {served}");
                // vLLM listens only once the model is loaded.
                tokio::time::sleep(Duration::from_millis(300)).await;
                eprintln!("fake vllm listening on {port}");
                serve(vllm(&served, log), port).await;
            }
            other => panic!("unknown fake engine {other}"),
        }
    });
}
