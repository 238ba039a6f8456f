// chatapp's chat page: one WebSocket, an outbox that survives reloads, catch-up by seq.
// What the page shows is drawn by chat_view.js; this file keeps the connection, the
// outbox and the order of messages.
'use strict';

(() => {
  const app = document.getElementById('app');
  if (!app) return;
  const $ = (id) => document.getElementById(id);
  const me = app.dataset.username;
  const wsUrl = app.dataset.wsUrl ||
    `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/chat`;
  const MAX_CHARS = 4000;
  const PAGE = 50;
  const OUTBOX_KEY = `chatapp.outbox.${me}`;
  const ROOM_KEY = `chatapp.room.${me}`;

  const els = {
    state: document.querySelector('[data-role="connection-state"]'),
    rooms: $('room-list'),
    list: $('message-list'),
    title: $('room-title'),
    typing: $('typing'),
    error: $('chat-error'),
    online: $('online-users'),
    form: $('composer-form'),
    composer: $('composer'),
    counter: $('counter'),
    newRoomForm: $('new-room-form'),
    newRoom: $('new-room'),
    newRoomError: $('new-room-error'),
    signout: $('signout-form'),
  };

  const view = window.chatView(els, MAX_CHARS);
  const {
    setState, showError, messageElement, regroup, nearBottom, markFailed,
    showOnline, addOnline, removeOnline, showTyping, clearTyping, clearAllTyping, updateCounter,
  } = view;
  let room = localStorage.getItem(ROOM_KEY) || 'general';
  let socket = null;
  let token = null;
  let tokenExpires = 0;
  let attempt = 0;
  let reconnectTimer = null;
  let leaving = false;
  let catchingUp = null;
  let loadingOlder = false;
  let lastTypingSent = 0;
  // Per room: the highest seq shown, the lowest, and the ids shown (de-duplication).
  const rooms = new Map();
  const roomState = (name) => {
    if (!rooms.has(name)) rooms.set(name, { last: 0, first: 0, ids: new Set() });
    return rooms.get(name);
  };

  // ---- the outbox: messages sent but not yet acknowledged, kept across reloads ----------
  const loadOutbox = () => {
    try {
      const items = JSON.parse(localStorage.getItem(OUTBOX_KEY) || '[]');
      return Array.isArray(items) ? items : [];
    } catch (_) {
      return [];
    }
  };
  let outbox = loadOutbox();
  const saveOutbox = () => localStorage.setItem(OUTBOX_KEY, JSON.stringify(outbox));
  const newClientId = () =>
    (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

  // ---- HTTP --------------------------------------------------------------------------------
  async function api(path, options = {}) {
    const headers = { Accept: 'application/json' };
    if (options.body) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, { credentials: 'same-origin', ...options, headers });
    if (response.status === 401) {
      leaving = true;
      location.assign('/auth/login');
      throw new Error('signed out');
    }
    return response;
  }

  async function freshToken() {
    const response = await api('/api/token', { method: 'POST' });
    if (!response.ok) throw new Error(`token: ${response.status}`);
    const body = await response.json();
    token = body.access_token;
    tokenExpires = Date.now() + body.expires_in * 1000;
  }

  // ---- messages ---------------------------------------------------------------------------
  // Shows a stored message once, in seq order.
  function showMessage(message) {
    if (message.room !== room) return;
    const state = roomState(room);
    if (state.ids.has(message.id)) return;
    state.ids.add(message.id);
    const stick = nearBottom();
    const pending = message.client_id && message.sender === me
      ? els.list.querySelector(`[data-role="pending-message"][data-client-id="${CSS.escape(message.client_id)}"]`)
      : null;
    if (pending) pending.remove();
    const item = messageElement(message, false);
    let after = els.list.lastElementChild;
    while (after && (after.dataset.role === 'pending-message' || Number(after.dataset.seq) > message.seq)) {
      after = after.previousElementSibling;
    }
    if (after) after.after(item); else els.list.prepend(item);
    regroup(item);
    state.last = Math.max(state.last, message.seq);
    state.first = state.first ? Math.min(state.first, message.seq) : message.seq;
    if (stick || message.sender === me) els.list.scrollTop = els.list.scrollHeight;
  }

  function showPending(item) {
    if (item.room !== room) return;
    if (els.list.querySelector(`[data-client-id="${CSS.escape(item.client_id)}"]`)) return;
    const el = messageElement({ sender: me, content: item.content, client_id: item.client_id }, true);
    els.list.append(el);
    regroup(el);
    els.list.scrollTop = els.list.scrollHeight;
  }

  // ---- history -----------------------------------------------------------------------------
  async function history(query) {
    const response = await api(`/api/chat/chat_history?room=${encodeURIComponent(room)}&${query}`);
    if (!response.ok) throw new Error(`history: ${response.status}`);
    return (await response.json()).messages;
  }

  // Fetches everything after the last seq shown, page by page, until nothing is missing.
  function catchUp() {
    if (catchingUp) return catchingUp;
    catchingUp = (async () => {
      const state = roomState(room);
      if (!state.last) {
        const latest = await history(`limit=${PAGE}`);
        latest.forEach(showMessage);
        return;
      }
      for (;;) {
        const page = await history(`after=${state.last}&limit=200`);
        page.forEach(showMessage);
        if (page.length < 200) return;
      }
    })().finally(() => {
      catchingUp = null;
    });
    return catchingUp;
  }

  async function loadOlder() {
    const state = roomState(room);
    if (loadingOlder || !state.first || state.first <= 1) return;
    loadingOlder = true;
    const before = els.list.scrollHeight;
    try {
      const page = await history(`before=${state.first}&limit=${PAGE}`);
      page.forEach(showMessage);
      els.list.scrollTop += els.list.scrollHeight - before;
    } catch (_) {
      // A later scroll tries again.
    } finally {
      loadingOlder = false;
    }
  }

  // ---- the socket --------------------------------------------------------------------------
  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function flushOutbox() {
    for (const item of outbox) {
      send({ type: 'chat', room: item.room, content: item.content, client_id: item.client_id });
    }
  }

  function scheduleReconnect(immediately) {
    if (leaving) return;
    setState(navigator.onLine === false ? 'offline' : 'reconnecting');
    attempt += 1;
    const ceiling = Math.min(30000, 500 * 2 ** Math.min(attempt, 6));
    const delay = immediately ? 100 + Math.random() * 400 : ceiling / 2 + Math.random() * ceiling / 2;
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  }

  async function connect() {
    if (leaving) return;
    setState(attempt ? 'reconnecting' : 'connecting');
    try {
      if (!token || Date.now() > tokenExpires - 30000) await freshToken();
    } catch (_) {
      scheduleReconnect(false);
      return;
    }
    const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
    socket = ws;
    ws.addEventListener('open', () => {
      attempt = 0;
      setState('catching-up');
      send({ type: 'join', room });
      catchUp()
        .then(() => {
          if (socket === ws) setState('connected');
          flushOutbox();
        })
        .catch(() => ws.close());
    });
    ws.addEventListener('message', (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      handle(frame);
    });
    ws.addEventListener('close', (event) => {
      if (socket !== ws) return;
      socket = null;
      if (event.code === 4401) token = null;
      // 1012: the server restarts; 1013: we fell behind. Both: come back soon.
      scheduleReconnect([1001, 1012, 1013, 4401].includes(event.code));
    });
  }

  function handle(frame) {
    switch (frame.type) {
      case 'chat': {
        if (frame.room !== room) return;
        const state = roomState(room);
        if (state.last && frame.seq > state.last + 1) {
          // A gap: fetch what is missing, which shows this message too, in order.
          catchUp().catch(() => {});
          return;
        }
        showMessage(frame);
        clearTyping(frame.sender);
        return;
      }
      case 'ack': {
        outbox = outbox.filter((item) => item.client_id !== frame.client_id);
        saveOutbox();
        const pending = els.list.querySelector(
          `[data-role="pending-message"][data-client-id="${CSS.escape(frame.client_id || '')}"]`);
        if (pending && roomState(frame.room).ids.has(frame.id)) {
          pending.remove(); // already shown from history
        } else if (pending) {
          pending.classList.remove('pending');
          pending.dataset.role = 'message';
          pending.dataset.seq = String(frame.seq);
          pending.dataset.id = String(frame.id);
          const state = roomState(frame.room);
          state.ids.add(frame.id);
          state.last = Math.max(state.last, frame.seq);
        }
        return;
      }
      case 'presence':
        if (frame.room === room) showOnline(frame.users);
        return;
      case 'join':
        if (frame.room === room) addOnline(frame.sender);
        return;
      case 'leave':
        if (frame.room === room) removeOnline(frame.sender);
        return;
      case 'typing':
        if (frame.room === room) showTyping(frame.sender);
        return;
      case 'error':
        if (frame.code === 'not_saved') {
          // Kept in the outbox: sent again with the same client_id, stored once.
          setTimeout(flushOutbox, 1000 + Math.random() * 1000);
        } else if (frame.client_id) {
          outbox = outbox.filter((item) => item.client_id !== frame.client_id);
          saveOutbox();
          markFailed(frame.client_id, frame.message);
        } else {
          showError(frame.message);
        }
        return;
      default:
    }
  }

  // ---- rooms -------------------------------------------------------------------------------
  const renderRooms = (list) => view.renderRooms(list, room, switchRoom);

  async function loadRooms() {
    const response = await api('/api/rooms');
    if (!response.ok) return;
    const list = await response.json();
    if (!list.some((r) => r.name === room)) room = 'general';
    renderRooms(list);
  }

  function switchRoom(name) {
    if (name === room) return;
    send({ type: 'leave', room });
    room = name;
    localStorage.setItem(ROOM_KEY, room);
    rooms.delete(room);
    els.title.textContent = `# ${room}`;
    els.list.replaceChildren();
    els.online.replaceChildren();
    clearAllTyping();
    for (const b of els.rooms.querySelectorAll('button')) {
      if (b.dataset.room === room) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
    send({ type: 'join', room });
    catchUp().then(() => outbox.filter((i) => i.room === room).forEach(showPending)).catch(() => {});
    els.composer.focus();
  }

  els.newRoomForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = els.newRoom.value.trim();
    els.newRoomError.textContent = '';
    const response = await api('/api/rooms', { method: 'POST', body: JSON.stringify({ name }) });
    if (response.ok || response.status === 409) {
      els.newRoom.value = '';
      await loadRooms();
      switchRoom(name);
      return;
    }
    const body = await response.json().catch(() => ({}));
    els.newRoomError.textContent = (body.error && body.error.message) || 'That did not work.';
  });

  // ---- the composer ------------------------------------------------------------------------
  function submit() {
    const content = els.composer.value.trim();
    if (!content || [...content].length > MAX_CHARS) return;
    const item = { client_id: newClientId(), room, content };
    outbox.push(item);
    saveOutbox();
    showPending(item);
    send({ type: 'chat', room: item.room, content: item.content, client_id: item.client_id });
    els.composer.value = '';
    updateCounter();
  }

  els.form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  els.composer.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  els.composer.addEventListener('input', () => {
    updateCounter();
    if (Date.now() - lastTypingSent > 2500 && els.composer.value.trim()) {
      lastTypingSent = Date.now();
      send({ type: 'typing', room });
    }
  });
  els.list.addEventListener('scroll', () => {
    if (els.list.scrollTop < 60) loadOlder();
  });

  els.signout.addEventListener('submit', () => {
    leaving = true;
    clearTimeout(reconnectTimer);
    if (socket) socket.close(1000, 'signed out');
  });
  window.addEventListener('online', () => {
    if (!socket) scheduleReconnect(true);
  });

  // ---- start -------------------------------------------------------------------------------
  els.title.textContent = `# ${room}`;
  loadRooms()
    .catch(() => {})
    .finally(() => {
      outbox.filter((i) => i.room === room).forEach(showPending);
      connect();
    });
})();
