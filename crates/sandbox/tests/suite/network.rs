//! The network of a local sandbox: a namespace of its own with only loopback, whose one way out
//! is the egress socket; and a host uid of its own per sandbox.

use std::sync::Arc;
use std::time::Duration;

use agent_runtime_sandbox::{EgressHandler, HostUser, LaunchSpec, SandboxRequest, SandboxStream};
use async_trait::async_trait;
use pretty_assertions::assert_eq;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::common::{run, timed, Harness};

/// Answers each line `L` with `pong L`, like a tiny proxy would answer a request.
struct Pong;

#[async_trait]
impl EgressHandler for Pong {
    async fn handle(&self, stream: Box<dyn SandboxStream>) {
        let mut lines = BufReader::new(stream);
        let mut line = String::new();
        while lines.read_line(&mut line).await.is_ok_and(|n| n > 0) {
            let reply = format!("pong {line}");
            if lines.get_mut().write_all(reply.as_bytes()).await.is_err() {
                return;
            }
            line.clear();
        }
    }
}

#[tokio::test]
async fn a_sandbox_sees_only_its_own_loopback() {
    timed(async {
        // A service on the host's loopback, which the sandbox must not reach.
        let host_service = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = host_service.local_addr().unwrap().port();
        let harness = Harness::new(HostUser::recommended()).await;
        let sandbox = harness.create("netns").await;
        let script = format!(
            "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '
             bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' 2>/dev/null && echo REACHED || echo REFUSED
             test -e /run/agent-runtime/egress.sock && echo SOCKET || echo NO-SOCKET
             env | grep -ci proxy || true"
        );
        let out = run(&*sandbox, &script).await.ok();
        assert_eq!(out, "lo\nREFUSED\nNO-SOCKET\n0\n");
        assert_eq!(sandbox.proxy_url(), None);
        // Nothing arrived at the host service.
        let accepted = tokio::time::timeout(Duration::from_millis(200), host_service.accept()).await;
        assert!(accepted.is_err(), "the sandbox reached the host's loopback");
        sandbox.destroy().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_egress_port_inside_reaches_the_handler_and_the_proxy_env_points_at_it() {
    timed(async {
        let harness = Harness::new(HostUser::recommended()).await;
        let mut req = SandboxRequest::new("egress");
        req.egress = Some(Arc::new(Pong));
        let sandbox = harness.create_with(req).await;
        let other = harness.create("egress-other").await;
        assert_eq!(sandbox.proxy_url().as_deref(), Some("http://127.0.0.1:3128"));
        // Two connections one after the other, two lines on the second: the bridge relays
        // every byte both ways, and half-closes when the client does.
        let script = "echo $HTTPS_PROXY $http_proxy $NO_PROXY
            bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128; echo one >&3; head -n 1 <&3'
            bash -c 'exec 3<>/dev/tcp/127.0.0.1/3128; printf \"two\\nthree\\n\" >&3; head -n 2 <&3'
            ls -l /run/agent-runtime/egress.sock | cut -c1";
        let out = run(&*sandbox, script).await.ok();
        assert_eq!(
            out,
            "http://127.0.0.1:3128 http://127.0.0.1:3128 localhost,127.0.0.1,::1\n\
             pong one\npong two\npong three\ns\n"
        );
        // Another sandbox has neither the socket nor a listener on the port.
        let out = run(
            &*other,
            "bash -c 'echo x > /dev/tcp/127.0.0.1/3128' 2>/dev/null && echo REACHED || echo REFUSED",
        )
        .await
        .ok();
        assert_eq!(out, "REFUSED\n");
        sandbox.destroy().await.unwrap();
        other.destroy().await.unwrap();
        // The socket went with the sandbox.
        assert!(!harness.host_dir("egress").exists());
    })
    .await;
}

#[tokio::test]
async fn live_sandboxes_never_share_a_host_uid() {
    timed(async {
        let user = HostUser::recommended();
        let HostUser::Range { first, count } = user else {
            eprintln!("not root: every sandbox runs as the runtime's own uid");
            return;
        };
        // Two providers in one process, as two runtimes on one host would be.
        let (a, b) = (Harness::new(user).await, Harness::new(user).await);
        let mut sandboxes = Vec::new();
        for (harness, id) in [(&a, "u1"), (&a, "u2"), (&b, "u3"), (&b, "u4")] {
            sandboxes.push(harness.create(id).await);
        }
        let mut processes = Vec::new();
        let mut uids = Vec::new();
        for sandbox in &sandboxes {
            let mut process = sandbox
                .spawn(LaunchSpec::new("sh").args(["-c", "echo started; exec sleep 30"]))
                .await
                .unwrap();
            // Once the program runs, the launcher has switched uid and become bwrap.
            let mut first_line = String::new();
            BufReader::new(&mut process.stdout)
                .read_line(&mut first_line)
                .await
                .unwrap();
            assert_eq!(first_line, "started\n");
            let pid = process.handle.id().unwrap();
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            let uid: u32 = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next())
                .unwrap()
                .parse()
                .unwrap();
            assert!((first..first + count).contains(&uid), "uid {uid}");
            uids.push(uid);
            processes.push(process);
        }
        let mut distinct = uids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), uids.len(), "shared host uids: {uids:?}");
        for sandbox in &sandboxes {
            sandbox.destroy().await.unwrap();
        }
    })
    .await;
}
