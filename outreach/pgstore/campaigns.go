package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/internal/convjson"
)

// CreateCampaign implements [outreach.Store]. An empty Status means draft;
// a zero CreatedAt means the current time. Times are kept to the
// microsecond, and the campaign returned has them as stored. The
// conversations are copied (COPY) into a temporary table and inserted
// from there in one statement that skips repeated recipients.
func (s *Store) CreateCampaign(ctx context.Context, c outreach.Campaign, convs []outreach.Conversation) (outreach.Campaign, int, error) {
	flow, err := json.Marshal(c.Flow)
	if err != nil {
		return outreach.Campaign{}, 0, wrap("encode flow", err)
	}
	if c.Status == "" {
		c.Status = outreach.CampaignDraft
	}
	if !c.Status.Valid() {
		return outreach.Campaign{}, 0, fmt.Errorf("pgstore: unknown campaign status %q", c.Status)
	}
	c.CreatedAt = micro(orNow(c.CreatedAt))
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.UpdatedAt = micro(c.UpdatedAt)
	c.PurgedAt = time.Time{}
	if c.Runtime == "" {
		c.Runtime = outreach.RuntimeEmbedded
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return outreach.Campaign{}, 0, wrap("create campaign", err)
	}
	defer rollback(ctx, tx)
	err = tx.QueryRow(ctx, `INSERT INTO campaigns (name, flow, from_number, default_zone, runtime, runtime_ref, world, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		c.Name, string(flow), c.From, c.DefaultZone, c.Runtime, c.RuntimeRef, c.World, c.Status, ts(c.CreatedAt), ts(c.UpdatedAt)).Scan(&c.ID)
	if err != nil {
		return outreach.Campaign{}, 0, wrap("create campaign", err)
	}
	added, err := insertConversations(ctx, tx, c.ID, c.World, c.From, convs, c.CreatedAt)
	if err != nil {
		return outreach.Campaign{}, 0, err
	}
	if added > 0 && c.Status == outreach.CampaignRunning {
		if err := s.notify(ctx, tx, NotifyCampaign); err != nil {
			return outreach.Campaign{}, 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return outreach.Campaign{}, 0, wrap("create campaign", err)
	}
	// Return the flow as stored, not the caller's pointer.
	c.Flow = nil
	if err := json.Unmarshal(flow, &c.Flow); err != nil {
		return outreach.Campaign{}, 0, wrap("decode flow", err)
	}
	return c, added, nil
}

// AddConversations implements [outreach.Store].
func (s *Store) AddConversations(ctx context.Context, campaignID int64, convs []outreach.Conversation) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, wrap("add conversations", err)
	}
	defer rollback(ctx, tx)
	var (
		from, world string
		status      outreach.CampaignStatus
	)
	// FOR SHARE: the campaign cannot change status meanwhile.
	err = tx.QueryRow(ctx, `SELECT from_number, world, status FROM campaigns WHERE id = $1 FOR SHARE`, campaignID).Scan(&from, &world, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("pgstore: campaign %d: %w", campaignID, outreach.ErrNotFound)
	}
	if err != nil {
		return 0, wrap("add conversations", err)
	}
	added, err := insertConversations(ctx, tx, campaignID, world, from, convs, time.Now())
	if err != nil {
		return 0, err
	}
	if added > 0 && status == outreach.CampaignRunning {
		if err := s.notify(ctx, tx, NotifyCampaign); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, wrap("add conversations", err)
	}
	return added, nil
}

// convColumns are the columns of conversations that insertConversations
// writes, in the order of its rows.
var convColumns = []string{"campaign_id", "world", "patient_id", "first_name", "phone", "time_zone", "attrs", "from_number",
	"two_way", "zones", "status", "state", "outcome", "next_at", "created_at", "updated_at"}

// insertConversations adds convs to a campaign within tx, skipping
// recipients it already has (and repeats within convs: the first is
// kept), and returns how many it added. The rows are copied (COPY)
// straight into conversations, in batch order; when a recipient repeats
// (the copy fails, undone to a savepoint), they are copied into a
// temporary table instead and inserted from there, skipping repeats. The
// straight copy takes about half the server's time of the other.
func insertConversations(ctx context.Context, tx pgx.Tx, campaignID int64, world, from string, convs []outreach.Conversation, now time.Time) (int, error) {
	if len(convs) == 0 {
		return 0, nil
	}
	rows := make([][]any, len(convs))
	var enc convjson.Encoder
	for i, c := range convs {
		c, err := c.WithDefaults(from, now)
		if err != nil {
			return 0, fmt.Errorf("pgstore: conversation %d of the batch: %w", i, err)
		}
		js, err := enc.Encode(c)
		if err != nil {
			return 0, wrap("encode conversation", err)
		}
		rows[i] = []any{campaignID, world, c.Recipient.ID, c.Recipient.FirstName, c.Recipient.Phone, c.Recipient.TimeZone,
			js.Attrs, c.From, c.TwoWay, js.Zones, string(c.Status), js.State, c.Outcome, ts(c.NextAt), ts(c.CreatedAt), ts(c.UpdatedAt)}
	}
	if _, err := tx.Exec(ctx, `SAVEPOINT copy_conversations`); err != nil {
		return 0, wrap("insert conversations", err)
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"conversations"}, convColumns, pgx.CopyFromRows(rows))
	name, unique := uniqueViolation(err)
	switch {
	case err == nil:
		_, err := tx.Exec(ctx, `RELEASE SAVEPOINT copy_conversations`)
		return int(n), wrap("insert conversations", err)
	case unique && name == "conversations_active_pair":
		return 0, fmt.Errorf("pgstore: an active two-way conversation of the batch: %w", outreach.ErrPairBusy)
	case !unique:
		return 0, wrap("copy conversations", err)
	}
	// A recipient the campaign has, or one repeated in the batch.
	if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT copy_conversations`); err != nil {
		return 0, wrap("insert conversations", err)
	}
	staged := make([][]any, len(rows))
	for i, r := range rows {
		staged[i] = append([]any{int32(i)}, r[2:]...) // seq, then the columns after campaign_id and world
	}
	return insertStaged(ctx, tx, campaignID, world, staged)
}

