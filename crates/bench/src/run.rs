//! One run of the harness: which figures at which sizes, in order, each row printed as it is
//! measured; then the markdown table and the fan-out plot.

use std::path::{Path, PathBuf};

use agent_runtime_testkit::ScriptedModelServer;
use anyhow::{Context, Result};

use crate::dataset::{self, DatasetSpec};
use crate::fanout::{FanoutCase, FanoutRun, Pace};
use crate::first_token::FirstTokenSizes;
use crate::report::{markdown_table, splice_between, Row, TABLE_END, TABLE_START};
use crate::server::{locate_runtime_binary, RuntimeProcess, ServerSetup};
use crate::svg::{line_plot, Series};
use crate::{cli, cluster, concurrent, fanout, fanout_rows, first_token, model, procfs, stored};

/// Sockets the biggest fan-out needs, with room for the server's own files (it inherits it).
const NOFILE_WANTED: u64 = 65_536;

/// One figure of the harness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    FirstToken,
    Fanout,
    Load,
    Startup,
    Memory,
    Concurrent,
    Cluster,
}

impl Figure {
    pub const ALL: [Figure; 7] = [
        Figure::FirstToken,
        Figure::Fanout,
        Figure::Load,
        Figure::Startup,
        Figure::Memory,
        Figure::Concurrent,
        Figure::Cluster,
    ];
}

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub figures: Vec<Figure>,
    pub quick: bool,
    /// Only the fan-out runs with these subscriber counts (all when empty).
    pub subscribers: Vec<usize>,
    pub markdown: Option<PathBuf>,
    pub svg: Option<PathBuf>,
    pub binary: Option<PathBuf>,
    pub tools_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub cargo: Option<PathBuf>,
}

/// The sizes of every figure.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub first_token: FirstTokenSizes,
    pub fanout: Vec<FanoutCase>,
    pub big_session: DatasetSpec,
    pub many_sessions: DatasetSpec,
    pub memory_sessions: usize,
    pub concurrent_turns: usize,
}

impl Sizes {
    /// The sizes issue 11 names.
    pub fn full() -> Sizes {
        Sizes {
            first_token: FirstTokenSizes {
                raw_cli: 5,
                cold: 5,
                warm: 10,
            },
            fanout: fanout_cases(&[100, 1000, 5000], 1000, 250),
            // 1 × 500 × (94 + 6) = 50,000 events.
            big_session: DatasetSpec {
                sessions: 1,
                turns_per_session: 500,
                deltas_per_turn: 94,
            },
            // 10,000 × 2 × (44 + 6) = 1,000,000 events.
            many_sessions: DatasetSpec {
                sessions: 10_000,
                turns_per_session: 2,
                deltas_per_turn: 44,
            },
            memory_sessions: 1000,
            concurrent_turns: 50,
        }
    }

    /// Small enough to iterate on the harness in a minute or two.
    pub fn quick() -> Sizes {
        Sizes {
            first_token: FirstTokenSizes {
                raw_cli: 2,
                cold: 2,
                warm: 3,
            },
            fanout: fanout_cases(&[100, 1000], 200, 100),
            big_session: DatasetSpec {
                sessions: 1,
                turns_per_session: 50,
                deltas_per_turn: 94,
            },
            many_sessions: DatasetSpec {
                sessions: 1000,
                turns_per_session: 2,
                deltas_per_turn: 44,
            },
            memory_sessions: 200,
            concurrent_turns: 10,
        }
    }
}

fn fanout_cases(subscribers: &[usize], max_deltas: u32, steady_deltas: u32) -> Vec<FanoutCase> {
    [(Pace::MaxRate, max_deltas), (Pace::Steady, steady_deltas)]
        .into_iter()
        .flat_map(|(pace, deltas)| {
            subscribers.iter().map(move |&subscribers| FanoutCase {
                subscribers,
                pace,
                deltas,
            })
        })
        .collect()
}

