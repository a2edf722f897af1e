package csvio_test

import (
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/internal/benchdata"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/memstore"
)

// discardStore keeps campaigns but drops their conversations, counting
// them, and measures the live heap at each batch: what is alive then is
// the pipeline's, not the store's.
type discardStore struct {
	outreach.Store
	stored   int
	peakHeap uint64
}

func (s *discardStore) CreateCampaign(ctx context.Context, c outreach.Campaign, convs []outreach.Conversation) (outreach.Campaign, int, error) {
	s.measure()
	s.stored += len(convs)
	created, _, err := s.Store.CreateCampaign(ctx, c, nil)
	return created, len(convs), err
}

func (s *discardStore) AddConversations(ctx context.Context, id int64, convs []outreach.Conversation) (int, error) {
	s.measure()
	s.stored += len(convs)
	return len(convs), nil
}

func (s *discardStore) measure() {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	s.peakHeap = max(s.peakHeap, m.HeapAlloc)
}

// pipeline streams n generated rows (benchdata's mix: formats, bad rows,
// duplicates) through csvio and outreach.CreateCampaignFrom, and returns
// the allocations per row, the largest live heap seen at a batch, and
// how many recipients reached the store.
func pipeline(t *testing.T, n int) (perRow float64, peak uint64, stored int) {
	t.Helper()
	pr, pw := io.Pipe() // the file is made as it is read: none of it is held
	go func() {
		_, err := benchdata.WriteRecipients(pw, n, benchdata.DefaultMix)
		pw.CloseWithError(err)
	}()
	ctx := context.Background()
	store := &discardStore{Store: memstore.New()}
	runner := outreach.NewRunner(store, nil, outreach.RunnerOptions{From: "+15005550006"})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rr, err := csvio.NewRecipientReader(pr, csvio.Options{MaxRows: -1, MaxBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	flow := &outreach.Flow{ID: "welcome", Steps: []outreach.Step{{ID: "hi", Kind: outreach.StepEnd, Body: "Welcome, {{recipient.first_name}}."}}}
	_, added, err := outreach.CreateCampaignFrom(ctx, runner, outreach.NewCampaign{Name: "welcome", Flow: flow}, csvio.Recipients(ctx, rr))
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if added != store.stored {
		t.Fatalf("added %d, stored %d", added, store.stored)
	}
	return float64(after.Mallocs-before.Mallocs) / float64(n), store.peakHeap - min(store.peakHeap, before.HeapAlloc), store.stored
}

// TestPipelineMemoryFlat: a file 100 times larger allocates as much per
// row, and the live heap grows only by the duplicate checks' compact sets
// (a hash of each id and the digits of each phone): the rows themselves
// are never all held, from the CSV decoder to the store's batches.
// Skipped with -short and under the race detector; CI runs it without.
func TestPipelineMemoryFlat(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("streams 1,000,000 rows: not with -short or the race detector (CI runs it without)")
	}
	smallRow, smallPeak, smallStored := pipeline(t, 10_000)
	bigRow, bigPeak, bigStored := pipeline(t, 1_000_000)
	if smallStored < 8_000 || bigStored < 800_000 {
		t.Fatalf("stored %d of 10,000 and %d of 1,000,000 rows: the generated mix has far fewer bad rows", smallStored, bigStored)
	}
	if bigRow > smallRow*1.1+1 {
		t.Errorf("allocations per row grow: %.1f at 10k rows, %.1f at 1M", smallRow, bigRow)
	}
	perRow := float64(int64(bigPeak)-int64(smallPeak)) / 990_000
	// Each set is a Go map of uint64 to int32 (the first line, for the
	// warning): about 27 bytes an entry, with its growth; 59 in all was
	// measured here.
	if perRow > 80 {
		t.Errorf("the live heap grows %.0f bytes a row (%d KB at 10k rows, %d KB at 1M)", perRow, smallPeak/1024, bigPeak/1024)
	}
	t.Logf("%.1f allocations a row at 10k rows, %.1f at 1M; peak live heap %d KB at 10k, %d KB at 1M (%.0f B a row)", smallRow, bigRow, smallPeak/1024, bigPeak/1024, perRow)
}
