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

/// `GET /admin`: the administration page (a shell its script fills from `/api/admin`).
/// Signed-out visitors go to the sign-in page; members who are not administrators get 403,
/// by the same look-up of the account's role as the admin API's.
pub async fn admin(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
    member: Result<Member, ApiError>,
) -> HttpResponse {
    if authenticate(&req).is_err() {
        return redirect("/auth/login");
    }
    let member = match member {
        Ok(member) => member,
        Err(ApiError::Unauthorized(_)) => return redirect(EXPIRED),
        Err(e) => {
            tracing::warn!(error = %e, "the admin page could not check the account");
            return error_page(
                &tera,
                &info,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not available right now",
                "This page cannot be shown right now. Please try again shortly.",
            );
        }
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
/// `/api/me`): sessions, password, two-factor sign-in, closing the account. Signed-out
/// visitors go to the sign-in page; an account that can no longer be used, to
/// [`EXPIRED`].
pub async fn account(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
    member: Result<Member, ApiError>,
) -> HttpResponse {
    if authenticate(&req).is_err() {
        return redirect("/auth/login");
    }
    let member = match member {
        Ok(member) => member,
        Err(ApiError::Unauthorized(_)) => return redirect(EXPIRED),
        Err(e) => {
            tracing::warn!(error = %e, "the account page could not check the account");
            return error_page(
                &tera,
                &info,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not available right now",
                "This page cannot be shown right now. Please try again shortly.",
            );
        }
    };
    let mut ctx = context(&info, Some(&csrf));
    ctx.insert("username", &member.username);
    render(&tera, HttpResponse::Ok(), "account.html", &ctx)
}
