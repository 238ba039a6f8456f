// The REST calls: a 401 about the session signs the page out; a 401 about a credential the
// request itself carried (a wrong password or code on the account page) does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createApi, errorOf, HttpError, nextLink } from '../../static/js/api.js';

const json = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

function setUp(answer) {
  const calls = [];
  let signedOut = 0;
  const api = createApi({
    onSignedOut: () => { signedOut += 1; },
    fetch: async (path, options) => {
      calls.push({ path, method: options.method || 'GET', body: options.body && JSON.parse(options.body) });
      return answer(path, options);
    },
  });
  return { api, calls, signedOut: () => signedOut };
}

test('a 401 for the session signs out, and the call throws', async () => {
  const { api, signedOut } = setUp(() => json(401, { error: { code: 'unauthorized', message: 'sign in first' } }));
  await assert.rejects(api.token(), (e) => e instanceof HttpError && e.status === 401);
  assert.equal(signedOut(), 1);
  await assert.rejects(api.sessions(), (e) => e.status === 401);
  assert.equal(signedOut(), 2);
});

test('a 401 without a body (a proxy, say) signs out too', async () => {
  const { api, signedOut } = setUp(() => new Response('no', { status: 401 }));
  await assert.rejects(api.me(), (e) => e.status === 401);
  assert.equal(signedOut(), 1);
});

test('a wrong code or password answered 401 is the page\'s to say, not a sign-out', async () => {
  const { api, signedOut } = setUp(() =>
    json(401, { error: { code: 'invalid_credentials', message: 'that code is not right' } }));
  const response = await api.totp.disable('123456');
  assert.equal(response.status, 401);
  assert.deepEqual(await errorOf(response), { code: 'invalid_credentials', message: 'that code is not right', field: null });
  assert.equal(signedOut(), 0);
});

test('the account calls: methods, paths and bodies', async () => {
  const { api, calls } = setUp((path) => (path === '/api/sessions'
    ? json(200, { sessions: [{ id: 's1', current: true }] })
    : new Response(null, { status: 204 })));
  assert.deepEqual(await api.sessions(), [{ id: 's1', current: true }]);
  await api.endSession('a/b');
  await api.endOtherSessions();
  await api.changePassword('old one', 'new one');
  await api.totp.start();
  await api.totp.confirm('123456');
  await api.totp.disable('abcd-efgh');
  await api.deactivate('pw');
  await api.deleteAccount('pw');
  await api.admin.resetLink('bob smith');
  assert.deepEqual(calls.map((c) => [c.method, c.path, c.body]), [
    ['GET', '/api/sessions', undefined],
    ['DELETE', '/api/sessions/a%2Fb', undefined],
    ['DELETE', '/api/sessions', undefined],
    ['POST', '/api/me/password', { current: 'old one', new: 'new one' }],
    ['POST', '/api/me/totp', {}],
    ['POST', '/api/me/totp/confirm', { code: '123456' }],
    ['DELETE', '/api/me/totp', { code: 'abcd-efgh' }],
    ['POST', '/api/me/deactivate', { password: 'pw' }],
    ['DELETE', '/api/me', { password: 'pw' }],
    ['POST', '/api/admin/users/bob%20smith/reset_link', {}],
  ]);
});

test('an error response read: its code, message and field, or a fallback', async () => {
  assert.deepEqual(await errorOf(json(403, { error: { code: 'wrong_password', message: 'wrong' } })),
    { code: 'wrong_password', message: 'wrong', field: null });
  assert.deepEqual(await errorOf(json(422, { error: { code: 'invalid_field', message: 'too long', field: 'new' } })),
    { code: 'invalid_field', message: 'too long', field: 'new' });
  assert.deepEqual(await errorOf(new Response('<html>', { status: 502 }), 'Try again.'),
    { code: null, message: 'Try again.', field: null });
});

test('a Link header\'s next target, only when it is a path on this origin', () => {
  assert.equal(nextLink('</api/rooms?after=b&limit=2>; rel="next"'), '/api/rooms?after=b&limit=2');
  assert.equal(nextLink('</p?a=1>; rel="prev", </p?a=3>; rel=next'), '/p?a=3');
  assert.equal(nextLink('</p?a=3>; title="x"; REL="last next"'), '/p?a=3');
  assert.equal(nextLink('</p?a=1>; rel="prev"'), null);
  assert.equal(nextLink('<https://elsewhere.example/api/rooms>; rel="next"'), null);
  assert.equal(nextLink('<//elsewhere.example/api/rooms>; rel="next"'), null);
  assert.equal(nextLink(''), null);
  assert.equal(nextLink(null), null);
});

test('the rooms list follows every next link and joins the pages', async () => {
  const page = (names, next) => new Response(JSON.stringify(names.map((name) => ({ name }))), {
    status: 200,
    headers: { 'Content-Type': 'application/json', ...(next ? { Link: `<${next}>; rel="next"` } : {}) },
  });
  const { api, calls } = setUp((path) => ({
    '/api/rooms': page(['a', 'b'], '/api/rooms?after=b&limit=2'),
    '/api/rooms?after=b&limit=2': page(['c', 'd'], '/api/rooms?after=d&limit=2'),
    '/api/rooms?after=d&limit=2': page(['e']),
  })[path]);
  assert.deepEqual((await api.rooms()).map((r) => r.name), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(calls.map((c) => c.path),
    ['/api/rooms', '/api/rooms?after=b&limit=2', '/api/rooms?after=d&limit=2']);
});

test('a rooms page that links back to one already fetched ends the list; a failed page throws', async () => {
  const looping = setUp(() => new Response('[{"name":"a"}]', {
    status: 200, headers: { Link: '</api/rooms>; rel="next"' },
  }));
  assert.deepEqual(await looping.api.rooms(), [{ name: 'a' }]);
  assert.equal(looping.calls.length, 1);

  const failing = setUp((path) => (path === '/api/rooms'
    ? new Response('[{"name":"a"}]', { status: 200, headers: { Link: '</api/rooms?after=a>; rel="next"' } })
    : json(503, { error: { code: 'unavailable', message: 'later' } })));
  await assert.rejects(failing.api.rooms(), (e) => e instanceof HttpError && e.status === 503);
});
