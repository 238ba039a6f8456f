//! `front`'s REST API: rooms, history paging and its validation, and the internal save
//! route that only the service credential opens.

use chatapp::server::Role;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

const SERVICE: &str = "the-service-credential-for-tests";

async fn signed_in(app: &TestApp, name: &str) -> (i64, String) {
    let id = app.register(name, "a fine password").await;
    (id, app.login(name, "a fine password").await)
}

async fn post_with(app: &TestApp, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = app.client.post(app.url(path));
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut response = request.send_json(body).await.expect("request");
    let bytes = response.body().await.expect("body");
    (
        response.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn rooms_are_listed_and_created(backend: Backend) {
    let app = spawn_app(Role::All, backend).await;
    let (_, token) = signed_in(&app, "ann").await;
    let (status, rooms) = app.get_with_token("/api/rooms", &token).await;
    assert_eq!(status, 200);
    assert_eq!(rooms[0]["name"], "general");
    assert_eq!(rooms[0]["last_seq"], 0);

    let body = json!({"name": "ops", "description": "on call"});
    let (status, room) = post_with(&app, "/api/rooms", Some(&token), &body).await;
    assert_eq!(status, 201, "{room}");
    assert_eq!(
        (
            room["name"].clone(),
            room["description"].clone(),
            room["last_seq"].clone()
        ),
        (json!("ops"), json!("on call"), json!(0))
    );
    let (status, err) = post_with(&app, "/api/rooms", Some(&token), &body).await;
    assert_eq!(status, 409, "{err}");
    for bad in [
        json!({"name": "Ops"}),
        json!({"name": ""}),
        json!({"name": "a".repeat(65)}),
        json!({}),
    ] {
        let (status, err) = post_with(&app, "/api/rooms", Some(&token), &bad).await;
        assert_eq!(status, 422, "{bad}: {err}");
        assert_eq!(err["error"]["code"], "invalid_field");
    }
    let (status, _) = post_with(&app, "/api/rooms", None, &json!({"name": "x"})).await;
    assert_eq!(status, 401);
    let (_, rooms) = app.get_with_token("/api/rooms", &token).await;
    assert_eq!(rooms.as_array().map(Vec::len), Some(2));
    app.stop().await;
}
both_backends!(rooms_list_and_create, rooms_are_listed_and_created);

async fn history_pages_and_refuses_bad_parameters(backend: Backend) {
    let app = spawn_app_with(Role::All, backend, |s| {
        s.internal.token = Some(SecretString::from(SERVICE));
    })
    .await;
    let (id, token) = signed_in(&app, "ben").await;
    let drafts: Vec<Value> = (1..=7)
        .map(|i| draft(id, "ben", "general", &format!("m{i}"), &format!("h{i}")))
        .collect();
    let (status, saved) = post_with(
        &app,
        "/api/messages/save_message",
        Some(SERVICE),
        &json!({"messages": drafts}),
    )
    .await;
    assert_eq!(status, 200, "{saved}");

    let seqs = |v: &Value| -> Vec<i64> {
        v["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["seq"].as_i64().expect("seq"))
            .collect()
    };
    let (_, page) = app
        .get_with_token("/api/chat/chat_history?room=general&limit=3", &token)
        .await;
    assert_eq!(page["room"], "general");
    assert_eq!(seqs(&page), vec![5, 6, 7]);
    let (_, page) = app
        .get_with_token(
            "/api/chat/chat_history?room=general&before=5&limit=3",
            &token,
        )
        .await;
    assert_eq!(seqs(&page), vec![2, 3, 4]);
    let (_, page) = app
        .get_with_token("/api/chat/chat_history?room=general&after=5", &token)
        .await;
    assert_eq!(seqs(&page), vec![6, 7]);
    let (_, page) = app
        .get_with_token("/api/chat/chat_history?room=general", &token)
        .await;
    assert_eq!(seqs(&page).len(), 7);
    let first = &page["messages"][0];
    for key in [
        "id",
        "room",
        "seq",
        "sender",
        "content",
        "timestamp",
        "client_id",
    ] {
        assert!(first.get(key).is_some(), "message lacks {key}: {first}");
    }

    for query in [
        "room=general&limit=0",
        "room=general&limit=201",
        "room=general&limit=ten",
        "room=general&before=3&after=1",
        "room=general&before=0",
        "room=general&after=-1",
        "limit=5",
    ] {
        let (status, err) = app
            .get_with_token(&format!("/api/chat/chat_history?{query}"), &token)
            .await;
        assert_eq!(status, 422, "{query}: {err}");
        assert_eq!(err["error"]["code"], "invalid_field");
    }
    let (status, err) = app
        .get_with_token("/api/chat/chat_history?room=nowhere", &token)
        .await;
    assert_eq!(status, 404, "{err}");
    let (status, _) = app.get_json("/api/chat/chat_history?room=general").await;
    assert_eq!(status, 401);
    app.stop().await;
}
both_backends!(
    history_paging_and_validation,
    history_pages_and_refuses_bad_parameters
);

#[actix_web::test]
async fn the_internal_save_route_takes_only_the_service_credential() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.internal.token = Some(SecretString::from(SERVICE));
    })
    .await;
    let (id, token) = signed_in(&app, "cat").await;
    let one = draft(id, "cat", "general", "hi", "i-1");
    // The credential is checked before the body is read: whatever the body.
    for body in [&one, &json!("not a draft"), &json!({"messages": 5})] {
        let (status, err) = post_with(&app, "/api/messages/save_message", None, body).await;
        assert_eq!(status, 401, "{err}");
        let (status, err) = post_with(
            &app,
            "/api/messages/save_message",
            Some("wrong-credential"),
            body,
        )
        .await;
        assert_eq!(status, 401, "{err}");
        let (status, err) = post_with(&app, "/api/messages/save_message", Some(&token), body).await;
        assert_eq!(status, 403, "a user's token: {err}");
    }
    let (status, err) = post_with(
        &app,
        "/api/messages/save_message",
        Some(SERVICE),
        &json!("not a draft"),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (400, json!("bad_request"))
    );

    let (status, reply) = post_with(&app, "/api/messages/save_message", Some(SERVICE), &one).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["results"][0]["status"], "stored");
    let original = reply["results"][0]["event"].clone();
    assert_eq!(original["seq"], 1);
    assert_eq!(original["type"], "chat");

    // A batch: a repeat of the first, a new one, one for an unknown room.
    let batch = json!({"messages": [
        one,
        draft(id, "cat", "general", "two", "i-2"),
        draft(id, "cat", "nowhere", "lost", "i-3"),
    ]});
    let (status, reply) =
        post_with(&app, "/api/messages/save_message", Some(SERVICE), &batch).await;
    assert_eq!(status, 200, "{reply}");
    let results = reply["results"].as_array().expect("results");
    assert_eq!(results[0]["status"], "duplicate");
    assert_eq!(results[0]["event"]["id"], original["id"]);
    assert_eq!(results[1]["status"], "stored");
    assert_eq!(results[1]["event"]["seq"], 2);
    assert_eq!(
        (
            results[2]["status"].clone(),
            results[2]["reason"]["code"].clone()
        ),
        (json!("rejected"), json!("not_found"))
    );
    // A draft that does not parse (the same rules as at ws's door) is not a batch.
    let empty = json!({"messages": [draft(id, "cat", "general", "  ", "i-4")]});
    let (status, _) = post_with(&app, "/api/messages/save_message", Some(SERVICE), &empty).await;
    assert_eq!(status, 400);

    let (_, page) = app
        .get_with_token("/api/chat/chat_history?room=general", &token)
        .await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(2));
    app.stop().await;
}

/// A draft as `ws` sends it to front's internal save route.
fn draft(sender_id: i64, sender: &str, room: &str, content: &str, client_id: &str) -> Value {
    json!({"room": room, "sender_id": sender_id, "sender": sender, "client_id": client_id,
        "change": {"kind": "chat", "content": content}})
}
