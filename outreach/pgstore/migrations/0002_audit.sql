-- Schema version 2: the audit trail (HIPAA 45 CFR 164.312(b)): who did
-- what, to which object, when, with what result. Ids only, never PHI.
--
-- The table is append-only: the triggers below refuse every UPDATE,
-- DELETE and TRUNCATE, so not even plain SQL can change an entry without
-- first dropping them.

CREATE TABLE audit (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at          timestamptz NOT NULL,
	actor       text        NOT NULL CHECK (actor <> ''),
	action      text        NOT NULL CHECK (action <> ''),
	result      text        NOT NULL,
	object_type text        NOT NULL DEFAULT '',
	object_id   text        NOT NULL DEFAULT '',
	client      text        NOT NULL DEFAULT '',
	detail      text        NOT NULL DEFAULT ''
);

CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_object ON audit (object_type, object_id, id);

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the audit trail is append-only: entries cannot be changed or deleted';
END;
$$;

CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
