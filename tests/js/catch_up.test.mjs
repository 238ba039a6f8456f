// Catching a room up: the newest page once, the events feed until it is empty, live events
// queued meanwhile, a join's answer awaited, failures retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CatchUp } from '../../static/js/catch_up.js';
import { RoomLog } from '../../static/js/room_log.js';
import { backoff, soon } from '../../static/js/backoff.js';

const chat = (seq) => ({ type: 'chat', id: seq * 10, room: 'general', seq, sender: 'ann', content: `m${seq}` });
const message = (seq) => ({ id: seq * 10, room: 'general', seq, sender: 'ann', content: `m${seq}` });

// A server with a room of events 1..n, of which `messages` are the chat history.
function server(n) {
  const events = Array.from({ length: n }, (_, i) => chat(i + 1));
  const calls = [];
  return {
    events,
    calls,
    failNext: 0,
    history(limit) {
      calls.push(`history limit=${limit}`);
      return Promise.resolve(events.slice(-limit).map(({ type, ...m }) => m));
    },
    feed(after, pageSize = 2) {
      calls.push(`events after=${after}`);
      if (this.failNext > 0) {
        this.failNext -= 1;
        return Promise.reject(new Error('503'));
      }
      return Promise.resolve(events.filter((e) => e.seq > after).slice(0, pageSize));
    },
  };
}

// Resolves once the catch-up has called done() `times` times.
function setUp(srv, { log = new RoomLog('general') } = {}) {
  const drawn = [];
  const waits = [];
  let resolveDone;
  let done = new Promise((r) => { resolveDone = r; });
  const catchUp = new CatchUp({
    log,
    history: (limit) => srv.history(limit),
    events: (after) => srv.feed(after),
    draw: (events) => drawn.push(...events.map((e) => e.seq)),
    done: () => resolveDone(),
    backoff: (n) => n,
    wait: (ms) => { waits.push(ms); return Promise.resolve(); },
  });
  return {
    log, catchUp, drawn, waits,
    done: () => done,
    reset: () => { done = new Promise((r) => { resolveDone = r; }); },
  };
}

test('the first catch-up shows the newest page, then reads the feed until it is empty', async () => {
  const srv = server(3);
  const t = setUp(srv);
  t.catchUp.run();
  await t.done();
  assert.deepEqual(srv.calls, ['history limit=50', 'events after=3']);
  assert.deepEqual(t.drawn, [1, 2, 3]);

  // Later events arrive by the feed, page after page.
  srv.events.push(chat(4), chat(5), chat(6));
  t.reset();
  t.catchUp.run();
  await t.done();
  assert.deepEqual(srv.calls.slice(2), ['events after=3', 'events after=5', 'events after=6']);
  assert.deepEqual(t.drawn, [1, 2, 3, 4, 5, 6]);
});

test('the feed fills what the history skipped, and an empty room reads it from 0', async () => {
  const srv = server(0);
  srv.events.push(chat(1), { type: 'member_added', room: 'general', seq: 2 }, chat(3));
  srv.history = () => Promise.resolve([]);
  const t = setUp(srv);
  t.catchUp.run();
  await t.done();
  assert.equal(srv.calls[0], 'events after=0');
  assert.deepEqual(t.drawn, [1, 3]);
  assert.equal(t.log.last, 3);
});

test('a join holds live events until its answer; they are applied after the catch-up, once', async () => {
  const srv = server(2);
  const t = setUp(srv);
  t.catchUp.hold();
  // Before the presence frame: live events only queue.
  assert.deepEqual(t.log.live(chat(3)), { apply: [], gap: false });
  srv.events.push(chat(3));
  t.catchUp.run(); // the presence frame came
  // During the catch-up, 4 is stored and comes live.
  srv.events.push(chat(4));
  t.log.live(chat(4));
  await t.done();
  assert.deepEqual(t.drawn, [1, 2, 3, 4]);
  assert.equal(t.log.paused, false);
  assert.deepEqual(t.log.live(chat(5)).apply.map((e) => e.seq), [5], 'live again');
});

test('a catch-up that ends before the join is answered does not resume', async () => {
  const srv = server(1);
  const t = setUp(srv);
  t.catchUp.run();
  t.catchUp.hold(); // the socket dropped and came back while it ran
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(t.log.paused, true);
  assert.equal(t.catchUp.running, false);
  t.catchUp.run();
  await t.done();
  assert.equal(t.log.paused, false);
});

test('failures are retried with growing pauses, keeping what was queued', async () => {
  const srv = server(2);
  srv.failNext = 3;
  const t = setUp(srv);
  t.catchUp.run();
  t.log.live(chat(3));
  srv.events.push(chat(3));
  await t.done();
  assert.deepEqual(t.waits, [1, 2, 3]);
  assert.deepEqual(t.drawn, [1, 2, 3]);
});

test('a live event still ahead of the feed makes it ask again', async () => {
  const srv = server(2);
  const t = setUp(srv);
  t.catchUp.run();
  // Seq 4 comes live but the feed does not have 3 yet (seen by the feed later).
  t.log.live(chat(4));
  let asked = 0;
  const feed = srv.feed.bind(srv);
  srv.feed = (after) => {
    asked += 1;
    if (asked === 3) srv.events.push(chat(3), chat(4));
    return feed(after);
  };
  await t.done();
  assert.deepEqual(t.drawn, [1, 2, 3, 4]);
});

test('a stopped catch-up (the room was left) draws nothing more', async () => {
  const srv = server(2);
  const t = setUp(srv);
  t.catchUp.run();
  t.catchUp.stop();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(t.drawn, []);
});

test('backoff doubles from 0.5-1 s to a 15-30 s ceiling; soon is within half a second', () => {
  assert.equal(backoff(1, () => 0), 500);
  assert.equal(backoff(1, () => 1), 1000);
  assert.equal(backoff(2, () => 1), 2000);
  assert.equal(backoff(6, () => 0), 15000);
  assert.equal(backoff(50, () => 1), 30000);
  assert.equal(soon(() => 0), 100);
  assert.equal(soon(() => 1), 500);
});
