//! Operations: `afterword healthcheck` (the container's probe) and `afterword doctor`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

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

/// Asks the running server's `/healthz`, as a container's HEALTHCHECK does.
pub fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    let url = format!("http://{}/healthz", local_address(settings.listen));
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(4))
        .build()?;
    let response = client
        .get(&url)
        .send()
        .map_err(|e| anyhow::anyhow!("{url} does not answer: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().unwrap_or_default();
        anyhow::bail!("{url} answered {status}: {body}");
    }
    Ok(())
}
