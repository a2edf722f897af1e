package outreach

import (
	"context"
	"fmt"
	"iter"
)

// ImportBatch is how many recipients [CreateCampaignFrom] and
// [AddRecipientsFrom] store per call of the runtime (one transaction of
// the store each).
const ImportBatch = 10_000

// CreateCampaignFrom creates a draft campaign with rt, as
// rt.CreateCampaign does, over the recipients that recipients yields,
// stored ImportBatch at a time: memory holds one batch, however many
// recipients there are, so a file of a million rows can be read and
// stored as it is read (csvio.Recipients yields a file's valid rows).
//
// Within a batch, recipients whose ID repeats are refused as by
// CreateCampaign; one whose ID an earlier batch had is skipped, and not
// counted in added. (csvio and fhirio report such rows as errors, so that
// their recipients are unique.)
//
// When recipients yields an error, ctx is done, or a batch cannot be
// stored after the campaign was created, the campaign is returned with
// the error (see [ImportError]): it stays a draft, with the batches
// stored so far, and AddRecipientsFrom with the same recipients again
// completes it (those it has are skipped). Without any recipient it
// returns rt.CreateCampaign's error ([ErrNoRecipients]), unless the flow
// has a [Trigger].
func CreateCampaignFrom(ctx context.Context, rt Runtime, nc NewCampaign, recipients iter.Seq2[Recipient, error]) (Campaign, int, error) {
	var (
		c     Campaign
		added int
	)
	store := func(batch []Recipient) error {
		if c.ID == 0 {
			created, n, err := rt.CreateCampaign(ctx, nc, batch)
			if err != nil {
				return err
			}
			c, added = created, n
			return nil
		}
		n, err := rt.AddRecipients(ctx, c.ID, batch)
		added += n
		return err
	}
	err := inBatches(ctx, recipients, store)
	if err == nil && c.ID == 0 { // no recipient at all
		err = store(nil)
	}
	if err != nil && c.ID != 0 {
		err = &ImportError{Campaign: c.ID, Added: added, Err: err}
	}
	return c, added, err
}

// AddRecipientsFrom adds the recipients that recipients yields to
// campaign id with rt.AddRecipients, ImportBatch at a time. Recipients the
// campaign has (by ID) are skipped, so that after an [ImportError] the
// same recipients again complete the campaign. The error of a batch that
// could not be stored, or that recipients yields, is an *ImportError
// whose Added counts what was added before it.
func AddRecipientsFrom(ctx context.Context, rt Runtime, id int64, recipients iter.Seq2[Recipient, error]) (int, error) {
	added := 0
	err := inBatches(ctx, recipients, func(batch []Recipient) error {
		n, err := rt.AddRecipients(ctx, id, batch)
		added += n
		return err
	})
	if err != nil {
		err = &ImportError{Campaign: id, Added: added, Err: err}
	}
	return added, err
}

// inBatches calls store with the recipients of seq, ImportBatch at a
// time, and stops at the first error of seq, store or ctx. seq is read
// in a goroutine of its own, one batch ahead of the one being stored, so
// that reading a file and storing its rows take a core each; it has
// returned when inBatches does. A repeated ID within one batch reaches
// store (which refuses it); within the recipients of earlier batches, it
// is left to the store to skip.
func inBatches(ctx context.Context, seq iter.Seq2[Recipient, error], store func([]Recipient) error) error {
	var (
		batches = make(chan []Recipient)
		spare   = make(chan []Recipient, 1) // a stored batch's array, for reuse
		stop    = make(chan struct{})
		read    = make(chan error, 1)
	)
	go func() {
		defer close(batches)
		send := func(b []Recipient) bool {
			select {
			case batches <- b:
				return true
			case <-stop:
				return false
			}
		}
		batch := make([]Recipient, 0, ImportBatch)
		for r, err := range seq {
			if err != nil {
				read <- err
				return
			}
			batch = append(batch, r)
			if len(batch) < ImportBatch {
				continue
			}
			if !send(batch) {
				return
			}
			select {
			case batch = <-spare:
			default:
				batch = make([]Recipient, 0, ImportBatch)
			}
		}
		if len(batch) > 0 {
			send(batch)
		}
	}()
	defer func() {
		close(stop)
		for range batches { // until the reader has returned
		}
	}()
	for batch := range batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := store(batch); err != nil {
			return err
		}
		clear(batch) // let the stored recipients go
		select {
		case spare <- batch[:0]:
		default:
		}
	}
	select {
	case err := <-read:
		return err
	default:
		return nil
	}
}

// ImportError reports a campaign whose recipients were stored in part:
// Added of them were, and then Err stopped the import. The campaign is a
// draft; [AddRecipientsFrom] with the same recipients completes it.
type ImportError struct {
	Campaign int64
	Added    int
	Err      error
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("outreach: campaign %d: %d recipients stored, then: %v", e.Campaign, e.Added, e.Err)
}

// Unwrap returns the error that stopped the import.
func (e *ImportError) Unwrap() error { return e.Err }
