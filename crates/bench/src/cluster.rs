//! Three nodes over one PostgreSQL database (`docs/scaling.md`): how late a text delta reaches
//! a WebSocket client on a node that does not own the session (followed through LISTEN/NOTIFY
//! and a read of the store) compared with a client on the owner, and how long after a `kill -9`
//! of the owner another node closes its turn.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use agent_runtime_client::{Client, WsAuth};
use agent_runtime_protocol::{
    CreateSessionRequest, Envelope, SendMessageRequest, ServerFrame, SessionEvent, TurnEndReason,
};
use agent_runtime_store::contract::postgres::TestDatabase;
use agent_runtime_testkit::ScriptedModelServer;
use anyhow::{anyhow, bail, Result};
use tokio_util::sync::CancellationToken;

use crate::model;
use crate::report::Row;
use crate::server::{world_readable_tempdir, RuntimeProcess, ServerSetup};
use crate::stats::percentile;

/// The nodes' shared secret (loopback only).
const SECRET: &str = "bench-cluster-secret-0123456789";
/// The lease TTL of the run: the default.
const LEASE_TTL_SECS: u64 = 10;
/// The longest a turn or a takeover may take.
const WAIT: Duration = Duration::from_secs(120);

/// Deltas of the latency turn, and their pace (100 a second).
const LATENCY_DELTAS: u32 = 300;
const LATENCY_DELAY_MS: u64 = 10;

/// What one subscriber received: each event with the moment it arrived.
type Received = Arc<Mutex<Vec<(Envelope, Instant, SystemTime)>>>;

/// Both cluster rows.
pub async fn measure(setup: &ServerSetup, model: &ScriptedModelServer) -> Vec<Row> {
    // The scratch database helper panics when PostgreSQL is unreachable: that is a row, not a
    // crash of the whole run.
    let db = match tokio::spawn(TestDatabase::create()).await {
        Ok(db) => db,
        Err(e) => {
            return vec![Row::unmeasured(
                "three nodes over PostgreSQL",
                format!("no PostgreSQL to run on: {e}"),
            )]
        }
    };
    match run(setup, model, db.url()).await {
        Ok(rows) => rows,
        Err(error) => vec![Row::unmeasured(
            "three nodes over PostgreSQL",
            format!("{error:#}"),
        )],
    }
}

async fn run(setup: &ServerSetup, model: &ScriptedModelServer, db_url: &str) -> Result<Vec<Row>> {
    let dirs = [
        world_readable_tempdir()?,
        world_readable_tempdir()?,
        world_readable_tempdir()?,
    ];
    let mut nodes = Vec::new();
    for (id, dir) in ["a", "b", "c"].into_iter().zip(&dirs) {
        let args = ["--node-id", id, "--cluster-secret", SECRET];
        nodes.push(RuntimeProcess::start_with_args(setup, dir.path(), db_url, &args).await?);
    }
    let owner = Client::new(&nodes[0].base_url);
    let session = owner
        .create_session(&CreateSessionRequest::default())
        .await?
        .session_id;
    let stop = CancellationToken::new();
    let mut received = Vec::new();
    for node in &nodes {
        received.push(subscribe(&node.base_url, &session, stop.clone()).await?);
    }

    // The turn runs on a (the message arrives there and nobody owns the session yet).
    model.set_scenario(model::streamed(LATENCY_DELTAS, LATENCY_DELAY_MS));
    let turn = send(&owner, &session, "stream please").await?;
    for seen in &received {
        wait_for(seen, |e| ends(e, &turn)).await?;
    }
    let latency = latency_row(&received, &turn)?;

    // A long turn on a; a is killed mid-turn; b closes the turn once a's lease expired.
    model.set_scenario(model::streamed(2000, 20));
    let before = received[1]
        .lock()
        .map(|seen| seen.len() as u64)
        .unwrap_or(0);
    let slow = send(&owner, &session, "a long one").await?;
    wait_for(&received[1], |e| {
        matches!(e.event, SessionEvent::TextDelta { .. }) && e.seq > before
    })
    .await?;
    let killed = Instant::now();
    nodes.remove(0).stop().await;
    let closed = wait_for(&received[1], |e| {
        matches!(&e.event, SessionEvent::TurnCompleted { turn_id, reason, .. }
            if *turn_id == slow && *reason == TurnEndReason::Interrupted)
    })
    .await?;
    let takeover = closed.saturating_duration_since(killed);
    stop.cancel();
    for node in nodes {
        node.stop().await;
    }
    let takeover_row = Row::measured(
        "takeover: kill -9 of the owner mid-turn to its turn closed as interrupted on another node",
        format!(
            "{:.1} s with the default lease TTL of {LEASE_TTL_SECS} s (heartbeat every TTL/3, \
             takeover scan every TTL/4)",
            takeover.as_secs_f64()
        ),
    )
    .with_anchor(
        "OpenHands: a restart 'loses' every conversation",
        "All-Hands-AI/software-agent-sdk#4192",
    );
    Ok(vec![latency, takeover_row])
}

