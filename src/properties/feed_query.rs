//! The feeds' query strings (`chat_history`, `events`): deserialized and checked as the
//! handlers do ([`HistoryParams::from_query_string`], [`EventsParams::from_query_string`]).
//!
//! Properties:
//! - checking never panics, whatever the query string;
//! - a refusal is a 400 `bad_request` (not a query string) or a 422 `invalid_field` naming
//!   the parameter, in the contract's error shape, never a 5xx;
//! - what passes is in range: `limit` 1–200 (history) or 1–500 (events), `before` ≥ 1,
//!   `after` ≥ 0, never both `before` and `after`, a room given;
//! - the checked values, written back as a query string, check to the same values.

use actix_web::ResponseError;
use actix_web::body::MessageBody;
use actix_web::http::StatusCode;
use serde_json::Value;

use super::Source;
use crate::front::feed_query::{EventsParams, EventsQuery, HistoryParams, HistoryQuery};
use crate::http::ApiError;
use crate::storage::messages::Cursor;

pub fn check(data: &[u8]) {
    let mut src = Source::new(data);
    let query = if src.bool() {
        String::from_utf8_lossy(src.rest()).into_owned()
    } else {
        built(&mut src)
    };
    history(&query);
    events(&query);
}

fn history(query: &str) {
    let params = match HistoryParams::from_query_string(query) {
        Ok(params) => params,
        Err(e) => return refused(&e, &["room", "limit", "before", "after"]),
    };
    assert!((1..=HistoryQuery::MAX_LIMIT).contains(&params.limit));
    let mut again = url::form_urlencoded::Serializer::new(String::new());
    again.append_pair("room", &params.room);
    again.append_pair("limit", &params.limit.to_string());
    match params.cursor {
        Cursor::Latest => {}
        Cursor::Before(b) => {
            assert!(b >= 1, "before={b} passed");
            again.append_pair("before", &b.to_string());
        }
        Cursor::After(a) => {
            assert!(a >= 0, "after={a} passed");
            again.append_pair("after", &a.to_string());
        }
    }
    let again = again.finish();
    assert_eq!(
        HistoryParams::from_query_string(&again).ok().as_ref(),
        Some(&params),
        "{query:?} checks to {params:?}, but {again:?} does not"
    );
}

fn events(query: &str) {
    let params = match EventsParams::from_query_string(query) {
        Ok(params) => params,
        Err(e) => return refused(&e, &["room", "limit", "after"]),
    };
    assert!((1..=EventsQuery::MAX_LIMIT).contains(&params.limit));
    assert!(params.after >= 0);
    let again = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("room", &params.room)
        .append_pair("after", &params.after.to_string())
        .append_pair("limit", &params.limit.to_string())
        .finish();
    assert_eq!(
        EventsParams::from_query_string(&again).ok().as_ref(),
        Some(&params),
        "{query:?} checks to {params:?}, but {again:?} does not"
    );
}

fn refused(e: &ApiError, fields: &[&str]) {
    let response = e.error_response();
    let status = response.status();
    let body = response
        .into_body()
        .try_into_bytes()
        .unwrap_or_else(|_| panic!("the error body is not in memory"));
    let body: Value = serde_json::from_slice(&body).expect("the error body is JSON");
    let code = body["error"]["code"].as_str();
    assert!(body["error"]["message"].is_string(), "no message in {body}");
    match status {
        StatusCode::BAD_REQUEST => assert_eq!(code, Some("bad_request")),
        StatusCode::UNPROCESSABLE_ENTITY => {
            assert_eq!(code, Some("invalid_field"));
            let field = body["error"]["field"].as_str().unwrap_or_default();
            assert!(
                fields.contains(&field),
                "an error names the field {field:?}"
            );
        }
        other => panic!("a query string is refused with {other}: {body}"),
    }
}

/// A value a client (or a fuzzer) might give a number parameter.
fn number(src: &mut Source<'_>) -> String {
    match src.u8() % 6 {
        0 => src
            .pick(&[
                "0",
                "1",
                "-1",
                "+5",
                " 7 ",
                "200",
                "201",
                "500",
                "501",
                "",
                "1e3",
                "0x10",
                "٣",
                "9223372036854775807",
                "9223372036854775808",
                "-9223372036854775808",
                "007",
                "1.0",
                "%2B1",
                "%00",
                "1%20",
            ])
            .to_owned(),
        1 => (src.u64() as i64).to_string(),
        2 => (src.u16() % 600).to_string(),
        _ => src.string(12),
    }
}

/// A query string from the feeds' parameters (and others), sometimes repeated, empty,
/// percent-encoded or not.
fn built(src: &mut Source<'_>) -> String {
    let mut pairs = Vec::new();
    for _ in 0..src.below(7) {
        let key = src.pick(&[
            "room", "before", "after", "limit", "Room", "room[]", "x", "",
        ]);
        let value = match key {
            "room" => src
                .pick(&["general", "", "no-such", "%20general", "a&b", "a=b", "é"])
                .to_owned(),
            _ => number(src),
        };
        pairs.push(if src.u8().is_multiple_of(8) {
            key.to_owned()
        } else {
            format!("{key}={value}")
        });
    }
    let sep = if src.u8().is_multiple_of(8) { ";" } else { "&" };
    pairs.join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feeds_query_checks_hold_their_properties() {
        super::super::runner::check("feed_query", 3000, check);
    }
}
