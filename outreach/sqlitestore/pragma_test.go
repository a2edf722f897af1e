package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func TestPragmas(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts Options
		sync int // 1 NORMAL, 2 FULL
	}{
		{Options{}, 2},
		{Options{Synchronous: "normal"}, 1},
	} {
		s, err := OpenOptions(ctx, filepath.Join(t.TempDir(), "outreach.db"), tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, db := range []struct {
			name string
			q    querier
		}{{"writer", s.w}, {"reader", s.r}} {
			var mode string
			var sync, fk, busy int
			row := db.q.QueryRowContext(ctx, "SELECT journal_mode, synchronous, foreign_keys, timeout FROM pragma_journal_mode, pragma_synchronous, pragma_foreign_keys, pragma_busy_timeout")
			if err := row.Scan(&mode, &sync, &fk, &busy); err != nil {
				t.Fatal(err)
			}
			if mode != "wal" || sync != tc.sync || fk != 1 || busy != 5000 {
				t.Errorf("%+v %s: journal_mode %s, synchronous %d, foreign_keys %d, busy_timeout %d; want wal, %d, 1, 5000",
					tc.opts, db.name, mode, sync, fk, busy, tc.sync)
			}
		}
		s.Close()
	}
}
