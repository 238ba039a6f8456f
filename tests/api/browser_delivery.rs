//! How the chat page keeps every message, once, when the socket does not tell it everything:
//! an ack that shows a gap, a room left and joined again before the first join was
//! answered, and an outbox sent after a reconnect while the server cannot store. The page
//! runs in real headless Chromium against a real server; a small harness in the page wraps
//! its WebSocket so that a test can drop or hold frames either way, or answer a chat frame
//! with `not_saved` itself, and count what the page has on its way.

use serde_json::json;

use crate::helpers::webdriver::{Browser, Driver};
use crate::helpers::{Backend, TestApp, spawn_app_with};

const PASSWORD: &str = "a delivery password";

const STATE: &str = "document.querySelector('[data-role=connection-state]')?.dataset.state";

/// Wraps the page's WebSocket class: sockets made from now on go through it. `window.__ws`
/// holds what it saw and what the test asks of it:
/// - `dropIn(frame)`: the page never hears that frame (`dropped`);
/// - `holdIn(frame)`: kept (`heldIn`) until `releaseIn()` delivers them, in order;
/// - `holdOut(frame)`: not sent (`heldOut`, the page believes it was) until `releaseOut()`;
/// - `failOut(frame)`: not sent; the page hears `not_saved` for it instead, as from a server
///   that could not store it;
/// - `out`, `maxOut`, `dupes`: the chat frames on their way (sent, not answered yet), the
///   most at once, and any sent again while on its way.
///
/// The socket open now is caught at its next send (`old`), to be closed by the test so
/// that the page reconnects through the wrapper.
const HARNESS: &str = r#"
if (window.__ws) return;
const Native = window.WebSocket;
const h = {
  sockets: 0, socket: null, old: null, listener: null,
  sent: [], received: [],
  dropIn: null, dropped: [],
  holdIn: null, heldIn: [],
  holdOut: null, heldOut: [],
  failOut: null, failed: [],
  out: new Set(), maxOut: 0, dupes: [],
};
window.__ws = h;
const answered = (frame) => {
  if ((frame.type === 'ack' || frame.type === 'error') && frame.client_id) h.out.delete(frame.client_id);
};
const deliver = (socket, data) => h.listener.call(socket, new MessageEvent('message', { data }));
class TestSocket extends Native {
  constructor(...args) {
    super(...args);
    h.sockets += 1;
    h.socket = this;
    h.out.clear();
  }
  send(data) {
    const frame = JSON.parse(data);
    if (h.holdOut && h.holdOut(frame)) {
      h.heldOut.push(data);
      return;
    }
    h.sent.push(frame);
    if (frame.type === 'chat') {
      if (h.out.has(frame.client_id)) h.dupes.push(frame.client_id);
      h.out.add(frame.client_id);
      h.maxOut = Math.max(h.maxOut, h.out.size);
    }
    if (h.failOut && h.failOut(frame)) {
      h.failed.push(frame.client_id);
      const error = { type: 'error', code: 'not_saved', client_id: frame.client_id, message: 'not saved (test)' };
      setTimeout(() => {
        if (h.socket !== this || this.readyState !== 1) return;
        answered(error);
        deliver(this, JSON.stringify(error));
      });
      return;
    }
    super.send(data);
  }
  addEventListener(type, listener, options) {
    if (type !== 'message') return super.addEventListener(type, listener, options);
    h.listener = listener;
    return super.addEventListener('message', (event) => {
      const frame = JSON.parse(event.data);
      if (h.dropIn && h.dropIn(frame)) {
        h.dropped.push(frame);
        return;
      }
      if (h.holdIn && h.holdIn(frame)) {
        h.heldIn.push(event.data);
        return;
      }
      h.received.push(frame);
      answered(frame);
      listener.call(this, event);
    }, options);
  }
}
h.releaseIn = () => {
  for (const data of h.heldIn.splice(0)) {
    const frame = JSON.parse(data);
    h.received.push(frame);
    answered(frame);
    deliver(h.socket, data);
  }
};
h.releaseOut = () => {
  for (const data of h.heldOut.splice(0)) {
    h.sent.push(JSON.parse(data));
    Native.prototype.send.call(h.socket, data);
  }
};
window.WebSocket = TestSocket;
const send = Native.prototype.send;
Native.prototype.send = function (data) {
  Native.prototype.send = send;
  h.old = this;
  return send.call(this, data);
};
"#;

