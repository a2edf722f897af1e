package pgstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/outreach"
)

// claimQuery leases due conversations: $1 token prefix, $2 lease expiry,
// $3 now, $4 limit, $5 runtime, $6 world. SELECT ... FOR UPDATE SKIP
// LOCKED picks rows no other claimer is taking; Postgres checks the lease
// condition again on the latest version of a row it locks, so no
// conversation is ever held by two unexpired leases.
var claimQuery = `WITH picked AS (
		SELECT c.id FROM conversations c
		WHERE ` + claimable("$5", "$6") + ` AND c.due <= $3 AND ` + leaseFree("$3") + `
		ORDER BY c.due, c.id LIMIT $4
		FOR UPDATE OF c SKIP LOCKED),
	leased AS (
		UPDATE conversations c SET lease_token = $1 || c.id, lease_until = $2
		FROM picked WHERE c.id = picked.id
		RETURNING c.lease_token, c.due, ` + convCols + `)
	SELECT * FROM leased ORDER BY due, id`

// ClaimDue implements [outreach.Store]. Conversations with unprocessed
// inbox events come first, then the others in NextAt order; ties go to the
// lower ID.
//
// It is one transaction of three statements whatever the batch size: one
// UPDATE leases the conversations picked with FOR UPDATE SKIP LOCKED, then
// one query each fetches their pending messages and their inbox events.
// Many processes may claim from one database at once: each gets its own
// conversations.
func (s *Store) ClaimDue(ctx context.Context, scope outreach.Scope, now time.Time, limit int, lease time.Duration) ([]outreach.Claim, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("pgstore: lease duration %v is not positive", lease)
	}
	if limit <= 0 {
		return nil, ctx.Err()
	}
	prefix := tokenPrefix()
	until := now.Add(lease)

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, wrap("claim", err)
	}
	defer rollback(ctx, tx)
	rows, err := tx.Query(ctx, claimQuery, prefix, ts(until), ts(now), limit, runtimeOf(scope), scope.World)
	claims, err := scanAll(rows, err, func(sc scanner) (outreach.Claim, error) {
		var (
			cl  outreach.Claim
			due time.Time
		)
		conv, err := scanConv(sc, &cl.Lease.Token, tp(&due))
		cl.Conversation = conv
		cl.Lease.ConversationID = conv.ID
		cl.Lease.Expires = micro(until)
		return cl, err
	})
	if err != nil {
		return nil, wrap("claim", err)
	}
	if len(claims) == 0 {
		return nil, wrap("claim", tx.Commit(ctx))
	}
	if err := fillClaims(ctx, tx, claims); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, wrap("claim", err)
	}
	return claims, nil
}

// tokenPrefix returns a random prefix of lease tokens: a conversation's
// token is the prefix and its ID, unique and unguessable.
func tokenPrefix() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b) + "-"
}

// fillClaims reads the pending messages and inbox events of claims.
func fillClaims(ctx context.Context, tx pgx.Tx, claims []outreach.Claim) error {
	index := make(map[int64]int, len(claims))
	ids := make([]int64, len(claims))
	for i, c := range claims {
		index[c.Conversation.ID] = i
		ids[i] = c.Conversation.ID
	}
	rows, err := tx.Query(ctx, `SELECT `+msgCols+` FROM messages
		WHERE conversation_id = ANY($1) AND direction = 'outbound' AND status IN ('queued', 'sending', 'unknown')
		ORDER BY id`, ids)
	msgs, err := scanAll(rows, err, scanMessage)
	if err != nil {
		return wrap("claim", err)
	}
	for _, m := range msgs {
		cl := &claims[index[m.ConversationID]]
		cl.Pending = append(cl.Pending, m)
	}
	rows, err = tx.Query(ctx, `SELECT `+eventCols+` FROM inbox
		WHERE conversation_id = ANY($1) AND NOT processed ORDER BY id`, ids)
	events, err := scanAll(rows, err, scanEvent)
	if err != nil {
		return wrap("claim", err)
	}
	for _, e := range events {
		cl := &claims[index[e.ConversationID]]
		cl.Inbox = append(cl.Inbox, e)
	}
	return nil
}

