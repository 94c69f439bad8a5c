-- restauth database schema.
--
-- This file is part of restauth's public interface: scripts may read (and
-- carefully write) these tables directly. restauth applies it on every start;
-- every statement is idempotent. `PRAGMA user_version` records the schema
-- version; migrations in src/db/sqlite.rs move older files forward one step at a time.
--
-- Conventions:
--   * times are INTEGER Unix seconds (UTC); read them with
--     `datetime(column, 'unixepoch')`;
--   * booleans are INTEGER 0/1;
--   * secrets (tokens, one-time keys) are never stored, only their SHA-256.

-- One row per account.
CREATE TABLE IF NOT EXISTS users (
    id             INTEGER PRIMARY KEY,          -- the `pk` of the API; password-reset uids are its base36
    username       TEXT    NOT NULL,             -- as the user typed it (case preserved)
    username_lower TEXT    NOT NULL UNIQUE,      -- username lower-cased (Unicode); makes usernames unique case-insensitively
    email          TEXT    NOT NULL DEFAULT '',  -- lower-cased address, '' when the user has none; not unique (see README)
    email_verified INTEGER NOT NULL DEFAULT 0,   -- 1 once the address is confirmed (or vouched for by an administrator)
    first_name     TEXT    NOT NULL DEFAULT '',
    last_name      TEXT    NOT NULL DEFAULT '',
    password       TEXT    NOT NULL,             -- Django format pbkdf2_sha256$<iterations>$<salt>$<base64>; a leading '!' marks an unusable password
    is_active      INTEGER NOT NULL DEFAULT 1,   -- 0: cannot log in, existing tokens are refused
    date_joined    INTEGER NOT NULL,             -- when the account was created
    last_login     INTEGER                       -- last successful login, NULL if never
);
CREATE INDEX IF NOT EXISTS users_email ON users(email);

-- One row per issued API token (one per login, i.e. per device).
CREATE TABLE IF NOT EXISTS tokens (
    id          INTEGER PRIMARY KEY,
    key_sha256  BLOB    NOT NULL UNIQUE,         -- SHA-256 of the 40-hex key the client holds; the key itself is never stored
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,                -- when the token was issued
    expires_at  INTEGER NOT NULL                 -- the token is refused from this time on (created_at + accounts.token_ttl)
);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens(user_id);

-- One row per login in JWT mode (auth.mode = "jwt"), i.e. per device: the
-- family of refresh tokens that login started. Its refresh token is rotated
-- by token/refresh/; presenting a replaced one again after jwt.reuse_grace
-- deletes the row (reuse detection). Access and refresh tokens carry the
-- session id (`sid` claim) and are refused once the row is gone: logout,
-- password change (other devices) and reset delete rows. Neither the session
-- id nor any token is stored, only SHA-256 hashes.
CREATE TABLE IF NOT EXISTS sessions (
    id              INTEGER PRIMARY KEY,
    sid_sha256      BLOB    NOT NULL UNIQUE,     -- SHA-256 of the session id, the tokens' `sid` claim
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    refresh_sha256  BLOB    NOT NULL,            -- SHA-256 of the `jti` of the one refresh token that may be used now
    previous_sha256 BLOB,                        -- SHA-256 of the `jti` it replaced; NULL before the first rotation
    rotated_at      INTEGER,                     -- when refresh_sha256 last changed; NULL before the first rotation
    created_at      INTEGER NOT NULL,            -- the login
    expires_at      INTEGER NOT NULL             -- the current refresh token's `exp`: refused and purged from then on
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);

-- Two-factor login (mfa/ endpoints): a user's TOTP authenticator, at most
-- one. Since schema version 6. Neither the TOTP secret nor any code is
-- readable from this file alone.
CREATE TABLE IF NOT EXISTS mfa_totp (
    user_id        INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed  BLOB    NOT NULL,             -- the TOTP secret, encrypted (XChaCha20-Poly1305: 24-byte nonce, ciphertext, tag) with a key derived from the server secret, bound to user_id
    last_step      INTEGER NOT NULL,             -- the last time step (Unix time / mfa.period) whose code was accepted: codes of it and of earlier steps are refused
    created_at     INTEGER NOT NULL,             -- the activation
    last_used_at   INTEGER                       -- the last code or recovery code accepted at mfa/verify/; NULL before the first
);

-- Recovery codes of a user with TOTP on: shown once (activation, regeneration),
-- each good for one login. Since schema version 6.
CREATE TABLE IF NOT EXISTS mfa_recovery_codes (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hmac   BLOB    NOT NULL,                -- HMAC-SHA256 of the code ("xxxx-xxxx", lower case) under a key derived from the server secret; never the code
    used_at     INTEGER                          -- when it logged the user in; a used code is refused
);
CREATE INDEX IF NOT EXISTS mfa_recovery_codes_user ON mfa_recovery_codes(user_id);

