use agent_runtime_protocol::{
    PermissionRequest, QuestionAnswer, QuestionOption, QuestionRequest, QuestionResolution,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

fn record(suggestions: &[Value]) -> PermissionRecord {
    PermissionRecord {
        request: PermissionRequest {
            request_id: "perm_1".into(),
            tool_use_id: Some("toolu_1".into()),
            tool: "Bash".into(),
            input: json!({"command": "touch approved.txt"}),
            description: None,
            options: permission_options(
                "Bash",
                &json!({"command": "touch approved.txt"}),
                suggestions,
                "/workspace",
            ),
            expires_at: "2026-01-01T00:30:00Z".into(),
            turn_id: None,
        },
        resolution: None,
    }
}

fn answer(decision: PermissionDecision) -> AnswerPermissionRequest {
    AnswerPermissionRequest {
        decision,
        remember: false,
        save_to_profile: false,
        message: None,
        option_id: None,
    }
}

fn invalid(result: Result<(Option<PermissionOption>, bool)>) -> String {
    match result {
        Err(RuntimeError::InvalidRequest(message)) => message,
        other => panic!("{other:?}"),
    }
}

#[test]
fn options_are_allow_once_always_deny_then_the_agents_suggestions() {
    let suggestion = json!({"type": "setMode", "mode": "acceptEdits", "destination": "session"});
    let options = record(std::slice::from_ref(&suggestion)).request.options;
    let summary: Vec<(&str, PermissionOptionKind, Option<&str>)> = options
        .iter()
        .map(|o| (o.id.as_str(), o.kind, o.rule.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("allow_once", PermissionOptionKind::AllowOnce, None),
            (
                "allow_always",
                PermissionOptionKind::AllowAlways,
                Some("Bash(touch approved.txt)")
            ),
            ("deny", PermissionOptionKind::Deny, None),
            ("suggestion_0", PermissionOptionKind::Suggestion, None),
        ]
    );
    assert_eq!(options[3].label, "Allow, and switch to acceptEdits mode");
    assert_eq!(options[3].suggestion.as_ref(), Some(&suggestion));
    let rules =
        json!({"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "touch x"}]});
    assert_eq!(
        suggestion_label(&rules),
        "Allow, and let the agent allow Bash(touch x)"
    );
}

#[test]
fn an_answer_must_agree_with_its_option_and_remember_only_allows() {
    let record = record(&[json!({"type": "setMode", "mode": "acceptEdits"})]);
    // Plain allow and deny.
    assert_eq!(
        chosen_option(&record, &answer(PermissionDecision::Allow)).unwrap(),
        (None, false)
    );
    // allow_always remembers, as remember: true does.
    let always = AnswerPermissionRequest {
        option_id: Some("allow_always".into()),
        ..answer(PermissionDecision::Allow)
    };
    let (option, remember) = chosen_option(&record, &always).unwrap();
    assert_eq!(option.unwrap().kind, PermissionOptionKind::AllowAlways);
    assert!(remember);
    assert_eq!(
        option_rule(&record).as_deref(),
        Some("Bash(touch approved.txt)")
    );
    // A suggestion is an allow.
    let suggestion = AnswerPermissionRequest {
        option_id: Some("suggestion_0".into()),
        ..answer(PermissionDecision::Allow)
    };
    assert!(chosen_option(&record, &suggestion).unwrap().0.is_some());
    // Refused, each naming why.
    let contradicting = AnswerPermissionRequest {
        option_id: Some("deny".into()),
        ..answer(PermissionDecision::Allow)
    };
    assert!(invalid(chosen_option(&record, &contradicting)).contains("does not go with"));
    let unknown = AnswerPermissionRequest {
        option_id: Some("nope".into()),
        ..answer(PermissionDecision::Allow)
    };
    assert!(invalid(chosen_option(&record, &unknown)).contains("not an option"));
    let remember_deny = AnswerPermissionRequest {
        remember: true,
        ..answer(PermissionDecision::Deny)
    };
    assert!(invalid(chosen_option(&record, &remember_deny)).contains("remember"));
    let save_alone = AnswerPermissionRequest {
        save_to_profile: true,
        ..answer(PermissionDecision::Allow)
    };
    assert!(invalid(chosen_option(&record, &save_alone)).contains("saveToProfile"));
    let long = AnswerPermissionRequest {
        message: Some("x".repeat(MAX_MESSAGE_CHARS + 1)),
        ..answer(PermissionDecision::Deny)
    };
    assert!(invalid(chosen_option(&record, &long)).contains("message"));
}

#[test]
fn every_question_is_answered_and_nothing_else() {
    let question = |text: &str| Question {
        question: text.into(),
        header: None,
        options: vec![QuestionOption {
            label: "Blue".into(),
            description: None,
        }],
        multi_select: true,
    };
    let record = QuestionRecord {
        request: QuestionRequest {
            request_id: "q".into(),
            tool_use_id: None,
            questions: vec![question("Which color?"), question("Which size?")],
            expires_at: String::new(),
            turn_id: None,
        },
        resolution: None,
    };
    let answers = |pairs: &[(&str, QuestionAnswer)]| AnswerQuestionRequest {
        answers: pairs
            .iter()
            .map(|(q, a)| (q.to_string(), a.clone()))
            .collect(),
    };
    let both = answers(&[
        (
            "Which color?",
            QuestionAnswer::Many(vec!["Blue".into(), "Red".into()]),
        ),
        ("Which size?", QuestionAnswer::One("L".into())),
    ]);
    let joined = validate_answers(&record, &both).unwrap();
    assert_eq!(joined["Which color?"], "Blue, Red");
    assert_eq!(joined["Which size?"], "L");
    let one = answers(&[("Which color?", QuestionAnswer::One("Blue".into()))]);
    assert!(validate_answers(&record, &one).is_err());
    let extra = answers(&[
        ("Which color?", QuestionAnswer::One("Blue".into())),
        ("Which size?", QuestionAnswer::One("L".into())),
        ("Why?", QuestionAnswer::One("because".into())),
    ]);
    assert!(validate_answers(&record, &extra).is_err());
    let blank = answers(&[
        ("Which color?", QuestionAnswer::One("  ".into())),
        ("Which size?", QuestionAnswer::One("L".into())),
    ]);
    assert!(validate_answers(&record, &blank).is_err());
    let huge = answers(&[
        (
            "Which color?",
            QuestionAnswer::One("x".repeat(MAX_ANSWERS_CHARS)),
        ),
        ("Which size?", QuestionAnswer::One("L".into())),
    ]);
    assert!(validate_answers(&record, &huge).is_err());
    assert_eq!(
        question_subject(&record.request.questions),
        "Which color?\nWhich size?"
    );
}

#[test]
fn a_closed_request_is_409_with_the_winner_when_a_person_answered_else_410() {
    let resolution = QuestionResolution {
        request_id: "q".into(),
        answers: Default::default(),
        by: ResolvedBy::User,
        at: "t".into(),
        continuation: None,
    };
    match closed_error("q", ResolvedBy::User, &resolution) {
        RuntimeError::AlreadyResolved { resolution, .. } => assert_eq!(resolution["by"], "user"),
        other => panic!("{other:?}"),
    }
    for by in [ResolvedBy::Timeout, ResolvedBy::Runtime] {
        assert!(matches!(
            closed_error("q", by, &resolution),
            RuntimeError::RequestExpired(_)
        ));
    }
}

#[test]
fn the_resumed_agent_is_told_what_the_user_decided() {
    let record = record(&[]);
    let resolution = |decision, message: Option<&str>| PermissionResolution {
        request_id: "perm_1".into(),
        decision,
        remember: false,
        by: ResolvedBy::User,
        at: "t".into(),
        option_id: None,
        rule: None,
        message: message.map(str::to_string),
        continuation: None,
    };
    let allowed =
        permission_continuation_text(&record, &resolution(PermissionDecision::Allow, None));
    assert!(allowed.starts_with("[agent-runtime]"), "{allowed}");
    assert!(
        allowed.contains("allowed it: make the same call again"),
        "{allowed}"
    );
    let denied = permission_continuation_text(
        &record,
        &resolution(PermissionDecision::Deny, Some("not today")),
    );
    assert!(
        denied.contains("denied it. Their reason: not today"),
        "{denied}"
    );
    let answers = BTreeMap::from([("Which color?".to_string(), "Blue".to_string())]);
    assert!(question_continuation_text(&answers).contains("\"Which color?\" = \"Blue\""));
}
