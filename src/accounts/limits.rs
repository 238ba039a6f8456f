//! Limits on signing in and registering that slow an attacker down without locking the
//! owner out.
//!
//! - Every login and registration request counts against its client address (governor's
//!   GCRA: `requests_per_address_per_minute`, as a burst that refills evenly).
//! - Failed sign-ins count against the address (IPv6 by its /64), the (username, address)
//!   pair, and the username. Each key fails a few times freely, then waits 1 s, 2 s, 4 s, …
//!   before its next try. An address or a pair waits up to 15 minutes; the username alone
//!   at most [`USERNAME_MAX_DELAY`] and only after many failures, so that failures from one
//!   address never keep the right password from another address out for longer.
//!
//! A key's count is forgotten [`FORGET_AFTER`] after its last failure, and a success clears
//! its pair's and its username's count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::AccountError;
use crate::http::client_ip::address_key;

#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Failed sign-ins an address, or a (username, address) pair, may make before it waits.
    pub free_login_failures: u32,
    /// Login and registration requests per client address per minute (burst of as many).
    pub requests_per_address_per_minute: u32,
}

/// Failures a username may collect from all addresses together before it waits.
const USERNAME_FREE_FAILURES: u32 = 20;
/// The longest a username waits for failures from elsewhere.
pub const USERNAME_MAX_DELAY: Duration = Duration::from_secs(5);
/// The longest an address or a pair waits.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Drop idle keys once a map tracks this many, so memory stays bounded.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    not_before: Instant,
}

/// Failure counts with a growing delay, per key.
struct Backoff<K> {
    free: u32,
    max_delay: Duration,
    keys: Mutex<HashMap<K, Failures>>,
}

impl<K: std::hash::Hash + Eq + Clone> Backoff<K> {
    fn new(free: u32, max_delay: Duration) -> Self {
        Self {
            free,
            max_delay,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must still wait, if at all.
    fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        let keys = self.keys.lock().ok()?;
        let entry = keys.get(key)?;
        (entry.not_before > now).then(|| entry.not_before - now)
    }

    fn fail(&self, key: K, now: Instant) {
        let Ok(mut keys) = self.keys.lock() else {
            return;
        };
        if keys.len() >= MAX_KEYS {
            keys.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
        }
        let entry = keys.entry(key).or_insert(Failures {
            count: 0,
            last: now,
            not_before: now,
        });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        if entry.count > self.free {
            let doublings = (entry.count - self.free - 1).min(20);
            let delay = Duration::from_secs(1u64 << doublings).min(self.max_delay);
            entry.not_before = now + delay;
        }
    }

    fn clear(&self, key: &K) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.remove(key);
        }
    }
}

pub struct LoginLimits {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    failed_address: Backoff<IpAddr>,
    failed_pair: Backoff<(String, Option<IpAddr>)>,
    failed_username: Backoff<String>,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
}

fn username_key(username: &str) -> String {
    username.chars().take(64).collect::<String>().to_lowercase()
}

