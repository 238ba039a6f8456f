// The chat page's per-room log: gaps, duplicates, order, event kinds it does not know,
// and live events queued while a catch-up runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RoomLog, isRoomEvent } from '../../static/js/room_log.js';

const chat = (seq, id = seq * 10, extra = {}) =>
  ({ type: 'chat', id, room: 'general', seq, sender: 'ann', content: `m${seq}`, timestamp: '2026-12-01T00:00:00Z', client_id: null, ...extra });
const seqs = (events) => events.map((e) => e.seq);
// History messages carry no `type`.
const message = (seq) => { const { type, ...m } = chat(seq); return m; };

// A log that has shown the newest page (seqs 1..n) and caught up: live events apply.
function caughtUp(n) {
  const log = new RoomLog('general');
  log.seed(Array.from({ length: n }, (_, i) => message(i + 1)), 50);
  log.catchUp([]);
  log.resume();
  return log;
}

test('only room events count: acks, read positions, activity and presence do not', () => {
  assert.equal(isRoomEvent(chat(1)), true);
  assert.equal(isRoomEvent({ type: 'reaction', room: 'general', seq: 4 }), true);
  assert.equal(isRoomEvent({ type: 'some_future_kind', room: 'general', seq: 4 }), true);
  for (const type of ['ack', 'read', 'activity', 'presence', 'join', 'leave', 'typing', 'error']) {
    assert.equal(isRoomEvent({ type, room: 'general', seq: 4 }), false, type);
  }
  assert.equal(isRoomEvent({ type: 'chat', room: 'general' }), false, 'no seq');
  assert.equal(isRoomEvent(null), false);
});

test('seeding takes the highest seq of the newest page as seen; an empty room starts at 0', () => {
  const log = new RoomLog('general');
  const drawn = log.seed([message(3), message(5), message(8)], 50);
  assert.deepEqual(seqs(drawn), [3, 5, 8]);
  assert.equal(log.last, 8);
  assert.equal(log.first, 3);
  assert.equal(log.reachedStart, true, 'a short page is the whole room');

  const empty = new RoomLog('general');
  assert.deepEqual(empty.seed([], 50), []);
  assert.equal(empty.last, 0);
  assert.equal(empty.canLoadOlder, false);
});

test('a new log queues live events until its first catch-up is done', () => {
  const log = new RoomLog('general');
  assert.deepEqual(log.live(chat(1)), { apply: [], gap: false });
  log.seed([], 50);
  assert.deepEqual(log.catchUp([]), []);
  assert.deepEqual(seqs(log.resume().apply), [1]);
});

test('live events in order are applied; the next one opens no gap', () => {
  const log = caughtUp(2);
  const { apply, gap } = log.live(chat(3));
  assert.deepEqual(seqs(apply), [3]);
  assert.equal(gap, false);
  assert.equal(log.last, 3);
});

test('an event past last + 1 is a gap, held until the gap is filled', () => {
  const log = caughtUp(2);
  assert.deepEqual(log.live(chat(5)), { apply: [], gap: true });
  assert.equal(log.last, 2, 'nothing is skipped');
  // The catch-up brings 3..5; the held 5 is not drawn a second time.
  log.pause();
  assert.deepEqual(seqs(log.catchUp([chat(3), chat(4), chat(5)])), [3, 4, 5]);
  assert.deepEqual(log.resume(), { apply: [], gap: false });
  assert.equal(log.last, 5);
});

test('out-of-order live events are applied in seq order once the hole closes', () => {
  const log = caughtUp(1);
  assert.equal(log.live(chat(4)).gap, true);
  assert.equal(log.live(chat(3)).gap, true);
  const { apply, gap } = log.live(chat(2));
  assert.deepEqual(seqs(apply), [2, 3, 4]);
  assert.equal(gap, false);
});