/// Something the page sends by itself, to catch its socket: typing in the composer (sent
/// at most every 2.5 s, so poked until it goes).
const POKE: &str = "window.__ws.old || (() => {
  const c = document.querySelector('[data-role=composer]');
  c.value = 'x'; c.dispatchEvent(new Event('input'));
  c.value = ''; c.dispatchEvent(new Event('input'));
  return false;
})()";

async fn workspace() -> TestApp {
    spawn_app_with(chatapp::server::Role::All, Backend::Sqlite, |_| {}).await
}

/// Installs the harness and catches the page's socket of now.
async fn install(page: &Browser) {
    page.js(HARNESS, json!([])).await;
    page.wait_for(POKE).await;
}

/// Runs `before` in the page, then closes its socket: it reconnects through the harness.
async fn reconnect(page: &Browser, before: &str) {
    page.js(&format!("{before}\nwindow.__ws.old.close();"), json!([]))
        .await;
    page.wait_for("window.__ws.sockets === 1").await;
}

async fn connected(page: &Browser) {
    page.wait_for(&format!("{STATE} === 'connected'")).await;
}

fn has_message(text: &str) -> String {
    format!(
        "[...document.querySelectorAll('[data-role=message] .content')].filter(e => e.textContent === {}).length === 1",
        json!(text)
    )
}

async fn seqs(page: &Browser) -> serde_json::Value {
    page.js(
        "return [...document.querySelectorAll('[data-role=message]')].map(e => Number(e.dataset.seq));",
        json!([]),
    )
    .await
}

/// Point 1: alice's socket hears no chat frame at all, so the only sign that bob wrote is
/// the seq of the ack of her own next message, one past a gap. The page must fetch the gap
/// from the events feed rather than count the ack's seq as seen.
#[actix_web::test]
async fn an_ack_past_a_gap_fetches_what_was_missed_from_the_feed() {
    let app = workspace().await;
    let base = app.address.clone();
    let driver = Driver::start().await;
    let alice = driver.browser(1280, 900).await;
    let bob = driver.browser(1280, 900).await;
    alice.register(&base, "alice", PASSWORD).await;
    bob.register(&base, "bob", PASSWORD).await;

    install(&alice).await;
    reconnect(&alice, "window.__ws.dropIn = (f) => f.type === 'chat';").await;
    connected(&alice).await;

    bob.say("alice does not hear this").await;
    bob.wait_for(&has_message("alice does not hear this")).await;
    alice.wait_for("window.__ws.dropped.length === 1").await;
    assert!(alice.messages().await.is_empty());

    alice.say("alice writes after it").await;
    // Her own chat frame is dropped too: the ack (seq 2, after 0) is all she hears.
    alice.wait_for("window.__ws.dropped.length === 2").await;
    alice
        .wait_for(&has_message("alice does not hear this"))
        .await;
    alice.wait_for(&has_message("alice writes after it")).await;
    alice
        .wait_for("document.querySelectorAll('[data-role=pending-message]').length === 0")
        .await;
    assert_eq!(
        alice.messages().await,
        vec!["alice does not hear this", "alice writes after it"]
    );
    assert_eq!(seqs(&alice).await, json!([1, 2]));
    let acks = alice
        .js(
            "return window.__ws.received.filter(f => f.type === 'ack').map(f => f.seq);",
            json!([]),
        )
        .await;
    assert_eq!(acks, json!([2]));
    alice.quit().await;
    bob.quit().await;
    app.stop().await;
}

