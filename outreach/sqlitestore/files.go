package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/internal/chunks"
)

// abandonedWrite is how long after it began a file still being written
// expires, so that PurgeFiles removes what a crashed writer left.
const abandonedWrite = 24 * time.Hour

// fileVisible is the condition of a file that can be read: named, not
// taken, not expired at the parameter.
const fileVisible = `taken = 0 AND (expires IS NULL OR expires > ?)`

const fileCols = `id, name, meta, size, created, expires`

// PutFile stores the content of r as the file f.Name, with f's Meta,
// Created (the zero time: now) and Expires (the zero time: never), and
// returns the file as stored. It reads r to its end in chunks of 512
// KiB, each stored at once in a transaction of its own, so that neither
// this process nor the others' writes wait for a slow r; the file is
// seen (by name) only once every chunk is stored, when it replaces the
// file of the same name, taken or not, in one transaction. An error of r
// stores nothing, keeps the older file, and is returned wrapped (so
// errors.Is and errors.As see it). Meta, when not empty, must be JSON.
func (s *Store) PutFile(ctx context.Context, f outreach.FileInfo, r io.Reader) (outreach.FileInfo, error) {
	if f.Name == "" {
		return outreach.FileInfo{}, errors.New("sqlitestore: put file: the name is empty")
	}
	meta, err := fileMeta(f.Meta)
	if err != nil {
		return outreach.FileInfo{}, fmt.Errorf("sqlitestore: put file %q: %w", f.Name, err)
	}
	f.Created = fromNanos(nanos(orNow(f.Created)))
	f.Expires = fromNanos(nanos(f.Expires))
	until := f.Created.Add(abandonedWrite)
	if !f.Expires.IsZero() && f.Expires.Before(until) {
		until = f.Expires
	}
	var id int64
	if err := s.w.QueryRowContext(ctx, `INSERT INTO files (meta, created, expires) VALUES (?, ?, ?) RETURNING id`,
		meta, nanos(f.Created), nanos(until)).Scan(&id); err != nil {
		return outreach.FileInfo{}, fmt.Errorf("sqlitestore: put file %q: %w", f.Name, err)
	}
	abandon := func(err error) (outreach.FileInfo, error) {
		// What was written goes at once; if that fails too, PurgeFiles
		// removes it when it expires.
		_, _ = s.w.ExecContext(context.WithoutCancel(ctx), `DELETE FROM files WHERE id = ?`, id)
		return outreach.FileInfo{}, fmt.Errorf("sqlitestore: put file %q: %w", f.Name, err)
	}
	f.Size, err = chunks.Write(r, func(seq int, data []byte) error {
		_, err := s.w.ExecContext(ctx, `INSERT INTO file_chunks (file_id, seq, data) VALUES (?, ?, ?)`, id, seq, data)
		return err
	})
	if err != nil {
		return abandon(err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return abandon(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM files WHERE name = ?`, f.Name); err != nil {
		return abandon(err)
	}
	var expires any
	if !f.Expires.IsZero() {
		expires = nanos(f.Expires)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE files SET name = ?, size = ?, expires = ? WHERE id = ?`,
		f.Name, f.Size, expires, id); err != nil {
		return abandon(err)
	}
	if err := tx.Commit(); err != nil {
		return abandon(err)
	}
	f.Meta = metaOf(meta)
	return f, nil
}

// fileMeta checks meta and returns what to store: NULL when it is empty.
func fileMeta(meta json.RawMessage) (any, error) {
	if len(meta) == 0 {
		return nil, nil
	}
	if !json.Valid(meta) {
		return nil, errors.New("the metadata is not JSON")
	}
	return string(meta), nil
}

func metaOf(stored any) json.RawMessage {
	if s, ok := stored.(string); ok {
		return json.RawMessage(s)
	}
	return nil
}

// scanFile reads a row of fileCols.
func scanFile(sc scanner) (int64, outreach.FileInfo, error) {
	var (
		id               int64
		f                outreach.FileInfo
		meta             sql.NullString
		created, expires sql.NullInt64
	)
	if err := sc.Scan(&id, &f.Name, &meta, &f.Size, &created, &expires); err != nil {
		return 0, f, err
	}
	if meta.Valid {
		f.Meta = json.RawMessage(meta.String)
	}
	f.Created = fromNanos(created.Int64)
	f.Expires = fromNanos(expires.Int64)
	return id, f, nil
}

// fileNotFound is the error of a file that is not there (or is taken, or
// expired).
func fileNotFound(what, name string) error {
	return fmt.Errorf("sqlitestore: %s %q: %w", what, name, outreach.ErrNotFound)
}

// StatFile returns the file name as of now, without its content. A file
// that does not exist, is taken or has expired at now is an error that
// matches outreach.ErrNotFound.
func (s *Store) StatFile(ctx context.Context, name string, now time.Time) (outreach.FileInfo, error) {
	_, f, err := scanFile(s.r.QueryRowContext(ctx, `SELECT `+fileCols+` FROM files WHERE name = ? AND `+fileVisible, name, nanos(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return outreach.FileInfo{}, fileNotFound("stat file", name)
	}
	return f, wrap("stat file", err)
}

// OpenFile returns the file name as of now and a reader of its content,
// which fetches one chunk at a time with ctx; close it when done. A file
// that does not exist, is taken or has expired is an error that matches
// outreach.ErrNotFound. A file deleted or replaced while it is read
// fails the read with an error that matches outreach.ErrNotFound.
func (s *Store) OpenFile(ctx context.Context, name string, now time.Time) (outreach.FileInfo, io.ReadCloser, error) {
	id, f, err := scanFile(s.r.QueryRowContext(ctx, `SELECT `+fileCols+` FROM files WHERE name = ? AND `+fileVisible, name, nanos(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return outreach.FileInfo{}, nil, fileNotFound("open file", name)
	}
	if err != nil {
		return outreach.FileInfo{}, nil, wrap("open file", err)
	}
	return f, s.fileReader(ctx, id, f), nil
}

func (s *Store) fileReader(ctx context.Context, id int64, f outreach.FileInfo) io.ReadCloser {
	return chunks.NewReader(f.Size, func(seq int) ([]byte, error) {
		var data []byte
		err := s.r.QueryRowContext(ctx, `SELECT data FROM file_chunks WHERE file_id = ? AND seq = ?`, id, seq).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("sqlitestore: read file %q: %w (%w)", f.Name, chunks.ErrMissing, outreach.ErrNotFound)
		}
		return data, wrap(fmt.Sprintf("read file %q", f.Name), err)
	})
}

// SetFileMeta replaces the metadata of the file name, which must be
// there as of now and not taken (else an error that matches
// outreach.ErrNotFound). meta, when not empty, must be JSON.
func (s *Store) SetFileMeta(ctx context.Context, name string, meta json.RawMessage, now time.Time) error {
	m, err := fileMeta(meta)
	if err != nil {
		return fmt.Errorf("sqlitestore: set file meta %q: %w", name, err)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE files SET meta = ? WHERE name = ? AND `+fileVisible, m, name, nanos(now))
	if err != nil {
		return wrap("set file meta", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fileNotFound("set file meta", name)
	}
	return nil
}

// ListFiles returns the files whose name begins with prefix (every file
// for ""), by name, as of now: neither taken nor expired ones.
func (s *Store) ListFiles(ctx context.Context, prefix string, now time.Time) ([]outreach.FileInfo, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+fileCols+` FROM files
		WHERE name IS NOT NULL AND substr(name, 1, length(?)) = ? AND `+fileVisible+` ORDER BY name`,
		prefix, prefix, nanos(now))
	if err != nil {
		return nil, wrap("list files", err)
	}
	fs, err := scanAll(rows, func(sc scanner) (outreach.FileInfo, error) {
		_, f, err := scanFile(sc)
		return f, err
	})
	return fs, wrap("list files", err)
}

// TakeFile removes the file name from view, as of now, and returns it
// with a reader of its content (as OpenFile's): of several calls for one
// name, in this process or any other, exactly one gets it; the others,
// and any later call, get an error that matches outreach.ErrNotFound,
// as StatFile, OpenFile and ListFiles do. The taker then deletes the
// file (DeleteFile) once it is done with it, or puts it back
// (PutBackFile) to let it be taken again; a file taken and left expires
// as any other (one that never expires stays until deleted).
func (s *Store) TakeFile(ctx context.Context, name string, now time.Time) (outreach.FileInfo, io.ReadCloser, error) {
	id, f, err := scanFile(s.w.QueryRowContext(ctx, `UPDATE files SET taken = 1 WHERE name = ? AND `+fileVisible+` RETURNING `+fileCols, name, nanos(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return outreach.FileInfo{}, nil, fileNotFound("take file", name)
	}
	if err != nil {
		return outreach.FileInfo{}, nil, wrap("take file", err)
	}
	return f, s.fileReader(ctx, id, f), nil
}

// PutBackFile makes the taken file name visible again, as it was. A
// name that is not a taken file is an error that matches
// outreach.ErrNotFound.
func (s *Store) PutBackFile(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE files SET taken = 0 WHERE name = ? AND taken = 1`, name)
	if err != nil {
		return wrap("put back file", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fileNotFound("put back file", name)
	}
	return nil
}

// DeleteFile deletes the file name, taken or not, expired or not. A name
// that is no file is an error that matches outreach.ErrNotFound.
func (s *Store) DeleteFile(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM files WHERE name = ?`, name)
	if err != nil {
		return wrap("delete file", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fileNotFound("delete file", name)
	}
	return nil
}

// PurgeFiles deletes every file that has expired at now, taken or not,
// and what writers that never finished left (a day after they began),
// and returns how many files it deleted.
func (s *Store) PurgeFiles(ctx context.Context, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM files WHERE expires IS NOT NULL AND expires <= ?`, nanos(now))
	if err != nil {
		return 0, wrap("purge files", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("purge files", err)
}
