// The WebSocket's connection: a token fetch refused with 401 means the session is over (no
// more attempts, the page is told); any other failure is tried again.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Connection } from '../../static/js/connection.js';

// A WebSocket that records what was opened; a test closes it by hand.
class FakeSocket extends EventTarget {
  static OPEN = 1;
  static opened = [];
  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    FakeSocket.opened.push(this);
  }
  open() {
    this.readyState = FakeSocket.OPEN;
    this.dispatchEvent(new Event('open'));
  }
  close(code = 1000) {
    this.readyState = 3;
    const event = new Event('close');
    event.code = code;
    this.dispatchEvent(event);
  }
  send() {}
}
globalThis.WebSocket = FakeSocket;

const refused = () => Object.assign(new Error('token: HTTP 401'), { status: 401 });
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

function setUp(tokens) {
  FakeSocket.opened = [];
  const seen = { tokenCalls: 0, ended: 0, states: [] };
  const connection = new Connection({
    url: 'ws://chat.test/ws/chat',
    token: async () => {
      seen.tokenCalls += 1;
      const next = tokens.shift();
      if (next instanceof Error) throw next;
      return next;
    },
    onState: (state) => seen.states.push(state),
    onOpen() {},
    onFrame() {},
    onClose() {},
    onEnded: () => { seen.ended += 1; },
    backoff: () => 0,
    soon: () => 0,
  });
  return { connection, seen };
}

test('a token refused with 401: the session is over, no retry', async () => {
  const { connection, seen } = setUp([refused(), { access_token: 't', expires_in: 300 }]);
  connection.start();
  for (let i = 0; i < 5; i += 1) await tick();
  assert.equal(seen.ended, 1);
  assert.equal(seen.tokenCalls, 1, 'not asked again');
  assert.equal(FakeSocket.opened.length, 0);
  connection.retryNow();
  await tick();
  assert.equal(seen.tokenCalls, 1, 'the network coming back does not start it again');
});

test('a token fetch that fails otherwise (a 503, the network) is tried again', async () => {
  const down = Object.assign(new Error('token: HTTP 503'), { status: 503 });
  const { connection, seen } = setUp([down, new TypeError('Failed to fetch'), { access_token: 't1', expires_in: 300 }]);
  connection.start();
  for (let i = 0; i < 10 && FakeSocket.opened.length === 0; i += 1) await tick();
  assert.equal(seen.tokenCalls, 3);
  assert.equal(seen.ended, 0);
  assert.equal(FakeSocket.opened.length, 1);
  assert.equal(FakeSocket.opened[0].url, 'ws://chat.test/ws/chat?token=t1');
  connection.stop();
});

test('a socket closed with 4401 fetches a new token; refused, the page is told once', async () => {
  const { connection, seen } = setUp([{ access_token: 't1', expires_in: 300 }, refused()]);
  connection.start();
  for (let i = 0; i < 5 && FakeSocket.opened.length === 0; i += 1) await tick();
  FakeSocket.opened[0].open();
  assert.equal(connection.isOpen, true);
  FakeSocket.opened[0].close(4401); // the session was ended elsewhere
  for (let i = 0; i < 5; i += 1) await tick();
  assert.equal(seen.tokenCalls, 2, 'the token was not reused after a 4401');
  assert.equal(seen.ended, 1);
  assert.equal(FakeSocket.opened.length, 1, 'no socket opened without a token');
});

test('stopped before the refusal comes back (signing out): not told', async () => {
  let answer;
  const { connection, seen } = setUp([]);
  connection.token = () => new Promise((_, reject) => { answer = reject; });
  connection.start();
  connection.stop();
  answer(refused());
  await tick();
  assert.equal(seen.ended, 0);
});
