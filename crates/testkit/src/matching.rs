//! Rule selection: which rule of a scenario answers a request (semantics documented in
//! [`crate::scenario`]).

use crate::api::same_tool;
use crate::model_request::ModelRequest;
use crate::scenario::{Matcher, Rule, RuleScope, Scenario, ToolResultMatcher};

/// A scenario plus how often each rule has answered.
#[derive(Debug, Clone, Default)]
pub struct ScenarioState {
    scenario: Scenario,
    hits: Vec<u32>,
}

/// The rule chosen for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Index of the rule in [`Scenario::rules`].
    pub index: usize,
    /// How many earlier requests this rule answered (0 on its first hit).
    pub hit: u32,
}

impl ScenarioState {
    /// Starts a scenario with all counters at zero.
    pub fn new(scenario: Scenario) -> Self {
        let hits = vec![0; scenario.rules.len()];
        Self { scenario, hits }
    }

    /// The scenario being played.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Picks the first applicable rule for `request` and counts the hit.
    pub fn select(&mut self, request: &ModelRequest<'_>) -> Option<Selection> {
        let side = request.is_side_request();
        let index = self
            .scenario
            .rules
            .iter()
            .zip(&self.hits)
            .position(|(rule, &hits)| rule_applies(rule, hits, side, request))?;
        let hit = self.hits[index];
        self.hits[index] = hit.saturating_add(1);
        Some(Selection { index, hit })
    }
}

fn rule_applies(rule: &Rule, hits: u32, side: bool, request: &ModelRequest<'_>) -> bool {
    let in_scope = match rule.scope {
        RuleScope::Main => !side,
        RuleScope::Side => side,
        RuleScope::Any => true,
    };
    let exhausted = rule.hit_limit().is_some_and(|limit| hits >= limit);
    in_scope && !exhausted && rule.when.matches(request)
}

impl Matcher {
    /// Whether every set condition holds for `request`.
    pub fn matches(&self, request: &ModelRequest<'_>) -> bool {
        let api_ok = self.api.is_none_or(|api| request.api() == api);
        let text_ok = self
            .last_user_text_contains
            .as_deref()
            .is_none_or(|needle| contains_ignore_case(&request.last_user_text(), needle));
        let tool_ok = self
            .tool_result
            .as_ref()
            .is_none_or(|wanted| tool_result_matches(wanted, request));
        let model_ok = self
            .model_contains
            .as_deref()
            .is_none_or(|needle| contains_ignore_case(request.model(), needle));
        let system_ok = self
            .system_contains
            .as_deref()
            .is_none_or(|needle| contains_ignore_case(&request.system_text(), needle));
        let tools_ok = self
            .has_tools
            .is_none_or(|wanted| request.has_tools() == wanted);
        let stream_ok = self
            .stream
            .is_none_or(|wanted| request.is_stream() == wanted);
        let any_ok =
            self.any_of.is_empty() || self.any_of.iter().any(|inner| inner.matches(request));
        let not_ok = self
            .not
            .as_ref()
            .is_none_or(|inner| !inner.matches(request));
        api_ok
            && text_ok
            && tool_ok
            && model_ok
            && system_ok
            && tools_ok
            && stream_ok
            && any_ok
            && not_ok
    }
}

fn tool_result_matches(wanted: &ToolResultMatcher, request: &ModelRequest<'_>) -> bool {
    request.last_tool_results().iter().any(|result| {
        let name_ok = wanted.tool_name.as_deref().is_none_or(|name| {
            result
                .tool_name
                .as_deref()
                .is_some_and(|actual| same_tool(actual, name))
        });
        let error_ok = wanted.is_error.is_none_or(|flag| result.is_error == flag);
        name_ok && error_ok
    })
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

#[cfg(test)]
#[path = "matching_tests.rs"]
mod tests;
