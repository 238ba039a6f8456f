// Password forms (the account page's change of password): what to say before asking the
// server, by its rules (at least 8 characters, at most 72 bytes of UTF-8: bcrypt reads no
// further), and where the server's own answer belongs.

export const MIN_CHARS = 8;
export const MAX_BYTES = 72;

const bytes = (text) => new TextEncoder().encode(text).length;

// What is wrong with a new password, or '' when nothing is.
export function passwordProblem(password) {
  const text = password || '';
  if ([...text].length < MIN_CHARS) return `At least ${MIN_CHARS} characters.`;
  if (bytes(text) > MAX_BYTES) {
    return `At most ${MAX_BYTES} bytes: choose a shorter one (letters outside English count as 2 to 4).`;
  }
  return '';
}

// The problems of the change-password form, by field (`current`, `new`, `confirm`); empty
// when it may be sent.
export function changeProblems({ current, next, confirm }) {
  const problems = {};
  if (!current) problems.current = 'Enter your current password.';
  const problem = passwordProblem(next);
  if (problem) problems.new = problem;
  else if (next === current) problems.new = 'That is your current password: choose a new one.';
  if (!problems.new && confirm !== next) problems.confirm = 'The two new passwords differ.';
  return problems;
}

// The form's field for an error the server gave (`{"error": {"code", "message", "field"}}`)
// in answer to `POST /api/me/password`: a wrong current password, or a new one refused.
export function changeErrorField(error) {
  if (!error) return null;
  if (error.code === 'wrong_password' || error.field === 'current') return 'current';
  if (error.field === 'new' || error.field === 'password') return 'new';
  return null;
}
