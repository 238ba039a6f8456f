// Catching a room up: the newest page once, the events feed until it is empty, live events
// queued meanwhile, a join's answer awaited, failures retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CatchUp, Joins } from '../../static/js/catch_up.js';
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

// A feed whose answers the test gives by hand: each request waits until answered, so a
// test can say what happens while a catch-up runs.
function handFeed(srv) {
  const asked = [];
  return {
    asked,
    events: (after) => new Promise((resolve) => {
      asked.push({ after, answer: () => resolve(srv.events.filter((e) => e.seq > after).slice(0, 2)) });
    }),
    // Answers the oldest request still open, with what the server has now.
    async answer() {
      const open = asked.find((a) => !a.done);
      assert.ok(open, 'a feed request is open');
      open.done = true;
      open.answer();
      await new Promise((r) => setTimeout(r, 0));
    },
    get open() {
      return asked.filter((a) => !a.done).map((a) => a.after);
    },
  };
}

// A room caught up to seq n, live; the feed answered by hand from now on.
async function live(n) {
  const srv = server(n);
  const t = setUp(srv);
  t.catchUp.run();
  await t.done();
  t.reset();
  const feed = handFeed(srv);
  srv.feed = feed.events;
  t.drawn.length = 0;
  return { srv, t, feed };
}

test('an ack past a gap fetches the missing events from the feed; last does not jump over them', async () => {
  const { srv, t, feed } = await live(2);
  // Bob's 3 never came live; our own message was stored as 4.
  srv.events.push({ ...chat(3), sender: 'bob' }, chat(4));
  t.catchUp.acked({ id: 40, seq: 4, client_id: 'c1' });
  assert.equal(t.log.last, 2, 'seq 3 is not skipped');
  assert.deepEqual(feed.open, [2], 'the feed is asked for what follows 2');
  await feed.answer(); // 3, 4
  await feed.answer(); // nothing more
  await t.done();
  assert.deepEqual(t.drawn, [3], 'bob\'s message is drawn; ours was drawn from its pending copy');
  assert.equal(t.log.last, 4);
  t.catchUp.live(chat(4)); // our own chat frame, after the ack
  t.catchUp.live(chat(5));
  assert.deepEqual(t.drawn, [3, 5], 'live again, nothing twice');
});

test('an ack that follows what was seen only moves last: no catch-up', async () => {
  const { srv, t, feed } = await live(2);
  srv.events.push(chat(3));
  t.catchUp.acked({ id: 30, seq: 3, client_id: 'c1' });
  assert.equal(t.log.last, 3);
  assert.deepEqual(feed.asked, []);
});

test('a chat frame past a gap while a catch-up runs is kept, and drawn in seq order after it', async () => {
  const { srv, t, feed } = await live(2);
  // 4 comes live, 3 did not: a gap, the catch-up starts.
  srv.events.push(chat(3), chat(4));
  t.catchUp.live(chat(4));
  assert.deepEqual(feed.open, [2]);
  // While it runs, 6 comes live (5 did not): another gap, and the catch-up is running.
  srv.events.push(chat(5), chat(6));
  t.catchUp.live(chat(6));
  assert.deepEqual(feed.open, [2], 'no second catch-up at once');
  assert.deepEqual(t.drawn, []);
  await feed.answer(); // 3, 4
  await feed.answer(); // 5, 6
  await feed.answer(); // nothing more
  await t.done();
  assert.deepEqual(t.drawn, [3, 4, 5, 6], 'in seq order, each once');
  assert.equal(t.log.last, 6);
});

test('a gap still open when the running catch-up ends starts another one; the kept frame is not lost', async () => {
  const { srv, t, feed } = await live(2);
  srv.events.push(chat(3));
  t.catchUp.live(chat(5)); // 5 live before the feed has 4 and 5 (stored after it was read)
  await feed.answer(); // 3
  assert.deepEqual(feed.open, [3]);
  await feed.answer(); // nothing
  // The running catch-up is over, the log still holds 5 past a gap: it asks again.
  assert.deepEqual(t.drawn, [3]);
  assert.deepEqual(feed.open, [3], 'a further catch-up');
  srv.events.push(chat(4), chat(5));
  t.catchUp.live(chat(7)); // and another one past a gap meanwhile
  await feed.answer(); // 4, 5
  srv.events.push(chat(6));
  await feed.answer(); // 6
  await feed.answer(); // nothing; 7 follows
  await t.done();
  assert.deepEqual(t.drawn, [3, 4, 5, 6, 7]);
  assert.equal(t.log.last, 7);
});

test('while a join waits for its answer, live events are queued and nothing is fetched', async () => {
  const { srv, t, feed } = await live(2);
  t.catchUp.hold(); // a new socket: its join is on its way
  srv.events.push(chat(3), chat(4), chat(5));
  t.catchUp.live(chat(5)); // past a gap, but the room is not subscribed yet
  t.catchUp.acked({ id: 40, seq: 4, client_id: 'c1' });
  assert.deepEqual(feed.asked, [], 'the feed read now could miss what is stored before the subscription');
  assert.deepEqual(t.drawn, []);
  t.catchUp.run(); // the join's answer
  assert.deepEqual(feed.open, [2]);
  await feed.answer();
  await feed.answer();
  await feed.answer();
  await t.done();
  assert.deepEqual(t.drawn, [3, 5]);
});

// The server's answer to a join.
const presence = (room) => ({ type: 'presence', action: 'online_users', room, users: ['ann'] });

test('joins: only the answer to the last join of a room says it is subscribed', () => {
  const joins = new Joins();
  // A quick switch from general to plans and back: two joins of general on their way.
  joins.sent('general');
  joins.sent('plans');
  joins.sent('general');
  assert.equal(joins.waiting('general'), true);
  assert.deepEqual(joins.answer(presence('general')),
    { room: 'general', joined: true, code: null, last: false }, 'answered before the leave: stale');
  assert.deepEqual(joins.answer(presence('plans')), { room: 'plans', joined: true, code: null, last: true });
  assert.equal(joins.waiting('general'), true);
  assert.deepEqual(joins.answer(presence('general')), { room: 'general', joined: true, code: null, last: true });
  assert.equal(joins.waiting('general'), false);
  assert.equal(joins.answer(presence('general')), null, 'no join of it is waiting');
});

test('joins: errors without a client_id answer the oldest join; other frames answer none', () => {
  const joins = new Joins();
  joins.sent('gone');
  joins.sent('general');
  assert.equal(joins.answer({ type: 'error', code: 'not_saved', client_id: 'c1' }), null, 'a chat\'s');
  assert.equal(joins.answer({ type: 'error', code: 'bad_request' }), null);
  assert.equal(joins.answer({ type: 'presence', action: 'something_else', room: 'general' }), null);
  assert.equal(joins.answer({ type: 'join', room: 'general', sender: 'bob' }), null);
  assert.deepEqual(joins.answer({ type: 'error', code: 'not_found', message: 'no room' }),
    { room: 'gone', joined: false, code: 'not_found', last: true });
  assert.deepEqual(joins.answer({ type: 'error', code: 'unavailable', message: 'later' }),
    { room: 'general', joined: false, code: 'unavailable', last: true });
  assert.equal(joins.answer({ type: 'error', code: 'unavailable' }), null, 'none waiting');
  // A presence answers its join and every one sent before it.
  joins.sent('a');
  joins.sent('b');
  assert.equal(joins.answer(presence('b')).last, true);
  assert.equal(joins.waiting('a'), false);
  // A closed socket answers nothing more.
  joins.sent('general');
  joins.reset();
  assert.equal(joins.waiting('general'), false);
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
