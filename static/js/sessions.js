// The account page's list of sessions (where the account is signed in): a device in a few
// words from its user agent, the order of the list, and how long ago something happened.

// Browsers, most specific first: Edge and Opera also say "Chrome", Chrome also says
// "Safari".
const BROWSERS = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\b(?:OPR|Opera)\//, 'Opera'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(?:HeadlessChrome|Chrome|CriOS)\//, 'Chrome'],
  [/\bChromium\//, 'Chromium'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

// Systems, most specific first: Android also says "Linux", an iPhone "like Mac OS X".
const SYSTEMS = [
  [/\biPhone\b/, 'iPhone'],
  [/\biPad\b/, 'iPad'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\b(?:Macintosh|Mac OS X)\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

const first = (table, ua) => table.find(([pattern]) => pattern.test(ua))?.[1];

// "Chrome on Linux", "Safari on iPhone", "curl" (a program's own name), or the user agent
// itself cut short when it says nothing known.
export function describeUserAgent(ua) {
  const text = String(ua ?? '').trim();
  if (!text) return 'Unknown device';
  const browser = first(BROWSERS, text);
  const system = first(SYSTEMS, text);
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  const program = /^([A-Za-z][\w.-]*)\/[\w.]/.exec(text);
  if (program && program[1] !== 'Mozilla') return program[1];
  if (system) return `A browser on ${system}`;
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

const time = (value) => {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? 0 : ms;
};

// This device's session first, then the others, the most recently used first.
export function orderSessions(sessions) {
  return [...(sessions || [])].sort((a, b) =>
    Number(Boolean(b.current)) - Number(Boolean(a.current)) ||
    time(b.last_seen_at) - time(a.last_seen_at) ||
    time(b.created_at) - time(a.created_at));
}

const UNITS = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

// "just now", "5 minutes ago", "yesterday", "3 weeks ago" (in `locale`'s words).
export function timeAgo(then, now = Date.now(), locale = undefined) {
  const seconds = Math.max(0, Math.round((now - time(then)) / 1000));
  if (seconds < 60) return 'just now';
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const [unit, size] = UNITS.find(([, s]) => seconds >= s);
  return format.format(-Math.floor(seconds / size), unit);
}

// The address a session signed in from, as shown.
export const describeAddress = (addr) => (addr ? String(addr) : 'address unknown');
