-- A workspace a team owns: roles, deactivation, room kinds and memberships, invitations,
-- an audit log of admin actions. Keep in step with ../../postgres and src/storage/schema.rs.

ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('admin', 'member', 'bot'));
ALTER TABLE users ADD COLUMN active BOOLEAN NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN display_name TEXT;
-- The first account ever registered is the administrator, on an upgraded database too.
UPDATE users SET role = 'admin' WHERE id = (SELECT min(id) FROM users);

ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'public'
    CHECK (kind IN ('public', 'private', 'direct'));
ALTER TABLE rooms ADD COLUMN archived BOOLEAN NOT NULL DEFAULT 0;
-- A direct room's members' ids, sorted and comma-separated: one room per set of people.
ALTER TABLE rooms ADD COLUMN direct_key TEXT;
CREATE UNIQUE INDEX rooms_direct_key ON rooms (direct_key);

CREATE TABLE memberships (
    room_id    INTEGER   NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- The workspace join code (kind 'workspace', one not revoked at a time) and one-person
-- invites (kind 'person', used once).
CREATE TABLE invites (
    code       TEXT      PRIMARY KEY,
    kind       TEXT      NOT NULL CHECK (kind IN ('workspace', 'person')),
    created_by INTEGER   REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    used_by    INTEGER   REFERENCES users (id) ON DELETE SET NULL,
    revoked    BOOLEAN   NOT NULL DEFAULT 0
);

CREATE TABLE audit_log (
    id         INTEGER   PRIMARY KEY AUTOINCREMENT,
    actor_id   INTEGER   REFERENCES users (id) ON DELETE SET NULL,
    action     TEXT      NOT NULL,
    target     TEXT      NOT NULL,
    detail     TEXT      NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);

-- Room events other than messages (a message is its own row in messages), numbered from
-- the same per-room seq: member_added, member_removed. subject: the user the event is about.
CREATE TABLE room_events (
    id         INTEGER   PRIMARY KEY AUTOINCREMENT,
    room_id    INTEGER    NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        INTEGER    NOT NULL CHECK (seq > 0),
    kind       TEXT      NOT NULL,
    actor_id   INTEGER    REFERENCES users (id) ON DELETE SET NULL,
    subject_id INTEGER    REFERENCES users (id) ON DELETE SET NULL,
    -- The message a `delete` is about.
    message_id INTEGER,
    -- The writer's id for the change (a retry stores nothing twice).
    client_id  TEXT,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT room_events_room_seq_key UNIQUE (room_id, seq),
    CONSTRAINT room_events_actor_client_key UNIQUE (actor_id, client_id)
);

-- A deleted message keeps its row and seq; its content is gone.
ALTER TABLE messages ADD COLUMN deleted_at TIMESTAMP;
