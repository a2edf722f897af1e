-- Schema version 9: retention (issue 13). A finished campaign's message
-- bodies, inbox event bodies and raw replies are deleted a configured
-- period after it finished (its updated_at: a campaign's status is its
-- last change, and done and cancelled are final); purged_at records when,
-- and 0 means not yet. Ids, outcomes, delivery statuses, answers and
-- alerts are kept.

ALTER TABLE campaigns ADD COLUMN purged_at INTEGER NOT NULL DEFAULT 0;

-- PurgeContent walks the finished campaigns not purged yet, oldest first.
CREATE INDEX campaigns_to_purge ON campaigns (updated_at, id)
	WHERE purged_at = 0 AND status IN ('done', 'cancelled');