// stagingColumns are the columns of the temporary table insertStaged
// copies conversations into: a sequence number, then convColumns after
// campaign_id.
var stagingColumns = append([]string{"seq"}, convColumns[2:]...)

// insertStaged copies rows (of stagingColumns) into a temporary table
// dropped at commit, then inserts them into the campaign in seq order,
// skipping recipients it has and repeats.
func insertStaged(ctx context.Context, tx pgx.Tx, campaignID int64, world string, rows [][]any) (int, error) {
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE staging_conversations (
			seq integer, patient_id text, first_name text, phone text, time_zone text, attrs text,
			from_number text, two_way boolean, zones text, status text, state text, outcome text,
			next_at timestamptz, created_at timestamptz, updated_at timestamptz) ON COMMIT DROP`); err != nil {
		return 0, wrap("stage conversations", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"staging_conversations"}, stagingColumns, pgx.CopyFromRows(rows)); err != nil {
		return 0, wrap("copy conversations", err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO conversations (campaign_id, world, patient_id, first_name, phone, time_zone, attrs,
			from_number, two_way, zones, status, state, outcome, next_at, created_at, updated_at)
		SELECT $1, $2, patient_id, first_name, phone, time_zone, attrs,
			from_number, two_way, zones, status, state, outcome, next_at, created_at, updated_at
		FROM staging_conversations ORDER BY seq
		ON CONFLICT (campaign_id, patient_id) DO NOTHING`, campaignID, world)
	if name, ok := uniqueViolation(err); ok && name == "conversations_active_pair" {
		return 0, fmt.Errorf("pgstore: an active two-way conversation of the batch: %w", outreach.ErrPairBusy)
	}
	if err != nil {
		return 0, wrap("insert conversations", err)
	}
	if _, err := tx.Exec(ctx, `DROP TABLE staging_conversations`); err != nil {
		return 0, wrap("stage conversations", err)
	}
	return int(tag.RowsAffected()), nil
}

// Campaign implements [outreach.Store].
func (s *Store) Campaign(ctx context.Context, id int64) (outreach.Campaign, error) {
	c, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("pgstore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	return c, wrap("campaign", err)
}

// Campaigns implements [outreach.Store].
func (s *Store) Campaigns(ctx context.Context) ([]outreach.Campaign, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+campaignCols+` FROM campaigns ORDER BY id DESC`)
	cs, err := scanAll(rows, err, scanCampaign)
	return cs, wrap("campaigns", err)
}

