// chatapp's admin page (`/admin`), the entry module: people and their roles, deactivation,
// the join link and one-person invites, archiving rooms, and the audit log. What is pure
// logic (sorting, what may be done to whom, how an audit entry reads) is in workspace.js.
// Like app.js, it imports the other modules with its own `?v=<release>`.
const version = new URL(import.meta.url).search;
const [
  { createApi, errorMessage, HttpError },
  { ROLES, sortUsers, userActions, auditSentence, absoluteUrl },
] = await Promise.all(['api.js', 'workspace.js'].map((name) => import(`./${name}${version}`)));

const $ = (id) => document.getElementById(id);
const me = $('admin').dataset.username;
const els = {
  status: $('admin-status'),
  users: $('users-body'),
  usersCount: $('users-count'),
  joinUrl: $('join-url'),
  copyJoin: $('copy-join'),
  rotate: $('rotate-join'),
  newInvite: $('new-invite'),
  invites: $('invite-list'),
  rooms: $('admin-rooms'),
  audit: $('audit-log'),
  auditRefresh: $('audit-refresh'),
  resetLinks: $('reset-links'),
  signout: $('signout-form'),
};

let leaving = false;
const api = createApi({
  // The session ended (signed out elsewhere, the account deactivated): /auth/expired clears
  // the session cookie, then the sign-in form.
  onSignedOut() {
    if (leaving) return;
    leaving = true;
    location.assign('/auth/expired');
  },
});

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.includes('-')) node.setAttribute(key, value);
    else if (key === 'class') node.className = value;
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

// A note at the top of the page: what was done, or why it was not.
let statusTimer = null;
function say(text, { error = false } = {}) {
  clearTimeout(statusTimer);
  els.status.textContent = text;
  els.status.hidden = !text;
  els.status.classList.toggle('error', error);
  if (text && !error) statusTimer = setTimeout(() => say(''), 8000);
}

// Runs an action; a failure is said in the status line (a 401 signs out).
async function attempt(what, action) {
  try {
    return await action();
  } catch (e) {
    if (e instanceof HttpError && e.status === 401) return undefined;
    say(e instanceof HttpError && e.status === 403
      ? 'This needs an administrator: your role may have changed. Reload the page.'
      : `Could not ${what}. Please try again.`, { error: true });
    return undefined;
  }
}

// Sends a change; answers whether it was taken, saying why not otherwise.
async function change(response) {
  if (response.ok) return true;
  say(await errorMessage(response), { error: true });
  return false;
}

// ---- people --------------------------------------------------------------------------------
function userRow(user) {
  const can = userActions(user, me);
  const line = el('div', { class: 'user-line' }, el('strong', {}, user.username));
  if (user.display_name) line.append(el('span', { class: 'display-name' }, user.display_name));
  if (!can.changeRole) line.append(el('span', { class: 'tag' }, 'you'));
  const name = el('td', { class: 'user-name' }, line);

  const select = el('select', {
    dataset: { role: 'role-select', user: user.username },
    disabled: !can.changeRole,
    'aria-label': `Role of ${user.username}`,
  }, ...ROLES.map((role) => el('option', { value: role }, role)));
  select.value = user.role;
  select.addEventListener('change', async () => {
    const role = select.value;
    select.disabled = true;
    const ok = await attempt('change the role', async () =>
      change(await api.admin.updateUser(user.username, { role })));
    if (ok) say(`${user.username} is now ${role === 'admin' ? 'an' : 'a'} ${role}.`);
    await Promise.all([loadUsers(), loadAudit()]);
  });

  const status = el('span', { class: user.active ? 'badge ok' : 'badge off' },
    user.active ? 'Active' : 'Deactivated');
  const toggle = el('button', {
    type: 'button',
    class: user.active ? 'secondary danger' : 'secondary',
    dataset: { role: 'toggle-active', user: user.username },
    disabled: !can.toggleActive,
  }, can.activeLabel);
  let armed = null;
  toggle.addEventListener('click', async () => {
    // Deactivating signs the person out everywhere: it takes a second click.
    if (user.active && !armed) {
      toggle.textContent = `Deactivate ${user.username}?`;
      toggle.classList.add('armed');
      armed = setTimeout(() => {
        armed = null;
        toggle.textContent = can.activeLabel;
        toggle.classList.remove('armed');
      }, 5000);
      return;
    }
    clearTimeout(armed);
    toggle.disabled = true;
    const ok = await attempt('change the account', async () =>
      change(await api.admin.updateUser(user.username, { active: can.nextActive })));
    if (ok) say(can.nextActive ? `${user.username} can sign in again.` : `${user.username} is deactivated and signed out.`);
    await Promise.all([loadUsers(), loadAudit()]);
  });

  const reset = el('button', {
    type: 'button',
    class: 'secondary',
    dataset: { role: 'reset-link', user: user.username },
    title: `A one-hour link for ${user.username} to choose a new password`,
  }, 'Reset link');
  reset.addEventListener('click', async () => {
    reset.disabled = true;
    await attempt('create a reset link', async () => {
      const response = await api.admin.resetLink(user.username);
      if (!(await change(response))) return;
      showResetLink(user.username, await response.json());
      say(`A password reset link for ${user.username} was created: send it to them.`);
    });
    reset.disabled = false;
    loadAudit();
  });

  const joined = new Date(user.created_at);
  return el('tr', { dataset: { user: user.username, active: String(user.active) } },
    name,
    el('td', { dataset: { label: 'Role' } }, select),
    el('td', { dataset: { label: 'Status' } }, status),
    el('td', { dataset: { label: 'Joined' } },
      el('time', { dateTime: joined.toISOString(), title: timeFormat.format(joined) }, dateFormat.format(joined))),
    el('td', { class: 'actions' }, el('div', { class: 'action-buttons' }, reset, toggle)));
}

