//! Contract cases: native transcripts and workspace files.

use agent_runtime_protocol::FileInfo;
use pretty_assertions::assert_eq;

use super::{create, TestStore};
use crate::error::StoreError;
use crate::record::TranscriptMeta;
use crate::shared::describe_file;

/// The transcript and file size every backend must round-trip.
const LARGE_TRANSCRIPT_BYTES: usize = 50 * 1024 * 1024;
const MANY_FILES: usize = 500;

/// Transcripts are stored, listed by name, overwritten in place and deleted.
pub async fn transcripts_put_get_list_overwrite(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    let b = store
        .put_transcript("s1", "b.jsonl", b"{\"b\":1}\n")
        .await
        .expect("put");
    assert_eq!((b.name.as_str(), b.size), ("b.jsonl", 8));
    store
        .put_transcript("s1", "a.jsonl", b"{}\n")
        .await
        .expect("put");
    let a = store
        .put_transcript("s1", "a.jsonl", b"{\"longer\":true}\n")
        .await
        .expect("overwrite");

    assert_eq!(
        store.get_transcript("s1", "a.jsonl").await,
        Ok(Some(b"{\"longer\":true}\n".to_vec()))
    );
    let listed = store.list_transcripts("s1").await.expect("list");
    assert_eq!(listed, vec![a.clone(), b.clone()]);
    assert_eq!(listed[0].size, 16);
    assert!(!listed[0].updated_at.is_empty());

    assert_eq!(store.get_transcript("s1", "missing").await, Ok(None));
    assert_eq!(store.delete_transcript("s1", "a.jsonl").await, Ok(true));
    assert_eq!(store.delete_transcript("s1", "a.jsonl").await, Ok(false));
    assert_eq!(store.get_transcript("s1", "a.jsonl").await, Ok(None));
    assert_eq!(store.list_transcripts("s1").await, Ok(vec![b]));
    assert_eq!(store.list_transcripts("nope").await, Ok(vec![]));

    let empty = store.put_transcript("s1", "empty", b"").await.expect("put");
    assert_eq!(empty.size, 0);
    assert_eq!(store.get_transcript("s1", "empty").await, Ok(Some(vec![])));
}

/// A 50 MiB transcript comes back byte for byte.
pub async fn large_transcript_round_trips(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    let pattern: Vec<u8> = (0..=250u8).collect();
    let mut big = pattern.repeat(LARGE_TRANSCRIPT_BYTES / pattern.len() + 1);
    big.truncate(LARGE_TRANSCRIPT_BYTES);
    let meta = store
        .put_transcript("s1", "big.jsonl", &big)
        .await
        .expect("put");
    assert_eq!(meta.size, LARGE_TRANSCRIPT_BYTES as u64);
    let back = store
        .get_transcript("s1", "big.jsonl")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(back.len(), big.len());
    assert!(back == big, "the large transcript changed");
    let listed = store.list_transcripts("s1").await.expect("list");
    assert_eq!(
        listed.iter().map(|m| m.size).collect::<Vec<_>>(),
        vec![LARGE_TRANSCRIPT_BYTES as u64]
    );
}

/// A 50 MiB workspace file comes back byte for byte, with its size and hash listed.
pub async fn large_file_round_trips(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    // Not a repeating pattern of the transcript case: every byte depends on its position.
    let big: Vec<u8> = (0..LARGE_TRANSCRIPT_BYTES)
        .map(|i| (i ^ (i >> 8) ^ (i >> 16)) as u8)
        .collect();
    let info = store
        .put_file("s1", "data/big.bin", &big)
        .await
        .expect("put");
    assert_eq!(info, describe_file("data/big.bin", &big));
    let back = store
        .get_file("s1", "data/big.bin")
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(back.len(), big.len());
    assert!(back == big, "the large file changed");
    assert_eq!(store.list_files("s1").await, Ok(vec![info]));
}

/// Hundreds of files list sorted by path with correct sizes and hashes.
pub async fn many_workspace_files(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    let mut expected = Vec::new();
    // Stored in reverse, so the listing's order is the store's doing.
    for i in (0..MANY_FILES).rev() {
        let path = format!("src/mod{}/file{i:03}.rs", i % 7);
        let content = format!("// file {i}\n").repeat(i % 13 + 1);
        let info = store
            .put_file("s1", &path, content.as_bytes())
            .await
            .expect("put");
        assert_eq!(info, describe_file(&path, content.as_bytes()));
        expected.push(info);
    }
    expected.sort();
    assert_eq!(store.list_files("s1").await, Ok(expected));
    assert_eq!(
        store.get_file("s1", "src/mod3/file003.rs").await,
        Ok(Some(b"// file 3\n".repeat(4)))
    );
}

