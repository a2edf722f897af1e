package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/internal/chunks"
)

// abandonedWrite is how long after it began a file still being written
// expires, so that PurgeFiles removes what a crashed writer left.
const abandonedWrite = 24 * time.Hour

// fileVisible is the condition of a file that can be read: not taken,
// not expired at the parameter $2 (the name is $1).
const fileVisible = `NOT taken AND (expires IS NULL OR expires > $2)`

const fileCols = `id, name, meta, size, created, expires`

// PutFile stores the content of r as the file f.Name, with f's Meta,
// Created (the zero time: now) and Expires (the zero time: never), and
// returns the file as stored (times to the microsecond). It reads r to
// its end in chunks of 512 KiB, each stored at once, so that no
// transaction stays open while r is slow; the file is seen (by name)
// only once every chunk is stored, when it replaces the file of the
// same name, taken or not, in one transaction that holds an advisory
// lock on the name (so that concurrent writers of one name replace one
// another in turn). An error of r stores nothing, keeps the older file,
// and is returned wrapped (so errors.Is and errors.As see it). Meta,
// when not empty, must be JSON.
func (s *Store) PutFile(ctx context.Context, f outreach.FileInfo, r io.Reader) (outreach.FileInfo, error) {
	if f.Name == "" {
		return outreach.FileInfo{}, errors.New("pgstore: put file: the name is empty")
	}
	meta, err := fileMeta(f.Meta)
	if err != nil {
		return outreach.FileInfo{}, fmt.Errorf("pgstore: put file %q: %w", f.Name, err)
	}
	if f.Created.IsZero() {
		f.Created = time.Now()
	}
	f.Created, f.Expires = micro(f.Created), micro(f.Expires)
	until := f.Created.Add(abandonedWrite)
	if !f.Expires.IsZero() && f.Expires.Before(until) {
		until = f.Expires
	}
	var id int64
	if err := s.pool.QueryRow(ctx, `INSERT INTO files (meta, created, expires) VALUES ($1, $2, $3) RETURNING id`,
		meta, ts(f.Created), ts(until)).Scan(&id); err != nil {
		return outreach.FileInfo{}, fmt.Errorf("pgstore: put file %q: %w", f.Name, err)
	}
	abandon := func(err error) (outreach.FileInfo, error) {
		// What was written goes at once; if that fails too, PurgeFiles
		// removes it when it expires.
		_, _ = s.pool.Exec(context.WithoutCancel(ctx), `DELETE FROM files WHERE id = $1`, id)
		return outreach.FileInfo{}, fmt.Errorf("pgstore: put file %q: %w", f.Name, err)
	}
	f.Size, err = chunks.Write(r, func(seq int, data []byte) error {
		_, err := s.pool.Exec(ctx, `INSERT INTO file_chunks (file_id, seq, data) VALUES ($1, $2, $3)`, id, seq, data)
		return err
	})
	if err != nil {
		return abandon(err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('outreach.files:' || $1, 0))`, f.Name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM files WHERE name = $1`, f.Name); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE files SET name = $1, size = $2, expires = $3 WHERE id = $4`,
			f.Name, f.Size, ts(f.Expires), id)
		return err
	})
	if err != nil {
		return abandon(err)
	}
	if meta != nil {
		f.Meta = json.RawMessage(*meta)
	} else {
		f.Meta = nil
	}
	return f, nil
}

// fileMeta checks meta and returns what to store: nil (NULL) when it is
// empty.
func fileMeta(meta json.RawMessage) (*string, error) {
	if len(meta) == 0 {
		return nil, nil
	}
	if !json.Valid(meta) {
		return nil, errors.New("the metadata is not JSON")
	}
	m := string(meta)
	return &m, nil
}

// scanFile reads a row of fileCols.
func scanFile(sc scanner) (int64, outreach.FileInfo, error) {
	var (
		id   int64
		f    outreach.FileInfo
		meta *string
	)
	if err := sc.Scan(&id, &f.Name, &meta, &f.Size, tp(&f.Created), tp(&f.Expires)); err != nil {
		return 0, f, err
	}
	if meta != nil {
		f.Meta = json.RawMessage(*meta)
	}
	return id, f, nil
}

// fileNotFound is the error of a file that is not there (or is taken, or
// expired).
func fileNotFound(what, name string) error {
	return fmt.Errorf("pgstore: %s %q: %w", what, name, outreach.ErrNotFound)
}

// StatFile returns the file name as of now, without its content. A file
// that does not exist, is taken or has expired at now is an error that
// matches outreach.ErrNotFound.
func (s *Store) StatFile(ctx context.Context, name string, now time.Time) (outreach.FileInfo, error) {
	_, f, err := scanFile(s.pool.QueryRow(ctx, `SELECT `+fileCols+` FROM files WHERE name = $1 AND `+fileVisible, name, ts(now)))
	if errors.Is(err, pgx.ErrNoRows) {
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
	id, f, err := scanFile(s.pool.QueryRow(ctx, `SELECT `+fileCols+` FROM files WHERE name = $1 AND `+fileVisible, name, ts(now)))
	if errors.Is(err, pgx.ErrNoRows) {
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
		err := s.pool.QueryRow(ctx, `SELECT data FROM file_chunks WHERE file_id = $1 AND seq = $2`, id, seq).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("pgstore: read file %q: %w (%w)", f.Name, chunks.ErrMissing, outreach.ErrNotFound)
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
		return fmt.Errorf("pgstore: set file meta %q: %w", name, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE files SET meta = $3 WHERE name = $1 AND `+fileVisible, name, ts(now), m)
	if err != nil {
		return wrap("set file meta", err)
	}
	if tag.RowsAffected() == 0 {
		return fileNotFound("set file meta", name)
	}
	return nil
}

