//! A mixed load that behaves like the chat page: several users, each in several rooms on
//! one connection, sending with a `client_id` and a window of unacknowledged messages;
//! when a message is refused (`not_saved`, `rate_limited`) it is sent again after a
//! backoff, in order; when the connection drops, the user reconnects (to the next node, as
//! a balancer would), joins again, catches up from the events feed and resends whatever
//! was not acknowledged. A gap seen in the live frames starts a catch-up too.
//!
//! Everything a user saw is kept per room by seq, live frames apart from catch-up ones, so
//! the check afterwards can compare each view with the history.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// One user's part in the load.
pub struct User {
    pub name: String,
    pub token: String,
    pub rooms: Vec<String>,
}

/// The shape of the load.
#[derive(Clone)]
pub struct Shape {
    /// Messages each user sends.
    pub messages: usize,
    /// Time between two of a user's messages.
    pub interval: Duration,
    /// Messages a user has sent and not had answered, at most.
    pub window: usize,
    /// Characters of padding in each message.
    pub padding: usize,
    /// The whole load (faults included) must be over within this.
    pub deadline: Duration,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            messages: 60,
            interval: Duration::from_millis(100),
            window: 8,
            padding: 0,
            deadline: Duration::from_secs(150),
        }
    }
}

/// An event as a user saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub kind: String,
    pub id: Value,
    pub sender: Value,
    pub content: Value,
    pub client_id: Value,
}

impl Seen {
    pub fn of(event: &Value) -> Self {
        Self {
            kind: event["type"].as_str().unwrap_or_default().to_owned(),
            id: event["id"].clone(),
            sender: event["sender"].clone(),
            content: event["content"].clone(),
            client_id: event["client_id"].clone(),
        }
    }
}

/// What one user ends with.
#[derive(Default)]
pub struct View {
    pub name: String,
    /// Per room, every event seen by seq (live or from catch-up).
    pub rooms: BTreeMap<String, BTreeMap<i64, Seen>>,
    /// Events that only the last catch-up, after the load, brought.
    pub filled_at_end: usize,
}

/// Counters shared by every user of the load, and what the fault script reads.
#[derive(Default)]
pub struct Stats {
    /// client_id → (room, content) of every message sent.
    pub sent: HashMap<String, (String, String)>,
    /// client_id → (room, seq) of every acknowledged message.
    pub acked: HashMap<String, (String, i64)>,
    pub ack_times: Vec<Instant>,
    /// The same seq delivered twice live on one connection.
    pub live_duplicates: usize,
    /// Two answers for one client_id that disagree (two seqs, or an event that changed).
    pub disagreements: Vec<String>,
    pub reconnects: usize,
    /// Users who have had every message of theirs acknowledged.
    pub finished: usize,
    pub refused: usize,
    pub catch_ups: usize,
}

pub type Shared = Rc<RefCell<Stats>>;

struct Pending {
    cid: String,
    room: String,
    content: String,
    in_flight: bool,
}

/// Where a user connects and catches up.
pub struct Targets {
    pub ws: Vec<String>,
    pub front: String,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Runs every user to the end of the load: all their messages sent and acknowledged, then
/// one catch-up of every room. Panics when the deadline passes first.
pub async fn run(users: Vec<User>, targets: &Targets, shape: &Shape, stats: &Shared) -> Vec<View> {
    let started = Instant::now();
    let everyone = users.len();
    let runs = users
        .into_iter()
        .enumerate()
        .map(|(i, user)| run_user(i, everyone, user, targets, shape, stats, started));
    futures_util::future::join_all(runs).await
}

struct Session<'a> {
    user: &'a User,
    targets: &'a Targets,
    stats: &'a Shared,
    view: View,
    http: awc::Client,
}

