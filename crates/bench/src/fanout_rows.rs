//! The fan-out rows of the table: each run's figures in words, beside its anchors (the seed's
//! Socket.IO layer at 1,000 subscribers; at a steady rate, the bare sender of the same run).

use anyhow::Result;

use crate::fanout::{FanoutCase, FanoutResult, FanoutRun, Pace};
use crate::report::{Better, Comparison, Row};

/// The seed's Socket.IO layer at 1,000 subscribers, from issue 11.
const SEED_SOURCE: &str =
    "the seed's Socket.IO layer, measured by an earlier session of this project, issue 11";

/// What the bare sender of a steady row is.
const BARE_SOURCE: &str = "a bare sender writing the same frames to the same number of loopback \
     sockets, one write per delivery, no runtime; same run";

/// One table row per run.
pub fn rows(results: &[(FanoutCase, FanoutRun)]) -> Vec<Row> {
    results
        .iter()
        .map(|(case, run)| {
            let figure = format!(
                "fan-out: {} WS subscribers to one session, {} ({} text deltas)",
                thousands(case.subscribers as u64),
                case.pace.label(),
                thousands(u64::from(case.deltas))
            );
            match &run.runtime {
                Ok(result) => row_of(&figure, result, run.bare.as_ref()),
                Err(error) => Row::unmeasured(&figure, format!("{error:#}")),
            }
        })
        .collect()
}

/// The bare sender's run of `case`, as a row of its own (printed, not in the table).
pub fn bare_row(case: FanoutCase, result: &Result<FanoutResult>) -> Row {
    let figure = format!(
        "bare sender: {} loopback sockets, {} ({} text deltas)",
        thousands(case.subscribers as u64),
        case.pace.label(),
        thousands(u64::from(case.deltas))
    );
    match result {
        Ok(result) => Row::measured(&figure, describe(result, "sender")),
        Err(error) => Row::unmeasured(&figure, format!("{error:#}")),
    }
}

/// A run's figures in words; `sender` names whose CPU it is ("server", "sender").
fn describe(result: &FanoutResult, sender: &str) -> String {
    let latency = result.latency_ms;
    format!(
        "{} events/s per client; latency p50 {} / p99 {} / max {} ms; {} µs {sender} CPU per \
         delivery ({} µs in the clients); {} resyncs; {}; {} of {} clients saw the turn end",
        result
            .events_per_sec_per_client
            .map_or("?".into(), |r| format!("{r:.0}")),
        latency.map_or("?".into(), |l| format!("{:.1}", l.p50)),
        latency.map_or("?".into(), |l| format!("{:.1}", l.p99)),
        latency.map_or("?".into(), |l| format!("{:.1}", l.max)),
        result
            .cpu_us_per_delivery
            .map_or("?".into(), |c| format!("{c:.2}")),
        result
            .client_cpu_us_per_delivery
            .map_or("?".into(), |c| format!("{c:.2}")),
        result.resyncs,
        if result.gapped == 0 {
            "gapless".to_string()
        } else {
            format!("{} clients saw gaps", result.gapped)
        },
        result.completed,
        thousands(result.case.subscribers as u64),
    )
}

fn row_of(figure: &str, result: &FanoutResult, bare: Option<&Result<FanoutResult>>) -> Row {
    let row = Row::measured(figure, describe(result, "server"));
    match result.case.pace {
        Pace::MaxRate => with_max_rate_anchor(row, result),
        Pace::Steady => with_steady_anchors(row, result, bare),
    }
}

/// At 1,000 subscribers: the seed's figures.
fn with_max_rate_anchor(mut row: Row, result: &FanoutResult) -> Row {
    if result.case.subscribers != 1000 {
        return row;
    }
    row = row.with_anchor(
        "77 events/s per client, p99 1.4 s, 10-13 µs per delivery (ratio against 10 µs)",
        SEED_SOURCE,
    );
    if let Some(rate) = result.events_per_sec_per_client {
        row = row.compare(Comparison::new("events/s", rate, 77.0, Better::Higher));
    }
    if let Some(latency) = result.latency_ms {
        row = row.compare(Comparison::new("p99", latency.p99, 1400.0, Better::Lower));
    }
    if let Some(cpu) = result.cpu_us_per_delivery {
        row = row.compare(Comparison::new("CPU", cpu, 10.0, Better::Lower));
    }
    row
}

