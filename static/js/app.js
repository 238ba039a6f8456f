// chatapp's chat page, the entry module: it wires the pieces together and reacts to the
// page and the socket. The pieces:
//   connection.js  the WebSocket: tokens, reconnecting with backoff
//   outbox.js      messages sent but not acknowledged, kept across reloads; sending them
//   room_log.js    per room: the last seq seen, gaps, duplicates, what to draw
//   catch_up.js    fills a room's log from the events feed; joins and their answers
//   chat_view.js   drawing
//   api.js         the REST API
//   workspace.js   rooms and people: the sidebar's groups, direct rooms' names, controls
//   backoff.js     how long to wait before trying again
//
// Only this file imports; the others get what they need as arguments. It imports them
// with its own `?v=<release>`: /static/ is cached for a year as immutable, so a plain
// `import './outbox.js'` would keep one URL across releases and a browser could run this
// release's app.js with an older release's modules.
const version = new URL(import.meta.url).search;
const [
  { createApi, errorMessage }, { backoff, soon }, { CatchUp, Joins }, { createChatView }, { Connection },
  { Outbox, Sender, chatFrame }, { RoomLog, isRoomEvent },
  {
    groupRooms, unlabelled, roomLabel, roomControls, membershipChange, removalNotice, isDirect,
    roomNameProblem,
  },
] = await Promise.all([
  'api.js', 'backoff.js', 'catch_up.js', 'chat_view.js', 'connection.js', 'outbox.js', 'room_log.js',
  'workspace.js',
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
  app: $('app'),
  rooms: $('room-list'),
  dms: $('dm-list'),
  dmHint: $('dm-hint'),
  members: $('room-members'),
  tools: $('room-tools'),
  addMember: $('add-member-form'),
  addMemberName: $('add-member'),
  leave: $('leave-room'),
  notice: $('room-notice'),
  readOnly: $('read-only'),
  navToggle: $('nav-toggle'),
  adminLink: $('admin-link'),
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
  newRoomPrivate: $('new-room-private'),
  signout: $('signout-form'),
};
const view = createChatView(els, { me, maxChars: MAX_CHARS });

let leaving = false; // signing out: no more reconnecting
// The session ended (signed out elsewhere, by a password change, or the account was
// deactivated): the server answers 401 to the token fetch and the REST API. No retrying:
// /auth/expired clears the session cookie and shows the sign-in form, so that it does not
// send us straight back here.
function sessionEnded() {
  if (leaving) return;
  leaving = true;
  connection.stop();
  location.assign('/auth/expired');
}
const api = createApi({ onSignedOut: sessionEnded });
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
  onEnded: sessionEnded,
});
// Sends the outbox: a window at a time, oldest first, pausing after what could not be stored.
const sender = new Sender({ outbox, backoff, send: (item) => connection.send(chatFrame(item)) });
// The joins sent on this socket, waiting for their answers.
const joins = new Joins();

let room = localStorage.getItem(ROOM_KEY) || 'general';
let log = null; // the RoomLog of the room shown
let catchUp = null; // its CatchUp
let joinFailures = 0;
let joinRetry = null; // the timer of a join to send again (the server could not check the room)
let loadingOlder = false;
let lastTypingSent = 0;
let rooms = []; // what GET /api/rooms said: the rooms this user can see
const members = new Map(); // room name -> its people: direct rooms, and the private room shown

// ---- rooms ---------------------------------------------------------------------------------
const roomOf = (name) => rooms.find((r) => r.name === name);
// The shown room as the server described it; one not listed (yet) counts as public.
const shownRoom = () => roomOf(room) || { name: room, kind: 'public', member: true };
const labelOf = (name) => {
  const r = roomOf(name) || { name, kind: 'public' };
  return isDirect(r) ? roomLabel(r, members, me) : `#${name}`;
};
const titleOf = (name) => (isDirect(roomOf(name)) ? labelOf(name) : `# ${name}`);

