-- Schema version 13: the throttle shared by every process on the database
-- file (Store.Limiter): one row per key (a sending number), kept by the
-- generic cell rate algorithm.
--
-- tat: the theoretical arrival time of the next message, in nanoseconds
-- since 1970 of the times the runners pass (their clocks). A message is
-- allowed at now when tat - now is at most the burst allowance; allowing
-- it moves tat to max(tat, now) plus one interval.

CREATE TABLE rate_limits (
	key TEXT    PRIMARY KEY,
	tat INTEGER NOT NULL
) WITHOUT ROWID;
