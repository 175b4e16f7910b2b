//! Workspace files: list, read (raw bytes), write (raw body), delete.
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

pub async fn list_files(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<FileList>> {
    let files = state.runtime.list_files(&id).await?;
    Ok(Json(FileList { files }))
}

/// The raw content, with a guessed content type and the content hash as `x-sha256` and `ETag`
/// (a matching `If-None-Match` gets 304).
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
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(guess_content_type(&path)),
    );
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
}
