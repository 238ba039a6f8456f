// The account page's logic: sessions (a device in a few words, the order, how long ago),
// the change-password form's checks, and two-factor sign-in (the QR code as an image, the
// secret in groups, the codes typed back).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { describeUserAgent, orderSessions, timeAgo, describeAddress } from '../../static/js/sessions.js';
import { passwordProblem, changeProblems, changeErrorField } from '../../static/js/passwords.js';
import { svgDataUrl, groupSecret, cleanCode, codeProblem, codesText } from '../../static/js/two_factor.js';

const UA = {
  chromeLinux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  headless: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51',
  firefoxMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  chromeAndroid: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  firefoxWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
};

test('a user agent reads as a browser on a system, or a program by its name', () => {
  assert.equal(describeUserAgent(UA.chromeLinux), 'Chrome on Linux');
  assert.equal(describeUserAgent(UA.headless), 'Chrome on Linux');
  assert.equal(describeUserAgent(UA.edge), 'Edge on Windows', 'not Chrome, though it says so too');
  assert.equal(describeUserAgent(UA.firefoxMac), 'Firefox on macOS');
  assert.equal(describeUserAgent(UA.safariIphone), 'Safari on iPhone', 'not macOS, though it says "Mac OS X"');
  assert.equal(describeUserAgent(UA.chromeAndroid), 'Chrome on Android', 'not Linux');
  assert.equal(describeUserAgent(UA.firefoxWindows), 'Firefox on Windows');
  assert.equal(describeUserAgent('curl/8.5.0'), 'curl');
  assert.equal(describeUserAgent('awc/3.5.1'), 'awc');
  assert.equal(describeUserAgent('python-requests/2.31.0'), 'python-requests');
  assert.equal(describeUserAgent(''), 'Unknown device');
  assert.equal(describeUserAgent(null), 'Unknown device');
  assert.equal(describeUserAgent('Mozilla/5.0 (X11; Linux x86_64) SomethingElse'), 'A browser on Linux');
  const long = 'x'.repeat(100);
  assert.equal(describeUserAgent(long), `${'x'.repeat(39)}…`);
  assert.equal(describeUserAgent('<b>odd</b>'), '<b>odd</b>', 'shown as text by the page');
});

test('sessions: this device first, then the most recently used', () => {
  const sessions = [
    { id: 'a', current: false, created_at: '2024-05-01T10:00:00Z', last_seen_at: '2024-05-02T10:00:00Z' },
    { id: 'b', current: false, created_at: '2024-05-03T10:00:00Z', last_seen_at: '2024-05-03T11:00:00Z' },
    { id: 'c', current: true, created_at: '2024-04-01T10:00:00Z', last_seen_at: '2024-05-01T09:00:00Z' },
    { id: 'd', current: false, created_at: '2024-05-04T10:00:00Z', last_seen_at: '2024-05-02T10:00:00Z' },
  ];
  assert.deepEqual(orderSessions(sessions).map((s) => s.id), ['c', 'b', 'd', 'a']);
  assert.deepEqual(sessions.map((s) => s.id), ['a', 'b', 'c', 'd'], 'the list given is left as it was');
  assert.deepEqual(orderSessions(undefined), []);
});

test('how long ago, in words', () => {
  const now = Date.parse('2024-05-10T12:00:00Z');
  const ago = (seconds) => new Date(now - seconds * 1000).toISOString();
  assert.equal(timeAgo(ago(5), now, 'en'), 'just now');
  assert.equal(timeAgo(ago(-30), now, 'en'), 'just now', 'a clock a little ahead');
  assert.equal(timeAgo(ago(5 * 60), now, 'en'), '5 minutes ago');
  assert.equal(timeAgo(ago(3 * 3600 + 100), now, 'en'), '3 hours ago');
  assert.equal(timeAgo(ago(26 * 3600), now, 'en'), 'yesterday');
  assert.equal(timeAgo(ago(15 * 24 * 3600), now, 'en'), '2 weeks ago');
  assert.equal(timeAgo(ago(400 * 24 * 3600), now, 'en'), 'last year');
});

