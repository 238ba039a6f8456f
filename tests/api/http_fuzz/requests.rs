//! The HTTP fuzz's requests: every `/api` and `/auth/api` route with the fields of its
//! body, and seeded generators of path parameters, query strings, headers and bodies, from
//! ordinary to hostile.

use awc::http::Method;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore};
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Who a fuzzed request is sent as. Never the bystander: the fuzz must not be able to end
/// their sessions or change their account legitimately.
#[derive(Debug, Clone, Copy)]
enum Who {
    Member,
    Admin,
    Nobody,
    Garbage,
    Service,
}

struct Route {
    method: &'static str,
    path: &'static str,
    /// The fields its JSON body takes (empty: none).
    fields: &'static [&'static str],
    admin: bool,
}

const fn route(method: &'static str, path: &'static str, fields: &'static [&'static str]) -> Route {
    Route {
        method,
        path,
        fields,
        admin: false,
    }
}

const fn admin(method: &'static str, path: &'static str, fields: &'static [&'static str]) -> Route {
    Route {
        method,
        path,
        fields,
        admin: true,
    }
}

/// Every `/api` and `/auth/api` route, with the fields of its body.
const ROUTES: &[Route] = &[
    route("GET", "/api/me", &[]),
    route("POST", "/api/token", &[]),
    route("GET", "/api/rooms", &[]),
    route(
        "POST",
        "/api/rooms",
        &["name", "description", "kind", "members"],
    ),
    route("GET", "/api/rooms/{room}/members", &[]),
    route("POST", "/api/rooms/{room}/members", &["username"]),
    route("DELETE", "/api/rooms/{room}/members/{user}", &[]),
    route("POST", "/api/dms", &["members", "usernames"]),
    route("GET", "/api/sessions", &[]),
    route("DELETE", "/api/sessions", &[]),
    route("DELETE", "/api/sessions/{id}", &[]),
    route("DELETE", "/api/me", &["password", "confirm"]),
    route(
        "POST",
        "/api/me/password",
        &["current_password", "new_password", "password"],
    ),
    route("POST", "/api/me/deactivate", &["password"]),
    route("POST", "/api/me/totp", &["password"]),
    route("DELETE", "/api/me/totp", &["password", "code"]),
    route("POST", "/api/me/totp/confirm", &["code"]),
    route("GET", "/api/chat/chat_history", &[]),
    route("GET", "/api/chat/events", &[]),
    route("GET", "/api/presence", &[]),
    route("POST", "/api/internal/rooms/{room}/join", &[]),
    route(
        "POST",
        "/api/messages/save_message",
        &[
            "messages",
            "room",
            "sender_id",
            "sender",
            "client_id",
            "change",
            "content",
        ],
    ),
    admin("GET", "/api/admin/users", &[]),
    admin(
        "POST",
        "/api/admin/users/{user}",
        &["role", "active", "display_name"],
    ),
    admin("POST", "/api/admin/users/{user}/reset_link", &[]),
    admin("GET", "/api/admin/join_code", &[]),
    admin("POST", "/api/admin/join_code", &[]),
    admin("POST", "/api/admin/invites", &["ttl_hours", "note", "uses"]),
    admin(
        "POST",
        "/api/admin/rooms/{room}",
        &["archived", "description"],
    ),
    admin("GET", "/api/admin/audit", &[]),
    route(
        "POST",
        "/auth/api/register",
        &["username", "password", "email", "invite", "join_code"],
    ),
    route(
        "POST",
        "/auth/api/login",
        &["username", "password", "totp", "code"],
    ),
    route("POST", "/auth/api/token", &["refresh_token", "session"]),
    route(
        "POST",
        "/auth/api/password",
        &["username", "current_password", "new_password"],
    ),
    route("POST", "/auth/api/password/check", &["password"]),
    route("POST", "/auth/api/reset", &["token", "password"]),
    route("GET", "/auth/api/jwks.json", &[]),
];

