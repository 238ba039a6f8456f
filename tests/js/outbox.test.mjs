// The outbox (what was sent and not acked, kept in storage per user) and the sender (a
// window of the oldest at a time; what the server could not store is sent again after a
// pause, one at a time until storing works again; each message at most once per attempt).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Outbox, Sender, chatFrame } from '../../static/js/outbox.js';

// localStorage's interface, in memory.
class FakeStorage {
  constructor() {
    this.map = new Map();
    this.writes = 0;
  }
  getItem(key) {
    return this.map.has(key) ? this.map.get(key) : null;
  }
  setItem(key, value) {
    this.writes += 1;
    this.map.set(key, String(value));
  }
}

// setTimeout/clearTimeout that run only when told to.
class FakeTimers {
  constructor() {
    this.due = new Map();
    this.next = 1;
    this.delays = [];
  }
  setTimeout(fn, ms) {
    this.delays.push(ms);
    this.due.set(this.next, fn);
    return this.next++;
  }
  clearTimeout(id) {
    this.due.delete(id);
  }
  runAll() {
    const fns = [...this.due.values()];
    this.due.clear();
    fns.forEach((fn) => fn());
  }
}

test('items are added, kept per user under chatapp.outbox.<user>, and removed', () => {
  const storage = new FakeStorage();
  const alice = new Outbox(storage, 'alice');
  const a = alice.add('general', 'one', 'c1');
  alice.add('design', 'two', 'c2');
  assert.deepEqual(a, { client_id: 'c1', room: 'general', content: 'one' });
  assert.deepEqual(alice.items.map((i) => i.client_id), ['c1', 'c2']);
  assert.deepEqual(alice.forRoom('design').map((i) => i.content), ['two']);
  assert.equal(alice.has('c2'), true);
  assert.deepEqual(new Outbox(storage, 'bob').items, [], 'another user has their own');

  assert.equal(alice.remove('c1'), true);
  assert.equal(alice.remove('c1'), false, 'an ack that comes twice');
  assert.equal(alice.remove('c2'), true);
  assert.equal(storage.getItem('chatapp.outbox.alice'), '[]');
});

test('the outbox survives a reload and another tab\'s additions', () => {
  const storage = new FakeStorage();
  const tab1 = new Outbox(storage, 'alice');
  const tab2 = new Outbox(storage, 'alice');
  tab1.add('general', 'from tab 1', 'c1');
  tab2.add('general', 'from tab 2', 'c2');
  tab1.remove('c1');
  assert.deepEqual(new Outbox(storage, 'alice').items.map((i) => i.client_id), ['c2']);
});

test('new client ids are unique', () => {
  const outbox = new Outbox(new FakeStorage(), 'alice');
  const a = outbox.add('general', 'x');
  const b = outbox.add('general', 'x');
  assert.equal(typeof a.client_id, 'string');
  assert.notEqual(a.client_id, b.client_id);
});

test('a damaged stored outbox reads as empty instead of breaking the page', () => {
  const storage = new FakeStorage();
  storage.setItem('chatapp.outbox.alice', '{not json');
  assert.deepEqual(new Outbox(storage, 'alice').items, []);
  storage.setItem('chatapp.outbox.alice', '{"a": 1}');
  assert.deepEqual(new Outbox(storage, 'alice').items, []);
});

test('an item is sent as a chat frame with its client_id', () => {
  assert.deepEqual(chatFrame({ client_id: 'c1', room: 'general', content: 'hi' }),
    { type: 'chat', room: 'general', content: 'hi', client_id: 'c1' });
});

// A socket and a server behind it: what the sender sent, what is on its way (each sent at
// most once until answered), and answers given when the test says.
function setUp({ window = 16 } = {}) {
  const outbox = new Outbox(new FakeStorage(), 'alice');
  const timers = new FakeTimers();
  const sent = [];
  const onTheWay = new Set();
  let socketUp = true;
  const sender = new Sender({
    outbox,
    timers,
    window,
    backoff: (n) => n * 1000,
    send: (item) => {
      if (!socketUp) return false;
      assert.equal(onTheWay.has(item.client_id), false, `${item.client_id} sent again before its answer`);
      onTheWay.add(item.client_id);
      sent.push(item.client_id);
      return true;
    },
  });
  const server = {
    ack(id) {
      assert.ok(onTheWay.delete(id), `${id} was not on its way`);
      outbox.remove(id);
      sender.acked(id);
    },
    fail(id) {
      assert.ok(onTheWay.delete(id), `${id} was not on its way`);
      sender.failed(id);
    },
    // Answers everything on its way, oldest first.
    answerAll(how) {
      for (const id of [...onTheWay]) this[how](id);
    },
    onTheWay,
  };
  const add = (n, from = 1) => {
    const ids = [];
    for (let i = from; i < from + n; i += 1) ids.push(outbox.add('general', `m${i}`, `c${i}`).client_id);
    return ids;
  };
  return {
    outbox, timers, sent, sender, server, add,
    down: () => { socketUp = false; onTheWay.clear(); },
    up: () => { socketUp = true; },
  };
}

