package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

const (
	// ?1 finished before, ?2 limit.
	purgeDueQuery = `SELECT id FROM campaigns
		WHERE purged_at = 0 AND status IN ('done', 'cancelled') AND updated_at < ?1
		ORDER BY updated_at, id LIMIT ?2`
	// ?1 purged at, ?2 campaign, ?3 finished before: checked again in the
	// campaign's transaction.
	purgeMarkQuery = `UPDATE campaigns SET purged_at = ?1
		WHERE id = ?2 AND purged_at = 0 AND status IN ('done', 'cancelled') AND updated_at < ?3`
	purgeMessagesQuery = `UPDATE messages SET body = ''
		WHERE conversation_id IN (SELECT id FROM conversations WHERE campaign_id = ?1) AND body != ''`
	// Only events of inbound messages (replies, opt-outs) have a body:
	// found through their messages, which are indexed.
	purgeInboxQuery = `UPDATE inbox SET body = ''
		WHERE message_id IN (SELECT id FROM messages
			WHERE conversation_id IN (SELECT id FROM conversations WHERE campaign_id = ?1)) AND body != ''`
	purgeResponsesQuery = `UPDATE responses SET raw = '' WHERE campaign_id = ?1 AND raw != ''`
	// The state a Machine keeps (a Studio flow's context) holds replies.
	purgeStatesQuery = `UPDATE conversations SET state = json_remove(state, '$.machine')
		WHERE campaign_id = ?1 AND json_extract(state, '$.machine') IS NOT NULL`
	// ?1 received before.
	purgeUnmatchedQuery = `UPDATE messages SET body = ''
		WHERE conversation_id IS NULL AND sent_at < ?1 AND body != ''`
)

// PurgeContent implements [outreach.RetentionStore]: one transaction per
// campaign, and one for the unmatched messages.
func (s *Store) PurgeContent(ctx context.Context, finishedBefore, now time.Time, limit int) (outreach.PurgeResult, error) {
	var res outreach.PurgeResult
	if limit > 0 {
		ids, err := s.purgeDue(ctx, finishedBefore, limit)
		if err != nil {
			return res, err
		}
		for _, id := range ids {
			msgs, resps, ok, err := s.purgeCampaign(ctx, id, finishedBefore, now)
			if err != nil {
				return res, err
			}
			if ok {
				res.Campaigns = append(res.Campaigns, id)
				res.Messages += msgs
				res.Responses += resps
			}
		}
	}
	r, err := s.w.ExecContext(ctx, purgeUnmatchedQuery, nanos(finishedBefore))
	if err != nil {
		return res, wrap("purge unmatched messages", err)
	}
	n, err := r.RowsAffected()
	res.Unmatched = int(n)
	return res, wrap("purge unmatched messages", err)
}

// purgeDue returns the ids of up to limit campaigns to purge, oldest first.
func (s *Store) purgeDue(ctx context.Context, finishedBefore time.Time, limit int) ([]int64, error) {
	rows, err := s.w.QueryContext(ctx, purgeDueQuery, nanos(finishedBefore), limit)
	if err != nil {
		return nil, wrap("campaigns to purge", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, wrap("campaigns to purge", err)
		}
		ids = append(ids, id)
	}
	return ids, wrap("campaigns to purge", rows.Err())
}

// purgeCampaign purges one campaign in one transaction; ok is false when
// it no longer needs it (another process purged it meanwhile).
func (s *Store) purgeCampaign(ctx context.Context, id int64, finishedBefore, now time.Time) (msgs, resps int, ok bool, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, false, wrap("purge campaign", err)
	}
	defer tx.Rollback()
	n, err := affected(tx.ExecContext(ctx, purgeMarkQuery, nanos(now), id, nanos(finishedBefore)))
	if err != nil || n == 0 {
		return 0, 0, false, wrap("purge campaign", err)
	}
	m, err := affected(tx.ExecContext(ctx, purgeMessagesQuery, id))
	if err != nil {
		return 0, 0, false, wrap("purge messages", err)
	}
	if _, err := tx.ExecContext(ctx, purgeInboxQuery, id); err != nil {
		return 0, 0, false, wrap("purge inbox", err)
	}
	r, err := affected(tx.ExecContext(ctx, purgeResponsesQuery, id))
	if err != nil {
		return 0, 0, false, wrap("purge responses", err)
	}
	if _, err := tx.ExecContext(ctx, purgeStatesQuery, id); err != nil {
		return 0, 0, false, wrap("purge states", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, false, wrap("purge campaign", err)
	}
	return int(m), int(r), true, nil
}

// affected returns the rows an Exec changed.
func affected(r sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}
