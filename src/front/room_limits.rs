//! How fast one user may make rooms: a burst of [`BURST`], then one every [`EVERY`]
//! (governor's GCRA, keyed by what is made and by whom), so no one fills the room list, or
//! the database, for everyone else. Rooms (`POST /api/rooms`) and direct rooms
//! (`POST /api/dms`) have an allowance each. Administrators are not counted; nor is asking
//! again for a direct room that exists.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::http::ApiError;

pub const BURST: u32 = 10;
pub const EVERY: Duration = Duration::from_secs(60);
/// Drop idle keys once the limiter tracks this many.
const MAX_KEYS: usize = 100_000;

/// What a user makes, each with its own allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Made {
    /// A public or private room.
    Room,
    /// A direct room, for a set of people that had none.
    Direct,
}

pub struct RoomCreation {
    per_user: DefaultKeyedRateLimiter<(Made, i64)>,
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
    /// Counts one `made` by `user`; 429 `rate_limited` with the wait once past the limit.
    pub fn check(&self, made: Made, user: i64) -> Result<(), ApiError> {
        if self.per_user.len() > MAX_KEYS {
            self.per_user.retain_recent();
        }
        self.per_user.check_key(&(made, user)).map_err(|not_until| {
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
    fn a_burst_then_limited_per_user_and_kind() {
        let limit = RoomCreation::default();
        for _ in 0..BURST {
            assert!(limit.check(Made::Room, 1).is_ok());
        }
        assert!(matches!(
            limit.check(Made::Room, 1),
            Err(ApiError::RateLimited { retry_after_secs }) if retry_after_secs <= 60
        ));
        assert!(limit.check(Made::Room, 2).is_ok());
        assert!(limit.check(Made::Direct, 1).is_ok());
    }
}