/// Path parameters: ordinary, absent, encoded, hostile. Never the bystander's name.
const ROOMS: &[&str] = &[
    "general",
    "nope",
    "",
    "%00",
    "Bad%20Room",
    "..",
    "%2e%2e",
    "%2F",
    "%F0%9F%92%A9",
    "%FF",
    "dm-1",
    "a%0Ab",
    "%25",
];
const USERS: &[&str] = &[
    "mallory",
    "admin",
    "nobody",
    "",
    "%00",
    "MALLORY",
    "deleted-1",
    "..",
    "%2F",
    "%FF",
    "a%20b",
];
const IDS: &[&str] = &[
    "1",
    "0",
    "-1",
    "abc",
    "99999999999999999999",
    "%00",
    "Zm9vYmFy",
    "%FF",
];
const QUERY_KEYS: &[&str] = &[
    "room", "before", "after", "limit", "page", "cursor", "user_id", "username", "q", "",
];
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "json",
    "",
];

/// A string of the kinds clients send, from ordinary to hostile.
fn text(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        0 => String::new(),
        1 => "x".repeat([1, 2, 3, 32, 33, 64, 65, 72, 73, 129, 4001, 70_000][rng.gen_range(0..12)]),
        2 => "é".repeat(rng.gen_range(1..100)),
        3 => "a\0b".into(),
        4 => [
            "admin", "member", "bot", "general", "public", "private", "direct", "mallory",
        ][rng.gen_range(0..8)]
        .into(),
        5 => [
            "\u{202e}",
            "\u{feff}",
            "💩",
            "\\",
            "\"",
            "<script>",
            "' OR 1=1 --",
            "%00",
        ][rng.gen_range(0..8)]
        .into(),
        6 => "deleted-7".into(),
        _ => {
            let len = rng.gen_range(0..24);
            (0..len)
                .map(|_| char::from_u32(rng.gen_range(1..0x3000)).unwrap_or('?'))
                .collect()
        }
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..12) {
        0 => Value::Null,
        1 => json!(rng.gen_bool(0.5)),
        2 => json!([i64::MAX, i64::MIN, 0, -1, 1, 4_294_967_296][rng.gen_range(0..6)]),
        3 => json!([1.5, -0.0, 1e308, f64::EPSILON][rng.gen_range(0..4)]),
        4 if depth < 3 => json!(
            (0..rng.gen_range(0..4))
                .map(|_| value(rng, depth + 1))
                .collect::<Vec<_>>()
        ),
        5 if depth < 3 => {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.gen_range(0..4) {
                map.insert(text(rng), value(rng, depth + 1));
            }
            Value::Object(map)
        }
        6 => json!(["mallory", "admin", "nobody", ""]),
        _ => json!(text(rng)),
    }
}

/// A body: the route's fields with values of any type, other JSON, or no JSON at all.
fn body(rng: &mut StdRng, fields: &[&str]) -> Vec<u8> {
    match rng.gen_range(0..20) {
        0 => Vec::new(),
        1 => {
            let mut bytes = vec![0; rng.gen_range(1..200)];
            rng.fill_bytes(&mut bytes);
            bytes
        }
        // Nested deeper than any parser should follow.
        2 => format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        // Larger than the JSON limit.
        3 => json!({"name": "x".repeat(200_000)})
            .to_string()
            .into_bytes(),
        4 => value(rng, 0).to_string().into_bytes(),
        5 => b"{\"name\": \"unterminated".to_vec(),
        6 => b"\xef\xbb\xbf{}".to_vec(),
        _ => {
            let mut map = serde_json::Map::new();
            for field in fields {
                if rng.gen_bool(0.7) {
                    map.insert((*field).into(), value(rng, 0));
                }
            }
            if rng.gen_bool(0.2) {
                map.insert(text(rng), value(rng, 0));
            }
            let mut bytes = Value::Object(map).to_string().into_bytes();
            if rng.gen_bool(0.05) {
                // Cut short, perhaps inside a character.
                bytes.truncate(bytes.len() / 2);
            }
            bytes
        }
    }
}

