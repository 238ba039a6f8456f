// The one WebSocket of the page, kept open. Each attempt uses a short-lived access token
// (fetched with the session cookie; the page never holds the session token), reused while
// it has more than 30 s left. When the socket closes it comes back by itself, with
// backoff; what to do once it is open is the caller's (onOpen). A token fetch answered 401
// means the session is over (signed out elsewhere, a password changed, the account
// deactivated): no more attempts, and the caller hears it (onEnded).

// Close codes after which to come back at once: 1001 going away and 1012 restarting (the
// server is being replaced), 1013 try again later (we fell behind and were cut off),
// 4401 (the token expired: a new one is fetched first).
const COME_BACK_SOON = new Set([1001, 1012, 1013, 4401]);

export class Connection {
  #socket = null;
  #token = null;
  #tokenExpires = 0;
  #failures = 0;
  #timer = null;
  #stopped = false;

  // url: ws(s)://.../ws/chat. token() -> {access_token, expires_in}, or throws an error
  // with `status` 401 when the session is over. onState(state) hears 'connecting' and
  // 'reconnecting'; onOpen() runs when a socket opens; onFrame(frame) for each frame;
  // onClose() when an open socket closes; onEnded() when the session is over. backoff(n)
  // and soon() give delays.
  constructor({ url, token, onState, onOpen, onFrame, onClose, onEnded = () => {}, backoff, soon }) {
    Object.assign(this, { url, token, onState, onOpen, onFrame, onClose, onEnded, backoff, soon });
  }

  get isOpen() {
    return Boolean(this.#socket) && this.#socket.readyState === WebSocket.OPEN;
  }

  start() {
    this.#connect();
  }

  // Sends a frame; answers false when there is no open socket (nothing is queued here:
  // what must not be lost is in the outbox).
  send(frame) {
    if (!this.isOpen) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  // For good (signing out, leaving the page): no reconnect.
  stop(code = 1000, reason = '') {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#socket) this.#socket.close(code, reason);
  }

  // The browser says the network is back: no need to sit out the backoff.
  retryNow() {
    if (!this.#socket && !this.#stopped) this.#retry(true);
  }

  #retry(soon) {
    if (this.#stopped) return;
    this.onState('reconnecting');
    this.#failures += 1;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#connect(), soon ? this.soon() : this.backoff(this.#failures));
  }

  async #connect() {
    if (this.#stopped) return;
    this.onState(this.#failures ? 'reconnecting' : 'connecting');
    try {
      if (!this.#token || Date.now() > this.#tokenExpires - 30000) {
        const body = await this.token();
        this.#token = body.access_token;
        this.#tokenExpires = Date.now() + body.expires_in * 1000;
      }
    } catch (e) {
      if (e?.status === 401) {
        // The session is over: another token will not come, however long we wait.
        if (this.#stopped) return;
        this.#stopped = true;
        this.onEnded();
        return;
      }
      this.#retry(false);
      return;
    }
    if (this.#stopped) return;
    const ws = new WebSocket(`${this.url}?token=${encodeURIComponent(this.#token)}`);
    this.#socket = ws;
    ws.addEventListener('open', () => {
      if (this.#socket !== ws) return;
      this.#failures = 0;
      this.onOpen();
    });
    ws.addEventListener('message', (event) => {
      if (this.#socket !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return; // not ours to understand; the server only sends JSON
      }
      this.onFrame(frame);
    });
    ws.addEventListener('close', (event) => {
      if (this.#socket !== ws) return;
      this.#socket = null;
      if (event.code === 4401) this.#token = null;
      this.onClose();
      this.#retry(COME_BACK_SOON.has(event.code));
    });
  }
}
