//! First token: POST of a message to the first `text_delta` at a WebSocket client, for a fresh
//! session (cold: the sandbox and the CLI start; and from the warm pool: a server with
//! `--warm-pool 1` whose sandbox and CLI are up before the session exists) and for later turns
//! of one session (warm), against the raw CLI started by hand (the seed's cost for every
//! message).

use std::path::Path;
use std::time::{Duration, Instant};

use agent_runtime_client::{Client, WsAuth, WsConnection};
use agent_runtime_protocol::{CreateSessionRequest, SendMessageRequest, ServerFrame, SessionEvent};
use anyhow::{anyhow, bail, Result};

use crate::cli::{self, RawStart};
use crate::ms;
use crate::report::{Better, Comparison, Row};
use crate::stats::median;

/// How long a warm sandbox (and the booted raw CLI of the anchor) sits ready before the
/// message: a session arriving a moment after the pool refilled, not in the same instant.
const POOL_SETTLE: Duration = Duration::from_secs(1);

/// The longest a turn may take, first token to end.
pub const TURN_TIMEOUT: Duration = Duration::from_secs(120);

/// How many samples of each.
#[derive(Debug, Clone, Copy)]
pub struct FirstTokenSizes {
    pub raw_cli: usize,
    pub cold: usize,
    pub warm: usize,
}

/// The figures: raw CLI, cold and warm first token, with their ratios.
pub async fn measure(
    base_url: &str,
    pooled_url: &str,
    claude: Result<&Path, String>,
    model_url: &str,
    sizes: FirstTokenSizes,
) -> Vec<Row> {
    let [raw, booted, warmed] = match claude {
        Ok(claude) => [
            raw_cli_samples(claude, model_url, sizes.raw_cli, RawStart::Cold).await,
            raw_cli_samples(
                claude,
                model_url,
                sizes.raw_cli,
                RawStart::Booted(POOL_SETTLE),
            )
            .await,
            raw_cli_samples(
                claude,
                model_url,
                sizes.raw_cli,
                RawStart::WarmedUp(POOL_SETTLE),
            )
            .await,
        ],
        Err(why) => [(); 3].map(|()| Err(anyhow!(why.clone()))),
    };
    let raw_median = raw.as_ref().ok().and_then(|s| median(s));
    let floors = PoolFloors {
        booted: booted.as_ref().ok().and_then(|s| median(s)),
        warmed: warmed.as_ref().ok().and_then(|s| median(s)),
    };
    let mut rows = Vec::new();
    for (figure, samples) in [
        (
            "raw Claude CLI by hand: spawn to first text delta on stdout",
            &raw,
        ),
        (
            "raw Claude CLI by hand, booted (initialize answered, idle 1 s): its first message to \
             the first text delta",
            &booted,
        ),
        (
            "raw Claude CLI by hand, warmed up (booted, a warm-up turn rewound, idle 1 s): its \
             first message to the first text delta",
            &warmed,
        ),
    ] {
        rows.push(match samples {
            Ok(samples) => Row::measured(figure, describe_samples(samples)),
            Err(why) => Row::unmeasured(figure, format!("{why:#}")),
        });
    }
    let client = Client::new(base_url);
    let (cold, warm) = match server_samples(&client, sizes).await {
        Ok(found) => (Ok(found.0), Ok(found.1)),
        Err(error) => (Err(format!("{error:#}")), Err(format!("{error:#}"))),
    };
    let pooled = pooled_samples(&Client::new(pooled_url), sizes.cold.max(1))
        .await
        .map_err(|e| format!("{e:#}"));
    // The pooled row's further anchors are the booted and the warmed-up raw CLI.
    for (figure, samples, anchor, floors) in [
        (
            "cold first token: POST to first text_delta at a WS client, fresh session",
            cold,
            "the raw CLI started by hand, same run",
            None,
        ),
        (
            "new session from the warm pool (--warm-pool 1): POST to first text_delta",
            pooled,
            "the raw CLI started by hand, same run",
            Some(floors),
        ),
        (
            "warm first token: a later turn of the same session",
            warm,
            "the seed spawns a CLI per message: at least the raw CLI's cold start, same run",
            None,
        ),
    ] {
        let row = match samples {
            Ok(samples) => {
                let row = Row::measured(figure, describe_samples(&samples));
                let row = match (raw_median, median(&samples)) {
                    (Some(raw), Some(now)) => row
                        .with_anchor(&format!("{raw:.0} ms"), anchor)
                        .compare(Comparison::new("", now, raw, Better::Lower)),
                    _ => row.with_anchor("not measured", anchor),
                };
                match floors {
                    Some(floors) => floors.anchor(row, median(&samples)),
                    None => row,
                }
            }
            Err(why) => Row::unmeasured(figure, why),
        };
        rows.push(row);
    }
    rows
}

/// `"431 ms (median of 5; 410-460)"`.
fn describe_samples(samples: &[f64]) -> String {
    let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = samples.iter().copied().fold(0.0, f64::max);
    format!(
        "{:.0} ms (median of {}; {lo:.0}-{hi:.0})",
        median(samples).unwrap_or(f64::NAN),
        samples.len()
    )
}

/// The pooled row's further anchors (medians, ms): the raw CLI booted by hand, what a pool
/// that only starts the CLI would reach; and warmed up by hand, what a pooled process costs by
/// itself.
#[derive(Debug, Clone, Copy)]
struct PoolFloors {
    booted: Option<f64>,
    warmed: Option<f64>,
}

