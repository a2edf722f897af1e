package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/internal/migrations"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Options tune [OpenOptions]. The zero value gives the defaults.
type Options struct {
	// Synchronous is SQLite's synchronous setting: "FULL" (the default)
	// makes every committed transaction survive a power loss; "NORMAL" is
	// faster but a power loss may roll back the last transactions (see the
	// package documentation). A process crash loses nothing either way.
	Synchronous string
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection or process before failing. Zero means 5 seconds.
	BusyTimeout time.Duration
	// Readers is the largest number of connections that read at once.
	// Zero means 4. Writes always go through a single connection.
	Readers int
}

// Store is an [outreach.Store] on an SQLite database file. It is safe for
// concurrent use. Create one with [Open] and close it with [Store.Close].
type Store struct {
	// w is the single writer connection: SQLite allows one writer at a
	// time, and funnelling writes through one connection avoids
	// SQLITE_BUSY between this process's own transactions.
	w *sql.DB
	// r is the pool of read connections.
	r *sql.DB
	// ck copies the write-ahead log into the database file, off the
	// writer's path (see checkpointer).
	ck *checkpointer

	st        stmts
	closeOnce sync.Once
	closeErr  error
}

var _ outreach.Store = (*Store)(nil)
var _ outreach.CampaignStatusReader = (*Store)(nil)
var _ outreach.BatchRecorder = (*Store)(nil)

// Open opens the database at path with the default [Options], creating
// the file (mode 0600) if it does not exist and bringing its schema up to
// date.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenOptions(ctx, path, Options{})
}

// OpenOptions is [Open] with options.
func OpenOptions(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || strings.HasPrefix(path, ":") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: %q is not a file path", path)
	}
	syncMode := strings.ToUpper(opts.Synchronous)
	switch syncMode {
	case "":
		syncMode = "FULL"
	case "FULL", "NORMAL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlitestore: synchronous must be FULL, NORMAL or EXTRA, not %q", opts.Synchronous)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	readers := opts.Readers
	if readers <= 0 {
		readers = 4
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	// SQLite would create the file with mode 0644 less the umask: create
	// it first, readable by its owner only, since it holds PHI. SQLite
	// gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("sqlitestore: %w", err)
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("sqlitestore: create database file: %w", err)
	}

	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	common.Add("_pragma", "journal_mode(WAL)")
	common.Add("_pragma", "synchronous("+syncMode+")")
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "cache_size(-16000)")
	// Statement journals (a multi-row insert keeps one, to undo itself
	// alone) and temporary tables in memory, not in files.
	common.Add("_pragma", "temp_store(MEMORY)")
	dsn := func(extra url.Values) string {
		q := url.Values{}
		for k, v := range common {
			q[k] = slices.Clone(v)
		}
		for k, v := range extra {
			q[k] = append(q[k], v...)
		}
		return (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	}

	s := &Store{}
	// BEGIN IMMEDIATE takes the write lock at once, so that a transaction
	// of another process waits under busy_timeout rather than failing
	// with SQLITE_BUSY when it would upgrade from reading to writing.
	writer := url.Values{"_txlock": {"immediate"}}
	if syncMode == "NORMAL" {
		// See checkpointer.
		s.w, s.ck, err = openCheckpointed(dsn, writer)
	} else {
		s.w, err = sql.Open("sqlite", dsn(writer))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxIdleTime(0)
	s.w.SetConnMaxLifetime(0)
	s.r, err = sql.Open("sqlite", dsn(url.Values{"_pragma": {"query_only(1)"}}))
	if err != nil {
		s.w.Close()
		s.ck.close()
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers)

	if err := migrate(ctx, s.w); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.st.prepare(ctx, s.w); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database. Calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.ck.close(), s.st.close(), s.w.Close(), s.r.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("sqlitestore: close: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// embeddedMigrations returns the embedded migrations in version order.
func embeddedMigrations() ([]migrations.Migration, error) {
	return migrations.Read(migrationsFS, "migrations")
}

// migrate brings the schema up to date. Each migration runs in its own
// transaction together with the update of PRAGMA user_version, which
// records the version reached: a migration is applied entirely or not at
// all, and never twice, even when several processes open the file at once.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := embeddedMigrations()
	if err != nil {
		return fmt.Errorf("sqlitestore: %w", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m, len(ms)); err != nil {
			return fmt.Errorf("sqlitestore: migration %s: %w", m.Name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migrations.Migration, latest int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > latest {
		return fmt.Errorf("the database has schema version %d, newer than this program knows (%d): use a newer version of the program", v, latest)
	}
	if v >= m.Version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion returns the schema version of the open database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlitestore: %w", err)
	}
	return v, nil
}