function openRoom(name) {
  catchUp?.stop();
  clearTimeout(joinRetry); // the new room's own join follows
  room = name;
  localStorage.setItem(ROOM_KEY, room);
  view.openRoom(room, titleOf(room));
  showRoomInfo();
  if (roomControls(shownRoom()).showMembers) loadMembers(room);
  outbox.forRoom(room).forEach(view.showPending);
  const shown = new RoomLog(room);
  log = shown;
  // A 404 while catching up: the room is gone for this user (removed from it meanwhile).
  const lost = (e) => {
    if (e.status === 404 && log === shown) {
      refreshRooms();
      leaveShownRoom(`You no longer have access to #${shown.room}.`);
    }
    throw e;
  };
  catchUp = new CatchUp({
    log: shown,
    history: (limit) => api.history(shown.room, `limit=${limit}`).catch(lost),
    events: async (after) => (await api.events(shown.room, after).catch(lost)).events,
    draw: (events) => events.forEach(draw),
    done: caughtUp,
    backoff,
    wait,
  });
  if (connection.isOpen) join();
}

function switchRoom(name) {
  setNavOpen(false);
  if (name === room) return;
  connection.send({ type: 'leave', room });
  openRoom(name);
  if (!els.composer.disabled) els.composer.focus();
}

// Leaves the room shown for `general`, saying why (removed, left, not allowed in).
function leaveShownRoom(notice) {
  if (room !== 'general') switchRoom('general');
  view.showNotice(notice);
}

// Joins the room shown. Its catch-up waits for the server's answer to this join (the
// presence frame): from then on every new event of the room comes live, so the feed fetched
// after it cannot miss one. Live events that come before are queued by the log.
function join() {
  catchUp.hold();
  if (connection.send({ type: 'join', room })) joins.sent(room);
}

function renderRooms() {
  view.renderRooms(groupRooms(rooms, members, me), room, switchRoom);
}

function showRoomInfo() {
  const r = shownRoom();
  view.showRoomInfo({
    title: titleOf(room),
    kind: r.kind,
    members: members.get(room) ?? null,
    controls: roomControls(r),
  });
}

// The rooms list again (after a change here, a change told by the server, or coming back
// to the page); direct rooms whose people are not known yet are named first.
let refreshing = null;
async function refreshRooms() {
  refreshing ??= (async () => {
    try {
      rooms = await api.rooms();
      await Promise.all(unlabelled(rooms, members).map(loadMembers));
      renderRooms();
      if (!roomOf(room) && room !== 'general') {
        leaveShownRoom(`You no longer have access to #${room}.`);
      } else {
        showRoomInfo();
      }
    } catch (_) {
      // Kept as it was; the next refresh tries again.
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

// A room's people: names a direct room, lists a private room's members.
async function loadMembers(name) {
  try {
    members.set(name, await api.members(name));
  } catch (_) {
    return;
  }
  if (isDirect(roomOf(name))) renderRooms();
  if (name === room) showRoomInfo();
}

els.newRoomForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = els.newRoom.value.trim();
  const problem = roomNameProblem(name);
  els.newRoomError.textContent = problem;
  if (problem) els.newRoom.setAttribute('aria-invalid', 'true');
  else els.newRoom.removeAttribute('aria-invalid');
  if (problem) return;
  const kind = els.newRoomPrivate.checked ? 'private' : 'public';
  const response = await api.createRoom(name, kind);
  if (response.ok) {
    const created = await response.json();
    rooms = [...rooms.filter((r) => r.name !== created.name), created];
  } else if (response.status !== 409) {
    els.newRoomError.textContent = await errorMessage(response);
    return;
  }
  await refreshRooms();
  if (!roomOf(name)) {
    // Taken, by a room this user cannot see.
    els.newRoomError.textContent = await errorMessage(response, `The name “${name}” is taken.`);
    return;
  }
  els.newRoom.value = '';
  els.newRoomPrivate.checked = false;
  switchRoom(name);
});

els.addMember.addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = els.addMemberName.value.trim();
  if (!username) return;
  const forRoom = room;
  const response = await api.addMember(forRoom, username);
  if (!response.ok) {
    view.showNotice(response.status === 422 ? `There is no active account named “${username}”.`
      : await errorMessage(response), { error: true });
    return;
  }
  const body = await response.json();
  els.addMemberName.value = '';
  if (forRoom !== room) return;
  view.showNotice(body.added ? `${body.username} was added to #${forRoom}.`
    : `${body.username} is already in #${forRoom}.`);
  loadMembers(forRoom);
});

