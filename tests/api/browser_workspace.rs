//! The workspace in real headless Chromium, at a desktop and at a phone size: a private
//! room that only its members see, a direct message started from the people online and
//! shown by name, and the admin page (people and roles, the join link, the audit log).

use chatapp::server::Role;
use serde_json::json;

use crate::helpers::webdriver::{Browser, Driver};
use crate::helpers::{Backend, Browser as FormBrowser, Size, TestApp, spawn_app_with};

const PASSWORD: &str = "a workspace password";

const CONNECTED: &str =
    "document.querySelector('[data-role=connection-state]')?.dataset.state === 'connected'";

async fn workspace() -> TestApp {
    // Open registration: the first account is the administrator's.
    spawn_app_with(Role::All, Backend::Sqlite, |_| {}).await
}

/// On a phone, rooms and people are in a panel the menu button opens; on a desktop they
/// are always shown and the button is hidden.
async fn open_nav(page: &Browser) {
    page.js(
        "const t = document.getElementById('nav-toggle');
         if (getComputedStyle(t).display !== 'none' && t.getAttribute('aria-expanded') !== 'true') t.click();",
        json!([]),
    )
    .await;
}

/// Waits until the room shown has answered our join (we are in its online list).
async fn joined(page: &Browser, me: &str) {
    page.wait_for(&format!(
        "document.querySelector('[data-role=online-users] li[data-user={}]')",
        json!(me)
    ))
    .await;
}

/// Waits for the room shown to be `title` (the heading's text, without the lock mark of a
/// private room).
async fn title_is(page: &Browser, title: &str) {
    page.wait_for(&format!(
        "document.getElementById('room-title').firstChild?.textContent === {}",
        json!(title)
    ))
    .await;
}

fn has_message(text: &str) -> String {
    format!(
        "[...document.querySelectorAll('[data-role=message] .content')].some(e => e.textContent === {})",
        json!(text)
    )
}

/// The labels of the entries in a sidebar list (`room-list` or `dm-list`).
async fn labels(page: &Browser, role: &str) -> Vec<String> {
    let v = page
        .js(
            "return [...document.querySelectorAll(`[data-role=${arguments[0]}] button`)].map(b => b.textContent);",
            json!([role]),
        )
        .await;
    serde_json::from_value(v).expect("labels")
}

crate::both_sizes!(a_private_room_is_seen_by_its_members_only, private_room);
async fn private_room(size: Size) {
    let app = workspace().await;
    let base = app.address.clone();
    let driver = Driver::start().await;
    let admin = size.open(&driver).await;
    let bob = size.open(&driver).await;
    let carol = size.open(&driver).await;
    admin.register(&base, "alice", PASSWORD).await;
    bob.register(&base, "bob", PASSWORD).await;
    carol.register(&base, "carol", PASSWORD).await;

    // The administrator makes a private room and adds bob to it.
    open_nav(&admin).await;
    admin.type_into("#new-room", "plans").await;
    admin.click("#new-room-private").await;
    admin.click("#new-room-form button[type=submit]").await;
    title_is(&admin, "# plans").await;
    joined(&admin, "alice").await;
    admin
        .wait_for("document.querySelector('[data-role=room-list] [data-room=plans][data-kind=private] .lock')")
        .await;
    admin.type_into("[data-role=add-member] input", "bob").await;
    admin.click("[data-role=add-member] button").await;
    admin
        .wait_for("document.getElementById('room-members').textContent.includes('bob')")
        .await;
    admin.say("for members only").await;
    admin.wait_for(&has_message("for members only")).await;
    admin
        .screenshot(&format!("workspace-private-room-{}", size.name()))
        .await;

    // Bob sees it (after a reload) and reads it.
    bob.goto(&format!("{base}/home")).await;
    bob.wait_for(CONNECTED).await;
    open_nav(&bob).await;
    bob.wait_for("document.querySelector('[data-role=room-list] [data-room=plans]')")
        .await;
    bob.click("[data-role=room-list] [data-room=plans]").await;
    title_is(&bob, "# plans").await;
    bob.wait_for(&has_message("for members only")).await;
    bob.wait_for("!document.querySelector('[data-role=leave-room]').hidden")
        .await;

    // Carol does not: not in the list, and not by its name either.
    carol.goto(&format!("{base}/home")).await;
    carol.wait_for(CONNECTED).await;
    let rooms = labels(&carol, "room-list").await;
    assert!(rooms.contains(&"# general".to_owned()), "{rooms:?}");
    assert!(!rooms.iter().any(|r| r.contains("plans")), "{rooms:?}");
    let carol_token = app.login("carol", PASSWORD).await;
    let (status, _) = app
        .get_with_token("/api/chat/chat_history?room=plans", &carol_token)
        .await;
    assert_eq!(status, 404);

    // Bob leaves (a second click confirms): back in general, and the room is gone.
    joined(&bob, "bob").await;
    bob.click("[data-role=leave-room]").await;
    bob.click("[data-role=leave-room]").await;
    title_is(&bob, "# general").await;
    bob.wait_for("!document.querySelector('[data-role=room-list] [data-room=plans]')")
        .await;
    bob.wait_for(
        "document.querySelector('[data-role=room-notice]').textContent.includes('You left #plans')",
    )
    .await;
    for page in [admin, bob, carol] {
        page.quit().await;
    }
    app.stop().await;
}

