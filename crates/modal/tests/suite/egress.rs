//! The egress tunnel: `curl` inside the sandbox, through `127.0.0.1:3128`, to an
//! `EgressHandler` here that answers like an HTTP proxy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use agent_runtime_sandbox::{EgressHandler, SandboxProvider, SandboxRequest, SandboxStream};
use async_trait::async_trait;
use pretty_assertions::assert_eq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::common::{run, timed, Harness};

/// Answers every request with its request line, like a tiny proxy that knows one reply.
#[derive(Default)]
struct EchoProxy {
    connections: AtomicUsize,
}

#[async_trait]
impl EgressHandler for EchoProxy {
    async fn handle(&self, mut stream: Box<dyn SandboxStream>) {
        self.connections.fetch_add(1, Ordering::SeqCst);
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let line = String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        let body = format!("proxied: {line}\n{}", "x".repeat(200_000));
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}

#[tokio::test]
async fn curl_inside_reaches_the_egress_handler_through_the_tunnel() {
    timed(async {
        let harness = Harness::start().await;
        let proxy = Arc::new(EchoProxy::default());
        let mut req = SandboxRequest::new("egress");
        req.egress = Some(proxy.clone());
        let sandbox = harness.provider.create(req).await.unwrap();
        assert_eq!(
            sandbox.proxy_url().as_deref(),
            Some("http://127.0.0.1:3128")
        );

        let script = "echo $HTTPS_PROXY; for i in 1 2 3; do \
            curl -sS --max-time 20 http://example.com/$i | head -c 40; echo; done";
        let out = run(&*sandbox, script).await.ok();
        assert_eq!(
            out,
            "http://127.0.0.1:3128\n\
             proxied: GET http://example.com/1 HTTP/1\n\
             proxied: GET http://example.com/2 HTTP/1\n\
             proxied: GET http://example.com/3 HTTP/1\n"
        );
        // The whole body arrives (larger than any one frame or queue).
        let size = run(
            &*sandbox,
            "curl -sS --max-time 20 http://example.com/big | wc -c",
        )
        .await
        .ok();
        assert!(size.trim().parse::<usize>().unwrap() > 200_000, "{size}");
        assert_eq!(proxy.connections.load(Ordering::SeqCst), 4);

        // Without the tunnel process, nothing gets out.
        run(
            &*sandbox,
            "pkill -f 'node -e' || kill $(for p in /proc/[0-9]*; do \
            grep -l 'relay' $p/cmdline 2>/dev/null | cut -d/ -f3; done) 2>/dev/null; true",
        )
        .await;
        let after = run(&*sandbox, "curl -sS --max-time 5 http://example.com/x").await;
        assert_ne!(after.code, Some(0), "{after:?}");
        sandbox.destroy().await.unwrap();

        let plain = harness
            .provider
            .create(SandboxRequest::new("no-egress"))
            .await
            .unwrap();
        assert_eq!(plain.proxy_url(), None);
        assert_eq!(
            run(&*plain, "echo ${HTTPS_PROXY:-none}").await.ok(),
            "none\n"
        );
        plain.destroy().await.unwrap();
        harness.server.shutdown().await;
    })
    .await;
}
