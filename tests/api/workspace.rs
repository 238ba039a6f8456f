//! A workspace a team owns: the first account is the administrator, invitations, roles,
//! private rooms and direct messages that do not exist for anyone else, moderation.

use awc::http::Method;
use chatapp::domain::Registration;
use chatapp::server::Role;
use serde_json::{Value, json};

use crate::chat::chat;
use crate::helpers::{Backend, TestApp, WsClient, spawn_app_with};

const PASSWORD: &str = "a workspace password";

async fn invite_only(backend: Backend) -> TestApp {
    spawn_app_with(Role::All, backend, |s| {
        s.auth.registration = Registration::Invite;
    })
    .await
}

async fn register(app: &TestApp, name: &str, invite: Option<&str>) -> (u16, Value) {
    let mut body = json!({"username": name, "password": PASSWORD});
    if let Some(code) = invite {
        body["invite"] = json!(code);
    }
    let (status, json, _) = app.post_json("/auth/api/register", &body).await;
    (status, json)
}

/// Registers (open registration) and signs in.
async fn member(app: &TestApp, name: &str) -> String {
    let (status, body) = register(app, name, None).await;
    assert_eq!(status, 201, "{body}");
    app.login(name, PASSWORD).await
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    app.get_with_token(path, token).await
}

async fn invitations_let_people_in(backend: Backend) {
    let app = invite_only(backend).await;
    // The first account is the administrator's, invitation or not.
    let (status, first) = register(&app, "founder", None).await;
    assert_eq!(
        (status, first["role"].clone()),
        (201, json!("admin")),
        "{first}"
    );
    let admin = app.login("founder", PASSWORD).await;
    let (_, me) = get(&app, "/api/me", &admin).await;
    assert_eq!(
        (me["username"].clone(), me["role"].clone()),
        (json!("founder"), json!("admin"))
    );

    // After that: no invitation, no account.
    let (status, refused) = register(&app, "stranger", None).await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (403, json!("invite_required"))
    );
    let (status, _) = register(&app, "stranger", Some("not-a-code")).await;
    assert_eq!(status, 403);

    // The workspace join code lets anyone in, until it is rotated.
    let (status, code) = get(&app, "/api/admin/join_code", &admin).await;
    assert_eq!(status, 200, "{code}");
    let old = code["code"].as_str().expect("code").to_owned();
    assert_eq!(code["url"], format!("/join/{old}"));
    let (status, joined) = register(&app, "joiner", Some(&old)).await;
    assert_eq!(
        (status, joined["role"].clone()),
        (201, json!("member")),
        "{joined}"
    );
    let (status, rotated) = app
        .post_with_token("/api/admin/join_code", &admin, &json!({}))
        .await;
    assert_eq!(status, 200);
    let new = rotated["code"].as_str().expect("code").to_owned();
    assert_ne!(new, old);
    assert_eq!(
        register(&app, "late", Some(&old)).await.0,
        403,
        "the old code stops"
    );
    assert_eq!(register(&app, "late", Some(&new)).await.0, 201);

    // A one-person invite works once.
    let (status, invite) = app
        .post_with_token("/api/admin/invites", &admin, &json!({}))
        .await;
    assert_eq!(status, 201, "{invite}");
    let once = invite["code"].as_str().expect("code");
    assert_eq!(register(&app, "guest", Some(once)).await.0, 201);
    assert_eq!(register(&app, "guest2", Some(once)).await.0, 403);

    // Members are not administrators.
    let joiner = app.login("joiner", PASSWORD).await;
    for path in [
        "/api/admin/users",
        "/api/admin/join_code",
        "/api/admin/audit",
    ] {
        assert_eq!(get(&app, path, &joiner).await.0, 403, "{path}");
    }
    let (status, _) = app
        .post_with_token("/api/admin/join_code", &joiner, &json!({}))
        .await;
    assert_eq!(status, 403);
    let (_, audit) = get(&app, "/api/admin/audit", &admin).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions, vec!["invite", "rotate_join_code"]);
    app.stop().await;
}
crate::both_backends!(invitations, invitations_let_people_in);

