package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/patient-outreach/sms/internal/benchdata"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// TestValidateMillionRows: validate reads a generated 1,000,000-row file
// to its end, streamed, and reports every bad row (no row limit). Skipped
// with -short and under the race detector; CI runs it without.
func TestValidateMillionRows(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a million rows: not with -short or the race detector (CI runs it without)")
	}
	path := filepath.Join(t.TempDir(), "million.csv")
	counts := writeMillion(t, path)
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if code := run(context.Background(), a, []string{"validate", path}); code != exitInvalid {
		t.Fatalf("validate exited %d, want %d (the file has bad rows)\n%s", code, exitInvalid, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	summary := lines[len(lines)-1]
	var rows, valid, bad, warnings int
	if _, err := fmt.Sscanf(summary, "%d rows: %d valid, %d with errors, %d warnings", &rows, &valid, &bad, &warnings); err != nil {
		t.Fatalf("summary %q: %v", summary, err)
	}
	if rows != counts.Rows || bad < counts.Bad+counts.Duplicates/2 || valid+bad != rows || strings.Count(out.String(), "error:") < bad {
		t.Errorf("summary %q for %+v", summary, counts)
	}
}

// TestRunMillionRows: run takes a generated 1,000,000-row file (with the
// benchmark's mix of formats, bad rows and duplicates): it reports the
// bad rows, stores every valid one in a new campaign, streamed, and
// starts it; it is interrupted then (the simulation of a million
// conversations takes far longer than a test may: see the performance
// figures), and the database holds one campaign of every valid row, no
// message left sending. Skipped with -short and under the race detector;
// CI runs it without.
func TestRunMillionRows(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a million rows: not with -short or the race detector (CI runs it without)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "million.csv")
	counts := writeMillion(t, path)
	db := filepath.Join(dir, "sim.db")
	cmd := newCmd(dir, nil, "run", "--csv", path, "--db", db, "--skip-bad-rows", "--seed", "1",
		"--start", clocktest.Start(t).Format(time.RFC3339), "--json")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var (
		recipients  = -1
		interrupted bool
	)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var ev struct {
			Event      string         `json:"event"`
			Recipients int            `json:"recipients"`
			Counts     map[string]int `json:"counts"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Event == "start" {
			recipients = ev.Recipients
		}
		if !interrupted && recipients >= 0 {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			interrupted = true
		}
	}
	err = cmd.Wait()
	if !interrupted || cmd.ProcessState.ExitCode() != exitInterrupted {
		t.Fatalf("run: %v, interrupted %v; stderr:\n%.3000s", err, interrupted, errb.String())
	}
	rss := int64(0)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss / 1024 // kilobytes on Linux
	}
	var rows, valid, bad int
	for line := range strings.Lines(errb.String()) {
		if _, err := fmt.Sscanf(line, "%d rows: %d valid, %d with errors", &rows, &valid, &bad); err == nil {
			break
		}
	}
	if rows != counts.Rows || valid+bad != rows || bad < counts.Bad+counts.Duplicates/2 || strings.Count(errb.String(), "error:") < bad {
		t.Fatalf("the report says %d rows, %d valid, %d with errors, for %+v:\n%.2000s", rows, valid, bad, counts, errb.String())
	}
	if recipients != valid {
		t.Fatalf("the campaign started with %d recipients; the file has %d valid rows", recipients, valid)
	}

	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	camps, err := s.Campaigns(ctx)
	if err != nil || len(camps) != 1 {
		t.Fatalf("campaigns %d, %v; want one", len(camps), err)
	}
	p, err := s.Progress(ctx, camps[0].ID, clocktest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != valid || p.Messages[outreach.MessageSending] != 0 || camps[0].Status != outreach.CampaignRunning {
		t.Fatalf("campaign %s, progress %+v; want it running, %d conversations, no message left sending", camps[0].Status, p, valid)
	}
	t.Logf("%d rows, %d valid: a running campaign of %d conversations, %d messages sent when interrupted; peak RSS %d MB", rows, valid, p.Total, p.Messages[outreach.MessageSent], rss)
}

// writeMillion writes benchdata's 1,000,000 rows to path.
func writeMillion(t *testing.T, path string) benchdata.Counts {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := benchdata.WriteRecipients(f, 1_000_000, benchdata.DefaultMix)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return counts
}
