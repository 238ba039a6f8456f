// chatapp's account page (`/account`), the entry module: where the account is signed in
// (and signing those sessions out), the password, two-factor sign-in, and closing the
// account. What is pure logic is in sessions.js, passwords.js and two_factor.js. Like
// app.js, it imports the other modules with its own `?v=<release>`.
const version = new URL(import.meta.url).search;
const [
  { createApi, errorOf, HttpError },
  { describeUserAgent, orderSessions, timeAgo, describeAddress },
  { changeProblems, changeErrorField },
  { svgDataUrl, groupSecret, cleanCode, codeProblem, codesText },
] = await Promise.all(['api.js', 'sessions.js', 'passwords.js', 'two_factor.js']
  .map((name) => import(`./${name}${version}`)));

const $ = (id) => document.getElementById(id);
const els = {
  status: $('account-status'),
  sessions: $('sessions'),
  endOthers: $('end-others'),
  passwordForm: $('password-form'),
  totp: $('totp'),
  totpBadge: $('totp-badge'),
  totpStart: $('totp-start'),
  totpQr: $('totp-qr'),
  totpSecret: $('totp-secret'),
  totpCopySecret: $('totp-copy-secret'),
  totpConfirm: $('totp-confirm-form'),
  totpCode: $('totp-code'),
  totpCancel: $('totp-cancel'),
  recoveryCodes: $('recovery-codes'),
  copyCodes: $('copy-codes'),
  codesDone: $('codes-done'),
  totpOff: $('totp-off-form'),
  totpOffCode: $('totp-off-code'),
  deactivate: $('deactivate-form'),
  deleteForm: $('delete-form'),
  signout: $('signout-form'),
};

// The session is over (ended from another device, the account deactivated): /auth/expired
// clears the cookie and shows the sign-in form.
let leaving = false;
function sessionEnded() {
  if (leaving) return;
  leaving = true;
  location.assign('/auth/expired');
}
const api = createApi({ onSignedOut: sessionEnded });

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

// A note at the bottom of the window: what was done, or why it was not.
let statusTimer = null;
function say(text, { error = false } = {}) {
  clearTimeout(statusTimer);
  els.status.textContent = text;
  els.status.hidden = !text;
  els.status.classList.toggle('error', error);
  if (text && !error) statusTimer = setTimeout(() => say(''), 8000);
}

// Runs a request; a failure of the network or the server is said in the status line (a
// 401 has signed out already). Answers undefined then.
async function attempt(what, action) {
  try {
    return await action();
  } catch (e) {
    if (!(e instanceof HttpError && e.status === 401)) say(`Could not ${what}. Please try again.`, { error: true });
    return undefined;
  }
}

// A field's error under it (and on the input, for screen readers); '' clears it.
function fieldError(input, message) {
  const note = $(`${input.id}-error`);
  if (note) note.textContent = message || '';
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    return; // plain http: no clipboard API; the text is on the page to select
  }
  const label = button.textContent;
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = label; }, 1500);
}

// ---- sessions ------------------------------------------------------------------------------
function sessionItem(session) {
  const at = (value) => {
    const date = new Date(value);
    return el('time', { dateTime: date.toISOString(), title: timeFormat.format(date) });
  };
  const created = at(session.created_at);
  created.textContent = timeFormat.format(new Date(session.created_at));
  const seen = at(session.last_seen_at);
  seen.textContent = timeAgo(session.last_seen_at);

  const device = el('div', { class: 'session-device' },
    el('strong', { title: session.user_agent || '' }, describeUserAgent(session.user_agent)));
  if (session.current) device.append(el('span', { class: 'tag current' }, 'this device'));
  const details = el('p', { class: 'session-details' },
    el('span', { class: 'addr' }, describeAddress(session.client_addr)),
    el('span', {}, 'signed in ', created),
    el('span', {}, session.current ? 'active now' : 'last active ', session.current ? '' : seen));

  const item = el('li', { dataset: { session: String(session.id), current: String(Boolean(session.current)) } },
    el('div', { class: 'session-info' }, device, details));
  if (!session.current) {
    const button = el('button', {
      type: 'button', class: 'secondary', dataset: { role: 'end-session' },
      'aria-label': `Sign out ${describeUserAgent(session.user_agent)}, ${describeAddress(session.client_addr)}`,
    }, 'Sign out');
    button.addEventListener('click', async () => {
      button.disabled = true;
      await attempt('sign that session out', async () => {
        const response = await api.endSession(session.id);
        // 404: ended meanwhile; either way it is gone from the list.
        if (response.ok || response.status === 404) say('That session is signed out.');
        else say((await errorOf(response)).message, { error: true });
      });
      await loadSessions();
    });
    item.append(button);
  }
  return item;
}

