//! What an answer may say, the options a request offers, and what the agent is told: pure
//! functions over the request records, used by `approvals.rs`.

use std::collections::BTreeMap;

use agent_runtime_protocol::{
    AnswerPermissionRequest, AnswerQuestionRequest, PermissionDecision, PermissionOption,
    PermissionOptionKind, PermissionRecord, PermissionResolution, Question, QuestionRecord,
    ResolvedBy,
};
use serde_json::Value;

use crate::error::{Result, RuntimeError};
use crate::rules::allow_always_rule;

/// Longest deny message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// Longest answer accepted, in characters (all answers of a request together).
pub const MAX_ANSWERS_CHARS: usize = 16 * 1024;

/// The message the agent sees when a request is denied without one.
pub(super) const DEFAULT_DENY_MESSAGE: &str = "The user denied this tool call.";

/// The error for an answer to a closed request: 409 with the answer that won, or 410.
pub(super) fn closed_error<T: serde::Serialize>(
    request_id: &str,
    by: ResolvedBy,
    resolution: &T,
) -> RuntimeError {
    match by {
        ResolvedBy::User => RuntimeError::AlreadyResolved {
            request_id: request_id.to_string(),
            resolution: serde_json::to_value(resolution).unwrap_or(Value::Null),
        },
        ResolvedBy::Timeout | ResolvedBy::Runtime => {
            RuntimeError::RequestExpired(request_id.to_string())
        }
    }
}

/// The option the answer chose (checked against its decision) and whether to remember it.
pub(super) fn chosen_option(
    record: &PermissionRecord,
    answer: &AnswerPermissionRequest,
) -> Result<(Option<PermissionOption>, bool)> {
    if let Some(message) = &answer.message {
        if message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(RuntimeError::InvalidRequest(format!(
                "message: longer than {MAX_MESSAGE_CHARS} characters"
            )));
        }
    }
    let option = match &answer.option_id {
        None => None,
        Some(id) => Some(
            record
                .request
                .options
                .iter()
                .find(|o| &o.id == id)
                .cloned()
                .ok_or_else(|| {
                    RuntimeError::InvalidRequest(format!(
                        "optionId {id:?} is not an option of this request"
                    ))
                })?,
        ),
    };
    let allows = |kind: PermissionOptionKind| kind != PermissionOptionKind::Deny;
    if let Some(option) = &option {
        if allows(option.kind) != (answer.decision == PermissionDecision::Allow) {
            return Err(RuntimeError::InvalidRequest(format!(
                "optionId {:?} does not go with decision {:?}",
                option.id, answer.decision
            )));
        }
    }
    let remember = answer.remember
        || option
            .as_ref()
            .is_some_and(|o| o.kind == PermissionOptionKind::AllowAlways);
    if remember && answer.decision != PermissionDecision::Allow {
        return Err(RuntimeError::InvalidRequest(
            "remember goes with decision allow only".into(),
        ));
    }
    if answer.save_to_profile && !remember {
        return Err(RuntimeError::InvalidRequest(
            "saveToProfile goes with remember only".into(),
        ));
    }
    Ok((option, remember))
}

/// The rule of the request's `allow_always` option.
pub(super) fn option_rule(record: &PermissionRecord) -> Option<String> {
    record
        .request
        .options
        .iter()
        .find(|o| o.kind == PermissionOptionKind::AllowAlways)
        .and_then(|o| o.rule.clone())
}

/// Every question answered, nothing else, within the size limit; answers joined per question.
pub(super) fn validate_answers(
    record: &QuestionRecord,
    answer: &AnswerQuestionRequest,
) -> Result<BTreeMap<String, String>> {
    let asked: Vec<&Question> = record.request.questions.iter().collect();
    for key in answer.answers.keys() {
        if !asked.iter().any(|q| &q.question == key) {
            return Err(RuntimeError::InvalidRequest(format!(
                "answers: {key:?} is not a question of this request"
            )));
        }
    }
    let mut joined = BTreeMap::new();
    let mut total = 0;
    for question in asked {
        let text = answer
            .answers
            .get(&question.question)
            .map(|a| a.joined())
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| {
                RuntimeError::InvalidRequest(format!(
                    "answers: {:?} is not answered",
                    question.question
                ))
            })?;
        total += text.chars().count();
        joined.insert(question.question.clone(), text);
    }
    if total > MAX_ANSWERS_CHARS {
        return Err(RuntimeError::InvalidRequest(format!(
            "answers: longer than {MAX_ANSWERS_CHARS} characters together"
        )));
    }
    Ok(joined)
}