// Leaving a private room takes a second click: no one else can bring you back but its
// members.
let leaveArmed = null;
function disarmLeave() {
  clearTimeout(leaveArmed);
  leaveArmed = null;
  els.leave.textContent = 'Leave';
  els.leave.classList.remove('armed');
}
els.leave.addEventListener('click', async () => {
  if (!leaveArmed) {
    els.leave.textContent = 'Click again to leave';
    els.leave.classList.add('armed');
    leaveArmed = setTimeout(disarmLeave, 5000);
    return;
  }
  disarmLeave();
  const forRoom = room;
  const response = await api.removeMember(forRoom, me);
  if (!response.ok && response.status !== 404) {
    view.showNotice(await errorMessage(response), { error: true });
    return;
  }
  rooms = rooms.filter((r) => r.name !== forRoom || !roomControls(r).leave);
  members.delete(forRoom);
  renderRooms();
  if (room === forRoom) leaveShownRoom(`You left #${forRoom}.`);
  refreshRooms();
});

// One click on someone online: the direct room of the two of us (made on first use).
els.online.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-role="new-dm"]');
  if (!button) return;
  const user = button.dataset.user;
  button.disabled = true;
  try {
    const response = await api.startDirect([user]);
    if (!response.ok) {
      view.showError(await errorMessage(response));
      return;
    }
    const direct = await response.json();
    rooms = [...rooms.filter((r) => r.name !== direct.name), direct];
    if (!members.has(direct.name)) members.set(direct.name, [me, user]);
    renderRooms();
    switchRoom(direct.name);
    loadMembers(direct.name);
  } catch (_) {
    // A 401 signs out; anything else: the click can be tried again.
  } finally {
    button.disabled = false;
  }
});

// ---- the phone layout: rooms and people in a panel opened from the top bar ----------------
function setNavOpen(open) {
  els.app.classList.toggle('nav-open', open);
  els.navToggle.setAttribute('aria-expanded', String(open));
}
els.navToggle.addEventListener('click', () => setNavOpen(!els.app.classList.contains('nav-open')));
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && els.app.classList.contains('nav-open')) {
    setNavOpen(false);
    els.navToggle.focus();
  }
});