test('duplicates are dropped, by seq and by message id', () => {
  const log = caughtUp(3);
  assert.deepEqual(log.live(chat(3)).apply, [], 'seq already seen');
  assert.deepEqual(log.live(chat(2)).apply, [], 'older than last');
  // The same message again under a later seq (a page that overlaps, a replay) is not
  // drawn twice, but its seq still counts as seen.
  const { apply } = log.live(chat(4, 30));
  assert.deepEqual(apply, []);
  assert.equal(log.last, 4);
  // A catch-up page that overlaps what is known.
  log.pause();
  assert.deepEqual(seqs(log.catchUp([chat(3), chat(4), chat(5)])), [5]);
});

test('events of other kinds, known or not, advance the seq and draw nothing', () => {
  const log = caughtUp(1);
  const edit = { type: 'edit', room: 'general', seq: 2, id: 10, content: 'x', sender: 'ann' };
  const future = { type: 'poll_closed', room: 'general', seq: 3 };
  assert.deepEqual(log.live(edit), { apply: [], gap: false });
  assert.deepEqual(log.live(future), { apply: [], gap: false });
  assert.equal(log.last, 3);
  assert.deepEqual(seqs(log.live(chat(4)).apply), [4], 'no gap after them');
  // The same from the feed.
  log.pause();
  assert.deepEqual(log.catchUp([{ type: 'member_added', room: 'general', seq: 5, user: 'bob' }]), []);
  assert.equal(log.last, 5);
});

test('live events during a catch-up are queued and applied after it, once', () => {
  const log = caughtUp(2);
  log.pause();
  // While the feed is being read, 3 and 4 arrive live, and 6 (stored after the feed's
  // last page was read).
  assert.deepEqual(log.live(chat(3)), { apply: [], gap: false });
  assert.deepEqual(log.live(chat(4)), { apply: [], gap: false });
  assert.deepEqual(log.live(chat(6)), { apply: [], gap: false }, 'no gap is reported while paused');
  assert.deepEqual(seqs(log.catchUp([chat(3), chat(4), chat(5)])), [3, 4, 5]);
  assert.deepEqual(log.catchUp([]), []);
  const { apply, gap } = log.resume();
  assert.deepEqual(seqs(apply), [6], '3 and 4 came from the feed already');
  assert.equal(gap, false);
  assert.equal(log.last, 6);
});

test('a queued event still ahead of the feed leaves the gap open', () => {
  const log = caughtUp(2);
  log.pause();
  log.live(chat(5));
  log.catchUp([chat(3)]);
  assert.deepEqual(log.resume(), { apply: [], gap: true });
});

test('an ack counts its seq as seen and marks its message shown', () => {
  const log = caughtUp(2);
  assert.deepEqual(log.ack({ id: 30, seq: 3 }), { apply: [], gap: false });
  assert.equal(log.last, 3);
  assert.equal(log.shown(30), true);
  assert.deepEqual(log.live(chat(3, 30)).apply, [], 'its chat frame draws nothing more');
});

test('an ack past a gap waits for the events before it', () => {
  const log = caughtUp(2);
  assert.equal(log.ack({ id: 40, seq: 4 }).gap, true, 'seq 3 (someone else\'s) is missing');
  assert.equal(log.last, 2);
  const { apply, gap } = log.live(chat(3));
  assert.deepEqual(seqs(apply), [3]);
  assert.equal(gap, false);
  assert.equal(log.last, 4);
  assert.deepEqual(log.live(chat(4, 40)).apply, []);
});

test('older pages extend the log downwards and stop at the start of the room', () => {
  const log = new RoomLog('general');
  log.seed(Array.from({ length: 50 }, (_, i) => message(i + 51)), 50);
  assert.equal(log.canLoadOlder, true);
  assert.equal(log.first, 51);
  const older = log.older(Array.from({ length: 50 }, (_, i) => message(i + 1)), 50);
  assert.equal(older.length, 50);
  assert.equal(log.first, 1);
  assert.equal(log.last, 100, 'older pages do not move last');
  assert.equal(log.canLoadOlder, false);
  // A short page means the start was reached, even if seq 1 was not a message.
  const other = new RoomLog('general');
  other.seed(Array.from({ length: 50 }, (_, i) => message(i + 60)), 50);
  other.older([message(4), message(7)], 50);
  assert.equal(other.canLoadOlder, false);
});
