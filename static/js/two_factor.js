// Two-factor sign-in on the account page: the QR code the server drew as an image the page
// can show (a data: URL, since the CSP allows no inline markup from a string), the secret
// in readable groups, and the codes typed back.

// `data:image/svg+xml;base64,…` for an SVG document: base64 of its UTF-8 bytes (btoa takes
// only Latin-1, so the bytes are spelled as such first).
export function svgDataUrl(svg) {
  let binary = '';
  for (const byte of new TextEncoder().encode(String(svg))) binary += String.fromCharCode(byte);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

// The secret in groups of four ("JBSW Y3DP EHPK 3PXP"), easier to type into an app.
export function groupSecret(secret) {
  return String(secret || '').replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');
}

// A code as typed: "123 456" is "123456"; a recovery code keeps its letters and dashes.
export const cleanCode = (code) => String(code || '').replace(/\s+/g, '');

// What is wrong with a code before it is sent, or ''. `recovery`: a recovery code is
// accepted too (turning two-factor off).
export function codeProblem(code, { recovery = false } = {}) {
  const clean = cleanCode(code);
  if (!clean) {
    return recovery ? 'Enter a code from your app, or a recovery code.' : 'Enter the 6-digit code from your app.';
  }
  if (!recovery && !/^\d{6}$/.test(clean)) return 'The code is 6 digits.';
  return '';
}

// The recovery codes as one text to copy or save, one a line.
export const codesText = (codes) => (codes || []).join('\n');