impl Session<'_> {
    /// Records an event; `live` events are also checked for repeats on `this_connection`.
    fn record(&mut self, event: &Value, this_connection: Option<&mut HashSet<(String, i64)>>) {
        let (Some(room), Some(seq)) = (event["room"].as_str(), event["seq"].as_i64()) else {
            return;
        };
        if let Some(seen) = this_connection
            && !seen.insert((room.to_owned(), seq))
        {
            self.stats.borrow_mut().live_duplicates += 1;
        }
        let seen = Seen::of(event);
        let rooms = &mut self.view.rooms;
        let log = rooms.entry(room.to_owned()).or_default();
        if let Some(before) = log.get(&seq) {
            if *before != seen {
                self.stats.borrow_mut().disagreements.push(format!(
                    "{}: {room} seq {seq} was {before:?}, then {seen:?}",
                    self.user.name
                ));
            }
        } else {
            log.insert(seq, seen);
        }
    }

    /// Whether this user may stop: their own messages all acknowledged, everyone else's
    /// too, and every acknowledged event of their rooms seen (or two seconds gone since
    /// everyone finished: what is still missing then was hidden, and the last catch-up
    /// will count it).
    fn settled(&self, finished_at: &mut Option<Instant>, done: bool, everyone: usize) -> bool {
        if !done {
            return false;
        }
        let mut stats = self.stats.borrow_mut();
        if finished_at.is_none() {
            stats.finished += 1;
        }
        let now = Instant::now();
        if stats.finished < everyone {
            *finished_at = Some(now);
            return false;
        }
        let since = *finished_at.get_or_insert(now);
        let all_seen = self.user.rooms.iter().all(|room| {
            let newest = stats
                .acked
                .values()
                .filter(|(r, _)| r == room)
                .map(|(_, seq)| *seq)
                .max()
                .unwrap_or(0);
            self.contiguous(room) >= newest
        });
        all_seen || now - since > Duration::from_secs(2)
    }

    /// The highest seq of `room` up to which nothing is missing.
    fn contiguous(&self, room: &str) -> i64 {
        let mut n = 0;
        if let Some(log) = self.view.rooms.get(room) {
            for seq in log.keys() {
                if *seq != n + 1 {
                    break;
                }
                n = *seq;
            }
        }
        n
    }

    /// Fetches `room`'s events after what is contiguous until none are left; answers how
    /// many were new, or None when `front` could not be asked.
    async fn catch_up(&mut self, room: &str) -> Option<usize> {
        self.stats.borrow_mut().catch_ups += 1;
        let before = self.view.rooms.get(room).map_or(0, BTreeMap::len);
        loop {
            let after = self.contiguous(room);
            let url = format!(
                "{}/api/chat/events?room={room}&after={after}&limit=500",
                self.targets.front
            );
            let request = self
                .http
                .get(url)
                .insert_header(("Authorization", format!("Bearer {}", self.user.token)))
                .timeout(Duration::from_secs(5))
                .send();
            let mut response = request.await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            let page: Value = response.json::<Value>().limit(16 << 20).await.ok()?;
            let events = page["events"].as_array()?.clone();
            if events.is_empty() {
                break;
            }
            for event in &events {
                self.record(event, None);
            }
        }
        Some(self.view.rooms.get(room).map_or(0, BTreeMap::len) - before)
    }
}

/// Fails the test once the load's deadline has passed.
fn within_deadline(user: &User, shape: &Shape, deadline: Instant, made: usize, unanswered: usize) {
    assert!(
        Instant::now() < deadline,
        "{}: the load did not finish within {:?} ({made} of {} made, {unanswered} unanswered)",
        user.name,
        shape.deadline,
        shape.messages,
    );
}

async fn connect(base: &str, token: &str) -> Option<Socket> {
    let url = format!("{}/ws/chat?token={token}", base.replacen("http", "ws", 1));
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url),
    )
    .await
    {
        Ok(Ok((socket, _))) => Some(socket),
        _ => None,
    }
}

