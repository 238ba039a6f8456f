//! The command side of the Redis bus: publishing events and keeping presence, sent to
//! Redis in pipelines in the order they were queued.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, oneshot};

use super::presence::{self, Scripts};
use super::shared::Shared;

/// How long one pipeline may go unanswered before its connection counts as silent. Long:
/// a refresh of many rooms is slow, not lost.
const BATCH_SILENCE: Duration = Duration::from_secs(10);

/// How long connecting (and loading the scripts, subscribing) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Commands sent to Redis in one pipeline at most.
const PIPELINE: usize = 512;

pub enum Command {
    Publish(String),
    Touch {
        room: String,
        users: Vec<Arc<str>>,
    },
    Drop {
        room: String,
        user: Arc<str>,
    },
    Online {
        room: String,
        reply: oneshot::Sender<Vec<String>>,
    },
    /// Refresh this node's presence entries and reap the dead nodes' ones.
    Refresh,
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(5)))
}

/// Calls `connect` until it succeeds, with backoff; while it fails, `direction` of the bus
/// is down.
pub async fn connect_retrying<T, F, Fut>(
    shared: &Shared,
    direction: &AtomicBool,
    what: &str,
    connect: F,
) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = redis::RedisResult<T>>,
{
    let mut attempt = 0;
    loop {
        // A connection attempt that hangs (a peer that accepts and says nothing) fails too.
        let outcome = tokio::time::timeout(CONNECT_TIMEOUT, connect())
            .await
            .unwrap_or_else(|_| {
                Err(redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "no answer within the connect timeout",
                )))
            });
        match outcome {
            Ok(connected) => {
                shared.set(direction, true);
                return connected;
            }
            Err(e) => {
                shared.set(direction, false);
                tracing::warn!(error = %e, "Redis bus: cannot {what}");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// Sends commands to Redis in pipelines, in the order they were queued.
pub async fn run_commands(client: redis::Client, shared: &Shared, mut rx: mpsc::Receiver<Command>) {
    let scripts = Scripts::new();
    let mut batch = Vec::new();
    loop {
        let mut conn = connect_retrying(shared, &shared.commands_up, "connect", || async {
            // No response timeout: a slow pipeline (a refresh of many rooms) is not a lost
            // connection, and resending a batch that did run would repeat its effects.
            let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            scripts.load(&mut conn).await?;
            Ok(conn)
        })
        .await;
        // A batch that met a dead connection (Redis restarted while this node had nothing
        // to send) is sent again on the new one.
        loop {
            if batch.is_empty() && rx.recv_many(&mut batch, PIPELINE).await == 0 {
                return;
            }
            let sent = tokio::time::timeout(
                BATCH_SILENCE,
                run_batch(&mut conn, shared, &scripts, &mut batch),
            )
            .await;
            let Ok(sent) = sent else {
                // Nothing came back: the connection went silent without closing. The batch
                // is sent again on a new one (repeats are harmless: nodes deliver each seq
                // once, and presence updates are idempotent).
                shared.set(&shared.commands_up, false);
                tracing::warn!(
                    silent_secs = BATCH_SILENCE.as_secs(),
                    "Redis bus: commands went unanswered; reconnecting"
                );
                break;
            };
            if let Err(e) = sent {
                // NOSCRIPT (Redis restarted behind a proxy, or SCRIPT FLUSH): reconnecting
                // loads the scripts again.
                let no_script = e.code() == Some("NOSCRIPT");
                if !(no_script
                    || e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_unrecoverable_error())
                {
                    tracing::warn!(error = %e, "Redis bus: Redis refused a batch; dropped");
                    batch.clear();
                    continue;
                }
                shared.set(&shared.commands_up, false);
                tracing::warn!(error = %e, "Redis bus: connection lost; reconnecting");
                break;
            }
        }
    }
}

/// One pipeline under construction, with the script calls the bus makes.
struct Pipe<'a> {
    pipe: redis::Pipeline,
    shared: &'a Shared,
    scripts: &'a Scripts,
    ttl_ms: String,
    rooms_key: String,
}

impl<'a> Pipe<'a> {
    fn new(shared: &'a Shared, scripts: &'a Scripts) -> Self {
        Self {
            pipe: redis::pipe(),
            shared,
            scripts,
            ttl_ms: shared.options.presence_ttl.as_millis().to_string(),
            rooms_key: presence::rooms_key(&shared.options.prefix),
        }
    }

    /// `EVALSHA` of `script` on `room`'s presence set (and the rooms set, `with_rooms`),
    /// its first arguments this node and the events channel.
    fn script(&mut self, script: &redis::Script, room: &str, with_rooms: bool) -> &mut Self {
        let key = presence::room_key(&self.shared.options.prefix, room);
        self.pipe
            .cmd("EVALSHA")
            .arg(script.get_hash())
            .arg(if with_rooms { 2 } else { 1 })
            .arg(key);
        if with_rooms {
            self.pipe.arg(&self.rooms_key);
        }
        self.pipe
            .arg(&self.shared.node)
            .arg(self.shared.events_channel());
        self
    }

    fn arg(&mut self, arg: &str) -> &mut Self {
        self.pipe.arg(arg);
        self
    }

    fn publish(&mut self, envelope: &str) {
        self.pipe
            .cmd("PUBLISH")
            .arg(self.shared.events_channel())
            .arg(envelope);
    }

    fn touch(&mut self, room: &str, users: &[Arc<str>]) {
        let (scripts, ttl_ms) = (self.scripts, self.ttl_ms.clone());
        self.script(&scripts.touch, room, true)
            .arg(&ttl_ms)
            .arg(room);
        for user in users {
            self.arg(user);
        }
    }
}

/// Sends `batch` as one pipeline and acts on the replies; on success `batch` is empty,
/// on failure it is left as it was, to be sent again.
async fn run_batch(
    conn: &mut MultiplexedConnection,
    shared: &Shared,
    scripts: &Scripts,
    batch: &mut Vec<Command>,
) -> redis::RedisResult<()> {
    let mut pipe = Pipe::new(shared, scripts);
    for command in batch.iter() {
        match command {
            Command::Publish(envelope) => pipe.publish(envelope),
            Command::Touch { room, users } => pipe.touch(room, users),
            Command::Drop { room, user } => {
                pipe.script(&scripts.drop_entry, room, false)
                    .arg(room)
                    .arg(user);
            }
            Command::Online { room, .. } => {
                pipe.script(&scripts.online, room, false);
            }
            Command::Refresh => {}
        }
    }
    let refresh = if batch.iter().any(|c| matches!(c, Command::Refresh)) {
        add_refresh(&mut pipe, conn).await?
    } else {
        Vec::new()
    };
    let replies: Vec<redis::Value> = if pipe.pipe.cmd_iter().next().is_some() {
        pipe.pipe.query_async(conn).await?
    } else {
        Vec::new()
    };
    let mut replies = replies.into_iter();
    let mut news = Vec::new();
    for command in batch.drain(..) {
        if matches!(command, Command::Refresh) {
            continue;
        }
        let Some(reply) = replies.next() else { break };
        match command {
            Command::Touch { room, .. } => {
                for user in redis::from_redis_value::<Vec<String>>(reply)? {
                    news.push(("join", room.clone(), user));
                }
            }
            Command::Drop { room, user } => {
                if redis::from_redis_value::<i64>(reply)? == 1 {
                    news.push(("leave", room, user.to_string()));
                }
            }
            Command::Online {
                reply: reply_to, ..
            } => {
                let _ = reply_to.send(redis::from_redis_value::<Vec<String>>(reply)?);
            }
            Command::Publish(_) | Command::Refresh => {}
        }
    }
    for ((kind, room), reply) in refresh.into_iter().zip(replies) {
        for user in redis::from_redis_value::<Vec<String>>(reply)? {
            news.push((kind, room.clone(), user));
        }
    }
    // The scripts published the news to the other nodes; this node's users hear it here.
    for (kind, room, user) in news {
        shared.hub.announce(kind, &room, &user);
    }
    Ok(())
}

/// Adds to `pipe` the refresh of this node's entries (one script call per room) and the
/// reaping of every room with presence entries; returns what each added reply announces:
/// `join`s for a refresh, `leave`s for a reap.
async fn add_refresh(
    pipe: &mut Pipe<'_>,
    conn: &mut MultiplexedConnection,
) -> redis::RedisResult<Vec<(&'static str, String)>> {
    let mut then = Vec::new();
    let mut mine: BTreeMap<String, Vec<Arc<str>>> = BTreeMap::new();
    for (room, user) in pipe.shared.hub.presence() {
        mine.entry(room).or_default().push(user);
    }
    for (room, users) in mine {
        pipe.touch(&room, &users);
        then.push(("join", room));
    }
    let rooms: Vec<String> = redis::cmd("SMEMBERS")
        .arg(&pipe.rooms_key)
        .query_async(conn)
        .await?;
    let reap = &pipe.scripts.reap;
    for room in rooms {
        pipe.script(reap, &room, true).arg(&room);
        then.push(("leave", room));
    }
    Ok(then)
}
