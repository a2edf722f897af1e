package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/internal/migrations"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// MigrationLockKey is the key of the advisory lock (pg_advisory_xact_lock)
// that [Open] holds while it migrates, so that processes opening the same
// database at once apply each migration exactly once.
const MigrationLockKey int64 = 0x6f757472656163 // "outreac"

// DefaultChannel is the prefix of the LISTEN/NOTIFY channel of a store:
// the channel is DefaultChannel, "_" and the store's schema (see
// [Store.Channel]), so that stores in different schemas of one database
// do not wake each other.
const DefaultChannel = "outreach_work"

// Options tune [Open]. The zero value gives the defaults.
type Options struct {
	// Schema, when not empty, is the schema the store's tables live in:
	// it is created if missing and set as the search_path of every
	// connection. Empty: the search_path of the URL or of the server
	// (usually "public").
	Schema string
	// MaxConns is the largest number of connections of the pool. Zero
	// means pgxpool's default (the larger of 4 and the number of CPUs),
	// or the pool_max_conns parameter of the URL.
	MaxConns int32
	// Channel is the LISTEN/NOTIFY channel on which the store announces
	// new work. Empty means [DefaultChannel] followed by "_" and the
	// schema.
	Channel string
}

// Option changes the [Options] of [Open].
type Option func(*Options)

// WithSchema sets [Options.Schema].
func WithSchema(schema string) Option { return func(o *Options) { o.Schema = schema } }

// WithOptions replaces every option by opts.
func WithOptions(opts Options) Option { return func(o *Options) { *o = opts } }

// Store is an [outreach.Store] (and a verify.UserStore and
// verify.AttemptStore) on a PostgreSQL database, through a pgx connection
// pool. It is safe for concurrent use, and any number of processes may
// share one database. Create one with [Open] and close it with
// [Store.Close].
type Store struct {
	pool    *pgxpool.Pool
	schema  string
	channel string

	closeOnce sync.Once
}

var _ outreach.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a
// key=value connection string, as pgx accepts: a search_path parameter
// of the URL is sent as a runtime parameter) and brings its schema up to
// date, holding an advisory lock while it migrates so that concurrent
// Opens are safe.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse the database URL: %w", err)
	}
	if o.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{o.Schema}.Sanitize()
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx, o.Schema); err != nil {
		pool.Close()
		return nil, err
	}
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&s.schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: current schema: %w", err)
	}
	s.channel = o.Channel
	if s.channel == "" {
		s.channel = DefaultChannel + "_" + s.schema
		if len(s.channel) > 63 { // NAMEDATALEN - 1
			s.channel = s.channel[:63]
		}
	}
	return s, nil
}

// Close closes the pool. Calling it again does nothing. It does not stop
// [Store.Listen] or [Store.Wake], which have connections of their own:
// cancel their context.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// Pool returns the store's connection pool, for queries of an embedder's
// own (the schema's tables are documented in the package documentation).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema the store's tables are in.
func (s *Store) Schema() string { return s.schema }

// embeddedMigrations returns the embedded migrations in version order.
func embeddedMigrations() ([]migrations.Migration, error) {
	return migrations.Read(migrationsFS, "migrations")
}

// LatestSchema is the schema version this package brings a database to.
func LatestSchema() int {
	ms, err := embeddedMigrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate brings the schema up to date in one transaction that holds the
// advisory lock MigrationLockKey: a migration is applied entirely or not
// at all, and never twice, even when several processes Open at once. The
// versions applied are rows of schema_migrations.
func (s *Store) migrate(ctx context.Context, schema string) error {
	ms, err := embeddedMigrations()
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, MigrationLockKey); err != nil {
		return fmt.Errorf("pgstore: migrate: take the migration lock: %w", err)
	}
	if schema != "" {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("pgstore: migrate: create schema %q: %w", schema, err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if v > len(ms) {
		return fmt.Errorf("pgstore: the database has schema version %d, newer than this program knows (%d): use a newer version of the program", v, len(ms))
	}
	for _, m := range ms[v:] {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("pgstore: migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return fmt.Errorf("pgstore: migration %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// SchemaVersion returns the schema version of the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("pgstore: schema version: %w", err)
	}
	return v, nil
}

// ts is t as a query argument: NULL for the zero time, else t, which
// Postgres keeps to the microsecond (pgx truncates the rest).
func ts(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// micro is t as it comes back from the database: truncated to the
// microsecond, in UTC; the zero time stays zero.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// tsDst scans a timestamptz into a time.Time: NULL and the infinities
// are the zero time, any other time comes back in UTC.
type tsDst time.Time

// ScanTimestamptz implements pgtype.TimestamptzScanner.
func (d *tsDst) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid || v.InfinityModifier != pgtype.Finite {
		*d = tsDst(time.Time{})
		return nil
	}
	*d = tsDst(v.Time.UTC())
	return nil
}

// tp returns a scan destination for the time *t.
func tp(t *time.Time) *tsDst { return (*tsDst)(t) }

// nullID stores 0 as NULL, for the optional references of messages.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// noLimit maps a limit of zero or less to NULL, which LIMIT reads as none.
func noLimit(limit int) any {
	if limit <= 0 {
		return nil
	}
	return limit
}

// orNow returns t, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// uniqueViolation returns the constraint (index) name when err is a
// unique violation, else "".
func uniqueViolation(err error) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName, true
	}
	return "", false
}

// wrap prefixes err with the package name, keeping it for errors.Is.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("pgstore: %s: %w", what, err)
}

// rollback ends tx, whatever the state of ctx.
func rollback(ctx context.Context, tx pgx.Tx) {
	_ = tx.Rollback(context.WithoutCancel(ctx))
}
