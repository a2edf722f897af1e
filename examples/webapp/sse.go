package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// counters is a campaign's progress as the campaign page shows it, and as
// the live stream sends it.
type counters struct {
	Status    string `json:"status"`
	Finished  bool   `json:"finished"`
	Total     int    `json:"total"`
	Done      int    `json:"done"`
	Percent   int    `json:"percent"`
	Queued    int    `json:"queued"`    // recipients not reached yet (no message accepted by the provider)
	Sent      int    `json:"sent"`      // messages accepted by the provider
	Delivered int    `json:"delivered"` // messages the carrier delivered
	Replied   int    `json:"replied"`   // replies received
	Completed int    `json:"completed"` // conversations that ran to an end
	OptedOut  int    `json:"opted_out"`
	Failed    int    `json:"failed"`   // conversations that could not be delivered or were refused
	Deferred  int    `json:"deferred"` // messages held back by quiet hours (or a retry's backoff)
	// NeedsReview counts conversations that ended for a person to read a
	// reply; Urgent the alerts nobody has acknowledged.
	NeedsReview int `json:"needs_review"`
	// Unsupported counts conversations that ended at a part of the flow
	// the runtime cannot run (outcome "unsupported: ..."), such as a
	// Studio Flex hand-off run locally; they are not counted Completed.
	Unsupported int  `json:"unsupported"`
	Urgent      int  `json:"urgent"`
	Outcomes    []kv `json:"outcomes"`
	// Schedule says who waits for the sending window, and until when.
	Schedule campaignSchedule `json:"schedule"`
	// Skip is dev mode's "Skip to the next sending window" control.
	Skip skipView `json:"skip"`
	// SimNow is the simulated clock's time in dev mode, for the banner.
	SimNow *time.Time `json:"sim_now,omitempty"`
}

type kv struct {
	Key   string `json:"key"`
	Value int    `json:"value"`
}

// countersOf maps the runtime's Progress and the campaign's schedule to
// the page's counters.
func countersOf(status outreach.CampaignStatus, p outreach.Progress, s campaignSchedule) counters {
	c := counters{
		Status:      string(status),
		Finished:    status.Finished(),
		Total:       p.Total,
		Done:        p.Done,
		Queued:      s.NotReached,
		Sent:        p.Messages[outreach.MessageSent],
		Delivered:   p.Delivery["delivered"],
		Replied:     p.Replies,
		OptedOut:    p.Outcomes[outreach.OutcomeOptedOut],
		Failed:      p.Outcomes[outreach.OutcomeDeliveryFailed] + p.Outcomes[outreach.OutcomeFailed],
		Deferred:    p.Deferred,
		Schedule:    s,
		NeedsReview: p.Outcomes[outreach.OutcomeNeedsReview],
	}
	if c.Schedule.Zones == nil {
		c.Schedule.Zones = []zoneWait{}
	}
	if p.Total > 0 {
		c.Percent = p.Done * 100 / p.Total
	}
	for k, v := range p.Outcomes {
		switch k {
		case outreach.OutcomeOptedOut, outreach.OutcomeDeliveryFailed, outreach.OutcomeFailed, outreach.OutcomeCancelled:
		default:
			if strings.HasPrefix(k, outreach.OutcomeUnsupported) {
				c.Unsupported += v
				break
			}
			c.Completed += v
		}
		c.Outcomes = append(c.Outcomes, kv{k, v})
	}
	slices.SortFunc(c.Outcomes, func(a, b kv) int {
		if a.Value != b.Value {
			return b.Value - a.Value
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return c
}

// progressEvents streams a campaign's counters as Server-Sent Events: it
// polls the runtime every ProgressInterval and sends an event when they
// change, and a comment every 15 seconds to keep proxies from closing the
// stream. It ends when the campaign is finished (after a last "progress"
// event and a "finished" event), when the client goes away, or when the
// server shuts down.
func (a *app) progressEvents(w http.ResponseWriter, r *http.Request) {
	c, rt, ok := a.campaign(w, r)
	if !ok {
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	ctx := r.Context()
	tick := time.NewTicker(a.cfg.ProgressInterval)
	defer tick.Stop()
	var (
		last  []byte
		sched campaignSchedule
		skip  skipView
	)
	lastWrite := time.Now()
	for n := 0; ; n++ {
		cur, err := a.store.Campaign(ctx, c.ID)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("progress stream: campaign", "campaign", c.ID, "err", err)
			}
			return
		}
		p, err := rt.Progress(ctx, c.ID)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("progress stream: progress", "campaign", c.ID, "err", err)
			}
			return
		}
		// A large campaign's schedule costs a query per unfinished
		// conversation: it is read again every 10 seconds only.
		if p.Total <= 500 || n%20 == 0 || cur.Status.Finished() {
			if sched, err = a.schedule(ctx, cur); err != nil {
				if ctx.Err() == nil {
					a.log.Warn("progress stream: schedule", "campaign", c.ID, "err", err)
				}
				return
			}
			skip = a.skipOf(cur, sched)
		}
		cnt := countersOf(cur.Status, p, sched)
		cnt.Skip = skip
		as, err := a.alerts(ctx, c.ID)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("progress stream: alerts", "campaign", c.ID, "err", err)
			}
			return
		}
		cnt.Urgent = outreach.Unacknowledged(as)
		if a.dev != nil && cnt.Skip.Show {
			// Only while a skip is possible (or just made): otherwise the
			// ticking clock would send an event every tick.
			now := a.dev.clock.Now().Truncate(time.Minute)
			cnt.SimNow = &now
		}
		b, _ := json.Marshal(cnt)
		switch {
		case string(b) != string(last):
			if _, err := fmt.Fprintf(w, "event: progress\ndata: %s\n\n", b); err != nil {
				return
			}
			last, lastWrite = b, time.Now()
		case time.Since(lastWrite) > 15*time.Second:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			lastWrite = time.Now()
		}
		if cnt.Finished {
			fmt.Fprint(w, "event: finished\ndata: {}\n\n")
			rc.Flush()
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-a.stopping:
			return
		case <-tick.C:
		}
	}
}