/// Content with every byte value (NUL, invalid UTF-8) round-trips unchanged.
pub async fn binary_file_keeps_every_byte(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    let mut content: Vec<u8> = (0..=255u8).collect();
    content.extend((0..=255u8).rev());
    content.extend([0, 0, 0xff, 0xfe, 0xc3, 0x28]);
    let info = store
        .put_file("s1", "bin/blob.dat", &content)
        .await
        .expect("put");
    assert_eq!(info.size, content.len() as u64);
    assert_eq!(
        store.get_file("s1", "bin/blob.dat").await,
        Ok(Some(content.clone()))
    );
    store
        .put_transcript("s1", "raw", &content)
        .await
        .expect("put");
    assert_eq!(store.get_transcript("s1", "raw").await, Ok(Some(content)));
}

/// Paths with non-ASCII characters and spaces are kept verbatim and sort bytewise.
pub async fn unicode_paths(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    let mut paths = vec![
        "données/résumé.md",
        "日本語/ファイル.txt",
        "emoji 🎉/party.txt",
        "path with spaces/a b.txt",
        "Zebra.txt",
        "apple.txt",
        "e\u{301}.txt",
        "é.txt",
    ];
    for path in &paths {
        store
            .put_file("s1", path, path.as_bytes())
            .await
            .expect("put");
    }
    paths.sort();
    let listed = store.list_files("s1").await.expect("list");
    assert_eq!(
        listed.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        paths
    );
    for path in &paths {
        assert_eq!(
            store.get_file("s1", path).await,
            Ok(Some(path.as_bytes().to_vec()))
        );
    }
}

/// `put_file` reports the lowercase hex SHA-256; overwriting replaces content and hash; delete
/// reports whether the file existed.
pub async fn file_sha256_and_overwrite(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    let hello = store
        .put_file("s1", "hello.txt", b"hello world")
        .await
        .expect("put");
    assert_eq!(
        hello,
        FileInfo {
            path: "hello.txt".into(),
            size: 11,
            sha256: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9".into(),
        }
    );
    let empty = store.put_file("s1", "empty", b"").await.expect("put");
    assert_eq!(
        empty.sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(store.get_file("s1", "empty").await, Ok(Some(vec![])));

    let abc = store
        .put_file("s1", "hello.txt", b"abc")
        .await
        .expect("overwrite");
    assert_eq!(
        abc,
        FileInfo {
            path: "hello.txt".into(),
            size: 3,
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
        }
    );
    assert_eq!(store.list_files("s1").await, Ok(vec![empty, abc]));
    assert_eq!(
        store.get_file("s1", "hello.txt").await,
        Ok(Some(b"abc".to_vec()))
    );

    assert_eq!(store.delete_file("s1", "hello.txt").await, Ok(true));
    assert_eq!(store.delete_file("s1", "hello.txt").await, Ok(false));
    assert_eq!(store.delete_file("nope", "hello.txt").await, Ok(false));
    assert_eq!(store.get_file("s1", "hello.txt").await, Ok(None));
    assert_eq!(store.list_files("nope").await, Ok(vec![]));
}

/// Transcripts and files need an existing session and a non-empty key; they belong to one
/// session only.
pub async fn blob_writes_need_a_session(t: TestStore) {
    let store = t.store;
    assert_eq!(
        store.put_file("ghost", "a", b"a").await,
        Err(StoreError::session_not_found("ghost"))
    );
    assert_eq!(
        store.put_transcript("ghost", "t", b"t").await,
        Err(StoreError::session_not_found("ghost"))
    );
    create(&*store, "s1").await;
    create(&*store, "s2").await;
    assert!(matches!(
        store.put_file("s1", "", b"a").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.put_transcript("s1", "", b"a").await,
        Err(StoreError::Invalid(_))
    ));

    store.put_file("s1", "a", b"one").await.expect("put");
    store.put_transcript("s1", "t", b"one").await.expect("put");
    assert_eq!(store.get_file("s2", "a").await, Ok(None));
    assert_eq!(store.get_transcript("s2", "t").await, Ok(None));
    assert_eq!(store.list_files("s2").await, Ok(vec![]));
    assert_eq!(
        store.list_transcripts("s2").await,
        Ok(Vec::<TranscriptMeta>::new())
    );
}
