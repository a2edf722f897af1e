-- Schema version 7: an opt-out records the world it was made in (see
-- outreach.Store.SetOptOut): a START typed on a simulated phone must
-- never lift a real patient's STOP. Existing rows get the empty world.

ALTER TABLE opt_outs ADD COLUMN world TEXT NOT NULL DEFAULT '';
