//! `ModalError`, what goes wrong talking to Modal, and its mapping into
//! [`SandboxError`] (which has no Modal variant: a Modal failure becomes
//! [`SandboxError::Io`] with this error as its source, so the message names the RPC and
//! Modal's status).

use std::io;
use std::time::Duration;

use agent_runtime_sandbox::SandboxError;

/// A failure of the Modal provider.
#[derive(Debug, thiserror::Error)]
pub enum ModalError {
    /// Modal answered an RPC with an error status that is not worth retrying.
    #[error("Modal {rpc} failed: {code:?}: {message}")]
    Rpc {
        rpc: &'static str,
        code: tonic::Code,
        message: String,
    },
    /// Transient failures (unavailable, deadline exceeded, broken connections) went on past
    /// the retry policy.
    #[error("Modal {rpc} failed {attempts} times over {elapsed:?}; last: {code:?}: {message}")]
    Exhausted {
        rpc: &'static str,
        attempts: u32,
        elapsed: Duration,
        code: tonic::Code,
        message: String,
    },
    /// The configuration cannot work (a bad URL, a token that is not ASCII, ...).
    #[error("invalid Modal configuration: {0}")]
    Config(String),
    /// Modal could not build the sandbox image.
    #[error("building the Modal image failed: {0}")]
    ImageBuild(String),
    /// The Modal sandbox ended (terminated, timed out, crashed) while it was needed.
    #[error("Modal sandbox {sandbox_id} has ended: {reason}")]
    SandboxEnded { sandbox_id: String, reason: String },
    /// Something inside the sandbox did not behave (a helper command failed, the tunnel's
    /// stream was corrupt, ...).
    #[error("{0}")]
    Protocol(String),
}

impl ModalError {
    /// The gRPC code behind this error, if it came from one.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Self::Rpc { code, .. } | Self::Exhausted { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether Modal said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(tonic::Code::NotFound)
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self.code() {
            Some(tonic::Code::NotFound) => io::ErrorKind::NotFound,
            Some(tonic::Code::Unauthenticated | tonic::Code::PermissionDenied) => {
                io::ErrorKind::PermissionDenied
            }
            Some(tonic::Code::DeadlineExceeded) => io::ErrorKind::TimedOut,
            _ if matches!(self, Self::Exhausted { .. }) => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Other,
        }
    }

    /// The [`SandboxError`] for this failure while doing `context`.
    pub fn into_sandbox_error(self, context: impl Into<String>) -> SandboxError {
        if let Self::Config(message) = self {
            return SandboxError::InvalidConfig(message);
        }
        SandboxError::Io {
            context: context.into(),
            source: io::Error::new(self.io_kind(), self),
        }
    }
}

impl From<ModalError> for SandboxError {
    fn from(error: ModalError) -> Self {
        error.into_sandbox_error("Modal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn messages_name_the_rpc_and_status() {
        let error = ModalError::Rpc {
            rpc: "SandboxCreate",
            code: tonic::Code::InvalidArgument,
            message: "bad image".into(),
        }
        .into_sandbox_error("creating sandbox s1");
        assert_eq!(
            error.to_string(),
            "creating sandbox s1: Modal SandboxCreate failed: InvalidArgument: bad image"
        );
        let exhausted = ModalError::Exhausted {
            rpc: "SandboxList",
            attempts: 3,
            elapsed: Duration::from_millis(700),
            code: tonic::Code::Unavailable,
            message: "connection refused".into(),
        };
        assert_eq!(exhausted.io_kind(), io::ErrorKind::TimedOut);
        assert!(matches!(
            ModalError::Config("x".into()).into_sandbox_error("c"),
            SandboxError::InvalidConfig(_)
        ));
    }
}