async fn run_user(
    index: usize,
    everyone: usize,
    user: User,
    targets: &Targets,
    shape: &Shape,
    stats: &Shared,
    started: Instant,
) -> View {
    let mut session = Session {
        user: &user,
        targets,
        stats,
        view: View {
            name: user.name.clone(),
            ..View::default()
        },
        http: awc::Client::default(),
    };
    let deadline = started + shape.deadline;
    let padding = if shape.padding == 0 {
        String::new()
    } else {
        format!(" {}", "x".repeat(shape.padding))
    };
    let mut pending: Vec<Pending> = Vec::new();
    let mut made = 0usize;
    let mut next_message = Instant::now();
    let mut node = index % targets.ws.len();
    let mut backoff = Duration::from_millis(100);
    let mut first = true;

    let mut finished_at: Option<Instant> = None;
    'connection: loop {
        if session.settled(
            &mut finished_at,
            made == shape.messages && pending.is_empty(),
            everyone,
        ) {
            break;
        }
        within_deadline(&user, shape, deadline, made, pending.len());
        if !first {
            stats.borrow_mut().reconnects += 1;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
        first = false;
        let Some(mut socket) = connect(&targets.ws[node], &user.token).await else {
            node = (node + 1) % targets.ws.len();
            continue;
        };
        let mut this_connection = HashSet::new();
        for p in &mut pending {
            p.in_flight = false;
        }

        // Join every room and wait for each answer before catching up, so that nothing
        // falls between the catch-up and the subscription.
        let mut unanswered: HashSet<&str> = user.rooms.iter().map(String::as_str).collect();
        for room in &user.rooms {
            let join = json!({"type": "join", "room": room}).to_string();
            if socket.send(Message::Text(join.into())).await.is_err() {
                continue 'connection;
            }
        }
        while !unanswered.is_empty() {
            let Ok(Some(Ok(message))) =
                tokio::time::timeout(Duration::from_secs(10), socket.next()).await
            else {
                continue 'connection;
            };
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).expect("frames are JSON");
            match frame["type"].as_str() {
                Some("presence") if frame["action"] == "online_users" => {
                    unanswered.remove(frame["room"].as_str().unwrap_or_default());
                }
                Some("error") => continue 'connection,
                _ => session.record(&frame, Some(&mut this_connection)),
            }
        }
        let mut behind: HashSet<String> = user.rooms.iter().cloned().collect();
        let mut next_catch_up = Instant::now();

        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut paused_until = Instant::now();
        loop {
            if session.settled(
                &mut finished_at,
                made == shape.messages && pending.is_empty(),
                everyone,
            ) {
                break 'connection;
            }
            within_deadline(&user, shape, deadline, made, pending.len());
            tokio::select! {
                message = socket.next() => {
                    let Some(Ok(message)) = message else { continue 'connection };
                    let text = match message {
                        Message::Text(text) => text,
                        Message::Close(_) => continue 'connection,
                        _ => continue,
                    };
                    let frame: Value = serde_json::from_str(&text).expect("frames are JSON");
                    match frame["type"].as_str() {
                        Some("ack") => {
                            let cid = frame["client_id"].as_str().expect("ack client_id").to_owned();
                            let room = frame["room"].as_str().expect("ack room").to_owned();
                            let seq = frame["seq"].as_i64().expect("ack seq");
                            let mut s = stats.borrow_mut();
                            if let Some((r, earlier)) = s.acked.get(&cid).cloned()
                                && (r != room || earlier != seq)
                            {
                                s.disagreements.push(format!("{cid} acked as {r}#{earlier} and {room}#{seq}"));
                            }
                            s.acked.insert(cid.clone(), (room, seq));
                            s.ack_times.push(Instant::now());
                            pending.retain(|p| p.cid != cid);
                            backoff = Duration::from_millis(100);
                        }
                        Some("error") => {
                            let Some(cid) = frame["client_id"].as_str() else { continue };
                            if let Some(p) = pending.iter_mut().find(|p| p.cid == cid) {
                                p.in_flight = false;
                            }
                            stats.borrow_mut().refused += 1;
                            // Everything after it waits too, so that order is kept.
                            for p in &mut pending {
                                p.in_flight = false;
                            }
                            paused_until = Instant::now() + backoff;
                            backoff = (backoff * 2).min(Duration::from_secs(1));
                        }
                        Some(_) if frame["seq"].is_i64() => {
                            let room = frame["room"].as_str().unwrap_or_default().to_owned();
                            let seq = frame["seq"].as_i64().unwrap_or_default();
                            if seq > session.contiguous(&room) + 1 {
                                behind.insert(room);
                            }
                            session.record(&frame, Some(&mut this_connection));
                        }
                        _ => {}
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    while made < shape.messages && now >= next_message {
                        let room = user.rooms[made % user.rooms.len()].clone();
                        let cid = format!("{}-{made}", user.name);
                        let content = format!("{} #{made} in {room}{padding}", user.name);
                        stats.borrow_mut().sent.insert(cid.clone(), (room.clone(), content.clone()));
                        pending.push(Pending { cid, room, content, in_flight: false });
                        made += 1;
                        next_message += shape.interval;
                    }
                    if now >= paused_until {
                        let mut flying = pending.iter().filter(|p| p.in_flight).count();
                        for p in pending.iter_mut().filter(|p| !p.in_flight) {
                            if flying >= shape.window {
                                break;
                            }
                            let frame = json!({"type": "chat", "room": p.room, "content": p.content, "client_id": p.cid});
                            if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                                continue 'connection;
                            }
                            p.in_flight = true;
                            flying += 1;
                        }
                    }
                    if now >= next_catch_up {
                        let rooms: Vec<String> = behind.drain().collect();
                        for room in rooms {
                            if session.catch_up(&room).await.is_none() {
                                behind.insert(room);
                                // front is not answering: ask again in a while.
                                next_catch_up = Instant::now() + Duration::from_millis(500);
                            }
                        }
                    }
                }
            }
        }
    }

    // The load is over: one more catch-up of every room (front may still be coming back).
    for room in &user.rooms {
        loop {
            let known: HashSet<i64> = session
                .view
                .rooms
                .get(room)
                .map(|log| log.keys().copied().collect())
                .unwrap_or_default();
            if let Some(new) = session.catch_up(room).await {
                if new > 0 {
                    let filled: Vec<i64> = session.view.rooms[room]
                        .keys()
                        .filter(|seq| !known.contains(seq))
                        .copied()
                        .collect();
                    println!("{} had not seen {room} {filled:?} until the end", user.name);
                }
                session.view.filled_at_end += new;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no final catch-up of {room}",
                user.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    session.view
}
