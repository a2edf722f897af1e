package outreach_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"testing"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/clocktest"
)

// recipientsSeq yields n recipients with ids p0, p1, ..., then err (if
// not nil).
func recipientsSeq(n int, err error) iter.Seq2[outreach.Recipient, error] {
	return func(yield func(outreach.Recipient, error) bool) {
		for i := range n {
			r := outreach.Recipient{ID: fmt.Sprintf("p%d", i), FirstName: "Ana", Phone: fmt.Sprintf("+1440%07d", 6000000+i)}
			if !yield(r, nil) {
				return
			}
		}
		if err != nil {
			yield(outreach.Recipient{}, err)
		}
	}
}

// batchSizes is a store that records the size of each batch it is given.
type batchSizes struct {
	outreach.Store
	sizes []int
}

func (b *batchSizes) CreateCampaign(ctx context.Context, c outreach.Campaign, convs []outreach.Conversation) (outreach.Campaign, int, error) {
	b.sizes = append(b.sizes, len(convs))
	return b.Store.CreateCampaign(ctx, c, convs)
}

func (b *batchSizes) AddConversations(ctx context.Context, id int64, convs []outreach.Conversation) (int, error) {
	b.sizes = append(b.sizes, len(convs))
	return b.Store.AddConversations(ctx, id, convs)
}

func TestCreateCampaignFrom(t *testing.T) {
	n := 2*outreach.ImportBatch + 17
	r := newRig(t, clocktest.Start(t), outreach.RunnerOptions{})
	bs := &batchSizes{Store: r.store}
	runner := outreach.NewRunner(bs, r.sender, outreach.RunnerOptions{Clock: r.clock, From: sender})
	c, added, err := outreach.CreateCampaignFrom(r.ctx, runner, outreach.NewCampaign{Name: "big", Flow: oneWayFlow()}, recipientsSeq(n, nil))
	if err != nil {
		t.Fatal(err)
	}
	if added != n || c.Status != outreach.CampaignDraft {
		t.Fatalf("added %d, status %s; want %d, draft", added, c.Status, n)
	}
	if want := []int{outreach.ImportBatch, outreach.ImportBatch, 17}; fmt.Sprint(bs.sizes) != fmt.Sprint(want) {
		t.Fatalf("batches of %v, want %v", bs.sizes, want)
	}
	convs, err := r.store.Conversations(r.ctx, c.ID, 0, 0)
	if err != nil || len(convs) != n {
		t.Fatalf("%d conversations, %v; want %d", len(convs), err, n)
	}
	for i, cv := range convs {
		if cv.Recipient.ID != fmt.Sprintf("p%d", i) || !cv.CreatedAt.Equal(r.clock.Now()) {
			t.Fatalf("conversation %d: %s created at %v; want p%d in file order, on the runner's clock %v", i, cv.Recipient.ID, cv.CreatedAt, i, r.clock.Now())
		}
	}
}

// An import stopped midway leaves a draft that the same recipients
// again complete, adding each once.
func TestCreateCampaignFromResumes(t *testing.T) {
	r := newRig(t, clocktest.Start(t), outreach.RunnerOptions{})
	broken := errors.New("disk went away")
	n := outreach.ImportBatch + 500
	c, added, err := outreach.CreateCampaignFrom(r.ctx, r.runner, outreach.NewCampaign{Name: "big", Flow: oneWayFlow()}, recipientsSeq(n, broken))
	var ie *outreach.ImportError
	if !errors.As(err, &ie) || !errors.Is(err, broken) || ie.Campaign != c.ID || c.ID == 0 || ie.Added != outreach.ImportBatch || added != ie.Added {
		t.Fatalf("CreateCampaignFrom = %+v, %d, %v; want an *ImportError of the campaign after one batch, wrapping the source's error", c, added, err)
	}
	got, err := r.store.Campaign(r.ctx, c.ID)
	if err != nil || got.Status != outreach.CampaignDraft {
		t.Fatalf("campaign %+v, %v; want a draft", got, err)
	}
	more, err := outreach.AddRecipientsFrom(r.ctx, r.runner, c.ID, recipientsSeq(n, nil))
	if err != nil || more != n-outreach.ImportBatch {
		t.Fatalf("AddRecipientsFrom = %d, %v; want the %d not stored", more, err, n-outreach.ImportBatch)
	}
	again, err := outreach.AddRecipientsFrom(r.ctx, r.runner, c.ID, recipientsSeq(n, nil))
	if err != nil || again != 0 {
		t.Fatalf("the same recipients a third time: %d added, %v; want 0", again, err)
	}
	p, err := r.runner.Progress(r.ctx, c.ID)
	if err != nil || p.Total != n {
		t.Fatalf("progress %+v, %v; want %d conversations", p, err, n)
	}

	// A cancelled context stops it between batches, with the campaign.
	ctx, cancel := context.WithCancel(r.ctx)
	cancel()
	_, _, err = outreach.CreateCampaignFrom(ctx, r.runner, outreach.NewCampaign{Name: "later", Flow: oneWayFlow()}, recipientsSeq(10, nil))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("with ctx cancelled: %v", err)
	}
}

func TestCreateCampaignFromRefuses(t *testing.T) {
	r := newRig(t, clocktest.Start(t), outreach.RunnerOptions{})
	nc := outreach.NewCampaign{Name: "x", Flow: oneWayFlow()}
	if _, _, err := outreach.CreateCampaignFrom(r.ctx, r.runner, nc, recipientsSeq(0, nil)); !errors.Is(err, outreach.ErrNoRecipients) {
		t.Errorf("no recipients: %v, want ErrNoRecipients", err)
	}
	bad := errors.New("header is wrong")
	c, _, err := outreach.CreateCampaignFrom(r.ctx, r.runner, nc, recipientsSeq(0, bad))
	var ie *outreach.ImportError
	if !errors.Is(err, bad) || errors.As(err, &ie) || c.ID != 0 {
		t.Errorf("an error before any recipient: %+v, %v; want the error itself and no campaign", c, err)
	}
	twice := func(yield func(outreach.Recipient, error) bool) {
		for range 2 {
			if !yield(ana, nil) {
				return
			}
		}
	}
	var de *outreach.DuplicateRecipientsError
	if _, _, err := outreach.CreateCampaignFrom(r.ctx, r.runner, nc, twice); !errors.As(err, &de) {
		t.Errorf("an id twice in a batch: %v, want *DuplicateRecipientsError", err)
	}
	list, err := r.store.Campaigns(r.ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("campaigns %v, %v; want none created", list, err)
	}
}
