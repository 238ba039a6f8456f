// The REST API, as the chat page uses it. Requests carry the session cookie (same origin
// only); the page never sees the session token itself.

export class HttpError extends Error {
  constructor(what, status) {
    super(`${what}: HTTP ${status}`);
    this.status = status;
  }
}

// 401 codes that answer a credential the request itself carried (a password or a code on
// the account page), not the session: the page says so instead of signing out.
const CREDENTIAL_CODES = new Set(['invalid_credentials', 'wrong_password', 'totp_required']);

async function errorCode(response) {
  const body = await response.clone().json().catch(() => null);
  return body?.error?.code;
}

// The target of a `Link` header's `rel="next"` (RFC 8288), if it is a path on this origin
// (anything else is not followed): '/api/rooms?after=x&limit=2', or null.
export function nextLink(header) {
  if (!header) return null;
  for (const [, target, params] of header.matchAll(/<([^>]*)>([^<]*)/g)) {
    const rel = /(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
    const rels = rel ? (rel[1] ?? rel[2]).toLowerCase().split(/\s+/) : [];
    if (rels.includes('next')) {
      return target.startsWith('/') && !target.startsWith('//') ? target : null;
    }
  }
  return null;
}

// onSignedOut runs when the server answers 401: the session ended (signed out elsewhere,
// by a password change, expired, or the account was deactivated), so the page should go to
// the sign-in form.
export function createApi({ onSignedOut, fetch = globalThis.fetch.bind(globalThis) }) {
  async function request(path, options = {}) {
    const headers = { Accept: 'application/json' };
    if (options.body) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, { credentials: 'same-origin', ...options, headers });
    if (response.status === 401 && !CREDENTIAL_CODES.has(await errorCode(response))) {
      onSignedOut();
      throw new HttpError(path, 401);
    }
    return response;
  }

  async function json(what, path, options) {
    const response = await request(path, options);
    if (!response.ok) throw new HttpError(what, response.status);
    return response.json();
  }

  const room = (name) => `room=${encodeURIComponent(name)}`;
  const enc = encodeURIComponent; // one segment of a path
  const send = (method, to, body) =>
    request(to, body === undefined ? { method } : { method, body: JSON.stringify(body) });

  return {
    // A short-lived access token for the WebSocket: {access_token, expires_in}.
    token: () => json('token', '/api/token', { method: 'POST' }),

    // The rooms this user can see: [{name, description, ...}]. The server answers them a
    // page at a time; every page is fetched, following each `Link: <...>; rel="next"`.
    rooms: async () => {
      const all = [];
      const fetched = new Set();
      let path = '/api/rooms';
      while (path && !fetched.has(path)) {
        fetched.add(path);
        const response = await request(path);
        if (!response.ok) throw new HttpError('rooms', response.status);
        all.push(...await response.json());
        path = nextLink(response.headers.get('Link'));
      }
      return all;
    },

    // Creates a room (kind: 'public' or 'private'). Answers the response, since the form
    // shows 409 and 422 differently.
    createRoom: (name, kind = 'public') => send('POST', '/api/rooms', { name, kind }),

    // Messages only, in ascending seq; `query` is `limit=N` plus `before=S` or `after=S`.
    history: async (name, query) =>
      (await json('history', `/api/chat/chat_history?${room(name)}&${query}`)).messages,

    // Every event after seq `after`, gapless: {room, events, last_seq}.
    events: (name, after, limit = 200) =>
      json('events', `/api/chat/events?${room(name)}&after=${after}&limit=${limit}`),

    // Who is signed in: {id, username, display_name, role, totp}.
    me: () => json('me', '/api/me'),

    // A room's people (those who may read it): [username, ...].
    members: async (name) =>
      (await json('members', `/api/rooms/${enc(name)}/members`)).members,

    // These answer the response: the page shows the server's error message.
    addMember: (name, username) => send('POST', `/api/rooms/${enc(name)}/members`, { username }),
    removeMember: (name, username) =>
      send('DELETE', `/api/rooms/${enc(name)}/members/${enc(username)}`),
    // The one direct room of these people and me: the room object.
    startDirect: (users) => send('POST', '/api/dms', { users }),

    // The account page. Those that change something answer the response: the page shows
    // the server's error (a wrong password, a code refused) by its field.
    // Where this account is signed in: [{id, created_at, last_seen_at, user_agent,
    // client_addr, current}], newest first.
    sessions: async () => (await json('sessions', '/api/sessions')).sessions,
    endSession: (id) => send('DELETE', `/api/sessions/${enc(String(id))}`),
    // Every session but this one: {ended: n}.
    endOtherSessions: () => send('DELETE', '/api/sessions'),
    changePassword: (current, next) => send('POST', '/api/me/password', { current, new: next }),
    totp: {
      // {secret, otpauth_url, qr_svg}; not required at sign-in until confirmed.
      start: () => send('POST', '/api/me/totp', {}),
      // {recovery_codes: [...]}, shown once.
      confirm: (code) => send('POST', '/api/me/totp/confirm', { code }),
      disable: (code) => send('DELETE', '/api/me/totp', { code }),
    },
    deactivate: (password) => send('POST', '/api/me/deactivate', { password }),
    deleteAccount: (password) => send('DELETE', '/api/me', { password }),

    // The admin API (403 for anyone else).
    admin: {
      // A one-hour, one-use link to set a new password: {url, expires_at}.
      resetLink: (username) => send('POST', `/api/admin/users/${enc(username)}/reset_link`, {}),
      users: () => json('users', '/api/admin/users'),
      updateUser: (username, change) => send('POST', `/api/admin/users/${enc(username)}`, change),
      joinCode: () => json('join code', '/api/admin/join_code'),
      rotateJoinCode: () => send('POST', '/api/admin/join_code', {}),
      invite: () => send('POST', '/api/admin/invites', {}),
      setArchived: (name, archived) => send('POST', `/api/admin/rooms/${enc(name)}`, { archived }),
      audit: async () => (await json('audit', '/api/admin/audit')).entries,
    },
  };
}

// The human message of an error response (`{"error": {"message"}}`), or `fallback`.
export async function errorMessage(response, fallback = 'That did not work.') {
  const body = await response.json().catch(() => ({}));
  return (body && body.error && body.error.message) || fallback;
}

// The error of a response (`{"error": {"code", "message", "field"?}}`), with `fallback` as
// its message when it has none.
export async function errorOf(response, fallback = 'That did not work.') {
  const body = await response.json().catch(() => null);
  const error = body?.error || {};
  return { code: error.code || null, message: error.message || fallback, field: error.field || null };
}
