//! Concurrent turns: N fresh sessions, one message each, all POSTed at once. Every turn must
//! complete and every session's log arrive gapless at a WebSocket subscriber; the figure is the
//! runtime process's own CPU share (its CPU time / wall time / cores) from the first POST to the
//! last `turn_completed`. Sandboxes and agent CLIs are other processes and not counted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agent_runtime_client::{Client, WsAuth};
use agent_runtime_protocol::{CreateSessionRequest, ServerFrame, SessionEvent, TurnEndReason};
use anyhow::{bail, Result};

use crate::first_token::send_hello;
use crate::procfs::cores;
use crate::report::Row;
use crate::server::RuntimeProcess;

/// The longest all turns together may take.
const ALL_TURNS_TIMEOUT: Duration = Duration::from_secs(600);

/// What one session's subscriber saw.
#[derive(Debug, Default)]
struct Seen {
    last_seq: u64,
    gaps: u64,
    outcome: Option<TurnEndReason>,
}

/// Runs `count` turns at once and reports completeness and the CPU share.
pub async fn measure(server: &RuntimeProcess, count: usize) -> Row {
    let figure = format!("{count} concurrent turns (one message each to {count} fresh sessions)");
    match run(server, count).await {
        Ok(text) => Row::measured(&figure, text),
        Err(error) => Row::unmeasured(&figure, format!("{error:#}")),
    }
}

async fn run(server: &RuntimeProcess, count: usize) -> Result<String> {
    let client = Client::new(&server.base_url);
    let mut ws = client.connect_ws(WsAuth::None).await?;
    let mut seen: HashMap<String, Seen> = HashMap::new();
    for _ in 0..count {
        let id = client
            .create_session(&CreateSessionRequest::default())
            .await?
            .session_id;
        ws.subscribe(&id, 0).await?;
        seen.insert(id, Seen::default());
    }
    let cpu_before = server.cpu_time()?;
    let started = Instant::now();
    let posts = seen.keys().map(|id| send_hello(&client, id));
    for posted in futures::future::join_all(posts).await {
        posted?;
    }
    let deadline = started + ALL_TURNS_TIMEOUT;
    let mut ended = 0;
    while ended < count {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = match ws.next_frame_within(left).await {
            Ok(Some(frame)) => frame,
            Ok(None) => bail!("the WebSocket closed after {ended} of {count} turns"),
            Err(_) => bail!("only {ended} of {count} turns ended within {ALL_TURNS_TIMEOUT:?}"),
        };
        match frame {
            ServerFrame::Event { envelope } => {
                let Some(session) = seen.get_mut(&envelope.session_id) else {
                    continue;
                };
                if envelope.seq != session.last_seq + 1 {
                    session.gaps += 1;
                }
                session.last_seq = envelope.seq;
                if let SessionEvent::TurnCompleted { reason, .. } = envelope.event {
                    session.outcome = Some(reason);
                    ended += 1;
                }
            }
            ServerFrame::ResyncRequired { session_id, .. } => {
                bail!("resync required for {session_id}")
            }
            ServerFrame::Result { .. } => {}
        }
    }
    let wall = started.elapsed();
    let cpu = server.cpu_time()?.saturating_sub(cpu_before);
    ws.close().await;
    let completed = seen
        .values()
        .filter(|s| s.outcome == Some(TurnEndReason::Completed))
        .count();
    let gapped = seen.values().filter(|s| s.gaps > 0).count();
    let share = cpu.as_secs_f64() / wall.as_secs_f64() / cores() as f64;
    Ok(format!(
        "{completed} of {count} completed; {}; all ended in {:.1} s; the runtime's own CPU {:.1}% of {} cores ({:.2} s CPU)",
        if gapped == 0 {
            "every log gapless".to_string()
        } else {
            format!("{gapped} logs with gaps")
        },
        wall.as_secs_f64(),
        share * 100.0,
        cores(),
        cpu.as_secs_f64()
    ))
}
