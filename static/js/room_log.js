// What the page knows of one room's event log, and so which events it still has to draw.
// No DOM and no I/O: it is fed events and answers what to apply, so it can be tested alone.
//
// The server numbers every change to a room (a message, an edit, a reaction, a member
// joining, ...) with the room's next `seq`: 1, 2, 3, ... with no gaps. So `last`, the seq up
// to which everything has been seen, is enough to tell whether something was missed: an
// event with seq > last + 1 means a gap, which the events feed fills. Messages alone
// (`chat_history`) may skip seqs, since other events took them.

// Frames that carry a room and a seq but are not events of the room: an ack answers the
// sender (see ack()), `read` moves a read position, `activity` tells of another room.
const NOT_EVENTS = new Set(['ack', 'read', 'activity', 'presence', 'join', 'leave', 'typing', 'error']);

// The event kinds the page draws. Any other event, including kinds this page does not know
// yet, only moves `last` forward: it was seen, there is nothing to draw.
const DRAWN = new Set(['chat']);

// Whether a frame from the socket is an event of a room's log.
export function isRoomEvent(frame) {
  return Boolean(frame) && typeof frame.room === 'string' && Number.isInteger(frame.seq) &&
    frame.seq > 0 && !NOT_EVENTS.has(frame.type);
}

export class RoomLog {
  constructor(room) {
    this.room = room;
    // Every event with seq <= last has been applied (or was older than what is shown).
    this.last = 0;
    // The lowest seq of a message shown: where "load older" continues.
    this.first = 0;
    // Whether the newest page of messages has been shown (see seed()).
    this.seeded = false;
    // Whether the oldest message of the room is shown: nothing older to load.
    this.reachedStart = false;
    this.ids = new Set(); // ids of the messages shown: nothing is drawn twice
    this.ahead = new Map(); // seq -> event seen but not applied yet (after a gap, or paused)
    // Paused: live events are queued in `ahead` and applied only at resume(). A new log is
    // paused until its first catch-up, so nothing is drawn before the newest page.
    this.paused = true;
  }

  // The newest page of messages (chat_history without a cursor), shown when a room opens.
  // Its highest seq is taken as seen: what came before it and is not a message (an edit of
  // an older message, say) is already reflected in the messages themselves.
  seed(messages, limit) {
    this.seeded = true;
    this.reachedStart = messages.length < limit;
    const apply = messages.filter((m) => this.#draws(m));
    for (const m of messages) this.last = Math.max(this.last, m.seq);
    return apply;
  }

  // An older page of messages (chat_history?before=first). Does not touch `last`.
  older(messages, limit) {
    if (messages.length < limit) this.reachedStart = true;
    return messages.filter((m) => this.#draws(m));
  }

  get canLoadOlder() {
    return this.seeded && !this.reachedStart && this.first > 1;
  }

  // A live event from the socket. Answers the events to draw now, in seq order, and
  // whether a gap is open (something between `last` and a newer event is missing: the
  // caller catches up from the events feed).
  live(event) {
    if (event.seq > this.last) this.ahead.set(event.seq, event);
    if (this.paused) return { apply: [], gap: false };
    const apply = this.#drain();
    return { apply, gap: this.ahead.size > 0 };
  }

  // The ack of one of our own messages, whose pending copy the page has just turned into
  // the stored message: the message is shown, and its seq counts as seen like any event.
  ack({ id, seq }) {
    this.ids.add(id);
    return this.live({ type: 'ack', seq });
  }

  // Whether the message with this id is shown.
  shown(id) {
    return this.ids.has(id);
  }

  // From now on, queue live events instead of applying them (a catch-up is about to run).
  pause() {
    this.paused = true;
  }

  // One page of the events feed: events after `last`, ascending and gapless, so applied as
  // they come; the queued live events wait for resume().
  catchUp(events) {
    const apply = [];
    for (const event of events) {
      if (event.seq <= this.last) continue; // a page that overlaps what is known
      this.last = event.seq;
      if (this.#draws(event)) apply.push(event);
    }
    return apply;
  }

  // The catch-up is done: apply the live events queued meanwhile that it did not already
  // bring (dedupe by seq, and by id for messages). A gap still open means an event arrived
  // live that the feed did not have yet: the caller catches up again.
  resume() {
    this.paused = false;
    const apply = this.#drain();
    return { apply, gap: this.ahead.size > 0 };
  }

  // Applies the queued events that follow `last` without a gap; drops those already seen.
  #drain() {
    const apply = [];
    for (const seq of this.ahead.keys()) if (seq <= this.last) this.ahead.delete(seq);
    for (let next = this.ahead.get(this.last + 1); next; next = this.ahead.get(this.last + 1)) {
      this.ahead.delete(next.seq);
      this.last = next.seq;
      if (this.#draws(next)) apply.push(next);
    }
    return apply;
  }

  // Whether an event is to be drawn; records its message as shown.
  #draws(event) {
    if (!DRAWN.has(event.type ?? 'chat') || event.id == null || this.ids.has(event.id)) return false;
    this.ids.add(event.id);
    this.first = this.first ? Math.min(this.first, event.seq) : event.seq;
    return true;
  }
}
