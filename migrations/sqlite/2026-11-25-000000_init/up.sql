-- chatapp schema, SQLite. Keep in step with ../../postgres and src/storage/schema.rs.
-- Timestamps are UTC text 'YYYY-MM-DD HH:MM:SS.ffffff', set by the application.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT      NOT NULL,
    email         TEXT,
    password_hash TEXT      NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE rooms (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT      NOT NULL UNIQUE,
    description TEXT      NOT NULL DEFAULT '',
    created_by  INTEGER   REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMP NOT NULL,
    -- The seq of the room's newest message; bumped in the same transaction as the insert.
    last_seq    INTEGER   NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id    INTEGER   NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        INTEGER   NOT NULL CHECK (seq > 0),
    sender_id  INTEGER   NOT NULL REFERENCES users (id),
    content    TEXT      NOT NULL,
    client_id  TEXT,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT messages_room_seq_key UNIQUE (room_id, seq),
    CONSTRAINT messages_sender_client_key UNIQUE (sender_id, client_id)
);

-- The contract promises that a room named `general` always exists.
INSERT INTO rooms (name, description, created_at)
VALUES ('general', 'Everyone''s room', strftime('%Y-%m-%d %H:%M:%f', 'now'));
