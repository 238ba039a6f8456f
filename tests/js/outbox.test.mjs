// The outbox (what was sent and not acked, kept in storage per user) and the resender
// (what the server could not store is sent again one at a time, in order, with backoff).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Outbox, Resender, chatFrame } from '../../static/js/outbox.js';

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

function resender() {
  const outbox = new Outbox(new FakeStorage(), 'alice');
  const timers = new FakeTimers();
  const sent = [];
  let socketUp = true;
  const r = new Resender({
    outbox,
    timers,
    backoff: (n) => n * 1000,
    send: (item) => {
      if (socketUp) sent.push(item.client_id);
      return socketUp;
    },
  });
  return { outbox, timers, sent, r, down: () => { socketUp = false; } };
}

test('N failures at once schedule one resend, of one item, oldest first', () => {
  const { outbox, timers, sent, r } = resender();
  for (const id of ['c1', 'c2', 'c3']) outbox.add('general', id, id);
  for (const id of ['c1', 'c2', 'c3']) r.failed(id);
  assert.equal(timers.due.size, 1, 'one timer, not three');
  timers.runAll();
  assert.deepEqual(sent, ['c1'], 'one item, not the whole outbox');
});

test('resends go on in order as each is acked, and back off while they fail', () => {
  const { outbox, timers, sent, r } = resender();
  for (const id of ['c1', 'c2', 'c3']) outbox.add('general', id, id);
  r.failed('c1');
  r.failed('c2');
  timers.runAll(); // resend c1
  r.failed('c1'); // still down
  r.failed('c3'); // a late answer to the first send: the running round gets to it
  assert.deepEqual(timers.delays, [1000, 2000], 'the pause grows');
  timers.runAll(); // resend c1 again
  outbox.remove('c1');
  r.acked('c1'); // stored: the next goes at once
  outbox.remove('c2');
  r.acked('c2');
  outbox.remove('c3');
  r.acked('c3');
  assert.deepEqual(sent, ['c1', 'c1', 'c2', 'c3']);
  assert.equal(timers.due.size, 0);
});

test('an ack of anything ends a pause early: the server stores again', () => {
  const { outbox, timers, sent, r } = resender();
  outbox.add('general', 'old', 'c1');
  r.failed('c1');
  outbox.add('general', 'new', 'c2');
  outbox.remove('c2');
  r.acked('c2');
  assert.deepEqual(sent, ['c1']);
  assert.equal(timers.due.size, 0);
});

test('an item refused for good lets the round go on with the next', () => {
  const { outbox, timers, sent, r } = resender();
  outbox.add('general', 'a', 'c1');
  outbox.add('general', 'b', 'c2');
  r.failed('c1');
  timers.runAll();
  outbox.remove('c1');
  r.dropped('c1');
  assert.deepEqual(sent, ['c1', 'c2']);
});

test('with the socket down nothing is in flight, and a reset forgets the round', () => {
  const { outbox, timers, sent, r, down } = resender();
  outbox.add('general', 'a', 'c1');
  r.failed('c1');
  down();
  timers.runAll();
  assert.deepEqual(sent, []);
  r.failed('c1'); // the round did not start, so a new failure schedules again
  assert.equal(timers.due.size, 1);
  r.reset();
  assert.equal(timers.due.size, 0);
});
