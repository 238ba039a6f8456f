// Rooms and people as the pages show them: the sidebar's groups, what a direct room is
// called, what may be done in a room, membership events, and the admin page's lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  directLabel, roomLabel, groupRooms, unlabelled, roomControls, membershipChange, removalNotice,
  roomNameProblem, sortUsers, userActions, auditSentence, absoluteUrl,
} from '../../static/js/workspace.js';

const room = (name, kind = 'public', extra = {}) =>
  ({ id: name.length, name, kind, description: '', last_seq: 0, archived: false, member: true, ...extra });

test("a direct room is called by the other people's names, sorted, never by its dm- name", () => {
  assert.equal(directLabel(['ann', 'bob'], 'ann'), 'bob');
  assert.equal(directLabel(['zoe', 'Ann', 'bob', 'me'], 'me'), 'Ann, bob, zoe');
  assert.equal(directLabel(['ME', 'bob'], 'me'), 'bob', 'usernames compare case-insensitively');
  assert.equal(directLabel(['me'], 'me'), 'me (you)', 'everyone else left');
  assert.equal(directLabel(null, 'me'), 'Direct message', 'people not known yet');
  const members = new Map([['dm-0a1b', ['me', 'bob']]]);
  assert.equal(roomLabel(room('dm-0a1b', 'direct'), members, 'me'), 'bob');
  assert.equal(roomLabel(room('dm-ffff', 'direct'), members, 'me'), 'Direct message');
  assert.equal(roomLabel(room('general'), members, 'me'), 'general');
});

test('rooms are grouped: rooms (public and private, archived last) and direct messages by name', () => {
  const members = new Map([['dm-1', ['me', 'zed']], ['dm-2', ['me', 'amy']]]);
  const rooms = [
    room('random'), room('dm-1', 'direct'), room('secret', 'private'), room('old', 'public', { archived: true }),
    room('general'), room('dm-2', 'direct'),
  ];
  const groups = groupRooms(rooms, members, 'me');
  assert.deepEqual(groups.rooms.map((e) => e.room.name), ['general', 'random', 'secret', 'old']);
  assert.deepEqual(groups.direct.map((e) => e.label), ['amy', 'zed']);
  assert.deepEqual(groups.direct.map((e) => e.room.name), ['dm-2', 'dm-1']);
  assert.deepEqual(groupRooms(undefined, members, 'me'), { rooms: [], direct: [] });
});

test('the direct rooms whose people must still be fetched', () => {
  const members = new Map([['dm-1', ['me', 'zed']]]);
  const rooms = [room('general'), room('dm-1', 'direct'), room('dm-2', 'direct'), room('secret', 'private')];
  assert.deepEqual(unlabelled(rooms, members), ['dm-2']);
});

test('adding people and leaving are for members of a private room; archived rooms are read only', () => {
  assert.deepEqual(roomControls(room('secret', 'private')),
    { addPeople: true, leave: true, readOnly: false, showMembers: true });
  assert.deepEqual(roomControls(room('general')),
    { addPeople: false, leave: false, readOnly: false, showMembers: false });
  assert.deepEqual(roomControls(room('dm-1', 'direct')),
    { addPeople: false, leave: false, readOnly: false, showMembers: false });
  assert.deepEqual(roomControls(room('secret', 'private', { archived: true })),
    { addPeople: false, leave: true, readOnly: true, showMembers: true });
  assert.equal(roomControls(room('secret', 'private', { member: false })).addPeople, false);
  assert.equal(roomControls(room('old', 'public', { archived: true })).readOnly, true);
  assert.equal(roomControls(undefined).readOnly, false);
});

