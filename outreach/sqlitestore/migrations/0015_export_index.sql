-- Schema version 15: conversations_campaign holds, after a campaign's
-- conversation ids, the columns of its responses file (ExportRows), so
-- that the export reads the index alone, not the table, whose rows are
-- about ten times wider (a conversation's state, attributes and zones).
-- A conversation's outcome changes with its commits, which rewrite this
-- index's entry. Status is left out: a query on a campaign's unfinished
-- conversations would then read this index rather than
-- conversations_unfinished, every conversation rather than those left.
DROP INDEX conversations_campaign;
CREATE INDEX conversations_campaign ON conversations (campaign_id, id, patient_id, first_name, phone, outcome);
