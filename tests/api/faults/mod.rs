//! The fault suite: the split deployment as real processes (`auth`, `front` over
//! PostgreSQL, two `ws` nodes over Redis) under a mixed load of users that behave like the
//! chat page, while a role, PostgreSQL or Redis is killed, restarted, silenced or slowed.
//! After each, the history must hold every acknowledged message exactly once, every room
//! gapless, and every user's view must equal the history (docs/RELIABILITY.md).

mod check;
mod cluster;
mod load;

use std::time::{Duration, Instant};

use check::{Report, verify};
use cluster::{Cluster, Options, free_bind};
use load::{Shape, Shared, Targets, User};

use crate::helpers::{DelayProxy, OwnRedis, StallingProxy, free_port};

const ROOMS: [&str; 3] = ["north", "east", "south"];
const USERS: usize = 6;

/// Users `load0`… in two rooms each (every room has four of them), with tokens.
async fn users(cluster: &Cluster) -> Vec<User> {
    let mut users = Vec::new();
    for i in 0..USERS {
        let name = format!("load{i}");
        let token = cluster.token(&name).await;
        if i == 0 {
            for room in ROOMS {
                cluster.create_room(&token, room).await;
            }
        }
        let rooms = vec![
            ROOMS[i % ROOMS.len()].to_owned(),
            ROOMS[(i + 1) % ROOMS.len()].to_owned(),
        ];
        users.push(User { name, token, rooms });
    }
    users
}