test('membership events: removed from the room on screen, or its people changed', () => {
  const frame = (type, user, extra = {}) =>
    ({ type, room: 'secret', seq: 4, user, sender: 'ann', timestamp: '2026-12-01T00:00:00Z', ...extra });
  assert.deepEqual(membershipChange(frame('member_removed', 'Me'), 'me', 'secret'),
    { removedMe: true, refreshMembers: false, refreshRooms: true });
  assert.deepEqual(membershipChange(frame('member_removed', 'bob'), 'me', 'secret'),
    { removedMe: false, refreshMembers: true, refreshRooms: false });
  assert.deepEqual(membershipChange(frame('member_added', 'bob'), 'me', 'secret'),
    { removedMe: false, refreshMembers: true, refreshRooms: false });
  assert.deepEqual(membershipChange(frame('member_added', 'me'), 'me', 'general'), { refreshRooms: true },
    'a room not on screen: only the list may change');
  assert.equal(membershipChange({ type: 'chat', room: 'secret', seq: 5 }, 'me', 'secret'), null);
  assert.equal(removalNotice(frame('member_removed', 'me'), 'me', '#secret'), 'ann removed you from #secret.');
  assert.equal(removalNotice(frame('member_removed', 'me', { sender: 'me' }), 'me', '#secret'), 'You left #secret.');
});

test('room names are checked before they are sent', () => {
  assert.equal(roomNameProblem('design-2_b'), '');
  assert.match(roomNameProblem(''), /name/);
  assert.match(roomNameProblem('Design'), /lower-case/);
  assert.match(roomNameProblem('a b'), /lower-case/);
  assert.match(roomNameProblem('x'.repeat(65)), /64/);
});

test('the admin table: active people first, by name; no one demotes or deactivates themselves', () => {
  const users = [
    { username: 'zed', active: true }, { username: 'amy', active: false }, { username: 'Bob', active: true },
  ];
  assert.deepEqual(sortUsers(users).map((u) => u.username), ['Bob', 'zed', 'amy']);
  assert.deepEqual(userActions({ username: 'bob', active: true }, 'ann'),
    { changeRole: true, toggleActive: true, activeLabel: 'Deactivate', nextActive: false });
  assert.deepEqual(userActions({ username: 'bob', active: false }, 'ann'),
    { changeRole: true, toggleActive: true, activeLabel: 'Reactivate', nextActive: true });
  const self = userActions({ username: 'Ann', active: true }, 'ann');
  assert.equal(self.changeRole, false);
  assert.equal(self.toggleActive, false);
});

test('audit entries read as sentences', () => {
  const entry = (action, target, detail = '', actor = 'ann') =>
    ({ id: 1, actor, action, target, detail, at: '2026-12-01T00:00:00Z' });
  assert.equal(auditSentence(entry('set_role', 'bob', 'admin')), 'ann made bob an admin');
  assert.equal(auditSentence(entry('set_role', 'bob', 'member')), 'ann made bob a member');
  assert.equal(auditSentence(entry('deactivate', 'bob')), 'ann deactivated bob');
  assert.equal(auditSentence(entry('reactivate', 'bob')), 'ann reactivated bob');
  assert.equal(auditSentence(entry('rotate_join_code', 'workspace')), 'ann rotated the join link');
  assert.equal(auditSentence(entry('invite', 'person')), 'ann created a one-person invite');
  assert.equal(auditSentence(entry('archive', 'old')), 'ann archived #old');
  assert.equal(auditSentence(entry('unarchive', 'old')), 'ann unarchived #old');
  assert.equal(auditSentence(entry('reset_link', 'bob')), 'ann made a password reset link for bob');
  assert.equal(auditSentence(entry('totp_enable', 'ann')), 'ann turned on two-factor sign-in');
  assert.equal(auditSentence(entry('totp_disable', 'ann')), 'ann turned off two-factor sign-in');
  assert.equal(auditSentence(entry('deactivate_self', 'ann')), 'ann deactivated their own account');
  assert.equal(auditSentence(entry('delete_self', 'deleted-7')), 'deleted-7 deleted their account');
  assert.equal(auditSentence(entry('create_user', 'cat', 'bot', null)),
    'An operator (command line) created the account cat (bot)');
  assert.equal(auditSentence(entry('some_new_thing', 'x', 'y')), 'ann some new thing x y');
});

test('join links are shown as full addresses', () => {
  assert.equal(absoluteUrl('/join/abc', 'https://chat.example.org'), 'https://chat.example.org/join/abc');
});
