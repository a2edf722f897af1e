-- Schema version 10: named users of the web app and their remembered
-- devices (verify.UserStore, issue 13).
--
-- users: one row per login name. role is viewer, operator or admin;
-- password_hash an argon2id hash in the PHC format (never a password);
-- phone the E.164 number where login codes go; disabled 0 or 1; times in
-- nanoseconds since 1900, as in version 1.
--
-- user_devices: the SHA-256 (hex) of each remembered-device token, per
-- user; the token itself lives only in the browser's cookie.

CREATE TABLE users (
	name          TEXT    PRIMARY KEY,
	role          TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
	password_hash TEXT    NOT NULL,
	phone         TEXT    NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE user_devices (
	user       TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	token_hash TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (user, token_hash)
) WITHOUT ROWID;