impl LoginLimits {
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            per_address: RateLimiter::keyed(quota(settings.requests_per_address_per_minute)),
            clock: DefaultClock::default(),
            failed_address: Backoff::new(settings.free_login_failures, MAX_DELAY),
            failed_pair: Backoff::new(settings.free_login_failures, MAX_DELAY),
            failed_username: Backoff::new(USERNAME_FREE_FAILURES, USERNAME_MAX_DELAY),
        }
    }

    /// Counts one login or registration request from `address`.
    pub fn check_address(&self, address: Option<IpAddr>) -> Result<(), AccountError> {
        let Some(address) = address.map(address_key) else {
            return Ok(());
        };
        if self.per_address.len() > MAX_KEYS {
            self.per_address.retain_recent();
        }
        self.per_address
            .check_key(&address)
            .map_err(|not_until| limited(not_until.wait_time_from(self.clock.now())))
    }

    /// Whether a sign-in as `username` from `address` may be tried now: checked before the
    /// password is, so a guesser who is waiting learns nothing.
    pub fn check_login(&self, username: &str, address: Option<IpAddr>) -> Result<(), AccountError> {
        let now = Instant::now();
        let address = address.map(address_key);
        let user = username_key(username);
        let waits = [
            address.and_then(|a| self.failed_address.wait(&a, now)),
            self.failed_pair.wait(&(user.clone(), address), now),
            self.failed_username.wait(&user, now),
        ];
        match waits.into_iter().flatten().max() {
            Some(wait) => Err(limited(wait)),
            None => Ok(()),
        }
    }

    /// A sign-in failed (a wrong password or second factor).
    pub fn failed(&self, username: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let address = address.map(address_key);
        let user = username_key(username);
        if let Some(a) = address {
            self.failed_address.fail(a, now);
        }
        self.failed_pair.fail((user.clone(), address), now);
        self.failed_username.fail(user, now);
    }

    /// A sign-in succeeded: its pair and its username start afresh (the address does not:
    /// one right password does not excuse a thousand guesses at other names).
    pub fn succeeded(&self, username: &str, address: Option<IpAddr>) {
        let user = username_key(username);
        self.failed_pair
            .clear(&(user.clone(), address.map(address_key)));
        self.failed_username.clear(&user);
    }
}

fn limited(wait: Duration) -> AccountError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    AccountError::RateLimited {
        retry_after_secs: secs.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LoginLimits {
        LoginLimits::new(LimitSettings {
            free_login_failures: 5,
            requests_per_address_per_minute: 5,
        })
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    fn retry_after(r: Result<(), AccountError>) -> u64 {
        match r {
            Err(AccountError::RateLimited { retry_after_secs }) => retry_after_secs,
            other => panic!("expected a limit, got {other:?}"),
        }
    }

    #[test]
    fn failures_from_one_address_grow_its_delay_and_leave_other_addresses_alone() {
        let limits = limits();
        let attacker = ip("192.0.2.1");
        for _ in 0..5 {
            assert!(limits.check_login("alice", attacker).is_ok());
            limits.failed("alice", attacker);
        }
        // The sixth failure makes it wait a second, the next ones longer.
        limits.failed("Alice", attacker);
        assert_eq!(retry_after(limits.check_login("alice", attacker)), 1);
        limits.failed("alice", attacker);
        assert_eq!(retry_after(limits.check_login("alice", attacker)), 2);
        limits.failed("alice", attacker);
        assert_eq!(retry_after(limits.check_login("bob", attacker)), 4);
        // The owner, elsewhere, is not kept out.
        assert!(limits.check_login("alice", ip("198.51.100.7")).is_ok());
    }

    #[test]
    fn a_username_attacked_from_everywhere_waits_at_most_five_seconds() {
        let limits = limits();
        for i in 0..60u8 {
            let from = ip(&format!("203.0.113.{i}"));
            limits.failed("carol", from);
        }
        let wait = retry_after(limits.check_login("carol", ip("198.51.100.7")));
        assert!(wait <= USERNAME_MAX_DELAY.as_secs(), "{wait}");
        limits.succeeded("carol", ip("198.51.100.7"));
        assert!(limits.check_login("carol", ip("198.51.100.7")).is_ok());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let limits = limits();
        for i in 0..8 {
            limits.failed("dave", ip(&format!("2001:db8:1:2::{i}")));
        }
        assert!(
            limits
                .check_login("erin", ip("2001:db8:1:2::ffff"))
                .is_err()
        );
        assert!(limits.check_login("erin", ip("2001:db8:1:3::1")).is_ok());
    }

    #[test]
    fn requests_per_address() {
        let limits = limits();
        let a = ip("192.0.2.1");
        for _ in 0..5 {
            assert!(limits.check_address(a).is_ok());
        }
        assert!(limits.check_address(a).is_err());
        assert!(limits.check_address(ip("192.0.2.2")).is_ok());
    }
}
