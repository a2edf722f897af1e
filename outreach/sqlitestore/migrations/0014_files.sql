-- Schema version 14: named files (Store.PutFile and the other file
-- methods): an upload waiting between its preview and its start, an
-- uploaded flow, kept here so that every process on the database file
-- sees them.
--
-- A file is written in rows of file_chunks (seq 0, 1, ...) under a row
-- of files whose name is NULL; once every chunk is stored, one
-- transaction deletes the older file of that name and gives the new one
-- its name, so that a file is seen complete or not at all. taken is 1
-- for a file that TakeFile removed from view (until PutBackFile or
-- DeleteFile). created and expires are nanoseconds since 1900 (as in
-- version 1); expires is NULL for a file that never expires. A file
-- still being written expires a day after it was begun, so that
-- PurgeFiles removes what a crashed writer left.

CREATE TABLE files (
	id      INTEGER PRIMARY KEY,
	name    TEXT    UNIQUE,
	taken   INTEGER NOT NULL DEFAULT 0,
	meta    TEXT,
	size    INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL,
	expires INTEGER
);

CREATE INDEX files_expires ON files (expires) WHERE expires IS NOT NULL;

CREATE TABLE file_chunks (
	file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,
	data    BLOB    NOT NULL,
	PRIMARY KEY (file_id, seq)
) WITHOUT ROWID;
