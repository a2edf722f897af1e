package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// worldState is everything stored about one campaign.
type worldState struct {
	Campaign outreach.Campaign
	Convs    []outreach.Conversation
	Messages [][]outreach.Message
	Progress outreach.Progress
}

func stateOf(t *testing.T, s outreach.Store, id int64, now time.Time) worldState {
	t.Helper()
	ctx := context.Background()
	var st worldState
	var err error
	if st.Campaign, err = s.Campaign(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st.Convs, err = s.Conversations(ctx, id, 0, 10000); err != nil {
		t.Fatal(err)
	}
	for _, c := range st.Convs {
		ms, err := s.Messages(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		st.Messages = append(st.Messages, ms)
	}
	if st.Progress, err = s.Progress(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestWorldsShareAFile is issue 11's scene with two processes on one
// SQLite file: the web app in dev mode (world dev) has a campaign whose
// first messages wait for the morning in New York, and a CLI-style
// simulation (world sim) on its own fast clock runs a campaign over the
// same patients and sending number. The simulation completes its
// campaign; the dev campaign is untouched, and its runner still finds
// its own work due in the morning.
func TestWorldsShareAFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outreach.db")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	res, err := csvio.ReadAll(ctx, bytes.NewReader(recipientsCSV(t, 20, 5)), csvio.Options{})
	if err != nil || len(res.Recipients) != 20 {
		t.Fatalf("recipients: %d, %v", len(res.Recipients), err)
	}
	open := func() *sqlitestore.Store {
		s, err := sqlitestore.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}

	// The web app: 05:00 in New York, night in every US zone.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	day := clocktest.Start(t).In(ny)
	night := time.Date(day.Year(), day.Month(), day.Day(), 5, 0, 0, 0, ny)
	devClock := outreach.NewManualClock(night)
	devNet := simphone.New(devClock, 1)
	devNet.SetDefault(func(*rand.Rand) simphone.Persona { return simphone.Persona{Silent: true} })
	devStore := open()
	dev := outreach.NewRunner(devStore, simphone.NewSender(devNet), outreach.RunnerOptions{
		From: "+15005550006", World: outreach.WorldDev, Clock: devClock, NoThrottle: true, Logger: quiet,
	})
	devCamp, _, err := dev.CreateCampaign(ctx, outreach.NewCampaign{Name: "web", Flow: flow}, res.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.StartCampaign(ctx, devCamp.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, devStore, devCamp.ID, night)
	if before.Progress.Active != 20 || before.Progress.Deferred != 20 {
		t.Fatalf("dev campaign: %+v; want 20 active conversations, their first messages deferred", before.Progress)
	}
	morning, ok, err := devStore.NextDue(ctx, dev.Scope(), night)
	if err != nil || !ok || !morning.After(night) {
		t.Fatalf("dev NextDue = %v, %v, %v; want the morning", morning, ok, err)
	}

	// The simulation, in another process on the same file.
	simClock := clocktest.Manual(t)
	simNet := simphone.New(simClock, 42)
	simNet.SetDefault(simphone.RandomPersona)
	simStore := open()
	sim := outreach.NewRunner(simStore, simphone.NewSender(simNet), outreach.RunnerOptions{
		From: "+15005550006", World: outreach.WorldSim, Clock: simClock, Window: outreach.AnyHour, NoThrottle: true, Logger: quiet,
	})
	simulation := &simphone.Simulation{Runner: sim, Store: simStore, Network: simNet, Clock: simClock}
	if _, err := simulation.Run(ctx, devCamp.ID); !errors.Is(err, outreach.ErrOtherWorld) {
		t.Fatalf("simulating the dev campaign: %v, want ErrOtherWorld", err)
	}
	simCamp, _, err := sim.CreateCampaign(ctx, outreach.NewCampaign{Name: "sim", Flow: flow}, res.Recipients)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.StartCampaign(ctx, simCamp.ID); err != nil {
		t.Fatal(err)
	}
	took, err := simulation.Run(ctx, simCamp.ID)
	if err != nil {
		t.Fatalf("simulation: %v", err)
	}
	simState := stateOf(t, simStore, simCamp.ID, simClock.Now())
	if simState.Campaign.Status != outreach.CampaignDone || simState.Progress.Done != 20 || simState.Progress.Replies == 0 {
		t.Fatalf("sim campaign after %v: %s, %+v; want done with replies", took, simState.Campaign.Status, simState.Progress)
	}

	// The dev runner, still at night, finds nothing new to do, and the dev
	// campaign is exactly as it was.
	if n, err := dev.Tick(ctx); err != nil || n != 0 {
		t.Fatalf("dev Tick after the simulation: %d, %v; want nothing due", n, err)
	}
	if after := stateOf(t, devStore, devCamp.ID, night); !reflect.DeepEqual(after, before) {
		t.Errorf("the simulation changed the dev campaign:\nbefore %+v\nafter  %+v", before, after)
	}
	if next, ok, err := devStore.NextDue(ctx, dev.Scope(), night); err != nil || !ok || !next.Equal(morning) {
		t.Errorf("dev NextDue after the simulation = %v, %v, %v; want %v", next, ok, err, morning)
	}
	if sent := devNet.CountByKey(); len(sent) != 0 {
		t.Errorf("the dev network received %d messages", len(sent))
	}
}
