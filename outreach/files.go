package outreach

import (
	"encoding/json"
	"time"
)

// FileInfo describes a named file kept in a store's database: bytes
// written and read back in chunks, never whole in memory, a small JSON
// metadata, and an expiry. The SQL stores (sqlitestore, pgstore) keep
// them (their PutFile, OpenFile, TakeFile, ... methods), so that every
// process on one database sees the same files: an upload waiting between
// its preview and its start, an uploaded flow.
type FileInfo struct {
	// Name names the file; a new file of the same name replaces it.
	// Names are compared byte for byte; a "/" has no meaning of its own
	// but makes prefixes (ListFiles) readable.
	Name string
	// Meta is the JSON metadata kept with the file; nil for none.
	Meta json.RawMessage
	// Size is the file's length in bytes. The store sets it.
	Size int64
	// Created is when the file was written: the time its writer gave.
	Created time.Time
	// Expires is when the file expires: from then on it is not found,
	// and the store's PurgeFiles deletes it. The zero time: never.
	Expires time.Time
}
