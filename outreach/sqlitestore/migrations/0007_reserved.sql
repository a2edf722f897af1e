-- Schema version 7 is reserved for issue 13's users and roles, built on
-- another branch. This placeholder keeps the versions of this branch
-- consecutive; when merging, keep the real 0007_*.sql and delete this file.
SELECT 1;