// ClaimConversation implements [outreach.Store].
func (s *Store) ClaimConversation(ctx context.Context, id int64, now time.Time, lease time.Duration) (outreach.Claim, error) {
	if lease <= 0 {
		return outreach.Claim{}, fmt.Errorf("pgstore: lease duration %v is not positive", lease)
	}
	until := now.Add(lease)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return outreach.Claim{}, wrap("claim conversation", err)
	}
	defer rollback(ctx, tx)
	cl := outreach.Claim{Lease: outreach.Lease{ConversationID: id, Expires: micro(until)}}
	cl.Conversation, err = scanConv(tx.QueryRow(ctx, `UPDATE conversations c SET lease_token = $1 || c.id, lease_until = $2
		WHERE c.id = $3 AND `+leaseFree("$4")+` RETURNING c.lease_token, `+convCols,
		tokenPrefix(), ts(until), id, ts(now)), &cl.Lease.Token)
	if errors.Is(err, pgx.ErrNoRows) {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM conversations WHERE id = $1`, id).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return outreach.Claim{}, fmt.Errorf("pgstore: conversation %d: %w", id, outreach.ErrNotFound)
		}
		return outreach.Claim{}, fmt.Errorf("pgstore: conversation %d: %w", id, outreach.ErrLeaseLost)
	}
	if err != nil {
		return outreach.Claim{}, wrap("claim conversation", err)
	}
	claims := []outreach.Claim{cl}
	if err := fillClaims(ctx, tx, claims); err != nil {
		return outreach.Claim{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return outreach.Claim{}, wrap("claim conversation", err)
	}
	return claims[0], nil
}

// NextDue's queries, with $1 now, $2 the runtime and $3 the world.
var (
	// nextDueFreeQuery walks the due index and stops at the first
	// claimable conversation under no lease; -infinity means an inbox
	// event.
	nextDueFreeQuery = `SELECT CASE WHEN c.due = '-infinity' THEN $1 ELSE c.due END
		FROM conversations c
		WHERE ` + claimable("$2", "$3") + ` AND ` + leaseFree("$1") + ` ORDER BY c.due, c.id LIMIT 1`
	// nextDueLeasedQuery looks at the few conversations under a lease.
	nextDueLeasedQuery = `SELECT min(greatest(CASE WHEN c.inbox > 0 THEN $1 ELSE c.next_at END, c.lease_until))
		FROM conversations c WHERE c.lease_until > $1 AND ` + claimable("$2", "$3")
)

// NextDue implements [outreach.Store]. It considers the conversations
// ClaimDue would consider: one under an unexpired lease counts from the
// lease's expiry, and a pending two-way conversation waiting for its pair
// is left out (it becomes due when the active one ends).
func (s *Store) NextDue(ctx context.Context, scope outreach.Scope, now time.Time) (time.Time, bool, error) {
	var free, leased time.Time
	runtime := runtimeOf(scope)
	err := s.pool.QueryRow(ctx, nextDueFreeQuery, ts(now), runtime, scope.World).Scan(tp(&free))
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, wrap("next due", err)
	}
	hasFree := err == nil
	if err := s.pool.QueryRow(ctx, nextDueLeasedQuery, ts(now), runtime, scope.World).Scan(tp(&leased)); err != nil {
		return time.Time{}, false, wrap("next due", err)
	}
	hasLeased := !leased.IsZero()
	switch {
	case hasFree && (!hasLeased || !leased.Before(free)):
		return free, true, nil
	case hasLeased:
		return leased, true, nil
	}
	return time.Time{}, false, nil
}

// runtimeOf is the runtime column value of scope's campaigns: an empty
// Runtime is stored as the embedded runtime.
func runtimeOf(scope outreach.Scope) string {
	return cmp.Or(scope.Runtime, outreach.RuntimeEmbedded)
}

// ExtendLease implements [outreach.Store]. A lease that expired but that
// no one claimed since is still held, and can be extended.
func (s *Store) ExtendLease(ctx context.Context, l outreach.Lease, until time.Time) (outreach.Lease, error) {
	if l.Token == "" {
		return outreach.Lease{}, fmt.Errorf("pgstore: conversation %d: empty lease token: %w", l.ConversationID, outreach.ErrLeaseLost)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE conversations SET lease_until = $1 WHERE id = $2 AND lease_token = $3`,
		ts(until), l.ConversationID, l.Token)
	if err != nil {
		return outreach.Lease{}, wrap("extend lease", err)
	}
	if tag.RowsAffected() != 1 {
		return outreach.Lease{}, fmt.Errorf("pgstore: conversation %d: %w", l.ConversationID, outreach.ErrLeaseLost)
	}
	l.Expires = micro(until)
	return l, nil
}
