// chatapp's chat page, the entry module: it wires the pieces together and reacts to the
// page and the socket. The pieces:
//   connection.js  the WebSocket: tokens, reconnecting with backoff
//   outbox.js      messages sent but not acknowledged, kept across reloads; resending
//   room_log.js    per room: the last seq seen, gaps, duplicates, what to draw
//   catch_up.js    fills a room's log from the events feed
//   chat_view.js   drawing
//   api.js         the REST API
//   backoff.js     how long to wait before trying again
//
// Only this file imports; the others get what they need as arguments. It imports them
// with its own `?v=<release>`: /static/ is cached for a year as immutable, so a plain
// `import './outbox.js'` would keep one URL across releases and a browser could run this
// release's app.js with an older release's modules.
const version = new URL(import.meta.url).search;
const [
  { createApi }, { backoff, soon }, { CatchUp }, { createChatView }, { Connection },
  { Outbox, Resender, chatFrame }, { RoomLog, isRoomEvent },
] = await Promise.all([
  'api.js', 'backoff.js', 'catch_up.js', 'chat_view.js', 'connection.js', 'outbox.js', 'room_log.js',
].map((name) => import(`./${name}${version}`)));

const $ = (id) => document.getElementById(id);
const me = $('app').dataset.username;
const wsUrl = $('app').dataset.wsUrl ||
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/chat`;
const MAX_CHARS = 4000;
const ROOM_KEY = `chatapp.room.${me}`;
// Error codes that answer a chat frame the server could not take now but may later: the
// message stays in the outbox and is resent with the same client_id.
const RETRY_LATER = new Set(['not_saved', 'unavailable', 'rate_limited']);
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

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
const view = createChatView(els, { me, maxChars: MAX_CHARS });

let leaving = false; // signing out: no more reconnecting
const api = createApi({
  onSignedOut() {
    if (leaving) return;
    leaving = true;
    connection.stop();
    location.assign('/auth/login');
  },
});
const outbox = new Outbox(localStorage, me);
const connection = new Connection({
  url: wsUrl,
  token: api.token,
  backoff,
  soon,
  onState: (state) =>
    view.setState(state === 'reconnecting' && navigator.onLine === false ? 'offline' : state),
  onOpen: opened,
  onFrame: handle,
  onClose: closed,
});
const resender = new Resender({ outbox, backoff, send: (item) => connection.send(chatFrame(item)) });

let room = localStorage.getItem(ROOM_KEY) || 'general';
let log = null; // the RoomLog of the room shown
let catchUp = null; // its CatchUp
let joining = false; // a join was sent on this socket and its presence has not come yet
let joinFailures = 0;
let flushWhenCaughtUp = false; // a new socket: send the outbox once the room is caught up
let loadingOlder = false;
let lastTypingSent = 0;

// ---- rooms ---------------------------------------------------------------------------------
function openRoom(name) {
  catchUp?.stop();
  room = name;
  localStorage.setItem(ROOM_KEY, room);
  view.openRoom(room);
  outbox.forRoom(room).forEach(view.showPending);
  const shown = new RoomLog(room);
  log = shown;
  catchUp = new CatchUp({
    log: shown,
    history: (limit) => api.history(shown.room, `limit=${limit}`),
    events: async (after) => (await api.events(shown.room, after)).events,
    draw: (events) => events.forEach(draw),
    done: caughtUp,
    backoff,
    wait,
  });
  if (connection.isOpen) join();
}

function switchRoom(name) {
  if (name === room) return;
  connection.send({ type: 'leave', room });
  openRoom(name);
  els.composer.focus();
}

// Joins the room shown. Its catch-up waits for the server's answer (the presence frame):
// from then on every new event of the room comes live, so the feed fetched after it
// cannot miss one. Live events that come before are queued by the log.
function join() {
  joining = true;
  catchUp.hold();
  connection.send({ type: 'join', room });
}

function joined() {
  joining = false;
  joinFailures = 0;
  catchUp.run();
}

function renderRooms(rooms) {
  view.renderRooms(rooms, room, switchRoom);
}

els.newRoomForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = els.newRoom.value.trim();
  els.newRoomError.textContent = '';
  const response = await api.createRoom(name);
  if (response.ok || response.status === 409) {
    els.newRoom.value = '';
    renderRooms(await api.rooms());
    switchRoom(name);
    return;
  }
  const body = await response.json().catch(() => ({}));
  els.newRoomError.textContent = (body.error && body.error.message) || 'That did not work.';
});

// ---- messages ------------------------------------------------------------------------------
// Draws an event the room's log says is new to the page (so far, only messages are drawn).
function draw(message) {
  view.showMessage(message);
  view.clearTyping(message.sender);
  // One of ours, stored (seen in the feed before its ack, say): no need to send it again.
  if (message.sender === me && message.client_id && outbox.remove(message.client_id)) {
    resender.acked(message.client_id);
  }
}

async function loadOlder() {
  if (loadingOlder || !log.canLoadOlder) return;
  loadingOlder = true;
  const shown = log;
  try {
    const limit = 50;
    const messages = await api.history(shown.room, `before=${shown.first}&limit=${limit}`);
    if (shown === log) view.keepScroll(() => {
        for (const message of shown.older(messages, limit)) view.showMessage(message, { older: true });
      });
  } catch (_) {
    // A later scroll tries again.
  } finally {
    loadingOlder = false;
  }
}

function caughtUp() {
  if (!connection.isOpen) return;
  view.setState('connected');
  if (flushWhenCaughtUp) {
    // Everything not acked yet, with its own client_id: what was in fact stored while
    // the socket was down is acked again, not stored twice.
    flushWhenCaughtUp = false;
    for (const item of outbox.items) connection.send(chatFrame(item));
  }
}

// ---- the socket ----------------------------------------------------------------------------
function opened() {
  view.setState('catching-up');
  flushWhenCaughtUp = true;
  joinFailures = 0;
  join();
}

function closed() {
  joining = false;
  resender.reset();
}

function handle(frame) {
  if (isRoomEvent(frame)) {
    if (frame.room !== room) return; // a room just left
    const { apply, gap } = log.live(frame);
    apply.forEach(draw);
    if (gap) catchUp.run();
    return;
  }
  switch (frame.type) {
    case 'ack':
      acked(frame);
      return;
    case 'presence':
      if (frame.room !== room) return;
      view.showOnline(frame.users);
      if (joining) joined();
      return;
    case 'join':
      if (frame.room === room) view.addOnline(frame.sender);
      return;
    case 'leave':
      if (frame.room === room) view.removeOnline(frame.sender);
      return;
    case 'typing':
      if (frame.room === room) view.showTyping(frame.sender);
      return;
    case 'error':
      failed(frame);
      return;
    default:
      // read positions, activity in other rooms: not shown on this page yet.
  }
}

function acked(ack) {
  outbox.remove(ack.client_id);
  resender.acked(ack.client_id);
  if (ack.room !== room) return;
  if (log.shown(ack.id)) {
    view.removePending(ack.client_id); // drawn already, from the feed or the chat frame
    return;
  }
  // If there is no pending copy to turn into the message, the log is not told: the chat
  // event that follows draws it.
  if (!view.confirmPending(ack.client_id, ack)) return;
  const { apply, gap } = log.ack(ack);
  apply.forEach(draw);
  if (gap) catchUp.run();
}

function failed(error) {
  const clientId = error.client_id;
  if (clientId) {
    if (!outbox.has(clientId)) return; // stored meanwhile, or given up already
    if (RETRY_LATER.has(error.code)) {
      resender.failed(clientId);
    } else {
      // Refused for what it is (too long, not allowed): sending it again cannot help.
      outbox.remove(clientId);
      resender.dropped(clientId);
      view.markFailed(clientId, error.message);
    }
    return;
  }
  if (joining && error.code === 'unavailable') {
    // The server could not check the room right now (its database is down, say).
    const forRoom = room;
    joinFailures += 1;
    setTimeout(() => {
      if (joining && room === forRoom) connection.send({ type: 'join', room });
    }, backoff(joinFailures));
    return;
  }
  view.showError(error.message);
}

// ---- the composer --------------------------------------------------------------------------
function submit() {
  const content = els.composer.value.trim();
  if (!content || [...content].length > MAX_CHARS) return;
  const item = outbox.add(room, content);
  view.showPending(item);
  connection.send(chatFrame(item));
  els.composer.value = '';
  view.updateCounter();
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
  view.updateCounter();
  if (!joining && Date.now() - lastTypingSent > 2500 && els.composer.value.trim()) {
    lastTypingSent = Date.now();
    connection.send({ type: 'typing', room });
  }
});
els.list.addEventListener('scroll', () => {
  if (els.list.scrollTop < 60) loadOlder();
});

els.signout.addEventListener('submit', () => {
  // The socket closes before the form is sent, so the others see us leave at once.
  leaving = true;
  connection.stop(1000, 'signed out');
});
window.addEventListener('online', () => connection.retryNow());

// ---- start ---------------------------------------------------------------------------------
try {
  const rooms = await api.rooms();
  if (!rooms.some((r) => r.name === room)) room = 'general';
  renderRooms(rooms);
} catch (_) {
  // No rooms list: the last room used still works.
}
openRoom(room);
connection.start();
