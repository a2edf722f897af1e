package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// PurgeContent implements [outreach.RetentionStore].
func (s *Store) PurgeContent(ctx context.Context, finishedBefore, now time.Time, limit int) (outreach.PurgeResult, error) {
	var res outreach.PurgeResult
	if err := s.lock(ctx); err != nil {
		return res, err
	}
	defer s.mu.Unlock()

	var due []*campaign
	for _, camp := range s.campaigns {
		c := camp.c
		if c.Status.Finished() && c.PurgedAt.IsZero() && c.UpdatedAt.Before(finishedBefore) {
			due = append(due, camp)
		}
	}
	slices.SortFunc(due, func(a, b *campaign) int {
		return cmp.Or(a.c.UpdatedAt.Compare(b.c.UpdatedAt), cmp.Compare(a.c.ID, b.c.ID))
	})
	if limit < 0 {
		limit = 0
	}
	due = due[:min(limit, len(due))]

	convs := make(map[int64]bool)
	for _, camp := range due {
		for _, cid := range camp.convs {
			convs[cid] = true
			s.convs[cid].c.State.Machine = nil // a Studio flow's context holds replies
			for _, mid := range s.convMessages[cid] {
				if m := s.messages[mid]; m.Body != "" {
					m.Body = ""
					res.Messages++
				}
			}
		}
		for i := range camp.responses {
			if camp.responses[i].Raw != "" {
				camp.responses[i].Raw = ""
				res.Responses++
			}
		}
		camp.c.PurgedAt = utc(now)
		res.Campaigns = append(res.Campaigns, camp.c.ID)
	}
	if len(convs) > 0 {
		for _, ev := range s.events {
			if convs[ev.ConversationID] {
				ev.Body = ""
			}
		}
	}
	for _, mid := range s.convMessages[0] {
		if m := s.messages[mid]; m.Body != "" && m.SentAt.Before(finishedBefore) {
			m.Body = ""
			res.Unmatched++
		}
	}
	return res, nil
}
