package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/internal/convjson"
)

// CreateCampaign implements [outreach.Store]. An empty Status means draft;
// a zero CreatedAt means the current time.
func (s *Store) CreateCampaign(ctx context.Context, c outreach.Campaign, convs []outreach.Conversation) (outreach.Campaign, int, error) {
	flow, err := json.Marshal(c.Flow)
	if err != nil {
		return outreach.Campaign{}, 0, wrap("encode flow", err)
	}
	if c.Status == "" {
		c.Status = outreach.CampaignDraft
	}
	if !c.Status.Valid() {
		return outreach.Campaign{}, 0, fmt.Errorf("sqlitestore: unknown campaign status %q", c.Status)
	}
	c.CreatedAt = orNow(c.CreatedAt).UTC()
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	c.PurgedAt = time.Time{}

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return outreach.Campaign{}, 0, wrap("create campaign", err)
	}
	defer tx.Rollback()
	if c.Runtime == "" {
		c.Runtime = outreach.RuntimeEmbedded
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO campaigns (name, flow, from_number, default_zone, runtime, runtime_ref, world, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.Name, flow, c.From, c.DefaultZone, c.Runtime, c.RuntimeRef, c.World, c.Status, nanos(c.CreatedAt), nanos(c.UpdatedAt)).Scan(&c.ID)
	if err != nil {
		return outreach.Campaign{}, 0, wrap("create campaign", err)
	}
	added, err := s.insertConversations(ctx, tx, c.ID, c.World, c.From, convs, c.CreatedAt)
	if err != nil {
		return outreach.Campaign{}, 0, err
	}
	if err := tx.Commit(); err != nil {
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
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, wrap("add conversations", err)
	}
	defer tx.Rollback()
	var from, world string
	err = tx.QueryRowContext(ctx, `SELECT from_number, world FROM campaigns WHERE id = ?`, campaignID).Scan(&from, &world)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlitestore: campaign %d: %w", campaignID, outreach.ErrNotFound)
	}
	if err != nil {
		return 0, wrap("add conversations", err)
	}
	added, err := s.insertConversations(ctx, tx, campaignID, world, from, convs, time.Now())
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, wrap("add conversations", err)
	}
	return added, nil
}

// insertConversations adds convs to a campaign (of world) within tx,
// skipping recipients it already has, insertRows to a statement. The
// statements' parameters are made on another goroutine (encodeChunks)
// while SQLite runs the previous statement: on a large batch, the two
// took about as long as each other on one goroutine.
func (s *Store) insertConversations(ctx context.Context, tx *sql.Tx, campaignID int64, world, from string, convs []outreach.Conversation, now time.Time) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	chunks := make(chan convChunk, 1)
	free := make(chan []any, 3) // each chunk's array of parameters, reused once executed
	go encodeChunks(ctx, chunks, free, convs, campaignID, world, from, now)
	defer func() {
		cancel()
		for range chunks { // until encodeChunks has returned: it reads convs
		}
	}()
	stmts := map[bool]*sql.Stmt{
		false: tx.StmtContext(ctx, s.st.insertConvs),
		true:  tx.StmtContext(ctx, s.st.insertConvsShared),
	}
	added := 0
	for ch := range chunks {
		if ch.err != nil {
			return 0, ch.err
		}
		var (
			res sql.Result
			err error
		)
		if ch.rows == insertRows {
			res, err = stmts[ch.shared].ExecContext(ctx, ch.args...)
		} else {
			res, err = tx.ExecContext(ctx, insertConvsQuery(ch.rows, ch.shared), ch.args...)
		}
		if isUniqueViolation(err) {
			return 0, fmt.Errorf("sqlitestore: conversations %d to %d of the batch: %w", ch.start, ch.start+ch.rows-1, outreach.ErrPairBusy)
		}
		if err != nil {
			return 0, wrap("insert conversations", err)
		}
		n, _ := res.RowsAffected()
		added += int(n)
		select {
		case free <- ch.args[:0]:
		default:
		}
	}
	return added, ctx.Err()
}

// convChunk is the parameters of one statement of insertConversations:
// rows conversations from convs[start], with the columns they share
// bound once when shared (see insertConvsQuery), or an error.
type convChunk struct {
	args        []any
	start, rows int
	shared      bool
	err         error
}