/// Waits until `n` messages have been acknowledged (the load is running meanwhile).
async fn until_acked(stats: &Shared, n: usize) {
    while stats.borrow().acked.len() < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the load on `cluster` with `fault` beside it (which answers when its fault ended),
/// then checks the history and every view.
async fn drive<F>(scenario: &'static str, cluster: &mut Cluster, shape: Shape, fault: F) -> Report
where
    F: AsyncFnOnce(&mut Cluster, &Shared) -> Option<Instant>,
{
    let users = users(cluster).await;
    drive_users(scenario, cluster, users, shape, fault).await
}

/// As [`drive`], for users made already.
async fn drive_users<F>(
    scenario: &'static str,
    cluster: &mut Cluster,
    users: Vec<User>,
    shape: Shape,
    fault: F,
) -> Report
where
    F: AsyncFnOnce(&mut Cluster, &Shared) -> Option<Instant>,
{
    let token = users[0].token.clone();
    let targets = Targets {
        ws: cluster.ws_urls(),
        front: cluster.front_url(),
    };
    let stats = Shared::default();
    let (views, fault_ended) = futures_util::future::join(
        load::run(users, &targets, &shape, &stats),
        fault(cluster, &stats),
    )
    .await;
    let rooms: Vec<String> = ROOMS.map(str::to_owned).to_vec();
    // The load is over: nothing else holds the counters now.
    let stats = stats.take();
    verify(
        scenario,
        &cluster.front_url(),
        &token,
        &rooms,
        &stats,
        &views,
        fault_ended,
    )
    .await
}

/// A quarter of the load acknowledged: the moment to strike.
fn quarter(shape: &Shape) -> usize {
    USERS * shape.messages / 4
}

#[actix_web::test]
async fn a_ws_node_killed_mid_load_loses_and_repeats_nothing() {
    let mut cluster = Cluster::start(OwnRedis::start(free_port()), Options::default());
    let shape = Shape::default();
    let strike = quarter(&shape);
    drive(
        "ws killed -9",
        &mut cluster,
        shape,
        async |cluster, stats| {
            until_acked(stats, strike).await;
            cluster.ws[0].take().expect("node 0").kill();
            // Its users reconnect to the other node meanwhile; it comes back a second later.
            tokio::time::sleep(Duration::from_secs(1)).await;
            cluster.start_ws(0).await;
            Some(Instant::now())
        },
    )
    .await;
}

#[actix_web::test]
async fn front_killed_mid_load_loses_and_repeats_nothing() {
    let mut cluster = Cluster::start(OwnRedis::start(free_port()), Options::default());
    let shape = Shape::default();
    let strike = quarter(&shape);
    drive(
        "front killed -9",
        &mut cluster,
        shape,
        async |cluster, stats| {
            until_acked(stats, strike).await;
            cluster.front.take().expect("front").kill();
            tokio::time::sleep(Duration::from_secs(2)).await;
            cluster.start_front().await;
            Some(Instant::now())
        },
    )
    .await;
}

async fn postgres_restart(mode: &'static str, scenario: &'static str) {
    let mut cluster = Cluster::start(
        OwnRedis::start(free_port()),
        Options {
            own_postgres: true,
            ..Options::default()
        },
    );
    let shape = Shape::default();
    let strike = quarter(&shape);
    drive(scenario, &mut cluster, shape, async |cluster, stats| {
        until_acked(stats, strike).await;
        let pg = cluster.own_postgres();
        pg.stop(mode).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        pg.start_again().await;
        Some(Instant::now())
    })
    .await;
}

#[actix_web::test]
async fn postgres_restarted_fast_mid_load_loses_and_repeats_nothing() {
    postgres_restart("fast", "PostgreSQL restarted (fast)").await;
}

#[actix_web::test]
async fn postgres_restarted_immediate_mid_load_loses_and_repeats_nothing() {
    postgres_restart("immediate", "PostgreSQL restarted (immediate)").await;
}

#[actix_web::test]
async fn redis_restarted_mid_load_loses_and_repeats_nothing() {
    let port = free_port();
    let mut cluster = Cluster::start(OwnRedis::start(port), Options::default());
    let shape = Shape::default();
    let strike = quarter(&shape);
    drive(
        "Redis restarted",
        &mut cluster,
        shape,
        async |cluster, stats| {
            until_acked(stats, strike).await;
            cluster.redis.stop();
            tokio::time::sleep(Duration::from_secs(1)).await;
            cluster.redis = OwnRedis::start(port);
            Some(Instant::now())
        },
    )
    .await;
}

/// The Redis connection goes silent (a proxy stops passing bytes, the sockets stay open):
/// each node must notice, say `degraded`, reconnect once the network is back, and its users
/// must fill what the silence kept from them.
#[actix_web::test]
async fn a_silent_redis_mid_load_is_noticed_and_loses_nothing() {
    let redis = OwnRedis::start(free_port());
    let proxy = StallingProxy::start(&redis.address()).await;
    let mut cluster = Cluster::start(
        redis,
        Options {
            redis_url: Some(format!("redis://{}", proxy.address)),
            ..Options::default()
        },
    );
    // Long enough to outlast the ten seconds a node waits before it gives a silent bus up.
    let shape = Shape {
        messages: 200,
        ..Shape::default()
    };
    let strike = quarter(&shape);
    let ws = cluster.ws_urls();
    drive("Redis silent", &mut cluster, shape, async |_, stats| {
        until_acked(stats, strike).await;
        proxy.stall();
        let stalled = Instant::now();
        for node in &ws {
            wait_for_health(node, "degraded").await;
        }
        println!(
            "silent Redis noticed after {:.1} s",
            stalled.elapsed().as_secs_f64()
        );
        proxy.resume();
        let resumed = Instant::now();
        for node in &ws {
            wait_for_health(node, "ok").await;
        }
        println!(
            "bus ok {:.1} s after the network came back",
            resumed.elapsed().as_secs_f64()
        );
        Some(resumed)
    })
    .await;
}

/// Waits (bounded) until `node`'s `/healthz` says `status`.
async fn wait_for_health(node: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut response) = awc::Client::default()
            .get(format!("{node}/healthz"))
            .send()
            .await
        {
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if body["status"] == status {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{node} never said {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `front` slow to answer `ws`: every packet between them held 300 ms for five seconds, and
/// meanwhile the messages table locked for four.
#[actix_web::test]
async fn a_slow_front_mid_load_loses_and_repeats_nothing() {
    let front_bind = free_bind();
    let proxy = DelayProxy::start("127.0.0.1:0", &front_bind).await;
    let mut cluster = Cluster::start(
        OwnRedis::start(free_port()),
        Options {
            front_bind: Some(front_bind),
            ws_front_url: Some(format!("http://{}", proxy.address)),
            ..Options::default()
        },
    );
    let shape = Shape::default();
    let strike = quarter(&shape);
    let db_url = cluster.db_url().to_owned();
    drive("slow front", &mut cluster, shape, async |_, stats| {
        until_acked(stats, strike).await;
        proxy.set_delay(Duration::from_millis(300));
        let lock = tokio::task::spawn_blocking(move || {
            hold_messages_lock(&db_url, Duration::from_secs(4))
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        lock.await.expect("lock");
        proxy.set_delay(Duration::ZERO);
        Some(Instant::now())
    })
    .await;
}

/// Holds an exclusive lock on `messages` for `hold`, as a long migration or a stuck
/// transaction would.
fn hold_messages_lock(url: &str, hold: Duration) {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let mut conn = PgConnection::establish(url).expect("connect");
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::sql_query("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE").execute(conn)?;
        std::thread::sleep(hold);
        Ok(())
    })
    .expect("lock messages");
}

/// A user who joins every room and then stops reading: the node closes them once their
/// queue is full; everyone else is served as if they were not there.
#[actix_web::test]
async fn a_reader_that_stops_mid_load_holds_up_no_one() {
    let mut cluster = Cluster::start(
        OwnRedis::start(free_port()),
        Options {
            ws_env: vec![("CHATAPP__WS__QUEUE".into(), "16".into())],
            ..Options::default()
        },
    );
    // Enough for the stopped reader (in every room) to fill its socket's buffers and
    // then its queue: about 3.5 MB.
    let shape = Shape {
        messages: 150,
        interval: Duration::from_millis(60),
        padding: 3900,
        ..Shape::default()
    };
    let users = users(&cluster).await;
    let stalled_token = cluster.token("stalled").await;
    let stalled = stalled_reader(&cluster.ws_urls()[0], &stalled_token).await;
    drive_users(
        "a reader that stops reading",
        &mut cluster,
        users,
        shape,
        async |_, _| None,
    )
    .await;
    // The node gave up on it (its queue filled) and let it go at once, not after the
    // 75 s a write may otherwise take.
    let metrics = awc::Client::default()
        .get(format!("{}/metrics", cluster.ws_urls()[0]))
        .send()
        .await
        .expect("metrics")
        .body()
        .await
        .expect("body");
    let metrics = String::from_utf8_lossy(&metrics).into_owned();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("chatapp_ws_slow_closed_total") && !l.ends_with(" 0")),
        "the stopped reader was closed as too slow:\n{metrics}"
    );
    // Without a byte read from it: the node's end of the socket is gone within seconds
    // (not held, buffers and all, for the 75 s a blocked write may otherwise take).
    let (node, client) = (
        stalled.get_ref().peer_addr().expect("peer"),
        stalled.get_ref().local_addr().expect("local"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while established(node.port(), client.port()) {
        assert!(
            Instant::now() < deadline,
            "the node still holds the stopped reader's socket open"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ended = tokio::time::timeout(Duration::from_secs(10), read_to_end(stalled))
        .await
        .expect("the stopped reader's connection ends");
    assert!(
        matches!(ended, Some(1013) | None),
        "closed as a slow reader, or cut: {ended:?}"
    );
}

/// Whether the node's end of the connection (`node_port` → `client_port`) is still open.
fn established(node_port: u16, client_port: u16) -> bool {
    let filter = format!("( sport = :{node_port} and dport = :{client_port} )");
    let out = std::process::Command::new("ss")
        .args(["-Htn", "state", "established", &filter])
        .output()
        .expect("ss (iproute2)");
    assert!(out.status.success(), "ss failed");
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

/// A connection with a tiny receive buffer that joins every room and never reads again.
async fn stalled_reader(
    ws: &str,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    use futures_util::SinkExt;
    let address = ws.trim_start_matches("http://");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket
        .connect(address.parse().expect("address"))
        .await
        .expect("connect");
    let url = format!("ws://{address}/ws/chat?token={token}");
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("handshake");
    for room in ROOMS {
        let join = serde_json::json!({"type": "join", "room": room}).to_string();
        ws.send(tokio_tungstenite::tungstenite::Message::Text(join.into()))
            .await
            .expect("join");
    }
    ws
}

/// Reads until the connection ends; answers the close code, if one came.
async fn read_to_end(
    mut ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
) -> Option<u16> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    while let Some(Ok(message)) = ws.next().await {
        if let Message::Close(frame) = message {
            return frame.map(|f| u16::from(f.code));
        }
    }
    None
}
