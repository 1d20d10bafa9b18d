//! Failed logins, counted per address and per account *and* address: 10 in 15 minutes
//! and the next try from there waits. In memory, per instance.
//!
//! - A try is counted when it starts ([`LoginLimiter::begin`]), in the same step as the
//!   check, and taken back if its password was right: parallel guesses cannot all pass
//!   the check before any of them is counted.
//! - An account is never locked as a whole: a stranger's failures lock their own address
//!   (for every account) and their address with that account, so the moderator still
//!   logs in from an address that has not failed.
//! - IPv6 addresses count per /64 (what one subscriber usually holds).
//! - Memory is bounded in bytes ([`MAX_BYTES`]); when full, forgotten first are the
//!   windows that have run out, then those that lock nothing, and only then the locks
//!   that end soonest.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub const MAX_FAILURES: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// What the remembered failures may take, keys included (an estimate per entry).
pub const MAX_BYTES: usize = 8 << 20;
/// A username longer than an account can have is counted under one shared name: such a
/// login can never succeed, and a 64 KiB name must not take 64 KiB here.
const MAX_NAME_BYTES: usize = 64;
const INVALID_NAME: &str = "\u{0}invalid";

#[derive(Default)]
pub struct LoginLimiter {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: HashMap<Key, VecDeque<Instant>>,
    bytes: usize,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Pair(String, Option<IpAddr>),
}

impl Key {
    /// What an entry under this key costs: the key, the map's slot and a full window.
    fn cost(&self) -> usize {
        let name = match self {
            Key::Address(_) => 0,
            Key::Pair(n, _) => n.len(),
        };
        std::mem::size_of::<Key>()
            + name
            + std::mem::size_of::<VecDeque<Instant>>()
            + MAX_FAILURES * std::mem::size_of::<Instant>()
            + 16
    }
}

/// The address as counted: IPv4 as it is, IPv6 by its /64.
pub fn group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// One login try, counted as failed until [`Attempt::succeeded`] says otherwise.
#[must_use]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    keys: Vec<Key>,
    at: Instant,
}

impl Attempt<'_> {
    /// The password was right: this try is not a failure, and the failures of this
    /// account from this address are forgotten (the address's own are not).
    pub fn succeeded(self) {
        self.take_back(true);
    }

    /// The try could not be judged (the database or the hasher was unavailable): it
    /// counts for nothing.
    pub fn undecided(self) {
        self.take_back(false);
    }

    fn take_back(self, clear_pair: bool) {
        let mut st = self.limiter.state.lock();
        for key in &self.keys {
            if clear_pair && matches!(key, Key::Pair(..)) {
                if st.failures.remove(key).is_some() {
                    st.bytes = st.bytes.saturating_sub(key.cost());
                }
            } else if let Some(times) = st.failures.get_mut(key) {
                if let Some(i) = times.iter().rposition(|t| *t == self.at) {
                    times.remove(i);
                }
            }
        }
    }
}

impl LoginLimiter {
    /// Checks and counts a login try in one step. `Err(seconds)` when this account from
    /// this address, or this address, must wait; then nothing is counted.
    pub fn begin(&self, username: &str, ip: Option<IpAddr>) -> Result<Attempt<'_>, u64> {
        self.begin_at(username, ip, Instant::now())
    }

    fn keys(username: &str, ip: Option<IpAddr>) -> Vec<Key> {
        let ip = ip.map(group);
        let name = if username.len() > MAX_NAME_BYTES {
            INVALID_NAME
        } else {
            username
        };
        let mut keys = vec![Key::Pair(name.to_owned(), ip)];
        keys.extend(ip.map(Key::Address));
        keys
    }

    fn begin_at(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<'_>, u64> {
        let keys = Self::keys(username, ip);
        let mut st = self.state.lock();
        let mut wait = 0;
        for key in &keys {
            if let Some(times) = st.failures.get_mut(key) {
                expire(times, now);
                if times.len() >= MAX_FAILURES {
                    let oldest = times[times.len() - MAX_FAILURES];
                    let left = WINDOW.saturating_sub(now.duration_since(oldest));
                    wait = wait.max(left.as_secs().max(1));
                }
            }
        }
        if wait > 0 {
            return Err(wait);
        }
        for key in &keys {
            if !st.failures.contains_key(key) {
                st.make_room(key.cost(), now);
                st.bytes += key.cost();
            }
            let times = st.failures.entry(key.clone()).or_default();
            times.push_back(now);
            while times.len() > MAX_FAILURES {
                times.pop_front();
            }
        }
        Ok(Attempt {
            limiter: self,
            keys,
            at: now,
        })
    }

    /// Bytes the remembered failures take (by the estimate of [`Key::cost`]).
    pub fn bytes(&self) -> usize {
        self.state.lock().bytes
    }
}