fn query(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        0 => String::new(),
        1 => [
            "%",
            "%%",
            "a=%ZZ",
            "&&&",
            "=",
            "room",
            "room=general&room=dev",
            "limit=1e3;room=general",
        ][rng.gen_range(0..8)]
        .into(),
        _ => {
            let n = rng.gen_range(1..5);
            (0..n)
                .map(|_| {
                    let key = QUERY_KEYS[rng.gen_range(0..QUERY_KEYS.len())];
                    let value = match rng.gen_range(0..4) {
                        0 => [
                            "general",
                            "0",
                            "-1",
                            "201",
                            "501",
                            "+5",
                            "%20",
                            "9223372036854775808",
                            "%FF",
                            "",
                        ][rng.gen_range(0..10)]
                        .to_owned(),
                        1 => rng.gen_range(-5i64..600).to_string(),
                        // Within what a client will send in a URL.
                        _ => {
                            url::form_urlencoded::byte_serialize(clip(&text(rng), 1000).as_bytes())
                                .collect()
                        }
                    };
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("&")
        }
    }
}

/// One fuzzed request, described for a failure report.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct Tokens {
    pub member: String,
    pub admin: String,
}

pub fn request(rng: &mut StdRng, app: &TestApp, tokens: &Tokens) -> Request {
    let route = ROUTES.choose(rng).expect("routes");
    let mut method = route.method.to_owned();
    if rng.gen_bool(0.05) {
        method = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"][rng.gen_range(0..6)].into();
    }
    let pick = |rng: &mut StdRng, from: &[&str]| from[rng.gen_range(0..from.len())].to_owned();
    let mut path = route
        .path
        .replace("{room}", &pick(rng, ROOMS))
        .replace("{user}", &pick(rng, USERS))
        .replace("{id}", &pick(rng, IDS));
    if rng.gen_bool(0.03) {
        path = format!(
            "/api/{}",
            pick(
                rng,
                &["nope", "rooms/", "rooms//members", "%00", "me/", "chat"]
            )
        );
    }
    let query = query(rng);
    let url = if query.is_empty() {
        app.url(&path)
    } else {
        app.url(&format!("{path}?{query}"))
    };

    let who = match rng.gen_range(0..10) {
        0 => Who::Nobody,
        1 => Who::Garbage,
        2 => Who::Service,
        _ if route.admin && rng.gen_bool(0.6) => Who::Admin,
        3 => Who::Admin,
        _ => Who::Member,
    };
    let mut headers = Vec::new();
    let bearer = |t: &str| ("authorization".to_owned(), format!("Bearer {t}"));
    match who {
        Who::Member => headers.push(bearer(&tokens.member)),
        Who::Admin => headers.push(bearer(&tokens.admin)),
        Who::Service => headers.push(bearer("test-service-credential")),
        Who::Nobody => {}
        Who::Garbage => {
            let mut broken = tokens.member.clone();
            let at = rng.gen_range(0..broken.len());
            broken.replace_range(at..=at, "A");
            let value = match rng.gen_range(0..6) {
                0 => "Bearer".to_owned(),
                1 => "Bearer ".to_owned(),
                2 => "Basic bWFsbG9yeTpwdw==".to_owned(),
                3 => format!("Bearer {}", "x".repeat(3000)),
                4 => format!("bearer {}", tokens.member),
                _ => format!("Bearer {broken}"),
            };
            headers.push(("authorization".into(), value));
        }
    }
    if rng.gen_bool(0.2) {
        let cookie = [
            "chatapp_session=garbage",
            "chatapp_session=",
            "a=b; chatapp_session=x.y.z",
            "==",
        ];
        headers.push((
            "cookie".into(),
            cookie[rng.gen_range(0..cookie.len())].into(),
        ));
    }
    if rng.gen_bool(0.1) {
        let xff = ["1.2.3.4", "garbage", "::1, 10.0.0.1", "", "999.999.999.999"];
        headers.push((
            "x-forwarded-for".into(),
            xff[rng.gen_range(0..xff.len())].into(),
        ));
    }
    if rng.gen_bool(0.05) {
        headers.push(("origin".into(), "https://evil.example".into()));
    }
    let body = if route.fields.is_empty() && rng.gen_bool(0.8) {
        Vec::new()
    } else {
        body(rng, route.fields)
    };
    if !body.is_empty() || rng.gen_bool(0.1) {
        let ct = if rng.gen_bool(0.7) {
            "application/json"
        } else {
            CONTENT_TYPES[rng.gen_range(0..CONTENT_TYPES.len())]
        };
        if !ct.is_empty() {
            headers.push(("content-type".into(), ct.into()));
        }
    }
    Request {
        method: Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET),
        url,
        headers,
        body,
    }
}
