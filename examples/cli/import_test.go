package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
)

// TestRunCompletesInterruptedImport: a run stopped while it was storing
// the file's rows leaves a draft campaign with some of them; running the
// same command again stores the rest (each row once), then starts and
// finishes the campaign.
func TestRunCompletesInterruptedImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "patients.csv")
	const rows = 40
	writeRecipients(t, csvPath, rows)
	db := filepath.Join(dir, "sim.db")

	// What the first run left: the campaign, with the first 15 rows.
	store, err := openSimStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{stdout: &strings.Builder{}, stderr: &strings.Builder{}, getenv: func(string) string { return "" }}
	rf := runtimeFlags{name: "embedded", zone: "America/New_York", window: "08:00-21:00"}
	cfg, err := rf.config(a, store, simConfig{Seed: 1, Start: clocktest.Start(t)})
	if err != nil {
		t.Fatal(err)
	}
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	// (A file of more than outreach.ImportBatch rows would leave it so
	// when the run is stopped; the simulation of such a file is slow.)
	var first []outreach.Recipient
	err = eachRecipientFile(ctx, csvPath, csvio.Options{DefaultRegion: "US"}, false, func(rr csvio.RowReader) error {
		for r, err := range csvio.Recipients(ctx, rr) {
			if err != nil || len(first) == 15 {
				return err
			}
			first = append(first, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := newSimulated(cfg).CreateCampaign(ctx, outreach.NewCampaign{Name: "import", Flow: flow, From: cfg.From}, first); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	r := cli(t, dir, nil, "run", "--csv", csvPath, "--db", db, "--name", "import", "--seed", "2", "--start", clocktest.Start(t).Format("2006-01-02T15:04:05Z07:00"))
	if r.code != exitOK {
		t.Fatalf("the second run: %v", r)
	}
	if !strings.Contains(r.stdout, "resuming campaign 1 (import)") || !strings.Contains(r.stdout, "done: campaign 1 done, 40 conversations") {
		t.Errorf("the second run's output:\n%s", r.stdout)
	}
	checkMessages(t, db, rows, true)
}
