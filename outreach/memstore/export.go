package memstore

import (
	"cmp"
	"context"
	"slices"

	"github.com/patient-outreach/sms/outreach"
)

var _ outreach.ExportRowLister = (*Store)(nil)

// ExportRows appends to dst the export rows of the campaign's first
// limit conversations with ID > after (see [outreach.ExportRow]) and
// returns the extended slice. A limit of zero or less means no limit.
func (s *Store) ExportRows(ctx context.Context, dst []outreach.ExportRow, campaignID, after int64, limit int) ([]outreach.ExportRow, error) {
	if err := s.lock(ctx); err != nil {
		return dst, err
	}
	defer s.mu.Unlock()
	camp, ok := s.campaigns[campaignID]
	if !ok {
		return dst, nil
	}
	i, _ := slices.BinarySearch(camp.convs, after+1)
	ids := camp.convs[i:]
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	if len(ids) == 0 {
		return dst, nil
	}
	last := ids[len(ids)-1]
	// The page's responses in the order of Responses: by conversation,
	// then reply time, then the order they were added.
	var resp []outreach.Response
	for _, r := range camp.responses {
		if r.ConversationID > after && r.ConversationID <= last {
			resp = append(resp, r)
		}
	}
	slices.SortStableFunc(resp, func(a, b outreach.Response) int {
		return cmp.Or(cmp.Compare(a.ConversationID, b.ConversationID), a.RepliedAt.Compare(b.RepliedAt))
	})
	for _, id := range ids {
		c := &s.convs[id].c
		row := outreach.ExportRow{ConversationID: id, PatientID: c.Recipient.ID, FirstName: c.Recipient.FirstName,
			Phone: c.Recipient.Phone, Outcome: c.Outcome}
		if len(resp) == 0 || resp[0].ConversationID != id {
			dst = append(dst, row)
			continue
		}
		for len(resp) > 0 && resp[0].ConversationID == id {
			r := resp[0]
			row.QuestionID, row.Answer, row.Raw, row.Doubt, row.RepliedAt = r.QuestionID, r.Answer, r.Raw, r.Doubt, r.RepliedAt
			dst = append(dst, row)
			resp = resp[1:]
		}
	}
	return dst, nil
}
