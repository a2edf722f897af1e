-- Schema version 4: delivery statuses that came before their message's
-- provider id was recorded (a status callback that beats the sender's
-- answer, or comes during reconciliation), whichever instance received
-- it. UpdateDelivery keeps the one of highest rank (outreach.DeliveryRank)
-- per provider id; the Commit that records the provider id applies it,
-- within outreach.PendingStatusFor of at, and older ones are dropped.
-- Both take a transaction-level advisory lock on the provider id
-- (pendingLockSpace, hashtext(provider_id)), so that neither misses the
-- other's write.

CREATE TABLE pending_statuses (
	provider_id text        PRIMARY KEY,
	status      text        NOT NULL,
	rank        integer     NOT NULL,
	error_code  text        NOT NULL,
	at          timestamptz NOT NULL
);

CREATE INDEX pending_statuses_at ON pending_statuses (at);
