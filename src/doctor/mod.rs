//! Operations: `afterword healthcheck` (the container's probe) and `afterword doctor`,
//! which checks a setup as the server would use it and says in plain words what is wrong
//! and how to fix it.

mod checks;
mod page;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::config::Settings;

/// Where a local probe reaches the server: its listen address, with a wildcard host
/// replaced by the loopback address of the same family.
pub fn local_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// An error with its causes: reqwest's own text ("error sending request") says little.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Asks the running server's `/healthz`, as a container's HEALTHCHECK does.
pub fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    let url = format!("http://{}/healthz", local_address(settings.listen));
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(4))
        .build()?;
    let response = client
        .get(&url)
        .send()
        .map_err(|e| anyhow::anyhow!("{url} does not answer: {}", with_causes(&e)))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().unwrap_or_default();
        anyhow::bail!("{url} answered {status}: {body}");
    }
    Ok(())
}

/// What `afterword doctor` is asked to look at beyond the config itself.
#[derive(Debug, Default)]
pub struct Options {
    pub config: Option<PathBuf>,
    /// Blog pages to load and check for the embed.
    pub fetch: Vec<String>,
    /// Send a test message here (otherwise SMTP is only connected to).
    pub send_to: Option<String>,
    /// The address the reverse proxy connects from, to check `trusted_proxies` with.
    pub proxy_from: Option<IpAddr>,
    /// What that proxy puts in the client address header (default: a sample address).
    pub forwarded: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Could not be checked because an earlier check failed.
    Skipped,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub check: String,
    pub status: Status,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    fn add(&mut self, check: impl Into<String>, status: Status, message: impl Into<String>) {
        self.checks.push(Check {
            check: check.into(),
            status,
            message: message.into(),
            fix: None,
        });
    }

    fn ok(&mut self, check: impl Into<String>, message: impl Into<String>) {
        self.add(check, Status::Ok, message);
    }

    fn problem(
        &mut self,
        check: impl Into<String>,
        status: Status,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.checks.push(Check {
            check: check.into(),
            status,
            message: message.into(),
            fix: Some(fix.into()),
        });
    }

    fn warn(
        &mut self,
        check: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.problem(check, Status::Warn, message, fix);
    }

    fn fail(
        &mut self,
        check: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.problem(check, Status::Fail, message, fix);
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// 0 when all is well, 1 when something is wrong, 2 when there are only warnings.
    pub fn exit_code(&self) -> u8 {
        match self.checks.iter().map(|c| c.status).max() {
            Some(Status::Fail) => 1,
            Some(Status::Warn) => 2,
            _ => 0,
        }
    }

    pub fn to_json(&self) -> String {
        let body = serde_json::json!({
            "ok": self.exit_code() == 0,
            "problems": self.count(Status::Fail),
            "warnings": self.count(Status::Warn),
            "checks": self.checks,
        });
        serde_json::to_string_pretty(&body).unwrap_or_default()
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let tag = match c.status {
                Status::Ok => "ok     ",
                Status::Skipped => "skipped",
                Status::Warn => "WARN   ",
                Status::Fail => "PROBLEM",
            };
            out.push_str(&format!("{tag}  {}: {}\n", c.check, c.message));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("         fix: {fix}\n"));
            }
        }
        let (fails, warns) = (self.count(Status::Fail), self.count(Status::Warn));
        out.push_str(&match (fails, warns) {
            (0, 0) => "All is well.\n".to_owned(),
            (0, w) => format!("{w} warning(s), nothing broken.\n"),
            (f, w) => format!("{f} problem(s), {w} warning(s).\n"),
        });
        out
    }
}

/// The checks that need neither the network nor the disk, on settings already loaded: the
/// admin dashboard shows their warnings.
pub fn settings_report(settings: &Settings) -> Report {
    let mut report = Report::default();
    checks::sites(&mut report, settings, true);
    checks::proxy(&mut report, settings, &Options::default());
    if settings.smtp.is_some() && settings.public_url.is_none() {
        report.warn(
            "smtp",
            "public_url is not set: links in mail point at the listen address",
            "set public_url to the address readers reach Afterword at",
        );
    }
    report
}

/// Runs every check `options` asks for.
pub fn run(options: &Options) -> Report {
    let mut report = Report::default();
    let Some(settings) = checks::config(&mut report, options) else {
        for what in ["database", "server key", "sites", "reverse proxy", "smtp"] {
            report.add(what, Status::Skipped, "the configuration must load first");
        }
        return report;
    };
    checks::database(&mut report, &settings);
    checks::sites(&mut report, &settings, options.config.is_some());
    for url in &options.fetch {
        page::check(&mut report, &settings, url);
    }
    checks::proxy(&mut report, &settings, options);
    checks::smtp(&mut report, &settings, options.send_to.as_deref());
    report
}