/// Runs the figures, printing each row as it is measured, then writes the table and the plot.
pub async fn run(options: Options) -> Result<()> {
    let mut sizes = if options.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    if !options.subscribers.is_empty() {
        sizes
            .fanout
            .retain(|case| options.subscribers.contains(&case.subscribers));
    }
    let nofile = procfs::raise_nofile_limit(NOFILE_WANTED);
    let binary = locate_runtime_binary(options.binary.clone(), options.cargo.clone()).await?;
    let model = ScriptedModelServer::start(model::instant()).await?;
    let setup = ServerSetup {
        binary: binary.clone(),
        tools_dir: options.tools_dir.clone(),
        model_url: model.base_url(),
        warm_pool: 0,
    };
    let claude = cli::claude_binary(&options.tools_dir).map_err(|e| format!("{e:#}"));
    let machine = describe_machine(options.quick);
    println!("agent-runtime benchmarks: {machine}");
    println!("binary: {}; open files limit {nofile}\n", binary.display());

    let mut rows: Vec<Row> = Vec::new();
    let mut fanout_results: Vec<(FanoutCase, FanoutRun)> = Vec::new();
    let print = |new: &[Row]| {
        for row in new {
            println!("{}", row.to_text());
        }
    };
    for figure in &options.figures {
        eprintln!("== {figure:?}");
        let new = match figure {
            Figure::FirstToken => {
                model.set_scenario(model::instant());
                let pooled_setup = ServerSetup {
                    warm_pool: 1,
                    ..setup.clone()
                };
                match (
                    RuntimeProcess::start_fresh(&setup).await,
                    RuntimeProcess::start_fresh(&pooled_setup).await,
                ) {
                    (Ok(server), Ok(pooled)) => {
                        let claude = claude.as_deref().map_err(Clone::clone);
                        let rows = first_token::measure(
                            &server.base_url,
                            &pooled.base_url,
                            claude,
                            &setup.model_url,
                            sizes.first_token,
                        )
                        .await;
                        server.stop().await;
                        pooled.stop().await;
                        rows
                    }
                    (Err(error), _) | (_, Err(error)) => {
                        vec![Row::unmeasured("first token", format!("{error:#}"))]
                    }
                }
            }
            Figure::Fanout => match RuntimeProcess::start_fresh(&setup).await {
                Ok(server) => {
                    let results = fanout::measure(&server, &model, &sizes.fanout).await;
                    server.stop().await;
                    fanout_results = sizes.fanout.iter().copied().zip(results).collect();
                    fanout_rows::rows(&fanout_results)
                }
                Err(error) => vec![Row::unmeasured("fan-out", format!("{error:#}"))],
            },
            Figure::Load => match dataset::prepare(&options.cache_dir, sizes.big_session).await {
                Ok(data) => vec![stored::load_big_session(&setup, &data).await],
                Err(error) => vec![Row::unmeasured(
                    "loading a big session",
                    format!("{error:#}"),
                )],
            },
            Figure::Startup => {
                match dataset::prepare(&options.cache_dir, sizes.many_sessions).await {
                    Ok(data) => vec![stored::startup(&setup, &data).await],
                    Err(error) => vec![Row::unmeasured("start-up", format!("{error:#}"))],
                }
            }
            Figure::Memory => match dataset::prepare(&options.cache_dir, sizes.many_sessions).await
            {
                Ok(data) => vec![stored::memory(&setup, &data, sizes.memory_sessions).await],
                Err(error) => vec![Row::unmeasured("memory per session", format!("{error:#}"))],
            },
            Figure::Concurrent => {
                model.set_scenario(model::instant());
                match RuntimeProcess::start_fresh(&setup).await {
                    Ok(server) => {
                        let row = concurrent::measure(&server, sizes.concurrent_turns).await;
                        server.stop().await;
                        vec![row]
                    }
                    Err(error) => {
                        vec![Row::unmeasured("concurrent turns", format!("{error:#}"))]
                    }
                }
            }
            Figure::Cluster => cluster::measure(&setup, &model).await,
        };
        print(&new);
        rows.extend(new);
        model.clear_requests();
    }

    if let Some(path) = &options.markdown {
        write_markdown(path, &machine, &rows)?;
        println!("table written to {}", path.display());
    }
    if let Some(path) = &options.svg {
        std::fs::write(path, fanout_plot(&fanout_results))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("plot written to {}", path.display());
    }
    Ok(())
}

/// `"2 cores (AMD EPYC …), full sizes, 2026-05-01"`.
fn describe_machine(quick: bool) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{} cores ({cpu}), {} sizes, {}",
        procfs::cores(),
        if quick { "--quick" } else { "full" },
        chrono::Utc::now().format("%Y-%m-%d")
    )
}

fn write_markdown(path: &Path, machine: &str, rows: &[Row]) -> Result<()> {
    let table = format!("Measured on {machine}.\n\n{}", markdown_table(rows));
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let doc = splice_between(&existing, TABLE_START, TABLE_END, &table)
        .unwrap_or_else(|| format!("{TABLE_START}\n{table}{TABLE_END}\n"));
    std::fs::write(path, doc).with_context(|| format!("writing {}", path.display()))
}

/// The fan-out latency plot: p50 and p99 against subscribers, max rate and steady 50/s.
pub fn fanout_plot(results: &[(FanoutCase, FanoutRun)]) -> String {
    let mut series = Vec::new();
    for (pace, color) in [(Pace::MaxRate, "#c0392b"), (Pace::Steady, "#2471a3")] {
        for (quantile, dashed) in [("p50", false), ("p99", true)] {
            let points = results
                .iter()
                .filter(|(case, _)| case.pace == pace)
                .filter_map(|(case, run)| {
                    let latency = run.runtime.as_ref().ok()?.latency_ms?;
                    let y = if dashed { latency.p99 } else { latency.p50 };
                    Some((case.subscribers as f64, y))
                })
                .collect();
            series.push(Series {
                label: format!("{} {quantile}", pace.label()),
                color: color.to_string(),
                dashed,
                points,
            });
        }
    }
    let mut ticks: Vec<f64> = results.iter().map(|(c, _)| c.subscribers as f64).collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    line_plot(
        "WebSocket fan-out latency (append to arrival)",
        "subscribers to one session",
        "latency, ms (log)",
        &ticks,
        &series,
    )
}
