//! The Modal sandbox provider, made from the server's settings ([`crate::config_placement`]):
//! its image is the configured base plus the pinned agent CLIs, installed where the launch
//! specs made from this host's tools dir expect them (`/opt/agent-tools/<package>@<version>`).

use std::sync::Arc;

use agent_runtime_core::installer::image_install_commands;
use agent_runtime_modal::{ModalConfig, ModalImage, ModalProvider};
use agent_runtime_sandbox::{SandboxProvider, TOOLS_DIR};

use crate::config::ServerConfig;
use crate::config_placement::ModalSettings;
use crate::server::{agent_registry, ServeError};

/// Makes the Modal provider and says where its sandboxes run, for `GET /api/agents`.
pub(crate) async fn start_modal_provider(
    config: &ServerConfig,
    settings: &ModalSettings,
) -> Result<(Arc<dyn SandboxProvider>, String), ServeError> {
    let agents = agent_registry(config)?;
    let modal = modal_config(settings, image_install_commands(agents.all(), TOOLS_DIR));
    let provider = ModalProvider::new(modal)?;
    tracing::info!(
        server = %settings.server_url,
        app = %settings.app,
        image = %settings.image,
        "Modal sandboxes available"
    );
    Ok((Arc::new(provider), describe(settings)))
}

/// The provider's config: the settings, and an image that installs the agent CLIs.
fn modal_config(settings: &ModalSettings, commands: Vec<String>) -> ModalConfig {
    ModalConfig {
        server_url: settings.server_url.clone(),
        environment: settings.environment.clone(),
        app_name: settings.app.clone(),
        image: ModalImage {
            base: settings.image.clone(),
            commands,
        },
        ..ModalConfig::new(settings.token_id.clone(), settings.token_secret.clone())
    }
}

/// `Modal app <app>` (and the environment and server when they are not the defaults).
fn describe(settings: &ModalSettings) -> String {
    let mut text = format!("Modal app {}", settings.app);
    if let Some(environment) = &settings.environment {
        text.push_str(&format!(" in environment {environment}"));
    }
    if settings.server_url != crate::config_placement::DEFAULT_MODAL_SERVER_URL {
        text.push_str(&format!(" at {}", settings.server_url));
    }
    text
}
