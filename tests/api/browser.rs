//! The chat page in real headless Chromium: two people chatting, presence and typing, a
//! restart of the server while one of them sends, and text that looks like markup.

use serde_json::json;

use crate::helpers::webdriver::Driver;
use crate::helpers::{ChatappProcess, chatapp_cmd};

/// `chatapp all` as a process on a fixed port, so it can be restarted on the same address.
struct Server {
    dir: tempfile::TempDir,
    bind: String,
    process: Option<ChatappProcess>,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        let bind = probe.local_addr().expect("addr").to_string();
        drop(probe);
        let mut server = Self {
            dir,
            bind,
            process: None,
        };
        server.restart();
        server
    }

    fn restart(&mut self) {
        let mut cmd = chatapp_cmd(self.dir.path());
        cmd.args(["all", "--bind", &self.bind])
            .env("CHATAPP__AUTH__BCRYPT_COST", "4");
        self.process = Some(ChatappProcess::start(cmd));
    }

    fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            let (code, _) = process.terminate();
            assert_eq!(code, Some(0));
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.bind)
    }
}

const HAS: &str =
    "[...document.querySelectorAll('[data-role=message] .content')].filter(e => e.textContent === ";

#[actix_web::test]
async fn two_people_chat_see_each_other_and_markup_stays_text() {
    let server = Server::start();
    let base = server.url();
    let driver = Driver::start().await;
    let alice = driver.browser(1280, 900).await;
    let bob = driver.browser(1280, 900).await;
    alice.register(&base, "alice", "alice's password").await;
    bob.register(&base, "bob", "bob's password").await;

    // Each sees the other online.
    alice
        .wait_for("[...document.querySelectorAll('[data-role=online-users] li')].some(l => l.textContent === 'bob')")
        .await;
    bob.wait_for("[...document.querySelectorAll('[data-role=online-users] li')].some(l => l.textContent === 'alice')")
        .await;

    alice.say("Hello Bob!").await;
    bob.wait_for(&format!("{HAS}'Hello Bob!').length === 1"))
        .await;
    alice
        .wait_for(&format!("{HAS}'Hello Bob!').length === 1"))
        .await;

    // Typing shows on the other side.
    bob.type_into("[data-role=composer]", "Hi Al").await;
    alice
        .wait_for("document.getElementById('typing').textContent.includes('bob is typing')")
        .await;
    bob.type_into("[data-role=composer]", "ice\u{E007}").await;
    alice
        .wait_for(&format!("{HAS}'Hi Alice').length === 1"))
        .await;

    // Text that looks like markup is shown as text, and runs nothing.
    let evil = "<img src=x onerror=alert(1)>";
    alice.say(evil).await;
    bob.wait_for(&format!("{HAS}{}).length === 1", json!(evil)))
        .await;
    for page in [&alice, &bob] {
        let imgs = page
            .js(
                "return document.querySelectorAll('[data-role=message-list] img').length;",
                json!([]),
            )
            .await;
        assert_eq!(imgs, 0, "no element may come from message text");
        assert_eq!(page.alert().await, None, "no script may run");
    }
    assert_eq!(alice.messages().await, vec!["Hello Bob!", "Hi Alice", evil]);
    assert_eq!(bob.messages().await, vec!["Hello Bob!", "Hi Alice", evil]);
    let seqs = bob
        .js("return [...document.querySelectorAll('[data-role=message]')].map(e => Number(e.dataset.seq));", json!([]))
        .await;
    assert_eq!(seqs, json!([1, 2, 3]));

    alice.screenshot("chat-desktop").await;
    bob.resize(390, 844).await;
    bob.screenshot("chat-phone").await;

    // Signing out closes the socket and lands on the sign-in page.
    alice.click("#signout-form button").await;
    alice.wait_for("location.pathname === '/auth/login'").await;
    bob.wait_for("![...document.querySelectorAll('[data-role=online-users] li')].some(l => l.textContent === 'alice')")
        .await;
    alice.quit().await;
    bob.quit().await;
}

#[actix_web::test]
async fn messages_sent_while_the_server_restarts_arrive_once() {
    let mut server = Server::start();
    let base = server.url();
    let driver = Driver::start().await;
    let alice = driver.browser(1280, 900).await;
    let bob = driver.browser(1280, 900).await;
    alice.register(&base, "alice", "alice's password").await;
    bob.register(&base, "bob", "bob's password").await;
    alice.say("before the restart").await;
    bob.wait_for(&format!("{HAS}'before the restart').length === 1"))
        .await;

    server.stop();
    alice.wait_for("document.querySelector('[data-role=connection-state]').dataset.state === 'reconnecting'").await;
    alice.say("during the restart, one").await;
    alice.say("during the restart, two").await;
    alice
        .wait_for("document.querySelectorAll('[data-role=pending-message]').length === 2")
        .await;
    alice.screenshot("chat-reconnecting").await;

    server.restart();
    for page in [&alice, &bob] {
        page.wait_for(
            "document.querySelector('[data-role=connection-state]').dataset.state === 'connected'",
        )
        .await;
        page.wait_for(&format!("{HAS}'during the restart, two').length === 1"))
            .await;
    }
    alice
        .wait_for("document.querySelectorAll('[data-role=pending-message]').length === 0")
        .await;
    let expected = vec![
        "before the restart",
        "during the restart, one",
        "during the restart, two",
    ];
    assert_eq!(alice.messages().await, expected);
    assert_eq!(bob.messages().await, expected);
    let outbox = alice
        .js(
            "return localStorage.getItem('chatapp.outbox.alice');",
            json!([]),
        )
        .await;
    assert_eq!(
        outbox,
        json!("[]"),
        "the outbox is empty once everything is acknowledged"
    );
    alice.quit().await;
    bob.quit().await;
    server.stop();
}
