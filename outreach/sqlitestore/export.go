package sqlitestore

import (
	"context"
	"fmt"
	"sync"

	"github.com/patient-outreach/sms/outreach"
)

// Queries of ExportRows: the few columns a responses file needs, so that
// no conversation's JSON is read or decoded.
const (
	// ?1 campaign, ?2 after conversation, ?3 limit.
	exportConvsQuery = `SELECT id, patient_id, first_name, phone, outcome FROM conversations
		WHERE campaign_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3`
	// ?1 campaign, ?2 after conversation, ?3 last conversation of the
	// page; in the order of responsesQuery.
	exportResponsesQuery = `SELECT conversation_id, question_id, answer, raw, replied_at, doubt FROM responses
		WHERE campaign_id = ?1 AND conversation_id > ?2 AND conversation_id <= ?3
		ORDER BY conversation_id, replied_at, id`
)

// convPages holds the conversation part of a page of ExportRows, reused
// from one call to the next.
var convPages = sync.Pool{New: func() any { return new([]outreach.ExportRow) }}

var _ outreach.ExportRowLister = (*Store)(nil)

// ExportRows appends to dst the export rows of the campaign's first
// limit conversations with ID > after (see [outreach.ExportRow]) and
// returns the extended slice. It reads the page's conversations, then
// their responses, and merges the two in conversation order.
func (s *Store) ExportRows(ctx context.Context, dst []outreach.ExportRow, campaignID, after int64, limit int) ([]outreach.ExportRow, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	page := convPages.Get().(*[]outreach.ExportRow)
	defer convPages.Put(page)
	convs, err := s.exportConvs(ctx, (*page)[:0], campaignID, after, limit)
	*page = convs
	if err != nil || len(convs) == 0 {
		return dst, err
	}
	rows, err := s.r.QueryContext(ctx, exportResponsesQuery, campaignID, after, convs[len(convs)-1].ConversationID)
	if err != nil {
		return dst, wrap("export rows", err)
	}
	defer rows.Close()
	// i is the conversation the last response read was of, answered
	// whether it had one; a conversation passed without one gets its row
	// of no response.
	i, answered := 0, false
	for rows.Next() {
		var (
			conv, at int64
			r        outreach.ExportRow
		)
		if err := rows.Scan(&conv, &r.QuestionID, &r.Answer, &r.Raw, &at, &r.Doubt); err != nil {
			return dst, wrap("export rows", err)
		}
		for i < len(convs) && convs[i].ConversationID < conv {
			if !answered {
				dst = append(dst, convs[i])
			}
			i, answered = i+1, false
		}
		if i == len(convs) {
			return dst, wrap("export rows", fmt.Errorf("response of conversation %d outside the page", conv))
		}
		c := &convs[i]
		r.ConversationID, r.PatientID, r.FirstName, r.Phone, r.Outcome = c.ConversationID, c.PatientID, c.FirstName, c.Phone, c.Outcome
		r.RepliedAt = fromNanos(at)
		dst, answered = append(dst, r), true
	}
	if err := rows.Err(); err != nil {
		return dst, wrap("export rows", err)
	}
	for ; i < len(convs); i, answered = i+1, false {
		if !answered {
			dst = append(dst, convs[i])
		}
	}
	clear(convs) // let the strings go while the page waits in the pool
	return dst, nil
}

// exportConvs appends to dst the conversation part of the campaign's
// export rows: a row of no response per conversation.
func (s *Store) exportConvs(ctx context.Context, dst []outreach.ExportRow, campaignID, after int64, limit int) ([]outreach.ExportRow, error) {
	rows, err := s.r.QueryContext(ctx, exportConvsQuery, campaignID, after, limit)
	if err != nil {
		return dst, wrap("export rows", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r outreach.ExportRow
		if err := rows.Scan(&r.ConversationID, &r.PatientID, &r.FirstName, &r.Phone, &r.Outcome); err != nil {
			return dst, wrap("export rows", err)
		}
		dst = append(dst, r)
	}
	return dst, wrap("export rows", rows.Err())
}
