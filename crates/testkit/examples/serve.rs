//! Runs the scripted model server by hand, for poking at a real CLI:
//!
//! ```text
//! cargo run -p agent-runtime-testkit --example serve -- [SCENARIO.json] [PORT]
//! ANTHROPIC_BASE_URL=http://127.0.0.1:PORT ANTHROPIC_API_KEY=x claude -p "create hello.txt"
//! GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT GEMINI_API_KEY=x gemini -m gemini-2.5-pro --yolo -p "create hello.txt"
//! ```
//!
//! Without a scenario file the built-in demo scenario is served. Requests are logged at
//! debug level (`RUST_LOG=agent_runtime_testkit=debug`); Ctrl-C stops the server.

use std::net::{Ipv4Addr, SocketAddr};

use agent_runtime_testkit::{demo_scenario, Scenario, ScriptedModelServer};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let scenario = match args.next().filter(|arg| arg != "-") {
        Some(path) => Scenario::from_file(path)?,
        None => demo_scenario(),
    };
    let port: u16 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(0);
    let server =
        ScriptedModelServer::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), scenario)
            .await?;
    eprintln!(
        "ANTHROPIC_BASE_URL={0} GOOGLE_GEMINI_BASE_URL={0}",
        server.base_url()
    );
    tokio::signal::ctrl_c().await?;
    for request in server.requests() {
        eprintln!("{} {} {:?}", request.method, request.path, request.kind);
    }
    server.shutdown().await;
    Ok(())
}