impl PoolFloors {
    const BOOTED: &'static str = "the raw CLI booted and idle by hand, its first message, same \
                                  run: a pool that only starts the CLI";
    const WARMED: &'static str = "the raw CLI booted and warmed up by hand, its first message, \
                                  same run: what a pooled process costs by itself";

    /// `row` with the floors added to its anchor, compared against the warmed-up CLI.
    fn anchor(self, mut row: Row, pooled: Option<f64>) -> Row {
        for (floor, source) in [(self.booted, Self::BOOTED), (self.warmed, Self::WARMED)] {
            let Some(floor) = floor else { continue };
            let text = match row.anchor.take() {
                Some(first) => format!("{} ({}); {floor:.0} ms", first.text, first.source),
                None => format!("{floor:.0} ms"),
            };
            row = row.with_anchor(&text, source);
        }
        match (pooled, self.warmed) {
            (Some(pooled), Some(warmed)) => row.compare(Comparison::new(
                "vs the warmed-up CLI",
                pooled,
                warmed,
                Better::Lower,
            )),
            _ => row,
        }
    }
}

/// `n` samples of the raw CLI brought to its first message as `start` says.
async fn raw_cli_samples(
    claude: &Path,
    model_url: &str,
    n: usize,
    start: RawStart,
) -> Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        samples.push(ms(cli::raw_cli_first_delta(claude, model_url, start).await?));
    }
    Ok(samples)
}

/// A fresh session's first token (ms) over a WebSocket subscribed to it, once its turn has
/// completed; the socket and the session stay for more turns.
async fn fresh_session_sample(client: &Client) -> Result<(f64, WsConnection, String)> {
    let session = client
        .create_session(&CreateSessionRequest::default())
        .await?
        .session_id;
    let mut ws = client.connect_ws(WsAuth::None).await?;
    ws.subscribe(&session, 0).await?;
    let sample = ms(time_first_delta(client, &mut ws, &session).await?);
    wait_turn_completed(&mut ws, &session).await?;
    Ok((sample, ws, session))
}

/// Cold samples (each a fresh session), then warm ones (later turns of the last session).
async fn server_samples(client: &Client, sizes: FirstTokenSizes) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut cold = Vec::new();
    let mut last = None;
    for _ in 0..sizes.cold.max(1) {
        let (sample, ws, session) = fresh_session_sample(client).await?;
        cold.push(sample);
        last = Some((ws, session));
    }
    let (mut ws, session) = last.ok_or_else(|| anyhow!("no session"))?;
    let mut warm = Vec::new();
    for _ in 0..sizes.warm {
        warm.push(ms(time_first_delta(client, &mut ws, &session).await?));
        wait_turn_completed(&mut ws, &session).await?;
    }
    ws.close().await;
    Ok((cold, warm))
}

/// Fresh sessions of a server with a warm pool, each sent its message once a warm sandbox is
/// ready (as a session created a moment after the previous one finds it).
async fn pooled_samples(client: &Client, n: usize) -> Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        wait_pool_ready(client).await?;
        tokio::time::sleep(POOL_SETTLE).await;
        let (sample, ws, _) = fresh_session_sample(client).await?;
        samples.push(sample);
        ws.close().await;
    }
    let hits = pool_figure(client, "agent_runtime_pool_hits_total").await?;
    if hits < n as f64 {
        bail!("only {hits} of {n} sessions took a warm sandbox");
    }
    Ok(samples)
}

/// Waits (at most [`TURN_TIMEOUT`]) until the server's pool has a warm sandbox ready.
async fn wait_pool_ready(client: &Client) -> Result<()> {
    let deadline = Instant::now() + TURN_TIMEOUT;
    while pool_figure(client, "agent_runtime_pool_ready").await? < 1.0 {
        if Instant::now() > deadline {
            bail!("the warm pool did not fill within {TURN_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// One unlabelled sample of the server's `/metrics`.
async fn pool_figure(client: &Client, name: &str) -> Result<f64> {
    let text = client
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .ok_or_else(|| anyhow!("no {name} in /metrics"))
}

/// Sends a message and times the POST to the session's first `text_delta` on `ws`.
pub async fn time_first_delta(
    client: &Client,
    ws: &mut WsConnection,
    session: &str,
) -> Result<Duration> {
    let started = Instant::now();
    send_hello(client, session).await?;
    next_event_where(ws, session, |event| {
        matches!(event, SessionEvent::TextDelta { .. })
    })
    .await?;
    Ok(started.elapsed())
}

/// Sends the message `hello` to a session.
pub async fn send_hello(client: &Client, session: &str) -> Result<()> {
    client
        .send_message(
            session,
            &SendMessageRequest {
                text: "hello".into(),
                if_busy: None,
                client_message_id: None,
            },
        )
        .await?;
    Ok(())
}

/// Waits (at most [`TURN_TIMEOUT`]) for the session's `turn_completed`.
pub async fn wait_turn_completed(ws: &mut WsConnection, session: &str) -> Result<()> {
    next_event_where(ws, session, |event| {
        matches!(event, SessionEvent::TurnCompleted { .. })
    })
    .await
}

async fn next_event_where(
    ws: &mut WsConnection,
    session: &str,
    wanted: impl Fn(&SessionEvent) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + TURN_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.next_frame_within(left).await? {
            Some(ServerFrame::Event { envelope })
                if envelope.session_id == session && wanted(&envelope.event) =>
            {
                return Ok(())
            }
            Some(ServerFrame::ResyncRequired { reason, .. }) => {
                bail!("resync required: {reason}")
            }
            Some(_) => {}
            None => bail!("the WebSocket closed"),
        }
    }
}
