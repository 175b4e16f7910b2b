use agent_runtime_protocol::{
    Budget, BudgetKind, CreateSessionRequest, PatchSessionRequest, SessionEvent, SessionStatus,
    TurnEndReason,
};
use pretty_assertions::assert_eq;

use super::support::*;
use crate::suite::agent::*;
use crate::suite::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reached_turn_budget_holds_messages_until_raised_or_approved_once() {
    let (_model, server) = start().await;
    let client = server.client();
    let one_turn = CreateSessionRequest {
        budget: Some(Budget {
            max_turns: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    };

    // Raised: PATCH the budget and the held message runs.
    let session_id = create_session(&server, one_turn.clone()).await;
    let mut ws = subscribed(&server, &session_id).await;
    run_turn_to_budget_exceeded(&mut ws, &session_id).await;
    assert_eq!(
        status_of(&server, &session_id).await,
        SessionStatus::RequiresAction
    );
    assert_eq!(
        listed_status(&client, &session_id).await,
        SessionStatus::RequiresAction
    );
    let held = within(ws.send_message(&session_id, "hello again", None))
        .await
        .unwrap();
    assert!(held.queued);
    assert_no_turn_starts(&mut ws).await;
    within(client.patch_session(
        &session_id,
        &PatchSessionRequest {
            budget: Some(Budget {
                max_turns: Some(5),
                ..Default::default()
            }),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_eq!(started_turns(&events), vec![held.turn_id.clone()]);
    assert_completed(&events);
    assert_eq!(status_of(&server, &session_id).await, SessionStatus::Idle);

    // Approved: the held message runs once, then the limit holds again.
    let session_id = create_session(&server, one_turn).await;
    let mut ws = subscribed(&server, &session_id).await;
    run_turn_to_budget_exceeded(&mut ws, &session_id).await;
    let held = within(ws.send_message(&session_id, "hello again", None))
        .await
        .unwrap();
    assert!(held.queued);
    assert_no_turn_starts(&mut ws).await;
    let approval = within(client.approve_budget(&session_id))
        .await
        .expect("200");
    assert_eq!(approval.kind, BudgetKind::Turns);
    let events = events_until(&mut ws, |e| {
        matches!(e.event, SessionEvent::BudgetExceeded(_))
    })
    .await;
    assert_eq!(started_turns(&events), vec![held.turn_id.clone()]);
    assert_completed(&events[..events.len() - 1]);
    let again = within(ws.send_message(&session_id, "and once more", None))
        .await
        .unwrap();
    assert!(again.queued, "the approval let one turn through, not two");
    assert_no_turn_starts(&mut ws).await;
    assert_eq!(
        status_of(&server, &session_id).await,
        SessionStatus::RequiresAction
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Helpers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reached_cost_budget_is_reported_with_what_was_spent() {
    let (_model, server) = start().await;
    let tiny = CreateSessionRequest {
        budget: Some(Budget {
            max_cost_usd: Some(0.000_000_1),
            ..Default::default()
        }),
        ..Default::default()
    };
    let session_id = create_session(&server, tiny).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "hello", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, |e| {
        matches!(e.event, SessionEvent::BudgetExceeded(_))
    })
    .await;
    assert_completed(&events);
    let SessionEvent::BudgetExceeded(exceeded) = &events.last().unwrap().event else {
        unreachable!()
    };
    assert_eq!(exceeded.kind, BudgetKind::Cost);
    assert_eq!(exceeded.limit, 0.000_000_1);
    let snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    assert!(
        exceeded.spent > 0.0 && exceeded.spent == snapshot.state.cost_usd,
        "{exceeded:?}"
    );
    assert_eq!(snapshot.state.status, SessionStatus::RequiresAction);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_past_its_time_budget_is_interrupted_and_the_next_waits_for_a_longer_one() {
    let (_model, server) = start().await;
    let one_second = CreateSessionRequest {
        budget: Some(Budget {
            max_turn_secs: Some(1),
            ..Default::default()
        }),
        ..Default::default()
    };
    let session_id = create_session(&server, one_second).await;
    let mut ws = subscribed(&server, &session_id).await;
    within(ws.send_message(&session_id, "answer slowly", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, |e| {
        matches!(e.event, SessionEvent::BudgetExceeded(_))
    })
    .await;
    let ended = events
        .iter()
        .find_map(|e| match &e.event {
            SessionEvent::TurnCompleted { reason, error, .. } => Some((*reason, error.clone())),
            _ => None,
        })
        .expect("the turn ended before budget_exceeded");
    assert_eq!(ended.0, TurnEndReason::Interrupted);
    assert_eq!(
        ended.1.and_then(|e| e.code).as_deref(),
        Some("budget_exceeded")
    );
    let SessionEvent::BudgetExceeded(exceeded) = &events.last().unwrap().event else {
        unreachable!()
    };
    assert_eq!(exceeded.kind, BudgetKind::TurnTime);
    assert_eq!(exceeded.limit, 1.0);
    assert!(exceeded.spent >= 1.0, "{exceeded:?}");

    let held = within(ws.send_message(&session_id, "hello", None))
        .await
        .unwrap();
    assert!(held.queued);
    assert_no_turn_starts(&mut ws).await;
    // A longer time budget lets the held message run (the time budget applies to it too).
    let longer = PatchSessionRequest {
        name: None,
        budget: Some(Budget {
            max_turn_secs: Some(600),
            ..Default::default()
        }),
    };
    within(server.client().patch_session(&session_id, &longer))
        .await
        .expect("200");
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_eq!(started_turns(&events), vec![held.turn_id]);
    assert_completed(&events);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_budget_requests_are_refused_and_change_nothing() {
    let (_model, server) = start().await;
    let client = server.client();
    let session_id = create_session(&server, CreateSessionRequest::default()).await;
    assert_eq!(
        code_of(within(client.approve_budget(&session_id)).await),
        (409, "budget_not_exceeded".to_string())
    );
    let negative = PatchSessionRequest {
        name: None,
        budget: Some(Budget {
            max_cost_usd: Some(-1.0),
            ..Default::default()
        }),
    };
    assert_eq!(
        code_of(within(client.patch_session(&session_id, &negative)).await),
        (400, "invalid_request".to_string())
    );
    let zero_secs = CreateSessionRequest {
        budget: Some(Budget {
            max_turn_secs: Some(0),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        code_of(within(client.create_session(&zero_secs)).await),
        (400, "invalid_request".to_string())
    );
    let snapshot = within(client.get_session(&session_id)).await.unwrap();
    assert_eq!(snapshot.state.settings, Default::default());
    assert_eq!(snapshot.state.budget_exceeded, None);
    server.shutdown().await;
}
