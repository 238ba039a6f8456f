//! Web Push: notifications to members' browsers when they are not looking (RFC 8030 push,
//! RFC 8291 payload encryption, RFC 8292 VAPID).
//!
//! [`PushService`] is `front`'s handle: it holds the VAPID key (made on first start and
//! kept in the database, so every `front` process on it signs with the same key), stores
//! subscriptions, and takes notifications without waiting. A worker thread of its own
//! decides who of the recipients wants the push (their level for the room,
//! [`should_push`]), encrypts it for each of their subscriptions and sends it, retrying a
//! bounded number of times; an endpoint its push service calls gone (404, 410) is
//! forgotten. A full queue drops the notification (counted), never the caller's time.

mod ece;
mod metrics;
mod send;
mod subscription;
mod vapid;
mod worker;

use std::sync::Arc;

use serde_json::json;
use tokio::sync::mpsc;

use crate::config::PushSettings;
use crate::domain::RoomKind;
pub use crate::domain::{NotifyLevel, should_push};
use crate::storage::push::{self as stored, Subscribed};
use crate::storage::{Db, StorageError};
pub use ece::MAX_PLAINTEXT;
pub use metrics::PushMetrics;
pub use subscription::{EndpointRules, NewSubscription};
use vapid::VapidKey;

/// The longest text excerpt a push carries, in characters.
const EXCERPT_CHARS: usize = 140;

/// What a push says, for every recipient of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub room_id: i64,
    pub room: String,
    /// Decides the recipients' default level (a direct room: `all`).
    pub kind: RoomKind,
    pub sender: String,
    pub title: String,
    pub body: String,
    /// The page to open on a click: `/home?room=<room>`.
    pub url: String,
    /// The browser replaces a shown notification of the same tag: one per room.
    pub tag: String,
}

impl Notification {
    /// A new message by `sender` in `room`: titled by the sender (and the room, unless
    /// direct), with an excerpt of `content`.
    pub fn message(room_id: i64, room: &str, kind: RoomKind, sender: &str, content: &str) -> Self {
        let title = match kind {
            RoomKind::Direct => sender.to_owned(),
            RoomKind::Public | RoomKind::Private => format!("{sender} in #{room}"),
        };
        let encoded: String = url::form_urlencoded::byte_serialize(room.as_bytes()).collect();
        Self {
            room_id,
            room: room.to_owned(),
            kind,
            sender: sender.to_owned(),
            title,
            body: excerpt(content, EXCERPT_CHARS),
            url: format!("/home?room={encoded}"),
            tag: format!("room:{room}"),
        }
    }

    /// The JSON the service worker receives: `{"room", "sender", "title", "body", "url",
    /// "tag"}`, the body shortened until the whole fits in one push.
    pub fn payload(&self) -> Vec<u8> {
        let mut body = self.body.clone();
        loop {
            let json = json!({"room": self.room, "sender": self.sender, "title": self.title,
                "body": body, "url": self.url, "tag": self.tag})
            .to_string();
            if json.len() <= MAX_PLAINTEXT || body.is_empty() {
                return json.into_bytes();
            }
            let keep = body.chars().count() / 2;
            body = excerpt(&body, keep);
        }
    }
}

/// `text` on one line, at most `max` characters, with `…` where it was cut.
fn excerpt(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// A member who may be told of a message, and whether it mentions them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    pub user_id: i64,
    pub mentioned: bool,
}

/// `front`'s handle on Web Push; cheap to clone.
#[derive(Clone)]
pub struct PushService {
    shared: Arc<Shared>,
}

struct Shared {
    queue: mpsc::Sender<worker::Job>,
    key: Arc<VapidKey>,
    db: Db,
    rules: EndpointRules,
    max_per_user: usize,
    metrics: PushMetrics,
}

impl PushService {
    /// Loads the VAPID key from the database (making it on first start), registers the
    /// metrics and starts the worker thread.
    pub async fn start(
        db: Db,
        settings: &PushSettings,
        registry: &prometheus::Registry,
    ) -> anyhow::Result<Self> {
        let stored = db
            .run(|conn| stored::vapid_key(conn, VapidKey::generate))
            .await?;
        let key = Arc::new(VapidKey::from_stored(&stored)?);
        let metrics = PushMetrics::new(registry)?;
        if settings.subject.is_none() {
            tracing::warn!(
                "push.subject is not set: pushes carry no VAPID contact, and some push \
                 services refuse them"
            );
        }
        let (queue, jobs) = mpsc::channel(settings.queue);
        worker::spawn(
            db.clone(),
            key.clone(),
            worker::WorkerSettings::new(settings),
            metrics.clone(),
            jobs,
        )?;
        Ok(Self {
            shared: Arc::new(Shared {
                queue,
                key,
                db,
                rules: EndpointRules::new(settings),
                max_per_user: settings.max_subscriptions_per_user,
                metrics,
            }),
        })
    }

