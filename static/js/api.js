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

  return {
    // A short-lived access token for the WebSocket: {access_token, expires_in}.
    token: () => json('token', '/api/token', { method: 'POST' }),

    // The rooms this user can see: [{name, description, ...}].
    rooms: () => json('rooms', '/api/rooms'),

    // Creates a room. Answers the response, since the form shows 409 and 422 differently.
    createRoom: (name) => request('/api/rooms', { method: 'POST', body: JSON.stringify({ name }) }),

    // Messages only, in ascending seq; `query` is `limit=N` plus `before=S` or `after=S`.
    history: async (name, query) =>
      (await json('history', `/api/chat/chat_history?${room(name)}&${query}`)).messages,

    // Every event after seq `after`, gapless: {room, events, last_seq}.
    events: (name, after, limit = 200) =>
      json('events', `/api/chat/events?${room(name)}&after=${after}&limit=${limit}`),
  };
}