// encodeChunks sends the chunks of convs to chunks, and closes it.
func encodeChunks(ctx context.Context, chunks chan<- convChunk, free <-chan []any, convs []outreach.Conversation, campaignID int64, world, from string, now time.Time) {
	defer close(chunks)
	var enc convjson.Encoder
	prepared := make([]outreach.Conversation, insertRows)
	for start := 0; start < len(convs); start += insertRows {
		ch := convChunk{start: start, rows: min(insertRows, len(convs)-start), shared: true}
		for i, c := range convs[start : start+ch.rows] {
			p, err := c.WithDefaults(from, now)
			if err != nil {
				ch.err = fmt.Errorf("sqlitestore: conversation %d of the batch: %w", start+i, err)
				break
			}
			prepared[i] = p
			ch.shared = ch.shared && sameShared(p, prepared[0])
		}
		if ch.err == nil {
			select {
			case ch.args = <-free:
			default:
				ch.args = make([]any, 0, insertRows*len(convColumns))
			}
			if ch.shared {
				ch.args = append(ch.args, sharedArgs(prepared[0], campaignID, world)...)
			}
			for _, c := range prepared[:ch.rows] {
				if ch.args, ch.err = appendConvArgs(ch.args, &enc, c, campaignID, world, ch.shared); ch.err != nil {
					break
				}
			}
		}
		select {
		case chunks <- ch:
		case <-ctx.Done():
			return
		}
		if ch.err != nil {
			return
		}
	}
}

// sameShared tells whether a and b have the same values in the columns
// a chunk may share (sharedColumns).
func sameShared(a, b outreach.Conversation) bool {
	return a.From == b.From && a.TwoWay == b.TwoWay && a.Status == b.Status && a.Outcome == b.Outcome &&
		nanos(a.NextAt) == nanos(b.NextAt) && nanos(a.CreatedAt) == nanos(b.CreatedAt) && nanos(a.UpdatedAt) == nanos(b.UpdatedAt)
}

// sharedArgs are the parameters of sharedColumns, for c.
func sharedArgs(c outreach.Conversation, campaignID int64, world string) []any {
	return []any{c.From, c.TwoWay, c.Status, c.Outcome, nanos(c.NextAt), nanos(c.CreatedAt), nanos(c.UpdatedAt), campaignID, world}
}

// appendConvArgs appends the parameters of c's row in insertConvsQuery:
// its sharedColumns unless shared, then its rowColumns.
func appendConvArgs(args []any, enc *convjson.Encoder, c outreach.Conversation, campaignID int64, world string, shared bool) ([]any, error) {
	js, err := enc.Encode(c)
	if err != nil {
		return args, wrap("encode conversation", err)
	}
	if !shared {
		args = append(args, sharedArgs(c, campaignID, world)...)
	}
	return append(args, c.Recipient.ID, c.Recipient.FirstName, c.Recipient.Phone, c.Recipient.TimeZone, js.Attrs, js.Zones, js.State), nil
}