// ListFiles returns the files whose name begins with prefix (every file
// for ""), in byte order of their names, as of now: neither taken nor
// expired ones.
func (s *Store) ListFiles(ctx context.Context, prefix string, now time.Time) ([]outreach.FileInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+fileCols+` FROM files
		WHERE starts_with(name, $1) AND `+fileVisible+` ORDER BY name COLLATE "C"`, prefix, ts(now))
	fs, err := scanAll(rows, err, func(sc scanner) (outreach.FileInfo, error) {
		_, f, err := scanFile(sc)
		return f, err
	})
	return fs, wrap("list files", err)
}

// TakeFile removes the file name from view, as of now, and returns it
// with a reader of its content (as OpenFile's): of several calls for one
// name, in this process or any other, exactly one gets it (the row lock
// of the UPDATE decides); the others, and any later call, get an error
// that matches outreach.ErrNotFound, as StatFile, OpenFile and ListFiles
// do. The taker then deletes the file (DeleteFile) once it is done with
// it, or puts it back (PutBackFile) to let it be taken again; a file
// taken and left expires as any other (one that never expires stays
// until deleted).
func (s *Store) TakeFile(ctx context.Context, name string, now time.Time) (outreach.FileInfo, io.ReadCloser, error) {
	id, f, err := scanFile(s.pool.QueryRow(ctx, `UPDATE files SET taken = true WHERE name = $1 AND `+fileVisible+` RETURNING `+fileCols, name, ts(now)))
	if errors.Is(err, pgx.ErrNoRows) {
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
	tag, err := s.pool.Exec(ctx, `UPDATE files SET taken = false WHERE name = $1 AND taken`, name)
	if err != nil {
		return wrap("put back file", err)
	}
	if tag.RowsAffected() == 0 {
		return fileNotFound("put back file", name)
	}
	return nil
}

// DeleteFile deletes the file name, taken or not, expired or not. A name
// that is no file is an error that matches outreach.ErrNotFound.
func (s *Store) DeleteFile(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM files WHERE name = $1`, name)
	if err != nil {
		return wrap("delete file", err)
	}
	if tag.RowsAffected() == 0 {
		return fileNotFound("delete file", name)
	}
	return nil
}

// PurgeFiles deletes every file that has expired at now, taken or not,
// and what writers that never finished left (a day after they began),
// and returns how many files it deleted.
func (s *Store) PurgeFiles(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM files WHERE expires IS NOT NULL AND expires <= $1`, ts(now))
	if err != nil {
		return 0, wrap("purge files", err)
	}
	return int(tag.RowsAffected()), nil
}
