//! Rooms and who is in them: `GET/POST /api/rooms`, `/api/rooms/{room}/members`,
//! `POST /api/dms`. Who may see what is `policy`'s to say.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::chat::ChatService;
use super::policy::{Member, readable_room};
use super::room_limits::{Made, RoomCreation};
use crate::domain::services::Announcer;
use crate::domain::{
    DIRECT_MAX, DIRECT_MIN, RoomEvent, RoomKind, RoomName, Username, ValidationError,
};
use crate::http::ApiError;
use crate::storage::{DbConn, StorageError, memberships, now_utc, rooms, users};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/rooms", web::get().to(list))
        .route("/rooms", web::post().to(create))
        .route("/rooms/{room}/members", web::get().to(members))
        .route("/rooms/{room}/members", web::post().to(add_member))
        .route(
            "/rooms/{room}/members/{username}",
            web::delete().to(remove_member),
        )
        .route("/dms", web::post().to(direct));
}

/// Tells every `ws` node of a stored event. It is stored whatever happens here: a node that
/// is not told leaves a gap its clients fill from the events feed.
pub async fn announce(announcer: &dyn Announcer, event: &RoomEvent) {
    if let Err(e) = announcer.announce(event).await {
        tracing::warn!(error = %e, room = event.room(), seq = event.seq(), "an event was stored but not announced");
    }
}

pub fn room_json(room: &rooms::Room, member: bool) -> serde_json::Value {
    json!({"id": room.id, "name": room.name, "kind": room.kind, "description": room.description,
        "last_seq": room.last_seq, "archived": room.archived, "member": member})
}

/// The most rooms one `GET /api/rooms` answers, and the page size when none is asked for.
pub const ROOMS_PAGE_MAX: i64 = 1000;

