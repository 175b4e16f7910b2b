//! Workspace files: list, read (raw bytes), write (raw body), delete.
//!
//! The agent writes these files, so a read treats them as hostile content: `nosniff`, a
//! Content-Security-Policy that allows nothing and sandboxes the document, and
//! `Content-Disposition: attachment` unless the type is one a browser shows inertly (plain text
//! and raster images; never HTML, SVG, XML or scripts). Opened directly in a browser, a file
//! cannot run script on the server's origin.
//!
//! The `{*path}` parameter is percent-decoded by the router before the runtime validates it, so
//! `..%2F..%2Fetc%2Fpasswd` arrives as `../../etc/passwd` and is refused as `invalid_path`
//! like a literal `..` would be.

use agent_runtime_core::paths::validate_workspace_path;
use agent_runtime_protocol::{FileInfo, FileList};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;

/// Response header carrying the lowercase hex SHA-256 of a file's content.
pub const SHA256_HEADER: &str = "x-sha256";

/// Content-Security-Policy of a workspace file: no scripts, styles, frames or requests, and a
/// unique opaque origin should a browser render it anyway.
pub const FILE_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; sandbox";

pub async fn list_files(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<FileList>> {
    let files = state.runtime.list_files(&id).await?;
    Ok(Json(FileList { files }))
}

/// The raw content, with a guessed content type, the content hash as `x-sha256` and `ETag` (a
/// matching `If-None-Match` gets 304), and the headers of hostile content (see the module docs).
pub async fn read_file(
    State(state): State<AppState>,
    ApiPath((id, path)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let bytes = state.runtime.read_file(&id, &path).await?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let etag = format!("\"{sha256}\"");
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let status = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let body = if not_modified {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut response = (status, body).into_response();
    let content_type = guess_content_type(&path);
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FILE_CONTENT_SECURITY_POLICY),
    );
    if !is_shown_inline(content_type) {
        out.insert(
            header::CONTENT_DISPOSITION,
            header_value(&attachment_disposition(&path))?,
        );
    }
    out.insert(SHA256_HEADER, header_value(&sha256)?);
    out.insert(header::ETAG, header_value(&etag)?);
    Ok(response)
}

/// Writes the raw body: 201 when the file is new, 200 when it replaced one.
pub async fn write_file(
    State(state): State<AppState>,
    ApiPath((id, path)): ApiPath<(String, String)>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<(StatusCode, Json<FileInfo>)> {
    let body = body?;
    let path = validate_workspace_path(&path)?;
    let existed = state
        .runtime
        .list_files(&id)
        .await?
        .iter()
        .any(|f| f.path == path);
    let info = state.runtime.write_file(&id, &path, body.to_vec()).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(info)))
}

pub async fn delete_file(
    State(state): State<AppState>,
    ApiPath((id, path)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    state.runtime.delete_file(&id, &path).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn header_value(value: &str) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(value).map_err(|e| ApiError::Internal(format!("header value: {e}")))
}

/// Whether a browser may show this type inline: it cannot run script or load anything.
pub fn is_shown_inline(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    matches!(
        essence,
        "text/plain" | "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// `attachment` with the file's name: an ASCII `filename` in which anything but letters,
/// digits, `.`, `-`, `_` and spaces became `_`, and the exact name as RFC 8187 `filename*`.
pub fn attachment_disposition(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A content type from the file extension; `application/octet-stream` when unknown.
pub fn guess_content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => return "application/octet-stream",
    };
    match extension.as_str() {
        "txt" | "log" | "text" => "text/plain; charset=utf-8",
        "md" | "markdown" => "text/markdown; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "ts" | "tsx" | "jsx" | "rs" | "py" | "go" | "java" | "c" | "h" | "cpp" | "hpp" | "rb"
        | "sh" | "toml" | "yaml" | "yml" | "ini" | "cfg" | "sql" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/x-ndjson",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "wasm" => "application/wasm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_content_types_from_extensions() {
        assert_eq!(
            guess_content_type("a/b/README.md"),
            "text/markdown; charset=utf-8"
        );
        assert_eq!(guess_content_type("x.PNG"), "image/png");
        assert_eq!(guess_content_type("Makefile"), "application/octet-stream");
        assert_eq!(guess_content_type(".bashrc"), "application/octet-stream");
        assert_eq!(guess_content_type("data.bin"), "application/octet-stream");
    }

    #[test]
    fn only_inert_types_are_shown_inline() {
        for inline in [
            "a.txt", "a.log", "a.png", "a.JPG", "a.jpeg", "a.gif", "a.webp",
        ] {
            assert!(is_shown_inline(guess_content_type(inline)), "{inline}");
        }
        for attachment in [
            "a.html", "a.htm", "a.svg", "a.xml", "a.js", "a.mjs", "a.css", "a.md", "a.json",
            "a.pdf", "a.ico", "a.wasm", "a.bin", "Makefile",
        ] {
            assert!(
                !is_shown_inline(guess_content_type(attachment)),
                "{attachment}"
            );
        }
    }

    #[test]
    fn attachment_names_are_safe_in_a_header() {
        assert_eq!(
            attachment_disposition("site/index.html"),
            "attachment; filename=\"index.html\"; filename*=UTF-8''index.html"
        );
        assert_eq!(
            attachment_disposition("x/a\"b;c\\d é.svg"),
            "attachment; filename=\"a_b_c_d _.svg\"; filename*=UTF-8''a%22b%3Bc%5Cd%20%C3%A9.svg"
        );
        let control = attachment_disposition("a\r\nSet-Cookie: x=1.html");
        assert!(HeaderValue::from_str(&control).is_ok(), "{control}");
        assert!(!control.contains('\r') && !control.contains('\n'));
    }
}
