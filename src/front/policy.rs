//! Who may do what, decided in one place: the extractors a handler takes say what it needs
//! (`Member`: a signed-in, active account, as the database has it now; `Admin`: one with
//! the admin role), and [`readable_room`] is the one answer to "may this user see this
//! room" on every REST path (a members-only room does not exist for anyone else).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use super::chat::{ChatService, RoomMeta};
use super::session::authenticate;
use crate::domain::Role;
use crate::http::ApiError;
use crate::storage::{StorageError, now_utc, sessions, users};

/// The signed-in user, active, with their role as the database has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub display_name: Option<String>,
    /// The server-side session of the credential (open, or the request was refused).
    pub session: Option<String>,
    pub totp: bool,
}

impl Member {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A member with the admin role (403 for anyone else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(pub Member);

async fn load(req: HttpRequest) -> Result<Member, ApiError> {
    let user = authenticate(&req)?;
    let chat = req
        .app_data::<web::Data<ChatService>>()
        .ok_or_else(|| ApiError::Internal("no chat service configured".into()))?
        .clone();
    let id = user.id;
    let sid = user.session.clone();
    let (found, open) = chat
        .db()
        .run(move |conn| {
            let found = users::find_by_id(conn, id)?;
            // A credential from an ended session is refused, whatever its own expiry says.
            let open = match &sid {
                Some(sid) => sessions::is_open(conn, sid, id, now_utc())?,
                None => true,
            };
            Ok::<_, StorageError>((found, open))
        })
        .await?;
    if !open {
        return Err(ApiError::Unauthorized(
            "this session has ended; sign in again".into(),
        ));
    }
    // A token can outlive its account, or name an id someone new has now.
    match found {
        Some(account) if account.active && account.username == user.username => Ok(Member {
            id: account.id,
            role: account.role(),
            username: account.username,
            display_name: account.display_name,
            session: user.session,
            totp: account.totp_enabled,
        }),
        Some(account) if !account.active => {
            Err(ApiError::Unauthorized("this account is deactivated".into()))
        }
        _ => Err(ApiError::Unauthorized(
            "the account is gone; sign in again".into(),
        )),
    }
}

impl FromRequest for Member {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(load(req.clone()))
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let member = load(req).await?;
            if !member.is_admin() {
                return Err(ApiError::Forbidden("this needs an administrator".into()));
            }
            Ok(Admin(member))
        })
    }
}

/// The room, if `user` may read it; 404 otherwise, whether it exists or not.
pub async fn readable_room(
    chat: &ChatService,
    user: &Member,
    name: &str,
) -> Result<RoomMeta, ApiError> {
    let missing = || ApiError::NotFound(format!("no room named {name:?}"));
    let room = chat.room(name).await?.ok_or_else(missing)?;
    if chat.may_read(&room, user.id).await? {
        Ok(room)
    } else {
        Err(missing())
    }
}
