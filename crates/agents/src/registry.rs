//! [`AgentRegistry`]: the agents one runtime can run, built in and from its config file.

use std::sync::Arc;

use crate::acp::AcpAgentSpec;
use crate::kind::AgentKind;

/// The agents a runtime runs: the built-in ones, then the ACP agents its config names.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRegistry {
    agents: Vec<AgentKind>,
}

impl Default for AgentRegistry {
    /// The built-in agents only.
    fn default() -> Self {
        AgentRegistry {
            agents: AgentKind::builtin(),
        }
    }
}

impl AgentRegistry {
    /// The built-in agents and `custom` ones; each must be valid and have an id of its own.
    pub fn with_custom(custom: Vec<AcpAgentSpec>) -> Result<Self, String> {
        let mut registry = AgentRegistry::default();
        for spec in custom {
            spec.validate()?;
            if registry.get(&spec.id).is_some() {
                return Err(format!("agent id {:?} is taken", spec.id));
            }
            registry.agents.push(AgentKind::Acp(Arc::new(spec)));
        }
        Ok(registry)
    }

    /// Every agent, built-in ones first.
    pub fn all(&self) -> &[AgentKind] {
        &self.agents
    }

    /// The agent with wire id `id`.
    pub fn get(&self, id: &str) -> Option<&AgentKind> {
        self.agents.iter().find(|agent| agent.id() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelApi;

    fn spec(id: &str) -> AcpAgentSpec {
        AcpAgentSpec {
            id: id.into(),
            name: None,
            package: "@acme/agent".into(),
            version: "1.0.0".into(),
            extra_packages: Vec::new(),
            bin: vec!["node_modules/.bin/agent".into()],
            args: vec!["--acp".into()],
            model_api: ModelApi::Anthropic,
            env: Default::default(),
            default_model: None,
            transcript: Vec::new(),
            flavor: Default::default(),
        }
    }

    #[test]
    fn custom_agents_join_the_built_in_ones_under_ids_of_their_own() {
        let registry = AgentRegistry::with_custom(vec![spec("acme")]).unwrap();
        assert_eq!(registry.all().len(), AgentKind::builtin().len() + 1);
        let acme = registry.get("acme").unwrap();
        assert_eq!(acme.protocol(), "acp");
        assert!(!acme.capabilities().resume);
        assert!(registry.get("claude-code").is_some());
        let taken = AgentRegistry::with_custom(vec![spec("opencode")]).unwrap_err();
        assert!(taken.contains("taken"), "{taken}");
        assert!(AgentRegistry::with_custom(vec![spec("a b")]).is_err());
    }
}
