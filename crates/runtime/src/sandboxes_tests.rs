//! The reconciler's decisions, against a provider that only lists and terminates.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use agent_runtime_protocol::SandboxProviderKind;
use agent_runtime_sandbox::{
    Enforcement, Labels, Sandbox, SandboxError, SandboxListing, SandboxProvider, SandboxRequest,
};
use async_trait::async_trait;
use pretty_assertions::assert_eq;

use super::*;

/// Lists what it was given (filtered by label, as providers do) and records terminations.
#[derive(Default)]
struct Listed {
    sandboxes: Mutex<Vec<SandboxListing>>,
    terminated: Mutex<Vec<String>>,
}

#[async_trait]
impl SandboxProvider for Listed {
    fn name(&self) -> &'static str {
        "listed"
    }
    async fn create(
        &self,
        _req: SandboxRequest,
    ) -> std::result::Result<Arc<dyn Sandbox>, SandboxError> {
        Err(SandboxError::InvalidConfig("not here".into()))
    }
    fn enforcement(&self) -> Vec<Enforcement> {
        Vec::new()
    }
    async fn list(
        &self,
        labels: &Labels,
    ) -> std::result::Result<Vec<SandboxListing>, SandboxError> {
        let all = self.sandboxes.lock().unwrap();
        Ok(all
            .iter()
            .filter(|l| agent_runtime_sandbox::labels_match(&l.labels, labels))
            .cloned()
            .collect())
    }
    async fn terminate(&self, provider_id: &str) -> std::result::Result<(), SandboxError> {
        self.sandboxes
            .lock()
            .unwrap()
            .retain(|l| l.provider_id != provider_id);
        self.terminated.lock().unwrap().push(provider_id.to_owned());
        Ok(())
    }
}

fn listing(id: &str, labels: Labels) -> SandboxListing {
    SandboxListing {
        sandbox_id: id.to_owned(),
        provider_id: format!("sb-{id}"),
        labels,
    }
}

fn identity(node: Option<&str>) -> Identity {
    Identity {
        install: "inst".into(),
        instance: "me".into(),
        node: node.map(str::to_owned),
    }
}

fn labelled(instance: &str, node: Option<&str>, install: &str) -> Labels {
    let mut labels = sandbox_labels(&identity(node), "s1");
    labels.insert(LABEL_INSTANCE.into(), instance.into());
    labels.insert(LABEL_INSTALL.into(), install.into());
    labels
}

#[tokio::test]
async fn a_single_node_keeps_what_it_holds_and_terminates_the_rest_of_its_installation() {
    let provider = Arc::new(Listed::default());
    *provider.sandboxes.lock().unwrap() = vec![
        listing("held", labelled("me", None, "inst")),
        listing("leaked", labelled("me", None, "inst")),
        listing("dead-run", labelled("before", None, "inst")),
        listing("other-install", labelled("before", None, "elsewhere")),
    ];
    let providers = SandboxProviders::single(SandboxProviderKind::Modal, provider.clone(), "test");
    let held = HeldSandboxes::default();
    held.hold((SandboxProviderKind::Modal, "held".to_owned()));
    let done = reconcile(&providers, &held, &identity(None), None).await;
    assert_eq!(
        done,
        Reconciled {
            adopted: 1,
            terminated: 2,
            failed: 0
        }
    );
    let mut terminated = provider.terminated.lock().unwrap().clone();
    terminated.sort();
    assert_eq!(terminated, ["sb-dead-run", "sb-leaked"]);
    // Held under another provider's kind does not count.
    let held_local = HeldSandboxes::default();
    held_local.hold((SandboxProviderKind::Local, "held".to_owned()));
    let done = reconcile(&providers, &held_local, &identity(None), None).await;
    assert_eq!(done.terminated, 1);
}

#[tokio::test]
async fn a_node_leaves_live_nodes_sandboxes_and_ends_dead_nodes_and_its_own_earlier_runs() {
    let provider = Arc::new(Listed::default());
    *provider.sandboxes.lock().unwrap() = vec![
        listing("b-live", labelled("b1", Some("b"), "inst")),
        listing("c-dead", labelled("c1", Some("c"), "inst")),
        listing("a-before-restart", labelled("a0", Some("a"), "inst")),
        listing("a-now", labelled("me", Some("a"), "inst")),
    ];
    let providers = SandboxProviders::single(SandboxProviderKind::Modal, provider.clone(), "test");
    let held = HeldSandboxes::default();
    held.hold((SandboxProviderKind::Modal, "a-now".to_owned()));
    let live: HashSet<String> = ["a".to_owned(), "b".to_owned()].into_iter().collect();
    let done = reconcile(&providers, &held, &identity(Some("a")), Some(&live)).await;
    assert_eq!(
        done,
        Reconciled {
            adopted: 2,
            terminated: 2,
            failed: 0
        }
    );
    let mut terminated = provider.terminated.lock().unwrap().clone();
    terminated.sort();
    assert_eq!(terminated, ["sb-a-before-restart", "sb-c-dead"]);
}

#[test]
fn labels_name_the_installation_the_process_and_the_purpose() {
    let labels = sandbox_labels(
        &identity(Some("node-1")),
        "0190e9a3-5c2b-7d4e-9f10-2b3c4d5e6f70",
    );
    assert_eq!(labels[LABEL_INSTALL], "inst");
    assert_eq!(labels[LABEL_INSTANCE], "me");
    assert_eq!(labels[LABEL_NODE], "node-1");
    assert_eq!(
        labels[LABEL_PURPOSE],
        "0190e9a3-5c2b-7d4e-9f10-2b3c4d5e6f70"
    );
    assert!(agent_runtime_sandbox::validate_labels(&labels).is_ok());
    // A value no provider could store is hashed into one.
    let odd = sandbox_labels(
        &identity(Some(&node_label("node one/ünïcode"))),
        "session id/ünïcode",
    );
    assert!(agent_runtime_sandbox::validate_labels(&odd).is_ok());
    assert_eq!(odd[LABEL_NODE].len(), 24);
    assert_eq!(odd[LABEL_PURPOSE].len(), 24);
}

#[test]
fn a_late_handle_of_an_earlier_sandbox_releases_nothing_of_a_new_one_with_its_id() {
    let held = HeldSandboxes::default();
    let key = (SandboxProviderKind::Modal, "session-1".to_owned());
    let first = held.hold(key.clone());
    let second = held.hold(key.clone());
    held.release(&key, first);
    assert!(held.contains(SandboxProviderKind::Modal, "session-1"));
    held.release(&key, second);
    assert!(!held.contains(SandboxProviderKind::Modal, "session-1"));
}
