package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"
)

// FuzzPackText: texts that SQLite packs with packText, after an integer,
// packed reads back whole, whatever their bytes; and a row cut short is
// read as malformed, never as another row (nor with a panic).
func FuzzPackText(f *testing.F) {
	s, err := Open(context.Background(), filepath.Join(f.TempDir(), "outreach.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Add(int64(7), "Zoë 😀", "12:3,4", "")
	f.Add(int64(-1), "", "\x00", ":")
	f.Add(int64(1<<62), "3:abc", ",", "\u00a0=SUM(A1)")
	query := `SELECT ?1 || ',' || ` + packText("?2") + ` || ` + packText("?3") + ` || ` + packText("?4")
	f.Fuzz(func(t *testing.T, n int64, a, b, c string) {
		var row string
		if err := s.r.QueryRowContext(t.Context(), query, n, a, b, c).Scan(&row); err != nil {
			t.Fatal(err)
		}
		p := packed{s: row}
		if gn, ga, gb, gc := p.int(), p.text(), p.text(), p.text(); p.bad || p.s != "" || gn != n || ga != a || gb != b || gc != c {
			t.Fatalf("packed %q: read %d %q %q %q (bad %v, left %q), want %d %q %q %q", row, gn, ga, gb, gc, p.bad, p.s, n, a, b, c)
		}
		for i := range len(row) {
			p := packed{s: row[:i]}
			p.int()
			p.text()
			p.text()
			p.text()
			if !p.bad {
				t.Fatalf("%q, cut to %q, read as a whole row", row, row[:i])
			}
		}
	})
}
