-- Schema version 11: logins between their password and code steps
-- (verify.ChallengeStore), so that every process on the file sees them.
--
-- One row per pending login: token_hash is the SHA-256 (hex) of the
-- challenge token (the token lives only in the browser); account the user;
-- phone where the code went; expires in nanoseconds since 1900, as in
-- version 1; counts the JSON object of the attempt-store keys' failure
-- counts after the password step. One row per account at most.

CREATE TABLE login_challenges (
	token_hash TEXT    PRIMARY KEY,
	account    TEXT    NOT NULL UNIQUE,
	phone      TEXT    NOT NULL,
	expires    INTEGER NOT NULL,
	counts     TEXT    NOT NULL
) WITHOUT ROWID;

CREATE INDEX login_challenges_expires ON login_challenges (expires);
