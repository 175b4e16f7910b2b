//! CONNECT and the decision: what is tunnelled, what is refused and why, and that a refused
//! destination is never connected to.

use agent_runtime_egress::{Denial, DenyReason, EgressPolicy};
use pretty_assertions::assert_eq;

use super::common::*;

#[tokio::test]
async fn connect_tunnels_to_an_excepted_loopback_port() {
    let echo = EchoServer::start().await;
    let mut config = config(EgressPolicy::allowlist(patterns(&["127.0.0.1:*"])));
    config.exceptions = loopback_exceptions(&[echo.port()]);
    let proxy = Proxy::start(config);

    let mut client = proxy.client().await;
    let mut tunnel = client
        .connect_to(&format!("127.0.0.1:{}", echo.port()))
        .await
        .expect("the tunnel opens");
    assert_eq!(
        echo_through(&mut tunnel, b"hello through the tunnel").await,
        b"hello through the tunnel"
    );
    assert_eq!(echo.accepted(), 1);
    assert_eq!(proxy.denials(), Vec::<Denial>::new());
}

#[tokio::test]
async fn loopback_without_an_exception_is_refused_before_any_connect() {
    let echo = EchoServer::start().await;
    let proxy = Proxy::start(config(EgressPolicy::allowlist(patterns(&[
        "127.0.0.1:*",
        "[::1]:*",
    ]))));

    let mut client = proxy.client().await;
    let refused = client
        .connect_to(&format!("127.0.0.1:{}", echo.port()))
        .await
        .expect_err("loopback is refused");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.denied(), Some("loopback"));
    assert_eq!(
        refused.body,
        format!(
            "agent-runtime egress: 127.0.0.1:{} denied: loopback (a loopback address, 127.0.0.1)\n",
            echo.port()
        )
    );
    assert_eq!(
        proxy.denials(),
        vec![Denial {
            host: "127.0.0.1".into(),
            port: echo.port(),
            reason: DenyReason::Loopback,
            address: Some(ip("127.0.0.1")),
        }]
    );
    assert_eq!(echo.accepted(), 0);
    assert_eq!(proxy.proxy.stats().upstream_connects, 0);

    // The connection stays usable after a refusal; `[::1]` is loopback too.
    let refused = client
        .connect_to(&format!("[::1]:{}", echo.port()))
        .await
        .expect_err("refused");
    assert_eq!(refused.denied(), Some("loopback"));
}

