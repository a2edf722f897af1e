package main

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// TestSimulationDatabase checks that the simulation's default database
// is not the web app's outreach.db: run, status and export without --db
// use outreach-sim.db, and leave an outreach.db in the same folder alone.
func TestSimulationDatabase(t *testing.T) {
	t.Parallel()
	if defaultDB("embedded") == "outreach.db" || simDB == "outreach.db" {
		t.Fatalf("the simulation's default database is %q, the web app's", defaultDB("embedded"))
	}
	dir := t.TempDir()
	r := cli(t, dir, nil, "run", "--flow", "payor", "--csv", abs(t, sample), "--seed", "3",
		"--start", clocktest.Start(t).Format(time.RFC3339), "--window", "00:00-24:00")
	if r.code != exitOK {
		t.Fatalf("run: %v", r)
	}
	if !strings.Contains(r.stdout, "database outreach-sim.db, world sim") {
		t.Errorf("run does not say which database and world it uses:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, simDB)); err != nil {
		t.Fatalf("run without --db: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "outreach.db")); err == nil {
		t.Fatal("run without --db created outreach.db, the web app's database")
	}
	r = cli(t, dir, nil, "status", "--json")
	doc := jsonDoc(t, r.stdout)
	cs, _ := doc["campaigns"].([]any)
	if r.code != exitOK || len(cs) != 1 || cs[0].(map[string]any)["world"] != outreach.WorldSim {
		t.Fatalf("status without --db: %v", r)
	}
	r = cli(t, dir, nil, "export", "--campaign", "1", "--out", filepath.Join(dir, "r.csv"))
	if r.code != exitOK || !strings.Contains(r.stderr, "world sim") {
		t.Fatalf("export without --db: %v", r)
	}
}

// snapshot is everything stored about a campaign.
type snapshot struct {
	Campaign outreach.Campaign
	Convs    []outreach.Conversation
	Messages map[int64][]outreach.Message
	Progress outreach.Progress
}

func snapshotOf(t *testing.T, s outreach.Store, id int64, now time.Time) snapshot {
	t.Helper()
	ctx := context.Background()
	c, err := s.Campaign(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	convs, err := s.Conversations(ctx, id, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot{Campaign: c, Convs: convs, Messages: map[int64][]outreach.Message{}}
	for _, cv := range convs {
		if snap.Messages[cv.ID], err = s.Messages(ctx, cv.ID); err != nil {
			t.Fatal(err)
		}
	}
	if snap.Progress, err = s.Progress(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestRunLeavesOtherWorldsAlone reproduces issue 11: the web app in dev
// mode has a campaign running in a database (at night in New York, so
// its first messages wait for the morning), and the CLI's simulation is
// run against the same file. The simulation completes its own campaign
// and reports only it; the web app's campaign is untouched: no message
// sent or answered, no state changed.
func TestRunLeavesOtherWorldsAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "outreach.db")

	// The web app's dev-mode runner: world dev, 05:00 in New York (night
	// in every US zone).
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	day := clocktest.Start(t).In(ny)
	night := time.Date(day.Year(), day.Month(), day.Day(), 5, 0, 0, 0, ny)
	clock := outreach.NewManualClock(night)
	store, err := sqlitestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	net := simphone.New(clock, 1)
	net.SetDefault(func(*rand.Rand) simphone.Persona { return simphone.Persona{Silent: true} })
	dev := outreach.NewRunner(store, simphone.NewSender(net), outreach.RunnerOptions{
		From: "+15005550006", World: outreach.WorldDev, Clock: clock, NoThrottle: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(abs(t, sample))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := csvio.ReadAll(ctx, f, csvio.Options{DefaultRegion: "US"})
	if err != nil {
		t.Fatal(err)
	}
	// The name the CLI gives its campaign: it must not resume this one.
	c, _, err := dev.CreateCampaign(ctx, outreach.NewCampaign{Name: "provider-sample_recipients", Flow: flow}, res.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.StartCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	before := snapshotOf(t, store, c.ID, night)
	if before.Progress.Deferred != len(res.Recipients) || before.Progress.Active != len(res.Recipients) {
		t.Fatalf("the dev campaign before the CLI run: %+v; want every conversation active, its first message deferred", before.Progress)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	r := cli(t, dir, nil, "run", "--flow", "provider", "--csv", abs(t, sample), "--db", db, "--seed", "11",
		"--start", clocktest.Start(t).Format(time.RFC3339), "--json")
	if r.code != exitOK {
		t.Fatalf("run against the dev campaign's database: %v", r)
	}
	lines := jsonLines(t, r.stdout)
	first, last := lines[0], lines[len(lines)-1]
	if first["event"] != "start" || first["campaign"] == float64(c.ID) || first["resumed"] != false || first["world"] != outreach.WorldSim {
		t.Fatalf("run started %v; want a new campaign of world sim", first)
	}
	counts := last["counts"].(map[string]any)
	if last["event"] != "done" || last["status"] != "done" || counts["completed"] != 12.0 || counts["total"] != 12.0 {
		t.Fatalf("run ended %v", last)
	}

	store, err = sqlitestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	after := snapshotOf(t, store, c.ID, night)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("the dev campaign changed under the CLI's simulation:\nbefore %+v\nafter  %+v", before, after)
	}
	simID := int64(first["campaign"].(float64))
	sim := snapshotOf(t, store, simID, clocktest.Start(t))
	if sim.Campaign.World != outreach.WorldSim || sim.Campaign.Status != outreach.CampaignDone || sim.Progress.Done != 12 {
		t.Errorf("the CLI's campaign: world %q, %s, %d done; want sim, done, 12", sim.Campaign.World, sim.Campaign.Status, sim.Progress.Done)
	}
	// The report counts the CLI's campaign: its replies are its own.
	if got := int(counts["replied"].(float64)); got != sim.Progress.Replies || got == 0 {
		t.Errorf("run reported %d replies; its campaign has %d", got, sim.Progress.Replies)
	}
	// The CLI refuses to change the dev campaign.
	rt, err := newRuntime("embedded", runtimeConfig{Store: store, World: outreach.WorldSim, From: "+15005550006", DefaultZone: "America/New_York", Window: outreach.AnyHour})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.CancelCampaign(ctx, c.ID); err == nil || !strings.Contains(err.Error(), `"dev"`) {
		t.Errorf("CancelCampaign of the dev campaign from the CLI: %v, want a world error", err)
	}
}
