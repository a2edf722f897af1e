package sqlitestore

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/patient-outreach/sms/outreach"
)

// rowChunks are the sizes of the statements that write several rows of
// a Commit at once, largest first; the few rows left over are written
// one to a statement. A Commit of a claimed batch spent most of its time
// in one-row statements, more of it in the driver than in SQLite.
var rowChunks = [...]int{32, 8}

// convRow is what a conversation's row gives the rest of its update.
type convRow struct {
	campaignID           int64
	patient, phone, from string
	inbox                int
	status               outreach.ConversationStatus
}

// commitConvsQuery is commitConv for n conversations: the updates are
// rows of u, each (id, token, status, state, outcome, next_at,
// release); the last parameter is the time. RETURNING gives the
// updated conversations in no particular order, with their ids.
//
// Without setOutcome, the statement is for updates whose outcome is
// empty, and changes only rows whose outcome is empty too (others are
// not matched, as with a lost lease): it leaves the outcome column out of
// its SET, and so the index conversations_campaign, which holds it,
// alone. SQLite rewrites the entries of every index on a column a SET
// names, changed or not, and most updates, all but a conversation's
// last, keep its outcome empty: in a simulated campaign, that index's
// pages were a tenth of the pages Commit wrote.
func commitConvsQuery(n int, setOutcome bool) string {
	outcome, where := "", " AND conversations.outcome = ''"
	if setOutcome {
		outcome, where = "outcome = CASE WHEN conversations.status = 'done' THEN conversations.outcome ELSE u.outcome END,\n\t\t\t", ""
	}
	return `WITH u(id, token, status, state, outcome, next_at, release) AS (VALUES ` + valueRows(n, 7) + `)
		UPDATE conversations SET
			status = CASE WHEN conversations.status = 'done' THEN conversations.status ELSE u.status END,
			state = CASE WHEN conversations.status = 'done' THEN conversations.state ELSE u.state END,
			` + outcome + `next_at = CASE WHEN conversations.status = 'done' THEN 0 ELSE u.next_at END,
			updated_at = ?,
			lease_token = CASE WHEN u.release THEN '' ELSE conversations.lease_token END,
			lease_until = CASE WHEN u.release THEN 0 ELSE conversations.lease_until END
		FROM u WHERE conversations.id = u.id AND conversations.lease_token = u.token` + where + `
		RETURNING conversations.id, campaign_id, patient_id, phone, from_number, inbox, conversations.status`
}

// updateConvs applies the conversation part of each update, several in a
// statement, and returns each one's row. It returns ok false, and
// nothing done that the caller must keep, when an update would fail
// alone (its lease lost, its pair busy, its state not encodable, the
// same conversation twice), or when an update without an outcome finds
// one stored (a conversation cancelled while leased: see
// commitConvsQuery): the caller then applies them one by one.
func (c *committer) updateConvs(updates []outreach.Update) (rows []convRow, ok bool, err error) {
	index := make(map[int64]int, len(updates))
	var all [2][][]any // by whether the update sets an outcome
	for i, u := range updates {
		if _, twice := index[u.Lease.ConversationID]; twice || u.Check() != nil {
			return nil, false, nil
		}
		index[u.Lease.ConversationID] = i
		state, err := marshal(u.Conversation.State)
		if err != nil {
			return nil, false, nil
		}
		conv := u.Conversation
		o := 0
		if conv.Outcome != "" {
			o = 1
		}
		all[o] = append(all[o], []any{u.Lease.ConversationID, u.Lease.Token, conv.Status, state, conv.Outcome, nanos(conv.NextAt), u.Release})
	}
	rows = make([]convRow, len(updates))
	run := func(st *sql.Stmt, n int, args []any) (bool, error) {
		res, err := st.QueryContext(c.ctx, append(args, nanos(c.now))...)
		if err == nil {
			var got []convRow
			got, err = scanAll(res, func(sc scanner) (convRow, error) {
				var (
					id int64
					r  convRow
				)
				err := sc.Scan(&id, &r.campaignID, &r.patient, &r.phone, &r.from, &r.inbox, &r.status)
				rows[index[id]] = r
				return r, err
			})
			if err == nil {
				return len(got) == n, nil // else a lease lost
			}
		}
		if isUniqueViolation(err) {
			return false, nil
		}
		return false, wrap("commit conversations", err)
	}
	for o, list := range all {
		if ok, err := c.inChunks(list, c.st.commitConvs[o], c.st.commitConvOne[o], run); err != nil || !ok {
			return nil, ok, err
		}
	}
	return rows, true, nil
}

// insertMessagesQuery is insertMessage for n messages. RETURNING gives
// each one's id with its key, in no particular order.
func insertMessagesQuery(n int) string {
	return `INSERT INTO messages (conversation_id, campaign_id, direction, key_conversation, key_step,
			key_attempt, from_number, to_number, body, status, provider_id, delivery_status, error, tries,
			send_after, intent_at, sent_at, created_at)
		VALUES ` + valueRows(n, 18) + `
		RETURNING id, conversation_id, key_step, key_attempt`
}

