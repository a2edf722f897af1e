// Package storeopen opens the database of the example programs: a
// PostgreSQL store (outreach/pgstore) for a postgres:// or postgresql://
// URL, else an SQLite store (outreach/sqlitestore) on a file path, the
// default. Both examples open their database here, so that everything they
// keep (campaigns, users, login attempts and challenges, web sessions,
// audit, alerts, the web app's uploads and uploaded flows) comes from the
// one store that is open.
//
//	db, err := storeopen.Open(ctx, "postgres://outreach@db.internal/outreach")
//	if err != nil {
//		return err
//	}
//	defer db.Close()
//	r := outreach.NewRunner(db, sender, opts)
//	if db.Listen != nil {
//		go db.Listen(ctx, r.Wake)
//	}
package storeopen

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/alexedwards/scs/v2"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/pgstore"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
	"github.com/patient-outreach/sms/verify"
)

// Store is what the examples use of a store: campaigns and their work,
// alerts, audit, retention, users, failed login attempts, logins
// between their two steps, and named files. Both
// *sqlitestore.Store and *pgstore.Store implement it.
type Store interface {
	outreach.Store
	outreach.AlertStore
	outreach.AuditStore
	outreach.RetentionStore
	verify.UserStore
	verify.AttemptStore
	verify.ChallengeStore
	outreach.FileStore
	// SchemaVersion returns the schema version of the database: a cheap
	// query that tells whether the database answers.
	SchemaVersion(ctx context.Context) (int, error)
	// Close closes the database.
	Close() error
}

var (
	_ Store = (*sqlitestore.Store)(nil)
	_ Store = (*pgstore.Store)(nil)
)

// Kind names the database behind a DB.
type Kind string

const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// DB is an open database. It is a Store itself.
type DB struct {
	// Store is the store.
	Store
	// Kind is SQLite or Postgres.
	Kind Kind
	// Sessions keeps the web app's sessions (scs.SessionManager.Store).
	Sessions scs.CtxStore
	// Listen, nil for SQLite, waits for the notifications of new work
	// (new conversations, replies, delivery failures) from every process
	// on the database and calls wake for each, until ctx ends; see
	// pgstore.Store.Listen. Runners poll anyway: it makes them react at
	// once.
	Listen func(ctx context.Context, wake func()) error
	// Path is the SQLite file; empty for Postgres.
	Path string
}

// IsPostgres tells whether dsn is a PostgreSQL URL (postgres:// or
// postgresql://).
func IsPostgres(dsn string) bool {
	d := strings.ToLower(strings.TrimSpace(dsn))
	return strings.HasPrefix(d, "postgres://") || strings.HasPrefix(d, "postgresql://")
}

// Open opens the database dsn: a PostgreSQL URL (see IsPostgres) opens a
// pgstore, applying its migrations; anything else is an SQLite file path,
// created if needed.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if IsPostgres(dsn) {
		s, err := pgstore.Open(ctx, strings.TrimSpace(dsn))
		if err != nil {
			return nil, err
		}
		return &DB{Kind: Postgres, Store: s, Sessions: s.Sessions(), Listen: s.Listen}, nil
	}
	return OpenSQLite(ctx, dsn, sqlitestore.Options{})
}

// OpenSQLite opens the SQLite file at path with opts, as Open does.
func OpenSQLite(ctx context.Context, path string, opts sqlitestore.Options) (*DB, error) {
	s, err := sqlitestore.OpenOptions(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return &DB{Kind: SQLite, Store: s, Sessions: s.Sessions(), Path: path}, nil
}

// Redact returns dsn without its password, for messages and logs.
func Redact(dsn string) string {
	if !IsPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(strings.TrimSpace(dsn))
	if err != nil {
		return "a postgres URL that does not parse"
	}
	return u.Redacted()
}

// DB passes on what its store does beyond Store: the runner looks for
// these optional interfaces on the store it is given, a DB.
var (
	_ outreach.CampaignStatusReader = (*DB)(nil)
	_ outreach.BatchRecorder        = (*DB)(nil)
	_ outreach.ExportRowLister      = (*DB)(nil)
)

// CampaignStatus implements [outreach.CampaignStatusReader] with the
// store's own when it has one, else from [outreach.Store.Campaign].
func (d *DB) CampaignStatus(ctx context.Context, id int64) (outreach.CampaignStatus, error) {
	return outreach.ReadCampaignStatus(ctx, d.Store, id)
}

// RecordInbounds implements [outreach.BatchRecorder]: in one transaction
// when the store has batches, else one call each ([outreach.RecordInbounds]).
func (d *DB) RecordInbounds(ctx context.Context, world string, in []outreach.InboundRecord) ([]outreach.InboundResult, error) {
	return outreach.RecordInbounds(ctx, d.Store, world, in)
}

// ExportRows implements [outreach.ExportRowLister] with the store's,
// which both stores a DB opens have: with it, csvio's export of a DB
// reads only what the file needs.
func (d *DB) ExportRows(ctx context.Context, dst []outreach.ExportRow, campaignID, after int64, limit int) ([]outreach.ExportRow, error) {
	er, ok := d.Store.(outreach.ExportRowLister)
	if !ok {
		return nil, fmt.Errorf("storeopen: a %T lists no export rows", d.Store)
	}
	return er.ExportRows(ctx, dst, campaignID, after, limit)
}

// UpdateDeliveries implements [outreach.BatchRecorder]: in one transaction
// when the store has batches, else one call each
// ([outreach.UpdateDeliveries]).
func (d *DB) UpdateDeliveries(ctx context.Context, updates []outreach.DeliveryUpdate) ([]outreach.DeliveryResult, error) {
	return outreach.UpdateDeliveries(ctx, d.Store, updates)
}
