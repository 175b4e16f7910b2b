//! Workspace files over REST.

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
