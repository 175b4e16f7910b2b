use pretty_assertions::assert_eq;

use super::*;

fn redacted(text: &str) -> String {
    redact_secrets(text).into_owned()
}

#[test]
fn secret_keys_are_recognised() {
    let secret: Vec<bool> = [
        "OPENAI_API_KEY",
        "token",
        "AWS_SECRET_ACCESS_KEY",
        "db_password",
        "PATH",
        "HOME",
    ]
    .iter()
    .map(|k| is_secret_env_key(k))
    .collect();
    assert_eq!(secret, vec![true, true, true, true, false, false]);
    assert_eq!(redact_env_value("GITHUB_TOKEN", "anything"), REDACTED);
    assert_eq!(redact_env_value("HOME", "/home/agent"), "/home/agent");
}

#[test]
fn known_token_shapes_are_redacted_wherever_they_stand() {
    let tokens = [
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AA",
        "sk-ant-test1234",
        "sk-proj-abcdefghijklmnopqrstuvwxyzABCD",
        "sk_live_abcdefghijklmnop1234",
        "ghp_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        "gho_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        "ghs_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz",
        "xoxb-123456789012-abcdefghijkl",
        "xoxp-123456789012-123456789012-abcdef",
        "AKIAIOSFODNN7EXAMPLE",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        "glpat-abcdefghijklmnopqrst",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJlLWJ5dGVz",
    ];
    for token in tokens {
        assert_eq!(redacted(token), REDACTED, "{token}");
        assert_eq!(
            redacted(&format!("--auth={token},next")),
            "--auth=***,next",
            "{token}"
        );
        assert!(contains_secret(token), "{token}");
    }
    // Prefixes inside words, or too short to be tokens, are not tokens.
    for text in ["task-runner", "desk-lamp-2", "ghp_short", "xoxb-1", "AKIA"] {
        assert_eq!(redacted(text), text);
    }
}

#[test]
fn urls_lose_only_their_password() {
    let cases = [
        (
            "postgres://app:hunter2@db:5432/agent",
            "postgres://app:***@db:5432/agent",
        ),
        ("redis://:pw@cache/0", "redis://:***@cache/0"),
        ("https://u:p@ss@host/x?y=1", "https://u:***@host/x?y=1"),
        (
            "mirror https://bot:hunter2@git.example.com/a.git and https://example.com",
            "mirror https://bot:***@git.example.com/a.git and https://example.com",
        ),
        ("https://user@host/path", "https://user@host/path"),
        ("http://10.0.2.2:8080", "http://10.0.2.2:8080"),
        (
            "http://[::1]:3000/v1/messages",
            "http://[::1]:3000/v1/messages",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(redacted(text), expected, "{text}");
    }
}

#[test]
fn values_named_secret_inside_a_value_are_redacted() {
    let cases = [
        (
            "host=db user=app password=hunter2 sslmode=require",
            "host=db user=app password=*** sslmode=require",
        ),
        (
            "https://example.com/cb?access_token=abc123&state=xyz",
            "https://example.com/cb?access_token=***&state=xyz",
        ),
        (
            r#"{"apiKey": "abc", "model": "m"}"#,
            r#"{"apiKey": "***", "model": "m"}"#,
        ),
        ("--api-key=abc --verbose", "--api-key=*** --verbose"),
        (
            "Authorization: Bearer abc.def-ghi_jkl",
            "Authorization: Bearer ***",
        ),
        ("basic needs", "basic needs"),
        ("secret: hunter2", "secret: ***"),
        ("model=gemini-2.5-pro", "model=gemini-2.5-pro"),
        ("/home/monkey:/usr/bin", "/home/monkey:/usr/bin"),
    ];
    for (text, expected) in cases {
        assert_eq!(redacted(text), expected, "{text}");
    }
}

#[test]
fn private_keys_are_redacted_whole() {
    let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAAbm9uZQ\n-----END OPENSSH PRIVATE KEY-----";
    assert_eq!(redacted(&format!("key:\n{pem}\ntail")), "key:\n***\ntail");
    assert_eq!(
        redacted("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA (cut)"),
        REDACTED
    );
    let certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    assert_eq!(redacted(certificate), certificate);
}

/// Values an agent's environment or a config really holds: none of them is a secret.
#[test]
fn ordinary_values_are_kept() {
    let values = [
        "/usr/local/bin:/usr/bin:/bin",
        "/home/agent/.claude/agent-runtime-mcp.json",
        "/opt/agent-tools/_anthropic-ai_claude-code@2.1.328/node_modules/@anthropic-ai/claude-code-linux-x64/claude",
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30",
        "/tmp/.tmpPjQRXR/.gemini/tmp/workspace/src/components/UserProfileSettingsPanel.tsx",
        "7223e9e9-a274-45e8-910c-9bbb0eceefb9",
        "11111111-2222-3333-4444-555555555555",
        "session-2026-01-01T00-00-7223e9e9.jsonl",
        "claude-sonnet-4-5-20250929",
        "gemini-2.5-flash-preview-05-20",
        "x86_64-unknown-linux-gnu",
        "node-v20.11.1-linux-x64",
        "python3.11/site-packages/numpy-1.26.4.dist-info",
        "2026-01-01T00:00:00.000Z",
        "--max-old-space-size=4096",
        "en_US.UTF-8",
        "xterm-256color",
        "America/Los_Angeles",
        "GOOGLE_GEMINI_BASE_URL",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        "@google/gemini-cli@0.61.0",
        "org.apache.commons.lang3.StringUtils",
        "1",
        "true",
        "",
    ];
    for value in values {
        assert_eq!(redacted(value), value);
        assert!(matches!(redact_secrets(value), Cow::Borrowed(_)), "{value}");
    }
}

/// Decided on purpose (see [`looks_random`]): a hex digest cannot be told from a hex secret, so
/// it is redacted, and so is an id made of one.
#[test]
fn hex_digests_and_hex_ids_count_as_secrets() {
    let sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    assert_eq!(redacted(sha256), REDACTED);
    assert_eq!(redacted("sess_0f3c9a7be2d14c55a1e0b9d2c4f6a8e1"), REDACTED);
}

/// A tiny deterministic generator, so the recall test is reproducible without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

/// Random keys of every common alphabet are caught (most of them: a random string may look
/// ordinary by chance, and a key without a digit never counts as random). Base32 is the weakest:
/// few digits, long runs of capitals.
#[test]
fn random_keys_are_caught() {
    const HEX: &[u8] = b"0123456789abcdef";
    const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const BASE62: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const BASE64: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    const BASE64URL: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut rates = Vec::new();
    for (name, alphabet, len, at_least) in [
        ("hex 32", HEX, 32, 0.95),
        ("hex 64", HEX, 64, 0.98),
        ("base32 26", BASE32, 26, 0.75),
        ("base62 20", BASE62, 20, 0.90),
        ("base62 40", BASE62, 40, 0.97),
        ("base64 32", BASE64, 32, 0.90),
        ("base64 44", BASE64, 44, 0.90),
        ("base64url 43", BASE64URL, 43, 0.90),
    ] {
        let caught = (0..1000)
            .filter(|_| {
                let key = rng.string(alphabet, len);
                redacted(&format!("value {key} end")) != format!("value {key} end")
            })
            .count();
        let rate = caught as f64 / 1000.0;
        rates.push((name, rate));
        assert!(rate >= at_least, "{name}: {rate}; all: {rates:?}");
    }
}
