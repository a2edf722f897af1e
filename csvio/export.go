package csvio

import (
	"context"
	"fmt"
	"io"

	"github.com/patient-outreach/sms/outreach"
)

// exportPage is how many conversations ExportResponses reads at a time.
const exportPage = 500

// ExportResponses writes a campaign's responses file to w: one row per
// reply each recipient gave (a reply that did not match a question has an
// empty answer), in conversation order, and one row with an empty
// question_id for each recipient who gave none, so every recipient's
// outcome is in the file. It reads the store a page at a time and returns
// how many rows it wrote.
func ExportResponses(ctx context.Context, w io.Writer, s outreach.Store, campaignID int64) (int, error) {
	rw := NewResponseWriter(w)
	rows := 0
	var after int64
	for {
		convs, err := s.Conversations(ctx, campaignID, after, exportPage)
		if err != nil {
			return rows, fmt.Errorf("csvio: export campaign %d: %w", campaignID, err)
		}
		if len(convs) == 0 {
			break
		}
		last := convs[len(convs)-1].ID
		resp, err := s.Responses(ctx, campaignID, outreach.ResponsePage{AfterConversation: after, Limit: len(convs)})
		if err != nil {
			return rows, fmt.Errorf("csvio: export campaign %d: %w", campaignID, err)
		}
		byConv := make(map[int64][]outreach.Response, len(convs))
		for _, r := range resp {
			if r.ConversationID <= last {
				byConv[r.ConversationID] = append(byConv[r.ConversationID], r)
			}
		}
		for _, c := range convs {
			list := byConv[c.ID]
			if len(list) == 0 {
				list = []outreach.Response{{}}
			}
			for _, r := range list {
				if err := rw.Write(NewResponseRow(c, r)); err != nil {
					return rows, err
				}
				rows++
			}
		}
		after = last
	}
	if err := rw.Flush(); err != nil {
		return rows, err
	}
	return rows, nil
}
