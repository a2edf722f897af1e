-- Schema version 5: campaigns record the world that made them (a real
-- Twilio account, a dev-mode fake, a simulation: see outreach.Campaign's
-- World), and each runtime claims only its own world's conversations.
-- Existing campaigns get the empty world, that of embedders that set none.
--
-- conversations.world is a copy of its campaign's world, so that the
-- pair rule (one active two-way conversation per patient phone and
-- sending number) holds in each world apart, and a reply is matched only
-- to a conversation of the world it came in through.

ALTER TABLE campaigns ADD COLUMN world TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN world TEXT NOT NULL DEFAULT '';

DROP INDEX conversations_active_pair;
CREATE UNIQUE INDEX conversations_active_pair ON conversations (world, phone, from_number)
	WHERE two_way AND status = 'active';
