// chatapp's chat page: how things look. Every piece of user text goes into the page with
// textContent, never as markup. It draws what app.js tells it to and decides nothing about
// order or duplicates beyond placing each message by its seq.

const STATES = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  'catching-up': 'Catching up…',
  offline: 'Offline',
};

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

// els: the page's elements (see app.js). me: the signed-in username.
export function createChatView(els, { me, maxChars }) {
  const list = els.list;
  const pendingSelector = (clientId) =>
    `[data-role="pending-message"][data-client-id="${CSS.escape(clientId || '')}"]`;

  function setState(state) {
    els.state.dataset.state = state;
    els.state.textContent = STATES[state] || state;
  }

  function showError(text) {
    els.error.textContent = text;
    els.error.hidden = !text;
  }

  // ---- messages ---------------------------------------------------------------------------
  function messageElement(message, pending) {
    const item = document.createElement('article');
    item.className = pending ? 'message pending' : 'message';
    item.dataset.role = pending ? 'pending-message' : 'message';
    item.dataset.sender = message.sender;
    item.dataset.time = message.timestamp || new Date().toISOString();
    if (!pending) {
      item.dataset.seq = String(message.seq);
      item.dataset.id = String(message.id);
    }
    if (message.client_id) item.dataset.clientId = message.client_id;
    const meta = document.createElement('div');
    meta.className = 'meta';
    const sender = document.createElement('span');
    sender.className = 'sender';
    sender.textContent = message.sender;
    const time = document.createElement('time');
    const when = new Date(item.dataset.time);
    time.dateTime = when.toISOString();
    time.textContent = timeFormat.format(when);
    time.title = dayFormat.format(when);
    meta.append(sender, time);
    const content = document.createElement('p');
    content.className = 'content';
    if (message.deleted) {
      // A deleted message keeps its place (and seq) but not its words.
      content.classList.add('deleted');
      content.textContent = 'This message was deleted.';
    } else {
      content.textContent = message.content;
    }
    item.append(meta, content);
    return item;
  }

  // Consecutive messages of one sender within five minutes share one header.
  function regroup(item) {
    for (const el of [item, item.nextElementSibling]) {
      if (!el) continue;
      const prev = el.previousElementSibling;
      const grouped = prev && prev.dataset.sender === el.dataset.sender &&
        new Date(el.dataset.time) - new Date(prev.dataset.time) < 5 * 60 * 1000;
      el.classList.toggle('grouped', Boolean(grouped));
    }
  }

  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80;

  // Shows a stored message in seq order, above the pending ones; it replaces our own
  // pending copy of it, if there is one. A new message scrolls the log down if the reader
  // was at the bottom (or wrote it); an older one (older: true) never does.
  function showMessage(message, { older = false } = {}) {
    const stick = !older && nearBottom();
    if (message.client_id && message.sender === me) list.querySelector(pendingSelector(message.client_id))?.remove();
    const item = messageElement(message, false);
    let after = list.lastElementChild;
    while (after && (after.dataset.role === 'pending-message' || Number(after.dataset.seq) > message.seq)) {
      after = after.previousElementSibling;
    }
    if (after) after.after(item); else list.prepend(item);
    regroup(item);
    if (stick || (!older && message.sender === me)) list.scrollTop = list.scrollHeight;
  }

  // Shows a message of ours that the server has not acknowledged yet, dimmed, at the end.
  function showPending(item) {
    if (list.querySelector(`[data-client-id="${CSS.escape(item.client_id)}"]`)) return;
    const el = messageElement({ sender: me, content: item.content, client_id: item.client_id }, true);
    list.append(el);
    regroup(el);
    list.scrollTop = list.scrollHeight;
  }

  // The ack of a pending message: it becomes the stored message, where it stands. Answers
  // whether there was such a pending message.
  function confirmPending(clientId, ack) {
    const el = list.querySelector(pendingSelector(clientId));
    if (!el) return false;
    el.classList.remove('pending');
    el.dataset.role = 'message';
    el.dataset.seq = String(ack.seq);
    el.dataset.id = String(ack.id);
    if (ack.timestamp) el.dataset.time = ack.timestamp;
    return true;
  }

  function removePending(clientId) {
    list.querySelector(pendingSelector(clientId))?.remove();
  }

  function markFailed(clientId, reason) {
    const el = list.querySelector(pendingSelector(clientId));
    if (!el) return;
    el.classList.add('failed');
    const note = document.createElement('span');
    note.className = 'note';
    note.textContent = ` Not sent: ${reason}`;
    el.append(note);
  }

  // Runs draw() (which adds older messages above) without moving what the reader sees.
  function keepScroll(draw) {
    const before = list.scrollHeight;
    draw();
    list.scrollTop += list.scrollHeight - before;
  }

  // ---- presence and typing ----------------------------------------------------------------
  const typingTimers = new Map();

  function showOnline(users) {
    els.online.replaceChildren(...users.map((user) => {
      const li = document.createElement('li');
      li.textContent = user;
      li.dataset.user = user;
      return li;
    }));
  }

  function addOnline(user) {
    const users = [...els.online.children].map((li) => li.dataset.user);
    if (!users.includes(user)) showOnline([...users, user].sort());
  }

  function removeOnline(user) {
    for (const li of [...els.online.children]) if (li.dataset.user === user) li.remove();
  }

  function renderTyping() {
    const names = [...typingTimers.keys()];
    els.typing.textContent = names.length === 0 ? ''
      : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
  }

  function showTyping(user) {
    clearTimeout(typingTimers.get(user));
    typingTimers.set(user, setTimeout(() => clearTyping(user), 4000));
    renderTyping();
  }

  function clearTyping(user) {
    clearTimeout(typingTimers.get(user));
    typingTimers.delete(user);
    renderTyping();
  }

  function clearAllTyping() {
    typingTimers.forEach((t) => clearTimeout(t));
    typingTimers.clear();
    renderTyping();
  }

  // ---- rooms and composer -----------------------------------------------------------------
  function renderRooms(rooms, current, onSwitch) {
    els.rooms.replaceChildren(...rooms.map((r) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `# ${r.name}`;
      button.dataset.room = r.name;
      if (r.description) button.title = r.description;
      if (r.name === current) button.setAttribute('aria-current', 'true');
      button.addEventListener('click', () => onSwitch(r.name));
      li.append(button);
      return li;
    }));
  }

  // A new room is shown: its title, an empty log, nobody online or typing yet.
  function openRoom(room) {
    els.title.textContent = `# ${room}`;
    list.replaceChildren();
    els.online.replaceChildren();
    clearAllTyping();
    for (const b of els.rooms.querySelectorAll('button')) {
      if (b.dataset.room === room) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
  }

  function updateCounter() {
    const length = [...els.composer.value.trim()].length;
    els.counter.textContent = length > maxChars - 500 ? `${length} / ${maxChars}` : '';
    els.counter.classList.toggle('over', length > maxChars);
  }

  return {
    setState, showError, showMessage, showPending, confirmPending, removePending, markFailed,
    keepScroll, showOnline, addOnline, removeOnline, showTyping, clearTyping, renderRooms,
    openRoom, updateCounter,
  };
}
