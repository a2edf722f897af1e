package csvio_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
	"github.com/patient-outreach/sms/outreach/sqlitestore"
)

// genRows is a ResponseSource of a generated campaign of n
// conversations, each with one reply (every tenth none, every seventh
// two), listed through ExportRows: the export without a store. measure,
// when set, is called at each page.
type genRows struct {
	n       int64
	measure func()
}

func (g genRows) Conversations(context.Context, int64, int64, int) ([]outreach.Conversation, error) {
	panic("genRows is read through ExportRows")
}

func (g genRows) Responses(context.Context, int64, outreach.ResponsePage) ([]outreach.Response, error) {
	panic("genRows is read through ExportRows")
}

var genAt = time.Date(2026, 3, 2, 17, 0, 0, 0, time.UTC)

func (g genRows) ExportRows(_ context.Context, dst []outreach.ExportRow, _, after int64, limit int) ([]outreach.ExportRow, error) {
	if g.measure != nil {
		g.measure()
	}
	for id := after + 1; id <= g.n && id <= after+int64(limit); id++ {
		c := outreach.ExportRow{ConversationID: id, PatientID: fmt.Sprintf("P%07d", id), FirstName: "Pat",
			Phone: fmt.Sprintf("+1212%07d", id), Outcome: "answered"}
		switch {
		case id%10 == 0:
			dst = append(dst, c)
			continue
		case id%7 == 0:
			r := c
			r.QuestionID, r.Raw, r.Doubt, r.RepliedAt = "q", "maybe", outreach.DoubtNoNumber, genAt
			dst = append(dst, r)
		}
		c.QuestionID, c.Answer, c.Raw, c.RepliedAt = "q", "7", "fine, 7", genAt.Add(time.Duration(id)*time.Second)
		dst = append(dst, c)
	}
	return dst, nil
}

// exportHeap exports a generated campaign of n conversations and returns
// the allocations per row written and the largest live heap seen at a
// page, above the heap before.
func exportHeap(t *testing.T, n int64) (perRow float64, peak uint64) {
	t.Helper()
	var before, after, m runtime.MemStats
	measure := func() {
		runtime.GC()
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapAlloc)
	}
	runtime.GC()
	runtime.ReadMemStats(&before)
	rows, err := csvio.ExportResponses(context.Background(), io.Discard, genRows{n: n, measure: measure}, 1)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if rows < int(n) {
		t.Fatalf("wrote %d rows of %d conversations", rows, n)
	}
	return float64(after.Mallocs-before.Mallocs) / float64(rows), peak - min(peak, before.HeapAlloc)
}

// TestExportMemoryFlat: exporting a campaign 100 times larger allocates
// as much per row and holds no more live heap: pages of rows are reused,
// never the campaign held. Skipped with -short and under the race
// detector.
func TestExportMemoryFlat(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("exports 1,000,000 conversations: not with -short or the race detector")
	}
	smallRow, smallPeak := exportHeap(t, 10_000)
	bigRow, bigPeak := exportHeap(t, 1_000_000)
	if bigRow > smallRow*1.1+0.5 {
		t.Errorf("allocations per row grow: %.2f at 10k conversations, %.2f at 1M", smallRow, bigRow)
	}
	if bigPeak > smallPeak+256<<10 {
		t.Errorf("the live heap grows: %d KB at 10k conversations, %d KB at 1M", smallPeak>>10, bigPeak>>10)
	}
	t.Logf("%.2f allocations a row at 10k, %.2f at 1M; peak live heap %d KB at 10k, %d KB at 1M", smallRow, bigRow, smallPeak>>10, bigPeak>>10)
}

// benchCampaign stores a finished campaign of n conversations in store,
// each with one reply, through the Store interface, and returns its ID.
func benchCampaign(b *testing.B, store outreach.Store, n int) int64 {
	b.Helper()
	ctx := context.Background()
	convs := make([]outreach.Conversation, n)
	for i := range convs {
		convs[i] = outreach.Conversation{Recipient: outreach.Recipient{ID: fmt.Sprintf("P%07d", i), FirstName: "Pat",
			Phone: fmt.Sprintf("+1212%03d%04d", 200+i/10000, i%10000)}, TwoWay: true, NextAt: genAt}
	}
	c, _, err := store.CreateCampaign(ctx, outreach.Campaign{Name: "export", Flow: &outreach.Flow{ID: "bench", Steps: []outreach.Step{
		{ID: "q", Kind: outreach.StepAsk, Body: "How are you?", Next: "end"}, {ID: "end", Kind: outreach.StepEnd, Outcome: "answered"}}},
		From: "+15005550006", Status: outreach.CampaignRunning, CreatedAt: genAt}, convs)
	if err != nil {
		b.Fatal(err)
	}
	for {
		cls, err := store.ClaimDue(ctx, outreach.Scope{Runtime: outreach.RuntimeEmbedded}, genAt, 500, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if len(cls) == 0 {
			return c.ID
		}
		ups := make([]outreach.Update, len(cls))
		for i, cl := range cls {
			u := outreach.Update{Lease: cl.Lease, Conversation: cl.Conversation, Release: true}
			u.Conversation.Status, u.Conversation.Outcome, u.Conversation.NextAt = outreach.ConversationDone, "answered", time.Time{}
			u.Responses = []outreach.Response{{PatientID: cl.Conversation.Recipient.ID, QuestionID: "q", Raw: "fine thanks", Answer: "fine thanks", RepliedAt: genAt}}
			ups[i] = u
		}
		if _, err := store.Commit(ctx, genAt, ups); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExportResponses exports a campaign of 20,000 conversations,
// each with one reply, into io.Discard: generated rows (the CSV writing
// alone), and from memstore and sqlitestore (their ExportRows).
func BenchmarkExportResponses(b *testing.B) {
	const n = 20_000
	sq, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "export.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer sq.Close()
	mem := memstore.New()
	sources := []struct {
		name string
		src  func() (csvio.ResponseSource, int64)
	}{
		{"generated", func() (csvio.ResponseSource, int64) { return genRows{n: n}, 1 }},
		{"memstore", func() (csvio.ResponseSource, int64) { return mem, benchCampaign(b, mem, n) }},
		{"sqlitestore", func() (csvio.ResponseSource, int64) { return sq, benchCampaign(b, sq, n) }},
	}
	for _, s := range sources {
		b.Run(s.name, func(b *testing.B) {
			src, id := s.src()
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				k, err := csvio.ExportResponses(context.Background(), io.Discard, src, id)
				if err != nil {
					b.Fatal(err)
				}
				rows += k
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
