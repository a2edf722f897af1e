package csvio_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/pgstore/pgtest"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// exportStore is what the export tests need of a store.
type exportStore interface {
	outreach.Store
	outreach.RetentionStore
	outreach.ExportRowLister
}

// exportStores are the stores the export tests run on (pgstore only when
// OUTREACH_TEST_POSTGRES is set).
var exportStores = []struct {
	name string
	open func(t *testing.T) exportStore
}{
	{"memstore", func(*testing.T) exportStore { return memstore.New() }},
	{"sqlitestore", func(t *testing.T) exportStore {
		s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "export.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"pgstore", func(t *testing.T) exportStore { return pgtest.Open(t) }},
}

// slowSource reads a store through Conversations, Responses and Alerts
// only: the export path of sources that cannot list export rows.
type slowSource struct{ s outreach.Store }

func (s slowSource) Conversations(ctx context.Context, campaignID, after int64, limit int) ([]outreach.Conversation, error) {
	return s.s.Conversations(ctx, campaignID, after, limit)
}

func (s slowSource) Responses(ctx context.Context, campaignID int64, page outreach.ResponsePage) ([]outreach.Response, error) {
	return s.s.Responses(ctx, campaignID, page)
}

func (s slowSource) Alerts(ctx context.Context, campaignID int64) ([]outreach.Alert, error) {
	return s.s.Alerts(ctx, campaignID)
}

// otherRuntime is a runtime whose Responses may differ from its store's:
// it does not say where they come from (no ResponsesStore method), and
// edit, when set, changes each answer.
type otherRuntime struct {
	outreach.Runtime
	edit func(string) string
}

func (r otherRuntime) Responses(ctx context.Context, id int64, page outreach.ResponsePage) ([]outreach.Response, error) {
	rs, err := r.Runtime.Responses(ctx, id, page)
	if r.edit != nil {
		for i := range rs {
			rs[i].Answer = r.edit(rs[i].Answer)
		}
	}
	return rs, err
}

// exportCampaign runs a provider check-in campaign on store whose
// recipients cover what a responses file holds: several replies, none,
// replies in doubt (review), urgent words (alerts), an opt-out, and
// names and replies a spreadsheet could read as formulas or that need
// CSV quoting.
func exportCampaign(t *testing.T, store outreach.Store, clock *outreach.ManualClock, first int) (*simphone.Simulation, outreach.Campaign) {
	t.Helper()
	sim := simphone.NewSimulation(store, clock, 1, outreach.RunnerOptions{
		From: "+15005550006", Window: outreach.AnyHour, NoThrottle: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	people := []struct {
		name    string
		persona simphone.Persona
	}{
		{"=cmd|' /C calc'!A0", simphone.Persona{Responder: simphone.Scripted("was 2 yesterday, today it's worse", "I took 2 pills")}},
		{`Bo, "Jr"`, simphone.Persona{Responder: simphone.Scripted("3", "yes")}},
		{"+1 Ann", simphone.Persona{Silent: true}},
		{"@home", simphone.Persona{StopAfter: 1}},
		{" -x", simphone.Persona{Responder: simphone.Scripted("chest pain, call me", "call me")}},
		{"\u00a0=SUM(A1)", simphone.Persona{Responder: simphone.Scripted("5", "no")}},
		{"Zoë", simphone.Persona{Responder: simphone.Scripted(`=HYPERLINK("x")`, "4", "yes")}},
		{"Ana\nMaria", simphone.Persona{Responder: simphone.Scripted("\t2", "")}},
		{"", simphone.Persona{Responder: simphone.Scripted("-1", "-3", "7", "Yes!")}},
		{"＝full", simphone.Persona{Responder: simphone.Scripted(`\.`, "8", "nah")}},
	}
	var recs []outreach.Recipient
	for i, p := range people {
		phone := "+1440644" + string(rune('3'+first)) + "7" + string(rune('0'+i/10)) + string(rune('0'+i%10))
		p.persona.Delay = time.Minute
		sim.Network.Add(phone, p.persona)
		recs = append(recs, outreach.Recipient{ID: "p-" + string(rune('a'+i)), FirstName: p.name, Phone: phone})
	}
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	c, err := sim.RunCampaign(context.Background(), outreach.NewCampaign{Name: "check-in", Flow: flow}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

// export returns the responses file of campaign id read from src.
func export(t *testing.T, src csvio.ResponseSource, id int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := csvio.ExportResponses(context.Background(), &buf, src, id); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestExportRowsSameFile: a store's export rows give the same file, byte
// for byte, as its conversations and responses do, directly or through
// the embedded runtime, before and after the campaign's texts are
// purged, on every store.
func TestExportRowsSameFile(t *testing.T) {
	for _, st := range exportStores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			store := st.open(t)
			clock := clocktest.Manual(t)
			sim, c := exportCampaign(t, store, clock, 0)
			_, other := exportCampaign(t, store, clock, 1) // another campaign, purged below
			check := func(when string, id int64) []byte {
				t.Helper()
				want := export(t, slowSource{store}, id)
				if got := export(t, store, id); !bytes.Equal(got, want) {
					t.Fatalf("%s: export rows of the store:\n%s\nwant (conversations and responses):\n%s", when, got, want)
				}
				if got := export(t, csvio.RuntimeSource(store, sim.Runner), id); !bytes.Equal(got, want) {
					t.Fatalf("%s: through the runtime:\n%s\nwant:\n%s", when, got, want)
				}
				if got := export(t, csvio.RuntimeSource(store, otherRuntime{Runtime: sim.Runner}), id); !bytes.Equal(got, want) {
					t.Fatalf("%s: through a runtime that does not read the store:\n%s\nwant:\n%s", when, got, want)
				}
				return want
			}
			file := string(check("campaign", c.ID))
			for _, part := range []string{
				"'=cmd|' /C calc'!A0,'+1440644", `"Bo, ""Jr"""`, "'+1 Ann", "'@home", "' -x", "'\u00a0=SUM(A1)",
				`"'=HYPERLINK(""x"")"`, "\"Ana\nMaria\"", "'\t2", "'-1", "'＝full", `"\."`,
				"needs_review", "opted_out", "words besides the answer", "worse", "chest pain; call me",
			} {
				if !strings.Contains(file, part) {
					t.Errorf("the file has no %q:\n%s", part, file)
				}
			}
			if rows := strings.Count(file, "\np-"); rows < 15 {
				t.Errorf("the file has %d rows, want at least 15:\n%s", rows, file)
			}
			check("unknown campaign", c.ID+other.ID+100)

			clock.Advance(time.Hour)
			purged, err := store.PurgeContent(ctx, clock.Now(), clock.Now(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(purged.Campaigns) != 2 || purged.Responses == 0 {
				t.Fatalf("PurgeContent = %+v; want both campaigns purged", purged)
			}
			if after := check("purged campaign", other.ID); bytes.Contains(after, []byte("I took 2 pills")) {
				t.Errorf("purged campaign still has its replies:\n%s", after)
			}
		})
	}
}

// TestExportRuntimeResponses: through a runtime that does not say its
// responses are its store's, the file has the runtime's answers, and a
// runtime over another store is not bypassed either.
func TestExportRuntimeResponses(t *testing.T) {
	store := memstore.New()
	clock := clocktest.Manual(t)
	sim, c := exportCampaign(t, store, clock, 0)
	edited := otherRuntime{Runtime: sim.Runner, edit: func(a string) string { return "runtime:" + a }}
	if file := export(t, csvio.RuntimeSource(store, edited), c.ID); !bytes.Contains(file, []byte("runtime:3")) {
		t.Errorf("the file does not have the runtime's answers:\n%s", file)
	}
	elsewhere := outreach.NewRunner(memstore.New(), simphone.NewSender(sim.Network), outreach.RunnerOptions{From: "+15005550006", Clock: clock})
	if _, err := csvio.ExportResponses(context.Background(), io.Discard, csvio.RuntimeSource(store, elsewhere), c.ID); err == nil {
		t.Error("export through a runtime over a store without the campaign succeeded; want its error")
	}
}
