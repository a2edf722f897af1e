package e2e_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/flows"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/simphone"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

const from = "+15005550006"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// areas are area codes in several zones, with the zone each should get.
var areas = []struct{ code, zone string }{
	{"212", "America/New_York"},
	{"312", "America/Chicago"},
	{"602", "America/Phoenix"},
	{"808", "Pacific/Honolulu"},
	{"415", "America/Los_Angeles"},
}

// recipientsCSV writes n recipients with valid numbers spread over areas.
func recipientsCSV(t *testing.T, n int, seed uint64) []byte {
	t.Helper()
	rnd := rand.New(rand.NewPCG(seed, 7))
	var b bytes.Buffer
	b.WriteString("patient_id,patient_first_name,patient_phone,clinic\r\n")
	seen := map[string]bool{}
	for i := 0; i < n; {
		a := areas[i%len(areas)]
		raw := fmt.Sprintf("(%s) %d%02d-%04d", a.code, 2+rnd.IntN(8), rnd.IntN(100), rnd.IntN(10000))
		e164, err := outreach.NormalizePhone(raw, "US")
		if err != nil || seen[e164] {
			continue
		}
		seen[e164] = true
		fmt.Fprintf(&b, "P%05d,Name%d,%s,\"North, East\"\r\n", i, i, raw)
		i++
	}
	return b.Bytes()
}