test('nothing is sent before start(); then a window of the oldest, not the whole outbox', () => {
  const { sent, sender, server, add } = setUp();
  add(40);
  sender.queued();
  assert.deepEqual(sent, [], 'the socket is not open (or the room not caught up) yet');
  sender.start();
  assert.deepEqual(sent, Array.from({ length: 16 }, (_, i) => `c${i + 1}`));
  assert.equal(sender.inFlight, 16);
  // Each answer lets the next one go, in order.
  server.ack('c1');
  server.ack('c2');
  assert.deepEqual(sent.slice(16), ['c17', 'c18']);
  // Everything arrives, each sent once.
  while (server.onTheWay.size) server.answerAll('ack');
  assert.equal(sent.length, 40);
  assert.deepEqual(sent, Array.from({ length: 40 }, (_, i) => `c${i + 1}`));
});

test('a new message waits its turn behind those still waiting, within the window', () => {
  const { sent, sender, server, add } = setUp({ window: 2 });
  add(3);
  sender.start();
  add(1, 4);
  sender.queued();
  assert.deepEqual(sent, ['c1', 'c2'], 'the window is full');
  server.ack('c1');
  assert.deepEqual(sent, ['c1', 'c2', 'c3'], 'the oldest waiting goes first');
  server.ack('c2');
  server.ack('c3');
  assert.deepEqual(sent, ['c1', 'c2', 'c3', 'c4']);
});

test('a not_saved pauses; then that message goes again first, alone; once stored, the window reopens', () => {
  const { sent, timers, sender, server, add } = setUp({ window: 4 });
  add(6);
  sender.start();
  server.fail('c1');
  server.fail('c2'); // the same outage: one pause
  server.fail('c3');
  server.fail('c4');
  assert.deepEqual(timers.delays, [1000]);
  assert.equal(sent.length, 4, 'nothing goes during the pause');
  timers.runAll();
  assert.deepEqual(sent.slice(4), ['c1'], 'the oldest, alone');
  server.ack('c1');
  assert.deepEqual(sent.slice(5), ['c2', 'c3', 'c4', 'c5'], 'stored again: a window, in order');
  server.answerAll('ack');
  assert.deepEqual(sent.slice(9), ['c6']);
  server.answerAll('ack');
  assert.equal(sent.length, 10);
});

test('an ack ends a pause early: storing works again', () => {
  const { sent, timers, sender, server, add } = setUp({ window: 4 });
  add(6);
  sender.start();
  server.fail('c1'); // a deadlock, say
  server.ack('c2');
  assert.equal(timers.due.size, 0);
  assert.deepEqual(sent.slice(4), ['c1', 'c5'], 'c1 again before the newer ones; c3 and c4 are still on their way');
});

test('an outage that fails N messages costs one resend per pause, never the outbox per failure', () => {
  const { sent, timers, sender, server, add, outbox } = setUp();
  add(100);
  sender.start();
  // The database is down: the whole window fails at once.
  server.answerAll('fail');
  assert.equal(timers.due.size, 1, 'one pause, not 16');
  assert.equal(sent.length, 16);
  for (let pause = 1; pause <= 5; pause += 1) {
    timers.runAll();
    assert.equal(sent.length, 16 + pause, 'one message per pause');
    assert.equal(sent.at(-1), 'c1', 'the oldest');
    server.answerAll('fail');
  }
  assert.deepEqual(timers.delays, [1000, 2000, 3000, 4000, 5000, 6000], 'the pause grows');
  // The database is back.
  timers.runAll();
  while (server.onTheWay.size) server.answerAll('ack');
  assert.equal(outbox.items.length, 0);
  assert.equal(sent.length, 16 + 5 + 100, 'each message once more after the outage, no storm');
  assert.deepEqual(sent.slice(21), Array.from({ length: 100 }, (_, i) => `c${i + 1}`), 'stored in order');
});

test('a message on its way is never sent again before its answer, whatever else is answered', () => {
  const { sent, timers, sender, server, add } = setUp({ window: 8 });
  add(20);
  sender.start();
  // Failures, acks and pauses in any order: the fake server asserts no message is on its
  // way twice.
  server.fail('c3');
  server.fail('c5');
  server.ack('c1');
  timers.runAll();
  server.fail('c2');
  server.ack('c4');
  timers.runAll();
  server.ack('c3');
  while (server.onTheWay.size || timers.due.size) {
    timers.runAll();
    server.answerAll('ack');
  }
  assert.deepEqual([...new Set(sent)].sort(), Array.from({ length: 20 }, (_, i) => `c${i + 1}`).sort());
});

test('a message refused for good, or gone from the outbox, gives its place to the next', () => {
  const { sent, sender, add, outbox, server } = setUp({ window: 1 });
  add(3);
  sender.start();
  server.onTheWay.delete('c1');
  outbox.remove('c1');
  sender.dropped('c1');
  assert.deepEqual(sent, ['c1', 'c2']);
});

test('a closed socket: nothing is on its way any more, and the next start sends a window again', () => {
  const { sent, timers, sender, server, add, down, up } = setUp({ window: 2 });
  add(3);
  sender.start();
  server.fail('c1');
  down();
  sender.reset();
  assert.equal(timers.due.size, 0, 'the pause is forgotten');
  assert.equal(sender.inFlight, 0);
  sender.queued();
  assert.deepEqual(sent, ['c1', 'c2'], 'not started: nothing goes');
  up();
  sender.start();
  assert.deepEqual(sent, ['c1', 'c2', 'c1', 'c2'], 'a new attempt: the window again, oldest first');
});

test('with the socket down, sending stops without counting anything as on its way', () => {
  const { sent, sender, add, down } = setUp();
  add(3);
  down();
  sender.start();
  assert.deepEqual(sent, []);
  assert.equal(sender.inFlight, 0);
});