// SetCampaignStatus implements [outreach.Store]. Cancelling leaves the
// leases of the conversations it ends: a worker midway still records its
// outcomes, but cannot bring a cancelled conversation back. Starting a
// campaign notifies the store's channel.
func (s *Store) SetCampaignStatus(ctx context.Context, id int64, to outreach.CampaignStatus, now time.Time) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap("set campaign status", err)
	}
	defer rollback(ctx, tx)
	var from outreach.CampaignStatus
	err = tx.QueryRow(ctx, `SELECT status FROM campaigns WHERE id = $1 FOR UPDATE`, id).Scan(&from)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	if err != nil {
		return wrap("set campaign status", err)
	}
	if !from.CanChange(to) {
		return &outreach.TransitionError{Campaign: id, From: from, To: to}
	}
	if _, err := tx.Exec(ctx, `UPDATE campaigns SET status = $1, updated_at = $2 WHERE id = $3`, to, ts(now), id); err != nil {
		return wrap("set campaign status", err)
	}
	switch to {
	case outreach.CampaignCancelled:
		// Lock the unfinished conversations first, in ID order, as Commit
		// does (conversation, then its messages): locking their messages
		// first could deadlock with a worker's Commit.
		if _, err := tx.Exec(ctx, `SELECT count(*) FROM (SELECT id FROM conversations
			WHERE campaign_id = $1 AND status <> 'done' ORDER BY id FOR UPDATE) AS locked`, id); err != nil {
			return wrap("cancel conversations", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE messages SET status = 'cancelled'
			WHERE direction = 'outbound' AND status = 'queued' AND conversation_id IN (
				SELECT id FROM conversations WHERE campaign_id = $1 AND status <> 'done')`, id); err != nil {
			return wrap("cancel messages", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE conversations
			SET status = 'done', outcome = $1, next_at = NULL, updated_at = $2
			WHERE campaign_id = $3 AND status <> 'done'`, outreach.OutcomeCancelled, ts(now), id); err != nil {
			return wrap("cancel conversations", err)
		}
	case outreach.CampaignRunning:
		if err := s.notify(ctx, tx, NotifyCampaign); err != nil {
			return err
		}
	}
	return wrap("set campaign status", tx.Commit(ctx))
}

// FinishCampaignIfDone implements [outreach.Store].
func (s *Store) FinishCampaignIfDone(ctx context.Context, id int64, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE campaigns SET status = 'done', updated_at = $1
		WHERE id = $2 AND status = 'running'
			AND NOT EXISTS (SELECT 1 FROM conversations WHERE campaign_id = $2 AND status <> 'done')`, ts(now), id)
	if err != nil {
		return false, wrap("finish campaign", err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	var one int
	err = s.pool.QueryRow(ctx, `SELECT 1 FROM campaigns WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("pgstore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	return false, wrap("finish campaign", err)
}

// Progress implements [outreach.Store]. The counts come from one
// repeatable-read snapshot, so they agree with each other.
func (s *Store) Progress(ctx context.Context, campaignID int64, now time.Time) (outreach.Progress, error) {
	p := outreach.NewProgress()
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return p, wrap("progress", err)
	}
	defer rollback(ctx, tx)
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM campaigns WHERE id = $1`, campaignID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("pgstore: campaign %d: %w", campaignID, outreach.ErrNotFound)
	}
	if err != nil {
		return p, wrap("progress", err)
	}

	rows, err := tx.Query(ctx, `SELECT status, outcome, count(*) FROM conversations
		WHERE campaign_id = $1 GROUP BY status, outcome`, campaignID)
	if err != nil {
		return p, wrap("progress", err)
	}
	for rows.Next() {
		var (
			st      outreach.ConversationStatus
			outcome string
			n       int
		)
		if err := rows.Scan(&st, &outcome, &n); err != nil {
			rows.Close()
			return p, wrap("progress", err)
		}
		p.CountConversations(st, outcome, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return p, wrap("progress", err)
	}

	rows, err = tx.Query(ctx, `SELECT direction, status, delivery_status, count(*),
			count(*) FILTER (WHERE status = 'queued' AND send_after > $1)
		FROM messages WHERE campaign_id = $2 GROUP BY direction, status, delivery_status`, ts(now), campaignID)
	if err != nil {
		return p, wrap("progress", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			dir         outreach.Direction
			st          outreach.MessageStatus
			delivery    string
			n, deferred int
		)
		if err := rows.Scan(&dir, &st, &delivery, &n, &deferred); err != nil {
			return p, wrap("progress", err)
		}
		p.CountMessages(dir, st, delivery, n, deferred)
	}
	return p, wrap("progress", rows.Err())
}
