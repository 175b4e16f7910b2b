//! `CONNECT host:port`: decide, connect to the checked address, answer 200, then copy bytes
//! both ways. A host that a secret rule names is intercepted instead ([`super::secrets`]).

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tracing::debug;

use super::http::{empty, ProxyBody};
use super::upstream::connect_pinned;
use super::{secrets, Inner, Tasks};
use crate::decision::{Denial, DenyReason};

pub(super) async fn handle(
    inner: &Arc<Inner>,
    tasks: &Tasks,
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    let Some(authority) = request.uri().authority().cloned() else {
        return inner.refuse(
            bad_request(String::new(), 0),
            Some("CONNECT needs host:port"),
        );
    };
    let Some(port) = authority.port_u16() else {
        return inner.refuse(
            bad_request(authority.host().to_owned(), 0),
            Some("CONNECT needs an explicit port"),
        );
    };
    let admitted = match inner.admit(authority.host(), port).await {
        Ok(admitted) => admitted,
        Err(denial) => return inner.refuse(denial, None),
    };
    let headers = inner.secret_headers(&admitted.host, port);
    if !headers.is_empty() {
        return secrets::intercept(inner, tasks, request, admitted, headers).await;
    }
    let host = admitted.host.to_string();
    let mut upstream = match connect_pinned(
        &admitted.ips,
        port,
        inner.limits.connect_timeout,
        &inner.stats,
    )
    .await
    {
        Ok(stream) => stream,
        Err(err) => return err.response(&host, port),
    };
    let on_upgrade = hyper::upgrade::on(request);
    tasks.spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => return debug!(%host, port, "egress: CONNECT upgrade failed: {err}"),
        };
        let mut client = TokioIo::new(upgraded);
        if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            debug!(%host, port, "egress: tunnel ended: {err}");
        }
    });
    Response::new(empty())
}

fn bad_request(host: String, port: u16) -> Denial {
    Denial {
        host,
        port,
        reason: DenyReason::BadRequest,
        address: None,
    }
}
