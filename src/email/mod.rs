//! Email: the transport, the outbox worker, action links and the messages themselves.
//!
//! Every message is written to the `outbox` table inside a transaction, and a worker
//! sends it later (see `worker`). What a change to comments makes (the moderators' mail,
//! reply mail) is queued by the event dispatcher, from the change's event, in the
//! transaction that marks the event dispatched (see `crate::events`): so once, whatever
//! the instances and crashes, and never while a comment waits. What answers a reader's
//! own request (the confirmation of a subscription, the link to their data) is queued in
//! that request's write.

pub mod compose;
pub mod i18n;
pub mod links;
pub mod privacy;
pub mod replies;
pub mod worker;

use std::time::Duration;

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::SmtpTransport;

use crate::config::{Settings, SmtpSettings};
use crate::error::error_chain;
use crate::security::ServerKey;

/// What a write needs to queue mail: who sends it, where links point, the key that signs
/// them.
#[derive(Debug, Clone)]
pub struct Mailer {
    pub from: Mailbox,
    /// The server's public address, for links; ends with `/`.
    pub base: url::Url,
    pub key: ServerKey,
    /// The right-hand side of our `Message-ID`s.
    pub domain: String,
}

impl Mailer {
    /// `None` when email is off (no `[smtp]`).
    pub fn from_settings(settings: &Settings, key: &ServerKey) -> anyhow::Result<Option<Self>> {
        let Some(smtp) = &settings.smtp else {
            return Ok(None);
        };
        let from: Mailbox = smtp.from.parse().context("smtp.from")?;
        let base = match &settings.public_url {
            Some(u) => u.clone(),
            None => url::Url::parse(&format!("http://{}/", settings.listen))?,
        };
        let domain = from.email.domain().to_owned();
        Ok(Some(Mailer {
            from,
            base,
            key: key.clone(),
            domain,
        }))
    }

    /// An absolute link to a path of this server.
    pub fn link(&self, path_and_query: &str) -> String {
        let mut base = self.base.as_str().trim_end_matches('/').to_owned();
        base.push_str(path_and_query);
        base
    }
}

/// The SMTP transport `[smtp]` describes: `smtp://` plain, `smtps://` TLS from the start,
/// `smtp+starttls://` STARTTLS required; credentials from the URL, the password from
/// `AFTERWORD_SMTP_PASSWORD` if set. TLS trusts the system's CAs and `tls_ca_file`'s.
pub fn transport(smtp: &SmtpSettings) -> anyhow::Result<SmtpTransport> {
    let url = url::Url::parse(smtp.url.expose()).context("smtp.url")?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .context("smtp.url has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let (tls, port) = match url.scheme() {
        "smtps" => (Some(true), 465),
        "smtp+starttls" => (Some(false), 587),
        _ => (None, 25),
    };
    let mut b = SmtpTransport::builder_dangerous(host.as_str())
        .port(url.port().unwrap_or(port))
        .timeout(Some(smtp.timeout));
    if let Some(wrapper) = tls {
        let mut params = TlsParameters::builder(host.clone());
        for pem in &smtp.tls_roots {
            params = params.add_root_certificate(
                Certificate::from_pem(pem.as_bytes()).context("smtp.tls_ca_file")?,
            );
        }
        let params = params.build().context("TLS for smtp.url")?;
        b = b.tls(if wrapper {
            Tls::Wrapper(params)
        } else {
            Tls::Required(params)
        });
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let user = decode(url.username());
    let password = smtp
        .password
        .as_ref()
        .map(|p| p.expose().to_owned())
        .or_else(|| url.password().map(decode));
    if !user.is_empty() {
        b = b.credentials(Credentials::new(user, password.unwrap_or_default()));
    }
    Ok(b.build())
}

/// What became of one attempt to hand a message to the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted: the server's answer (`250 …`).
    Sent(String),
    /// Worth trying again (a 4xx answer, no connection, a timeout).
    Retry(String),
    /// Refused for good (a 5xx answer, a bad address).
    Failed(String),
}

/// The error of a failed attempt, with what to do when it is the TLS certificate: the
/// TLS library's own words ("certificate verify failed") do not say where to act.
fn explain(e: &lettre::transport::smtp::Error) -> String {
    let chain = error_chain(e);
    if chain.contains("certificate verify failed") || chain.contains("certificate is not trusted") {
        format!(
            "TLS: the SMTP server's certificate is not trusted ({chain}); for a private CA, \
             set smtp.tls_ca_file; the url's host must be a name the certificate is for"
        )
    } else {
        chain
    }
}

/// Hands one message to the SMTP server now.
pub fn send_raw(
    transport: &SmtpTransport,
    sender: &str,
    recipient: &str,
    message: &[u8],
) -> Outcome {
    use lettre::Transport;
    let envelope = match (
        sender.parse::<lettre::Address>(),
        recipient.parse::<lettre::Address>(),
    ) {
        (Ok(from), Ok(to)) => lettre::address::Envelope::new(Some(from), vec![to]),
        _ => return Outcome::Failed("invalid sender or recipient address".into()),
    };
    let envelope = match envelope {
        Ok(e) => e,
        Err(e) => return Outcome::Failed(format!("invalid envelope: {e}")),
    };
    match transport.send_raw(&envelope, message) {
        Ok(r) => Outcome::Sent(format!(
            "{} {}",
            r.code(),
            r.message().collect::<Vec<_>>().join(" ")
        )),
        Err(e) if e.is_permanent() => Outcome::Failed(explain(&e)),
        Err(e) => Outcome::Retry(explain(&e)),
    }
}

