//! Failed logins per account and per address: 10 in 15 minutes and the next try waits.
//! In memory, per instance.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub const MAX_FAILURES: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys remembered at most; beyond it the oldest windows are forgotten first.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

impl LoginLimiter {
    /// `Err(seconds)` when the account or the address must wait before trying again.
    pub fn check(&self, username: &str, ip: Option<IpAddr>) -> Result<(), u64> {
        self.check_at(username, ip, Instant::now())
    }

    fn keys(username: &str, ip: Option<IpAddr>) -> Vec<Key> {
        let mut keys = vec![Key::Account(username.to_owned())];
        keys.extend(ip.map(Key::Address));
        keys
    }

    fn check_at(&self, username: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let mut map = self.failures.lock();
        let mut wait = 0;
        for key in Self::keys(username, ip) {
            if let Some(times) = map.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                {
                    times.pop_front();
                }
                if times.len() >= MAX_FAILURES {
                    let oldest = times[times.len() - MAX_FAILURES];
                    let left = WINDOW.saturating_sub(now.duration_since(oldest));
                    wait = wait.max(left.as_secs().max(1));
                }
            }
        }
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    pub fn failed(&self, username: &str, ip: Option<IpAddr>) {
        self.failed_at(username, ip, Instant::now());
    }

    fn failed_at(&self, username: &str, ip: Option<IpAddr>, now: Instant) {
        let mut map = self.failures.lock();
        if map.len() >= MAX_KEYS {
            map.retain(|_, t| t.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        for key in Self::keys(username, ip) {
            let times = map.entry(key).or_default();
            times.push_back(now);
            while times.len() > MAX_FAILURES {
                times.pop_front();
            }
        }
    }

    /// A successful login clears the account's failures (not the address's).
    pub fn succeeded(&self, username: &str) {
        self.failures
            .lock()
            .remove(&Key::Account(username.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_lock_the_account_and_the_address_for_the_window() {
        let l = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(l.check_at("ann", Some(ip), t0).is_ok(), "try {i}");
            l.failed_at("ann", Some(ip), t0);
        }
        let wait = l.check_at("ann", Some(ip), t0).unwrap_err();
        assert_eq!(wait, 900);
        // The account is locked from anywhere, the address for any account.
        assert!(l.check_at("ann", Some(other), t0).is_err());
        assert!(l.check_at("bob", Some(ip), t0).is_err());
        assert!(l.check_at("bob", Some(other), t0).is_ok());
        assert!(l.check_at("ann", Some(ip), t0 + WINDOW).is_ok());
    }

    #[test]
    fn success_clears_the_account_only() {
        let l = LoginLimiter::default();
        let ip: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..10 {
            l.failed_at("ann", Some(ip), t0);
        }
        l.succeeded("ann");
        assert!(l.check_at("ann", None, t0).is_ok());
        assert!(l.check_at("ann", Some(ip), t0).is_err());
    }
}
