package pgstore

import (
	"context"

	"github.com/patient-outreach/sms/outreach"
)

// exportRowsQuery lists the export rows of a page of conversations: $1
// campaign, $2 after conversation, $3 limit of conversations. Only the
// columns a responses file needs are read; a conversation with no
// response has one row of empty response columns. The responses are in
// the order of Responses.
const exportRowsQuery = `SELECT c.id, c.patient_id, c.first_name, c.phone, c.outcome,
		coalesce(r.question_id, ''), coalesce(r.answer, ''), coalesce(r.raw, ''), r.replied_at, coalesce(r.doubt, '')
	FROM (SELECT id, patient_id, first_name, phone, outcome FROM conversations
		WHERE campaign_id = $1 AND id > $2 ORDER BY id LIMIT $3) AS c
	LEFT JOIN responses r ON r.campaign_id = $1 AND r.conversation_id = c.id
	ORDER BY c.id, r.replied_at, r.id`

var _ outreach.ExportRowLister = (*Store)(nil)

// ExportRows appends to dst the export rows of the campaign's first
// limit conversations with ID > after (see [outreach.ExportRow]) and
// returns the extended slice. A limit of zero or less means no limit.
func (s *Store) ExportRows(ctx context.Context, dst []outreach.ExportRow, campaignID, after int64, limit int) ([]outreach.ExportRow, error) {
	rows, err := s.pool.Query(ctx, exportRowsQuery, campaignID, after, noLimit(limit))
	if err != nil {
		return dst, wrap("export rows", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r outreach.ExportRow
		if err := rows.Scan(&r.ConversationID, &r.PatientID, &r.FirstName, &r.Phone, &r.Outcome,
			&r.QuestionID, &r.Answer, &r.Raw, tp(&r.RepliedAt), &r.Doubt); err != nil {
			return dst, wrap("export rows", err)
		}
		dst = append(dst, r)
	}
	return dst, wrap("export rows", rows.Err())
}
