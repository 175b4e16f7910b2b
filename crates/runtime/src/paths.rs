//! Validation of client-supplied workspace paths.

use crate::error::{Result, RuntimeError};

/// Longest accepted path, in bytes.
const MAX_PATH_LEN: usize = 4096;

/// Normalizes a client path relative to the workspace, refusing anything that could escape it:
/// absolute paths, `..`, empty or `.` segments are rejected, not silently fixed.
pub fn validate_workspace_path(path: &str) -> Result<String> {
    let invalid = |why: &str| RuntimeError::InvalidPath(format!("{path:?}: {why}"));
    if path.is_empty() {
        return Err(invalid("empty"));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(invalid("too long"));
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Err(invalid("must be relative to the workspace"));
    }
    if path.contains('\0') || path.contains('\\') {
        return Err(invalid("contains a NUL byte or a backslash"));
    }
    let trimmed = path.trim_end_matches('/');
    for segment in trimmed.split('/') {
        match segment {
            "" | "." => return Err(invalid("empty or '.' segment")),
            ".." => return Err(invalid("escapes the workspace")),
            _ => {}
        }
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        assert_eq!(validate_workspace_path("a/b.txt").unwrap(), "a/b.txt");
        assert_eq!(
            validate_workspace_path("ünï cødé/ß.md").unwrap(),
            "ünï cødé/ß.md"
        );
    }

    #[test]
    fn rejects_escapes() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
            "a\0b",
            "..",
        ] {
            assert!(validate_workspace_path(bad).is_err(), "{bad:?} accepted");
        }
    }
}
