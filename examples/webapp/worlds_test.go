package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// A campaign of another world in the app's database (a CLI simulation
// run with --db outreach.db) is neither listed nor shown nor run by the
// dev-mode app, and gets no simulated phone.
func TestOtherWorldsHidden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "outreach.db")
	store, err := sqlitestore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.Manual(t)
	sim := outreach.NewRunner(store, simphone.NewSender(simphone.New(clock, 1)), outreach.RunnerOptions{
		From: "+15005550006", Clock: clock, World: outreach.WorldSim,
	})
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := sim.CreateCampaign(ctx, outreach.NewCampaign{Name: "CLI simulation", Flow: flow},
		[]outreach.Recipient{{ID: "s-1", FirstName: "Sim", Phone: "+14406443709"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.StartCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	store.Close()

	ta := startApp(t, func(cfg *config) { cfg.DatabasePath = db })
	cl := ta.client(t)
	cl.login(ta)
	if _, body := cl.get("/campaigns"); strings.Contains(body, "CLI simulation") {
		t.Errorf("the campaigns page lists a simulation's campaign:\n%s", body)
	}
	resp, body := cl.get(fmt.Sprintf("/campaigns/%d", c.ID))
	mustStatus(t, "another world's campaign page", resp, body, http.StatusNotFound)
	resp, body = cl.get("/simulator")
	mustStatus(t, "simulator", resp, body, http.StatusOK)
	if strings.Contains(body, "6443709") {
		t.Errorf("the simulator has a phone for another world's recipient")
	}
}
