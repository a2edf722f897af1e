package outreach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// RetentionStore is the part of a [Store] that deletes what patients
// wrote and were sent once a campaign is over long enough (see
// [Retention]).
type RetentionStore interface {
	// PurgeContent purges up to limit campaigns (zero or less: none)
	// that are finished (done or cancelled), finished before
	// finishedBefore (their UpdatedAt, which is when their status last
	// changed) and not purged yet, oldest first, each in one transaction:
	// every message body (outbound and inbound), every inbox event body
	// and every response's Raw become empty, each conversation's
	// State.Machine (a [Machine]'s state, such as a Studio flow's context,
	// which holds replies) is removed, and the campaign's PurgedAt
	// becomes now (the caller's clock, as for every time a store keeps). Everything else stays: ids, statuses,
	// outcomes, delivery statuses, answers and doubts, alerts (which hold
	// terms only), so Progress is the same before and after. Unmatched
	// inbound messages (conversation 0) received (SentAt) before
	// finishedBefore lose their body too. A campaign that is running,
	// paused or a draft is never touched, nor is any audit record.
	// Texts a Commit adds later to a purged campaign's conversations (its
	// Enqueue, Received and Responses: a Studio execution's replies
	// collected late) are stored without them.
	PurgeContent(ctx context.Context, finishedBefore, now time.Time, limit int) (PurgeResult, error)
}

// PurgeResult says what one call of [RetentionStore.PurgeContent] did.
// It holds ids and counts only.
type PurgeResult struct {
	// Campaigns are the ids of the campaigns purged, in the order purged.
	Campaigns []int64 `json:"campaigns"`
	// Messages counts the messages of those campaigns whose body was
	// deleted (a body that was empty already is not counted).
	Messages int `json:"messages"`
	// Responses counts the responses whose Raw reply was deleted.
	Responses int `json:"responses"`
	// Unmatched counts the unmatched inbound messages whose body was
	// deleted.
	Unmatched int `json:"unmatched"`
}

// Add adds the counts of o to r.
func (r *PurgeResult) Add(o PurgeResult) {
	r.Campaigns = append(r.Campaigns, o.Campaigns...)
	r.Messages += o.Messages
	r.Responses += o.Responses
	r.Unmatched += o.Unmatched
}

// Retention purges message bodies and replies of finished campaigns a
// Period after they finished: ids, outcomes, counts, answers and alerts
// stay (see [RetentionStore.PurgeContent]). Run it beside a [Runner]:
//
//	ret := &outreach.Retention{Store: store, Period: 365 * 24 * time.Hour}
//	go ret.Run(ctx)
//
// A Period of zero or less keeps everything forever: Run returns at once
// and PurgeOnce does nothing.
type Retention struct {
	Store RetentionStore
	// Period is how long after a campaign finished its texts are kept.
	Period time.Duration
	// Clock tells the time; nil means [SystemClock].
	Clock Clock
	// Interval is how often Run purges; zero or less means an hour.
	Interval time.Duration
	// Batch is how many campaigns one PurgeContent call purges; zero or
	// less means 10.
	Batch int
	// Logger receives counts and campaign ids only, never text; nil
	// means slog.Default().
	Logger *slog.Logger
}

// PurgeOnce purges every campaign that finished more than Period ago and
// is not purged yet (in batches, until none is left), and the unmatched
// messages older than that, and returns what it did.
func (r *Retention) PurgeOnce(ctx context.Context) (PurgeResult, error) {
	var total PurgeResult
	if r.Period <= 0 {
		return total, nil
	}
	if r.Store == nil {
		return total, errors.New("outreach: retention has no store")
	}
	now := r.clock().Now()
	cutoff := now.Add(-r.Period)
	batch := r.Batch
	if batch <= 0 {
		batch = 10
	}
	for {
		res, err := r.Store.PurgeContent(ctx, cutoff, now, batch)
		total.Add(res)
		if err != nil {
			return total, fmt.Errorf("outreach: retention purge: %w", err)
		}
		if len(res.Campaigns) < batch {
			return total, nil
		}
	}
}

// Run calls PurgeOnce at once and then every Interval until ctx is done,
// logging what it purged (counts and ids only). A failed purge is logged
// and tried again at the next interval. With a Period of zero or less
// (keep forever) it returns at once. It returns ctx's error when ctx ends.
func (r *Retention) Run(ctx context.Context) error {
	if r.Period <= 0 {
		return nil
	}
	interval := r.Interval
	if interval <= 0 {
		interval = time.Hour
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	for {
		res, err := r.PurgeOnce(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("retention purge failed", "err", err)
		}
		if len(res.Campaigns) > 0 || res.Unmatched > 0 {
			log.Info("retention purge", "campaigns", len(res.Campaigns), "campaign_ids", res.Campaigns,
				"messages", res.Messages, "responses", res.Responses, "unmatched", res.Unmatched)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.clock().After(interval):
		}
	}
}

func (r *Retention) clock() Clock {
	if r.Clock == nil {
		return SystemClock{}
	}
	return r.Clock
}