crate::both_sizes!(
    a_direct_message_starts_from_the_people_online,
    direct_message
);
async fn direct_message(size: Size) {
    let app = workspace().await;
    let base = app.address.clone();
    let driver = Driver::start().await;
    let alice = size.open(&driver).await;
    let bob = size.open(&driver).await;
    alice.register(&base, "alice", PASSWORD).await;
    bob.register(&base, "bob", PASSWORD).await;

    // One click on bob among the people online opens the conversation of the two of us.
    open_nav(&alice).await;
    alice
        .wait_for(
            "document.querySelector('[data-role=online-users] [data-role=new-dm][data-user=bob]')",
        )
        .await;
    alice
        .click("[data-role=online-users] [data-role=new-dm][data-user=bob]")
        .await;
    title_is(&alice, "bob").await;
    joined(&alice, "alice").await;
    assert_eq!(labels(&alice, "dm-list").await, vec!["bob"]);
    alice.say("just between us").await;
    alice.wait_for(&has_message("just between us")).await;
    alice
        .screenshot(&format!("workspace-direct-{}", size.name()))
        .await;

    // Bob finds it under "Direct messages" by alice's name (after a reload), never by
    // its generated dm- name.
    bob.goto(&format!("{base}/home")).await;
    bob.wait_for(CONNECTED).await;
    open_nav(&bob).await;
    bob.wait_for("[...document.querySelectorAll('[data-role=dm-list] button')].some(b => b.textContent === 'alice')")
        .await;
    let room_list = labels(&bob, "room-list").await;
    assert!(
        !room_list.iter().any(|r| r.contains("dm-")),
        "a direct room is not listed with the rooms: {room_list:?}"
    );
    bob.click("[data-role=dm-list] button").await;
    title_is(&bob, "alice").await;
    bob.wait_for(&has_message("just between us")).await;
    let page_text = bob
        .js(
            "return document.querySelector('.app').innerText;",
            json!([]),
        )
        .await;
    assert!(
        !page_text.as_str().unwrap_or_default().contains("dm-"),
        "{page_text}"
    );
    bob.screenshot(&format!("workspace-direct-other-{}", size.name()))
        .await;
    alice.quit().await;
    bob.quit().await;
    app.stop().await;
}

