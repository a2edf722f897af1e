-- Schema version 7: reserved for named users (issue 13, item 1), which is
-- built on another branch at the same time as the audit trail (0008).
-- This placeholder keeps the versions contiguous on the audit branch; when
-- the branches are merged, delete this file and keep the users branch's
-- 0007 migration.
SELECT 1;