fn expire(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

impl State {
    /// Frees memory until `need` more bytes fit: run-out windows first, then the entries
    /// that lock nothing (fewest failures first), and last the locks ending soonest.
    fn make_room(&mut self, need: usize, now: Instant) {
        if self.bytes + need <= MAX_BYTES {
            return;
        }
        self.failures.retain(|_, t| {
            expire(t, now);
            !t.is_empty()
        });
        self.recount();
        if self.bytes + need <= MAX_BYTES {
            return;
        }
        // (locks, failures, newest) sorts what to forget first.
        let mut order: Vec<(bool, usize, Instant, Key)> = self
            .failures
            .iter()
            .map(|(k, t)| {
                let newest = t.back().copied().unwrap_or(now);
                let first = t.front().copied().unwrap_or(now);
                (
                    t.len() >= MAX_FAILURES,
                    t.len(),
                    if t.len() >= MAX_FAILURES {
                        first
                    } else {
                        newest
                    },
                    k.clone(),
                )
            })
            .collect();
        order.sort_by_key(|e| (e.0, e.1, e.2));
        // A quarter at a time, so that a full map is not sorted again at every try.
        let target = (MAX_BYTES - need.min(MAX_BYTES)) * 3 / 4;
        for (_, _, _, key) in order {
            if self.bytes <= target {
                break;
            }
            if self.failures.remove(&key).is_some() {
                self.bytes = self.bytes.saturating_sub(key.cost());
            }
        }
    }

    fn recount(&mut self) {
        self.bytes = self.failures.keys().map(Key::cost).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(l: &LoginLimiter, name: &str, ip: Option<IpAddr>, at: Instant) -> Result<(), u64> {
        l.begin_at(name, ip, at).map(drop)
    }

    #[test]
    fn ten_failures_lock_the_pair_and_the_address_not_the_account() {
        let l = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(fail(&l, "ann", Some(ip), t0).is_ok(), "try {i}");
        }
        let wait = l.begin_at("ann", Some(ip), t0).map(drop).unwrap_err();
        assert_eq!(wait, 900);
        // The address is locked for any account; the account from elsewhere is not.
        assert!(l.begin_at("bob", Some(ip), t0).is_err());
        assert!(l.begin_at("ann", Some(other), t0).is_ok());
        assert!(l.begin_at("ann", Some(ip), t0 + WINDOW).is_ok());
    }

    #[test]
    fn a_right_password_is_not_a_failure_and_clears_the_pair() {
        let l = LoginLimiter::default();
        let ip: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..9 {
            fail(&l, "ann", Some(ip), t0).unwrap();
        }
        l.begin_at("ann", Some(ip), t0).unwrap().succeeded();
        // The address keeps its 9; one more failure locks it.
        fail(&l, "ann", Some(ip), t0).unwrap();
        assert!(l.begin_at("zed", Some(ip), t0).is_err());
        assert!(l.begin_at("ann", None, t0).is_ok());
    }

    #[test]
    fn ipv6_counts_per_64() {
        let l = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 1..=10 {
            let ip: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            fail(&l, &format!("u{i}"), Some(ip), t0).unwrap();
        }
        let same: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let next: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.begin_at("ann", Some(same), t0).is_err());
        assert!(l.begin_at("ann", Some(next), t0).is_ok());
        let mapped: IpAddr = "::ffff:10.1.1.1".parse().unwrap();
        assert_eq!(group(mapped), "10.1.1.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn memory_is_bounded_and_locks_outlive_a_flood() {
        let l = LoginLimiter::default();
        let t0 = Instant::now();
        let locked: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10 {
            fail(&l, "ann", Some(locked), t0).unwrap();
        }
        // A flood of one-off tries with 64 KiB names from many addresses.
        let long = "x".repeat(64 * 1024);
        for i in 0..200_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = l.begin_at(&long, Some(ip), t0);
            assert!(l.bytes() <= MAX_BYTES);
        }
        assert!(
            l.begin_at("ann", Some(locked), t0).is_err(),
            "the lock stays"
        );
        assert!(l.begin_at("bob", Some(locked), t0).is_err());
    }
}