#[derive(Deserialize)]
struct RoomsQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /api/rooms?after=<name>&limit=<n>`: the rooms the user can see (every public one,
/// and the members-only ones they belong to), each with whether they are a member, by
/// name: at most `limit` (1–1000, default 1000) after the room named `after`. When more
/// follow, `Link: </api/rooms?after=<last>&limit=<n>>; rel="next"`.
async fn list(
    user: Member,
    chat: web::Data<ChatService>,
    query: web::Query<RoomsQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit =
        super::api::number("limit", &query.limit, 1, ROOMS_PAGE_MAX)?.unwrap_or(ROOMS_PAGE_MAX);
    let after = match query.after.as_deref() {
        None => String::new(),
        Some(raw) => RoomName::parse(raw)
            .map_err(|_| ValidationError::new("after", "must be a room name"))?
            .as_str()
            .to_owned(),
    };
    let id = user.id;
    // One more than the page: whether another page follows, without counting the rest.
    let mut page = chat
        .db()
        .run(move |conn| rooms::visible_page(conn, id, &after, limit + 1))
        .await?;
    let more = i64::try_from(page.len()).map_or(true, |n| n > limit);
    if more {
        page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    let mut response = HttpResponse::Ok();
    if let (true, Some((last, _))) = (more, page.last()) {
        let after: String = url::form_urlencoded::byte_serialize(last.name.as_bytes()).collect();
        response.insert_header((
            actix_web::http::header::LINK,
            format!("</api/rooms?after={after}&limit={limit}>; rel=\"next\""),
        ));
    }
    let rooms: Vec<_> = page
        .iter()
        .map(|(room, member)| room_json(room, *member))
        .collect();
    Ok(response.json(rooms))
}

#[derive(Deserialize)]
struct NewRoomBody {
    name: Option<String>,
    kind: Option<String>,
    description: Option<String>,
}

/// `POST /api/rooms {"name", "kind"?, "description"?}`: the creator is its first member.
async fn create(
    user: Member,
    chat: web::Data<ChatService>,
    limit: web::Data<RoomCreation>,
    body: web::Json<NewRoomBody>,
) -> Result<HttpResponse, ApiError> {
    let name = body
        .name
        .as_deref()
        .ok_or_else(|| ValidationError::new("name", "is required"))?;
    let name = RoomName::parse(name)?;
    let kind = match body.kind.as_deref() {
        None => RoomKind::Public,
        Some(raw) => match RoomKind::parse(raw)? {
            RoomKind::Direct => {
                return Err(ValidationError::new(
                    "kind",
                    "direct rooms are made with POST /api/dms",
                )
                .into());
            }
            kind => kind,
        },
    };
    let description = body.description.clone().unwrap_or_default();
    if description.chars().count() > 500 || description.contains('\0') {
        return Err(ValidationError::new(
            "description",
            "must be at most 500 characters, without U+0000",
        )
        .into());
    }
    // Counted once the request is valid: a typo does not use up anyone's allowance.
    // Administrators, who run the workspace (and set it up in bulk), are not counted.
    if !user.is_admin() {
        limit.check(Made::Room, user.id)?;
    }
    let (owned, creator) = (name.as_str().to_owned(), user.id);
    let created = chat
        .db()
        .run(move |conn| {
            crate::storage::write_transaction(conn, |conn| {
                let room = rooms::insert(
                    conn,
                    &rooms::NewRoom {
                        name: &owned,
                        description: &description,
                        created_by: Some(creator),
                        created_at: now_utc(),
                        kind: kind.as_str(),
                        direct_key: None,
                    },
                )?;
                memberships::add(conn, room.id, creator)?;
                Ok::<_, StorageError>(room)
            })
        })
        .await
        .map_err(|e| match e {
            // A taken name: said only where the taken room may be seen (a private room's
            // name is not disclosed, but it stays taken).
            e if e.is_unique_violation() => ApiError::Conflict {
                code: "room_exists",
                message: format!("the name {:?} is taken", name.as_str()),
            },
            e => e.into(),
        })?;
    Ok(HttpResponse::Created().json(room_json(&created, true)))
}

/// `GET /api/rooms/{room}/members`: usernames, for those who may read the room.
async fn members(
    user: Member,
    chat: web::Data<ChatService>,
    room: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let meta = readable_room(&chat, &user, &room).await?;
    let names = chat
        .db()
        .run(move |conn| memberships::usernames(conn, meta.id))
        .await?;
    Ok(HttpResponse::Ok().json(json!({"room": room.as_str(), "members": names})))
}

#[derive(Deserialize)]
struct MemberBody {
    username: Option<String>,
}

/// Finds an active account by name (422 when there is none).
async fn account(chat: &ChatService, raw: &str) -> Result<users::User, ApiError> {
    let name = Username::parse(raw)?;
    let key = name.as_str().to_owned();
    chat.db()
        .run(move |conn| users::find_by_username(conn, &key))
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| ValidationError::new("username", "no active user by that name").into())
}

/// `POST /api/rooms/{room}/members {"username"}`: members of a room add others; admins
/// add anyone anywhere. A direct room's people are fixed.
async fn add_member(
    user: Member,
    chat: web::Data<ChatService>,
    announcer: web::Data<dyn Announcer>,
    room: web::Path<String>,
    body: web::Json<MemberBody>,
) -> Result<HttpResponse, ApiError> {
    let meta = match readable_room(&chat, &user, &room).await {
        Ok(meta) => meta,
        Err(_) if user.is_admin() => chat
            .room(&room)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no room named {:?}", room.as_str())))?,
        Err(e) => return Err(e),
    };
    if meta.kind == RoomKind::Direct {
        return Err(ApiError::Conflict {
            code: "direct_room",
            message: "a direct room's people are fixed: start another one".into(),
        });
    }
    if !user.is_admin() && !chat.is_member(meta.id, user.id).await? {
        return Err(ApiError::Forbidden(
            "only the room's members add people to it".into(),
        ));
    }
    let raw = body
        .username
        .as_deref()
        .ok_or_else(|| ValidationError::new("username", "is required"))?;
    let target = account(&chat, raw).await?;
    let event = chat
        .change_membership(&room, meta.id, target.id, user.id, true)
        .await?;
    let added = event.is_some();
    if let Some(event) = event {
        announce(announcer.get_ref(), &event).await;
    }
    let mut status = if added {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(status
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"room": room.as_str(), "username": target.username, "added": added})))
}

/// `DELETE /api/rooms/{room}/members/{username}`: a member leaves; an admin removes anyone.
async fn remove_member(
    user: Member,
    chat: web::Data<ChatService>,
    announcer: web::Data<dyn Announcer>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room, username) = path.into_inner();
    let meta = match readable_room(&chat, &user, &room).await {
        Ok(meta) => meta,
        Err(_) if user.is_admin() => chat
            .room(&room)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no room named {room:?}")))?,
        Err(e) => return Err(e),
    };
    let leaving = username.eq_ignore_ascii_case(&user.username);
    if !leaving && !user.is_admin() {
        return Err(ApiError::Forbidden(
            "members leave by themselves; an administrator removes others".into(),
        ));
    }
    let name = Username::parse(&username)?;
    let key = name.as_str().to_owned();
    let target = chat
        .db()
        .run(move |conn| users::find_by_username(conn, &key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user named {username:?}")))?;
    let Some(event) = chat
        .change_membership(&room, meta.id, target.id, user.id, false)
        .await?
    else {
        return Err(ApiError::NotFound(format!(
            "{username:?} is not a member of {room:?}"
        )));
    };
    announce(announcer.get_ref(), &event).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct DirectBody {
    users: Option<Vec<String>>,
}

/// The name of a direct room: `dm-` and 24 hex digits of a hash of its people's ids, so the
/// same set always names the same room (and the name tells nothing of who is in it).
fn direct_name(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("dm-{hex}")
}

/// `POST /api/dms {"users": [...]}`: the one direct room of exactly these people and the
/// caller (2–8 in all), made on first use; the same room for the same set in any order.
/// Making one counts against the caller's allowance of direct rooms; asking again for one
/// that exists does not, and still answers once that allowance is spent.
async fn direct(
    user: Member,
    chat: web::Data<ChatService>,
    limit: web::Data<RoomCreation>,
    body: web::Json<DirectBody>,
) -> Result<HttpResponse, ApiError> {
    let names = body
        .users
        .as_ref()
        .ok_or_else(|| ValidationError::new("users", "is required: a list of usernames"))?;
    if names.len() > DIRECT_MAX {
        return Err(ValidationError::new(
            "users",
            format!("a direct room has at most {DIRECT_MAX} people"),
        )
        .into());
    }
    let mut ids = BTreeSet::from([user.id]);
    for raw in names {
        ids.insert(account(&chat, raw).await?.id);
    }
    if !(DIRECT_MIN..=DIRECT_MAX).contains(&ids.len()) {
        return Err(ValidationError::new(
            "users",
            format!("a direct room has {DIRECT_MIN} to {DIRECT_MAX} people, you included"),
        )
        .into());
    }
    let key = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let existing = {
        let key = key.clone();
        chat.db()
            .run(move |conn| rooms::find_by_direct_key(conn, &key))
            .await?
    };
    let (room, created) = match existing {
        Some(room) => (room, false),
        None => {
            if !user.is_admin() {
                limit.check(Made::Direct, user.id)?;
            }
            let name = direct_name(&key);
            chat.db()
                .run(move |conn| make_direct(conn, &key, &name, &ids))
                .await?
        }
    };
    let mut status = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(status.json(room_json(&room, true)))
}

/// Makes the direct room of `ids`, or answers the one someone made at the same moment.
fn make_direct(
    conn: &mut DbConn,
    key: &str,
    name: &str,
    ids: &BTreeSet<i64>,
) -> Result<(rooms::Room, bool), StorageError> {
    let made = crate::storage::write_transaction(conn, |conn| {
        let room = rooms::insert(
            conn,
            &rooms::NewRoom {
                name,
                description: "",
                created_by: ids.first().copied(),
                created_at: now_utc(),
                kind: RoomKind::Direct.as_str(),
                direct_key: Some(key),
            },
        )?;
        for id in ids {
            memberships::add(conn, room.id, *id)?;
        }
        Ok::<_, StorageError>(room)
    });
    match made {
        Ok(room) => Ok((room, true)),
        // Someone made the same set's room at the same moment: theirs is the one.
        Err(e) if e.is_unique_violation() => rooms::find_by_direct_key(conn, key)?
            .map(|room| (room, false))
            .ok_or(e),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_names_are_room_names_and_stable() {
        let name = direct_name("1,2,3");
        assert!(RoomName::parse(&name).is_ok(), "{name}");
        assert_eq!(name, direct_name("1,2,3"));
        assert_ne!(name, direct_name("1,2"));
    }
}
