package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
)

// TestRunPostgres: --db takes a postgres:// URL: run, status and export
// work on pgstore as on an SQLite file.
func TestRunPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	sample := abs(t, sample)
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	do := func(args ...string) string {
		t.Helper()
		out.Reset()
		errb.Reset()
		if code := run(context.Background(), a, args); code != exitOK {
			t.Fatalf("%v exited %d\n%s\n%s", args, code, out.String(), errb.String())
		}
		return out.String()
	}
	got := do("run", "--csv", sample, "--db", db, "--flow", "payor", "--seed", "7", "--start", clocktest.Start(t).Format(time.RFC3339))
	if !strings.Contains(got, "done: campaign 1 done") {
		t.Fatalf("run on Postgres:\n%s", got)
	}
	if got := do("status", "--db", db); !strings.Contains(got, "completed 12/12") {
		t.Errorf("status on Postgres:\n%s", got)
	}
	if got := do("export", "--db", db, "--campaign", "1"); strings.Count(got, "\n") != 13 {
		t.Errorf("export on Postgres: %d lines; want a header and 12 rows\n%s", strings.Count(got, "\n"), got)
	}
}
