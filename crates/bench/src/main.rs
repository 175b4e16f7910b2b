//! `agent-runtime-bench`: the command line of the benchmark harness (see the library's docs and
//! `docs/performance.md`). Its arguments and environment are read here and nowhere else.

use std::path::PathBuf;

use agent_runtime_bench::run::{run, Figure, Options};
use clap::{Parser, ValueEnum};

/// Benchmarks of the release agent-runtime binary, each figure beside its anchor.
#[derive(Debug, Parser)]
#[command(name = "agent-runtime-bench")]
struct Args {
    /// Which figures: all, or one of them.
    #[arg(value_enum)]
    figure: Which,
    /// Smaller sizes, to iterate on the harness.
    #[arg(long)]
    quick: bool,
    /// Only the fan-out runs with these subscriber counts (comma-separated, e.g. `1000`).
    #[arg(long, value_delimiter = ',')]
    subscribers: Vec<usize>,
    /// Write the table here: between the `<!-- bench:table:start -->` and `end` markers when
    /// the file has them, else the whole file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Write the fan-out latency plot (SVG) here.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// The agent-runtime binary (default: built with cargo next to this one).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Where the agent CLIs are installed.
    #[arg(long, env = "AGENT_RUNTIME_TEST_TOOLS_DIR")]
    tools_dir: Option<PathBuf>,
    /// Where prepared databases are cached (default: `bench-data` in the target dir).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// The cargo that builds the agent-runtime binary (set by `cargo run`).
    #[arg(long, env = "CARGO", hide = true)]
    cargo: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Which {
    All,
    FirstToken,
    Fanout,
    Load,
    Startup,
    Memory,
    Concurrent,
    Cluster,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let figures = match args.figure {
        Which::All => Figure::ALL.to_vec(),
        Which::FirstToken => vec![Figure::FirstToken],
        Which::Fanout => vec![Figure::Fanout],
        Which::Load => vec![Figure::Load],
        Which::Startup => vec![Figure::Startup],
        Which::Memory => vec![Figure::Memory],
        Which::Concurrent => vec![Figure::Concurrent],
        Which::Cluster => vec![Figure::Cluster],
    };
    // The target dir this binary runs from (`target/release/agent-runtime-bench`).
    let exe = std::env::current_exe()?;
    let target_dir = exe
        .parent()
        .and_then(|profile| profile.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    run(Options {
        figures,
        quick: args.quick,
        subscribers: args.subscribers,
        markdown: args.markdown,
        svg: args.svg,
        binary: args.binary,
        tools_dir: args
            .tools_dir
            .unwrap_or_else(|| target_dir.join("agent-tools")),
        cache_dir: args
            .cache_dir
            .unwrap_or_else(|| target_dir.join("bench-data")),
        cargo: args.cargo,
    })
    .await
}
