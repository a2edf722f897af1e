package csvio_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// TestExportReviewAndAlert: a reply that could not be read says why in
// the review column, and a reply with urgent words lists them in the
// alert column, through a store and through a runtime alike.
func TestExportReviewAndAlert(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.Manual(t)
	store := memstore.New()
	sim := simphone.NewSimulation(store, clock, 1, outreach.RunnerOptions{
		From: "+15005550006", Window: outreach.AnyHour, NoThrottle: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	runner, phones := sim.Runner, sim.Network
	phones.Add("+14406443709", simphone.Persona{Responder: simphone.Scripted("was 2 yesterday, today it's worse", "I took 2 pills"), Delay: time.Minute})
	phones.Add("+14406443710", simphone.Persona{Responder: simphone.Scripted("3", "yes"), Delay: time.Minute})
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	c, err := sim.RunCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: flow}, []outreach.Recipient{
		{ID: "p-1", FirstName: "Ana", Phone: "+14406443709"}, {ID: "p-2", FirstName: "Bo", Phone: "+14406443710"}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"p-1", "ask_pain", "", "was 2 yesterday, today it's worse", "needs_review", "words besides the answer", "worse"},
		{"p-1", "ask_pain", "", "I took 2 pills", "needs_review", "words besides the answer", ""},
		{"p-2", "ask_pain", "3", "3", "followup_scheduled", "", ""},
		{"p-2", "ask_followup", "YES", "yes", "followup_scheduled", "", ""},
	}
	for name, src := range map[string]csvio.ResponseSource{"store": store, "runtime": csvio.RuntimeSource(store, runner)} {
		var buf bytes.Buffer
		if _, err := csvio.ExportResponses(ctx, &buf, src, c.ID); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\ufeff"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(want)+1 {
			t.Fatalf("%s: %d rows; want %d:\n%s", name, len(recs)-1, len(want), buf.String())
		}
		for i, w := range want {
			r := recs[i+1]
			got := []string{r[0], r[3], r[4], r[5], r[7], r[8], r[9]}
			if strings.Join(got, "|") != strings.Join(w, "|") {
				t.Errorf("%s: row %d = %q; want %q", name, i+1, got, w)
			}
		}
	}
}