async function loadSessions() {
  const sessions = await attempt('load your sessions', () => api.sessions());
  if (!sessions) return;
  const ordered = orderSessions(sessions);
  els.sessions.replaceChildren(...ordered.map(sessionItem));
  els.endOthers.disabled = ordered.length < 2;
}

els.endOthers.addEventListener('click', async () => {
  els.endOthers.disabled = true;
  await attempt('sign the other sessions out', async () => {
    const response = await api.endOtherSessions();
    if (!response.ok) {
      say((await errorOf(response)).message, { error: true });
      return;
    }
    const { ended } = await response.json();
    say(ended === 1 ? 'One other session was signed out.' : `${ended} other sessions were signed out.`);
  });
  await loadSessions();
});

// ---- password ------------------------------------------------------------------------------
const passwordInputs = {
  current: $('current-password'),
  new: $('new-password'),
  confirm: $('confirm-password'),
};

function showPasswordProblems(problems) {
  for (const [field, input] of Object.entries(passwordInputs)) fieldError(input, problems[field]);
  const firstBad = Object.keys(passwordInputs).find((field) => problems[field]);
  if (firstBad) passwordInputs[firstBad].focus();
}

els.passwordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const values = {
    current: passwordInputs.current.value,
    next: passwordInputs.new.value,
    confirm: passwordInputs.confirm.value,
  };
  const problems = changeProblems(values);
  showPasswordProblems(problems);
  if (Object.keys(problems).length) return;
  const button = els.passwordForm.querySelector('button[type=submit]');
  button.disabled = true;
  await attempt('change the password', async () => {
    const response = await api.changePassword(values.current, values.next);
    if (response.ok) {
      els.passwordForm.reset();
      say('Your password was changed. Your other sessions were signed out.');
      return;
    }
    const error = await errorOf(response);
    const field = changeErrorField(error);
    if (field) showPasswordProblems({ [field]: error.message });
    else say(error.message, { error: true });
  });
  button.disabled = false;
  loadSessions();
});

// ---- two-factor sign-in --------------------------------------------------------------------
// The card shows one of: loading, off, enrolling (the QR code and a code field), codes (the
// recovery codes, once), on.
function totpState(state) {
  els.totp.dataset.state = state;
  for (const part of els.totp.querySelectorAll('[data-show]')) part.hidden = part.dataset.show !== state;
  const on = state === 'on' || state === 'codes';
  els.totpBadge.hidden = state === 'loading';
  els.totpBadge.textContent = on ? 'On' : 'Off';
  els.totpBadge.className = on ? 'badge ok' : 'badge';
}

async function loadTotp() {
  const me = await attempt('check two-factor sign-in', () => api.me());
  if (me) totpState(me.totp ? 'on' : 'off');
}

els.totpStart.addEventListener('click', async () => {
  els.totpStart.disabled = true;
  await attempt('start two-factor sign-in', async () => {
    const response = await api.totp.start();
    if (!response.ok) {
      say((await errorOf(response)).message, { error: true });
      return;
    }
    const { secret, qr_svg: svg } = await response.json();
    els.totpQr.src = svgDataUrl(svg);
    els.totpSecret.textContent = groupSecret(secret);
    els.totpSecret.dataset.secret = secret;
    els.totpConfirm.reset();
    fieldError(els.totpCode, '');
    totpState('enrolling');
    els.totpCode.focus();
  });
  els.totpStart.disabled = false;
});