/// Delivery latency of the turn's text deltas on the owner (node a) and on the other nodes.
fn latency_row(received: &[Received], turn: &str) -> Result<Row> {
    let deltas = |seen: &Received| -> Vec<(u64, Instant, f64)> {
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        let started = seen
            .iter()
            .position(|(e, _, _)| matches!(&e.event, SessionEvent::TurnStarted { turn_id, .. } if turn_id == turn))
            .unwrap_or(seen.len());
        seen[started..]
            .iter()
            .filter(|(e, _, _)| matches!(e.event, SessionEvent::TextDelta { .. }))
            .map(|(e, at, wall)| (e.seq, *at, since_append_ms(e, *wall)))
            .collect()
    };
    let owner = deltas(&received[0]);
    if owner.is_empty() {
        bail!("the owner's subscriber saw no deltas");
    }
    let mut local = Vec::new();
    let mut remote = Vec::new();
    let mut extra = Vec::new();
    for (_, _, ms) in &owner {
        local.push(*ms);
    }
    for follower in &received[1..] {
        let theirs = deltas(follower);
        if theirs.len() != owner.len() {
            bail!(
                "a follower saw {} deltas, the owner's client {}",
                theirs.len(),
                owner.len()
            );
        }
        for ((seq, at, ms), (owner_seq, owner_at, _)) in theirs.iter().zip(&owner) {
            if seq != owner_seq {
                bail!("a follower saw seq {seq} where the owner's client saw {owner_seq}");
            }
            remote.push(*ms);
            // Both arrival instants are this process's clock: exact, unlike `at` (1 ms).
            extra.push(at.saturating_duration_since(*owner_at).as_secs_f64() * 1000.0);
        }
    }
    let p = |samples: &[f64], q: f64| percentile(samples, q).unwrap_or(f64::NAN);
    Ok(Row::measured(
        "cross-node delivery: text deltas (100/s) of a turn on node a, WebSocket clients on a, b and c",
        format!(
            "from append to a client on the owner p50 {:.1} ms, p99 {:.1} ms; on the other nodes \
             p50 {:.1} ms, p99 {:.1} ms (later than the owner's client by p50 {:.2} ms, p99 \
             {:.2} ms); {} deltas, every client gapless (`at` has 1 ms resolution)",
            p(&local, 50.0),
            p(&local, 99.0),
            p(&remote, 50.0),
            p(&remote, 99.0),
            p(&extra, 50.0),
            p(&extra, 99.0),
            owner.len()
        ),
    )
    .with_anchor(
        "LangGraph's agent server needs Redis beside PostgreSQL for this; here PostgreSQL alone",
        "langchain-ai/langgraph docs",
    ))
}

/// Milliseconds from the event's `at` (stamped when the append began) to its arrival.
fn since_append_ms(envelope: &Envelope, arrived: SystemTime) -> f64 {
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(&envelope.at) else {
        return f64::NAN;
    };
    let arrived: chrono::DateTime<chrono::Utc> = arrived.into();
    (arrived - at.with_timezone(&chrono::Utc))
        .num_microseconds()
        .unwrap_or(0) as f64
        / 1000.0
}

fn ends(envelope: &Envelope, turn: &str) -> bool {
    matches!(&envelope.event, SessionEvent::TurnCompleted { turn_id, .. } if turn_id == turn)
}

async fn send(client: &Client, session: &str, text: &str) -> Result<String> {
    let request = SendMessageRequest {
        text: text.into(),
        if_busy: None,
        client_message_id: None,
    };
    Ok(client.send_message(session, &request).await?.turn_id)
}

/// A WebSocket client on `url` following the session from its start, gapless, until `stop`.
async fn subscribe(url: &str, session: &str, stop: CancellationToken) -> Result<Received> {
    let mut ws = Client::new(url).connect_ws(WsAuth::None).await?;
    ws.subscribe(session, 0).await?;
    let received: Received = Arc::default();
    let into = received.clone();
    tokio::spawn(async move {
        loop {
            let frame = tokio::select! {
                _ = stop.cancelled() => return,
                frame = ws.next_frame() => frame,
            };
            match frame {
                Some(ServerFrame::Event { envelope }) => {
                    let mut seen = into.lock().unwrap_or_else(|e| e.into_inner());
                    let expected = seen.last().map_or(1, |(e, _, _)| e.seq + 1);
                    if envelope.seq != expected {
                        // Recorded as is; `wait_for` reports it.
                        eprintln!("gap: expected seq {expected}, got {}", envelope.seq);
                    }
                    seen.push((envelope, Instant::now(), SystemTime::now()));
                }
                Some(_) => {}
                None => return,
            }
        }
    });
    Ok(received)
}

/// Waits until a received event satisfies `done`; returns when it arrived. Fails on a gap.
async fn wait_for(received: &Received, done: impl Fn(&Envelope) -> bool) -> Result<Instant> {
    let deadline = Instant::now() + WAIT;
    loop {
        {
            let seen = received.lock().unwrap_or_else(|e| e.into_inner());
            if seen.iter().zip(1..).any(|((e, _, _), seq)| e.seq != seq) {
                bail!("a subscriber saw a gap");
            }
            if let Some((_, at, _)) = seen.iter().find(|(e, _, _)| done(e)) {
                return Ok(*at);
            }
        }
        if Instant::now() > deadline {
            return Err(anyhow!("nothing within {WAIT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
