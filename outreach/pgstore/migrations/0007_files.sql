-- Schema version 7: named files (Store.PutFile and the other file
-- methods): an upload waiting between its preview and its start, an
-- uploaded flow, kept here so that every instance of the app sees them.
--
-- A file is written in rows of file_chunks (seq 0, 1, ...) under a row
-- of files whose name is NULL; once every chunk is stored, one
-- transaction (holding an advisory lock on the name) deletes the older
-- file of that name and gives the new one its name, so that a file is
-- seen complete or not at all. taken is true for a file that TakeFile
-- removed from view (until PutBackFile or DeleteFile). expires is NULL
-- for a file that never expires. A file still being written expires a
-- day after it was begun, so that PurgeFiles removes what a crashed
-- writer left.

CREATE TABLE files (
	id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name    text        UNIQUE,
	taken   boolean     NOT NULL DEFAULT false,
	meta    json,
	size    bigint      NOT NULL DEFAULT 0,
	created timestamptz NOT NULL,
	expires timestamptz
);

CREATE INDEX files_expires ON files (expires) WHERE expires IS NOT NULL;

CREATE TABLE file_chunks (
	file_id bigint  NOT NULL REFERENCES files (id) ON DELETE CASCADE,
	seq     integer NOT NULL,
	data    bytea   NOT NULL,
	PRIMARY KEY (file_id, seq)
);