// ---- messages ------------------------------------------------------------------------------
// Draws an event the room's log says is new to the page (so far, only messages are drawn).
function draw(message) {
  view.showMessage(message);
  view.clearTyping(message.sender);
  // One of ours, stored (seen in the feed before its ack, say): no need to send it again.
  if (message.sender === me && message.client_id && outbox.remove(message.client_id)) {
    sender.acked(message.client_id);
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
  // Everything not acked yet goes (again), a window at a time, with its own client_id: what
  // was in fact stored while the socket was down is acked again, not stored twice; what
  // the catch-up found stored has left the outbox already.
  sender.start();
}

// ---- the socket ----------------------------------------------------------------------------
function opened() {
  view.setState('catching-up');
  joinFailures = 0;
  join();
}

function closed() {
  clearTimeout(joinRetry); // the next socket joins by itself
  joins.reset();
  sender.reset();
}

function handle(frame) {
  if (isRoomEvent(frame)) {
    const change = membershipChange(frame, me, room);
    if (change && membershipChanged(frame, change)) return;
    if (frame.room !== room) return; // a room just left
    catchUp.live(frame);
    return;
  }
  switch (frame.type) {
    case 'ack':
      acked(frame);
      return;
    case 'presence': {
      const answer = joins.answer(frame);
      if (frame.room !== room) return;
      view.showOnline(frame.users);
      // The answer to the room's last join: it is subscribed, the catch-up may start.
      if (answer?.last) {
        joinFailures = 0;
        catchUp.run();
      }
      return;
    }
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
    case 'activity':
      // Someone wrote in a room this page does not list yet (a direct message to us, a
      // private room we were added to): list it.
      if (!roomOf(frame.room)) refreshRooms();
      return;
    default:
      // read positions: not shown on this page yet.
  }
}

// Someone joined or left a room (member_added / member_removed). Answers true when the
// page left the room because of it (the event needs no more handling).
function membershipChanged(frame, change) {
  if (change.removedMe) {
    const label = labelOf(frame.room);
    members.delete(frame.room);
    leaveShownRoom(removalNotice(frame, me, label));
    refreshRooms();
    return true;
  }
  if (change.refreshMembers && roomControls(shownRoom()).showMembers) loadMembers(room);
  if (change.refreshRooms) refreshRooms();
  return false;
}

function acked(ack) {
  outbox.remove(ack.client_id);
  sender.acked(ack.client_id);
  if (ack.room !== room) return;
  if (log.shown(ack.id)) {
    view.removePending(ack.client_id); // drawn already, from the feed or the chat frame
    return;
  }
  // If there is no pending copy to turn into the message, the log is not told: the chat
  // event that follows draws it.
  if (!view.confirmPending(ack.client_id, ack)) return;
  // Its seq counts as seen in order; past a gap, the catch-up fetches what is missing.
  catchUp.acked(ack);
}

function failed(error) {
  const clientId = error.client_id;
  if (clientId) {
    if (!outbox.has(clientId)) {
      sender.dropped(clientId); // stored meanwhile, or given up already (in another tab, say)
      return;
    }
    if (RETRY_LATER.has(error.code)) {
      sender.failed(clientId);
    } else {
      // Refused for what it is (too long, not allowed): sending it again cannot help.
      outbox.remove(clientId);
      sender.dropped(clientId);
      view.markFailed(clientId, error.message);
      // The room was archived, or we were removed from it, meanwhile.
      if (error.code === 'forbidden' || error.code === 'not_found') refreshRooms();
    }
    return;
  }
  const answer = joins.answer(error);
  if (answer) {
    // The answer to a join. One for a room no longer shown, or for a join of this room
    // that a later one follows, says nothing about the room now.
    if (answer.room !== room || !answer.last) return;
    if (answer.code === 'not_found') {
      // A room this user may not see (any more): back to general.
      const gone = room;
      rooms = rooms.filter((r) => r.name !== gone);
      renderRooms();
      leaveShownRoom(`There is no room #${gone} that you can see.`);
      return;
    }
    if (answer.code === 'unavailable' || answer.code === 'rate_limited') {
      // The server could not check the room right now (its database is down, say).
      joinFailures += 1;
      clearTimeout(joinRetry);
      joinRetry = setTimeout(() => {
        joinRetry = null;
        if (connection.isOpen) join();
      }, backoff(joinFailures));
      return;
    }
  }
  view.showError(error.message);
}

// ---- the composer --------------------------------------------------------------------------
function submit() {
  if (els.composer.disabled) return;
  const content = els.composer.value.trim();
  if (!content || [...content].length > MAX_CHARS) return;
  const item = outbox.add(room, content);
  view.showPending(item);
  sender.queued(); // sent when its turn comes: after those still waiting, within the window
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
  if (!joins.waiting(room) && Date.now() - lastTypingSent > 2500 && els.composer.value.trim()) {
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
// The composer's placeholder is shorter on a narrow screen.
globalThis.matchMedia?.('(max-width: 600px)').addEventListener?.('change', showRoomInfo);
// Back to the page: rooms made or changed meanwhile (a direct message started by someone
// else, a room archived) show up.
let lastRefresh = Date.now();
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible' || Date.now() - lastRefresh < 10000) return;
  lastRefresh = Date.now();
  refreshRooms();
});

// ---- start ---------------------------------------------------------------------------------
try {
  rooms = await api.rooms();
  if (!rooms.some((r) => r.name === room)) room = 'general';
  renderRooms();
  await Promise.all(unlabelled(rooms, members).map(loadMembers));
} catch (_) {
  // No rooms list: the last room used still works.
}
openRoom(room);
connection.start();
// The header's link to the admin page, for administrators.
api.me().then((who) => {
  els.adminLink.hidden = who.role !== 'admin';
}, () => {});