/// Point 3: alice's page switches to `plans` and back to `general` while the answer to its
/// first join of `general` has not come yet. That answer was given before the `leave`: the
/// page must wait for the answer to the second join before it reads the events feed, or a
/// message stored in between (bob's, here) comes neither live nor from the feed.
#[actix_web::test]
async fn a_room_joined_again_catches_up_after_its_last_join_is_answered() {
    let app = workspace().await;
    let base = app.address.clone();
    let driver = Driver::start().await;
    let alice = driver.browser(1280, 900).await;
    let bob = driver.browser(1280, 900).await;
    alice.register(&base, "alice", PASSWORD).await;
    bob.register(&base, "bob", PASSWORD).await;
    alice.type_into("#new-room", "plans").await;
    alice.click("#new-room-form button[type=submit]").await;
    alice
        .wait_for("document.getElementById('room-title').firstChild?.textContent === '# plans'")
        .await;
    connected(&alice).await;
    alice
        .click("[data-role=room-list] [data-room=general]")
        .await;
    connected(&alice).await;

    install(&alice).await;
    // The new socket's join of general is answered; the answer is held back from the page.
    reconnect(&alice, "window.__ws.holdIn = (f) => f.type === 'presence';").await;
    alice.wait_for("window.__ws.heldIn.length === 1").await;
    assert_eq!(
        alice.js(&format!("return {STATE};"), json!([])).await,
        json!("catching-up")
    );

    // Away to plans and back: the second join of general does not reach the server yet.
    alice
        .js(
            "window.__ws.holdOut = (f) => f.type === 'join' && f.room === 'general';",
            json!([]),
        )
        .await;
    alice.click("[data-role=room-list] [data-room=plans]").await;
    alice
        .click("[data-role=room-list] [data-room=general]")
        .await;
    alice
        .wait_for("window.__ws.heldOut.length === 1 && window.__ws.heldIn.length === 2")
        .await;
    // The page hears the answers to the first join of general and to the join of plans.
    alice
        .js(
            "window.__ws.holdIn = null; window.__ws.releaseIn();",
            json!([]),
        )
        .await;

    // Bob writes while alice's socket is not in general.
    bob.say("written while alice comes back").await;
    bob.wait_for(&has_message("written while alice comes back"))
        .await;

    // Now the second join reaches the server; its answer starts the catch-up.
    alice
        .js(
            "window.__ws.holdOut = null; window.__ws.releaseOut();",
            json!([]),
        )
        .await;
    connected(&alice).await;
    alice
        .wait_for(&has_message("written while alice comes back"))
        .await;
    let live = alice
        .js(
            "return window.__ws.received.some(f => f.type === 'chat');",
            json!([]),
        )
        .await;
    assert_eq!(live, json!(false), "it came from the feed, not live");
    assert_eq!(
        alice.messages().await,
        vec!["written while alice comes back"]
    );
    alice.quit().await;
    bob.quit().await;
    app.stop().await;
}

/// Point 4: forty messages wait in the outbox when the socket comes back, and the first
/// seventeen chat frames the page sends are answered `not_saved`. The page sends a window
/// of sixteen at most, none again while it is on its way, pauses after the failures and
/// then tries one; everything is stored once, in order, with no storm of resends.
#[actix_web::test]
async fn the_outbox_goes_a_window_at_a_time_and_pauses_after_not_saved() {
    let app = workspace().await;
    let base = app.address.clone();
    let driver = Driver::start().await;
    let alice = driver.browser(1280, 900).await;
    alice.register(&base, "alice", PASSWORD).await;

    install(&alice).await;
    let texts: Vec<String> = (1..=40).map(|i| format!("queued {i:02}")).collect();
    let items: Vec<_> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"client_id": format!("queued-{i:02}"), "room": "general", "content": text}))
        .collect();
    reconnect(
        &alice,
        &format!(
            "localStorage.setItem('chatapp.outbox.alice', {});
             let failures = 0;
             window.__ws.failOut = (f) => f.type === 'chat' && ++failures <= 17;",
            json!(json!(items).to_string())
        ),
    )
    .await;
    connected(&alice).await;
    alice
        .wait_for("document.querySelectorAll('[data-role=message]').length === 40")
        .await;
    alice
        .wait_for("localStorage.getItem('chatapp.outbox.alice') === '[]'")
        .await;
    alice.wait_for("window.__ws.out.size === 0").await;

    assert_eq!(alice.messages().await, texts, "each once, in order");
    assert_eq!(seqs(&alice).await, json!((1..=40).collect::<Vec<_>>()));
    let report = alice
        .js(
            "const h = window.__ws;
             return { maxOut: h.maxOut, dupes: h.dupes, failed: h.failed.length,
                      sent: h.sent.filter(f => f.type === 'chat').length };",
            json!([]),
        )
        .await;
    assert_eq!(report["failed"], 17, "{report}");
    assert_eq!(
        report["dupes"],
        json!([]),
        "nothing sent again while on its way: {report}"
    );
    assert!(
        report["maxOut"].as_u64().unwrap() <= 16,
        "at most a window of 16 on its way: {report}"
    );
    // A window that failed, one message after each pause, then each message once.
    assert_eq!(report["sent"], 16 + 1 + 40, "{report}");
    alice.quit().await;
    app.stop().await;
}
