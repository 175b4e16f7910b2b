//! Fan-out: N WebSocket subscribers (on this box, in this process) to ONE session while the
//! scripted model streams a long reply, as fast as it goes or at a steady 50 events/s.
//!
//! Each client connects and subscribes with tokio-tungstenite; then its socket is read by
//! [`crate::reader`] (a few threads polling every socket, cutting frames by hand) and each frame
//! is scanned for what the figures need ([`crate::frame`]). It subscribes after the session's warm-up turn (`since` = its last seq),
//! so it sees exactly the measured turn, checks that seqs arrive gapless, and records for every
//! `text_delta` the latency from the event's append time (the envelope's `at`, stamped by the
//! server when it appends the event; millisecond resolution, so latencies read up to 1 ms high)
//! to its arrival. Server CPU is the server process's utime + stime over the turn (from the POST
//! until the last client saw `turn_completed`), divided by the events delivered to all clients:
//! it includes the turn's own work (parsing the CLI, storing events), amortized over the
//! subscribers.
//!
//! Each steady case is followed by [`crate::direct`], a bare sender writing the same frames to
//! as many loopback sockets at the same pace, read by the same reader: the floor the runtime's
//! CPU per delivery is set against.

use std::time::{Duration, Instant};

use agent_runtime_client::{Client, WsAuth};
use agent_runtime_protocol::{CreateSessionRequest, ServerFrame, SessionEvent};
use agent_runtime_testkit::ScriptedModelServer;
use anyhow::{anyhow, bail, Context, Result};
use futures::StreamExt;

use crate::direct;
use crate::fanout_rows::bare_row;
use crate::first_token::{send_hello, TURN_TIMEOUT};
use crate::frame::{EventKind, Frame};
use crate::model;
use crate::procfs;
use crate::reader::{self, Subscribed};
use crate::server::RuntimeProcess;
use crate::socket::{connect_and_subscribe, ws_url};
use crate::stats::{median, Spread};

/// Clients connecting at the same time (the rest wait), so the listen backlog never overflows.
pub(crate) const CONNECTS_IN_FLIGHT: usize = 64;

/// The longest connecting and subscribing every client may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

/// The longest the measured turn may take to reach every client.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Pause between streamed events at the steady rate: 50 events/s.
pub const STEADY_DELAY_MS: u64 = 20;

/// How the model streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As fast as the model server writes.
    MaxRate,
    /// One event every [`STEADY_DELAY_MS`].
    Steady,
}

impl Pace {
    pub fn label(self) -> &'static str {
        match self {
            Pace::MaxRate => "max rate",
            Pace::Steady => "steady 50 events/s",
        }
    }

    /// Pause between streamed events, ms.
    pub fn delay_ms(self) -> u64 {
        match self {
            Pace::MaxRate => 0,
            Pace::Steady => STEADY_DELAY_MS,
        }
    }
}