test('an address, or that it is not known', () => {
  assert.equal(describeAddress('203.0.113.7'), '203.0.113.7');
  assert.equal(describeAddress('2001:db8::1'), '2001:db8::1');
  assert.equal(describeAddress(null), 'address unknown');
});

test('a new password: at least 8 characters, at most 72 bytes of UTF-8, as the server counts', () => {
  assert.equal(passwordProblem('short'), 'At least 8 characters.');
  assert.equal(passwordProblem('éééé'), 'At least 8 characters.', '8 bytes, but 4 characters');
  assert.equal(passwordProblem('😀😀😀😀😀😀😀😀'), '', '8 characters (of 2 UTF-16 units each)');
  assert.equal(passwordProblem('long enough'), '');
  assert.equal(passwordProblem('a'.repeat(72)), '');
  assert.match(passwordProblem('a'.repeat(73)), /At most 72 bytes/);
  assert.match(passwordProblem('é'.repeat(37)), /At most 72 bytes/, '37 characters, 74 bytes');
  assert.equal(passwordProblem('é'.repeat(36)), '');
});

test('the change-password form: each field its own problem, the confirmation checked here', () => {
  assert.deepEqual(changeProblems({ current: 'old password', next: 'new password', confirm: 'new password' }), {});
  assert.deepEqual(changeProblems({ current: '', next: 'new password', confirm: 'new password' }),
    { current: 'Enter your current password.' });
  assert.deepEqual(changeProblems({ current: 'old password', next: 'new password', confirm: 'new passwort' }),
    { confirm: 'The two new passwords differ.' });
  assert.deepEqual(changeProblems({ current: 'old password', next: 'short', confirm: 'short' }),
    { new: 'At least 8 characters.' });
  assert.deepEqual(Object.keys(changeProblems({ current: 'same password', next: 'same password', confirm: 'same password' })),
    ['new']);
});

test("the server's answer to a password change goes under the field it is about", () => {
  assert.equal(changeErrorField({ code: 'wrong_password', message: 'the current password is wrong' }), 'current');
  assert.equal(changeErrorField({ code: 'invalid_field', field: 'new', message: 'too long' }), 'new');
  assert.equal(changeErrorField({ code: 'invalid_field', field: 'password', message: 'too long' }), 'new');
  assert.equal(changeErrorField({ code: 'rate_limited', message: 'wait' }), null);
  assert.equal(changeErrorField(null), null);
});

test('the QR code, an SVG document, becomes a base64 data: URL of its UTF-8 bytes', () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><title>chatapp: ann — ✓</title></svg>';
  const url = svgDataUrl(svg);
  assert.ok(url.startsWith('data:image/svg+xml;base64,'), url);
  const decoded = Buffer.from(url.slice('data:image/svg+xml;base64,'.length), 'base64').toString('utf8');
  assert.equal(decoded, svg, 'characters outside Latin-1 survive');
});

test('the secret in groups of four; codes as typed', () => {
  assert.equal(groupSecret('JBSWY3DPEHPK3PXP'), 'JBSW Y3DP EHPK 3PXP');
  assert.equal(groupSecret('JBSWY3DPEHPK3PXPAB'), 'JBSW Y3DP EHPK 3PXP AB');
  assert.equal(groupSecret(' JBSW Y3DP '), 'JBSW Y3DP');
  assert.equal(cleanCode(' 123 456 '), '123456');
  assert.equal(cleanCode('abcd-efgh'), 'abcd-efgh');
  assert.equal(codeProblem('123456'), '');
  assert.equal(codeProblem('123 456'), '');
  assert.equal(codeProblem(''), 'Enter the 6-digit code from your app.');
  assert.equal(codeProblem('12345'), 'The code is 6 digits.');
  assert.equal(codeProblem('abcd-efgh'), 'The code is 6 digits.');
  assert.equal(codeProblem('abcd-efgh', { recovery: true }), '', 'a recovery code turns it off too');
  assert.equal(codeProblem(' ', { recovery: true }), 'Enter a code from your app, or a recovery code.');
  assert.equal(codesText(['a', 'b']), 'a\nb');
});