#[actix_web::test]
async fn the_join_link_and_first_run_lead_to_the_registration_form() {
    let app = invite_only(Backend::Sqlite).await;
    let (status, _) = app.get_text("/").await;
    assert_eq!(status, 303);
    let response = app.client.get(app.url("/")).send().await.expect("get");
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/auth/register"),
        "a workspace without accounts asks for its administrator"
    );
    let (_, page) = app.get_text("/auth/register").await;
    assert!(page.contains("Create the administrator account"), "{page}");
    assert_eq!(register(&app, "founder", None).await.0, 201);
    let response = app
        .client
        .get(app.url("/join/abc123"))
        .send()
        .await
        .expect("get");
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/auth/register?invite=abc123")
    );
    let (_, page) = app.get_text("/auth/register?invite=abc123").await;
    assert!(
        page.contains(r#"name="invite""#) && page.contains(r#"value="abc123""#),
        "{page}"
    );
    assert!(!page.contains("administrator account"));
    app.stop().await;
}

#[actix_web::test]
async fn closed_registration_refuses_everyone_but_the_first() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.auth.registration = Registration::Closed;
    })
    .await;
    assert_eq!(register(&app, "founder", None).await.0, 201);
    let (status, body) = register(&app, "second", None).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("registration_closed"))
    );
    app.stop().await;
}

async fn a_private_room_does_not_exist_for_others(backend: Backend) {
    let app = spawn_app_with(Role::All, backend, |_| {}).await;
    let alice = member(&app, "alice").await;
    let bob = member(&app, "bob").await;
    let (status, room) = app
        .post_with_token(
            "/api/rooms",
            &alice,
            &json!({"name": "secret", "kind": "private"}),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    assert_eq!(
        (room["kind"].clone(), room["member"].clone()),
        (json!("private"), json!(true))
    );
    let mut a = WsClient::connect(&app.address, &alice).await;
    a.join("secret").await;
    a.send(chat("secret", "for members", "s-1")).await;
    assert_eq!(a.recv_type("ack").await["seq"], 1);

    // Bob, not a member: every path says there is no such room.
    let not_found = [
        "/api/chat/chat_history?room=secret",
        "/api/chat/events?room=secret",
        "/api/presence?room=secret",
        "/api/rooms/secret/members",
    ];
    for path in not_found {
        let (status, body) = get(&app, path, &bob).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (404, json!("not_found")),
            "{path}"
        );
    }
    let (_, rooms) = get(&app, "/api/rooms", &bob).await;
    assert!(
        rooms
            .as_array()
            .expect("rooms")
            .iter()
            .all(|r| r["name"] != "secret")
    );
    let mut b = WsClient::connect(&app.address, &bob).await;
    b.send(json!({"type": "join", "room": "secret"})).await;
    assert_eq!(b.recv().await["code"], "not_found");
    b.send(chat("secret", "let me in", "b-1")).await;
    let refused = b.recv_type("error").await;
    assert_eq!(
        (refused["code"].clone(), refused["client_id"].clone()),
        (json!("not_found"), json!("b-1"))
    );
    let (status, _) = app
        .post_with_token(
            "/api/rooms/secret/members",
            &bob,
            &json!({"username": "bob"}),
        )
        .await;
    assert_eq!(status, 404, "a non-member cannot add himself");

    // Alice adds him: now he reads it, joins it, and it is listed.
    let (status, added) = app
        .post_with_token(
            "/api/rooms/secret/members",
            &alice,
            &json!({"username": "bob"}),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    let (status, history) = get(&app, "/api/chat/chat_history?room=secret", &bob).await;
    assert_eq!(status, 200);
    assert_eq!(history["messages"][0]["content"], "for members");
    b.join("secret").await;
    let (_, members) = get(&app, "/api/rooms/secret/members", &bob).await;
    assert_eq!(members["members"], json!(["alice", "bob"]));

    // He leaves: the room is gone for him again.
    let (status, _) = app
        .send_with_token(Method::DELETE, "/api/rooms/secret/members/bob", &bob, None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(get(&app, "/api/chat/events?room=secret", &bob).await.0, 404);
    let (status, _) = app
        .send_with_token(
            Method::DELETE,
            "/api/rooms/secret/members/alice",
            &bob,
            None,
        )
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}
crate::both_backends!(private_rooms, a_private_room_does_not_exist_for_others);

#[actix_web::test]
async fn a_direct_room_is_one_room_per_set_of_people() {
    let app = spawn_app_with(Role::All, Backend::Postgres, |_| {}).await;
    let alice = member(&app, "alice").await;
    let bob = member(&app, "bob").await;
    let carol = member(&app, "carol").await;
    let dave = member(&app, "dave").await;
    let (status, first) = app
        .post_with_token("/api/dms", &alice, &json!({"users": ["bob", "carol"]}))
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["kind"], "direct");
    let (status, again) = app
        .post_with_token("/api/dms", &bob, &json!({"users": ["Carol", "alice"]}))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["name"], first["name"]);
    let name = first["name"].as_str().expect("name");
    let (_, rooms) = get(&app, "/api/rooms", &carol).await;
    assert!(
        rooms
            .as_array()
            .expect("rooms")
            .iter()
            .any(|r| r["name"] == name && r["member"] == true)
    );
    let (status, _) = get(&app, &format!("/api/chat/events?room={name}"), &dave).await;
    assert_eq!(status, 404);
    // A pair is another room; one person alone, or nine, is not a direct room.
    let (_, pair) = app
        .post_with_token("/api/dms", &alice, &json!({"users": ["bob"]}))
        .await;
    assert_ne!(pair["id"], first["id"]);
    let (status, _) = app
        .post_with_token("/api/dms", &alice, &json!({"users": []}))
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .post_with_token("/api/dms", &alice, &json!({"users": ["nobody-here"]}))
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .post_with_token(
            &format!("/api/rooms/{name}/members"),
            &alice,
            &json!({"username": "dave"}),
        )
        .await;
    assert_eq!(status, 409, "a direct room's people are fixed");
    app.stop().await;
}