/// One fan-out run: how many subscribers, how the model streams, how many deltas.
#[derive(Debug, Clone, Copy)]
pub struct FanoutCase {
    pub subscribers: usize,
    pub pace: Pace,
    pub deltas: u32,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct FanoutResult {
    pub case: FanoutCase,
    /// Median over clients of text deltas / (last − first arrival).
    pub events_per_sec_per_client: Option<f64>,
    /// Latency of every text delta at every client, in ms.
    pub latency_ms: Option<Spread>,
    /// Server CPU µs per event delivered.
    pub cpu_us_per_delivery: Option<f64>,
    /// The clients' CPU (this process) µs per event delivered.
    pub client_cpu_us_per_delivery: Option<f64>,
    pub deliveries: u64,
    pub resyncs: u64,
    /// Clients whose seqs had a gap (a resync is not a gap).
    pub gapped: usize,
    /// Clients that saw `turn_completed`.
    pub completed: usize,
}

/// One case's figures: the runtime's and, for a steady case, the bare sender's beside them.
#[derive(Debug)]
pub struct FanoutRun {
    pub runtime: Result<FanoutResult>,
    /// [`crate::direct`] with the same subscribers, pace and deltas, right after the runtime
    /// case (steady cases only).
    pub bare: Option<Result<FanoutResult>>,
}

/// Runs every case on one server, a fresh session each, and returns the results; after each
/// steady case, the bare sender with the same sizes (its figures printed as it ends).
pub async fn measure(
    server: &RuntimeProcess,
    model: &ScriptedModelServer,
    cases: &[FanoutCase],
) -> Vec<FanoutRun> {
    let mut runs = Vec::new();
    for case in cases {
        eprintln!(
            "  fan-out: {} subscribers, {}, {} deltas",
            case.subscribers,
            case.pace.label(),
            case.deltas
        );
        let runtime = run_case(server, model, *case).await;
        if let Err(error) = &runtime {
            eprintln!("    failed: {error:#}");
        }
        model.clear_requests();
        let bare = match case.pace {
            Pace::MaxRate => None,
            Pace::Steady => Some(measure_bare(*case).await),
        };
        runs.push(FanoutRun { runtime, bare });
    }
    runs
}

/// The bare sender's run of `case`, printed like a row of the table.
async fn measure_bare(case: FanoutCase) -> Result<FanoutResult> {
    eprintln!("  bare sender: the same sizes, no runtime");
    let result = tokio::task::spawn_blocking(move || direct::measure(case))
        .await
        .context("the bare sender panicked")
        .and_then(|result| result);
    println!("{}", bare_row(case, &result).to_text());
    result
}

async fn run_case(
    server: &RuntimeProcess,
    model: &ScriptedModelServer,
    case: FanoutCase,
) -> Result<FanoutResult> {
    let client = Client::new(&server.base_url);
    model.set_scenario(model::instant());
    let session = client
        .create_session(&CreateSessionRequest::default())
        .await?
        .session_id;
    let since = warm_up(&client, &session).await?;

    let url = ws_url(&server.base_url);
    let sockets = tokio::time::timeout(
        CONNECT_TIMEOUT,
        futures::stream::iter(0..case.subscribers)
            .map(|_| connect_and_subscribe(&url, &session, since))
            .buffer_unordered(CONNECTS_IN_FLIGHT)
            .collect::<Vec<_>>(),
    )
    .await
    .map_err(|_| {
        anyhow!(
            "connecting {} clients took over {CONNECT_TIMEOUT:?}",
            case.subscribers
        )
    })?
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    let clients = sockets
        .into_iter()
        .map(|socket| {
            Ok(Subscribed {
                stream: reader::raw_stream(socket)?,
                since,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    model.set_scenario(model::streamed(case.deltas, case.pace.delay_ms()));
    let cpu_before = server.cpu_time()?;
    let own_before = procfs::cpu_time(std::process::id())?;
    let deadline = Instant::now() + RUN_TIMEOUT;
    let reading =
        tokio::task::spawn_blocking(move || reader::read_all(clients, procfs::cores(), deadline));
    send_hello(&client, &session).await?;
    let clients = reading.await.context("the reader failed")??;
    let cpu = server.cpu_time()?.saturating_sub(cpu_before);
    let own = procfs::cpu_time(std::process::id())?.saturating_sub(own_before);
    Ok(summarize(case, &clients, cpu, own))
}

/// Runs one short turn so the sandbox and the agent are up; returns the session's last seq.
async fn warm_up(client: &Client, session: &str) -> Result<u64> {
    let mut ws = client.connect_ws(WsAuth::None).await?;
    ws.subscribe(session, 0).await?;
    send_hello(client, session).await?;
    let deadline = Instant::now() + TURN_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ws.next_frame_within(left).await? {
            Some(ServerFrame::Event { envelope }) => {
                if matches!(envelope.event, SessionEvent::TurnCompleted { .. }) {
                    ws.close().await;
                    return Ok(envelope.seq);
                }
            }
            Some(ServerFrame::ResyncRequired { reason, .. }) => bail!("resync: {reason}"),
            Some(_) => {}
            None => bail!("the WebSocket closed during the warm-up turn"),
        }
    }
}

/// What one client saw of the measured turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientStats {
    pub events: u64,
    pub deltas: u64,
    /// Latency of each text delta, µs.
    pub latencies_us: Vec<u32>,
    pub first_delta: Option<Instant>,
    pub last_delta: Option<Instant>,
    pub gaps: u64,
    pub resynced: bool,
    pub completed: bool,
}

impl ClientStats {
    /// Accounts for one frame that arrived at `now` (`now_us`: wall clock, µs since the epoch).
    /// Returns whether the client is done (turn completed or resync).
    pub fn record(
        &mut self,
        frame: Frame,
        expected_seq: &mut u64,
        now: Instant,
        now_us: i64,
    ) -> bool {
        match frame {
            Frame::Event { seq, at_ms, kind } => {
                self.events += 1;
                if seq != *expected_seq {
                    self.gaps += 1;
                }
                *expected_seq = seq + 1;
                match kind {
                    EventKind::TextDelta => {
                        self.deltas += 1;
                        self.first_delta.get_or_insert(now);
                        self.last_delta = Some(now);
                        if let Some(at_ms) = at_ms {
                            let latency = (now_us - at_ms * 1000).max(0);
                            self.latencies_us
                                .push(u32::try_from(latency).unwrap_or(u32::MAX));
                        }
                        false
                    }
                    EventKind::TurnCompleted => {
                        self.completed = true;
                        true
                    }
                    EventKind::Other => false,
                }
            }
            Frame::Resync => {
                self.resynced = true;
                true
            }
            Frame::Result { .. } | Frame::Other => false,
        }
    }

    /// Text deltas per second between the first and the last one.
    pub fn delta_rate(&self) -> Option<f64> {
        let span = self
            .last_delta?
            .duration_since(self.first_delta?)
            .as_secs_f64();
        (span > 0.0 && self.deltas > 1).then(|| (self.deltas - 1) as f64 / span)
    }
}

/// The run's figures from every client's stats.
pub fn summarize(
    case: FanoutCase,
    clients: &[ClientStats],
    cpu: Duration,
    client_cpu: Duration,
) -> FanoutResult {
    let rates: Vec<f64> = clients.iter().filter_map(ClientStats::delta_rate).collect();
    let latencies: Vec<f64> = clients
        .iter()
        .flat_map(|c| c.latencies_us.iter().map(|us| f64::from(*us) / 1000.0))
        .collect();
    let deliveries: u64 = clients.iter().map(|c| c.events).sum();
    FanoutResult {
        case,
        events_per_sec_per_client: median(&rates),
        latency_ms: Spread::of(&latencies),
        cpu_us_per_delivery: (deliveries > 0).then(|| cpu.as_secs_f64() * 1e6 / deliveries as f64),
        client_cpu_us_per_delivery: (deliveries > 0)
            .then(|| client_cpu.as_secs_f64() * 1e6 / deliveries as f64),
        deliveries,
        resyncs: clients.iter().filter(|c| c.resynced).count() as u64,
        gapped: clients.iter().filter(|c| c.gaps > 0).count(),
        completed: clients.iter().filter(|c| c.completed).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn delta(seq: u64, at_ms: i64) -> Frame {
        Frame::Event {
            seq,
            at_ms: Some(at_ms),
            kind: EventKind::TextDelta,
        }
    }

    #[test]
    fn a_client_counts_gaps_latencies_and_the_end() {
        let mut stats = ClientStats::default();
        let mut expected = 11;
        let t0 = Instant::now();
        assert!(!stats.record(delta(11, 1_000), &mut expected, t0, 1_002_500));
        assert!(!stats.record(
            delta(13, 1_001),
            &mut expected,
            t0 + Duration::from_secs(1),
            1_004_000
        ));
        assert!(stats.record(
            Frame::Event {
                seq: 14,
                at_ms: None,
                kind: EventKind::TurnCompleted
            },
            &mut expected,
            t0,
            0
        ));
        assert_eq!(stats.latencies_us, vec![2_500, 3_000]);
        assert_eq!((stats.events, stats.deltas, stats.gaps), (3, 2, 1));
        assert!(stats.completed && !stats.resynced);
        assert_eq!(stats.delta_rate(), Some(1.0));
        assert_eq!(expected, 15);
    }

    #[test]
    fn summary_over_clients() {
        let t0 = Instant::now();
        let client = |latencies: Vec<u32>, resynced: bool| ClientStats {
            events: 10,
            deltas: 3,
            latencies_us: latencies,
            first_delta: Some(t0),
            last_delta: Some(t0 + Duration::from_millis(20)),
            gaps: 0,
            resynced,
            completed: !resynced,
        };
        let case = FanoutCase {
            subscribers: 2,
            pace: Pace::MaxRate,
            deltas: 3,
        };
        let result = summarize(
            case,
            &[client(vec![1_000, 2_000], false), client(vec![4_000], true)],
            Duration::from_micros(100),
            Duration::from_micros(40),
        );
        assert_eq!(result.events_per_sec_per_client, Some(100.0));
        assert_eq!(
            result.latency_ms,
            Some(Spread {
                p50: 2.0,
                p99: 4.0,
                max: 4.0
            })
        );
        assert_eq!(result.cpu_us_per_delivery, Some(5.0));
        assert_eq!(result.client_cpu_us_per_delivery, Some(2.0));
        assert_eq!(
            (
                result.deliveries,
                result.resyncs,
                result.gapped,
                result.completed
            ),
            (20, 1, 0, 1)
        );
    }
}
