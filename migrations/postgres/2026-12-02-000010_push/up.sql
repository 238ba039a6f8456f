-- Web Push (src/push): the server's VAPID key, browsers' push subscriptions, and each
-- member's notification level per room. Keep in step with ../../sqlite and
-- src/storage/schema.rs.

-- One row, `name` = 'vapid', made by the first process to start; every front process on
-- this database signs with it, so a subscription made through one works through all.
CREATE TABLE vapid_keys (
    name        TEXT      PRIMARY KEY,
    private_key TEXT      NOT NULL,
    public_key  TEXT      NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

-- An endpoint is one browser profile's subscription: it belongs to one user at a time
-- (the last who subscribed it), so a shared browser never shows the previous user's pushes.
CREATE TABLE push_subscriptions (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint   TEXT      NOT NULL UNIQUE,
    p256dh     TEXT      NOT NULL,
    auth       TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id, updated_at);

-- Only levels a member chose; no row: the room kind's default.
CREATE TABLE notify_levels (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    level   TEXT   NOT NULL CHECK (level IN ('all', 'mentions', 'none')),
    PRIMARY KEY (user_id, room_id)
);
