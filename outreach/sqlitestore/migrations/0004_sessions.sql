-- Schema version 4: web sessions (SessionStore, for github.com/alexedwards/scs/v2).
--
-- One row per session. token is what the session manager hands the store
-- (with scs's HashTokenInStore, a SHA-256 of the cookie's value, so that
-- the file does not hold usable tokens); data is the session manager's
-- encoding of the session; expiry is when it stops being valid
-- (nanoseconds since 1900, as in version 1). Expired rows are ignored by
-- reads and deleted from time to time by writes.

CREATE TABLE sessions (
	token  TEXT    PRIMARY KEY,
	data   BLOB    NOT NULL,
	expiry INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_expiry ON sessions (expiry);
