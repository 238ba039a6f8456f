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

  // Who is online: each name a button that starts a direct conversation with them (app.js
  // listens for clicks on [data-role="new-dm"]); my own name is plain text.
  function showOnline(users) {
    els.online.replaceChildren(...users.map((user) => {
      const li = document.createElement('li');
      li.dataset.user = user;
      if (user.toLowerCase() === me.toLowerCase()) {
        const self = document.createElement('span');
        self.className = 'self';
        self.textContent = user;
        li.append(self);
      } else {
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.role = 'new-dm';
        button.dataset.user = user;
        button.title = `Send ${user} a direct message`;
        button.textContent = user;
        li.append(button);
      }
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
  function roomButton({ room, label }, current, onSwitch) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.room = room.name;
    button.dataset.kind = room.kind || 'public';
    const name = document.createElement('span');
    name.className = 'room-label';
    name.textContent = room.kind === 'direct' ? label : `# ${label}`;
    button.append(name);
    if (room.kind === 'private') button.append(lock());
    if (room.archived) {
      button.classList.add('archived');
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'archived';
      button.append(tag);
    }
    button.title = room.description || name.textContent;
    if (room.name === current) button.setAttribute('aria-current', 'true');
    button.addEventListener('click', () => onSwitch(room.name));
    li.append(button);
    return li;
  }

  // A lock mark, drawn by the stylesheet; screen readers hear "private".
  function lock() {
    const mark = document.createElement('span');
    mark.className = 'lock';
    mark.title = 'Private room';
    const words = document.createElement('span');
    words.className = 'visually-hidden';
    words.textContent = ' (private)';
    mark.append(words);
    return mark;
  }

  // groups: {rooms, direct}, each [{room, label}] (see workspace.js groupRooms).
  function renderRooms(groups, current, onSwitch) {
    els.rooms.replaceChildren(...groups.rooms.map((e) => roomButton(e, current, onSwitch)));
    els.dms.replaceChildren(...groups.direct.map((e) => roomButton(e, current, onSwitch)));
    els.dmHint.hidden = groups.direct.length > 0;
  }

  // A new room is shown: its title, an empty log, nobody online or typing yet.
  function openRoom(room, title = `# ${room}`) {
    els.title.textContent = title;
    list.replaceChildren();
    els.online.replaceChildren();
    clearAllTyping();
    showNotice('');
    for (const b of [...els.rooms.querySelectorAll('button'), ...els.dms.querySelectorAll('button')]) {
      if (b.dataset.room === room) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
  }

  // The shown room's header and composer: its title (with a lock if private), its people
  // (private and direct rooms), the add-people and leave controls, read only if archived.
  function showRoomInfo({ title, kind, members, controls }) {
    els.title.textContent = title;
    if (kind === 'private') els.title.append(lock());
    if (kind === 'direct') {
      els.members.hidden = false;
      els.members.textContent = 'Direct message';
    } else {
      els.members.hidden = !controls.showMembers || !members;
      els.members.textContent = members ? `Members: ${members.join(', ')}` : '';
    }
    els.addMember.hidden = !controls.addPeople;
    els.leave.hidden = !controls.leave;
    els.tools.hidden = !controls.addPeople && !controls.leave;
    els.readOnly.hidden = !controls.readOnly;
    els.composer.disabled = controls.readOnly;
    els.form.querySelector('button[type="submit"]').disabled = controls.readOnly;
    const narrow = globalThis.matchMedia?.('(max-width: 600px)').matches;
    els.composer.placeholder = controls.readOnly ? 'This room is archived: it is read only.'
      : narrow ? 'Write a message…' : 'Write a message… (Enter sends, Shift+Enter for a new line)';
  }

  // A note above the messages (you left a room, someone was added); empty hides it.
  function showNotice(text, { error = false } = {}) {
    els.notice.textContent = text;
    els.notice.hidden = !text;
    els.notice.classList.toggle('error', error);
  }

  function updateCounter() {
    const length = [...els.composer.value.trim()].length;
    els.counter.textContent = length > maxChars - 500 ? `${length} / ${maxChars}` : '';
    els.counter.classList.toggle('over', length > maxChars);
  }

  return {
    setState, showError, showMessage, showPending, confirmPending, removePending, markFailed,
    keepScroll, showOnline, addOnline, removeOnline, showTyping, clearTyping, renderRooms,
    openRoom, showRoomInfo, showNotice, updateCounter,
  };
}
