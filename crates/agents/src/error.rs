//! Errors of the agents crate.

/// Why an agent-level request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// A path or name that would escape its directory or is otherwise unusable.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidPath {
        /// What the value names (`transcript file name`, `skill name`, ...).
        what: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// Checks that `path` is relative and stays below its root: not empty, not absolute, and no
/// empty, `.` or `..` component, no backslash and no NUL.
pub(crate) fn validate_relative_path(what: &'static str, path: &str) -> Result<(), AgentError> {
    let invalid = |reason| {
        Err(AgentError::InvalidPath {
            what,
            value: path.to_string(),
            reason,
        })
    };
    if path.is_empty() {
        return invalid("is empty");
    }
    if path.starts_with('/') {
        return invalid("is absolute");
    }
    if path.contains('\\') || path.contains('\0') {
        return invalid("contains a backslash or NUL");
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return invalid("has an empty, '.' or '..' component");
    }
    Ok(())
}

/// Checks that `name` is a single path component (see [`validate_relative_path`]).
pub(crate) fn validate_file_name(what: &'static str, name: &str) -> Result<(), AgentError> {
    validate_relative_path(what, name)?;
    if name.contains('/') {
        return Err(AgentError::InvalidPath {
            what,
            value: name.to_string(),
            reason: "contains '/'",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_validated() {
        for ok in ["a", "a/b.md", ".claude/x", "a..b"] {
            assert!(validate_relative_path("p", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            "./a",
            "a//b",
            "a\\b",
            "a/",
        ] {
            assert!(validate_relative_path("p", bad).is_err(), "{bad}");
        }
        assert!(validate_file_name("n", "a/b").is_err());
        assert!(validate_file_name("n", "ab").is_ok());
    }
}
