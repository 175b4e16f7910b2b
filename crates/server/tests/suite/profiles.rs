//! Agent profiles over REST (create, replace, list, get, delete, validation, auth), the agents
//! list, and one end-to-end test proving a profile reaches the real agent.

use agent_runtime_client::ProfileWrite;
use agent_runtime_protocol::{
    AgentProfile, CreateSessionRequest, ProfileFile, SessionEvent, SkillDef, TurnEndReason,
};
use agent_runtime_testkit::{demo_scenario, ScriptedModelServer};
use pretty_assertions::assert_eq;
use reqwest::Method;

use super::agent::*;
use super::support::{assert_problem, code_of, within, TestServer};

fn profile(id: &str) -> AgentProfile {
    AgentProfile {
        id: id.into(),
        name: Some("Reviewer".into()),
        instructions: Some("Review carefully.".into()),
        skills: vec![SkillDef {
            name: "lint".into(),
            description: "Runs the linter".into(),
            body: "Run `cargo clippy`.".into(),
        }],
        files: vec![ProfileFile {
            path: "docs/NOTES.md".into(),
            content: "notes".into(),
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn profiles_are_created_replaced_listed_read_and_deleted() {
    let server = TestServer::start().await;
    let client = server.client();
    assert_eq!(within(client.list_profiles()).await.unwrap(), vec![]);

    let reviewer = profile("reviewer");
    assert_eq!(
        within(client.put_profile(&reviewer)).await.unwrap(),
        ProfileWrite {
            profile: reviewer.clone(),
            created: true
        }
    );
    let replaced = AgentProfile {
        model: Some("sonnet".into()),
        ..reviewer.clone()
    };
    assert_eq!(
        within(client.put_profile(&replaced)).await.unwrap(),
        ProfileWrite {
            profile: replaced.clone(),
            created: false
        }
    );
    // The body may leave out the id: the path names the profile.
    let response = within(
        client
            .request(Method::PUT, "/api/profiles/a-writer")
            .json(&serde_json::json!({"instructions": "Write."}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    let writer = AgentProfile {
        id: "a-writer".into(),
        instructions: Some("Write.".into()),
        ..Default::default()
    };
    assert_eq!(response.json::<AgentProfile>().await.unwrap(), writer);

    assert_eq!(
        within(client.list_profiles()).await.unwrap(),
        vec![writer, replaced.clone()]
    );
    assert_eq!(
        within(client.get_profile("reviewer")).await.unwrap(),
        replaced
    );
    let session = within(client.create_session(&CreateSessionRequest {
        profile: Some("reviewer".into()),
        ..Default::default()
    }))
    .await
    .unwrap();
    assert_eq!(session.profile.as_deref(), Some("reviewer"));

    within(client.delete_profile("reviewer")).await.unwrap();
    assert_eq!(
        code_of(within(client.get_profile("reviewer")).await),
        (404, "profile_not_found".into())
    );
    assert_eq!(
        code_of(within(client.delete_profile("reviewer")).await),
        (404, "profile_not_found".into())
    );
    // A session keeps the id of its deleted profile; a new session cannot name it.
    let snapshot = within(client.get_session(&session.session_id))
        .await
        .unwrap();
    assert_eq!(snapshot.session.profile.as_deref(), Some("reviewer"));
    assert_eq!(
        code_of(
            within(client.create_session(&CreateSessionRequest {
                profile: Some("reviewer".into()),
                ..Default::default()
            }))
            .await
        ),
        (400, "profile_not_found".into())
    );
    // Its next sandbox start ends the turn with an error naming the profile.
    let mut ws = server.ws().await;
    within(ws.subscribe(&session.session_id, 0)).await.unwrap();
    within(ws.send_message(&session.session_id, "hi", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    match &events.last().unwrap().event {
        SessionEvent::TurnCompleted {
            reason: TurnEndReason::Error,
            error: Some(error),
            ..
        } => {
            assert_eq!(error.code.as_deref(), Some("agent_start_failed"));
            assert_eq!(error.message, "profile reviewer not found");
        }
        other => panic!("expected a failed turn, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_profiles_are_refused_with_the_reason() {
    let server = TestServer::start().await;
    let client = server.client();
    let cases = [
        (
            "/api/profiles/ok",
            serde_json::json!({"id": "other"}),
            "differs",
        ),
        (
            "/api/profiles/.hidden",
            serde_json::json!({}),
            "must be 1 to 128",
        ),
        (
            "/api/profiles/a%20b",
            serde_json::json!({}),
            "must be 1 to 128",
        ),
        (
            "/api/profiles/ok",
            serde_json::json!({"skills": [{"name": "../escape"}]}),
            "skill name",
        ),
        (
            "/api/profiles/ok",
            serde_json::json!({"subagents": [{"name": "a/b"}]}),
            "subagent name",
        ),
        (
            "/api/profiles/ok",
            serde_json::json!({"commands": [{"name": ""}]}),
            "command name",
        ),
        (
            "/api/profiles/ok",
            serde_json::json!({"files": [{"path": "/etc/passwd", "content": "x"}]}),
            "workspace file path",
        ),
        (
            "/api/profiles/ok",
            serde_json::json!({"files": [{"path": "a/../../b"}]}),
            "workspace file path",
        ),
    ];
    for (path, body, reason) in cases {
        let response = within(client.request(Method::PUT, path).json(&body).send())
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path} {body}");
        let text = response.text().await.unwrap();
        assert!(text.contains(reason), "{path} {body}: {text}");
        let response = within(client.request(Method::PUT, path).json(&body).send())
            .await
            .unwrap();
        assert_problem(response, 400, "invalid_profile").await;
    }
    assert_eq!(within(client.list_profiles()).await.unwrap(), vec![]);
    assert_eq!(
        code_of(within(client.get_profile("nope")).await),
        (404, "profile_not_found".into())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_sandbox_settings_name_their_field_and_change_nothing() {
    let server = TestServer::start().await;
    let client = server.client();
    let good = serde_json::json!({
        "sandbox": {"network": {"policy": "allowlist", "allow": ["registry.npmjs.org"]}}
    });
    let response = within(
        client
            .request(Method::PUT, "/api/profiles/box")
            .json(&good)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    let stored = within(client.get_profile("box")).await.unwrap();
    let cases = [
        (
            serde_json::json!({"network": {"allow": ["ok.example", "*"]}}),
            "sandbox.network.allow[1]",
        ),
        (
            serde_json::json!({"network": {"allow": ["host:99999"]}}),
            "sandbox.network.allow[0]",
        ),
        (
            serde_json::json!({"limits": {"memoryBytes": 1024}}),
            "sandbox.limits.memoryBytes",
        ),
        (
            serde_json::json!({"limits": {"cpus": 0}}),
            "sandbox.limits.cpus",
        ),
        (
            serde_json::json!({"limits": {"pids": 2}}),
            "sandbox.limits.pids",
        ),
        (
            serde_json::json!({"secrets": [{"name": "T", "value": "v", "hosts": ["10.0.0.1"]}]}),
            "sandbox.secrets[0].hosts[0]",
        ),
        (
            serde_json::json!({"secrets": [{"name": "T", "hosts": ["api.example"]}]}),
            "sandbox.secrets[0].value",
        ),
        (
            serde_json::json!({"secrets": [{"name": "T", "value": "v", "hosts": ["a.example"],
                                             "format": "no placeholder"}]}),
            "sandbox.secrets[0].format",
        ),
    ];
    // The same for the human-in-the-loop settings, which sit beside `sandbox`.
    let approvals = [
        (
            serde_json::json!({"permissions": {"deny": ["Bash", "Bash("]}}),
            "permissions.deny[1]",
        ),
        (
            serde_json::json!({"permissions": {"ask": ["no spaces allowed"]}}),
            "permissions.ask[0]",
        ),
        (
            serde_json::json!({"budget": {"maxCostUsd": -1}}),
            "budget.maxCostUsd",
        ),
        (
            serde_json::json!({"approvalTimeoutSecs": 0}),
            "approvalTimeoutSecs",
        ),
    ];
    let bodies = cases
        .into_iter()
        .map(|(sandbox, field)| (serde_json::json!({"sandbox": sandbox}), field))
        .chain(approvals);
    for (body, field) in bodies {
        let response = within(
            client
                .request(Method::PUT, "/api/profiles/box")
                .json(&body)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_profile", "{problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(field), "{body}: {detail}");
        // Nothing stored changed.
        assert_eq!(within(client.get_profile("box")).await.unwrap(), stored);
    }
    // A session created with a bad profile is impossible: the profile was never stored.
    server.shutdown().await;
}

#[tokio::test]
async fn secret_values_are_write_only() {
    let server = TestServer::start().await;
    let client = server.client();
    let put = |body: serde_json::Value| {
        let client = client.clone();
        async move {
            within(
                client
                    .request(Method::PUT, "/api/profiles/s")
                    .json(&body)
                    .send(),
            )
            .await
            .unwrap()
        }
    };
    let secret = |value: Option<&str>| {
        let mut secret = serde_json::json!({"name": "GH_TOKEN", "hosts": ["api.github.com"]});
        if let Some(value) = value {
            secret["value"] = value.into();
        }
        serde_json::json!({"sandbox": {"secrets": [secret]}})
    };
    let response = put(secret(Some("ghp_first"))).await;
    assert_eq!(response.status(), 201);
    let shown: serde_json::Value = response.json().await.unwrap();
    assert_eq!(shown["sandbox"]["secrets"][0].get("value"), None, "{shown}");
    let listed = within(client.list_profiles()).await.unwrap();
    assert_eq!(listed[0].sandbox.secrets[0].value, None);
    // Sent back without its value (as GET showed it): kept, not erased.
    assert_eq!(put(secret(None)).await.status(), 200);
    let text = within(client.request(Method::GET, "/api/profiles/s").send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("ghp_first"), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn profiles_and_agents_need_the_api_key() {
    let server = TestServer::start_with(|c| c.api_keys = vec!["k".into()]).await;
    let anonymous = server.anonymous_client();
    for (method, path) in [
        (Method::GET, "/api/profiles"),
        (Method::GET, "/api/profiles/x"),
        (Method::PUT, "/api/profiles/x"),
        (Method::DELETE, "/api/profiles/x"),
        (Method::GET, "/api/agents"),
    ] {
        let response = within(anonymous.request(method, path).json(&profile("x")).send())
            .await
            .unwrap();
        assert_problem(response, 401, "unauthorized").await;
    }
    within(server.client().put_profile(&profile("x")))
        .await
        .expect("with the key");
    server.shutdown().await;
}

#[tokio::test]
async fn agents_are_listed_with_their_pinned_package() {
    let server = TestServer::start().await;
    let agents = within(server.client().list_agents()).await.unwrap();
    let ids: Vec<_> = agents.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, vec!["claude-code", "gemini-cli", "opencode", "codex"]);
    let protocols: Vec<_> = agents.iter().map(|a| a.protocol.as_str()).collect();
    assert_eq!(protocols, vec!["native", "native", "acp", "acp"]);
    for agent in &agents {
        assert!(!agent.name.is_empty());
        assert!(agent.capabilities.resume, "{agent:?}");
        assert!(!agent.npm_package.is_empty() && !agent.version.is_empty());
        // The test server's tools dir is empty.
        assert!(!agent.installed, "{agent:?}");
    }
    server.shutdown().await;
}

/// An ACP agent from the config file, with no code of its own: here OpenCode's package again,
/// set up only by the `[[agents]]` table (command, arguments, environment with placeholders,
/// transcript files). It is listed, runs a turn against the scripted model through the gateway,
/// and resumes its conversation in a fresh sandbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acp_agent_from_the_config_file_runs_without_code_changes() {
    let file: agent_runtime_server::config::FileConfig = toml::from_str(
        r#"
        [[agents]]
        id = "my-agent"
        name = "My agent"
        package = "opencode-ai"
        version = "1.18.33"
        bin = ["node_modules/opencode-ai/bin/opencode.exe"]
        args = ["acp", "--pure"]
        model_api = "anthropic"
        transcript = [".local/share/opencode/opencode.db*"]
        [agents.env]
        OPENCODE_DISABLE_AUTOUPDATE = "1"
        OPENCODE_CONFIG_CONTENT = '{"model": "anthropic/claude-sonnet-4-5", "provider": {"anthropic": {"options": {"baseURL": "{baseUrl}/v1", "apiKey": "{apiKey}"}}}, "permission": {"edit": "allow", "bash": "allow", "external_directory": "allow"}}'
        "#,
    )
    .expect("the config file parses");
    let model = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let server = TestServer::start_with(|c| {
        agent_config(c, &model, Setup::OPENCODE_SQLITE);
        c.agents = file.agents.clone().unwrap();
    })
    .await;
    let agents = within(server.client().list_agents()).await.unwrap();
    let mine = agents.iter().find(|a| a.id == "my-agent").expect("listed");
    assert_eq!(
        (mine.name.as_str(), mine.protocol.as_str()),
        ("My agent", "acp")
    );
    assert!(mine.installed && mine.capabilities.resume, "{mine:?}");

    let setup = Setup {
        agent: "my-agent",
        ..Setup::OPENCODE_SQLITE
    };
    let session_id = create_agent_session(&server, setup).await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "create hello.txt", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert!(
        matches!(
            events.last().unwrap().event,
            SessionEvent::TurnCompleted {
                reason: TurnEndReason::Completed,
                ..
            }
        ),
        "{events:#?}"
    );
    assert!(events
        .iter()
        .any(|e| matches!(&e.event, SessionEvent::FileCreated(f) if f.path == "hello.txt")));
    let snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    assert!(snapshot
        .state
        .agent_session_id
        .is_some_and(|id| id.starts_with("ses_")));

    // A restart stops the sandbox; the next turn loads the agent's conversation from the saved
    // transcript files.
    drop(ws);
    let server = server.restart().await;
    let mut ws = server.ws().await;
    let seq = snapshot.state.seq;
    within(ws.subscribe(&session_id, seq)).await.unwrap();
    let before = model.message_requests().len();
    within(ws.send_message(&session_id, "what did you do before?", None))
        .await
        .unwrap();
    events_until(&mut ws, is_turn_completed).await;
    let history = model.message_requests()[before..]
        .iter()
        .map(|r| serde_json::to_string(r.conversation()).unwrap())
        .find(|h| h.contains("what did you do before?"))
        .expect("the next turn's model request");
    assert!(history.contains("create hello.txt"), "{history}");
    server.shutdown().await;
}

#[tokio::test]
async fn installed_agents_are_reported_as_installed() {
    let server = TestServer::start_with(|c| c.tools_dir = tools_dir()).await;
    let agents = within(server.client().list_agents()).await.unwrap();
    let claude = agents.iter().find(|a| a.id == "claude-code").unwrap();
    assert!(
        claude.installed,
        "run scripts/test to install the agents: {claude:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_reaches_the_real_agent_and_seeds_the_workspace() {
    let setup = Setup::CLAUDE_SQLITE;
    let model = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let server = agent_server(&model, setup).await;
    let client = server.client();
    let instructions = "Always answer like a pirate: profile-marker-7319.";
    let readme = "# Seeded by the profile\n";
    within(client.put_profile(&AgentProfile {
        id: "pirate".into(),
        instructions: Some(instructions.into()),
        files: vec![ProfileFile {
            path: "README.md".into(),
            content: readme.into(),
        }],
        ..Default::default()
    }))
    .await
    .unwrap();
    let session_id = within(client.create_session(&CreateSessionRequest {
        agent: Some(setup.agent.into()),
        profile: Some("pirate".into()),
        ..Default::default()
    }))
    .await
    .unwrap()
    .session_id;

    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "create hello.txt", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert!(matches!(
        events.last().unwrap().event,
        SessionEvent::TurnCompleted {
            reason: TurnEndReason::Completed,
            ..
        }
    ));

    let requests = model.message_requests();
    let first = requests.first().expect("a model request");
    let conversation = serde_json::to_string(first.conversation()).unwrap();
    assert!(
        conversation.contains(instructions),
        "the instructions are not in {conversation}"
    );
    let files = within(client.list_files(&session_id)).await.unwrap();
    assert!(
        files.iter().any(|f| f.path == "README.md"),
        "no README.md in {files:?}"
    );
    assert_eq!(
        within(client.read_file(&session_id, "README.md"))
            .await
            .unwrap(),
        readme.as_bytes()
    );
    server.shutdown().await;
}
