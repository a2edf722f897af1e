-- Schema version 1 of the Patient Outreach SQLite store.
--
-- Times are INTEGER nanoseconds since the Unix epoch, UTC; 0 is the zero
-- time. JSON columns hold text written by encoding/json.

CREATE TABLE campaigns (
	id           INTEGER PRIMARY KEY,
	name         TEXT    NOT NULL,
	flow         TEXT    NOT NULL, -- JSON outreach.Flow snapshot
	from_number  TEXT    NOT NULL,
	default_zone TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);

CREATE TABLE conversations (
	id          INTEGER PRIMARY KEY,
	campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
	patient_id  TEXT    NOT NULL,
	first_name  TEXT    NOT NULL,
	phone       TEXT    NOT NULL,
	time_zone   TEXT    NOT NULL,
	attrs       TEXT    NOT NULL, -- JSON object, or null
	from_number TEXT    NOT NULL,
	two_way     INTEGER NOT NULL,
	zones       TEXT    NOT NULL, -- JSON array, or null
	status      TEXT    NOT NULL, -- pending, active, done
	state       TEXT    NOT NULL, -- JSON outreach.State
	outcome     TEXT    NOT NULL,
	next_at     INTEGER NOT NULL,
	-- inbox counts the unprocessed inbox events.
	inbox       INTEGER NOT NULL DEFAULT 0,
	lease_token TEXT    NOT NULL DEFAULT '',
	lease_until INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	-- due orders claims: 1 (at once) with unprocessed inbox events, else
	-- next_at; 0 means nothing due.
	due INTEGER GENERATED ALWAYS AS (CASE WHEN inbox > 0 THEN 1 ELSE next_at END) VIRTUAL,
	UNIQUE (campaign_id, patient_id)
);

-- ClaimDue and NextDue walk unfinished conversations in due order.
CREATE INDEX conversations_due ON conversations (due, id) WHERE status != 'done' AND due > 0;
-- NextDue looks at the conversations under a lease (released ones have 0).
CREATE INDEX conversations_leased ON conversations (lease_until) WHERE lease_until > 0;
-- At most one active two-way conversation per (patient phone, sending
-- number); also how RecordInbound finds the conversation a reply is for.
CREATE UNIQUE INDEX conversations_active_pair ON conversations (phone, from_number)
	WHERE two_way AND status = 'active';
-- Paging and progress of a campaign.
CREATE INDEX conversations_campaign ON conversations (campaign_id);
-- FinishCampaignIfDone and cancellation.
CREATE INDEX conversations_unfinished ON conversations (campaign_id) WHERE status != 'done';

CREATE TABLE messages (
	id               INTEGER PRIMARY KEY,
	conversation_id  INTEGER REFERENCES conversations (id), -- NULL: unmatched inbound
	campaign_id      INTEGER REFERENCES campaigns (id),
	direction        TEXT    NOT NULL, -- outbound, inbound
	key_conversation INTEGER NOT NULL,
	key_step         TEXT    NOT NULL,
	key_attempt      INTEGER NOT NULL,
	from_number      TEXT    NOT NULL,
	to_number        TEXT    NOT NULL,
	body             TEXT    NOT NULL,
	status           TEXT    NOT NULL,
	provider_id      TEXT    NOT NULL,
	delivery_status  TEXT    NOT NULL DEFAULT '',
	error            TEXT    NOT NULL,
	tries            INTEGER NOT NULL,
	send_after       INTEGER NOT NULL,
	intent_at        INTEGER NOT NULL,
	sent_at          INTEGER NOT NULL,
	created_at       INTEGER NOT NULL
);

CREATE INDEX messages_conversation ON messages (conversation_id);
CREATE INDEX messages_campaign ON messages (campaign_id);
-- A send key is used once per conversation: the store refuses a repeat.
CREATE UNIQUE INDEX messages_key ON messages (conversation_id, key_step, key_attempt)
	WHERE direction = 'outbound';
-- RecordInbound is idempotent on the provider's id.
CREATE UNIQUE INDEX messages_inbound_provider ON messages (provider_id)
	WHERE direction = 'inbound' AND provider_id != '';
-- UpdateDelivery finds outbound messages by the provider's id.
CREATE INDEX messages_outbound_provider ON messages (provider_id)
	WHERE direction = 'outbound' AND provider_id != '';

CREATE TABLE inbox (
	id               INTEGER PRIMARY KEY,
	conversation_id  INTEGER NOT NULL REFERENCES conversations (id),
	kind             TEXT    NOT NULL,
	message_id       INTEGER NOT NULL REFERENCES messages (id),
	body             TEXT    NOT NULL,
	key_conversation INTEGER NOT NULL,
	key_step         TEXT    NOT NULL,
	key_attempt      INTEGER NOT NULL,
	error            TEXT    NOT NULL,
	at               INTEGER NOT NULL,
	processed_at     INTEGER -- NULL until the runner has handled it
);

CREATE INDEX inbox_unprocessed ON inbox (conversation_id) WHERE processed_at IS NULL;
-- One event per message and kind: a delivery failure is reported to its
-- conversation once, however often the provider calls back. (Also the
-- index of the foreign key to messages.)
CREATE UNIQUE INDEX inbox_message ON inbox (message_id, kind);

CREATE TABLE responses (
	id              INTEGER PRIMARY KEY,
	campaign_id     INTEGER NOT NULL REFERENCES campaigns (id),
	conversation_id INTEGER NOT NULL REFERENCES conversations (id),
	patient_id      TEXT    NOT NULL,
	question_id     TEXT    NOT NULL,
	raw             TEXT    NOT NULL,
	answer          TEXT    NOT NULL,
	replied_at      INTEGER NOT NULL
);

CREATE INDEX responses_campaign ON responses (campaign_id, conversation_id, replied_at);

CREATE TABLE opt_outs (
	phone      TEXT    PRIMARY KEY,
	opted_out  INTEGER NOT NULL,
	changed_at INTEGER NOT NULL
) WITHOUT ROWID;