/// The bare sender of the same run (its CPU per delivery the floor of the runtime's) and, at
/// 1,000 subscribers, the seed's p99 too: one anchor cell naming both sources.
fn with_steady_anchors(
    mut row: Row,
    result: &FanoutResult,
    bare: Option<&Result<FanoutResult>>,
) -> Row {
    let seed = result.case.subscribers == 1000;
    let bare_text = bare.map(|bare| match bare {
        Ok(bare) => format!(
            "{} µs per delivery, p99 {} ms",
            bare.cpu_us_per_delivery
                .map_or("?".into(), |c| format!("{c:.2}")),
            bare.latency_ms
                .map_or("?".into(), |l| format!("{:.1}", l.p99)),
        ),
        Err(error) => format!("not measured: {error:#}"),
    });
    row = match (seed, bare_text) {
        (true, Some(bare)) => {
            row.with_anchor(&format!("p99 717 ms ({SEED_SOURCE}); {bare}"), BARE_SOURCE)
        }
        (true, None) => row.with_anchor("p99 717 ms", SEED_SOURCE),
        (false, Some(bare)) => row.with_anchor(&bare, BARE_SOURCE),
        (false, None) => row,
    };
    if let (true, Some(latency)) = (seed, result.latency_ms) {
        row = row.compare(Comparison::new(
            "p99 vs the seed",
            latency.p99,
            717.0,
            Better::Lower,
        ));
    }
    let bare_cpu = bare.and_then(|bare| bare.as_ref().ok()?.cpu_us_per_delivery);
    if let (Some(cpu), Some(bare_cpu)) = (result.cpu_us_per_delivery, bare_cpu) {
        row = row.compare(Comparison::new(
            "CPU vs the bare sender",
            cpu,
            bare_cpu,
            Better::Lower,
        ));
    }
    row
}

/// `5000` → `5,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Spread;
    use anyhow::anyhow;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_steady_row_is_set_against_the_bare_sender_and_the_seed() {
        let result = |cpu: f64, p99: f64| FanoutResult {
            case: FanoutCase {
                subscribers: 1000,
                pace: Pace::Steady,
                deltas: 250,
            },
            events_per_sec_per_client: Some(50.0),
            latency_ms: Some(Spread {
                p50: 1.0,
                p99,
                max: p99,
            }),
            cpu_us_per_delivery: Some(cpu),
            client_cpu_us_per_delivery: Some(1.0),
            deliveries: 252_000,
            resyncs: 0,
            gapped: 0,
            completed: 1000,
        };
        let run = FanoutRun {
            runtime: Ok(result(8.0, 71.7)),
            bare: Some(Ok(result(2.0, 3.0))),
        };
        let row = &rows(&[(run.runtime.as_ref().expect("ok").case, run)])[0];
        let anchor = row.anchor.as_ref().expect("an anchor");
        assert_eq!(
            anchor.text,
            format!("p99 717 ms ({SEED_SOURCE}); 2.00 µs per delivery, p99 3.0 ms")
        );
        assert_eq!(anchor.source, BARE_SOURCE);
        assert_eq!(
            row.ratio(),
            "p99 vs the seed 10.0× better; CPU vs the bare sender 4.0× worse"
        );

        let mut small = result(8.0, 71.7);
        small.case.subscribers = 100;
        let failed = FanoutRun {
            runtime: Ok(small),
            bare: Some(Err(anyhow!("no sockets"))),
        };
        let row = &rows(&[(failed.runtime.as_ref().expect("ok").case, failed)])[0];
        let anchor = row.anchor.as_ref().expect("an anchor");
        assert_eq!(anchor.text, "not measured: no sockets");
        assert_eq!(row.ratio(), "—");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(5), "5");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
