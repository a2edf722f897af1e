-- Schema version 8: the audit trail (issue 13, item 2; HIPAA 45 CFR
-- 164.312(b)): who did what, to which object, when, with what result.
-- Ids only, never PHI.
--
-- The table is append-only: the triggers below refuse every UPDATE and
-- DELETE, so not even plain SQL can change an entry without first dropping
-- them. at is nanoseconds since 1900 (see nanos in sql.go).

CREATE TABLE audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          INTEGER NOT NULL,
	actor       TEXT    NOT NULL CHECK (actor <> ''),
	action      TEXT    NOT NULL CHECK (action <> ''),
	result      TEXT    NOT NULL,
	object_type TEXT    NOT NULL DEFAULT '',
	object_id   TEXT    NOT NULL DEFAULT '',
	client      TEXT    NOT NULL DEFAULT '',
	detail      TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_object ON audit (object_type, object_id, id);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'the audit trail is append-only: entries cannot be changed');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'the audit trail is append-only: entries cannot be deleted');
END;