#[actix_web::test]
async fn admins_manage_users_and_rooms() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |_| {}).await;
    let admin = member(&app, "boss").await;
    let worker = member(&app, "worker").await;
    let (_, users) = get(&app, "/api/admin/users", &admin).await;
    let roles: Vec<(Value, Value)> = users
        .as_array()
        .expect("users")
        .iter()
        .map(|u| (u["username"].clone(), u["role"].clone()))
        .collect();
    assert_eq!(
        roles,
        vec![
            (json!("boss"), json!("admin")),
            (json!("worker"), json!("member"))
        ]
    );
    let (status, changed) = app
        .post_with_token("/api/admin/users/worker", &admin, &json!({"role": "admin"}))
        .await;
    assert_eq!((status, changed["role"].clone()), (200, json!("admin")));
    let (_, me) = get(&app, "/api/me", &worker).await;
    assert_eq!(
        me["role"], "admin",
        "the role is read anew, not from the token"
    );
    let (status, _) = app
        .post_with_token("/api/admin/users/boss", &admin, &json!({"active": false}))
        .await;
    assert_eq!(status, 409, "no one deactivates themselves");

    // Archived: read only.
    let (status, _) = app
        .post_with_token(
            "/api/admin/rooms/general",
            &admin,
            &json!({"archived": true}),
        )
        .await;
    assert_eq!(status, 200);
    let mut socket = WsClient::connect(&app.address, &worker).await;
    socket.join("general").await;
    socket.send(chat("general", "hello?", "w-1")).await;
    let refused = socket.recv_type("error").await;
    assert_eq!(
        (refused["code"].clone(), refused["client_id"].clone()),
        (json!("forbidden"), json!("w-1"))
    );

    // Deactivated: no sign-in, and the token the worker holds stops working.
    let (status, _) = app
        .post_with_token("/api/admin/users/worker", &admin, &json!({"active": false}))
        .await;
    assert_eq!(status, 200);
    let body = json!({"username": "worker", "password": PASSWORD});
    let (status, refused, _) = app.post_json("/auth/api/login", &body).await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (403, json!("account_deactivated"))
    );
    assert_eq!(get(&app, "/api/me", &worker).await.0, 401);
    app.stop().await;
}

