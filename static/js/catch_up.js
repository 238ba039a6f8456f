// Brings one room's log up to date from the server: the newest page of messages the first
// time, then the events feed after `last` until it has nothing more. Live events that arrive
// meanwhile are queued by the log and applied after, so none is lost and none is drawn
// twice. No DOM: what to fetch, draw and wait with is passed in (tests pass fakes).

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