/// Sends a test message to `to` at once, bypassing the outbox, for `afterword email test`
/// and the admin page: the SMTP server's answer, or why it failed.
pub fn send_test(transport: &SmtpTransport, mailer: &Mailer, to: &str) -> Result<String, String> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("`{to}` is not an email address ({e})"))?;
    let text = format!(
        "This is a test message from Afterword at {}.\n\nIf you read this, mail from \
         Afterword reaches this address.\n",
        mailer.base
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><body><p>This is a test message from Afterword at \
         {}.</p><p>If you read this, mail from Afterword reaches this address.</p></body></html>",
        askama::filters::escape(mailer.base.as_str(), askama::filters::Html)
            .map(|e| e.to_string())
            .unwrap_or_default()
    );
    let composed = compose::compose(
        mailer,
        &to,
        &format!("<test@{}>", mailer.domain),
        compose::Content {
            subject: "Afterword test message".into(),
            text,
            html,
        },
        None,
    )
    .map_err(|e| e.message)?;
    match send_raw(
        transport,
        &composed.sender,
        &composed.recipient,
        composed.message.as_bytes(),
    ) {
        Outcome::Sent(answer) => Ok(answer),
        Outcome::Retry(e) | Outcome::Failed(e) => Err(e),
    }
}

/// One line of text fit for a header or a plain-text line: control characters (CR, LF,
/// tabs…) become spaces, runs of spaces one, and it is cut to `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut n = 0;
    let mut space = false;
    for ch in s.chars() {
        let ch = if ch.is_control() || ch.is_whitespace() {
            ' '
        } else {
            ch
        };
        if ch == ' ' {
            if space || out.is_empty() {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if n == max {
            out.push('…');
            break;
        }
        out.push(ch);
        n += 1;
    }
    out.trim_end().to_owned()
}

/// How long a connect and each command may take, for diagnostics.
pub fn describe(smtp: &SmtpSettings) -> String {
    let url = url::Url::parse(smtp.url.expose()).ok();
    let (scheme, host, port) = url
        .as_ref()
        .map(|u| {
            (
                u.scheme().to_owned(),
                u.host_str().unwrap_or("").to_owned(),
                u.port(),
            )
        })
        .unwrap_or_default();
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{scheme}://{host}{port} (timeout {})",
        humantime::format_duration(smtp.timeout)
    )
}

/// A retry's delay after `attempts` failed tries: doubling from `first`, at most an hour.
pub fn backoff(first: Duration, attempts: i64) -> Duration {
    let shift = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    first
        .saturating_mul(1u32 << shift)
        .min(Duration::from_secs(3600))
}

/// `answer` with every mention of `address` (in any case) replaced by `<recipient>`.
pub fn redact(answer: &str, address: &str) -> String {
    if address.is_empty() {
        return answer.to_owned();
    }
    let (lower, needle) = (answer.to_ascii_lowercase(), address.to_ascii_lowercase());
    let mut out = String::with_capacity(answer.len());
    let mut at = 0;
    while let Some(i) = lower[at..].find(&needle) {
        out.push_str(&answer[at..at + i]);
        out.push_str("<recipient>");
        at += i + needle.len();
    }
    out.push_str(&answer[at..]);
    out
}

#[cfg(test)]
mod redact_tests {
    #[test]
    fn the_address_leaves_the_answer_in_any_case() {
        assert_eq!(
            super::redact(
                "550 5.1.1 <Ann@Example.org>: no such user ann@example.org",
                "ann@example.org"
            ),
            "550 5.1.1 <<recipient>>: no such user <recipient>"
        );
        assert_eq!(super::redact("250 ok", "ann@example.org"), "250 ok");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_line_breaks() {
        assert_eq!(one_line("a\r\nBcc: x@y\t z", 100), "a Bcc: x@y z");
        assert_eq!(one_line("  abcdef", 3), "abc…");
    }

    #[test]
    fn every_scheme_builds_a_transport() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtps://user:p%40ss@mail.example.com",
            "smtp+starttls://user@mail.example.com:587",
        ] {
            let smtp = SmtpSettings {
                url: crate::config::Secret::new(url),
                from: "a@example.com".into(),
                password: Some(crate::config::Secret::new("from-env")),
                timeout: Duration::from_secs(5),
                retry_after: Duration::from_secs(30),
                reply_delay: Duration::from_secs(300),
                tls_roots: Vec::new(),
            };
            assert!(transport(&smtp).is_ok(), "{url}");
            assert!(!describe(&smtp).contains("p%40ss"), "{url}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let s = Duration::from_secs(30);
        assert_eq!(backoff(s, 1), s);
        assert_eq!(backoff(s, 3), Duration::from_secs(120));
        assert_eq!(backoff(s, 50), Duration::from_secs(3600));
    }
}
