//! Contract cases: agent profiles, a fresh store, reopening, closing.

use std::collections::BTreeMap;

use agent_runtime_protocol::{
    AgentProfile, Budget, CommandDef, LimitSettings, NetworkPolicy, NetworkSettings,
    PermissionMode, PermissionRules, ProfileFile, ProfileSecret, SandboxSettings, SkillDef,
    SubagentDef,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{create, delta, session, ts, TestStore};
use crate::error::StoreError;

/// Profiles are stored whole, listed by id, replaced by id and deleted.
pub async fn profiles_crud(t: TestStore) {
    let store = t.store;
    let full = full_profile("reviewer");
    let minimal = AgentProfile {
        id: "a-minimal".into(),
        ..AgentProfile::default()
    };
    store.put_profile(&full).await.expect("put");
    store.put_profile(&minimal).await.expect("put");
    assert_eq!(store.get_profile("reviewer").await, Ok(Some(full.clone())));
    assert_eq!(store.get_profile("missing").await, Ok(None));
    assert_eq!(
        store.list_profiles().await,
        Ok(vec![minimal.clone(), full.clone()])
    );

    let mut changed = full.clone();
    changed.model = Some("other-model".into());
    changed.skills.clear();
    store.put_profile(&changed).await.expect("replace");
    assert_eq!(
        store.get_profile("reviewer").await,
        Ok(Some(changed.clone()))
    );
    assert_eq!(store.list_profiles().await.map(|p| p.len()), Ok(2));

    assert_eq!(store.delete_profile("reviewer").await, Ok(true));
    assert_eq!(store.delete_profile("reviewer").await, Ok(false));
    assert_eq!(store.get_profile("reviewer").await, Ok(None));
    assert_eq!(store.list_profiles().await, Ok(vec![minimal]));
    assert!(matches!(
        store.put_profile(&AgentProfile::default()).await,
        Err(StoreError::Invalid(_))
    ));
}

/// A new store (for SQL backends: freshly migrated from nothing) holds nothing.
pub async fn fresh_store_is_empty(t: TestStore) {
    let store = t.store;
    let page = store.list_sessions(None, 10).await.expect("list");
    assert_eq!((page.sessions, page.next_cursor), (vec![], None));
    assert_eq!(store.list_profiles().await, Ok(vec![]));
    assert_eq!(store.list_open(None, 10).await, Ok(vec![]));
    assert_eq!(store.get_session("s1").await, Ok(None));
    assert_eq!(store.last_seq("s1").await, Ok(0));
    assert!(!store.backend().is_empty());
}

/// Everything written is there after `close` and a reopen of the same storage, and the log
/// continues where it stopped. Passes without checking for backends that cannot reopen.
pub async fn reopen_keeps_everything(t: TestStore) {
    let Some(reopen) = t.reopen else {
        return;
    };
    let store = t.store;
    let mut s1 = create(&*store, "s1").await;
    s1.agent_session_id = Some("claude-session-1".into());
    s1.info.name = Some("kept".into());
    s1.info.updated_at = ts(30);
    store.update_session(&s1).await.expect("update");
    let s2 = session("s2", &ts(20));
    store.create_session(&s2).await.expect("create");
    let events = store
        .append_events("s1", &[delta("1"), delta("2"), delta("3")])
        .await
        .expect("append");
    let transcript = store
        .put_transcript("s1", "claude-session-1.jsonl", b"{\"line\":1}\n")
        .await
        .expect("transcript");
    let binary: Vec<u8> = (0..=255u8).collect();
    let file = store
        .put_file("s1", "bin/all.dat", &binary)
        .await
        .expect("file");
    let profile = full_profile("p1");
    store.put_profile(&profile).await.expect("profile");
    store.set_open("s2", true).await.expect("mark");
    store.close().await;

    let store = reopen().await;
    assert_eq!(store.list_open(None, 10).await, Ok(vec!["s2".to_string()]));
    let page = store.list_sessions(None, 10).await.expect("list");
    assert_eq!(page.sessions, vec![s2, s1.clone()]);
    assert_eq!(store.get_session("s1").await, Ok(Some(s1)));
    assert_eq!(store.read_events("s1", 0, 100).await, Ok(events));
    assert_eq!(store.list_transcripts("s1").await, Ok(vec![transcript]));
    assert_eq!(
        store.get_transcript("s1", "claude-session-1.jsonl").await,
        Ok(Some(b"{\"line\":1}\n".to_vec()))
    );
    assert_eq!(store.list_files("s1").await, Ok(vec![file]));
    assert_eq!(store.get_file("s1", "bin/all.dat").await, Ok(Some(binary)));
    assert_eq!(store.list_profiles().await, Ok(vec![profile]));

    let next = store
        .append_events("s1", &[delta("4")])
        .await
        .expect("append");
    assert_eq!(next[0].seq, 4);
    store.close().await;
}

/// After `close`, calls fail with `Closed`; closing again is harmless.
pub async fn closed_store_refuses_calls(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    store.close().await;
    assert_eq!(store.get_session("s1").await, Err(StoreError::Closed));
    assert_eq!(
        store
            .list_sessions(None, 10)
            .await
            .map(|p| p.sessions.len()),
        Err(StoreError::Closed)
    );
    assert_eq!(
        store.append_events("s1", &[delta("x")]).await,
        Err(StoreError::Closed)
    );
    assert_eq!(
        store.put_file("s1", "a", b"a").await,
        Err(StoreError::Closed)
    );
    assert_eq!(store.list_profiles().await, Err(StoreError::Closed));
    assert_eq!(store.set_open("s1", true).await, Err(StoreError::Closed));
    assert_eq!(store.list_open(None, 10).await, Err(StoreError::Closed));
    store.close().await;
}

pub(crate) fn full_profile(id: &str) -> AgentProfile {
    AgentProfile {
        id: id.into(),
        name: Some("Code reviewer".into()),
        model: Some("claude-sonnet".into()),
        system_prompt: None,
        append_system_prompt: Some("Be terse.".into()),
        instructions: Some("# Rules\n- Review diffs.\n".into()),
        skills: vec![SkillDef {
            name: "lint".into(),
            description: "Runs linters".into(),
            body: "Run `cargo clippy`.".into(),
        }],
        subagents: vec![SubagentDef {
            name: "explorer".into(),
            description: "Reads code".into(),
            prompt: "Explore.".into(),
            tools: Some(vec!["Read".into(), "Grep".into()]),
            model: None,
        }],
        commands: vec![CommandDef {
            name: "review".into(),
            description: None,
            body: "Review $ARGUMENTS".into(),
        }],
        allowed_tools: vec!["Bash(git *)".into()],
        disallowed_tools: vec!["WebFetch".into()],
        mcp_servers: BTreeMap::from([(
            "files".to_string(),
            json!({"command": "mcp-files", "args": ["--root", "/workspace"], "env": {}}),
        )]),
        env: BTreeMap::from([("LANG".to_string(), "C.UTF-8".to_string())]),
        files: vec![ProfileFile {
            path: "README.md".into(),
            content: "hello".into(),
        }],
        // Stored whole, secret values included: only the API hides them.
        sandbox: SandboxSettings {
            network: NetworkSettings {
                policy: Some(NetworkPolicy::Allowlist),
                allow: Some(vec!["*.github.com".into(), "registry.npmjs.org:443".into()]),
            },
            limits: LimitSettings {
                memory_bytes: Some(1 << 30),
                cpus: Some(1.5),
                ..LimitSettings::default()
            },
            secrets: vec![ProfileSecret {
                name: "GITHUB_TOKEN".into(),
                value: Some("ghp_secret".into()),
                hosts: vec!["api.github.com".into()],
                header: None,
                format: Some("token {value}".into()),
                env: false,
            }],
            provider: Some(agent_runtime_protocol::SandboxProviderKind::Modal),
        },
        permission_mode: Some(PermissionMode::AcceptEdits),
        permissions: PermissionRules {
            allow: vec!["Bash(git status*)".into()],
            deny: vec!["Bash(rm *)".into()],
            ask: vec!["Write(src/**)".into()],
        },
        approval_timeout_secs: Some(600),
        budget: Budget {
            max_cost_usd: Some(2.5),
            max_turns: Some(40),
            max_turn_secs: None,
        },
    }
}
