package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/patient-outreach/sms/outreach"
)

// Queries of ExportRows: the few columns a responses file needs, so that
// no conversation's JSON is read or decoded.
const (
	// ?1 campaign, ?2 after conversation, ?3 limit: the last conversation
	// of the page, from the index alone.
	exportLastQuery = `SELECT max(id) FROM (SELECT id FROM conversations
		WHERE campaign_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3)`
	// ?1 campaign, ?2 after conversation, ?3 last conversation of the
	// page.
	exportConvsQuery = `SELECT id, patient_id, first_name, phone, outcome FROM conversations
		WHERE campaign_id = ?1 AND id > ?2 AND id <= ?3 ORDER BY id`
	// ?1 campaign, ?2 after conversation, ?3 last conversation of the
	// page; in the order of responsesQuery.
	exportResponsesQuery = `SELECT conversation_id, question_id, answer, raw, replied_at, doubt FROM responses
		WHERE campaign_id = ?1 AND conversation_id > ?2 AND conversation_id <= ?3
		ORDER BY conversation_id, replied_at, id`
)

// exportPage is the scratch of one ExportRows call: the page's
// conversations (a row of no response each) and its responses (with the
// conversation in ConversationID), reused from one call to the next.
type exportPage struct {
	convs, resps []outreach.ExportRow
}

var exportPages = sync.Pool{New: func() any { return new(exportPage) }}

// ExportRows appends to dst the export rows of the campaign's first
// limit conversations with ID > after (see [outreach.ExportRow]) and
// returns the extended slice. It finds the page's last conversation in
// the index, then reads the page's conversations and their responses at
// the same time, on two connections, and merges them.
func (s *Store) ExportRows(ctx context.Context, dst []outreach.ExportRow, campaignID, after int64, limit int) ([]outreach.ExportRow, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	var last sql.NullInt64
	if err := s.r.QueryRowContext(ctx, exportLastQuery, campaignID, after, limit).Scan(&last); err != nil {
		return dst, wrap("export rows", err)
	}
	if !last.Valid {
		return dst, nil
	}
	p := exportPages.Get().(*exportPage)
	defer func() {
		clear(p.convs) // let the strings go while the page waits in the pool
		clear(p.resps)
		p.convs, p.resps = p.convs[:0], p.resps[:0]
		exportPages.Put(p)
	}()
	respErr := make(chan error, 1)
	go func() {
		var err error
		p.resps, err = s.exportResponses(ctx, p.resps[:0], campaignID, after, last.Int64)
		respErr <- err
	}()
	var err error
	p.convs, err = s.exportConvs(ctx, p.convs[:0], campaignID, after, last.Int64)
	if rerr := <-respErr; err == nil {
		err = rerr
	}
	if err != nil {
		return dst, err
	}
	// Merge, in conversation order: each response takes its
	// conversation's fields; a conversation with none keeps its row of
	// no response.
	resps := p.resps
	for i := range p.convs {
		c := &p.convs[i]
		if len(resps) == 0 || resps[0].ConversationID != c.ConversationID {
			dst = append(dst, *c)
			continue
		}
		for len(resps) > 0 && resps[0].ConversationID == c.ConversationID {
			r := resps[0]
			r.PatientID, r.FirstName, r.Phone, r.Outcome = c.PatientID, c.FirstName, c.Phone, c.Outcome
			dst = append(dst, r)
			resps = resps[1:]
		}
	}
	if len(resps) > 0 {
		// A response of a conversation the page does not have: one
		// added between the two reads, with its conversation.
		return dst, wrap("export rows", fmt.Errorf("conversation %d has responses but was not read; try again", resps[0].ConversationID))
	}
	return dst, nil
}

// exportConvs appends to dst the conversation part of the campaign's
// export rows of conversations (after, last]: a row of no response each.
func (s *Store) exportConvs(ctx context.Context, dst []outreach.ExportRow, campaignID, after, last int64) ([]outreach.ExportRow, error) {
	rows, err := s.r.QueryContext(ctx, exportConvsQuery, campaignID, after, last)
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

// exportResponses appends to dst the responses of the campaign's
// conversations (after, last], with only their ConversationID and
// response fields set.
func (s *Store) exportResponses(ctx context.Context, dst []outreach.ExportRow, campaignID, after, last int64) ([]outreach.ExportRow, error) {
	rows, err := s.r.QueryContext(ctx, exportResponsesQuery, campaignID, after, last)
	if err != nil {
		return dst, wrap("export rows", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r  outreach.ExportRow
			at int64
		)
		if err := rows.Scan(&r.ConversationID, &r.QuestionID, &r.Answer, &r.Raw, &at, &r.Doubt); err != nil {
			return dst, wrap("export rows", err)
		}
		r.RepliedAt = fromNanos(at)
		dst = append(dst, r)
	}
	return dst, wrap("export rows", rows.Err())
}
