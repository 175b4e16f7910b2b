//! The runtime's Prometheus metrics: counters, gauges and histograms kept in atomics, and their
//! text exposition (format 0.0.4), which the server serves at `/metrics`.
//!
//! One set per process ([`global`]), as Prometheus's default registry: the runtime's parts
//! record into it where things happen (the event log, the actor, its turns), and the scrape
//! renders it. Several runtimes in one process (tests) share it, so readers compare deltas.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use agent_runtime_protocol::TurnEndReason;

/// Upper bounds of the latency histograms, in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A latency histogram: a count per bucket (not cumulative), the sum in microseconds, and the
/// count.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// How many observations were recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Everything the runtime counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Turns running now.
    pub turns_running: AtomicU64,
    /// Turns ended, by how: completed, interrupted, error.
    pub turns_completed: AtomicU64,
    pub turns_interrupted: AtomicU64,
    pub turns_failed: AtomicU64,
    /// Sandboxes started, and how long each start took (until its files were in place).
    pub sandbox_starts: AtomicU64,
    pub sandbox_start_seconds: Histogram,
    /// From a turn's start to its first streamed text.
    pub first_token_seconds: Histogram,
    /// Events written to the store, and how long each batch's write took.
    pub events_appended: AtomicU64,
    pub append_seconds: Histogram,
    /// Events handed to subscribers (every subscriber counts), and subscriptions ended with a
    /// resync.
    pub deliveries: AtomicU64,
    pub resyncs: AtomicU64,
    /// Connections the egress proxies refused (as reported: repeats within the window once).
    pub egress_denied: AtomicU64,
    /// On a node of several: open sessions taken over from a node that died, sessions given up
    /// because the store fenced this node off, and commands forwarded to another node.
    pub cluster_takeovers: AtomicU64,
    pub cluster_step_downs: AtomicU64,
    pub cluster_forwarded: AtomicU64,
    /// The sandbox reconciler: sandboxes found held (by this process or a live node), orphans
    /// terminated, and listings or terminations that failed.
    pub sandboxes_adopted: AtomicU64,
    pub sandbox_orphans_terminated: AtomicU64,
    pub sandbox_reconcile_failures: AtomicU64,
}

