-- Accounts people control: sessions kept on the server, one-use password reset links,
-- two-factor sign-in. Keep in step with ../../postgres and src/storage/schema.rs.

CREATE TABLE sessions (
    id           TEXT      PRIMARY KEY,
    user_id      INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    user_agent   TEXT      NOT NULL DEFAULT '',
    client_addr  TEXT      NOT NULL DEFAULT '',
    ended_at     TIMESTAMP
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Only the SHA-256 of a link's token is kept.
CREATE TABLE password_resets (
    token_hash TEXT      PRIMARY KEY,
    user_id    INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by INTEGER   REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

-- The TOTP secret (base32) from enrolment on; required at sign-in once enabled. The last
-- accepted time step keeps a code from being used twice.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Only the SHA-256 of each recovery code is kept.
CREATE TABLE recovery_codes (
    user_id   INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT      NOT NULL,
    used_at   TIMESTAMP,
    PRIMARY KEY (user_id, code_hash)
);
