//! The one HTTP client for everything the server fetches from or sends to elsewhere
//! (webhooks, webmentions, replies from the fediverse), so that every such request is
//! guarded the same way against server-side request forgery and slow or huge answers:
//!
//! - only `http` and `https`, no credentials in the URL, no proxy from the environment;
//! - no private, loopback, link-local or otherwise special address, unless the operator
//!   allows them (`[outbound] allow_private_addresses = true`): checked on the addresses the
//!   name resolves to, and the connection is made to those checked addresses only, so a
//!   name that resolves differently the second time (DNS rebinding) gains nothing;
//! - connect and total timeouts;
//! - redirects never followed blindly: a fetch follows at most a few, each one checked as
//!   the first was; a delivery (POST) follows none;
//! - at most a given number of bytes of any answer is read.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use url::Url;

/// `[outbound]` in the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundSettings {
    /// Let requests reach private, loopback and link-local addresses (a webhook receiver on
    /// the same machine or network, stand-in servers in tests). Off by default.
    pub allow_private_addresses: bool,
    /// How long connecting (and the TLS handshake) may take.
    pub connect_timeout: Duration,
    /// How long a whole request may take, its answer read included.
    pub timeout: Duration,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        OutboundSettings {
            allow_private_addresses: false,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a request was not made, or failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{0}")]
    BadUrl(String),
    #[error("refused: {0} (set [outbound] allow_private_addresses = true to allow it)")]
    PrivateAddress(String),
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("a redirect without a usable Location header")]
    BadRedirect,
    #[error("{0}")]
    Connection(String),
}

/// An answer: its status, type, the final URL (after redirects) and at most the asked
/// number of bytes of its body.
#[derive(Debug)]
pub struct Answer {
    pub url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The body went on past the bytes read (only with [`Overflow::Truncate`]).
    pub truncated: bool,
}

/// What to do with an answer longer than the cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Fail with [`OutboundError::TooLarge`] (a page to read whole).
    Refuse,
    /// Keep the first bytes and say so (a receiver's answer, only shown to moderators).
    Truncate,
}

/// The guarded client. Cheap to clone; one per process is enough.
///
/// The HTTP client inside is made at the first request, not before: making one starts a
/// thread with a runtime of its own and reads the system's trust store (tens of
/// milliseconds and a few MiB), which a server that never fetches anything (no webhooks,
/// no replies from elsewhere) should not pay at every start. Clones share it.
#[derive(Clone)]
pub struct Outbound {
    client: Arc<std::sync::OnceLock<Result<reqwest::blocking::Client, String>>>,
    user_agent: Arc<str>,
    settings: OutboundSettings,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("settings", &self.settings)
            .finish()
    }
}

/// The redirects a fetch follows, at most.
pub const MAX_REDIRECTS: usize = 3;

impl Outbound {
    /// The guarded client for `settings`; its HTTP client is made when first needed (see
    /// [`Outbound`]), on the thread that first sends: a background thread's client runs
    /// at that thread's priority. It must not be first used, nor last dropped, on an async
    /// runtime's thread (the blocking client runs a runtime of its own).
    pub fn new(settings: OutboundSettings, user_agent: &str) -> Self {
        Outbound {
            client: Arc::default(),
            user_agent: user_agent.into(),
            settings,
        }
    }

