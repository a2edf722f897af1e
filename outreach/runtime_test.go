package outreach_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/simphone"
)

// runtimeRig is a Runner on a memory store and simulated phones, on a
// manual clock from the tests' fixed start, with quiet hours off.
type runtimeRig struct {
	runner *outreach.Runner
	store  *memstore.Store
	phones *simphone.Network
	clock  *outreach.ManualClock
}

func newRuntimeRig(t *testing.T) *runtimeRig {
	t.Helper()
	clock := clocktest.Manual(t)
	phones := simphone.New(clock, 1)
	store := memstore.New()
	runner := outreach.NewRunner(store, simphone.NewSender(phones), outreach.RunnerOptions{
		From: "+15005550006", Clock: clock, Window: outreach.AnyHour, NoThrottle: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return &runtimeRig{runner: runner, store: store, phones: phones, clock: clock}
}

func TestResponsesListEveryRecipientWithOutcome(t *testing.T) {
	ctx := context.Background()
	rig := newRuntimeRig(t)
	rig.phones.Add("+14406443709", simphone.Persona{Responder: simphone.Scripted("3"), Delay: time.Minute})
	rig.phones.Add("+14406443710", simphone.Persona{Silent: true})
	rig.phones.Add("+14406443711", simphone.Persona{Responder: simphone.Scripted("STOP"), Delay: time.Minute})
	recipients := []outreach.Recipient{
		{ID: "p-1", FirstName: "Ana", Phone: "+14406443709"},
		{ID: "p-2", FirstName: "Ben", Phone: "+14406443710"},
		{ID: "p-3", FirstName: "Cy", Phone: "+14406443711"},
	}
	c, _, err := rig.runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "check-in", Flow: checkIn()}, recipients)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rig.runner.Progress(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != outreach.CampaignDraft || p.Total != 3 {
		t.Errorf("Progress of a new campaign: status %q, total %d; want draft, 3", p.Status, p.Total)
	}
	if err := rig.runner.StartCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	sim := &simphone.Simulation{Runner: rig.runner, Store: rig.store, Network: rig.phones, Clock: rig.clock}
	if _, err := sim.Run(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	p, err = rig.runner.Progress(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != outreach.CampaignDone {
		t.Errorf("Progress after the campaign ended: status %q, want done", p.Status)
	}

	got, err := rig.runner.Responses(ctx, c.ID, outreach.ResponsePage{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ patient, question, answer, outcome string }
	var rows []row
	for _, r := range got {
		rows = append(rows, row{r.PatientID, r.QuestionID, r.Answer, r.Outcome})
	}
	want := []row{
		{"p-1", "ask_pain", "3", "ok"},
		{"p-2", "", "", outreach.OutcomeTimeout},
		{"p-3", "", "", outreach.OutcomeOptedOut},
	}
	if len(rows) != len(want) {
		t.Fatalf("Responses = %+v, want %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("Responses[%d] = %+v, want %+v", i, rows[i], want[i])
		}
	}

	// Pages: one conversation at a time gives the same rows.
	var paged []outreach.Response
	page := outreach.ResponsePage{Limit: 1}
	for range 5 {
		part, err := rig.runner.Responses(ctx, c.ID, page)
		if err != nil {
			t.Fatal(err)
		}
		if len(part) == 0 {
			break
		}
		paged = append(paged, part...)
		page.AfterConversation = part[len(part)-1].ConversationID
	}
	if len(paged) != len(got) {
		t.Errorf("paging one conversation at a time gave %d rows, want %d", len(paged), len(got))
	}

	if _, err := rig.runner.Responses(ctx, c.ID+100, outreach.ResponsePage{}); !errors.Is(err, outreach.ErrNotFound) {
		t.Errorf("Responses of an unknown campaign: err = %v, want ErrNotFound", err)
	}
}

func TestCreateCampaignRefusesDuplicateIDs(t *testing.T) {
	ctx := context.Background()
	rig := newRuntimeRig(t)
	recipients := []outreach.Recipient{
		{ID: "mrn-1", FirstName: "Ana", Phone: "+14406443709"},
		{ID: "mrn-2", FirstName: "Ben", Phone: "+14406443710"},
		{ID: "mrn-1", FirstName: "Ana", Phone: "+14406443711"},
		{ID: "mrn-2", FirstName: "Bea", Phone: "+14406443712"},
	}
	_, _, err := rig.runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "dups", Flow: checkIn()}, recipients)
	var dup *outreach.DuplicateRecipientsError
	if !errors.As(err, &dup) || !errors.Is(err, outreach.ErrDuplicateRecipient) {
		t.Fatalf("CreateCampaign with repeated ids: err = %v, want a *DuplicateRecipientsError", err)
	}
	want := []outreach.DuplicateRecipient{{Index: 2, First: 0, ID: "mrn-1"}, {Index: 3, First: 1, ID: "mrn-2"}}
	if len(dup.Duplicates) != len(want) || dup.Duplicates[0] != want[0] || dup.Duplicates[1] != want[1] {
		t.Errorf("Duplicates = %+v, want %+v", dup.Duplicates, want)
	}
	if msg := err.Error(); strings.Contains(msg, "mrn-") || !strings.Contains(msg, "recipient 3 repeats recipient 1") {
		t.Errorf("error %q: want positions (recipient 3 repeats recipient 1), and no patient id", msg)
	}
	if list, _ := rig.store.Campaigns(ctx); len(list) != 0 {
		t.Errorf("a refused campaign was stored: %+v", list)
	}

	c, _, err := rig.runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "ok", Flow: checkIn()}, recipients[:2])
	if err != nil {
		t.Fatal(err)
	}
	// Ids the campaign has already: a re-upload, skipped without error.
	if n, err := rig.runner.AddRecipients(ctx, c.ID, recipients[2:]); err != nil || n != 0 {
		t.Errorf("AddRecipients of ids the campaign has: added %d, err %v; want 0, nil", n, err)
	}
	if _, err := rig.runner.AddRecipients(ctx, c.ID, []outreach.Recipient{recipients[0], recipients[0]}); !errors.Is(err, outreach.ErrDuplicateRecipient) {
		t.Errorf("AddRecipients with one id twice: err = %v, want ErrDuplicateRecipient", err)
	}
}

// TestCreateCampaignErrorsHoldNoName: a campaign's name is typed by an
// operator and may hold PHI; CreateCampaign's errors, which the examples
// log, never repeat it.
func TestCreateCampaignErrorsHoldNoName(t *testing.T) {
	const name = "Oncology follow-up Zebulon"
	recipients := []outreach.Recipient{{ID: "p-1", FirstName: "Zebulon", Phone: "+14406443709"}}
	for what, nc := range map[string]outreach.NewCampaign{
		"no flow":  {Name: name},
		"bad zone": {Name: name, Flow: checkIn(), DefaultZone: "Mars/Olympus_Mons"},
	} {
		rig := newRuntimeRig(t)
		_, _, err := rig.runner.CreateCampaign(context.Background(), nc, recipients)
		if err == nil {
			t.Errorf("%s: no error", what)
			continue
		}
		if strings.Contains(err.Error(), "Zebulon") {
			t.Errorf("%s: the error holds the campaign name: %v", what, err)
		}
	}
	// No sending number at all.
	runner := outreach.NewRunner(memstore.New(), nil, outreach.RunnerOptions{Clock: clocktest.Manual(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	_, _, err := runner.CreateCampaign(context.Background(), outreach.NewCampaign{Name: name, Flow: checkIn()}, recipients)
	if err == nil || strings.Contains(err.Error(), "Zebulon") {
		t.Errorf("no sending number: error %v", err)
	}
}
