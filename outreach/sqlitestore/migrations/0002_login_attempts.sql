-- Schema version 2: failed login attempts of the web app (verify package).
--
-- One row per key ("account:<sha256 of the name>" or "addr:<ip or /64>").
-- failures counts the failed attempts since the count last started;
-- last_failure is the time of the latest (nanoseconds since 1900, as in
-- version 1). The lockout is derived from the two by the verify package.

CREATE TABLE login_attempts (
	key          TEXT    PRIMARY KEY,
	failures     INTEGER NOT NULL,
	last_failure INTEGER NOT NULL
) WITHOUT ROWID;

-- RecordLoginFailure drops the keys forgotten long ago.
CREATE INDEX login_attempts_last ON login_attempts (last_failure);
