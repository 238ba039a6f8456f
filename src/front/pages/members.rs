//! The pages of a signed-in member: the chat page, the admin page, the account page.

use actix_csrf::extractor::CsrfToken;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use tera::Tera;

use crate::front::policy::Member;
use crate::front::session::authenticate;
use crate::front::templates::render;
use crate::http::ApiError;

use super::{EXPIRED, PageInfo, context, error_page, redirect};

/// `GET /home`: the chat page; signed-out visitors go to the sign-in page, and so does a
/// session whose account was deactivated or is gone (its cookie cleared, so that the
/// sign-in page does not send it back here).
pub async fn home(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
    member: Result<Member, ApiError>,
) -> HttpResponse {
    let Ok(user) = authenticate(&req) else {
        return redirect("/auth/login");
    };
    // The page itself needs no database: only an account known to be unusable is turned away.
    if let Err(ApiError::Unauthorized(_)) = member {
        return redirect(EXPIRED);
    }
    let mut ctx = context(&info, Some(&csrf));
    ctx.insert("username", &user.username);
    ctx.insert("ws_url", &info.ws_url);
    render(&tera, HttpResponse::Ok(), "home.html", &ctx)
}

/// The member a signed-in page is for; otherwise the answer to send instead: the sign-in
/// page for a visitor, [`EXPIRED`] for an account that can no longer be used, 503 when the
/// account cannot be checked.
fn member_or_answer(
    req: &HttpRequest,
    tera: &Tera,
    info: &PageInfo,
    member: Result<Member, ApiError>,
    page: &str,
) -> Result<Member, Box<HttpResponse>> {
    if authenticate(req).is_err() {
        return Err(Box::new(redirect("/auth/login")));
    }
    match member {
        Ok(member) => Ok(member),
        Err(ApiError::Unauthorized(_)) => Err(Box::new(redirect(EXPIRED))),
        Err(e) => {
            tracing::warn!(error = %e, page, "a page could not check the account");
            Err(Box::new(error_page(
                tera,
                info,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not available right now",
                "This page cannot be shown right now. Please try again shortly.",
            )))
        }
    }
}

/// `GET /admin`: the administration page (a shell its script fills from `/api/admin`).
/// Members who are not administrators get 403, by the same look-up of the account's role
/// as the admin API's.
pub async fn admin(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
    member: Result<Member, ApiError>,
) -> HttpResponse {
    let member = match member_or_answer(&req, &tera, &info, member, "admin") {
        Ok(member) => member,
        Err(answer) => return *answer,
    };
    if !member.is_admin() {
        return error_page(
            &tera,
            &info,
            StatusCode::FORBIDDEN,
            "Administrators only",
            "This page is for the workspace's administrators.",
        );
    }
    let mut ctx = context(&info, Some(&csrf));
    ctx.insert("username", &member.username);
    render(&tera, HttpResponse::Ok(), "admin.html", &ctx)
}

/// `GET /account`: the account page (a shell its script fills from `/api/sessions` and
/// `/api/me`): sessions, password, two-factor sign-in, closing the account.
pub async fn account(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
    member: Result<Member, ApiError>,
) -> HttpResponse {
    let member = match member_or_answer(&req, &tera, &info, member, "account") {
        Ok(member) => member,
        Err(answer) => return *answer,
    };
    let mut ctx = context(&info, Some(&csrf));
    ctx.insert("username", &member.username);
    render(&tera, HttpResponse::Ok(), "account.html", &ctx)
}