crate::both_sizes!(the_admin_page_manages_people_and_invitations, admin_page);
async fn admin_page(size: Size) {
    let app = workspace().await;
    let base = app.address.clone();
    let driver = Driver::start().await;
    let admin = size.open(&driver).await;
    let bob = size.open(&driver).await;
    admin.register(&base, "alice", PASSWORD).await;
    bob.register(&base, "bob", PASSWORD).await;

    // Only administrators see the link, and only they get the page.
    admin
        .wait_for("!document.querySelector('[data-role=admin-link]').hidden")
        .await;
    bob.goto(&format!("{base}/admin")).await;
    bob.wait_for("document.body.textContent.includes('Administrators only')")
        .await;
    assert_eq!(
        bob.js(
            "return document.querySelector('[data-role=admin-users]');",
            json!([])
        )
        .await,
        json!(null)
    );

    admin.click("[data-role=admin-link]").await;
    admin.wait_for("location.pathname === '/admin'").await;

    // People: both listed, bob a member.
    admin
        .wait_for("document.querySelectorAll('[data-role=admin-users] tr[data-user]').length === 2")
        .await;
    admin
        .wait_for("document.querySelector('[data-role=admin-users] tr[data-user=bob] [data-role=role-select]').value === 'member'")
        .await;
    assert_eq!(
        admin
            .js("return document.querySelector('[data-role=admin-users] tr[data-user=alice] [data-role=role-select]').disabled;", json!([]))
            .await,
        json!(true),
        "an administrator cannot demote themselves"
    );

    // Bob becomes an admin: as a person picks from the select.
    admin
        .js(
            "const s = document.querySelector('[data-role=admin-users] tr[data-user=bob] [data-role=role-select]');
             s.value = 'admin'; s.dispatchEvent(new Event('change', { bubbles: true }));",
            json!([]),
        )
        .await;
    admin
        .wait_for("[...document.querySelectorAll('[data-role=audit-log] li')].some(l => l.dataset.action === 'set_role')")
        .await;
    let bob_token = app.login("bob", PASSWORD).await;
    let (_, me) = app.get_with_token("/api/me", &bob_token).await;
    assert_eq!(me["role"], "admin", "{me}");

    // The join link: rotating it shows a new one, the one the server now has.
    admin
        .wait_for("document.querySelector('[data-role=join-code]').dataset.code")
        .await;
    let old = admin
        .js(
            "return document.querySelector('[data-role=join-code]').dataset.code;",
            json!([]),
        )
        .await;
    let shown_url = admin
        .js(
            "return document.querySelector('[data-role=join-code]').value;",
            json!([]),
        )
        .await;
    assert_eq!(
        shown_url,
        json!(format!("{base}/join/{}", old.as_str().unwrap_or_default()))
    );
    admin.click("[data-role=rotate-join-code]").await;
    admin
        .wait_for(&format!(
            "document.querySelector('[data-role=join-code]').dataset.code !== {old}"
        ))
        .await;
    let new = admin
        .js(
            "return document.querySelector('[data-role=join-code]').dataset.code;",
            json!([]),
        )
        .await;
    let (status, current) = app.get_with_token("/api/admin/join_code", &bob_token).await;
    assert_eq!(status, 200, "{current}");
    assert_eq!(current["code"], new);
    assert_ne!(new, old);

    // A one-person invite shows its link.
    admin.click("[data-role=new-invite]").await;
    admin
        .wait_for("document.querySelectorAll('[data-role=invites] li').length === 1")
        .await;

    // The audit log tells all of it, newest first.
    admin
        .wait_for("document.querySelector('[data-role=audit-log] li')?.dataset.action === 'invite'")
        .await;
    let audit = admin
        .js(
            "return [...document.querySelectorAll('[data-role=audit-log] li')].map(l => l.textContent);",
            json!([]),
        )
        .await;
    let audit: Vec<String> = serde_json::from_value(audit).expect("audit lines");
    assert_eq!(audit.len(), 3, "{audit:?}");
    assert!(
        audit[0].contains("alice created a one-person invite"),
        "{audit:?}"
    );
    assert!(
        audit[1].contains("alice rotated the join link"),
        "{audit:?}"
    );
    assert!(audit[2].contains("alice made bob an admin"), "{audit:?}");
    admin
        .screenshot(&format!("workspace-admin-{}", size.name()))
        .await;
    admin.quit().await;
    bob.quit().await;
    app.stop().await;
}

/// The page itself, without a browser: signed out → sign in; a member → 403; an
/// administrator → the page, with a sign-out form; a deactivated account's session is
/// signed out of the pages (not sent back and forth between /home and /auth/login).
#[actix_web::test]
async fn the_admin_page_is_for_administrators_only() {
    let app = workspace().await;
    let mut visitor = FormBrowser::new(&app.address);
    let page = visitor.get("/admin").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), Some("/auth/login"));

    let mut alice = FormBrowser::new(&app.address);
    alice.register("alice", PASSWORD).await;
    let mut bob = FormBrowser::new(&app.address);
    bob.register("bob", PASSWORD).await;

    let page = alice.get("/admin").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("data-role=\"admin-users\""));
    assert!(page.body.contains("/static/js/admin.js?v="));
    assert!(!page.csrf_token().is_empty());
    let csp = page
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{csp}");

    let page = bob.get("/admin").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Administrators only"));
    assert!(!page.body.contains("admin-users"));

    // Bob made an admin gets the page at once; deactivated, his session is signed out.
    let admin = app.login("alice", PASSWORD).await;
    let (status, _) = app
        .post_with_token("/api/admin/users/bob", &admin, &json!({"role": "admin"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(bob.get("/admin").await.status, 200);
    let (status, _) = app
        .post_with_token("/api/admin/users/bob", &admin, &json!({"active": false}))
        .await;
    assert_eq!(status, 200);
    for path in ["/home", "/admin"] {
        let mut again = FormBrowser::new(&app.address);
        again.cookies = bob.cookies.clone();
        let page = again.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location(), Some("/auth/expired"), "{path}");
    }
    let page = bob.get("/home").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), Some("/auth/expired"));
    let page = bob.get("/auth/expired").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), Some("/auth/login"));
    assert!(
        !bob.cookies.contains_key("chatapp_session"),
        "{:?}",
        page.headers
    );
    let page = bob.get("/auth/login").await;
    assert_eq!(
        page.status, 200,
        "the sign-in form, not a redirect to /home"
    );
    app.stop().await;
}
