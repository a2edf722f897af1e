package outreach

import (
	"context"
	"encoding/json"
	"io"
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

// FileStore keeps named files ([FileInfo]) in a database, so that every
// process on it sees the same ones: the example web app keeps there its
// uploads between their preview and their start, and its uploaded
// flows. A file is written and read in chunks, never whole in memory;
// it is seen only once completely written; TakeFile gives a file to
// exactly one caller of all the processes. Methods that take now see
// the files as of that time (an expired file is not there), and a
// missing file is an error that matches [ErrNotFound]. sqlitestore and
// pgstore implement it; storetest.ExerciseFiles checks them.
type FileStore interface {
	// PutFile stores r's content as the file f.Name (with f's Meta,
	// Created and Expires), replacing the file of that name once r is
	// read to its end; an error of r stores nothing.
	PutFile(ctx context.Context, f FileInfo, r io.Reader) (FileInfo, error)
	// StatFile returns a file without its content.
	StatFile(ctx context.Context, name string, now time.Time) (FileInfo, error)
	// OpenFile returns a file and a reader of its content; close it.
	OpenFile(ctx context.Context, name string, now time.Time) (FileInfo, io.ReadCloser, error)
	// SetFileMeta replaces a file's metadata.
	SetFileMeta(ctx context.Context, name string, meta json.RawMessage, now time.Time) error
	// ListFiles returns the files whose name begins with prefix, by name.
	ListFiles(ctx context.Context, prefix string, now time.Time) ([]FileInfo, error)
	// TakeFile removes a file from view and returns it with a reader of
	// its content: of concurrent calls, exactly one gets it.
	TakeFile(ctx context.Context, name string, now time.Time) (FileInfo, io.ReadCloser, error)
	// PutBackFile makes a taken file visible again.
	PutBackFile(ctx context.Context, name string) error
	// DeleteFile deletes a file, taken or not.
	DeleteFile(ctx context.Context, name string) error
	// PurgeFiles deletes the files expired at now and returns how many.
	PurgeFiles(ctx context.Context, now time.Time) (int, error)
}
