//! The web UI: `web/dist` (built from `web/` with the React package, and committed) embedded in
//! the binary and served as the router's fallback, so `agent-runtime serve` ships its UI without
//! npm at build time.
//!
//! - `GET /` and every file of `web/dist` (`/assets/*` are content-hashed and cached for ever;
//!   everything else is revalidated).
//! - SPA fallback: any other `GET` from a browser navigation (`Accept: text/html`) gets
//!   `index.html`, so client routes like `/sessions/<id>` survive a reload.
//! - Never shadows the API: `/api/*`, `/healthz`, `/openapi.json` and `/metrics` (and anything a
//!   non-browser client asks for) that no route answered stay `404 not_found` problems.
//!
//! `dist/build-info.json` holds the hash of the sources the build was made from; a test here
//! recomputes it, so a commit that changes the UI's sources without rebuilding fails. Rebuild
//! with `npm --prefix web ci && npm --prefix web run build`.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use include_dir::{include_dir, Dir};

use crate::error::ApiError;
use crate::rest::files::guess_content_type;

/// The built UI.
static DIST: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../web/dist");

/// Path prefixes that belong to the API; the UI never answers them.
const RESERVED: &[&str] = &["/api", "/healthz", "/openapi.json", "/metrics"];

/// Content-Security-Policy of the UI's pages: its own scripts and styles, its own API (HTTP and
/// WebSocket), images from workspace files (blob URLs), and no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The router's fallback: a UI file, `index.html` for a browser navigation, or a 404 problem.
pub async fn serve_ui(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::RouteNotFound.into_response();
    }
    let path = uri.path();
    if is_reserved(path) {
        return ApiError::RouteNotFound.into_response();
    }
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    if let Some(file) = DIST.get_file(relative) {
        return file_response(relative, file.contents());
    }
    if accepts_html(&headers) {
        if let Some(index) = DIST.get_file("index.html") {
            return file_response("index.html", index.contents());
        }
    }
    ApiError::RouteNotFound.into_response()
}

fn is_reserved(path: &str) -> bool {
    RESERVED.iter().any(|prefix| {
        path == *prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// A browser navigation asks for HTML; `fetch`, curl and API clients do not.
fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("text/html"))
}

fn file_response(path: &str, contents: &'static [u8]) -> Response {
    let mut response = (StatusCode::OK, Body::from(contents)).into_response();
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    // Vite names assets by content hash: they never change under the same name.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if path.ends_with(".html") {
        out.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        out.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("map") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => guess_content_type(path),
    }
}

#[cfg(test)]
#[path = "ui_tests.rs"]
mod tests;
