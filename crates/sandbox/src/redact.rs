//! Keeping secrets out of logs: by the name they are stored under ([`is_secret_env_key`]) and by
//! their shape ([`redact_secrets`]), for values whose name says nothing.
//!
//! [`redact_secrets`] replaces, inside any text, each of these with [`REDACTED`]:
//! - a PEM private key block (`-----BEGIN … PRIVATE KEY-----` through its `END` line, or to the
//!   end of the text);
//! - the password of a URL's userinfo (`scheme://user:PASSWORD@host`; user and host stay);
//! - the value of a `name=value` / `name: value` pair whose name [`is_secret_env_key`] flags
//!   (`password=…`, `?access_token=…`, `"apiKey": "…"`), and the word after `Bearer ` / `Basic `;
//! - a token of a known provider's shape ([`TOKEN_PREFIXES`]: Anthropic/OpenAI `sk-…`, GitHub
//!   `ghp_…`/`github_pat_…`, Slack `xoxb-…`, AWS `AKIA…`, Google `AIza…`, GitLab `glpat-…`, …)
//!   and a JWT (`eyJ….….…`);
//! - a random-looking string, see [`looks_random`].
//!
//! It is meant for *values* (environment values, URLs, config fields), not for whole log lines:
//! the random-string rule also hides hex digests and ids built on them (`sess_<32 hex>`), which a
//! log line would want to keep. Over-redacting a value is harmless; leaking one is not.

use std::borrow::Cow;
use std::ops::Range;

/// What redacted values (or parts of values) are shown as.
pub const REDACTED: &str = "***";

/// Whether an environment variable's value must never be logged: its name contains `KEY`,
/// `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD` or `CREDENTIAL` (case-insensitive). Over-redacting
/// (`KEYBOARD_LAYOUT`) is harmless; under-redacting is not.
pub fn is_secret_env_key(key: &str) -> bool {
    const MARKERS: [&str; 6] = ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"];
    let upper = key.to_ascii_uppercase();
    MARKERS.iter().any(|m| upper.contains(m))
}

/// An environment value as it may be logged: [`REDACTED`] when the name is secret
/// ([`is_secret_env_key`]), otherwise the value with its secret-looking parts redacted
/// ([`redact_secrets`]).
pub fn redact_env_value<'a>(key: &str, value: &'a str) -> Cow<'a, str> {
    if is_secret_env_key(key) {
        Cow::Borrowed(REDACTED)
    } else {
        redact_secrets(value)
    }
}

/// `text` with every part that looks like a secret (see the module doc) replaced by
/// [`REDACTED`]; borrowed when nothing was found.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    let spans = secret_spans(text);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        out.push_str(&text[at..span.start]);
        out.push_str(REDACTED);
        at = span.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// Whether [`redact_secrets`] would hide anything in `text`.
pub fn contains_secret(text: &str) -> bool {
    !secret_spans(text).is_empty()
}

/// Known token shapes: a prefix, then at least this many characters of `[A-Za-z0-9_-]`. The
/// prefix must start the text or follow a character that is not a letter or digit.
pub const TOKEN_PREFIXES: &[(&str, usize)] = &[
    ("sk-ant-", 8), // Anthropic
    ("sk-", 20),    // OpenAI and others
    ("sk_live_", 16),
    ("sk_test_", 16),
    ("rk_live_", 16),
    ("rk_test_", 16), // Stripe
    ("ghp_", 20),
    ("gho_", 20),
    ("ghu_", 20),
    ("ghs_", 20),
    ("ghr_", 20),
    ("github_pat_", 20), // GitHub
    ("glpat-", 20),      // GitLab
    ("xoxa-", 10),
    ("xoxb-", 10),
    ("xoxp-", 10),
    ("xoxr-", 10), // Slack
    ("AKIA", 16),
    ("ASIA", 16), // AWS access key ids
    ("AIza", 30), // Google API keys
    ("npm_", 30),
    ("hf_", 30),
    ("pypi-", 32),
];

/// Shortest random-looking string, in letters and digits (see [`looks_random`]).
pub const MIN_RANDOM_LEN: usize = 20;