-- The second step of a login with MFA on: login/ answered an ephemeral token,
-- which mfa/verify/ takes once with a code. Since schema version 6.
CREATE TABLE IF NOT EXISTS mfa_challenges (
    id            INTEGER PRIMARY KEY,
    token_sha256  BLOB    NOT NULL UNIQUE,       -- SHA-256 of the ephemeral token; the token itself is never stored
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    failures      INTEGER NOT NULL DEFAULT 0,    -- wrong codes so far; the row is deleted at mfa.max_failures and on success
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL               -- refused from this time on (created_at + mfa.ephemeral_lifetime)
);
CREATE INDEX IF NOT EXISTS mfa_challenges_user ON mfa_challenges(user_id);

-- Activation tokens (GET mfa/totp/activate/) that turned MFA on: each works
-- once, so that after a deactivation the same token and a code of its secret
-- cannot turn MFA back on. Kept until the token expires. Since schema version 7.
CREATE TABLE IF NOT EXISTS mfa_used_activations (
    token_sha256  BLOB    PRIMARY KEY,           -- SHA-256 of the activation token
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at    INTEGER NOT NULL               -- the token's own expiry; the row may go from then on
);
CREATE INDEX IF NOT EXISTS mfa_used_activations_expiry ON mfa_used_activations(expires_at);

-- Server-wide values restauth keeps for itself. Never a secret: the server
-- secret lives in security.secret_key_file (restauth.secret beside this file,
-- mode 0600), so a copy of the database cannot forge a reset link. A
-- 'secret_key' row left by an older restauth is moved to that file and erased
-- on start. Empty today; kept for values to come.
CREATE TABLE IF NOT EXISTS settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Email confirmation keys (registration, resend-email). Since schema version 2.
CREATE TABLE IF NOT EXISTS email_confirmations (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email       TEXT    NOT NULL,                -- the address being confirmed (lower-cased)
    key_sha256  BLOB    NOT NULL UNIQUE,         -- SHA-256 of the key in the mailed link; the key itself is never stored
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,                -- refused from this time on (created_at + accounts.email_confirmation_expire)
    used_at     INTEGER                          -- when the key confirmed the address; a used key is refused
);
CREATE INDEX IF NOT EXISTS email_confirmations_user ON email_confirmations(user_id);

-- Outgoing mail. A message is inserted in the same transaction as the change
-- that caused it, and delivered afterwards by the mail worker; nothing is
-- sent for a change that rolled back, nothing is lost when delivery fails.
-- Since schema version 2.
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    kind            TEXT    NOT NULL DEFAULT '', -- 'password_reset', 'email_confirmation', or '' (other); per-address limits count by it. Since schema version 4
    to_address      TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,            -- the plain-text part
    body_html       TEXT,                        -- the HTML alternative, NULL for none
    status          TEXT    NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,  -- delivery attempts so far
    next_attempt_at INTEGER NOT NULL,            -- a queued message is not tried before this time (backoff)
    last_error      TEXT,                        -- why the last attempt failed, NULL if none did
    sent_at         INTEGER                      -- when delivery succeeded
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_recipient ON outbox(to_address, kind, created_at);

-- Requests for account mail whose recipients are not looked up yet. The
-- endpoints password/reset/ and registration/resend-email/ only insert a row
-- here: the same work whether or not the address belongs to an account, so
-- neither the answer nor its timing tells. The mail worker then looks the
-- address up, queues the mail in `outbox` (within the per-address limits) and
-- deletes the row, in one transaction. Normally empty. Since schema version 4.
CREATE TABLE IF NOT EXISTS mail_requests (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('password_reset', 'email_confirmation')),
    email       TEXT    NOT NULL,                -- the address as requested, lower-cased
    created_at  INTEGER NOT NULL
);

-- Accounts at identity providers (Facebook, Twitter, Google) linked to users. Since schema version 3.
CREATE TABLE IF NOT EXISTS social_accounts (
    id            INTEGER PRIMARY KEY,           -- the id used by P/socialaccounts/<id>/disconnect/
    provider      TEXT    NOT NULL,              -- 'facebook', 'twitter' or 'google'
    uid           TEXT    NOT NULL,              -- the provider's id for the person
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    profile       TEXT    NOT NULL DEFAULT '{}', -- the provider's last answer about the person (JSON)
    created_at    INTEGER NOT NULL,              -- when the account was linked
    last_login_at INTEGER NOT NULL,              -- last login (or connect) through this account
    UNIQUE (provider, uid)
);
CREATE INDEX IF NOT EXISTS social_accounts_user ON social_accounts(user_id);

-- ID tokens (Google, …) that logged someone in or linked an account, until
-- they expire: each is accepted once, so a token seen in transit cannot log
-- in again. Since schema version 7.
CREATE TABLE IF NOT EXISTS used_id_tokens (
    token_sha256  BLOB    PRIMARY KEY,           -- SHA-256 of the whole ID token
    provider      TEXT    NOT NULL,              -- 'google', …
    expires_at    INTEGER NOT NULL               -- the token's exp plus the verification leeway; the row may go from then on
);
CREATE INDEX IF NOT EXISTS used_id_tokens_expiry ON used_id_tokens(expires_at);
