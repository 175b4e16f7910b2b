//! The CLI's control requests: permission prompts and questions (`can_use_tool`), their
//! withdrawal (`control_cancel_request`), and refusal of everything else.

use agent_runtime_protocol::{Question, QuestionOption};
use serde_json::{json, Value};

use super::{warning, Out};
use crate::claude::content::str_field;
use crate::output::{AgentAsk, AgentOutput, AskKind};

/// The tool through which Claude Code asks the user questions.
const ASK_USER_QUESTION: &str = "AskUserQuestion";

/// A `control_request`: `can_use_tool` becomes an [`AgentOutput::Ask`]; anything else is refused
/// so the CLI never waits for an answer that will not come.
pub(super) fn on_control_request(value: &Value, out: &mut Out) {
    let request = value.get("request");
    let subtype = request
        .and_then(|r| str_field(r, "subtype"))
        .unwrap_or("unknown");
    let request_id = str_field(value, "request_id");
    if let (Some(request), Some(request_id), "can_use_tool") = (request, request_id, subtype) {
        if let Some(ask) = can_use_tool(request_id, request) {
            out.push(AgentOutput::Ask(ask));
            return;
        }
    }
    let what = match request.and_then(|r| str_field(r, "tool_name")) {
        Some(tool) => format!("{subtype} for {tool}"),
        None => subtype.to_string(),
    };
    warning(
        out,
        format!("Claude Code sent a control request ({what}); refused"),
        None,
    );
    let Some(request_id) = request_id else {
        return;
    };
    let response = if subtype == "can_use_tool" {
        json!({
            "subtype": "success",
            "request_id": request_id,
            "response": { "behavior": "deny", "message": "agent-runtime could not read this request" },
        })
    } else {
        json!({
            "subtype": "error",
            "request_id": request_id,
            "error": "not supported by agent-runtime",
        })
    };
    let line = json!({ "type": "control_response", "response": response });
    out.push(AgentOutput::WriteStdin(format!("{line}\n")));
}

/// `control_cancel_request`: the CLI withdrew a request (its turn was interrupted).
pub(super) fn on_control_cancel(value: &Value, out: &mut Out) {
    if let Some(id) = str_field(value, "request_id") {
        out.push(AgentOutput::AskWithdrawn {
            agent_request_id: id.to_string(),
        });
    }
}

/// `None` when the request lacks the tool's name.
fn can_use_tool(request_id: &str, request: &Value) -> Option<AgentAsk> {
    let tool = str_field(request, "tool_name")?;
    let input = request.get("input").cloned().unwrap_or_else(|| json!({}));
    let tool_use_id = str_field(request, "tool_use_id").map(str::to_string);
    let questions = (tool == ASK_USER_QUESTION)
        .then(|| questions(&input))
        .flatten();
    let kind = match questions {
        Some(questions) => AskKind::Question { questions, input },
        None => AskKind::Permission {
            tool: tool.to_string(),
            input,
            description: str_field(request, "description")
                .or_else(|| str_field(request, "decision_reason"))
                .map(str::to_string),
            suggestions: request
                .get("permission_suggestions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        },
    };
    Some(AgentAsk {
        agent_request_id: request_id.to_string(),
        tool_use_id,
        kind,
    })
}

/// `AskUserQuestion`'s `questions`; `None` when there are none it could be asked as (then the
/// call is asked as a permission, so it is still seen).
fn questions(input: &Value) -> Option<Vec<Question>> {
    let questions: Vec<Question> = input
        .get("questions")?
        .as_array()?
        .iter()
        .filter_map(|q| {
            Some(Question {
                question: str_field(q, "question")?.to_string(),
                header: str_field(q, "header").map(str::to_string),
                options: q
                    .get("options")
                    .and_then(Value::as_array)
                    .map(|options| {
                        options
                            .iter()
                            .filter_map(|o| {
                                Some(QuestionOption {
                                    label: str_field(o, "label")?.to_string(),
                                    description: str_field(o, "description").map(str::to_string),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                multi_select: q
                    .get("multiSelect")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect();
    (!questions.is_empty()).then_some(questions)
}

#[cfg(test)]
#[path = "control_tests.rs"]
mod tests;
