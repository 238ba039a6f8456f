//! Rate limits on login and registration (governor's GCRA, keyed): attempts per username,
//! and login + registration requests per client address.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::AccountError;

#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Login attempts per username per minute (burst of as many).
    pub logins_per_username_per_minute: u32,
    /// Login and registration requests per client address per minute (burst of as many).
    pub requests_per_address_per_minute: u32,
}

/// Drop idle keys once a limiter tracks this many, so memory stays bounded.
const MAX_KEYS: usize = 100_000;

pub struct LoginLimits {
    per_username: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
}

impl LoginLimits {
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            per_username: RateLimiter::keyed(quota(settings.logins_per_username_per_minute)),
            per_address: RateLimiter::keyed(quota(settings.requests_per_address_per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one login or registration request from `address`.
    pub fn check_address(&self, address: Option<IpAddr>) -> Result<(), AccountError> {
        let Some(address) = address else {
            return Ok(());
        };
        if self.per_address.len() > MAX_KEYS {
            self.per_address.retain_recent();
        }
        self.per_address
            .check_key(&address)
            .map_err(|not_until| self.limited(not_until.wait_time_from(self.clock.now())))
    }

    /// Counts one login attempt for `username` (case-insensitively), before the password is
    /// checked, so a guesser learns nothing once the limit is reached.
    pub fn check_username(&self, username: &str) -> Result<(), AccountError> {
        if self.per_username.len() > MAX_KEYS {
            self.per_username.retain_recent();
        }
        let key: String = username.chars().take(64).collect::<String>().to_lowercase();
        self.per_username
            .check_key(&key)
            .map_err(|not_until| self.limited(not_until.wait_time_from(self.clock.now())))
    }

    fn limited(&self, wait: std::time::Duration) -> AccountError {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        AccountError::RateLimited {
            retry_after_secs: secs.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_by_username_and_address() {
        let limits = LoginLimits::new(LimitSettings {
            logins_per_username_per_minute: 3,
            requests_per_address_per_minute: 5,
        });
        for _ in 0..3 {
            assert!(limits.check_username("Alice").is_ok());
        }
        let Err(AccountError::RateLimited { retry_after_secs }) = limits.check_username("alice")
        else {
            panic!("the fourth attempt must be limited");
        };
        assert!((1..=20).contains(&retry_after_secs));
        assert!(limits.check_username("bob").is_ok());

        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..5 {
            assert!(limits.check_address(Some(a)).is_ok());
        }
        assert!(limits.check_address(Some(a)).is_err());
        assert!(
            limits
                .check_address(Some("192.0.2.2".parse().expect("ip")))
                .is_ok()
        );
    }
}
