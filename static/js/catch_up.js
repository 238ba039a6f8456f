// Brings one room's log up to date from the server: the newest page of messages the first
// time, then the events feed after `last` until it has nothing more. Live events that arrive
// meanwhile are queued by the log and applied after, so none is lost and none is drawn
// twice. Live events and acks go through it too: one past a gap starts a catch-up. No DOM:
// what to fetch, draw and wait with is passed in (tests pass fakes).

export const HISTORY_PAGE = 50;

export class CatchUp {
  #running = false;
  #again = false; // asked to run while running: one more pass before resuming
  #waiting = false; // paused for a join whose answer has not come yet
  #stopped = false;
  #failures = 0;
  #wake = null; // ends a retry's pause early

  // log: the RoomLog. history(limit) -> messages, newest page. events(after) -> events
  // after that seq (one page). draw(events) shows them. done() runs after each catch-up
  // that ends with everything applied. backoff(n) and wait(ms) pace the retries.
  constructor({ log, history, events, draw, done, backoff, wait }) {
    Object.assign(this, { log, history, events, draw, done, backoff, wait });
  }

  // A join was sent: queue live events until run() is called for its answer. Fetching
  // before the server has subscribed us could miss an event stored in between, which
  // would then come neither live nor from the feed.
  hold() {
    this.#waiting = true;
    this.log.pause();
  }

  // Catches up now: after a join was answered, or when a live event showed a gap. Calls
  // while one runs make it go once more instead of running twice at once.
  run() {
    if (this.#stopped) return;
    this.#waiting = false;
    this.log.pause();
    if (this.#running) {
      this.#again = true;
      this.#wake?.(); // a fresh join need not sit out a backoff meant for a server that was down
      return;
    }
    this.#running = true;
    this.#loop();
  }

  // A live event of the room from the socket (a chat frame, a member added, ...). One that
  // follows what was seen is drawn at once. One past a gap is kept, never dropped and never
  // skipped over: the feed is read for what is missing and it is drawn after that, in seq
  // order. While a catch-up runs it waits in the log; the running catch-up applies it when
  // it ends, and goes again if the gap is still open then.
  live(event) {
    this.#applied(this.log.live(event));
  }

  // The ack of one of our messages, whose pending copy the page turned into the message: its
  // seq counts as seen, in order like any event. An ack past a gap (someone else wrote in
  // between and we did not hear it) starts a catch-up; `last` does not jump past the gap.
  acked(ack) {
    this.#applied(this.log.ack(ack));
  }

  #applied({ apply, gap }) {
    if (apply.length) this.draw(apply);
    // While a join waits for its answer the log is paused and reports no gap; the answer
    // starts the catch-up (see hold()).
    if (gap && !this.#waiting) this.run();
  }

  // The room was left: whatever is in flight is dropped.
  stop() {
    this.#stopped = true;
    this.#wake?.();
  }

  get running() {
    return this.#running;
  }

  async #loop() {
    let caughtUp = false;
    try {
      caughtUp = await this.#passes();
    } finally {
      this.#running = false;
    }
    // Only now: a run() from whoever done() wakes must start a new loop, not ask this
    // finished one for another pass.
    if (caughtUp) this.done();
  }

  // Answers true once everything is applied; false when stopped, or left waiting for a join.
  async #passes() {
    for (;;) {
      this.#again = false;
      try {
        await this.#pass();
      } catch (_) {
        // The server or the network failed: try again, later each time.
        if (!(await this.#pause())) return false;
        continue;
      }
      if (this.#stopped) return false;
      if (this.#again) continue;
      if (this.#waiting) return false; // a join is outstanding: its answer calls run()
      const { apply, gap } = this.log.resume();
      this.draw(apply);
      if (!gap) {
        this.#failures = 0;
        return true;
      }
      // A queued event is ahead of what the feed gave: it was stored after our last
      // request. Ask again: at once the first time, then with growing pauses, so that a
      // server that keeps disagreeing with itself is not asked in a tight loop.
      this.log.pause();
      if (this.#failures === 0) this.#failures = 1;
      else if (!(await this.#pause())) return false;
    }
  }

  // One pass: the newest messages if the room has never been shown, then the feed until
  // it answers with no events.
  async #pass() {
    const { log } = this;
    if (!log.seeded) {
      const messages = await this.history(HISTORY_PAGE);
      if (this.#stopped) return;
      this.draw(log.seed(messages, HISTORY_PAGE));
    }
    for (;;) {
      const events = await this.events(log.last);
      if (this.#stopped) return;
      this.draw(log.catchUp(events));
      if (events.length === 0) return;
    }
  }

  // Waits before a retry; answers whether to go on (the room may have been left meanwhile).
  async #pause() {
    this.#failures += 1;
    const woken = new Promise((resolve) => {
      this.#wake = resolve;
    });
    await Promise.race([this.wait(this.backoff(this.#failures)), woken]);
    this.#wake = null;
    return !this.#stopped;
  }
}

// The joins sent on one socket that wait for their answer. The server answers a socket's
// joins one by one, in the order they were sent: with the room's `presence` frame (action
// `online_users`: from then on the room's events come live) or with an `error` that has no
// client_id. Only the answer to the *last* join of a room says it is subscribed now: a room
// left and joined again before the first answer came (a quick switch away and back) has two
// joins on the way, and the first one's answer came before the `leave`, so a catch-up
// started on it could fetch the feed before the second join subscribes and miss what is
// stored in between.
const JOIN_REFUSALS = new Set(['not_found', 'unavailable', 'forbidden', 'rate_limited']);

export class Joins {
  #rooms = []; // the rooms of the joins sent and not answered yet, oldest first

  sent(room) {
    this.#rooms.push(room);
  }

  // Whether a join of this room waits for its answer.
  waiting(room) {
    return this.#rooms.includes(room);
  }

  // A frame from the socket. When it answers a join: {room, joined, code, last}, `joined`
  // for the presence frame and the error's `code` otherwise, `last` when no later join of
  // that room is on its way (the answer to an earlier one says nothing about the room
  // now). Otherwise null.
  answer(frame) {
    let at = -1;
    if (frame?.type === 'presence' && frame.action === 'online_users') {
      at = this.#rooms.indexOf(frame.room);
    } else if (frame?.type === 'error' && !frame.client_id && JOIN_REFUSALS.has(frame.code)) {
      at = this.#rooms.length ? 0 : -1;
    }
    if (at < 0) return null;
    // Answers come in order: the joins before this one were answered already.
    const room = this.#rooms.splice(0, at + 1)[at];
    const joined = frame.type === 'presence';
    return { room, joined, code: joined ? null : frame.code, last: !this.#rooms.includes(room) };
  }

  // The socket closed: no answer will come.
  reset() {
    this.#rooms = [];
  }
}