/// The warm pool's figures, which its runtime keeps (`crate::pool`).
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolFigures {
    /// Warm sandboxes ready now.
    pub ready: u64,
    /// New sessions' first sandboxes taken from the pool.
    pub hits: u64,
    /// New sessions' first sandboxes started cold although the pool could have served them.
    pub misses: u64,
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

impl Metrics {
    /// A turn ended with `reason`.
    pub fn turn_ended(&self, reason: TurnEndReason) {
        let _ = self
            .turns_running
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
        let counter = match reason {
            TurnEndReason::Completed => &self.turns_completed,
            TurnEndReason::Interrupted => &self.turns_interrupted,
            TurnEndReason::Error => &self.turns_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition, with the gauges the session manager knows added: sessions loaded
    /// and warm sandboxes ready.
    pub fn render(&self, sessions_loaded: usize, pool: PoolFigures) -> String {
        let mut out = String::new();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let singles = [
            (
                "agent_runtime_sessions_loaded",
                "gauge",
                "Sessions held in memory.",
                sessions_loaded as u64,
            ),
            (
                "agent_runtime_turns_running",
                "gauge",
                "Turns running now.",
                load(&self.turns_running),
            ),
            (
                "agent_runtime_sandbox_starts_total",
                "counter",
                "Sandboxes started.",
                load(&self.sandbox_starts),
            ),
            (
                "agent_runtime_events_appended_total",
                "counter",
                "Events written to the store.",
                load(&self.events_appended),
            ),
            (
                "agent_runtime_fanout_deliveries_total",
                "counter",
                "Events handed to subscribers, one per subscriber.",
                load(&self.deliveries),
            ),
            (
                "agent_runtime_fanout_resyncs_total",
                "counter",
                "Subscriptions ended with resync_required.",
                load(&self.resyncs),
            ),
            (
                "agent_runtime_pool_ready",
                "gauge",
                "Warm sandboxes ready to be claimed.",
                pool.ready,
            ),
            (
                "agent_runtime_pool_hits_total",
                "counter",
                "New sessions' sandboxes taken from the warm pool.",
                pool.hits,
            ),
            (
                "agent_runtime_pool_misses_total",
                "counter",
                "New sessions' sandboxes started cold although the pool could have served them.",
                pool.misses,
            ),
            (
                "agent_runtime_egress_denied_total",
                "counter",
                "Connections the sandboxes' egress proxies refused.",
                load(&self.egress_denied),
            ),
            (
                "agent_runtime_cluster_takeovers_total",
                "counter",
                "Open sessions this node took over from a node that died.",
                load(&self.cluster_takeovers),
            ),
            (
                "agent_runtime_cluster_step_downs_total",
                "counter",
                "Sessions this node gave up because the store fenced it off.",
                load(&self.cluster_step_downs),
            ),
            (
                "agent_runtime_cluster_forwarded_total",
                "counter",
                "Commands forwarded to the node that owns their session.",
                load(&self.cluster_forwarded),
            ),
            (
                "agent_runtime_sandboxes_adopted_total",
                "counter",
                "Sandboxes the reconciler found held by this process or a live node.",
                load(&self.sandboxes_adopted),
            ),
            (
                "agent_runtime_sandbox_orphans_terminated_total",
                "counter",
                "Orphaned sandboxes (of a run that died, or leaked) the reconciler terminated.",
                load(&self.sandbox_orphans_terminated),
            ),
            (
                "agent_runtime_sandbox_reconcile_failures_total",
                "counter",
                "Sandbox listings or terminations of the reconciler that failed.",
                load(&self.sandbox_reconcile_failures),
            ),
        ];
        for (name, kind, help, value) in singles {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP agent_runtime_turns_total Turns ended, by outcome.\n# TYPE agent_runtime_turns_total counter"
        );
        for (outcome, counter) in [
            ("completed", &self.turns_completed),
            ("interrupted", &self.turns_interrupted),
            ("error", &self.turns_failed),
        ] {
            let _ = writeln!(
                out,
                "agent_runtime_turns_total{{outcome=\"{outcome}\"}} {}",
                load(counter)
            );
        }
        self.sandbox_start_seconds.render(
            &mut out,
            "agent_runtime_sandbox_start_seconds",
            "How long starting a sandbox took.",
        );
        self.first_token_seconds.render(
            &mut out,
            "agent_runtime_first_token_seconds",
            "From a turn's start to its first streamed text.",
        );
        self.append_seconds.render(
            &mut out,
            "agent_runtime_store_append_seconds",
            "How long writing one batch of events to the store took.",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_in_the_exposition() {
        let metrics = Metrics::default();
        metrics.append_seconds.observe(Duration::from_micros(800));
        metrics.append_seconds.observe(Duration::from_millis(20));
        metrics.append_seconds.observe(Duration::from_secs(60));
        metrics.turns_running.fetch_add(2, Ordering::Relaxed);
        metrics.turn_ended(TurnEndReason::Completed);
        metrics.turn_ended(TurnEndReason::Error);
        metrics.turn_ended(TurnEndReason::Error);
        let text = metrics.render(3, PoolFigures::default());
        for line in [
            "agent_runtime_sessions_loaded 3",
            "agent_runtime_turns_running 0",
            "agent_runtime_turns_total{outcome=\"completed\"} 1",
            "agent_runtime_turns_total{outcome=\"error\"} 2",
            "agent_runtime_store_append_seconds_bucket{le=\"0.001\"} 1",
            "agent_runtime_store_append_seconds_bucket{le=\"0.025\"} 2",
            "agent_runtime_store_append_seconds_bucket{le=\"30\"} 2",
            "agent_runtime_store_append_seconds_bucket{le=\"+Inf\"} 3",
            "agent_runtime_store_append_seconds_count 3",
            "agent_runtime_store_append_seconds_sum 60.0208",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        // Every sample line is `name{labels} value` with a number.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