async fn membership_changes_are_room_events_that_end_subscriptions(backend: Backend) {
    let app = spawn_app_with(Role::All, backend, |_| {}).await;
    let alice = member(&app, "alice").await;
    let bob = member(&app, "bob").await;
    app.post_with_token(
        "/api/rooms",
        &alice,
        &json!({"name": "team", "kind": "private"}),
    )
    .await;
    let mut a = WsClient::connect(&app.address, &alice).await;
    let mut b = WsClient::connect(&app.address, &bob).await;
    a.join("team").await;
    a.join("general").await;
    let (status, _) = app
        .post_with_token(
            "/api/rooms/team/members",
            &alice,
            &json!({"username": "bob"}),
        )
        .await;
    assert_eq!(status, 201);
    // The room sees it live, with the room's next seq.
    let added = a.recv_type("member_added").await;
    assert_eq!(
        (
            added["room"].clone(),
            added["seq"].clone(),
            added["user"].clone(),
            added["sender"].clone()
        ),
        (json!("team"), json!(1), json!("bob"), json!("alice"))
    );
    b.join("team").await;
    b.join("general").await;
    a.send(chat("team", "welcome", "t-1")).await;
    assert_eq!(a.recv_type("ack").await["seq"], 2);
    assert_eq!(b.recv_type("chat").await["seq"], 2);

    // Removed: told once, then nothing more of the room reaches his socket.
    let (status, _) = app
        .send_with_token(Method::DELETE, "/api/rooms/team/members/bob", &alice, None)
        .await;
    assert_eq!(status, 204);
    let removed = b.recv_type("member_removed").await;
    assert_eq!(
        (removed["seq"].clone(), removed["user"].clone()),
        (json!(3), json!("bob"))
    );
    a.send(chat("team", "after bob", "t-2")).await;
    assert_eq!(a.recv_type("ack").await["seq"], 4);
    a.send(chat("general", "barrier", "g-1")).await;
    let next = loop {
        let frame = b.recv().await;
        if frame["type"] == "chat" {
            break frame;
        }
    };
    assert_eq!(
        next["room"], "general",
        "the team's message never reached him: {next}"
    );

    // The events feed has them all, gapless.
    let (_, feed) = app
        .get_with_token("/api/chat/events?room=team", &alice)
        .await;
    let kinds: Vec<&str> = feed["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        kinds,
        vec!["member_added", "chat", "member_removed", "chat"]
    );
    assert_eq!(feed["events"][2], removed);
    app.stop().await;
}
crate::both_backends!(
    membership_events,
    membership_changes_are_room_events_that_end_subscriptions
);

#[actix_web::test]
async fn a_deactivated_users_socket_is_closed() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |_| {}).await;
    let admin = member(&app, "boss").await;
    let worker = member(&app, "worker").await;
    let mut socket = WsClient::connect(&app.address, &worker).await;
    socket.join("general").await;
    let started = std::time::Instant::now();
    let (status, _) = app
        .post_with_token("/api/admin/users/worker", &admin, &json!({"active": false}))
        .await;
    assert_eq!(status, 200);
    let ended = loop {
        match socket.next().await {
            Ok(_) => continue,
            Err(ended) => break ended,
        }
    };
    assert_eq!(ended, crate::helpers::Ended::Closed(Some(4401)));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // A new socket with the same token cannot subscribe.
    let mut again = WsClient::connect(&app.address, &worker).await;
    again.send(json!({"type": "join", "room": "general"})).await;
    assert_eq!(again.recv().await["code"], "forbidden");
    app.stop().await;
}

/// A member makes at most a burst of rooms, then one a minute; an administrator is not
/// counted, and a refused request uses nothing up.
#[actix_web::test]
async fn room_creation_is_rate_limited_per_member() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |_| {}).await;
    let admin = member(&app, "chief").await;
    let bob = member(&app, "bob").await;
    let carol = member(&app, "carol").await;
    for i in 0..10 {
        let (status, body) = app
            .post_with_token("/api/rooms", &bob, &json!({"name": format!("bob-{i}")}))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = app
        .post_with_token("/api/rooms", &bob, &json!({"name": "bob-10"}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (429, json!("rate_limited"))
    );
    // Carol is not affected; the administrator is not counted.
    let (status, _) = app
        .post_with_token("/api/rooms", &carol, &json!({"name": "carols"}))
        .await;
    assert_eq!(status, 201);
    for i in 0..12 {
        let (status, _) = app
            .post_with_token("/api/rooms", &admin, &json!({"name": format!("ops-{i}")}))
            .await;
        assert_eq!(status, 201);
    }
    app.stop().await;
}

/// A request with the caller's token: the status, the body as JSON (Null if not JSON) and
/// one response header.
async fn with_header(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
    header: &str,
) -> (u16, Value, Option<String>) {
    let request = app
        .client
        .request(method, app.url(path))
        .insert_header(("Authorization", format!("Bearer {token}")));
    let mut response = match body {
        Some(body) => request.send_json(body).await,
        None => request.send().await,
    }
    .expect("request");
    let bytes = response.body().await.expect("body");
    let value = response
        .headers()
        .get(header)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        response.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        value,
    )
}