// A reset link just made, under the table: the full address to copy, and until when it
// works (one use, one hour). A newer link for the same person takes the older one's place.
function showResetLink(username, { url, expires_at: expiresAt }) {
  const input = el('input', {
    type: 'text', readOnly: true, value: absoluteUrl(url, location.origin),
    id: `reset-url-${els.resetLinks.children.length}`,
    dataset: { role: 'reset-url', user: username },
  });
  const button = el('button', { type: 'button', class: 'secondary' }, 'Copy');
  button.addEventListener('click', () => copy(input, button));
  const expires = new Date(expiresAt);
  const item = el('li', { dataset: { user: username } },
    el('label', { htmlFor: input.id }, `Password reset link for ${username}`),
    el('div', { class: 'inline' }, input, button),
    el('p', { class: 'hint' }, `Works once, until ${timeFormat.format(expires)}. Anyone with it can set the password: send it to ${username} only.`));
  els.resetLinks.querySelector(`li[data-user="${CSS.escape(username)}"]`)?.remove();
  els.resetLinks.prepend(item);
  els.resetLinks.hidden = false;
  input.focus();
  input.select();
}

async function loadUsers() {
  const users = await attempt('load the people', () => api.admin.users());
  if (!users) return;
  const active = users.filter((u) => u.active).length;
  els.usersCount.textContent = `${active} active of ${users.length}`;
  els.users.replaceChildren(...sortUsers(users).map(userRow));
}

// ---- invitations ---------------------------------------------------------------------------
function showJoinCode({ code, url }) {
  els.joinUrl.value = absoluteUrl(url, location.origin);
  els.joinUrl.dataset.code = code;
}

async function loadJoinCode() {
  const code = await attempt('load the join link', () => api.admin.joinCode());
  if (code) showJoinCode(code);
}

els.rotate.addEventListener('click', async () => {
  els.rotate.disabled = true;
  await attempt('rotate the join link', async () => {
    const response = await api.admin.rotateJoinCode();
    if (!(await change(response))) return;
    showJoinCode(await response.json());
    say('The join link is new; the old one no longer works.');
  });
  els.rotate.disabled = false;
  loadAudit();
});

async function copy(input, button) {
  input.select();
  try {
    await navigator.clipboard.writeText(input.value);
  } catch (_) {
    document.execCommand?.('copy'); // plain http: no clipboard API
  }
  const label = button.textContent;
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = label; }, 1500);
}
els.copyJoin.addEventListener('click', () => copy(els.joinUrl, els.copyJoin));

els.newInvite.addEventListener('click', async () => {
  els.newInvite.disabled = true;
  await attempt('create an invite', async () => {
    const response = await api.admin.invite();
    if (!(await change(response))) return;
    const invite = await response.json();
    const input = el('input', {
      type: 'text', readOnly: true, value: absoluteUrl(invite.url, location.origin),
      'aria-label': 'One-person invite link', dataset: { code: invite.code },
    });
    const button = el('button', { type: 'button', class: 'secondary' }, 'Copy');
    button.addEventListener('click', () => copy(input, button));
    const expires = new Date(invite.expires_at);
    els.invites.prepend(el('li', {}, el('div', { class: 'inline' }, input, button),
      el('p', { class: 'hint' }, `Good once, until ${timeFormat.format(expires)}.`)));
    say('A one-person invite was created: send its link to the person.');
  });
  els.newInvite.disabled = false;
  loadAudit();
});

// ---- rooms ---------------------------------------------------------------------------------
function roomItem(room) {
  const name = el('span', { class: 'room-label' }, `# ${room.name}`);
  const marks = el('span', { class: 'marks' });
  if (room.kind === 'private') marks.append(el('span', { class: 'tag' }, 'private'));
  if (room.archived) marks.append(el('span', { class: 'tag' }, 'archived'));
  const button = el('button', {
    type: 'button',
    class: 'secondary',
    dataset: { role: 'archive-room', room: room.name },
  }, room.archived ? 'Unarchive' : 'Archive');
  button.addEventListener('click', async () => {
    button.disabled = true;
    const archived = !room.archived;
    const ok = await attempt('change the room', async () =>
      change(await api.admin.setArchived(room.name, archived)));
    if (ok) say(archived ? `#${room.name} is archived: read only.` : `#${room.name} is open again.`);
    await Promise.all([loadRooms(), loadAudit()]);
  });
  return el('li', { dataset: { room: room.name, archived: String(Boolean(room.archived)) } },
    el('span', { class: 'room-name-line' }, name, marks), button);
}

async function loadRooms() {
  const rooms = await attempt('load the rooms', () => api.rooms());
  if (!rooms) return;
  const shown = rooms.filter((r) => r.kind !== 'direct').sort((a, b) => a.name.localeCompare(b.name));
  els.rooms.replaceChildren(...shown.map(roomItem));
}

// ---- the audit log -------------------------------------------------------------------------
async function loadAudit() {
  const entries = await attempt('load the audit log', () => api.admin.audit());
  if (!entries) return;
  if (entries.length === 0) {
    els.audit.replaceChildren(el('li', { class: 'hint' }, 'Nothing yet.'));
    return;
  }
  els.audit.replaceChildren(...entries.map((entry) => {
    const at = new Date(entry.at);
    return el('li', { dataset: { action: entry.action, id: String(entry.id) } },
      el('time', { dateTime: at.toISOString() }, timeFormat.format(at)),
      el('span', { class: 'what' }, auditSentence(entry)));
  }));
}
els.auditRefresh.addEventListener('click', loadAudit);

els.signout.addEventListener('submit', () => {
  leaving = true;
});

await Promise.all([loadUsers(), loadJoinCode(), loadRooms(), loadAudit()]);
