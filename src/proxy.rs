//! The client's address behind trusted reverse proxies, from the connecting address and
//! the proxy header's values.
//!
//! The proxy nearest us appends the address it saw to the end of `X-Forwarded-For` (or
//! `Forwarded`); whatever the client sent comes before. So the header is read from the
//! right, skipping our own proxies, and the first address that is not one of them is the
//! client. Anything further left, garbage or forged addresses included, is ignored.

use std::net::IpAddr;

use crate::config::{Limits, ProxyHeader};

/// Walks the chain of hops from the right. `values` are the header's lines in order.
pub fn from_chain<'a>(
    peer: IpAddr,
    values: impl Iterator<Item = &'a str>,
    limits: &Limits,
) -> IpAddr {
    if !limits.is_trusted_proxy(peer) {
        return peer;
    }
    let hops: Vec<&str> = values.flat_map(|v| v.split(',')).collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        let parsed = match limits.proxy_header {
            ProxyHeader::XForwardedFor => parse_xff_hop(hop),
            ProxyHeader::Forwarded => parse_forwarded_for(hop),
        };
        match parsed {
            // Our own proxy passed it on: look further left.
            Some(ip) if limits.is_trusted_proxy(ip) => nearest = ip,
            Some(ip) => return ip,
            // Not an address where our proxies write: stop at the last one we trust.
            None => return nearest,
        }
    }
    nearest
}

fn parse_xff_hop(hop: &str) -> Option<IpAddr> {
    hop.trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The `for=` of one RFC 7239 element: `for=192.0.2.60`, `for="[2001:db8::1]:4711"`,
/// `for="192.0.2.43:47011"`; `unknown` and obfuscated names are no address.
fn parse_forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
    })?;
    let value = value.trim_matches('"');
    let host = if let Some(rest) = value.strip_prefix('[') {
        rest.split(']').next()?
    } else if value.matches(':').count() == 1 {
        value.split(':').next()?
    } else {
        value
    };
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(header: ProxyHeader, trusted: &[&str]) -> Limits {
        Limits {
            trusted_proxies: trusted.iter().map(|n| n.parse().unwrap()).collect(),
            proxy_header: header,
            ..Limits::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn x_forwarded_for_is_read_from_the_right() {
        let l = limits(ProxyHeader::XForwardedFor, &["127.0.0.1/32", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        let chain = |values: &[&str]| from_chain(peer, values.iter().copied(), &l);
        assert_eq!(chain(&["203.0.113.7"]), ip("203.0.113.7"));
        // A client that prepends a fake address or garbage gains nothing.
        assert_eq!(chain(&["1.2.3.4, 203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(chain(&["garbage, 203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(chain(&["garbage", "203.0.113.7"]), ip("203.0.113.7"));
        // Through two of our proxies.
        assert_eq!(
            chain(&["1.2.3.4, 203.0.113.7, 10.1.2.3"]),
            ip("203.0.113.7")
        );
        // A trusted client address with garbage left of it: the last trusted hop.
        assert_eq!(chain(&["garbage, 10.1.2.3"]), ip("10.1.2.3"));
        // No header: the proxy itself.
        assert_eq!(chain(&[]), peer);
        // Mapped addresses are the IPv4 ones.
        assert_eq!(chain(&["::ffff:203.0.113.9"]), ip("203.0.113.9"));
        // From an untrusted peer the header is ignored.
        assert_eq!(
            from_chain(ip("198.51.100.1"), ["203.0.113.7"].into_iter(), &l),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn mapped_peers_match_trusted_ipv4_proxies() {
        let l = limits(ProxyHeader::XForwardedFor, &["127.0.0.1/32"]);
        assert!(l.is_trusted_proxy(ip("::ffff:127.0.0.1")));
        assert_eq!(
            from_chain(ip("::ffff:127.0.0.1"), ["203.0.113.7"].into_iter(), &l),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn forwarded_elements_are_parsed() {
        let l = limits(ProxyHeader::Forwarded, &["127.0.0.1/32"]);
        let peer = ip("127.0.0.1");
        let chain = |values: &[&str]| from_chain(peer, values.iter().copied(), &l);
        assert_eq!(
            chain(&["for=192.0.2.60;proto=http;by=203.0.113.43"]),
            ip("192.0.2.60")
        );
        assert_eq!(
            chain(&[r#"for="[2001:db8:cafe::17]:4711""#]),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(chain(&[r#"For="192.0.2.43:47011""#]), ip("192.0.2.43"));
        assert_eq!(chain(&["for=1.2.3.4, for=192.0.2.60"]), ip("192.0.2.60"));
        assert_eq!(chain(&["for=unknown"]), peer);
        assert_eq!(chain(&["for=_hidden, for=192.0.2.60"]), ip("192.0.2.60"));
    }
}
