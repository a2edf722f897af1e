-- Schema version 12: delivery statuses that came before their message's
-- provider id was recorded (a status callback that beats the sender's
-- answer, or comes during reconciliation). UpdateDelivery keeps the one
-- of highest rank (outreach.DeliveryRank) per provider id; the Commit
-- that records the provider id applies it, within
-- outreach.PendingStatusFor of at (nanoseconds since 1900, as in
-- version 1), and older ones are dropped.

CREATE TABLE pending_statuses (
	provider_id TEXT    PRIMARY KEY,
	status      TEXT    NOT NULL,
	rank        INTEGER NOT NULL,
	error_code  TEXT    NOT NULL,
	at          INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX pending_statuses_at ON pending_statuses (at);
