//! The demo data `chatapp seed` loads: deterministic, so every seeded database looks alike.

use chrono::{Duration, NaiveDateTime};

pub const USER_COUNT: usize = 25;

/// (name, description, message count): about 1000 messages in all.
pub const ROOMS: &[(&str, &str, usize)] = &[
    ("general", "Everyone's room", 400),
    ("random", "Off-topic and water-cooler talk", 200),
    ("dev", "Engineering: builds, reviews, releases", 200),
    ("help", "Questions and answers", 200),
];

/// How far back the demo history reaches.
pub const HISTORY_DAYS: i64 = 50;

pub fn username(n: usize) -> String {
    format!("user{n}")
}

pub fn password(n: usize) -> String {
    format!("hello{n}")
}

const LINES: &[&str] = &[
    "Good morning, everyone!",
    "Has anyone seen the latest build numbers?",
    "I'll be a few minutes late to the stand-up.",
    "Lunch at noon? The new place on the corner is good.",
    "Pushed a fix for the login redirect, please take a look.",
    "Thanks, that worked!",
    "Can someone review my pull request when they have a minute?",
    "The deploy went out without a hitch.",
    "What's the Wi-Fi password in the big meeting room?",
    "Reminder: retro is on Friday at 3pm.",
    "I'm seeing timeouts on the staging database, anyone else?",
    "Looks fine from here now.",
    "Who wants coffee? I'm heading out.",
    "Happy birthday, have a great one!",
    "The docs for the new API are up on the wiki.",
    "Could we move the planning meeting to Tuesday?",
    "Nice work on the release notes.",
    "I'm out tomorrow, ping me by email if it's urgent.",
    "Does anyone know how to rotate the signing key?",
    "Run `chatapp keygen` and restart auth, then the others pick it up.",
    "Weekend plans? I'm going hiking if the weather holds.",
    "That bug was a missing index, queries are fast again.",
    "Welcome to the team!",
    "Please don't force-push to main :)",
    "The CI queue is long today, patience.",
    "Shipping it.",
    "Brb, walking the dog.",
    "Interesting article on WebSocket back-pressure, worth a read.",
    "We hit 1000 messages in general, nice.",
    "See you all tomorrow!",
];

/// A small deterministic generator (xorshift64*), enough for varied demo data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// One demo message: who (1-based user number), what, when.
pub struct DemoMessage {
    pub user: usize,
    pub content: String,
    pub at: NaiveDateTime,
}

/// `count` messages spread over the `HISTORY_DAYS` before `now`, strictly increasing in time.
pub fn conversation(room_index: usize, count: usize, now: NaiveDateTime) -> Vec<DemoMessage> {
    let mut rng =
        Rng(0x9e37_79b9_7f4a_7c15 ^ (room_index as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    let start = now - Duration::days(HISTORY_DAYS);
    let step_micros =
        Duration::days(HISTORY_DAYS).num_microseconds().unwrap_or(0) / count.max(1) as i64;
    (0..count)
        .map(|i| {
            let jitter = rng.below((step_micros / 2).max(0) as u64) as i64;
            DemoMessage {
                user: rng.below(USER_COUNT as u64) as usize + 1,
                content: LINES[rng.below(LINES.len() as u64) as usize].to_string(),
                at: start + Duration::microseconds(step_micros * i as i64 + jitter),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversations_are_ordered_and_recent() {
        let now = crate::storage::now_utc();
        let msgs = conversation(0, 400, now);
        assert_eq!(msgs.len(), 400);
        assert!(msgs.windows(2).all(|w| w[0].at < w[1].at));
        assert!(
            msgs.iter()
                .all(|m| m.at < now && m.at > now - Duration::days(HISTORY_DAYS))
        );
        assert!(msgs.iter().all(|m| (1..=USER_COUNT).contains(&m.user)));
        let total: usize = ROOMS.iter().map(|r| r.2).sum();
        assert_eq!(total, 1000);
    }
}
