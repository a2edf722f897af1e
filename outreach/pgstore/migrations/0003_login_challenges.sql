-- Schema version 3: logins between their password and code steps
-- (verify.ChallengeStore), so that a login started on one instance of the
-- web app can finish on another.
--
-- One row per pending login: token_hash is the SHA-256 (hex) of the
-- challenge token (the token lives only in the browser); account the user
-- (one pending login per account); phone where the code went; counts the
-- JSON object of the attempt-store keys' failure counts after the
-- password step.

CREATE TABLE login_challenges (
	token_hash text        PRIMARY KEY,
	account    text        NOT NULL UNIQUE,
	phone      text        NOT NULL,
	expires    timestamptz NOT NULL,
	counts     jsonb       NOT NULL
);

CREATE INDEX login_challenges_expires ON login_challenges (expires);