fn names(rooms: &Value) -> Vec<String> {
    rooms
        .as_array()
        .expect("a list of rooms")
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_owned())
        .collect()
}

/// Follows `Link: <…>; rel="next"` from `first`; the pages' room names, page by page.
async fn all_pages(app: &TestApp, first: &str, token: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(path) = next.take() {
        assert!(pages.len() < 20, "the next links do not end");
        let (status, rooms, link) = with_header(app, Method::GET, &path, token, None, "link").await;
        assert_eq!(status, 200, "{path}: {rooms}");
        pages.push(names(&rooms));
        next = link.map(|link| {
            let target = link
                .strip_prefix('<')
                .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                .unwrap_or_else(|| panic!("a next link: {link}"));
            target.to_owned()
        });
    }
    pages
}

/// `GET /api/rooms` answers at most `limit` rooms (1000 by default) by name after the
/// `after` cursor, with a `next` link while more follow; members-only rooms stay hidden.
async fn rooms_are_listed_a_page_at_a_time(backend: Backend) {
    let app = spawn_app_with(Role::All, backend, |_| {}).await;
    let admin = member(&app, "chief").await;
    let bob = member(&app, "bob").await;
    member(&app, "carol").await;
    for (name, kind) in [
        ("foxtrot", "public"),
        ("alpha", "public"),
        ("echo", "public"),
        ("hidden", "private"),
        ("charlie", "public"),
        ("bravo", "public"),
        ("delta", "public"),
    ] {
        let (status, body) = app
            .post_with_token("/api/rooms", &admin, &json!({"name": name, "kind": kind}))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = app
        .post_with_token(
            "/api/rooms",
            &bob,
            &json!({"name": "mine", "kind": "private"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, dm) = app
        .post_with_token("/api/dms", &bob, &json!({"users": ["carol"]}))
        .await;
    assert_eq!(status, 201, "{dm}");
    let dm = dm["name"].as_str().expect("name").to_owned();

    // What bob may see, by name: not `hidden`.
    let mut expected: Vec<String> = [
        "general", "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "mine",
    ]
    .map(str::to_owned)
    .into();
    expected.push(dm.clone());
    expected.sort();
    assert_eq!(expected.len(), 9);

    // Without parameters: one page of everything, and no link.
    let (status, rooms, link) =
        with_header(&app, Method::GET, "/api/rooms", &bob, None, "link").await;
    assert_eq!(status, 200, "{rooms}");
    assert_eq!(names(&rooms), expected);
    assert_eq!(link, None);
    let flags: Vec<(String, bool)> = rooms
        .as_array()
        .expect("rooms")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().expect("name").to_owned(),
                r["member"].as_bool().expect("member"),
            )
        })
        .filter(|(name, _)| ["alpha", "mine", dm.as_str()].contains(&name.as_str()))
        .collect();
    assert_eq!(
        flags,
        vec![
            ("alpha".to_owned(), false),
            (dm.clone(), true),
            ("mine".to_owned(), true)
        ]
    );

    // Pages of 3 end exactly: three full pages, and no fourth request.
    let pages = all_pages(&app, "/api/rooms?limit=3", &bob).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3]);
    assert_eq!(pages.concat(), expected);
    // Pages of 4: 4, 4, 1.
    let pages = all_pages(&app, "/api/rooms?limit=4", &bob).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 1]);
    assert_eq!(pages.concat(), expected);
    // A cursor alone: what follows that name, whether or not a room has it.
    let (_, rooms, link) = with_header(
        &app,
        Method::GET,
        "/api/rooms?after=delta",
        &bob,
        None,
        "link",
    )
    .await;
    assert_eq!(names(&rooms), expected[4..].to_vec());
    assert_eq!(link, None);
    let (_, rooms, _) = with_header(
        &app,
        Method::GET,
        "/api/rooms?after=dz&limit=2",
        &bob,
        None,
        "link",
    )
    .await;
    assert_eq!(names(&rooms), ["echo", "foxtrot"]);
    // The administrator, a member of `hidden`, sees it where it belongs.
    let pages = all_pages(&app, "/api/rooms?limit=2", &admin).await;
    let mut theirs = expected.clone();
    theirs.retain(|n| n != "mine" && n != &dm);
    theirs.push("hidden".into());
    theirs.sort();
    assert_eq!(pages.concat(), theirs);

    for bad in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=ten",
        "limit=",
        "after=",
        "after=Not%20A%20Room",
        "after=x&limit=99999999999999999999",
    ] {
        let (status, body) = get(&app, &format!("/api/rooms?{bad}"), &bob).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_field", "{bad}: {body}");
        assert!(body["error"]["message"].is_string(), "{bad}: {body}");
    }
    app.stop().await;
}
crate::both_backends!(rooms_list_pages, rooms_are_listed_a_page_at_a_time);

