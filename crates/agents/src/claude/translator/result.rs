//! `result` lines: how a turn ended, its usage and its cost.

use agent_runtime_protocol::{TurnEndReason, TurnError, Usage, MAIN_CONVERSATION};
use serde_json::Value;

use super::{round_cost, ClaudeTranslator, Out};
use crate::claude::content::str_field;
use crate::output::{AgentOutput, TurnOutcome};

impl ClaudeTranslator {
    pub(super) fn on_result(&mut self, value: &Value, out: &mut Out) {
        let outcome = self.outcome(value);
        self.abandon_open_blocks(Some(MAIN_CONVERSATION), out);
        if outcome.reason != TurnEndReason::Completed {
            self.fail_unfinished_tools(Some(MAIN_CONVERSATION), out);
        }
        out.push(AgentOutput::TurnFinished(outcome));
        self.stream = None;
        self.retry_block = None;
        self.interrupt_requested = false;
        self.compact_summary_expected = false;
    }

    fn outcome(&mut self, value: &Value) -> TurnOutcome {
        let subtype = str_field(value, "subtype");
        let terminal = str_field(value, "terminal_reason");
        let is_error = match value.get("is_error").and_then(Value::as_bool) {
            Some(is_error) => is_error,
            // Versions without `is_error`: only then does the subtype decide.
            None => subtype.is_some_and(|s| s != "success"),
        };
        let reason = if !is_error {
            TurnEndReason::Completed
        } else if terminal.is_some_and(|t| t.starts_with("aborted"))
            || (self.interrupt_requested && subtype == Some("error_during_execution"))
        {
            TurnEndReason::Interrupted
        } else {
            TurnEndReason::Error
        };
        let error = (reason == TurnEndReason::Error).then(|| turn_error(value, subtype, terminal));
        let origin = value.get("origin").and_then(|o| str_field(o, "kind"));
        TurnOutcome {
            reason,
            usage: turn_usage(value),
            cost_usd: self.turn_cost(value),
            error,
            agent_initiated: origin == Some("task-notification"),
        }
    }

    fn turn_cost(&mut self, value: &Value) -> f64 {
        let total = value.get("total_cost_usd").and_then(Value::as_f64);
        let baseline = self.last_total_cost.unwrap_or(self.ctx.prior_cost_usd);
        let delta = match total {
            Some(total) if total >= baseline - 1e-9 => (total - baseline).max(0.0),
            // The counter restarted (e.g. a transcript without its cost record was resumed).
            Some(total) => total,
            None => 0.0,
        };
        if total.is_some() {
            self.last_total_cost = total;
        }
        let cost = match value.get("model_usage_since_last_result") {
            Some(Value::Object(models)) => models
                .values()
                .filter_map(|m| m.get("costUSD").and_then(Value::as_f64))
                // Not `sum()`: an empty f64 sum is -0.0.
                .fold(0.0, |total, cost| total + cost),
            _ => delta,
        };
        round_cost(cost.max(0.0))
    }
}

fn turn_error(value: &Value, subtype: Option<&str>, terminal: Option<&str>) -> TurnError {
    let result_text = str_field(value, "result").filter(|r| !r.trim().is_empty());
    let errors: Vec<&str> = value
        .get("errors")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let message = match (result_text, errors.is_empty()) {
        (Some(text), _) => text.to_string(),
        (None, false) => errors.join("; "),
        (None, true) => format!(
            "Claude Code reported an error ({})",
            subtype.unwrap_or("unknown")
        ),
    };
    let code = str_field(value, "api_error")
        .or(terminal.filter(|t| *t != "completed"))
        .map(str::to_string)
        .or_else(|| {
            subtype.map(|s| match s {
                "error_during_execution" => "execution_error".to_string(),
                other => other.strip_prefix("error_").unwrap_or(other).to_string(),
            })
        });
    TurnError {
        message,
        code,
        http_status: value
            .get("api_error_status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok()),
        exit_code: None,
        stderr_tail: None,
    }
}

fn turn_usage(value: &Value) -> Usage {
    let count = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
    let mut usage = Usage::default();
    match (
        value.get("model_usage_since_last_result"),
        value.get("usage"),
    ) {
        (Some(Value::Object(models)), _) => {
            for model in models.values() {
                usage.add(&Usage {
                    input_tokens: count(model, "inputTokens"),
                    output_tokens: count(model, "outputTokens"),
                    cache_read_input_tokens: count(model, "cacheReadInputTokens"),
                    cache_creation_input_tokens: count(model, "cacheCreationInputTokens"),
                });
            }
        }
        (_, Some(u)) => {
            usage = Usage {
                input_tokens: count(u, "input_tokens"),
                output_tokens: count(u, "output_tokens"),
                cache_read_input_tokens: count(u, "cache_read_input_tokens"),
                cache_creation_input_tokens: count(u, "cache_creation_input_tokens"),
            }
        }
        _ => {}
    }
    usage
}
