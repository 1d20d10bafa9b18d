//! Who is asking: the client's address behind trusted reverse proxies (see
//! `crate::proxy`, which `afterword doctor` uses too).

use std::net::IpAddr;

use actix_web::HttpRequest;

use crate::config::{Limits, ProxyHeader};
pub use crate::proxy::from_chain;

/// The client's address; `None` only when the connection has no peer address (tests).
pub fn client_ip(req: &HttpRequest, limits: &Limits) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    let headers = req.headers();
    let values = headers
        .get_all(match limits.proxy_header {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
        })
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    Some(from_chain(peer, values, limits))
}
