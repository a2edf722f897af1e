-- Schema version 6: replies a machine could not read with confidence, and
-- alerts for urgent replies (issue 12).
--
-- responses.doubt says why a reply was not read (outreach.Doubt); empty
-- when it was. alerts keeps one row per inbound message with urgent
-- words: who must be told (world), whether they were (notified_at, with
-- tries and retry_at for the notifier's retries), and who acknowledged it.
-- terms is the list of urgent terms found, as JSON.

ALTER TABLE responses ADD COLUMN doubt TEXT NOT NULL DEFAULT '';

CREATE TABLE alerts (
	id              INTEGER PRIMARY KEY,
	world           TEXT    NOT NULL,
	campaign_id     INTEGER NOT NULL, -- 0: the message matched no conversation
	conversation_id INTEGER NOT NULL,
	message_id      INTEGER NOT NULL UNIQUE REFERENCES messages (id),
	patient_id      TEXT    NOT NULL,
	terms           TEXT    NOT NULL,
	at              INTEGER NOT NULL,
	tries           INTEGER NOT NULL DEFAULT 0,
	retry_at        INTEGER NOT NULL,
	notified_at     INTEGER NOT NULL DEFAULT 0,
	acked_at        INTEGER NOT NULL DEFAULT 0,
	acked_by        TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX alerts_campaign ON alerts (campaign_id, id);
CREATE INDEX alerts_pending ON alerts (world, retry_at) WHERE notified_at = 0;
