// The REST API, as the chat page uses it. Requests carry the session cookie (same origin
// only); the page never sees the session token itself.

export class HttpError extends Error {
  constructor(what, status) {
    super(`${what}: HTTP ${status}`);
    this.status = status;
  }
}

// onSignedOut runs when the server answers 401: the session ended (signed out elsewhere,
// expired, or ended by an admin), so the page should go to the sign-in form.
export function createApi({ onSignedOut, fetch = globalThis.fetch.bind(globalThis) }) {
  async function request(path, options = {}) {
    const headers = { Accept: 'application/json' };
    if (options.body) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, { credentials: 'same-origin', ...options, headers });
    if (response.status === 401) {
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

    // The rooms this user can see: [{name, description, ...}].
    rooms: () => json('rooms', '/api/rooms'),

    // Creates a room (kind: 'public' or 'private'). Answers the response, since the form
    // shows 409 and 422 differently.
    createRoom: (name, kind = 'public') => send('POST', '/api/rooms', { name, kind }),

    // Messages only, in ascending seq; `query` is `limit=N` plus `before=S` or `after=S`.
    history: async (name, query) =>
      (await json('history', `/api/chat/chat_history?${room(name)}&${query}`)).messages,

    // Every event after seq `after`, gapless: {room, events, last_seq}.
    events: (name, after, limit = 200) =>
      json('events', `/api/chat/events?${room(name)}&after=${after}&limit=${limit}`),

    // Who is signed in: {id, username, display_name, role}.
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

    // The admin API (403 for anyone else).
    admin: {
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