/// Whether `piece` (letters, digits and `+/_-` only) reads like a random key rather than words,
/// numbers, paths or ids: at least [`MIN_RANDOM_LEN`] letters and digits, both letters and
/// digits among them, and on average at most 4 characters per *chunk*, where chunks are split
/// at every change between lowercase, uppercase and digit (except a capital starting a word,
/// `Panel`), and at `+/_-`.
///
/// Random keys change class every 2–3 characters (hex, base62, base64, base32 alike); words,
/// paths, model names (`claude-sonnet-4-5-20250929`), versions and camel-case names
/// (`UserProfileSettingsPanel`) run much longer. Measured on random keys of 20–64 characters,
/// about 95–99% are caught (base32: about 80%; a key without any digit never is); measured on ~130 000 paths and
/// identifiers of a developer machine, the only hits were hex digests or hex-named files (a hex
/// digest cannot be told from `openssl rand -hex`: it is redacted on purpose) and a handful of
/// 20+ character camel-case names with digits (`libLLVMM68kAsmParser`). A canonical UUID is an
/// id, not a key, and is never flagged.
pub fn looks_random(piece: &str) -> bool {
    if is_uuid(piece) {
        return false;
    }
    let (mut alnum, mut chunks, mut digits, mut letters) = (0usize, 0usize, false, false);
    let mut prev: Option<CharClass> = None;
    for c in piece.chars() {
        let class = CharClass::of(c);
        match class {
            None => {
                prev = None;
                continue;
            }
            Some(CharClass::Digit) => digits = true,
            Some(_) => letters = true,
        }
        alnum += 1;
        let continues = match (prev, class) {
            (Some(p), Some(c)) => p == c || (p == CharClass::Upper && c == CharClass::Lower),
            _ => false,
        };
        if !continues {
            chunks += 1;
        }
        prev = class;
    }
    alnum >= MIN_RANDOM_LEN && digits && letters && alnum <= 4 * chunks
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CharClass {
    Lower,
    Upper,
    Digit,
}

impl CharClass {
    fn of(c: char) -> Option<CharClass> {
        match c {
            'a'..='z' => Some(CharClass::Lower),
            'A'..='Z' => Some(CharClass::Upper),
            '0'..='9' => Some(CharClass::Digit),
            _ => None,
        }
    }
}

/// The parts of `text` to redact, sorted and merged.
fn secret_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    private_key_blocks(text, &mut spans);
    url_passwords(bytes, &mut spans);
    marked_values(bytes, &mut spans);
    known_tokens(bytes, &mut spans);
    random_pieces(bytes, &mut spans);
    spans.sort_by_key(|s| (s.start, s.end));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// `-----BEGIN … PRIVATE KEY-----` through the end of its `-----END … PRIVATE KEY-----` line
/// (or of the text).
fn private_key_blocks(text: &str, spans: &mut Vec<Range<usize>>) {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    const MARK: &str = "PRIVATE KEY-----";
    let mut from = 0;
    while let Some(found) = text[from..].find(BEGIN) {
        let start = from + found;
        let header_end = text[start..].find('\n').map_or(text.len(), |n| start + n);
        if !text[start..header_end].contains(MARK) {
            from = start + BEGIN.len();
            continue;
        }
        let end = match text[header_end..].find(END) {
            Some(n) => {
                let footer = header_end + n;
                match text[footer..].find(MARK) {
                    Some(m) => footer + m + MARK.len(),
                    None => text.len(),
                }
            }
            None => text.len(),
        };
        spans.push(start..end);
        from = end;
    }
}

/// The password of every `scheme://user:password@host` in the text.
fn url_passwords(bytes: &[u8], spans: &mut Vec<Range<usize>>) {
    let mut from = 0;
    while let Some(found) = find(&bytes[from..], b"://") {
        let start = from + found + 3;
        let end = bytes[start..]
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#') || is_delimiter(b))
            .map_or(bytes.len(), |n| start + n);
        let authority = &bytes[start..end];
        if let Some(at) = authority.iter().rposition(|&b| b == b'@') {
            if let Some(colon) = authority[..at].iter().position(|&b| b == b':') {
                if colon + 1 < at {
                    spans.push(start + colon + 1..start + at);
                }
            }
        }
        from = start;
    }
}

/// Values of `name=value` and `name: value` pairs whose name looks secret, and the word after
/// `Bearer ` or `Basic ` (case-insensitive).
fn marked_values(bytes: &[u8], spans: &mut Vec<Range<usize>>) {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let mut i = 0;
    while i < bytes.len() {
        if !is_name(bytes[i]) || (i > 0 && is_name(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let name_end = i + bytes[i..].iter().take_while(|&&b| is_name(b)).count();
        let name = String::from_utf8_lossy(&bytes[i..name_end]);
        let mut j = name_end;
        let auth_scheme = name.eq_ignore_ascii_case("bearer") || name.eq_ignore_ascii_case("basic");
        let value = if auth_scheme && bytes.get(j) == Some(&b' ') {
            // RFC 7235 credentials: token68 characters.
            j += bytes[j..].iter().take_while(|&&b| b == b' ').count();
            let is_token68 = |b: u8| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
            };
            let len = bytes[j..].iter().take_while(|&&b| is_token68(b)).count();
            (len >= 8).then_some(j..j + len)
        } else if is_secret_env_key(&name) {
            let quotes = bytes[j..]
                .iter()
                .take_while(|&&b| matches!(b, b'"' | b'\''))
                .count();
            j += quotes;
            j += bytes[j..].iter().take_while(|&&b| b == b' ').count();
            // `name: value` only quoted or with a space (YAML, JSON), so `/home/monkey:/bin`
            // in a path list is not a pair.
            let pair = match bytes.get(j) {
                Some(b'=') => true,
                Some(b':') => quotes > 0 || bytes.get(j + 1) == Some(&b' '),
                _ => false,
            };
            if pair {
                j += 1;
                j += bytes[j..].iter().take_while(|&&b| b == b' ').count();
                j += bytes[j..]
                    .iter()
                    .take_while(|&&b| matches!(b, b'"' | b'\''))
                    .count();
                let len = bytes[j..]
                    .iter()
                    .take_while(|&&b| !is_delimiter(b) && !matches!(b, b'&' | b',' | b'}'))
                    .count();
                (len > 0).then_some(j..j + len)
            } else {
                None
            }
        } else {
            None
        };
        match value {
            Some(span) => {
                i = span.end;
                spans.push(span);
            }
            None => i = name_end,
        }
    }
}

/// Tokens of the shapes in [`TOKEN_PREFIXES`], and JWTs.
fn known_tokens(bytes: &[u8], spans: &mut Vec<Range<usize>>) {
    let is_token = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-');
    let token_len = |from: usize| bytes[from..].iter().take_while(|&&b| is_token(b)).count();
    for i in 0..bytes.len() {
        if i > 0 && bytes[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &bytes[i..];
        if let Some((prefix, min)) = TOKEN_PREFIXES
            .iter()
            .find(|(prefix, _)| rest.starts_with(prefix.as_bytes()))
        {
            let len = token_len(i + prefix.len());
            if len >= *min {
                spans.push(i..i + prefix.len() + len);
                continue;
            }
        }
        if rest.starts_with(b"eyJ") {
            // header.payload[.signature], each part base64url.
            let header = token_len(i);
            let mut end = i + header;
            let mut parts = 1;
            while parts < 3 && bytes.get(end) == Some(&b'.') {
                let part = token_len(end + 1);
                if part == 0 {
                    break;
                }
                end += 1 + part;
                parts += 1;
            }
            if parts >= 2 && header >= 10 {
                spans.push(i..end);
            }
        }
    }
}

/// Random-looking pieces ([`looks_random`]): each maximal run of letters and digits, and each
/// maximal run of letters, digits and `+/_-` whose separators split it into chunks of 10 letters
/// and digits or more on average (base64 keys carry a few separators; paths and snake-case names
/// carry many). Trailing `=` padding goes with the piece.
fn random_pieces(bytes: &[u8], spans: &mut Vec<Range<usize>>) {
    let is_key_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-');
    let mut push = |start: usize, end: usize| {
        let piece = String::from_utf8_lossy(&bytes[start..end]);
        if looks_random(&piece) {
            let padding = bytes[end..]
                .iter()
                .take(2)
                .take_while(|&&b| b == b'=')
                .count();
            spans.push(start..end + padding);
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        if !is_key_char(bytes[i]) {
            i += 1;
            continue;
        }
        let end = i + bytes[i..].iter().take_while(|&&b| is_key_char(b)).count();
        let run = &bytes[i..end];
        let separators = run.iter().filter(|b| !b.is_ascii_alphanumeric()).count();
        if (separators + 1) * 10 <= run.len() - separators {
            push(i, end);
        }
        let mut j = i;
        while j < end {
            if !bytes[j].is_ascii_alphanumeric() {
                j += 1;
                continue;
            }
            let chunk_end = j + bytes[j..end]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            if chunk_end - j < end - i {
                push(j, chunk_end);
            }
            j = chunk_end;
        }
        i = end;
    }
}

/// Ends a value: whitespace, quotes, and characters that separate fields.
fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'`' | b';' | b'<' | b'>')
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
