//! `agent-runtime`: the server binary. Parses the command line, reads the configuration once,
//! and hands it to the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use agent_runtime_server::config::{self, Cli, Command};
use agent_runtime_server::otlp::{OtlpExporter, OtlpLayer};
use agent_runtime_server::server::SANDBOX_HELPER_SUBCOMMAND;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Registry};

/// Turns the OTLP export on once the configuration is read (logging starts before).
type OtlpSwitch = reload::Handle<Option<OtlpLayer>, Registry>;

fn main() -> ExitCode {
    // `agent-runtime sandbox-helper ...` is the sandbox helper (see agent_runtime_sandbox::helper):
    // dispatched before anything else, with no async runtime and no logging of its own.
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(std::ffi::OsStr::new(SANDBOX_HELPER_SUBCOMMAND)) {
        return agent_runtime_sandbox::helper::main(args);
    }
    serve_main()
}

#[tokio::main]
async fn serve_main() -> ExitCode {
    let cli = Cli::parse();
    let otlp = match init_tracing(&config::log_filter(&config::process_env)) {
        Ok(otlp) => otlp,
        Err(e) => {
            eprintln!("agent-runtime: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match run(cli, otlp).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with the whole cause chain, no backtrace: these are operator errors.
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, otlp: OtlpSwitch) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let mut config = config::resolve(&args, &config::process_env)?;
            config.path_env = config::process_path();
            if let Some(endpoint) = &config.otlp_endpoint {
                let layer = OtlpExporter::start(endpoint, &config.otlp_service_name);
                otlp.reload(Some(layer))
                    .context("turning on the OTLP export")?;
                tracing::info!(%endpoint, "exporting traces over OTLP");
            }
            agent_runtime_server::serve(config, shutdown_signal())
                .await
                .context("agent-runtime serve")?;
        }
        Command::Install(args) => {
            let config = config::resolve(&args, &config::process_env)?;
            agent_runtime_server::server::install_agents(&config)
                .await
                .context("agent-runtime install")?;
        }
    }
    Ok(())
}

/// Logs to stderr under `filter`; the returned switch adds the OTLP export later.
fn init_tracing(filter: &str) -> anyhow::Result<OtlpSwitch> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("invalid RUST_LOG filter {filter:?}"))?;
    let (otlp, switch) = reload::Layer::new(None::<OtlpLayer>);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    tracing_subscriber::registry()
        .with(otlp)
        .with(filter)
        .with(fmt)
        .try_init()
        .context("starting the log")?;
    Ok(switch)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!("received SIGINT"),
        _ = terminate => tracing::info!("received SIGTERM"),
    }
}
