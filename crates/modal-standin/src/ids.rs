//! Object ids in Modal's shapes: `<prefix>-<22 base62 characters>`.
//!
//! The shape matters to Modal's Python client: a sandbox id of exactly `sb-` and 22 characters
//! of `[0-9A-Za-z]` is a "V1" sandbox (`_is_v1_sandbox_id`), which it drives with the `Sandbox*`
//! RPCs this stand-in serves; and a task id ending in `V` would mark a V2 task
//! (`_is_v2_task_id`), so task ids never end in `V`.

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The length of the random part of an id.
pub const ID_SUFFIX_LEN: usize = 22;

/// A fresh id with this prefix (`sb`, `ta`, `ap`, `im`, `st`, `en`).
pub fn new_id(prefix: &str) -> String {
    let mut value = u128::from_le_bytes(*uuid::Uuid::new_v4().as_bytes());
    let mut suffix = String::with_capacity(ID_SUFFIX_LEN);
    for _ in 0..ID_SUFFIX_LEN {
        suffix.push(char::from(ALPHABET[(value % 62) as usize]));
        value /= 62;
    }
    if prefix == "ta" && suffix.ends_with('V') {
        suffix.pop();
        suffix.push('v');
    }
    format!("{prefix}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_modals_v1_shape() {
        for _ in 0..200 {
            let id = new_id("sb");
            let suffix = id.strip_prefix("sb-").unwrap();
            assert_eq!(suffix.len(), ID_SUFFIX_LEN, "{id}");
            assert!(suffix.bytes().all(|b| ALPHABET.contains(&b)), "{id}");
            assert!(!new_id("ta").ends_with('V'));
        }
        assert_ne!(new_id("ap"), new_id("ap"));
    }
}
