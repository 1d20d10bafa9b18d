//! Per-address limits on writes: a fixed one-minute window per IP, in memory.
//! IPv6 clients count per /64 (one household or server gets a whole /64, so a per-address
//! limit would be no limit); IPv4-mapped IPv6 addresses count as the IPv4 address.
//! Behind a load balancer each instance counts on its own.
//! Memory is bounded: at most [`MAX_ADDRESSES`] addresses are remembered; when that many
//! have an open window, the oldest windows are forgotten first (an address that many
//! others push out of memory starts a fresh window, which a client with that many
//! addresses could have had anyway).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most, per limiter: about 50 bytes each, so under 1 MiB.
pub const MAX_ADDRESSES: usize = 16_384;

pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<Windows>,
}

struct Windows {
    by_ip: HashMap<IpAddr, (Instant, u32)>,
    last_sweep: Instant,
}

impl RateLimiter {
    /// `0` turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            windows: Mutex::new(Windows {
                by_ip: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// Counts one request; `Err(seconds)` says when the address may try again.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.check_at(ip, Instant::now())
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let ip = bucket(ip);
        let mut w = self.windows.lock();
        if now.duration_since(w.last_sweep) >= WINDOW {
            w.by_ip
                .retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            w.last_sweep = now;
        }
        if w.by_ip.len() >= MAX_ADDRESSES && !w.by_ip.contains_key(&ip) {
            w.make_room(now);
        }
        let entry = w.by_ip.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_minute {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

impl Windows {
    /// Forgets the windows that ran out, and if that is not enough the oldest, down to
    /// at most three quarters of [`MAX_ADDRESSES`] (so this runs once per many new addresses).
    fn make_room(&mut self, now: Instant) {
        self.by_ip
            .retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        self.last_sweep = now;
        let keep = MAX_ADDRESSES * 3 / 4;
        if self.by_ip.len() > keep {
            let mut starts: Vec<Instant> = self.by_ip.values().map(|(s, _)| *s).collect();
            let cut = starts.len() - keep;
            let (_, newest_dropped, _) = starts.select_nth_unstable(cut - 1);
            let newest_dropped = *newest_dropped;
            self.by_ip.retain(|_, (start, _)| *start > newest_dropped);
        }
    }
}

/// What a client counts as: its IPv4 address, or its IPv6 /64.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address_and_window() {
        let r = RateLimiter::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        assert!(r.check_at(a, t0).is_ok());
        assert!(r.check_at(a, t0).is_ok());
        let wait = r.check_at(a, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, 50);
        assert!(
            r.check_at(b, t0).is_ok(),
            "other addresses are not affected"
        );
        assert!(
            r.check_at(a, t0 + Duration::from_secs(61)).is_ok(),
            "a new window opens"
        );
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let r = RateLimiter::new(1);
        let t0 = Instant::now();
        assert!(r.check_at("2001:db8:1:2::1".parse().unwrap(), t0).is_ok());
        assert!(r
            .check_at("2001:db8:1:2:ffff::9".parse().unwrap(), t0)
            .is_err());
        assert!(r.check_at("2001:db8:1:3::1".parse().unwrap(), t0).is_ok());
        assert!(r.check_at("192.0.2.1".parse().unwrap(), t0).is_ok());
        assert!(r.check_at("::ffff:192.0.2.1".parse().unwrap(), t0).is_err());
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_windows_go_first() {
        let r = RateLimiter::new(1);
        let t0 = Instant::now();
        let old: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(r.check_at(old, t0).is_ok());
        for i in 0..(MAX_ADDRESSES as u32 * 2) {
            let ip = IpAddr::V4((0x0b00_0000 + i).into());
            assert!(r.check_at(ip, t0 + Duration::from_secs(1)).is_ok());
            assert!(r.windows.lock().by_ip.len() <= MAX_ADDRESSES);
        }
        assert!(
            r.check_at(old, t0 + Duration::from_secs(2)).is_ok(),
            "the oldest window was forgotten"
        );
        let recent = IpAddr::V4((0x0b00_0000 + MAX_ADDRESSES as u32 * 2 - 1).into());
        assert!(
            r.check_at(recent, t0 + Duration::from_secs(2)).is_err(),
            "a recent window is kept"
        );
    }

    #[test]
    fn zero_means_off() {
        let r = RateLimiter::new(0);
        let a: IpAddr = "::1".parse().unwrap();
        for _ in 0..1000 {
            assert!(r.check(a).is_ok());
        }
    }
}
