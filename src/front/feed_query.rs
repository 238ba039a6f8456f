//! The query parameters of the two feeds a client catches up with, `GET
//! /api/chat/chat_history` and `GET /api/chat/events`, checked once into typed values.
//! The handlers take the query through actix's `Query` extractor and [`HistoryQuery::check`]
//! / [`EventsQuery::check`]; `from_query_string` runs the same two steps on a raw query
//! string (for the fuzz targets).

use actix_web::web;
use serde::Deserialize;

use super::api::number;
use crate::domain::ValidationError;
use crate::http::ApiError;
use crate::http::error::bad_query;
use crate::storage::messages::Cursor;

/// `chat_history`'s parameters as they arrive: every one optional text, so that a wrong
/// one is named in a 422 rather than refused by the deserializer.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    pub room: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub limit: Option<String>,
}

/// `chat_history`'s parameters, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryParams {
    /// The room's name as given (whether it names a readable room is checked next).
    pub room: String,
    pub cursor: Cursor,
    /// 1 to [`HistoryQuery::MAX_LIMIT`].
    pub limit: i64,
}

impl HistoryQuery {
    pub const MAX_LIMIT: i64 = 200;
    pub const DEFAULT_LIMIT: i64 = 50;

    pub fn check(&self) -> Result<HistoryParams, ApiError> {
        let room = required_room(&self.room)?;
        let limit =
            number("limit", &self.limit, 1, Self::MAX_LIMIT)?.unwrap_or(Self::DEFAULT_LIMIT);
        let before = number("before", &self.before, 1, i64::MAX)?;
        let after = number("after", &self.after, 0, i64::MAX)?;
        let cursor = match (before, after) {
            (Some(_), Some(_)) => {
                return Err(
                    ValidationError::new("before", "give at most one of before and after").into(),
                );
            }
            (Some(b), None) => Cursor::Before(b),
            (None, Some(a)) => Cursor::After(a),
            (None, None) => Cursor::Latest,
        };
        Ok(HistoryParams {
            room,
            cursor,
            limit,
        })
    }
}

impl HistoryParams {
    /// Deserializes and checks a raw query string as the handler does.
    pub fn from_query_string(query: &str) -> Result<Self, ApiError> {
        web::Query::<HistoryQuery>::from_query(query)
            .map_err(bad_query)?
            .check()
    }
}

/// `events`' parameters as they arrive.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    pub room: Option<String>,
    pub after: Option<String>,
    pub limit: Option<String>,
}

/// `events`' parameters, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsParams {
    pub room: String,
    /// The last seq the client has (0: from the start).
    pub after: i64,
    /// 1 to [`EventsQuery::MAX_LIMIT`].
    pub limit: i64,
}

impl EventsQuery {
    pub const MAX_LIMIT: i64 = 500;
    pub const DEFAULT_LIMIT: i64 = 200;

    pub fn check(&self) -> Result<EventsParams, ApiError> {
        let room = required_room(&self.room)?;
        let after = number("after", &self.after, 0, i64::MAX)?.unwrap_or(0);
        let limit =
            number("limit", &self.limit, 1, Self::MAX_LIMIT)?.unwrap_or(Self::DEFAULT_LIMIT);
        Ok(EventsParams { room, after, limit })
    }
}

impl EventsParams {
    /// Deserializes and checks a raw query string as the handler does.
    pub fn from_query_string(query: &str) -> Result<Self, ApiError> {
        web::Query::<EventsQuery>::from_query(query)
            .map_err(bad_query)?
            .check()
    }
}

fn required_room(room: &Option<String>) -> Result<String, ApiError> {
    room.clone()
        .ok_or_else(|| ValidationError::new("room", "is required").into())
}
