package sqlitestore

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

// TestCommitConvsIndexes checks which indexes the statements that commit
// conversations write: those for updates that leave the outcome empty
// (most of them) must not rewrite conversations_campaign, the export's
// covering index, which holds the outcome; those that set an outcome
// must.
func TestCommitConvsIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "outreach.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, n := range []int{1, rowChunks[1], rowChunks[0]} {
		for _, setOutcome := range []bool{false, true} {
			written := writtenIndexes(t, s, commitConvsQuery(n, setOutcome))
			if got := slices.Contains(written, "conversations_campaign"); got != setOutcome {
				t.Errorf("commitConvsQuery(%d, %v) writes %v: conversations_campaign among them is %v, want %v", n, setOutcome, written, got, setOutcome)
			}
			// The indexes a claim reads must follow the update.
			for _, want := range []string{"conversations_due", "conversations_leased"} {
				if !slices.Contains(written, want) {
					t.Errorf("commitConvsQuery(%d, %v) writes %v, not %s", n, setOutcome, written, want)
				}
			}
		}
	}
}

// writtenIndexes returns the names of the indexes q opens for writing,
// from its program (EXPLAIN: each OpenWrite's P2 is the root page of a
// table or index).
func writtenIndexes(t *testing.T, s *Store, q string) []string {
	t.Helper()
	roots := map[int64]string{}
	rows, err := s.w.QueryContext(t.Context(), `SELECT rootpage, name FROM sqlite_schema WHERE type = 'index'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var root int64
		var name string
		if err := rows.Scan(&root, &name); err != nil {
			t.Fatal(err)
		}
		roots[root] = name
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = s.w.QueryContext(t.Context(), "EXPLAIN "+q, ones(q)...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var addr, p1, p2, p3, p5 int64
		var opcode string
		var p4, comment any
		if err := rows.Scan(&addr, &opcode, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
			t.Fatal(err)
		}
		if name, ok := roots[p2]; ok && opcode == "OpenWrite" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}
