// How long to wait before trying again. Used for reconnecting, re-joining, resending what
// the server could not store, and re-fetching a catch-up that failed.

// The n-th failure in a row (n ≥ 1) waits between half and all of min(30 s, 0.5 s × 2^n):
// doubling so that a server that is down is not hammered, jittered so that the many pages
// that lost the same server do not all come back in the same instant.
export function backoff(failures, random = Math.random) {
  const ceiling = Math.min(30000, 500 * 2 ** Math.min(Math.max(failures, 1), 6));
  return ceiling / 2 + (random() * ceiling) / 2;
}

// For a close that says "come back now" (a restart, a token that expired): soon, but still
// spread over half a second so that a restarted server is not met by everyone at once.
export function soon(random = Math.random) {
  return 100 + random() * 400;
}
