// Messages sent but not yet acknowledged. They are kept in localStorage, per user, so that
// a reload, a lost connection or a server restart loses none: each is sent again with its
// own client_id until acked, and the server stores a client_id once. The Sender below does
// the sending.

// randomUUID exists only in secure contexts (https, localhost): a page served over plain
// http elsewhere gets a time-and-random id, unique enough per user.
export function newClientId() {
  return globalThis.crypto?.randomUUID
    ? globalThis.crypto.randomUUID()
    : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export class Outbox {
  // storage: localStorage, or anything with getItem/setItem (tests pass a fake).
  constructor(storage, username) {
    this.storage = storage;
    this.key = `chatapp.outbox.${username}`;
  }

  // Read afresh each time: another tab of the same user shares the list, and writing back
  // a stale copy would drop what that tab added.
  get items() {
    try {
      const items = JSON.parse(this.storage.getItem(this.key) || '[]');
      return Array.isArray(items) ? items : [];
    } catch (_) {
      return [];
    }
  }

  forRoom(room) {
    return this.items.filter((item) => item.room === room);
  }

  has(clientId) {
    return this.items.some((item) => item.client_id === clientId);
  }

  add(room, content, clientId = newClientId()) {
    const item = { client_id: clientId, room, content };
    this.#save([...this.items, item]);
    return item;
  }

  // Removes an item (acked, stored, or refused for good); answers whether it was there.
  remove(clientId) {
    const items = this.items;
    const left = items.filter((item) => item.client_id !== clientId);
    if (left.length === items.length) return false;
    this.#save(left);
    return true;
  }

  #save(items) {
    this.storage.setItem(this.key, JSON.stringify(items));
  }
}

// The frame that sends an outbox item.
export const chatFrame = (item) =>
  ({ type: 'chat', room: item.room, content: item.content, client_id: item.client_id });

// How many messages may be on their way (sent, not answered yet) at once.
export const WINDOW = 16;

// Sends the outbox over the socket: oldest first, at most `window` messages unanswered at a
// time, the next as answers come. A message on its way is not sent again until it is
// answered (or the socket closes): each goes at most once per attempt. When the server
// could not store one (`not_saved`, `unavailable`, `rate_limited`: it stays in the outbox),
// sending pauses, backoff(n) after the n-th failure in a row, and then goes on one message
// at a time until one is stored again (an ack also ends a pause early). So a reconnect sends
// a window, not the whole outbox at once; an outage that fails N messages costs one resend
// per pause, never N resends of the outbox; and messages are stored in the order they were
// written, new ones after those still waiting.
export class Sender {
  #inFlight = new Set(); // client_ids sent on this socket and not answered yet
  #failures = 0; // failures in a row, since the last ack
  #timer = null; // the pause after a failure
  #started = false; // the socket is open and the room caught up

  // send(item) answers false when the socket is down (reset() and start() follow).
  // timers: what has setTimeout and clearTimeout (called as its methods, since the
  // browser's own refuse to run detached from window).
  constructor({ outbox, send, backoff, timers = globalThis, window = WINDOW }) {
    Object.assign(this, { outbox, send, backoff, timers, window });
  }

  // The socket is open (and the room shown caught up): send what waits.
  start() {
    this.#started = true;
    this.#pump();
  }

  // A message was added to the outbox: it goes when its turn comes.
  queued() {
    this.#pump();
  }

  // The server stored this item (acked, or found stored in the feed). Storing works: a
  // pause ends, and the window opens again.
  acked(clientId) {
    this.#inFlight.delete(clientId);
    this.#failures = 0;
    this.#endPause();
    this.#pump();
  }

  // The server could not store this item now; it stays in the outbox and is sent again
  // after a pause. Failures that come while a pause is due (the rest of a window the same
  // outage failed) add nothing to it.
  failed(clientId) {
    this.#inFlight.delete(clientId);
    if (this.#timer) return;
    this.#failures += 1;
    this.#timer = this.timers.setTimeout(() => {
      this.#timer = null;
      this.#pump();
    }, this.backoff(this.#failures));
  }

  // The server refused this item for good (it left the outbox), or it is gone otherwise:
  // its place goes to the next.
  dropped(clientId) {
    this.#inFlight.delete(clientId);
    this.#pump();
  }

  // The socket closed: nothing on its way will be answered; start() sends again.
  reset() {
    this.#endPause();
    this.#inFlight.clear();
    this.#failures = 0;
    this.#started = false;
  }

  // How many messages are on their way.
  get inFlight() {
    return this.#inFlight.size;
  }

  #endPause() {
    this.timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #pump() {
    if (!this.#started || this.#timer) return;
    const room = this.#failures ? 1 : this.window; // after a failure: one, to see whether storing works
    for (const item of this.outbox.items) {
      if (this.#inFlight.size >= room) return;
      if (this.#inFlight.has(item.client_id)) continue;
      if (!this.send(item)) return;
      this.#inFlight.add(item.client_id);
    }
  }
}
