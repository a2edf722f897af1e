package pgstore

import (
	"context"
	"time"

	"github.com/patient-outreach/sms/outreach"
)

// PurgeContent implements [outreach.RetentionStore]: one transaction per
// campaign, and one for the unmatched messages.
func (s *Store) PurgeContent(ctx context.Context, finishedBefore, now time.Time, limit int) (outreach.PurgeResult, error) {
	var res outreach.PurgeResult
	if limit > 0 {
		rows, err := s.pool.Query(ctx, `SELECT id FROM campaigns
			WHERE purged_at IS NULL AND status IN ('done', 'cancelled') AND updated_at < $1
			ORDER BY updated_at, id LIMIT $2`, ts(finishedBefore), limit)
		ids, err := scanAll(rows, err, func(sc scanner) (int64, error) {
			var id int64
			return id, sc.Scan(&id)
		})
		if err != nil {
			return res, wrap("campaigns to purge", err)
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
	// A zero SentAt counts as before any time.
	tag, err := s.pool.Exec(ctx, `UPDATE messages SET body = ''
		WHERE conversation_id IS NULL AND (sent_at IS NULL OR sent_at < $1) AND body <> ''`, ts(finishedBefore))
	if err != nil {
		return res, wrap("purge unmatched messages", err)
	}
	res.Unmatched = int(tag.RowsAffected())
	return res, nil
}

// purgeCampaign purges one campaign in one transaction; ok is false when
// it no longer needs it (another process purged it meanwhile).
func (s *Store) purgeCampaign(ctx context.Context, id int64, finishedBefore, now time.Time) (msgs, resps int, ok bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, 0, false, wrap("purge campaign", err)
	}
	defer rollback(ctx, tx)
	tag, err := tx.Exec(ctx, `UPDATE campaigns SET purged_at = $1
		WHERE id = $2 AND purged_at IS NULL AND status IN ('done', 'cancelled') AND updated_at < $3`,
		ts(now), id, ts(finishedBefore))
	if err != nil || tag.RowsAffected() == 0 {
		return 0, 0, false, wrap("purge campaign", err)
	}
	m, err := tx.Exec(ctx, `UPDATE messages SET body = ''
		WHERE conversation_id IN (SELECT id FROM conversations WHERE campaign_id = $1) AND body <> ''`, id)
	if err != nil {
		return 0, 0, false, wrap("purge messages", err)
	}
	// Only events of inbound messages (replies, opt-outs) have a body.
	if _, err := tx.Exec(ctx, `UPDATE inbox SET body = ''
		WHERE conversation_id IN (SELECT id FROM conversations WHERE campaign_id = $1) AND body <> ''`, id); err != nil {
		return 0, 0, false, wrap("purge inbox", err)
	}
	r, err := tx.Exec(ctx, `UPDATE responses SET raw = '' WHERE campaign_id = $1 AND raw <> ''`, id)
	if err != nil {
		return 0, 0, false, wrap("purge responses", err)
	}
	// The state a Machine keeps (a Studio flow's context) holds replies.
	if _, err := tx.Exec(ctx, `UPDATE conversations SET state = (state::jsonb - 'machine')::text
		WHERE campaign_id = $1 AND state::jsonb ? 'machine'`, id); err != nil {
		return 0, 0, false, wrap("purge states", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, false, wrap("purge campaign", err)
	}
	return int(m.RowsAffected()), int(r.RowsAffected()), true, nil
}
