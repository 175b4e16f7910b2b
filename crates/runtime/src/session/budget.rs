//! Budgets: the session's cost and turns, checked when a turn ends and before one starts, and
//! the wall clock of each turn.
//!
//! Reaching a limit records `budget_exceeded` (the session then `requires_action`) and holds
//! every message until the budget is raised (`settings_changed`) or the overrun approved once
//! (`budget_approved`). A turn past its wall-clock budget is interrupted.

use agent_runtime_protocol::{
    Budget, BudgetApproval, BudgetExceeded, BudgetKind, SessionEvent, SessionSettings,
};

use super::actor::Actor;
use crate::error::{Result, RuntimeError};
use crate::time::now_rfc3339;

impl Actor {
    /// The profile's budget with the session's own limits over it.
    pub(super) async fn budget(&self) -> Budget {
        let profile = self.profile().await.map(|p| p.budget).unwrap_or_default();
        match self.log.read(|s| s.settings.budget.clone()).await {
            Some(own) => profile.overridden_by(&own),
            None => profile,
        }
    }

    /// Whether a new turn may start. An approval lets exactly one through; otherwise a reached
    /// limit (recorded now if it was not yet) holds it.
    pub(super) async fn budget_allows_turn(&mut self) -> bool {
        if std::mem::take(&mut self.budget_approved) {
            return true;
        }
        self.check_budget().await;
        self.log.read(|s| s.budget_exceeded.is_none()).await
    }

    /// Records `budget_exceeded` when the session's cost or turns reached their limit and no
    /// reached limit is recorded yet.
    pub(super) async fn check_budget(&mut self) {
        let budget = self.budget().await;
        let (turns, cost, exceeded) = self
            .log
            .read(|s| (s.turns, s.cost_usd, s.budget_exceeded.is_some()))
            .await;
        if exceeded {
            return;
        }
        let reached = match (budget.max_cost_usd, budget.max_turns) {
            (Some(limit), _) if cost >= limit => Some(BudgetExceeded {
                kind: BudgetKind::Cost,
                limit,
                spent: cost,
            }),
            (_, Some(limit)) if turns >= limit => Some(BudgetExceeded {
                kind: BudgetKind::Turns,
                limit: limit as f64,
                spent: turns as f64,
            }),
            _ => None,
        };
        if let Some(reached) = reached {
            tracing::info!(session_id = %self.session_id(), kind = ?reached.kind, "budget reached");
            self.emit(vec![SessionEvent::BudgetExceeded(reached)]).await;
        }
    }

    /// Records that a turn was stopped for running past its wall-clock budget.
    pub(super) async fn record_turn_time_exceeded(&mut self, limit_secs: u64, spent_secs: f64) {
        self.emit(vec![SessionEvent::BudgetExceeded(BudgetExceeded {
            kind: BudgetKind::TurnTime,
            limit: limit_secs as f64,
            spent: spent_secs,
        })])
        .await;
    }

    /// The user lets the session go past the limit it reached, for one more turn.
    pub(super) async fn approve_budget(&mut self) -> Result<BudgetApproval> {
        let exceeded = self.log.read(|s| s.budget_exceeded.clone()).await;
        let Some(exceeded) = exceeded else {
            return Err(RuntimeError::BudgetNotExceeded);
        };
        let approval = BudgetApproval {
            kind: exceeded.kind,
            at: now_rfc3339(),
        };
        self.emit(vec![SessionEvent::BudgetApproved(approval.clone())])
            .await;
        self.budget_approved = true;
        Ok(approval)
    }

    /// Replaces the session's own budget (validated by the caller); a limit still reached is
    /// recorded again at once.
    pub(super) async fn set_budget(&mut self, budget: Budget) {
        let settings = self.log.read(|s| s.settings.clone()).await;
        let settings = SessionSettings {
            budget: Some(budget),
            ..settings
        };
        self.emit(vec![SessionEvent::SettingsChanged(settings)])
            .await;
        self.check_budget().await;
    }
}

/// Limits must be positive numbers; the error names the field.
pub(crate) fn validate_budget(budget: &Budget) -> Result<(), String> {
    if let Some(cost) = budget.max_cost_usd {
        if !cost.is_finite() || cost < 0.0 {
            return Err("budget.maxCostUsd must be a number >= 0".into());
        }
    }
    if budget.max_turn_secs == Some(0) {
        return Err("budget.maxTurnSecs must be at least 1".into());
    }
    Ok(())
}
