//! The figures on stored sessions, each on a prepared database ([`crate::dataset`]) copied
//! into a fresh data dir: loading one 50,000-event session, start-up with 10,000 sessions and
//! 1,000,000 events, and the memory a loaded session costs with and without a subscriber.
//!
//! The database file sits in the OS page cache (it was just copied); "cold" means the server
//! process has not loaded the session yet.

use std::time::{Duration, Instant};

use agent_runtime_client::Client;
use anyhow::{anyhow, bail, Result};
use futures::StreamExt;

use crate::dataset::{session_id, Dataset};
use crate::fanout_rows::thousands;
use crate::report::{Better, Comparison, Row};
use crate::server::{world_readable_tempdir, RuntimeProcess, ServerSetup};
use crate::socket::{connect_and_subscribe, ws_url};
use crate::{mib, ms};

/// The longest one snapshot request may take.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(300);

/// Snapshot requests in flight while loading many sessions.
const LOADS_IN_FLIGHT: usize = 8;

/// Starts a server on a copy of `dataset`.
async fn start_on(
    setup: &ServerSetup,
    dataset: &Dataset,
) -> Result<(RuntimeProcess, tempfile::TempDir)> {
    let data = world_readable_tempdir()?;
    let store = dataset.copy_into(data.path())?;
    let server = RuntimeProcess::start(setup, data.path(), &store).await?;
    Ok((server, data))
}

/// Loading one big session: `GET /api/sessions/:id` cold (the first request, which loads and
/// folds the log) and warm (a second one).
pub async fn load_big_session(setup: &ServerSetup, dataset: &Dataset) -> Row {
    let figure = format!(
        "loading a {}-event session: GET /api/sessions/:id, cold",
        thousands(dataset.spec.total_events() as u64)
    );
    let measured = async {
        let (server, _data) = start_on(setup, dataset).await?;
        let client = Client::new(&server.base_url);
        let id = session_id(0);
        let cold = timed_snapshot(&client, &id).await?;
        let warm = timed_snapshot(&client, &id).await?;
        let rss = server.rss()?;
        server.stop().await;
        Ok::<_, anyhow::Error>((cold, warm, rss))
    }
    .await;
    match measured {
        Ok((cold, warm, rss)) => Row::measured(
            &figure,
            format!(
                "{:.0} ms cold; {:.1} ms for the next request; server RSS then {:.0} MiB",
                ms(cold),
                ms(warm),
                mib(rss)
            ),
        ),
        Err(error) => Row::unmeasured(&figure, format!("{error:#}")),
    }
}

async fn timed_snapshot(client: &Client, id: &str) -> Result<Duration> {
    let started = Instant::now();
    let snapshot = tokio::time::timeout(SNAPSHOT_TIMEOUT, client.get_session(id))
        .await
        .map_err(|_| anyhow!("no snapshot within {SNAPSHOT_TIMEOUT:?}"))??;
    let elapsed = started.elapsed();
    if snapshot.session.session_id != id {
        bail!("the snapshot is of another session");
    }
    Ok(elapsed)
}

/// Start-up: spawn to the first `/healthz` answer with the dataset, and the RSS then; against
/// the same binary on an empty store in the same run.
pub async fn startup(setup: &ServerSetup, dataset: &Dataset) -> Row {
    let figure = format!(
        "start-up with {} sessions and {} events: spawn to /healthz answering",
        thousands(dataset.spec.sessions as u64),
        thousands(dataset.spec.total_events() as u64)
    );
    let measured = async {
        let empty = RuntimeProcess::start_fresh(setup).await?;
        let (empty_time, empty_rss) = (empty.startup, empty.rss()?);
        empty.stop().await;
        let (server, _data) = start_on(setup, dataset).await?;
        let (time, rss) = (server.startup, server.rss()?);
        server.stop().await;
        Ok::<_, anyhow::Error>((time, rss, empty_time, empty_rss))
    }
    .await;
    match measured {
        Ok((time, rss, empty_time, empty_rss)) => Row::measured(
            &figure,
            format!("{:.0} ms; RSS {:.0} MiB", ms(time), mib(rss)),
        )
        .with_anchor(
            &format!("{:.0} ms; RSS {:.0} MiB", ms(empty_time), mib(empty_rss)),
            "the same binary on an empty store, same run",
        )
        .compare(Comparison::new(
            "time",
            ms(time),
            ms(empty_time),
            Better::Lower,
        )),
        Err(error) => Row::unmeasured(&figure, format!("{error:#}")),
    }
}

/// Memory per loaded session: RSS after start-up, after loading `count` sessions (a snapshot
/// each), and after one WebSocket subscriber per session; the deltas divided by `count`.
pub async fn memory(setup: &ServerSetup, dataset: &Dataset, count: usize) -> Row {
    let count = count.min(dataset.spec.sessions);
    let figure = format!(
        "memory per loaded session ({} sessions of {} events), without / with a WS subscriber",
        thousands(count as u64),
        dataset.spec.events_per_session()
    );
    let measured = async {
        let (server, _data) = start_on(setup, dataset).await?;
        let client = Client::new(&server.base_url);
        let before = server.rss()?;
        let loads = futures::stream::iter(0..count)
            .map(|i| {
                let client = &client;
                async move { client.get_session(&session_id(i)).await.map(drop) }
            })
            .buffer_unordered(LOADS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        loads.into_iter().collect::<Result<Vec<_>, _>>()?;
        let loaded = server.rss()?;
        let url = ws_url(&server.base_url);
        let mut sockets = Vec::with_capacity(count);
        for i in 0..count {
            sockets.push(
                connect_and_subscribe(
                    &url,
                    &session_id(i),
                    dataset.spec.events_per_session() as u64,
                )
                .await?,
            );
        }
        let subscribed = server.rss()?;
        drop(sockets);
        server.stop().await;
        Ok::<_, anyhow::Error>((before, loaded, subscribed))
    }
    .await;
    match measured {
        Ok((before, loaded, subscribed)) => {
            let per = |after: u64| after.saturating_sub(before) as f64 / count as f64 / 1024.0;
            Row::measured(
                &figure,
                format!(
                    "{:.1} KiB without; {:.1} KiB with a subscriber (RSS {:.0} → {:.0} → {:.0} MiB)",
                    per(loaded),
                    per(subscribed),
                    mib(before),
                    mib(loaded),
                    mib(subscribed)
                ),
            )
        }
        Err(error) => Row::unmeasured(&figure, format!("{error:#}")),
    }
}
