-- Schema version 8 is reserved for issue 13's audit trail, built on
-- another branch. This placeholder keeps the versions of this branch
-- consecutive; when merging, keep the real 0008_*.sql and delete this file.
SELECT 1;