// Leaves nothing of the enrolment on the page once it is over.
function forgetEnrolment() {
  els.totpQr.removeAttribute('src');
  els.totpSecret.textContent = '';
  els.totpSecret.dataset.secret = '';
}

els.totpCopySecret.addEventListener('click', () =>
  copy(els.totpSecret.dataset.secret, els.totpCopySecret));

els.totpCancel.addEventListener('click', () => {
  forgetEnrolment();
  totpState('off');
});

els.totpConfirm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = codeProblem(els.totpCode.value);
  fieldError(els.totpCode, problem);
  if (problem) return;
  const button = els.totpConfirm.querySelector('button[type=submit]');
  button.disabled = true;
  await attempt('turn on two-factor sign-in', async () => {
    const response = await api.totp.confirm(cleanCode(els.totpCode.value));
    if (!response.ok) {
      fieldError(els.totpCode, (await errorOf(response, 'That code was not accepted.')).message);
      els.totpCode.select();
      return;
    }
    const { recovery_codes: codes } = await response.json();
    forgetEnrolment();
    els.recoveryCodes.replaceChildren(...codes.map((code) =>
      el('li', {}, el('code', { dataset: { role: 'recovery-code' } }, code))));
    totpState('codes');
    els.codesDone.focus();
  });
  button.disabled = false;
});

els.copyCodes.addEventListener('click', () => {
  const codes = [...els.recoveryCodes.querySelectorAll('code')].map((c) => c.textContent);
  copy(codesText(codes), els.copyCodes);
});

els.codesDone.addEventListener('click', () => {
  els.recoveryCodes.replaceChildren(); // shown once
  totpState('on');
  say('Two-factor sign-in is on.');
});

els.totpOff.addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = codeProblem(els.totpOffCode.value, { recovery: true });
  fieldError(els.totpOffCode, problem);
  if (problem) return;
  const button = els.totpOff.querySelector('button[type=submit]');
  button.disabled = true;
  await attempt('turn off two-factor sign-in', async () => {
    const response = await api.totp.disable(cleanCode(els.totpOffCode.value));
    if (!response.ok) {
      fieldError(els.totpOffCode, (await errorOf(response, 'That code was not accepted.')).message);
      return;
    }
    els.totpOff.reset();
    totpState('off');
    say('Two-factor sign-in is off.');
  });
  button.disabled = false;
});

// ---- closing the account -------------------------------------------------------------------
// Each form asks for the password, then for a second, explicit yes.
function closeForm(form, { request, what }) {
  const password = form.querySelector('input[type=password]');
  const confirm = form.querySelector('[data-role=confirm]');
  const ask = form.querySelector('[data-role=ask]');
  let armed = false;
  const disarm = () => {
    armed = false;
    confirm.hidden = true;
    ask.hidden = false;
  };
  form.querySelector('[data-role=confirm-no]').addEventListener('click', () => {
    disarm();
    password.focus();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!password.value) {
      fieldError(password, 'Enter your password.');
      password.focus();
      return;
    }
    fieldError(password, '');
    if (!armed) {
      armed = true;
      ask.hidden = true;
      confirm.hidden = false;
      form.querySelector('[data-role=confirm-yes]').focus();
      return;
    }
    const buttons = form.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    await attempt(what, async () => {
      const response = await request(password.value);
      if (response.ok) {
        leaving = true;
        location.assign('/auth/expired'); // the session ended with the account
        return;
      }
      const error = await errorOf(response);
      disarm();
      fieldError(password, error.message);
      password.select();
    });
    if (!leaving) buttons.forEach((b) => { b.disabled = false; });
  });
}
closeForm(els.deactivate, { request: api.deactivate, what: 'deactivate the account' });
closeForm(els.deleteForm, { request: api.deleteAccount, what: 'delete the account' });

els.signout.addEventListener('submit', () => {
  leaving = true;
});

await Promise.all([loadSessions(), loadTotp()]);
