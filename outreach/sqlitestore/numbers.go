package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/patient-outreach/sms/outreach"
)

// ClaimNumber implements [outreach.Store].
func (s *Store) ClaimNumber(ctx context.Context, o outreach.NumberOwner) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap("claim number", err)
	}
	defer tx.Rollback()
	cur, ok, err := numberOwner(ctx, tx, o.Number)
	if err != nil {
		return err
	}
	if ok {
		if cur.Runtime == o.Runtime && cur.Flow == o.Flow {
			return nil
		}
		return &outreach.NumberConflictError{Number: o.Number, Owner: cur, Wanted: o}
	}
	// The campaign is named by its id: its name, typed by an operator,
	// may hold PHI, and this error reaches logs.
	var campaign int64
	var runtime string
	err = tx.QueryRowContext(ctx, `SELECT k.id, k.runtime FROM conversations c JOIN campaigns k ON k.id = c.campaign_id
		WHERE c.from_number = ? AND c.two_way AND c.status != 'done' AND k.runtime != ? LIMIT 1`,
		o.Number, o.Runtime).Scan(&campaign, &runtime)
	switch {
	case err == nil:
		return &outreach.NumberConflictError{
			Number: o.Number, Owner: outreach.NumberOwner{Number: o.Number, Runtime: runtime}, Wanted: o,
			Reason: fmt.Sprintf("campaign %d of the %s runtime has unfinished two-way conversations from it", campaign, runtime),
		}
	case !errors.Is(err, sql.ErrNoRows):
		return wrap("claim number", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO number_owners (number, runtime, flow, flow_name, since) VALUES (?, ?, ?, ?, ?)`,
		o.Number, o.Runtime, o.Flow, o.FlowName, nanos(orNow(o.Since))); err != nil {
		return wrap("claim number", err)
	}
	return wrap("claim number", tx.Commit())
}

// ReleaseNumber implements [outreach.Store].
func (s *Store) ReleaseNumber(ctx context.Context, number, runtime, flow string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM number_owners WHERE number = ? AND runtime = ? AND flow = ?`, number, runtime, flow)
	return wrap("release number", err)
}

// NumberOwner implements [outreach.Store].
func (s *Store) NumberOwner(ctx context.Context, number string) (outreach.NumberOwner, bool, error) {
	return numberOwner(ctx, s.r, number)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func numberOwner(ctx context.Context, q queryer, number string) (outreach.NumberOwner, bool, error) {
	o := outreach.NumberOwner{Number: number}
	var since int64
	err := q.QueryRowContext(ctx, `SELECT runtime, flow, flow_name, since FROM number_owners WHERE number = ?`, number).
		Scan(&o.Runtime, &o.Flow, &o.FlowName, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return outreach.NumberOwner{}, false, nil
	}
	if err != nil {
		return outreach.NumberOwner{}, false, wrap("number owner", err)
	}
	o.Since = fromNanos(since)
	return o, true, nil
}
