// chatapp's chat page: how things look. Every piece of user text goes into the page with
// textContent, never as markup. Loaded before ws_client.js, which drives it.
'use strict';

window.chatView = (els, MAX_CHARS) => {
  const STATES = {
    connecting: 'Connecting…',
    connected: 'Connected',
    reconnecting: 'Reconnecting…',
    'catching-up': 'Catching up…',
    offline: 'Offline',
  };

  function setState(state) {
    els.state.dataset.state = state;
    els.state.textContent = STATES[state] || state;
  }

  function showError(text) {
    els.error.textContent = text;
    els.error.hidden = !text;
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

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
    content.textContent = message.content;
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

  const nearBottom = () =>
    els.list.scrollHeight - els.list.scrollTop - els.list.clientHeight < 80;

  function markFailed(clientId, reason) {
    const el = els.list.querySelector(`[data-role="pending-message"][data-client-id="${CSS.escape(clientId)}"]`);
    if (!el) return;
    el.classList.add('failed');
    const note = document.createElement('span');
    note.className = 'note';
    note.textContent = ` Not sent: ${reason}`;
    el.append(note);
  }

  // ---- presence and typing -----------------------------------------------------------------
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

  // ---- rooms and composer ------------------------------------------------------------------
  function renderRooms(list, current, onSwitch) {
    els.rooms.replaceChildren(...list.map((r) => {
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

  function updateCounter() {
    const length = [...els.composer.value.trim()].length;
    els.counter.textContent = length > MAX_CHARS - 500 ? `${length} / ${MAX_CHARS}` : '';
    els.counter.classList.toggle('over', length > MAX_CHARS);
  }

  return {
    setState, showError, messageElement, regroup, nearBottom, markFailed,
    showOnline, addOnline, removeOnline, showTyping, clearTyping, clearAllTyping,
    renderRooms, updateCounter,
  };
};
