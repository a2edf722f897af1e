-- Schema version 3: campaigns run by other runtimes (Twilio Studio), and
-- the owners of sending numbers.
--
-- campaigns.runtime names the runtime that claims the campaign's
-- conversations; runtime_ref is what it runs the campaign as (a Studio
-- flow SID).

ALTER TABLE campaigns ADD COLUMN runtime TEXT NOT NULL DEFAULT 'embedded';
ALTER TABLE campaigns ADD COLUMN runtime_ref TEXT NOT NULL DEFAULT '';

-- number_owners holds who receives the replies to a sending number when
-- it is not the embedded runtime (a two-way Studio flow). since is in
-- nanoseconds since 1900, as in version 1.
CREATE TABLE number_owners (
	number    TEXT    PRIMARY KEY,
	runtime   TEXT    NOT NULL,
	flow      TEXT    NOT NULL,
	flow_name TEXT    NOT NULL,
	since     INTEGER NOT NULL
) WITHOUT ROWID;