/// `POST /api/dms` for `users`: the status, the body and `Retry-After`.
async fn start_direct(app: &TestApp, token: &str, users: &[&str]) -> (u16, Value, Option<String>) {
    let body = json!({ "users": users });
    with_header(
        app,
        Method::POST,
        "/api/dms",
        token,
        Some(&body),
        "retry-after",
    )
    .await
}

/// A member makes at most a burst of direct rooms, then one a minute (an allowance apart
/// from rooms'); asking again for a direct room that exists is not counted and is answered
/// when the allowance is spent; an administrator is not counted.
#[actix_web::test]
async fn direct_room_creation_is_rate_limited_per_member() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |_| {}).await;
    let admin = member(&app, "chief").await;
    let bob = member(&app, "bob").await;
    let others = ["carol", "dan", "eve", "fay", "gus"];
    let mut tokens = std::collections::HashMap::new();
    for name in others {
        tokens.insert(name, member(&app, name).await);
    }
    // Bob's sets: each of the others, then each pair of them (15 in all).
    let mut sets: Vec<Vec<&str>> = others.iter().map(|o| vec![*o]).collect();
    for (i, a) in others.iter().enumerate() {
        for b in &others[i + 1..] {
            sets.push(vec![*a, *b]);
        }
    }
    let mut made = Vec::new();
    for set in &sets[..10] {
        let (status, room, _) = start_direct(&app, &bob, set).await;
        assert_eq!(status, 201, "{set:?}: {room}");
        // Asked again (in another order, as often as one likes): the same room, not counted.
        let reversed: Vec<&str> = set.iter().rev().copied().collect();
        for _ in 0..3 {
            let (status, again, _) = start_direct(&app, &bob, &reversed).await;
            assert_eq!((status, &again["id"]), (200, &room["id"]), "{again}");
        }
        made.push(room);
    }
    let (status, body, retry_after) = start_direct(&app, &bob, &sets[10]).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (429, json!("rate_limited")),
        "{body}"
    );
    assert!(body["error"]["message"].is_string(), "{body}");
    let retry_after: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    // Limited, bob still gets every direct room that exists.
    for (set, room) in sets.iter().zip(&made) {
        let (status, again, _) = start_direct(&app, &bob, set).await;
        assert_eq!((status, &again["id"]), (200, &room["id"]), "{again}");
    }
    // The refused room was not made: one of its other people, with an allowance of their
    // own, makes it now.
    let (first, rest) = sets[10].split_first().expect("a set");
    let mut theirs: Vec<&str> = rest.to_vec();
    theirs.push("bob");
    let (status, body, _) = start_direct(&app, &tokens[first], &theirs).await;
    assert_eq!(status, 201, "{body}");
    // Rooms have an allowance of their own.
    let (status, body) = app
        .post_with_token("/api/rooms", &bob, &json!({"name": "bobs-room"}))
        .await;
    assert_eq!(status, 201, "{body}");
    // The administrator is not counted.
    for set in &sets {
        let (status, body, _) = start_direct(&app, &admin, set).await;
        assert_eq!(status, 201, "{set:?}: {body}");
    }
    app.stop().await;
}
