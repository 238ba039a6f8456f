// Rooms, people and the admin page's lists as the pages show them: which group a room goes
// in, what a direct room is called, what may be done in a room, how an audit entry reads.
// No DOM and no I/O, so `tests/js/workspace.test.mjs` tests it in node.

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });
const sameUser = (a, b) => typeof a === 'string' && typeof b === 'string' &&
  a.toLowerCase() === b.toLowerCase();

export const isDirect = (room) => Boolean(room) && room.kind === 'direct';
export const isPrivate = (room) => Boolean(room) && room.kind === 'private';

// What a direct room is called for `me`: the other people in it, by name, sorted ("ann,
// bob"). A room of one's own (everyone else left) is "me (you)". `members` unknown yet
// (null): a neutral placeholder, never the generated dm-… name.
export function directLabel(members, me) {
  if (!Array.isArray(members)) return 'Direct message';
  const others = [...new Set(members.filter((m) => !sameUser(m, me)))].sort(collator.compare);
  return others.length ? others.join(', ') : `${me} (you)`;
}

// The name a room goes by in the sidebar and its title: `# name` for rooms, the other
// people's names for a direct room. members: Map of room name -> usernames.
export function roomLabel(room, members, me) {
  if (isDirect(room)) return directLabel(members.get(room.name) ?? null, me);
  return room.name;
}

// The sidebar's two groups: "Rooms" (public and private; archived ones last) and "Direct
// messages" (by the names they are shown with). Each entry is {room, label}.
export function groupRooms(rooms, members, me) {
  const entries = (rooms || []).map((room) => ({ room, label: roomLabel(room, members, me) }));
  const byLabel = (a, b) => collator.compare(a.label, b.label) || collator.compare(a.room.name, b.room.name);
  const channels = entries.filter((e) => !isDirect(e.room))
    .sort((a, b) => Number(Boolean(a.room.archived)) - Number(Boolean(b.room.archived)) || byLabel(a, b));
  const direct = entries.filter((e) => isDirect(e.room)).sort(byLabel);
  return { rooms: channels, direct };
}

// The direct rooms whose people are not known yet (their names must be fetched).
export function unlabelled(rooms, members) {
  return (rooms || []).filter((r) => isDirect(r) && !members.has(r.name)).map((r) => r.name);
}

// What the room on screen offers: adding people and leaving are for the members of a
// private room (a public room is open to all; a direct room's people are fixed); an
// archived room is read only.
export function roomControls(room) {
  const member = Boolean(room) && room.member !== false;
  return {
    addPeople: isPrivate(room) && member && !room.archived,
    leave: isPrivate(room) && member,
    readOnly: Boolean(room && room.archived),
    // A direct room is already called by its people.
    showMembers: isPrivate(room),
  };
}

// What a member_added / member_removed frame means for the page: `me` removed from the
// room on screen (switch away), or the list of its people changed (fetch it again).
export function membershipChange(frame, me, shown) {
  if (!frame || (frame.type !== 'member_added' && frame.type !== 'member_removed')) return null;
  if (frame.room !== shown) return { refreshRooms: sameUser(frame.user, me) };
  const removedMe = frame.type === 'member_removed' && sameUser(frame.user, me);
  return { removedMe, refreshMembers: !removedMe, refreshRooms: sameUser(frame.user, me) };
}

// Why we left a room, in words: by ourselves or because someone removed us.
export function removalNotice(frame, me, label) {
  return sameUser(frame.sender, me) ? `You left ${label}.` : `${frame.sender} removed you from ${label}.`;
}

// Room names as the server takes them: 1–64 of [a-z0-9_-].
export const ROOM_NAME = /^[a-z0-9_-]{1,64}$/;

export function roomNameProblem(name) {
  if (!name) return 'Give the room a name.';
  if (name.length > 64) return 'At most 64 characters.';
  if (!ROOM_NAME.test(name)) return 'Use lower-case letters, digits, “_” and “-” only.';
  return '';
}

// ---- the admin page ----------------------------------------------------------------------

export const ROLES = ['admin', 'member', 'bot'];

// Users in the admin table: active ones first, then by name.
export function sortUsers(users) {
  return [...(users || [])].sort((a, b) =>
    Number(!a.active) - Number(!b.active) || collator.compare(a.username, b.username));
}

// What an admin may do to a user in the table: not demote or deactivate themselves (the
// server refuses it too: a workspace keeps its administrator).
export function userActions(user, me) {
  const self = sameUser(user.username, me);
  return {
    changeRole: !self,
    toggleActive: !self,
    activeLabel: user.active ? 'Deactivate' : 'Reactivate',
    nextActive: !user.active,
  };
}

// One audit entry as a sentence. A null actor is an operator at the command line.
export function auditSentence(entry) {
  const who = entry.actor || 'An operator (command line)';
  const t = entry.target;
  switch (entry.action) {
    case 'set_role': return `${who} made ${t} ${article(entry.detail)} ${entry.detail}`;
    case 'deactivate': return `${who} deactivated ${t}`;
    case 'reactivate': return `${who} reactivated ${t}`;
    case 'rotate_join_code': return `${who} rotated the join link`;
    case 'invite': return `${who} created a one-person invite`;
    case 'archive': return `${who} archived #${t}`;
    case 'unarchive': return `${who} unarchived #${t}`;
    case 'set_password': return `${who} set a new password for ${t}`;
    case 'reset_link': return `${who} made a password reset link for ${t}`;
    case 'deactivate_self': return `${t} deactivated their own account`;
    case 'delete_self': return `${t} deleted their account`;
    case 'totp_enable': return `${t} turned on two-factor sign-in`;
    case 'totp_disable': return `${t} turned off two-factor sign-in`;
    case 'create_user': return `${who} created the account ${t}${entry.detail ? ` (${entry.detail})` : ''}`;
    default: return [who, entry.action.replaceAll('_', ' '), t, entry.detail].filter(Boolean).join(' ');
  }
}

const article = (word) => (/^[aeiou]/i.test(word || '') ? 'an' : 'a');

// The full address of a join link the server gave as a path ("/join/<code>").
export const absoluteUrl = (path, origin) => new URL(path, origin).href;