#[tokio::test]
async fn link_local_and_metadata_are_refused_before_any_connect() {
    let mut config = config(EgressPolicy::open());
    config.resolver = resolver(&[
        ("metadata.google.internal", "169.254.169.254"),
        ("imds6.test", "fd00:ec2::254"),
    ]);
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;

    for (target, reason) in [
        ("169.254.169.254:80", "metadata"),
        ("metadata.google.internal:80", "metadata"),
        ("[fd00:ec2::254]:80", "metadata"),
        ("imds6.test:80", "metadata"),
        ("100.100.100.200:80", "metadata"),
        ("[::ffff:169.254.169.254]:80", "metadata"),
        ("169.254.1.1:443", "link_local"),
        ("[fe80::1]:443", "link_local"),
    ] {
        let refused = client.connect_to(target).await.expect_err(target);
        assert_eq!(
            (refused.status.as_u16(), refused.denied()),
            (403, Some(reason)),
            "{target}"
        );
    }
    // Plain HTTP to the metadata service, the classic SSRF, is refused the same way.
    let answer = client
        .fetch(get("http://169.254.169.254/latest/meta-data/iam/"))
        .await;
    assert_eq!(
        (answer.status.as_u16(), answer.denied()),
        (403, Some("metadata"))
    );

    assert_eq!(proxy.denials().len(), 9);
    assert_eq!(
        proxy.proxy.stats().upstream_connects,
        0,
        "nothing was connected to"
    );
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused() {
    let mut config = config(EgressPolicy::open());
    config.resolver = resolver(&[
        ("intranet.test", "10.1.2.3"),
        ("cgnat.test", "100.64.0.7"),
        ("ula.test", "fd12::1"),
    ]);
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;

    let refused = client
        .connect_to("intranet.test:443")
        .await
        .expect_err("private");
    assert_eq!(refused.denied(), Some("private"));
    assert_eq!(
        proxy.denials(),
        vec![Denial {
            host: "intranet.test".into(),
            port: 443,
            reason: DenyReason::Private,
            address: Some(ip("10.1.2.3")),
        }]
    );
    for target in [
        "cgnat.test:443",
        "ula.test:443",
        "192.168.1.1:443",
        "172.16.0.1:443",
    ] {
        let refused = client.connect_to(target).await.expect_err(target);
        assert_eq!(refused.denied(), Some("private"), "{target}");
    }
    assert_eq!(proxy.proxy.stats().upstream_connects, 0);
}

#[tokio::test]
async fn a_name_with_one_private_address_among_public_ones_is_refused() {
    let mut config = config(EgressPolicy::open());
    let mixed = agent_runtime_egress::StaticResolver::new()
        .with("mixed.test", [ip("1.1.1.1"), ip("10.0.0.1")]);
    config.resolver = std::sync::Arc::new(mixed);
    let proxy = Proxy::start(config);
    let denial = proxy
        .proxy
        .check_destination("mixed.test", 443)
        .await
        .unwrap_err();
    assert_eq!(
        (denial.reason, denial.address),
        (DenyReason::Private, Some(ip("10.0.0.1")))
    );
}

#[tokio::test]
async fn unresolvable_names_and_bad_targets_are_refused() {
    let proxy = Proxy::start(config(EgressPolicy::open()));
    let mut client = proxy.client().await;
    let refused = client
        .connect_to("nowhere.test:443")
        .await
        .expect_err("unresolvable");
    assert_eq!(
        (refused.status.as_u16(), refused.denied()),
        (502, Some("resolve_failed"))
    );
    let refused = client
        .connect_to("127.1:443")
        .await
        .expect_err("numeric name");
    assert_eq!(
        (refused.status.as_u16(), refused.denied()),
        (400, Some("bad_request"))
    );
}

#[tokio::test]
async fn allowlist_matches_exact_names_suffixes_and_ports() {
    let echo = EchoServer::start().await;
    let port = echo.port();
    let mut config = config(EgressPolicy::allowlist(patterns(&[
        &format!("exact.test:{port}"),
        "*.wild.test:*",
        "web.test",
    ])));
    config.resolver = resolver(&[
        ("exact.test", "127.0.0.1"),
        ("other.test", "127.0.0.1"),
        ("a.wild.test", "127.0.0.1"),
        ("deep.a.wild.test", "127.0.0.1"),
        ("wild.test", "127.0.0.1"),
        ("web.test", "127.0.0.1"),
    ]);
    config.exceptions = loopback_exceptions(&[port]);
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;

    for allowed in [
        "exact.test",
        "EXACT.test.",
        "a.wild.test",
        "deep.a.wild.test",
    ] {
        let mut client = proxy.client().await;
        let mut tunnel = client
            .connect_to(&format!("{allowed}:{port}"))
            .await
            .unwrap_or_else(|refused| panic!("{allowed}: {refused:?}"));
        assert_eq!(
            echo_through(&mut tunnel, allowed.as_bytes()).await,
            allowed.as_bytes()
        );
    }
    for (refused, target) in [
        ("other name", format!("other.test:{port}")),
        ("the apex of a wildcard", format!("wild.test:{port}")),
        (
            "another port",
            format!("exact.test:{}", port.wrapping_add(1).max(1)),
        ),
        (
            "a web-only entry on another port",
            format!("web.test:{port}"),
        ),
    ] {
        let answer = client.connect_to(&target).await.expect_err(refused);
        assert_eq!(answer.denied(), Some("not_allowlisted"), "{refused}");
    }
    assert_eq!(echo.accepted(), 4);
}

#[tokio::test]
async fn policy_none_refuses_everything_even_excepted_destinations() {
    let echo = EchoServer::start().await;
    let mut config = config(EgressPolicy::none());
    config.exceptions = loopback_exceptions(&[echo.port()]);
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;
    let refused = client
        .connect_to(&format!("127.0.0.1:{}", echo.port()))
        .await
        .expect_err("none");
    assert_eq!(refused.denied(), Some("policy_none"));
    let answer = client.fetch(get("http://example.test/")).await;
    assert_eq!(answer.denied(), Some("policy_none"));
    assert_eq!(echo.accepted(), 0);
}

#[tokio::test]
async fn open_allows_public_addresses_and_still_refuses_the_rest() {
    let echo = EchoServer::start().await;
    let mut config = config(EgressPolicy::open());
    config.resolver = resolver(&[
        ("public.test", "1.1.1.1"),
        ("public6.test", "2606:4700:4700::1111"),
        ("private.test", "192.168.0.10"),
        ("doc.test", "192.0.2.10"),
    ]);
    config.exceptions = loopback_exceptions(&[echo.port()]);
    let proxy = Proxy::start(config);

    // Decided without connecting: no test sends a packet to a public address.
    assert_eq!(
        proxy.proxy.check_destination("public.test", 443).await,
        Ok(vec![ip("1.1.1.1")])
    );
    assert_eq!(
        proxy.proxy.check_destination("public6.test", 22).await,
        Ok(vec![ip("2606:4700:4700::1111")])
    );
    assert_eq!(
        proxy.proxy.check_destination("8.8.8.8", 853).await,
        Ok(vec![ip("8.8.8.8")])
    );
    let reason = |result: Result<Vec<std::net::IpAddr>, Denial>| result.unwrap_err().reason;
    assert_eq!(
        reason(proxy.proxy.check_destination("private.test", 443).await),
        DenyReason::Private
    );
    assert_eq!(
        reason(proxy.proxy.check_destination("doc.test", 443).await),
        DenyReason::Reserved
    );
    assert_eq!(
        reason(proxy.proxy.check_destination("0.0.0.0", 80).await),
        DenyReason::Unspecified
    );
    assert_eq!(
        reason(proxy.proxy.check_destination("224.0.0.1", 80).await),
        DenyReason::Multicast
    );
    assert_eq!(proxy.proxy.stats().upstream_connects, 0);
    // `check_destination` reports nothing.
    assert_eq!(proxy.denials(), Vec::<Denial>::new());

    // And an excepted loopback port is really reached under `open`.
    let mut client = proxy.client().await;
    let mut tunnel = client
        .connect_to(&format!("127.0.0.1:{}", echo.port()))
        .await
        .expect("excepted");
    assert_eq!(echo_through(&mut tunnel, b"open").await, b"open");
}

#[tokio::test]
async fn the_runtimes_own_address_is_refused_even_when_excepted() {
    // A real loopback server stands in for the runtime's API, and an operator exception
    // covers all of loopback: the runtime's listener is still refused.
    let runtime_api = EchoServer::start().await;
    let other = EchoServer::start().await;
    let mut config = config(EgressPolicy::open());
    config.exceptions = exceptions(&["127.0.0.0/8:*"]);
    config.runtime_listeners = vec![runtime_api.addr];
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;

    let refused = client
        .connect_to(&format!("127.0.0.1:{}", runtime_api.port()))
        .await
        .expect_err("the runtime's API");
    assert_eq!(
        (refused.status.as_u16(), refused.denied()),
        (403, Some("runtime_address"))
    );
    let answer = client
        .fetch(get(&format!(
            "http://127.0.0.1:{}/api/sessions",
            runtime_api.port()
        )))
        .await;
    assert_eq!(answer.denied(), Some("runtime_address"));
    assert_eq!(runtime_api.accepted(), 0);

    let mut tunnel = client
        .connect_to(&format!("127.0.0.1:{}", other.port()))
        .await
        .expect("another excepted port");
    assert_eq!(echo_through(&mut tunnel, b"x").await, b"x");
}

#[tokio::test]
async fn a_wildcard_runtime_listener_is_refused_on_every_host_address() {
    let runtime_api = EchoServer::start().await;
    let mut config = config(EgressPolicy::open());
    config.exceptions = exceptions(&["0.0.0.0/0:*", "[::/0]:*"]);
    config.runtime_listeners = vec![format!("0.0.0.0:{}", runtime_api.port()).parse().unwrap()];
    config.host_addresses = agent_runtime_egress::local_interface_addresses().unwrap();
    let host_ip = config
        .host_addresses
        .iter()
        .copied()
        .find(|ip| !ip.is_loopback());
    let proxy = Proxy::start(config);
    let port = runtime_api.port();
    for host in ["127.0.0.1", "127.0.0.2", "0.0.0.0", "[::1]"] {
        let denial = proxy.proxy.check_destination(host, port).await.unwrap_err();
        assert_eq!(denial.reason, DenyReason::RuntimeAddress, "{host}");
    }
    if let Some(host_ip) = host_ip {
        let denial = proxy
            .proxy
            .check_destination(&host_ip.to_string(), port)
            .await
            .unwrap_err();
        assert_eq!(denial.reason, DenyReason::RuntimeAddress, "{host_ip}");
    }
}

#[tokio::test]
async fn this_hosts_addresses_are_refused_unless_excepted() {
    let mut config = config(EgressPolicy::open());
    config.resolver = resolver(&[("self.test", "8.8.4.4")]);
    // Pretend 8.8.4.4 is one of this host's interfaces; nothing is connected to.
    config.host_addresses = vec![ip("8.8.4.4")];
    let proxy = Proxy::start(config);
    let mut client = proxy.client().await;
    let refused = client
        .connect_to("self.test:443")
        .await
        .expect_err("host address");
    assert_eq!(refused.denied(), Some("host_address"));
    assert_eq!(proxy.proxy.stats().upstream_connects, 0);
}
