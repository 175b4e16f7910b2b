//! Workspace files over REST, and served as hostile content (an agent wrote them).

use pretty_assertions::assert_eq;
use reqwest::Method;
use sha2::{Digest, Sha256};

use super::support::{code_of, within, TestServer};

#[tokio::test]
async fn put_get_list_delete() {
    let server = TestServer::start().await;
    let client = server.client();
    let session = server.create_session().await;

    let written = within(client.write_file(&session, "notes/hello.md", "# hi\n"))
        .await
        .expect("write");
    assert!(written.created);
    let sha = hex::encode(Sha256::digest(b"# hi\n"));
    assert_eq!(written.info.path, "notes/hello.md");
    assert_eq!(written.info.size, 5);
    assert_eq!(written.info.sha256, sha);

    let rewritten = within(client.write_file(&session, "notes/hello.md", "# hello\n"))
        .await
        .expect("rewrite");
    assert!(!rewritten.created, "a replaced file answers 200");

    let binary: Vec<u8> = (0..=255u8).collect();
    within(client.write_file(&session, "data/all bytes.bin", binary.clone()))
        .await
        .expect("write binary");
    let read = within(client.read_file(&session, "data/all bytes.bin"))
        .await
        .expect("read");
    assert_eq!(read.to_vec(), binary);

    let path = format!("/api/sessions/{session}/files/notes/hello.md");
    let response = within(client.request(Method::GET, &path).send())
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let new_sha = hex::encode(Sha256::digest(b"# hello\n"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("text/markdown; charset=utf-8")
    );
    assert_eq!(header("x-sha256"), Some(new_sha.clone()));
    assert_eq!(header("etag"), Some(format!("\"{new_sha}\"")));
    assert_eq!(response.text().await.expect("body"), "# hello\n");

    let response = within(
        client
            .request(Method::GET, &path)
            .header("if-none-match", format!("\"{new_sha}\""))
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(response.status(), 304);

    let mut listed: Vec<String> = within(client.list_files(&session))
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.path)
        .collect();
    listed.sort();
    assert_eq!(listed, vec!["data/all bytes.bin", "notes/hello.md"]);

    within(client.delete_file(&session, "notes/hello.md"))
        .await
        .expect("delete");
    assert_eq!(
        code_of(within(client.read_file(&session, "notes/hello.md")).await),
        (404, "file_not_found".into())
    );
    assert_eq!(
        code_of(within(client.delete_file(&session, "notes/hello.md")).await),
        (404, "file_not_found".into())
    );
    let snapshot = within(client.get_session(&session))
        .await
        .expect("snapshot");
    let paths: Vec<&str> = snapshot
        .state
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, vec!["data/all bytes.bin"]);
    server.shutdown().await;
}

#[tokio::test]
async fn transcripts_start_empty() {
    let server = TestServer::start().await;
    let client = server.client();
    let session = server.create_session().await;
    assert_eq!(
        within(client.list_transcripts(&session))
            .await
            .expect("list"),
        vec![]
    );
    assert_eq!(
        code_of(within(client.read_transcript(&session, "missing.jsonl")).await),
        (404, "transcript_not_found".into())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn agent_written_files_cannot_run_in_the_servers_origin() {
    let server = TestServer::start().await;
    let client = server.client();
    let session = server.create_session().await;
    let png: &[u8] = b"\x89PNG\r\n\x1a\n";
    let files: [(&str, &[u8], Option<&str>); 8] = [
        (
            "site/index.html",
            b"<script>fetch('/api/sessions')</script>",
            Some("index.html"),
        ),
        (
            "logo.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            Some("logo.svg"),
        ),
        ("app.js", b"alert(1)", Some("app.js")),
        ("feed.xml", b"<x/>", Some("feed.xml")),
        ("notes.md", b"# hi", Some("notes.md")),
        // Sniffing would make this HTML; nosniff keeps it text.
        ("notes.txt", b"<html><script>alert(1)</script>", None),
        ("shot.png", png, None),
        ("photo.jpg", b"\xff\xd8\xff", None),
    ];
    for (path, content, _) in &files {
        within(client.write_file(&session, path, content.to_vec()))
            .await
            .expect("write");
    }
    for (path, content, attachment) in files {
        let response = within(
            client
                .request(
                    Method::GET,
                    &format!("/api/sessions/{session}/files/{path}"),
                )
                .send(),
        )
        .await
        .expect("send");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&response, "content-security-policy"),
            Some("default-src 'none'; sandbox"),
            "{path}"
        );
        let disposition = header(&response, "content-disposition").map(str::to_string);
        let expected = attachment
            .map(|name| format!("attachment; filename=\"{name}\"; filename*=UTF-8''{name}"));
        assert_eq!(disposition, expected, "{path}");
        assert_eq!(
            response.bytes().await.expect("body").as_ref(),
            content,
            "{path}"
        );
    }
    server.shutdown().await;
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}
