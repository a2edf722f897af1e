package sqlitestore

import (
	"strings"

	"github.com/patient-outreach/sms/outreach"
)

// convChunks are the sizes of the statements that update several
// conversations of a Commit at once, largest first; the few left over
// are updated one by one (commitConv). A Commit of a claimed batch
// spent most of its time in that one-row statement, more of it in the
// driver than in SQLite.
var convChunks = [...]int{32, 8}

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
func commitConvsQuery(n int) string {
	var b strings.Builder
	b.WriteString(`WITH u(id, token, status, state, outcome, next_at, release) AS (VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?)")
	}
	b.WriteString(`)
		UPDATE conversations SET
			status = CASE WHEN conversations.status = 'done' THEN conversations.status ELSE u.status END,
			state = CASE WHEN conversations.status = 'done' THEN conversations.state ELSE u.state END,
			outcome = CASE WHEN conversations.status = 'done' THEN conversations.outcome ELSE u.outcome END,
			next_at = CASE WHEN conversations.status = 'done' THEN 0 ELSE u.next_at END,
			updated_at = ?,
			lease_token = CASE WHEN u.release THEN '' ELSE conversations.lease_token END,
			lease_until = CASE WHEN u.release THEN 0 ELSE conversations.lease_until END
		FROM u WHERE conversations.id = u.id AND conversations.lease_token = u.token
		RETURNING conversations.id, campaign_id, patient_id, phone, from_number, inbox, conversations.status`)
	return b.String()
}

// updateConvs applies the conversation part of each update, several in a
// statement, and returns each one's row. It returns ok false, and
// nothing done that the caller must keep, when an update would fail
// alone (its lease lost, its pair busy, its state not encodable, the
// same conversation twice): the caller then applies them one by one.
func (c *committer) updateConvs(updates []outreach.Update) (rows []convRow, ok bool, err error) {
	rows = make([]convRow, len(updates))
	index := make(map[int64]int, len(updates))
	for i, u := range updates {
		if _, twice := index[u.Lease.ConversationID]; twice || u.Check() != nil {
			return nil, false, nil
		}
		index[u.Lease.ConversationID] = i
	}
	start := 0
	for k, n := range convChunks {
		args := make([]any, 0, n*7+1)
		for ; len(updates)-start >= n; start += n {
			args = args[:0]
			for _, u := range updates[start : start+n] {
				state, err := marshal(u.Conversation.State)
				if err != nil {
					return nil, false, nil
				}
				conv := u.Conversation
				args = append(args, u.Lease.ConversationID, u.Lease.Token, conv.Status, state, conv.Outcome, nanos(conv.NextAt), u.Release)
			}
			args = append(args, nanos(c.now))
			res, err := c.stmt(c.st.commitConvs[k]).QueryContext(c.ctx, args...)
			if isUniqueViolation(err) {
				return nil, false, nil
			}
			if err != nil {
				return nil, false, wrap("commit conversations", err)
			}
			got, err := scanAll(res, func(sc scanner) (convRow, error) {
				var (
					id int64
					r  convRow
				)
				err := sc.Scan(&id, &r.campaignID, &r.patient, &r.phone, &r.from, &r.inbox, &r.status)
				rows[index[id]] = r
				return r, err
			})
			if isUniqueViolation(err) {
				return nil, false, nil
			}
			if err != nil {
				return nil, false, wrap("commit conversations", err)
			}
			if len(got) != n { // a lease lost
				return nil, false, nil
			}
		}
	}
	for i := start; i < len(updates); i++ {
		r, err := c.updateConv(updates[i])
		if _, alone := err.(errUpdate); alone {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		rows[i] = r
	}
	return rows, true, nil
}
