//! How fast one user may make rooms (`POST /api/rooms`): a burst of [`BURST`], then one
//! every [`EVERY`] (governor's GCRA, keyed by user id), so no one fills the room list, or
//! the database, for everyone else. Administrators are not counted; nor are direct rooms,
//! one per set of people.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::http::ApiError;

pub const BURST: u32 = 10;
pub const EVERY: Duration = Duration::from_secs(60);
/// Drop idle keys once the limiter tracks this many.
const MAX_KEYS: usize = 100_000;

pub struct RoomCreation {
    per_user: DefaultKeyedRateLimiter<i64>,
    clock: DefaultClock,
}

impl Default for RoomCreation {
    fn default() -> Self {
        let quota = Quota::with_period(EVERY)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(BURST).unwrap_or(NonZeroU32::MIN));
        Self {
            per_user: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }
}

impl RoomCreation {
    /// Counts one room made by `user`; 429 `rate_limited` with the wait once past the limit.
    pub fn check(&self, user: i64) -> Result<(), ApiError> {
        if self.per_user.len() > MAX_KEYS {
            self.per_user.retain_recent();
        }
        self.per_user.check_key(&user).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::RateLimited {
                retry_after_secs: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_limited_per_user() {
        let limit = RoomCreation::default();
        for _ in 0..BURST {
            assert!(limit.check(1).is_ok());
        }
        assert!(matches!(
            limit.check(1),
            Err(ApiError::RateLimited { retry_after_secs }) if retry_after_secs <= 60
        ));
        assert!(limit.check(2).is_ok());
    }
}