    /// The VAPID public key (uncompressed P-256 point, base64url): the page subscribes
    /// with it as `applicationServerKey`.
    pub fn public_key(&self) -> &str {
        self.shared.key.public_key()
    }

    /// The checks a subscription's endpoint and keys must pass.
    pub fn rules(&self) -> &EndpointRules {
        &self.shared.rules
    }

    /// Queues a notification for these recipients and returns at once: false when it was
    /// dropped (the queue is full, or the worker is gone). Which recipients are pushed is
    /// decided off this path, by each one's level for the room (`should_push`); the caller
    /// leaves out the sender and anyone it knows is looking at the room.
    pub fn notify(&self, recipients: Vec<Recipient>, notification: Notification) -> bool {
        if recipients.is_empty() {
            return true;
        }
        let job = worker::Job {
            recipients,
            notification,
        };
        match self.shared.queue.try_send(job) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(job)) => {
                self.shared.metrics.drop_one("queue_full");
                tracing::warn!(
                    room = %job.notification.room,
                    "the push queue is full: a notification was dropped"
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.shared.metrics.drop_one("stopped");
                tracing::error!("the push worker is gone: a notification was dropped");
                false
            }
        }
    }

    /// Stores (or updates) a user's subscription; their oldest go past
    /// `push.max_subscriptions_per_user`.
    pub async fn subscribe(
        &self,
        user_id: i64,
        subscription: NewSubscription,
    ) -> Result<Subscribed, StorageError> {
        let max = self.shared.max_per_user;
        self.shared
            .db
            .run(move |conn| {
                stored::subscribe(
                    conn,
                    user_id,
                    &subscription.endpoint,
                    &subscription.p256dh,
                    &subscription.auth,
                    max,
                )
            })
            .await
    }

    /// Removes the user's subscription with this endpoint; false when there was none.
    pub async fn unsubscribe(&self, user_id: i64, endpoint: String) -> Result<bool, StorageError> {
        self.shared
            .db
            .run(move |conn| stored::unsubscribe(conn, user_id, &endpoint))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_notification_opens_its_room() {
        let n = Notification::message(7, "dev-ops", RoomKind::Public, "alice", "  hello\n\nthere ");
        assert_eq!(n.title, "alice in #dev-ops");
        assert_eq!(n.body, "hello there");
        assert_eq!(n.url, "/home?room=dev-ops");
        assert_eq!(n.tag, "room:dev-ops");
        let dm = Notification::message(8, "dm-0123", RoomKind::Direct, "bob", "hi");
        assert_eq!(dm.title, "bob");
        let payload: serde_json::Value = serde_json::from_slice(&n.payload()).expect("json");
        assert_eq!(
            payload,
            json!({"room": "dev-ops", "sender": "alice", "title": "alice in #dev-ops",
                "body": "hello there", "url": "/home?room=dev-ops", "tag": "room:dev-ops"})
        );
    }

    #[test]
    fn long_text_is_cut_and_every_payload_fits_one_push() {
        let long = "é".repeat(4000);
        let n = Notification::message(1, "general", RoomKind::Public, "alice", &long);
        assert_eq!(n.body.chars().count(), EXCERPT_CHARS);
        assert!(n.body.ends_with('…'));
        // A caller that fills the body itself is cut to fit too.
        let huge = Notification {
            body: "\u{1F600}".repeat(5000),
            ..n
        };
        let payload = huge.payload();
        assert!(payload.len() <= MAX_PLAINTEXT, "{}", payload.len());
        let json: serde_json::Value = serde_json::from_slice(&payload).expect("json");
        assert!(
            json["body"]
                .as_str()
                .is_some_and(|b| b.chars().count() > 100)
        );
    }

    #[test]
    fn excerpts() {
        assert_eq!(excerpt("a  b\tc", 10), "a b c");
        assert_eq!(excerpt("abcdef", 4), "abc…");
        assert_eq!(excerpt("ab  cdef", 4), "ab…");
        assert_eq!(excerpt("", 4), "");
    }
}
