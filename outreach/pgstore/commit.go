package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/patient-outreach/sms/outreach"
)

// errUpdate marks a failure of one update of a Commit, as opposed to a
// failure of the whole transaction.
type errUpdate struct{ err error }

func (e errUpdate) Error() string { return e.err.Error() }

// errRetry says that an update failed in a Commit without savepoints:
// the transaction is rolled back and the Commit made again with them.
var errRetry = errors.New("pgstore: an update failed without a savepoint")

// Commit implements [outreach.Store]. A failed update must be undone
// alone, which takes a savepoint per update; but a transaction with more
// than 64 subtransactions that write overflows Postgres's subtransaction
// cache, which slows down every other session's snapshots while it lasts.
// So Commit first applies the updates without savepoints, and only when
// one fails in a way that needs undoing (ErrPairBusy, a repeated send
// key, an unknown message) does it roll back and apply them again, each
// in a savepoint. A lost lease needs no undoing: nothing of that update
// was written. Without savepoints the whole commit takes two pipelined
// round trips (applyAll); with them, each update takes two.
//
// The updates are applied in the order of their conversations' IDs (two
// of one conversation in the order given): every transaction that locks
// several conversations locks them in ID order (RecordInbounds,
// UpdateDeliveries, SetCampaignStatus), so that two never wait for each
// other in a cycle, and a runner's updates come in the order it claimed
// them, by due time.
func (s *Store) Commit(ctx context.Context, now time.Time, updates []outreach.Update) ([]error, error) {
	order := make([]int, len(updates))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(updates[a].Lease.ConversationID, updates[b].Lease.ConversationID)
	})
	sorted := make([]outreach.Update, len(updates))
	for k, i := range order {
		sorted[k] = updates[i] // Enqueue shared: the IDs Commit assigns reach updates
	}
	results, err := s.commit(ctx, now, sorted, false)
	if errors.Is(err, errRetry) {
		results, err = s.commit(ctx, now, sorted, true)
	}
	if err != nil {
		return nil, err
	}
	out := make([]error, len(updates))
	for k, i := range order {
		out[i] = results[k]
	}
	return out, nil
}

// commit is one attempt of Commit, with or without savepoints.
func (s *Store) commit(ctx context.Context, now time.Time, updates []outreach.Update, savepoints bool) ([]error, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, wrap("commit", err)
	}
	defer rollback(ctx, tx)
	if err := lockProviderIDs(ctx, tx, pendingLockSpace, providerIDs(updates, nil)); err != nil {
		return nil, err
	}
	c := committer{ctx: ctx, now: ts(now), tx: tx, savepoints: savepoints}
	results := make([]error, len(updates))
	ids := make([][]int64, len(updates))
	if savepoints {
		for i, u := range updates {
			ids[i], err = c.apply(u)
			var ue errUpdate
			if errors.As(err, &ue) {
				results[i] = ue.err
				continue
			}
			if err != nil {
				return nil, err
			}
		}
	} else if err := c.applyAll(updates, results, ids); err != nil {
		return nil, err
	}
	// Statuses that came before the provider ids the updates record.
	if err := s.applyPending(ctx, tx, now, providerIDs(updates, results)); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, wrap("commit", err)
	}
	for i, u := range updates {
		for j, id := range ids[i] {
			u.Enqueue[j].ID = id
		}
	}
	return results, nil
}