/// Allow once, allow always (with the rule it adds), deny, then the agent's own suggestions.
pub(super) fn permission_options(
    tool: &str,
    input: &Value,
    suggestions: &[Value],
    workspace: &str,
) -> Vec<PermissionOption> {
    let option = |id: &str, kind, label: &str| PermissionOption {
        id: id.into(),
        kind,
        label: label.into(),
        rule: None,
        suggestion: None,
    };
    let rule = allow_always_rule(tool, input, workspace);
    let mut options = vec![
        option("allow_once", PermissionOptionKind::AllowOnce, "Allow once"),
        PermissionOption {
            label: format!("Always allow {rule}"),
            rule: Some(rule),
            ..option("allow_always", PermissionOptionKind::AllowAlways, "")
        },
        option("deny", PermissionOptionKind::Deny, "Deny"),
    ];
    for (i, suggestion) in suggestions.iter().enumerate() {
        options.push(PermissionOption {
            suggestion: Some(suggestion.clone()),
            ..option(
                &format!("suggestion_{i}"),
                PermissionOptionKind::Suggestion,
                &suggestion_label(suggestion),
            )
        });
    }
    options
}

/// A label for one of Claude Code's permission suggestions.
pub(super) fn suggestion_label(suggestion: &Value) -> String {
    let field = |name: &str| suggestion.get(name).and_then(Value::as_str);
    match field("type") {
        Some("setMode") => format!(
            "Allow, and switch to {} mode",
            field("mode").unwrap_or("another")
        ),
        Some("addRules") => {
            let rules: Vec<String> = suggestion
                .get("rules")
                .and_then(Value::as_array)
                .map(|rules| {
                    rules
                        .iter()
                        .map(|r| {
                            let tool = r.get("toolName").and_then(Value::as_str).unwrap_or("?");
                            match r.get("ruleContent").and_then(Value::as_str) {
                                Some(content) => format!("{tool}({content})"),
                                None => tool.to_string(),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!("Allow, and let the agent allow {}", rules.join(", "))
        }
        Some("addDirectories") => "Allow, and give access to the directory".to_string(),
        _ => "Allow, as the agent suggests".to_string(),
    }
}

/// The message that resumes the agent with a permission answer given after a restart.
pub(super) fn permission_continuation_text(
    record: &PermissionRecord,
    resolution: &PermissionResolution,
) -> String {
    let tool = &record.request.tool;
    match resolution.decision {
        PermissionDecision::Allow => format!(
            "[agent-runtime] The server restarted while your {tool} call waited for permission. \
             The user has now allowed it: make the same call again to carry on."
        ),
        PermissionDecision::Deny => {
            let reason = resolution
                .message
                .as_deref()
                .map(|m| format!(" Their reason: {m}"))
                .unwrap_or_default();
            format!(
                "[agent-runtime] The server restarted while your {tool} call waited for \
                 permission. The user denied it.{reason} Do not make that call; carry on without it."
            )
        }
    }
}

/// What a grant for questions is matched by: the questions asked.
pub(super) fn question_subject(questions: &[Question]) -> String {
    questions
        .iter()
        .map(|q| q.question.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The message that resumes the agent with answers given after a restart.
pub(super) fn question_continuation_text(answers: &BTreeMap<String, String>) -> String {
    let answers: Vec<String> = answers
        .iter()
        .map(|(q, a)| format!("\"{q}\" = \"{a}\""))
        .collect();
    format!(
        "[agent-runtime] The server restarted while your questions waited for answers. The user \
         answered: {}. Carry on with these answers.",
        answers.join("; ")
    )
}

#[cfg(test)]
#[path = "answers_tests.rs"]
mod tests;
