// Messages sent but not yet acknowledged. They are kept in localStorage, per user, so that
// a reload, a lost connection or a server restart loses none: each is sent again with its
// own client_id until acked, and the server stores a client_id once.

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

// Resends what the server could not store right now (`not_saved`, `unavailable`): one item
// at a time, oldest first, the next when the one before is answered, and after the n-th
// failure in a row a pause of backoff(n). So a database outage that fails N messages costs
// one resend per pause, never N resends of the whole outbox; and the messages are stored
// in the order they were written.
export class Resender {
  #failures = 0;
  #timer = null;
  #inFlight = null; // the client_id resent and not yet answered

  // send(item) answers false when the socket is down (the next connect sends everything).
  // timers: what has setTimeout and clearTimeout (called as its methods, since the
  // browser's own refuse to run detached from window).
  constructor({ outbox, send, backoff, timers = globalThis }) {
    Object.assign(this, { outbox, send, backoff, timers });
  }

  // The server could not store this item; it stays in the outbox.
  failed(clientId) {
    if (this.#inFlight && this.#inFlight !== clientId) return; // the running round gets to it
    this.#inFlight = null;
    if (this.#timer) return; // a resend is already due
    this.#failures += 1;
    this.#timer = this.timers.setTimeout(() => {
      this.#timer = null;
      this.#next();
    }, this.backoff(this.#failures));
  }

  // The server stored this item. Storing works again: a resend that is due goes now.
  acked(clientId) {
    this.#failures = 0;
    if (this.#inFlight === clientId || (!this.#inFlight && this.#timer)) this.#resendNow();
  }

  // The server refused this item for good (it left the outbox): go on with the next.
  dropped(clientId) {
    if (this.#inFlight === clientId) this.#resendNow();
  }

  // The socket closed: nothing in flight will be answered, and the next connect sends the
  // whole outbox anyway.
  reset() {
    this.timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#inFlight = null;
    this.#failures = 0;
  }

  #resendNow() {
    this.timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#inFlight = null;
    this.#next();
  }

  #next() {
    const [item] = this.outbox.items;
    if (item && this.send(item)) this.#inFlight = item.client_id;
  }
}