// providerIDs returns the provider ids that updates record on outbound
// messages, sorted and without repeats; with results, only those of the
// updates that succeeded.
func providerIDs(updates []outreach.Update, results []error) []string {
	var ids []string
	for i, u := range updates {
		if results != nil && results[i] != nil {
			continue
		}
		for _, ms := range [][]outreach.Message{u.Enqueue, u.Messages} {
			for _, m := range ms {
				if m.ProviderID != "" {
					ids = append(ids, m.ProviderID)
				}
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// committer applies the updates of one Commit transaction.
type committer struct {
	ctx context.Context
	now pgtype.Timestamptz
	tx  pgx.Tx
	// savepoints says whether each update runs in a savepoint; without,
	// a failure that needs undoing is errRetry.
	savepoints bool
}

// commitConvQuery: $1 status, $2 state, $3 outcome, $4 next_at, $5 now,
// $6 release, $7 id, $8 token. A conversation that is done (cancelled
// while leased) stays as it is.
const commitConvQuery = `UPDATE conversations SET
		status = CASE WHEN status = 'done' THEN status ELSE $1::text END,
		state = CASE WHEN status = 'done' THEN state ELSE $2::text END,
		outcome = CASE WHEN status = 'done' THEN outcome ELSE $3::text END,
		next_at = CASE WHEN status = 'done' THEN NULL ELSE $4::timestamptz END,
		updated_at = $5,
		lease_token = CASE WHEN $6::boolean THEN '' ELSE lease_token END,
		lease_until = CASE WHEN $6::boolean THEN NULL ELSE lease_until END
	WHERE id = $7 AND lease_token = $8
	RETURNING campaign_id, patient_id, phone, from_number, inbox, status`

const insertMessageQuery = `INSERT INTO messages (conversation_id, campaign_id, direction, key_conversation, key_step,
		key_attempt, from_number, to_number, body, status, provider_id, delivery_status, error, tries,
		send_after, intent_at, sent_at, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`

// conversationRow is what commitConvQuery returns.
type conversationRow struct {
	campaignID              int64
	patient, phone, fromNum string
	inbox                   int
	status                  outreach.ConversationStatus
}

// apply applies one update in a savepoint and returns the IDs of its
// enqueued messages. An error of that update alone is an errUpdate, and
// nothing of the update remains; any other error fails the whole commit.
//
// It takes two round trips whatever the update holds (three when the
// conversation is done and the update adds texts): one pipeline sets the
// savepoint and updates the conversation, a second one writes the rest.
// Savepoints, when used, are not released: each update's shadows the
// previous one, and ROLLBACK TO undoes the latest; COMMIT ends them all.
func (c *committer) apply(u outreach.Update) ([]int64, error) {
	id := u.Lease.ConversationID
	conv := u.Conversation
	if err := u.Check(); err != nil {
		return nil, errUpdate{fmt.Errorf("pgstore: %w", err)}
	}
	state, err := marshal(conv.State)
	if err != nil {
		return nil, errUpdate{fmt.Errorf("pgstore: conversation %d: encode state: %w", id, err)}
	}

	b := &pgx.Batch{}
	if c.savepoints {
		b.Queue(`SAVEPOINT one_update`)
	}
	b.Queue(commitConvQuery, string(conv.Status), state, conv.Outcome, ts(conv.NextAt), c.now, u.Release, id, u.Lease.Token)
	br := c.tx.SendBatch(c.ctx, b)
	if c.savepoints {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, wrap("commit", err)
		}
	}
	var row conversationRow
	err = br.QueryRow().Scan(&row.campaignID, &row.patient, &row.phone, &row.fromNum, &row.inbox, &row.status)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if name, ok := uniqueViolation(err); ok && name == "conversations_active_pair" {
		return c.undo(errUpdate{fmt.Errorf("pgstore: conversation %d: %w", id, outreach.ErrPairBusy)})
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Nothing written: nothing to undo.
		return nil, errUpdate{fmt.Errorf("pgstore: conversation %d: %w", id, outreach.ErrLeaseLost)}
	case err != nil:
		return nil, wrap("commit conversation", err)
	}
	ids, err := c.applyRest(u, row)
	var ue errUpdate
	if errors.As(err, &ue) {
		return c.undo(err)
	}
	return ids, err
}

// undo rolls the current update back to its savepoint and returns err;
// without savepoints, it returns errRetry.
func (c *committer) undo(err error) ([]int64, error) {
	if !c.savepoints {
		return nil, errRetry
	}
	if _, rerr := c.tx.Exec(c.ctx, `ROLLBACK TO SAVEPOINT one_update`); rerr != nil {
		return nil, wrap("commit", rerr)
	}
	return nil, err
}

// applyAll applies updates without savepoints, in two pipelines: the
// conversations' rows, then all the rest. It sets results[i] for an
// update whose lease is lost (nothing of it is written) and ids[i] to
// the ids of the messages update i enqueues; an update that fails in a
// way that needs undoing gives errRetry.
func (c *committer) applyAll(updates []outreach.Update, results []error, ids [][]int64) error {
	b := &pgx.Batch{}
	for _, u := range updates {
		if u.Check() != nil {
			return errRetry
		}
		state, err := marshal(u.Conversation.State)
		if err != nil {
			return errRetry
		}
		conv := u.Conversation
		b.Queue(commitConvQuery, string(conv.Status), state, conv.Outcome, ts(conv.NextAt), c.now, u.Release, u.Lease.ConversationID, u.Lease.Token)
	}
	rows := make([]conversationRow, len(updates))
	err := c.readAll(b, func(br pgx.BatchResults) error {
		for i, u := range updates {
			r := &rows[i]
			err := br.QueryRow().Scan(&r.campaignID, &r.patient, &r.phone, &r.fromNum, &r.inbox, &r.status)
			switch _, unique := uniqueViolation(err); {
			case errors.Is(err, pgx.ErrNoRows):
				results[i] = fmt.Errorf("pgstore: conversation %d: %w", u.Lease.ConversationID, outreach.ErrLeaseLost)
			case unique:
				return errRetry
			case err != nil:
				return wrap("commit conversation", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	b = &pgx.Batch{}
	inbox := make([]int, len(updates))
	for i, u := range updates {
		if results[i] == nil {
			if inbox[i], err = c.queueRest(b, u, rows[i]); err != nil {
				return err
			}
		}
	}
	return c.readAll(b, func(br pgx.BatchResults) error {
		for i, u := range updates {
			if results[i] != nil {
				continue
			}
			ids[i], err = readRest(br, u, u.Lease.ConversationID, inbox[i])
			var ue errUpdate
			if errors.As(err, &ue) {
				return errRetry
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// readAll sends b, unless it is empty, and reads its results with read,
// in the order queued. After an error the server skips the rest of the
// pipeline, so the first error is the one.
func (c *committer) readAll(b *pgx.Batch, read func(pgx.BatchResults) error) error {
	if b.Len() == 0 {
		return nil
	}
	br := c.tx.SendBatch(c.ctx, b)
	err := read(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = wrap("commit", cerr)
	}
	return err
}

// applyRest writes what update u adds to its conversation, whose row
// (as updated) is row, in one pipeline.
func (c *committer) applyRest(u outreach.Update, row conversationRow) (ids []int64, err error) {
	b := &pgx.Batch{}
	inboxStatements, err := c.queueRest(b, u, row)
	if err != nil {
		return nil, err
	}
	err = c.readAll(b, func(br pgx.BatchResults) error {
		ids, err = readRest(br, u, u.Lease.ConversationID, inboxStatements)
		return err
	})
	return ids, err
}

// queueRest queues to b the statements that write what update u adds to
// its conversation, whose row (as updated) is row, and returns how many
// of them are about its inbox (see readRest).
func (c *committer) queueRest(b *pgx.Batch, u outreach.Update, row conversationRow) (int, error) {
	ctx, tx := c.ctx, c.tx
	id := u.Lease.ConversationID
	done := row.status == outreach.ConversationDone

	// Texts that come to a campaign already purged (a Studio execution's
	// replies collected late) are not kept either: only a done
	// conversation can be in a finished campaign.
	purged := false
	if done && len(u.Enqueue)+len(u.Received)+len(u.Responses) > 0 {
		if err := tx.QueryRow(ctx, `SELECT purged_at IS NOT NULL FROM campaigns WHERE id = $1`, row.campaignID).Scan(&purged); err != nil {
			return 0, wrap("commit: campaign purged", err)
		}
	}

	inboxStatements := 0
	if row.inbox > 0 {
		if len(u.Processed) > 0 {
			b.Queue(`UPDATE inbox SET processed = true, processed_at = $1
				WHERE id = ANY($2) AND conversation_id = $3 AND NOT processed`, c.now, u.Processed, id)
			inboxStatements++
		}
		// $1 now, $2 id.
		b.Queue(`UPDATE conversations
			SET inbox = (SELECT count(*) FROM inbox WHERE conversation_id = $2 AND NOT processed),
				next_at = CASE
					WHEN status <> 'done' AND (next_at IS NULL OR next_at > $1)
						AND EXISTS (SELECT 1 FROM inbox WHERE conversation_id = $2 AND NOT processed)
					THEN $1 ELSE next_at END
			WHERE id = $2`, c.now, id)
		inboxStatements++
	}
	for _, m := range u.Enqueue {
		m = m.AsEnqueued(row.fromNum, row.phone, done, purged)
		b.Queue(insertMessageQuery+` RETURNING id`, id, row.campaignID, string(m.Direction),
			m.Key.Conversation, m.Key.Step, m.Key.Attempt, m.From, m.To, m.Body, string(m.Status), m.ProviderID,
			m.DeliveryStatus, m.Error, m.Tries, ts(m.SendAfter), ts(m.IntentAt), ts(m.SentAt), c.now)
	}
	for _, m := range u.Messages {
		if done {
			m.Status = outreach.EndedStatus(m.Status)
		}
		b.Queue(`UPDATE messages SET status = $1, provider_id = $2, error = $3, tries = $4,
				send_after = $5, intent_at = $6, sent_at = $7
			WHERE id = $8 AND conversation_id = $9 AND direction = 'outbound'`,
			string(m.Status), m.ProviderID, m.Error, m.Tries, ts(m.SendAfter), ts(m.IntentAt), ts(m.SentAt), m.ID, id)
	}
	for _, m := range u.Received {
		m = m.AsReceived()
		if purged {
			m.Body = ""
		}
		// Once per ProviderID: one already stored is skipped.
		b.Queue(insertMessageQuery+` ON CONFLICT (provider_id) WHERE direction = 'inbound' AND provider_id <> '' DO NOTHING`,
			id, row.campaignID, string(m.Direction), 0, "", 0, m.From, m.To, m.Body,
			string(m.Status), m.ProviderID, m.DeliveryStatus, m.Error, 0, nil, nil, ts(m.SentAt), ts(orNow(m.CreatedAt)))
	}
	for _, r := range u.Responses {
		if r.PatientID == "" {
			r.PatientID = row.patient
		}
		if purged {
			r.Raw = ""
		}
		b.Queue(`INSERT INTO responses (`+respCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			row.campaignID, id, r.PatientID, r.QuestionID, r.Raw, r.Answer, ts(r.RepliedAt), string(r.Doubt))
	}
	return inboxStatements, nil
}

// readRest reads the results of the pipeline of applyRest.
func readRest(br pgx.BatchResults, u outreach.Update, id int64, inboxStatements int) ([]int64, error) {
	for range inboxStatements {
		if _, err := br.Exec(); err != nil {
			return nil, wrap("commit inbox", err)
		}
	}
	var ids []int64
	for _, m := range u.Enqueue {
		var mid int64
		err := br.QueryRow().Scan(&mid)
		if name, ok := uniqueViolation(err); ok && name == "messages_key" {
			return nil, errUpdate{fmt.Errorf("pgstore: conversation %d already has a message with key %s", id, m.Key)}
		}
		if err != nil {
			return nil, wrap("enqueue message", err)
		}
		ids = append(ids, mid)
	}
	for _, m := range u.Messages {
		tag, err := br.Exec()
		if err != nil {
			return nil, wrap("update message", err)
		}
		if tag.RowsAffected() != 1 {
			return nil, errUpdate{fmt.Errorf("pgstore: conversation %d has no outbound message %d: %w", id, m.ID, outreach.ErrNotFound)}
		}
	}
	for range u.Received {
		if _, err := br.Exec(); err != nil {
			return nil, wrap("add received message", err)
		}
	}
	for range u.Responses {
		if _, err := br.Exec(); err != nil {
			return nil, wrap("add response", err)
		}
	}
	return ids, nil
}
