-- chatapp schema, PostgreSQL. Keep in step with ../../sqlite and src/storage/schema.rs.
-- Timestamps are UTC, without time zone, set by the application (microsecond precision).

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT      NOT NULL,
    email         TEXT,
    password_hash TEXT      NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE rooms (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT      NOT NULL UNIQUE,
    description TEXT      NOT NULL DEFAULT '',
    created_by  BIGINT    REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMP NOT NULL,
    -- The seq of the room's newest message; bumped in the same transaction as the insert.
    last_seq    BIGINT    NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);

CREATE TABLE messages (
    id         BIGSERIAL PRIMARY KEY,
    room_id    BIGINT    NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        BIGINT    NOT NULL CHECK (seq > 0),
    sender_id  BIGINT    NOT NULL REFERENCES users (id),
    content    TEXT      NOT NULL,
    client_id  TEXT,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT messages_room_seq_key UNIQUE (room_id, seq),
    CONSTRAINT messages_sender_client_key UNIQUE (sender_id, client_id)
);

-- The contract promises that a room named `general` always exists.
INSERT INTO rooms (name, description, created_at)
VALUES ('general', 'Everyone''s room', date_trunc('milliseconds', now() AT TIME ZONE 'utc'));
