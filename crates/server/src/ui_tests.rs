use std::path::{Path, PathBuf};

use axum::body::to_bytes;
use sha2::{Digest, Sha256};

use super::*;

/// What the UI build is made from, relative to the repository root. Keep in sync with
/// `SOURCES` / `EXCLUDED` in `web/scripts/source-hash.mjs`.
const SOURCES: &[&str] = &[
    "web/index.html",
    "web/package.json",
    "web/package-lock.json",
    "web/tsconfig.json",
    "web/vite.config.ts",
    "web/public",
    "web/src",
    "packages/react/package.json",
    "packages/react/src",
];
const EXCLUDED: &[&str] = &["packages/react/src/generated"];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn collect(root: &Path, relative: &str, out: &mut Vec<String>) {
    let absolute = root.join(relative);
    if !absolute.exists() || EXCLUDED.contains(&relative) {
        return;
    }
    if absolute.is_dir() {
        for entry in std::fs::read_dir(&absolute).expect("read source dir") {
            let name = entry.expect("dir entry").file_name();
            collect(root, &format!("{relative}/{}", name.to_string_lossy()), out);
        }
    } else {
        out.push(relative.to_string());
    }
}

/// The same hash `web/scripts/source-hash.mjs` writes into `dist/build-info.json`.
fn source_hash() -> String {
    let root = repo_root();
    let mut files = Vec::new();
    for source in SOURCES {
        collect(&root, source, &mut files);
    }
    files.sort();
    let mut hash = Sha256::new();
    for file in files {
        let bytes = std::fs::read(root.join(&file)).expect("read source file");
        hash.update(format!("{file}\n{}\n", bytes.len()).as_bytes());
        hash.update(&bytes);
        hash.update(b"\n");
    }
    hex::encode(hash.finalize())
}

#[test]
fn the_committed_ui_build_matches_its_sources() {
    let info = DIST
        .get_file("build-info.json")
        .expect("web/dist/build-info.json (build the UI: npm --prefix web run build)");
    let info: serde_json::Value = serde_json::from_slice(info.contents()).expect("valid JSON");
    assert_eq!(
        info["sourceHash"].as_str(),
        Some(source_hash().as_str()),
        "web/dist is stale: its sources changed since it was built; rebuild it with \
         `npm --prefix web ci && npm --prefix web run build` and commit web/dist"
    );
}

#[test]
fn index_html_references_only_embedded_assets() {
    let index = std::str::from_utf8(DIST.get_file("index.html").expect("index").contents())
        .expect("utf-8")
        .to_string();
    let mut referenced = 0;
    for part in index.split('"') {
        if let Some(asset) = part.strip_prefix("/assets/") {
            referenced += 1;
            assert!(
                DIST.get_file(format!("assets/{asset}")).is_some(),
                "index.html references a missing asset {asset}"
            );
        }
    }
    assert!(
        referenced >= 2,
        "index.html should load a script and a stylesheet"
    );
}

async fn get(path: &str, accept: Option<&str>) -> (StatusCode, HeaderMap, String) {
    get_with(Method::GET, path, accept).await
}

async fn get_with(
    method: Method,
    path: &str,
    accept: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let mut headers = HeaderMap::new();
    if let Some(accept) = accept {
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(accept).expect("header"),
        );
    }
    let response = serve_ui(method, path.parse().expect("uri"), headers).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn serves_the_index_and_hashed_assets() {
    let (status, headers, body) = get("/", Some(BROWSER_ACCEPT)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
    assert!(body.contains("<div id=\"root\">"));

    let asset = DIST
        .get_dir("assets")
        .and_then(|dir| {
            dir.files()
                .find(|f| f.path().extension().is_some_and(|e| e == "js"))
        })
        .expect("a script in assets/");
    let (status, headers, _) = get(&format!("/{}", asset.path().display()), Some("*/*")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
}

#[tokio::test]
async fn client_routes_get_the_index_only_for_browsers() {
    let (status, _, body) = get("/sessions/3f2a-some-id", Some(BROWSER_ACCEPT)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<div id=\"root\">"));
    for accept in [None, Some("*/*"), Some("application/json")] {
        let (status, headers, body) = get("/sessions/3f2a-some-id", accept).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{accept:?}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert!(body.contains("\"not_found\""), "{body}");
    }
}

#[tokio::test]
async fn never_shadows_the_api() {
    for path in [
        "/api",
        "/api/",
        "/api/nothing-here",
        "/api/sessions/x/unknown",
        "/healthz/x",
        "/openapi.json/x",
        "/metrics",
    ] {
        let (status, headers, _) = get(path, Some(BROWSER_ACCEPT)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{path}"
        );
    }
    // A page whose name merely starts like an API path is the UI's.
    let (status, _, _) = get("/apiary", Some(BROWSER_ACCEPT)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn other_methods_are_not_found() {
    let (status, _, body) = get_with(Method::POST, "/", Some(BROWSER_ACCEPT)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"not_found\""));
}