// Campaign implements [outreach.Store].
func (s *Store) Campaign(ctx context.Context, id int64) (outreach.Campaign, error) {
	c, err := scanCampaign(s.r.QueryRowContext(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("sqlitestore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	return c, wrap("campaign", err)
}

// CampaignStatus implements [outreach.CampaignStatusReader]: the
// runner reads it for every batch it sends.
func (s *Store) CampaignStatus(ctx context.Context, id int64) (outreach.CampaignStatus, error) {
	var st outreach.CampaignStatus
	err := s.st.campaignStatus.QueryRowContext(ctx, id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("sqlitestore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	return st, wrap("campaign status", err)
}

// Campaigns implements [outreach.Store].
func (s *Store) Campaigns(ctx context.Context) ([]outreach.Campaign, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+campaignCols+` FROM campaigns ORDER BY id DESC`)
	if err != nil {
		return nil, wrap("campaigns", err)
	}
	cs, err := scanAll(rows, scanCampaign)
	return cs, wrap("campaigns", err)
}

// SetCampaignStatus implements [outreach.Store]. Cancelling leaves the
// leases of the conversations it ends: a worker midway still records its
// outcomes, but cannot bring a cancelled conversation back.
func (s *Store) SetCampaignStatus(ctx context.Context, id int64, to outreach.CampaignStatus, now time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap("set campaign status", err)
	}
	defer tx.Rollback()
	var from outreach.CampaignStatus
	err = tx.QueryRowContext(ctx, `SELECT status FROM campaigns WHERE id = ?`, id).Scan(&from)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlitestore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	if err != nil {
		return wrap("set campaign status", err)
	}
	if !from.CanChange(to) {
		return &outreach.TransitionError{Campaign: id, From: from, To: to}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET status = ?, updated_at = ? WHERE id = ?`, to, nanos(now), id); err != nil {
		return wrap("set campaign status", err)
	}
	if to == outreach.CampaignCancelled {
		if _, err := tx.ExecContext(ctx, cancelMessagesQuery, id); err != nil {
			return wrap("cancel messages", err)
		}
		_, err := tx.ExecContext(ctx, cancelConversationsQuery, outreach.OutcomeCancelled, nanos(now), id)
		if err != nil {
			return wrap("cancel conversations", err)
		}
	}
	return wrap("set campaign status", tx.Commit())
}

// FinishCampaignIfDone implements [outreach.Store].
func (s *Store) FinishCampaignIfDone(ctx context.Context, id int64, now time.Time) (bool, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, wrap("finish campaign", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, finishQuery, nanos(now), id)
	if err != nil {
		return false, wrap("finish campaign", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, wrap("finish campaign", tx.Commit())
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM campaigns WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("sqlitestore: campaign %d: %w", id, outreach.ErrNotFound)
	}
	return false, wrap("finish campaign", err)
}

// Progress implements [outreach.Store].
func (s *Store) Progress(ctx context.Context, campaignID int64, now time.Time) (outreach.Progress, error) {
	p := outreach.NewProgress()
	// One read transaction, so that the counts agree with each other.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return p, wrap("progress", err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM campaigns WHERE id = ?`, campaignID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("sqlitestore: campaign %d: %w", campaignID, outreach.ErrNotFound)
	}
	if err != nil {
		return p, wrap("progress", err)
	}

	err = countRange(ctx, tx, progressConversationIDs, progressConversationsQuery, campaignID, nil, func(sc scanner) error {
		var (
			st      outreach.ConversationStatus
			outcome string
			n       int
		)
		err := sc.Scan(&st, &outcome, &n)
		p.CountConversations(st, outcome, n)
		return err
	})
	if err != nil {
		return p, err
	}
	err = countRange(ctx, tx, progressMessageIDs, progressMessagesQuery, campaignID, []any{nanos(now)}, func(sc scanner) error {
		var (
			dir         outreach.Direction
			st          outreach.MessageStatus
			delivery    string
			n, deferred int
		)
		err := sc.Scan(&dir, &st, &delivery, &n, &deferred)
		p.CountMessages(dir, st, delivery, n, deferred)
		return err
	})
	return p, err
}

// progressSpan is how many ids one progress query counts. SQLite groups
// rows by sorting them all, and with temp_store MEMORY its sorter holds
// them in memory: counted at once, a finished campaign of 300,000
// conversations and 600,000 messages took the process's peak resident
// memory from 79 MB to 134 MB while its progress was read (benchrun's
// campaign stage), growing with the campaign. Counted by spans of ids,
// the sorter never holds more than progressSpan rows: 101 MB, most of
// the rest the read connection's page cache.
var progressSpan int64 = 1 << 16 // a variable for the tests

// countRange runs count, a progress query, over campaignID's rows span
// by span of ids (within the span idsQuery gives), with the parameters
// extra after the campaign and the span, and calls add with each row of
// each.
func countRange(ctx context.Context, tx *sql.Tx, idsQuery, count string, campaignID int64, extra []any, add func(scanner) error) error {
	var lo, hi int64
	if err := tx.QueryRowContext(ctx, idsQuery, campaignID).Scan(&lo, &hi); err != nil {
		return wrap("progress", err)
	}
	for after := lo - 1; after < hi; after += progressSpan {
		rows, err := tx.QueryContext(ctx, count, append([]any{campaignID, after, min(after+progressSpan, hi)}, extra...)...)
		if err != nil {
			return wrap("progress", err)
		}
		for rows.Next() {
			if err := add(rows); err != nil {
				rows.Close()
				return wrap("progress", err)
			}
		}
		if err := rows.Close(); err != nil {
			return wrap("progress", err)
		}
		if err := rows.Err(); err != nil {
			return wrap("progress", err)
		}
	}
	return nil
}