    fn client(&self) -> Result<&reqwest::blocking::Client, OutboundError> {
        self.client
            .get_or_init(|| {
                reqwest::blocking::Client::builder()
                    .user_agent(&*self.user_agent)
                    .connect_timeout(self.settings.connect_timeout)
                    .timeout(self.settings.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .dns_resolver(Arc::new(GuardedResolver {
                        allow_private: self.settings.allow_private_addresses,
                    }))
                    .build()
                    .map_err(|e| crate::error::error_chain(&e))
            })
            .as_ref()
            .map_err(|e| OutboundError::Connection(format!("cannot make the HTTP client: {e}")))
    }

    pub fn settings(&self) -> &OutboundSettings {
        &self.settings
    }

    /// GET `url`, following at most [`MAX_REDIRECTS`] redirects, each checked as the first
    /// URL was; at most `max_bytes` of the body are read.
    pub fn get(
        &self,
        url: &str,
        accept: &str,
        max_bytes: usize,
        overflow: Overflow,
    ) -> Result<Answer, OutboundError> {
        self.get_within(url, accept, max_bytes, overflow, self.settings.timeout)
    }

    /// `get`, all of it (redirects included) within `within` or the client's own timeout,
    /// whichever is shorter (a webmention's source gets 5 s).
    pub fn get_within(
        &self,
        url: &str,
        accept: &str,
        max_bytes: usize,
        overflow: Overflow,
        within: Duration,
    ) -> Result<Answer, OutboundError> {
        let within = within.min(self.settings.timeout);
        let deadline = std::time::Instant::now() + within;
        let mut url = self.check_url(url)?;
        for _ in 0..=MAX_REDIRECTS {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(OutboundError::Timeout(within));
            }
            let response = self
                .client()?
                .get(url.clone())
                .header(reqwest::header::ACCEPT, accept)
                .timeout(left)
                .send()
                .map_err(|e| match self.failed(e) {
                    OutboundError::Timeout(_) => OutboundError::Timeout(within),
                    other => other,
                })?;
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or(OutboundError::BadRedirect)?;
                let next = url.join(location).map_err(|_| OutboundError::BadRedirect)?;
                url = self.check_url(next.as_str())?;
                continue;
            }
            return self.answer(url, response, max_bytes, overflow);
        }
        Err(OutboundError::TooManyRedirects(MAX_REDIRECTS))
    }

    /// POST `body` to `url` with `headers`; a redirect is an answer like any other (never
    /// followed). At most `max_bytes` of the answer are kept.
    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        max_bytes: usize,
    ) -> Result<Answer, OutboundError> {
        let url = self.check_url(url)?;
        let mut request = self.client()?.post(url.clone()).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().map_err(|e| self.failed(e))?;
        self.answer(url, response, max_bytes, Overflow::Truncate)
    }

    /// The URL if it may be requested at all: `http(s)`, a host, no credentials, and, when
    /// the host is an address, an allowed one (names are checked when they are resolved).
    pub fn check_url(&self, raw: &str) -> Result<Url, OutboundError> {
        let url = Url::parse(raw).map_err(|e| OutboundError::BadUrl(format!("{raw}: {e}")))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(OutboundError::BadUrl(format!(
                "{raw}: only http and https URLs can be fetched"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OutboundError::BadUrl(format!(
                "{raw}: credentials in a URL are not sent"
            )));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(url::Host::Domain(_)) => return Ok(url),
            None => return Err(OutboundError::BadUrl(format!("{raw}: no host"))),
        };
        if !self.settings.allow_private_addresses && !is_public(ip) {
            return Err(OutboundError::PrivateAddress(format!(
                "{ip} is not a public address"
            )));
        }
        Ok(url)
    }

    fn answer(
        &self,
        url: Url,
        response: reqwest::blocking::Response,
        max_bytes: usize,
        overflow: Overflow,
    ) -> Result<Answer, OutboundError> {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // One byte more than the cap tells a body of exactly the cap from a longer one.
        let mut body = Vec::with_capacity(max_bytes.min(64 * 1024) + 1);
        response
            .take(max_bytes as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| self.read_failed(e))?;
        let truncated = body.len() > max_bytes;
        if truncated {
            if overflow == Overflow::Refuse {
                return Err(OutboundError::TooLarge(max_bytes));
            }
            body.truncate(max_bytes);
        }
        Ok(Answer {
            url,
            status,
            content_type,
            body,
            truncated,
        })
    }

    fn failed(&self, e: reqwest::Error) -> OutboundError {
        if e.is_timeout() {
            return OutboundError::Timeout(self.settings.timeout);
        }
        // The resolver's refusal comes back wrapped in the connection error.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if let Some(refused) = s.downcast_ref::<Refused>() {
                return OutboundError::PrivateAddress(refused.0.clone());
            }
            if let Some(unresolved) = s.downcast_ref::<Unresolved>() {
                return OutboundError::Resolve {
                    host: unresolved.host.clone(),
                    reason: unresolved.reason.clone(),
                };
            }
            source = s.source();
        }
        OutboundError::Connection(crate::error::error_chain(&e))
    }

    fn read_failed(&self, e: std::io::Error) -> OutboundError {
        let timed_out = e.kind() == std::io::ErrorKind::TimedOut
            || e.get_ref()
                .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                .is_some_and(|r| r.is_timeout());
        if timed_out {
            OutboundError::Timeout(self.settings.timeout)
        } else {
            OutboundError::Connection(e.to_string())
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host}: {reason}")]
struct Unresolved {
    host: String,
    reason: String,
}

/// Resolves names with the system's resolver and keeps only the addresses that may be
/// reached; the connection is made to those, never to a second lookup's answer.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let lookup = host.clone();
            let found = tokio::task::spawn_blocking(move || {
                (lookup.as_str(), 0u16)
                    .to_socket_addrs()
                    .map(|a| a.collect::<Vec<SocketAddr>>())
            })
            .await
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
            .map_err(|e| {
                Box::new(Unresolved {
                    host: host.clone(),
                    reason: e.to_string(),
                }) as Box<dyn std::error::Error + Send + Sync>
            })?;
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                let refused = if found.is_empty() {
                    Box::new(Unresolved {
                        host,
                        reason: "no address".into(),
                    }) as Box<dyn std::error::Error + Send + Sync>
                } else {
                    Box::new(Refused(format!(
                        "{host} resolves only to addresses that are not public ({})",
                        found
                            .iter()
                            .map(|a| a.ip().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                };
                return Err(refused);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Address blocks that are not the public internet: IANA's special-purpose registries
/// (RFC 6890 and later) for IPv4 and IPv6, the blocks reserved for the future included.
const SPECIAL_V4: [(Ipv4Addr, u8); 16] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // carrier-grade NAT
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local (cloud metadata services)
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and broadcast
    (Ipv4Addr::new(255, 255, 255, 255), 32),
];

const SPECIAL_V6: [(Ipv6Addr, u8); 11] = [
    (Ipv6Addr::UNSPECIFIED, 128),
    (Ipv6Addr::LOCALHOST, 128),
    (Ipv6Addr::new(0x0100, 0, 0, 0, 0, 0, 0, 0), 64), // discard-only
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // protocol assignments (Teredo…)
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4: an IPv4 address inside
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),  // unique local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10), // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10), // site-local (deprecated)
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),  // multicast
];

/// Whether `ip` is an address of the public internet. IPv6 forms that carry an IPv4
/// address (mapped, compatible, NAT64) are judged by that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !SPECIAL_V4.iter().any(|(net, len)| {
            Ipv4Net::new(*net, *len).is_ok_and(|n| IpNet::V4(n).contains(&IpAddr::V4(v4)))
        }),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            !SPECIAL_V6.iter().any(|(net, len)| {
                Ipv6Net::new(*net, *len).is_ok_and(|n| IpNet::V6(n).contains(&IpAddr::V6(v6)))
            })
        }
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`)
/// or NAT64 (`64:ff9b::a.b.c.d`, `64:ff9b:1::/48`) IPv6 address.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff;
    let compatible = s[..6] == [0, 0, 0, 0, 0, 0] && (s[6] != 0 || s[7] > 1);
    let nat64 =
        s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1);
    (mapped || compatible || nat64).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:81c::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn special_addresses_are_not_public() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::c0a8:101",
            "2002:c0a8:101::1",
        ] {
            assert!(!public(ip), "{ip} is not public");
        }
    }

    fn client(allow_private: bool) -> Outbound {
        Outbound::new(
            OutboundSettings {
                allow_private_addresses: allow_private,
                ..OutboundSettings::default()
            },
            "afterword-test",
        )
    }

    #[test]
    fn only_http_urls_without_credentials_and_with_allowed_addresses() {
        let out = client(false);
        for (url, want) in [
            ("ftp://example.com/x", "only http and https"),
            ("file:///etc/passwd", "only http and https"),
            ("https://user:pw@example.com/", "credentials"),
            ("not a url", "relative URL"),
            ("http://127.0.0.1:8080/", "not a public address"),
            ("http://[::1]/", "not a public address"),
            ("http://[::ffff:7f00:1]/", "not a public address"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "not a public address",
            ),
            ("http://2130706433/", "not a public address"),
            ("http://0x7f.1/", "not a public address"),
        ] {
            let e = out.check_url(url).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
        }
        assert!(out.check_url("https://example.com/post").is_ok());
        assert!(out.check_url("http://93.184.216.34/").is_ok());
        assert!(client(true).check_url("http://127.0.0.1:8080/").is_ok());
    }

    /// A one-connection-at-a-time HTTP server on loopback that answers each request with
    /// `answer(path)`, for as many connections as asked.
    fn serve(connections: usize, answer: impl Fn(&str) -> Vec<u8> + Send + 'static) -> u16 {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let _ = stream.write_all(&answer(&path));
            }
        });
        port
    }

    fn local(out: &Outbound, port: u16, path: &str, cap: usize) -> Result<Answer, OutboundError> {
        out.get(
            &format!("http://127.0.0.1:{port}{path}"),
            "*/*",
            cap,
            Overflow::Refuse,
        )
    }

    fn ok(body: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    }

    fn redirect(to: &str) -> Vec<u8> {
        format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .into_bytes()
    }

    #[test]
    fn loopback_is_refused_by_address_and_by_name_unless_allowed() {
        let port = serve(1, |_| ok(b"hello"));
        let refused = client(false);
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
        ] {
            let e = refused
                .get(&url, "*/*", 1024, Overflow::Refuse)
                .unwrap_err();
            assert!(matches!(e, OutboundError::PrivateAddress(_)), "{url}: {e}");
            assert!(e.to_string().contains("allow_private_addresses"), "{e}");
        }
        let got = client(true)
            .get(
                &format!("http://localhost:{port}/"),
                "*/*",
                1024,
                Overflow::Refuse,
            )
            .unwrap();
        assert_eq!((got.status, &got.body[..]), (200, &b"hello"[..]));
        assert_eq!(got.content_type.as_deref(), Some("text/html"));
    }

    #[test]
    fn answers_are_read_up_to_the_cap() {
        let big = vec![b'x'; 100_000];
        let port = serve(3, move |_| ok(&big));
        let out = client(true);
        let url = format!("http://127.0.0.1:{port}/");
        let e = out.get(&url, "*/*", 10_000, Overflow::Refuse).unwrap_err();
        assert!(matches!(e, OutboundError::TooLarge(10_000)), "{e}");
        let cut = out.get(&url, "*/*", 10_000, Overflow::Truncate).unwrap();
        assert!(cut.truncated);
        assert_eq!(cut.body.len(), 10_000);
        let whole = out.get(&url, "*/*", 100_000, Overflow::Refuse).unwrap();
        assert!(!whole.truncated);
        assert_eq!(whole.body.len(), 100_000);
    }

    #[test]
    fn redirects_are_followed_a_few_times_and_checked_each_time() {
        // /0 -> /1 -> /2 -> /3 -> page: three redirects are followed.
        let port = serve(4, |path| match path {
            "/3" => ok(b"arrived"),
            p => {
                let n: u32 = p[1..].parse().unwrap_or(0);
                redirect(&format!("/{}", n + 1))
            }
        });
        let out = client(true);
        let got = local(&out, port, "/0", 100).unwrap();
        assert_eq!(got.body, b"arrived");
        assert_eq!(got.url.path(), "/3");

        // Four are too many.
        let port = serve(4, |path| {
            let n: u32 = path[1..].parse().unwrap_or(0);
            redirect(&format!("/{}", n + 1))
        });
        let e = local(&out, port, "/0", 100).unwrap_err();
        assert!(matches!(e, OutboundError::TooManyRedirects(3)), "{e}");

        // A redirect to a scheme other than http(s) is refused like a first URL would be.
        let port = serve(1, |_| redirect("file:///etc/passwd"));
        let e = local(&out, port, "/", 100).unwrap_err();
        assert!(e.to_string().contains("only http and https"), "{e}");
    }

    #[test]
    fn a_post_never_follows_a_redirect() {
        let port = serve(1, |_| redirect("/elsewhere"));
        let got = client(true)
            .post(
                &format!("http://127.0.0.1:{port}/hook"),
                &[("content-type", "application/json")],
                b"{}".to_vec(),
                100,
            )
            .unwrap();
        assert_eq!(got.status, 302);
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts, reads nothing, answers nothing, keeps the socket open.
        let held = std::thread::spawn(move || {
            let conn = listener.accept();
            std::thread::sleep(Duration::from_secs(3));
            drop(conn);
        });
        let out = Outbound::new(
            OutboundSettings {
                allow_private_addresses: true,
                connect_timeout: Duration::from_millis(500),
                timeout: Duration::from_secs(1),
            },
            "afterword-test",
        );
        let started = std::time::Instant::now();
        let e = local(&out, port, "/", 100).unwrap_err();
        assert!(matches!(e, OutboundError::Timeout(_)), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        held.join().unwrap();
    }
}