// updateMessagesQuery is updateMessage for n messages: the rows of u
// are updateMessage's parameters, in its order. RETURNING gives the ids
// of the messages updated.
func updateMessagesQuery(n int) string {
	return `WITH u(status, provider_id, error, tries, send_after, intent_at, sent_at, id, conversation_id) AS (VALUES ` + valueRows(n, 9) + `)
		UPDATE messages SET status = u.status, provider_id = u.provider_id, error = u.error, tries = u.tries,
			send_after = u.send_after, intent_at = u.intent_at, sent_at = u.sent_at
		FROM u WHERE messages.id = u.id AND messages.conversation_id = u.conversation_id AND messages.direction = 'outbound'
		RETURNING messages.id`
}

// valueRows is n rows of cols parameters each, for a VALUES clause.
func valueRows(n, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(row+", ", n-1) + row
}

// inChunks runs the rows of parameters in statements of rowChunks[k]
// rows each (many[k]), then the rest one to a statement (one), calling
// run with each statement, its number of rows and their parameters. It
// stops at the first error or !ok.
func (c *committer) inChunks(rows [][]any, many [len(rowChunks)]*sql.Stmt, one *sql.Stmt, run func(st *sql.Stmt, n int, args []any) (bool, error)) (bool, error) {
	start := 0
	var args []any
	for k, n := range rowChunks {
		for ; len(rows)-start >= n; start += n {
			args = args[:0]
			for _, r := range rows[start : start+n] {
				args = append(args, r...)
			}
			if ok, err := run(c.stmt(many[k]), n, args); err != nil || !ok {
				return ok, err
			}
		}
	}
	for ; start < len(rows); start++ {
		if ok, err := run(c.stmt(one), 1, rows[start]); err != nil || !ok {
			return ok, err
		}
	}
	return true, nil
}

// insertEnqueued inserts the messages that updates enqueue, several to a
// statement, and returns their ids by update. It returns ok false when
// one would fail alone (its key taken): the caller then applies the
// updates one by one.
func (c *committer) insertEnqueued(updates []outreach.Update, rows []convRow) (ids [][]int64, ok bool, err error) {
	type key struct {
		conv    int64
		step    string
		attempt int
	}
	where := map[key][2]int{} // update and message index
	var all [][]any
	ids = make([][]int64, len(updates))
	for i, u := range updates {
		if len(u.Enqueue) == 0 {
			continue
		}
		purged, err := c.purged(u, rows[i])
		if err != nil {
			return nil, false, err
		}
		ids[i] = make([]int64, len(u.Enqueue))
		for j, m := range u.Enqueue {
			// A key given twice fails the insert (messages_key).
			where[key{u.Lease.ConversationID, m.Key.Step, m.Key.Attempt}] = [2]int{i, j}
			all = append(all, c.enqueueArgs(u, rows[i], purged, m))
		}
	}
	ok, err = c.inChunks(all, c.st.insertMessages, c.st.insertMessageKey, func(st *sql.Stmt, n int, args []any) (bool, error) {
		res, err := st.QueryContext(c.ctx, args...)
		if err == nil {
			var got []key
			got, err = scanAll(res, func(sc scanner) (key, error) {
				var (
					id int64
					k  key
				)
				err := sc.Scan(&id, &k.conv, &k.step, &k.attempt)
				if w, found := where[k]; found && err == nil {
					ids[w[0]][w[1]] = id
				}
				return k, err
			})
			if err == nil && len(got) != n {
				err = fmt.Errorf("%d messages inserted of %d", len(got), n)
			}
		}
		if isUniqueViolation(err) {
			return false, nil
		}
		return err == nil, wrap("enqueue messages", err)
	})
	if err != nil || !ok {
		return nil, ok, err
	}
	return ids, true, nil
}

// updateMessages updates the messages of updates, several to a
// statement. It returns ok false when one would fail alone (the message
// is not the conversation's, or is updated twice): the caller then
// applies the updates one by one.
func (c *committer) updateMessages(updates []outreach.Update, rows []convRow) (bool, error) {
	var all [][]any
	seen := map[int64]bool{}
	for i, u := range updates {
		for _, m := range u.Messages {
			if seen[m.ID] {
				return false, nil
			}
			seen[m.ID] = true
			all = append(all, messageArgs(u, rows[i], m))
		}
	}
	return c.inChunks(all, c.st.updateMessages, c.st.updateMessageID, func(st *sql.Stmt, n int, args []any) (bool, error) {
		res, err := st.QueryContext(c.ctx, args...)
		if err != nil {
			return false, wrap("update messages", err)
		}
		got, err := scanAll(res, func(sc scanner) (int64, error) {
			var id int64
			return id, sc.Scan(&id)
		})
		if err != nil {
			return false, wrap("update messages", err)
		}
		return len(got) == n, nil
	})
}
