package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/outreach"
)

// ClaimNumber implements [outreach.Store]. Claims of one number are
// serialised by an advisory transaction lock on it, so that of two
// processes claiming it at once one wins and the other gets a
// *NumberConflictError.
func (s *Store) ClaimNumber(ctx context.Context, o outreach.NumberOwner) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap("claim number", err)
	}
	defer rollback(ctx, tx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('outreach number ' || $1, 0))`, o.Number); err != nil {
		return wrap("claim number", err)
	}
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
	err = tx.QueryRow(ctx, claimNumberBusyQuery, o.Number, o.Runtime).Scan(&campaign, &runtime)
	switch {
	case err == nil:
		return &outreach.NumberConflictError{
			Number: o.Number, Owner: outreach.NumberOwner{Number: o.Number, Runtime: runtime}, Wanted: o,
			Reason: fmt.Sprintf("campaign %d of the %s runtime has unfinished two-way conversations from it", campaign, runtime),
		}
	case !errors.Is(err, pgx.ErrNoRows):
		return wrap("claim number", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO number_owners (number, runtime, flow, flow_name, since) VALUES ($1, $2, $3, $4, $5)`,
		o.Number, o.Runtime, o.Flow, o.FlowName, ts(orNow(o.Since))); err != nil {
		return wrap("claim number", err)
	}
	return wrap("claim number", tx.Commit(ctx))
}

// ReleaseNumber implements [outreach.Store].
func (s *Store) ReleaseNumber(ctx context.Context, number, runtime, flow string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM number_owners WHERE number = $1 AND runtime = $2 AND flow = $3`, number, runtime, flow)
	return wrap("release number", err)
}

// NumberOwner implements [outreach.Store].
func (s *Store) NumberOwner(ctx context.Context, number string) (outreach.NumberOwner, bool, error) {
	return numberOwner(ctx, s.pool, number)
}

// queryer is a pool, a connection or a transaction.
type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func numberOwner(ctx context.Context, q queryer, number string) (outreach.NumberOwner, bool, error) {
	o := outreach.NumberOwner{Number: number}
	err := q.QueryRow(ctx, `SELECT runtime, flow, flow_name, since FROM number_owners WHERE number = $1`, number).
		Scan(&o.Runtime, &o.Flow, &o.FlowName, tp(&o.Since))
	if errors.Is(err, pgx.ErrNoRows) {
		return outreach.NumberOwner{}, false, nil
	}
	if err != nil {
		return outreach.NumberOwner{}, false, wrap("number owner", err)
	}
	return o, true, nil
}

// claimNumberBusyQuery finds a campaign of another runtime than $2 with
// an unfinished two-way conversation from the number $1. It looks
// campaign by campaign, each through the index of unfinished
// conversations by (campaign_id, from_number).
const claimNumberBusyQuery = `SELECT k.id, k.runtime FROM campaigns k
	WHERE k.runtime <> $2 AND EXISTS (SELECT FROM conversations c
		WHERE c.campaign_id = k.id AND c.from_number = $1 AND c.two_way AND c.status <> 'done')
	ORDER BY k.id LIMIT 1`
