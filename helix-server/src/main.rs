//! The `helix` command.

use clap::{Parser, Subcommand};
use helix_server::config::LogFormat;
use helix_server::ServeConfig;

/// Helix: a self-hostable private GenAI platform.
#[derive(Debug, Parser)]
#[command(name = "helix", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane (API, web UI) on one port.
    Serve(Box<ServeConfig>),
    /// Run a GPU runner that dials out to a control plane and serves models on it.
    Runner(Box<helix_server::runner_cmd::RunnerArgs>),
    /// Run a sandbox host that dials out to a control plane (a dockerd per sandbox; as root).
    SandboxHost(Box<helix_server::sandbox_host::SandboxHostArgs>),
    /// Use sandboxes of a Helix server: create, ls, exec, put, get, logs, kill.
    Sandbox(helix_server::sandbox_cli::SandboxCli),
    /// Stream an X display to a browser on its own, without a control plane.
    Stream(helix_server::stream_cmd::StreamArgs),
    /// Print the OpenAPI document of the API.
    Openapi,
    /// One desktop's capture and encoding, run by `serve` and `stream` (internal).
    #[command(hide = true)]
    StreamWorker {
        /// The worker's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Benchmarks, each against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Login and API-key authentication throughput over real HTTP on loopback.
    Auth(helix_server::bench::BenchArgs),
    /// Latency Helix adds to model calls, against the same upstream called directly.
    Gateway(helix_server::bench::gateway::GatewayBenchArgs),
    /// Latency Helix's runner path adds, against the same engine called directly.
    Runners(helix_server::bench::runners::RunnersBenchArgs),
    /// What the Python and Node SDKs add to a call of the Rust client they wrap.
    Sdk(helix_server::bench::sdk::SdkBenchArgs),
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(cfg) => {
            init_tracing(cfg.log_format);
            helix_server::serve::serve(*cfg).await
        }
        Command::Runner(args) => {
            init_tracing(LogFormat::Text);
            helix_server::runner_cmd::run(*args).await
        }
        Command::SandboxHost(args) => {
            init_tracing(LogFormat::Text);
            helix_server::sandbox_host::run_remote(*args).await
        }
        Command::Sandbox(cli) => {
            let code = helix_server::sandbox_cli::run(cli).await?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Auth(args)) => {
            init_tracing(LogFormat::Text);
            helix_server::bench::run(args).await.map(|_| ())
        }
        Command::Bench(BenchCommand::Gateway(args)) => {
            init_tracing(LogFormat::Text);
            helix_server::bench::gateway::run(args).await.map(|_| ())
        }
        Command::Bench(BenchCommand::Sdk(args)) => {
            init_tracing(LogFormat::Text);
            helix_server::bench::sdk::run(args).await.map(|_| ())
        }
        Command::Bench(BenchCommand::Runners(args)) => {
            // The runner logs every line of the engine's output at info: warnings only,
            // unless RUST_LOG says otherwise.
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
            tracing_subscriber::fmt().with_env_filter(filter).init();
            helix_server::bench::runners::run(args).await.map(|_| ())
        }
        Command::Stream(args) => {
            init_tracing(LogFormat::Text);
            helix_server::stream_cmd::run(args).await
        }
        Command::StreamWorker { args } => {
            // Logs go to stderr, which the parent keeps for its error messages.
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .init();
            std::process::exit(helix_stream::gst::worker::worker_main(&args));
        }
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&helix_server::openapi())?
            );
            Ok(())
        }
    }
}