// TestCampaignEndToEnd runs a 1,000-recipient provider campaign on SQLite
// with simulated phones and a manual clock, started at 20:55 in Phoenix.
// With -short, and under the race detector, it runs 200: the simulation
// runs in one goroutine, which the race detector slowed sixfold (35 s,
// the longest test of the race run) for nothing a smaller campaign does
// not show; CI runs the 1,000 without it.
func TestCampaignEndToEnd(t *testing.T) {
	t.Parallel()
	n := 1000
	if testing.Short() || raceEnabled {
		n = 200
	}
	ctx := context.Background()
	phx, _ := time.LoadLocation("America/Phoenix")
	start := time.Date(2026, 11, 25, 20, 55, 0, 0, phx)

	res, err := csvio.ReadAll(ctx, bytes.NewReader(recipientsCSV(t, n, 1)), csvio.Options{})
	if err != nil || len(res.Errors) > 0 || len(res.Recipients) != n {
		t.Fatalf("reading recipients: %v, %d errors, %d recipients", err, len(res.Errors), len(res.Recipients))
	}
	// NORMAL: a process crash loses nothing; power loss is not under test.
	store, err := sqlitestore.OpenOptions(ctx, filepath.Join(t.TempDir(), "e2e.db"), sqlitestore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clock := outreach.NewManualClock(start)
	net := simphone.New(clock, 42)
	net.SetDefault(simphone.RandomPersona)
	runner := outreach.NewRunner(store, simphone.NewSender(net), outreach.RunnerOptions{
		From: from, Clock: clock, PerSecond: 10, Logger: quiet,
	})
	flow, err := flows.Builtin("provider")
	if err != nil {
		t.Fatal(err)
	}
	camp, added, err := runner.CreateCampaign(ctx, outreach.NewCampaign{Name: "e2e", Flow: flow, DefaultZone: "America/New_York"}, res.Recipients)
	if err != nil || added != n {
		t.Fatalf("create: %v, added %d", err, added)
	}
	if err := runner.StartCampaign(ctx, camp.ID); err != nil {
		t.Fatal(err)
	}
	sim := &simphone.Simulation{Runner: runner, Store: store, Network: net, Clock: clock}
	took, err := sim.Run(ctx, camp.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d recipients: %v of campaign time; stats %+v", n, took, runner.Stats())

	// Every conversation has ended.
	convs := allConversations(t, store, camp.ID)
	byPhone := map[string]outreach.Conversation{}
	zonesSeen := map[string]bool{}
	for _, c := range convs {
		if c.Status != outreach.ConversationDone || c.Outcome == "" {
			t.Fatalf("conversation %d is %s (outcome %q), want done", c.ID, c.Status, c.Outcome)
		}
		byPhone[c.Recipient.Phone] = c
		for _, z := range c.Zones {
			zonesSeen[z] = true
		}
	}
	for _, a := range areas {
		if !zonesSeen[a.zone] {
			t.Errorf("no recipient in %s (zones seen: %v)", a.zone, zonesSeen)
		}
	}

	// Quiet hours: some messages deferred, none sent outside 08:00-21:00.
	if runner.Stats().Deferred == 0 {
		t.Error("no message was deferred by quiet hours")
	}
	for _, p := range net.Phones() {
		c := byPhone[p.Number()]
		for _, m := range p.Inbox() {
			for _, z := range c.Zones {
				loc, _ := time.LoadLocation(z)
				if h := m.At.In(loc).Hour(); h < 8 || h >= 21 {
					t.Errorf("%s got a message at %s in %s", outreach.MaskPhone(p.Number()), m.At.In(loc).Format(time.DateTime), z)
				}
			}
		}
	}

	// Each message reached its phone once; STOP meant nothing after it.
	for k, c := range net.CountByKey() {
		if c != 1 {
			t.Errorf("key %v delivered %d times", k, c)
		}
	}
	stops := 0
	for _, p := range net.Phones() {
		for _, r := range p.Replies() {
			if outreach.ParseKeyword(r.Body) != outreach.KeywordStop {
				continue
			}
			stops++
			for _, m := range p.Inbox() {
				if m.At.After(r.At) {
					t.Errorf("%s texted STOP at %s and got a message at %s", outreach.MaskPhone(p.Number()), r.At, m.At)
				}
			}
		}
	}
	if stops == 0 {
		t.Error("no simulated patient texted STOP: the test proves nothing about opt-out")
	}
	for _, ref := range net.Refusals() {
		if ref.Code == simphone.CodeOptedOut {
			t.Errorf("the runner tried to send to an opted-out number (%v)", ref.Key)
		}
	}

	// The export holds exactly the answers the phones gave: each row is a
	// reply a phone sent, and each reply not in the export was stored all
	// the same (it came after its conversation had moved on).
	var out bytes.Buffer
	if _, err := csvio.ExportResponses(ctx, &out, store, camp.ID); err != nil {
		t.Fatal(err)
	}
	rows := readExport(t, out.Bytes())
	type reply struct{ phone, raw, at string }
	sent := map[reply]int{}
	for _, p := range net.Phones() {
		for _, r := range p.Replies() {
			// Replies still on their way when the campaign ended never
			// reached the runner.
			if outreach.ParseKeyword(r.Body) == outreach.NoKeyword && !r.At.After(clock.Now()) {
				sent[reply{p.Number(), r.Body, r.At.UTC().Format(time.RFC3339)}]++
			}
		}
	}
	exported := 0
	for _, row := range rows {
		if row["question_id"] == "" {
			continue
		}
		exported++
		k := reply{strings.TrimPrefix(row["patient_phone"], "'"), unneutralize(row["raw_reply"]), row["replied_at"]}
		if sent[k] == 0 {
			t.Fatalf("exported answer %v was never sent by a phone", k)
		}
		sent[k]--
	}
	unmatched := 0
	for k, left := range sent {
		if left == 0 {
			continue
		}
		unmatched += left
		c := byPhone[k.phone]
		if !storedInbound(t, store, c.ID, k.phone, k.raw) {
			t.Errorf("reply %q from %s is neither exported nor stored", k.raw, outreach.MaskPhone(k.phone))
		}
	}
	if exported == 0 {
		t.Fatal("no answer exported")
	}
	t.Logf("%d answers exported, %d late replies stored but not answers", exported, unmatched)
}

func allConversations(t *testing.T, s outreach.Store, campaign int64) []outreach.Conversation {
	t.Helper()
	var all []outreach.Conversation
	var after int64
	for {
		page, err := s.Conversations(context.Background(), campaign, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
}

func storedInbound(t *testing.T, s outreach.Store, conv int64, phone, body string) bool {
	t.Helper()
	for _, id := range []int64{conv, 0} {
		msgs, err := s.Messages(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Direction == outreach.Inbound && m.From == phone && m.Body == body {
				return true
			}
		}
	}
	return false
}

// readExport parses the responses file into rows keyed by header.
func readExport(t *testing.T, b []byte) []map[string]string {
	t.Helper()
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// unneutralize undoes csvio.Neutralize for comparison.
func unneutralize(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}
