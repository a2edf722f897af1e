-- Schema version 5: the throttle shared by every process on the database
-- (Store.Limiter): one row per key (a sending number), kept by the
-- generic cell rate algorithm.
--
-- tat: the theoretical arrival time of the next message, in nanoseconds
-- since 1970 of the times the runners pass (their clocks, not the
-- server's). A message is allowed at now when tat - now is at most the
-- burst allowance; allowing it moves tat to max(tat, now) plus one
-- interval.
--
-- The table is UNLOGGED: an Allow writes no WAL and so waits for no disk
-- flush (about 1.5 ms less per call on a disk that syncs). A crash of the
-- server empties it, which forgets at most a second of allowance: the
-- next message of each number is allowed at once.

CREATE UNLOGGED TABLE rate_limits (
	key text   PRIMARY KEY,
	tat bigint NOT NULL
);
