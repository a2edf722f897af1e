package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patient-outreach/sms/outreach"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Column lists, in the order the scan functions read them.
const (
	campaignCols = `id, name, flow, from_number, default_zone, runtime, runtime_ref, world, status, created_at, updated_at, purged_at`
	convCols     = `id, campaign_id, patient_id, first_name, phone, time_zone, attrs, from_number, two_way,
		zones, status, state, outcome, next_at, created_at, updated_at`
	msgCols = `id, coalesce(conversation_id, 0), coalesce(campaign_id, 0), direction,
		key_conversation, key_step, key_attempt, from_number, to_number, body, status, provider_id,
		delivery_status, error, tries, send_after, intent_at, sent_at, created_at`
	eventCols = `id, conversation_id, kind, message_id, body, key_conversation, key_step, key_attempt, error, at`
	respCols  = `campaign_id, conversation_id, patient_id, question_id, raw, answer, replied_at, doubt`
)

// claimable is the condition, on conversations c, that a conversation may
// be claimed once its work is due and its lease has expired: unfinished,
// in a running campaign of the runtime and the world given by the
// parameters rt and world (such as "?2" and "?3"), and not a pending
// two-way conversation whose pair already has an active one in its world.
func claimable(rt, world string) string {
	return `c.status != 'done' AND c.due > 0
	AND c.campaign_id IN (SELECT id FROM campaigns WHERE status = 'running' AND runtime = ` + rt + ` AND world = ` + world + `)
	AND NOT (c.two_way AND c.status = 'pending' AND EXISTS (
		SELECT 1 FROM conversations a
		WHERE a.world = c.world AND a.phone = c.phone AND a.from_number = c.from_number AND a.two_way AND a.status = 'active'))`
}

// NextDue's queries, with ?1 now, ?2 the runtime and ?3 the world.
var (
	// nextDueFreeQuery walks the due index and stops at the first
	// claimable conversation under no lease; due 1 means an inbox event.
	nextDueFreeQuery = `SELECT CASE WHEN c.due = 1 THEN ?1 ELSE c.due END
		FROM conversations c INDEXED BY conversations_due
		WHERE ` + claimable("?2", "?3") + ` AND c.lease_until <= ?1 ORDER BY c.due, c.id LIMIT 1`
	// nextDueLeasedQuery looks at the few conversations under a lease.
	nextDueLeasedQuery = `SELECT min(max(CASE WHEN c.inbox > 0 THEN ?1 ELSE c.next_at END, c.lease_until))
		FROM conversations c INDEXED BY conversations_leased WHERE c.lease_until > 0 AND c.lease_until > ?1 AND ` + claimable("?2", "?3")
)

// Queries run unprepared: they are not on the runner's hot path.
const (
	cancelMessagesQuery = `UPDATE messages SET status = 'cancelled'
		WHERE direction = 'outbound' AND status = 'queued' AND conversation_id IN (
			SELECT id FROM conversations WHERE campaign_id = ? AND status != 'done')`
	// ?1 outcome, ?2 now, ?3 campaign.
	cancelConversationsQuery = `UPDATE conversations
		SET status = 'done', outcome = ?1, next_at = 0, updated_at = ?2
		WHERE campaign_id = ?3 AND status != 'done'`
	// ?1 now, ?2 campaign.
	finishQuery = `UPDATE campaigns SET status = 'done', updated_at = ?1
		WHERE id = ?2 AND status = 'running'
			AND NOT EXISTS (SELECT 1 FROM conversations WHERE campaign_id = ?2 AND status != 'done')`
	// The progress queries count the rows of a range of ids (?2 < id <=
	// ?3) of a campaign (?1; ?4 now): see Store.Progress.
	progressConversationsQuery = `SELECT status, outcome, count(*) FROM conversations
		WHERE campaign_id = ?1 AND id > ?2 AND id <= ?3 GROUP BY status, outcome`
	progressMessagesQuery = `SELECT direction, status, delivery_status, count(*),
			coalesce(sum(status = 'queued' AND send_after > ?4), 0)
		FROM messages WHERE campaign_id = ?1 AND id > ?2 AND id <= ?3 GROUP BY direction, status, delivery_status`
	// The ids of a campaign's conversations and messages span these
	// (each subquery one step of an index).
	progressConversationIDs = `SELECT coalesce((SELECT id FROM conversations WHERE campaign_id = ?1 ORDER BY id LIMIT 1), 0),
		coalesce((SELECT id FROM conversations WHERE campaign_id = ?1 ORDER BY id DESC LIMIT 1), 0)`
	progressMessageIDs = `SELECT coalesce((SELECT id FROM messages WHERE campaign_id = ?1 ORDER BY id LIMIT 1), 0),
		coalesce((SELECT id FROM messages WHERE campaign_id = ?1 ORDER BY id DESC LIMIT 1), 0)`
	optedOutQuery = `SELECT phone FROM opt_outs
		WHERE opted_out AND phone IN (SELECT value FROM json_each(?))`
	conversationsQuery = `SELECT ` + convCols + ` FROM conversations
		WHERE campaign_id = ? AND id > ? ORDER BY id LIMIT ?`
	messagesQuery  = `SELECT ` + msgCols + ` FROM messages WHERE conversation_id = ? ORDER BY id`
	unmatchedQuery = `SELECT ` + msgCols + ` FROM messages WHERE conversation_id IS NULL ORDER BY id`
	// ?1 campaign, ?2 after conversation, ?3 limit of conversations. The
	// page ends at the last of the first ?3 conversations with responses.
	responsesQuery = `SELECT ` + respCols + ` FROM responses
		WHERE campaign_id = ?1 AND conversation_id > ?2 AND conversation_id <= (
			SELECT max(conversation_id) FROM (
				SELECT DISTINCT conversation_id FROM responses
				WHERE campaign_id = ?1 AND conversation_id > ?2
				ORDER BY conversation_id LIMIT ?3))
		ORDER BY conversation_id, replied_at, id`
)

// stmts are the statements prepared once on the writer connection: those
// of the runner's hot path (claims and commits) and of inbound webhooks.
type stmts struct {
	all []*sql.Stmt

	// insertConvs and insertConvsShared insert insertRows conversations
	// in one statement (see insertConvsQuery).
	insertConvs, insertConvsShared *sql.Stmt

	claim, claimPending, claimInbox *sql.Stmt

	savepoint, releaseSavepoint, rollbackSavepoint *sql.Stmt
	commitConv, processEvent, fixInbox             *sql.Stmt
	// commitConvs, insertMessages and updateMessages are commitConv,
	// insertMessage and updateMessage for rowChunks[i] rows in one
	// statement (see commitbatch.go); commitConvOne, insertMessageKey and
	// updateMessageID are their one-row forms. commitConvs[0] and
	// commitConvOne[0] are for updates that leave the outcome empty,
	// [1] for those that set one (see commitConvsQuery).
	commitConvs                                  [2][len(rowChunks)]*sql.Stmt
	commitConvOne                                [2]*sql.Stmt
	insertMessages, updateMessages               [len(rowChunks)]*sql.Stmt
	insertMessageKey, updateMessageID            *sql.Stmt
	insertMessage, updateMessage, insertResponse *sql.Stmt

	inboundByProvider, matchConv, insertEvent, bumpInbox *sql.Stmt
	updateDelivery, insertFailure                        *sql.Stmt
	// takePending is run for every message a Commit records with a
	// provider id (applyPending), campaignPurged for every conversation
	// a Commit ends with messages, extendLease by the runner for each
	// conversation of a batch still to send.
	takePending, campaignPurged, extendLease *sql.Stmt
	anyPending                               *sql.Stmt // once a Commit

	// The reads of the runner's claim loop (NextDue before each wait,
	// OptedOut in each claim) are prepared once, since preparing the
	// NextDue queries cost more than running them, and run on the writer
	// connection, between the loop's own writes: its page cache is
	// current, where a connection of the read pool finds its cache out of
	// date after every write and reads the pages again. A simulated
	// campaign, which runs a claim and a few writes per event, spent more
	// time in these reads than in its writes.
	// CampaignStatus, read for every batch sent, is another.
	nextDueFree, nextDueLeased, optedOut, campaignStatus *sql.Stmt
}

// prepared pairs each statement of s with its SQL text.
type prepared struct {
	dst   **sql.Stmt
	query string
}

func (s *stmts) queries() []prepared {
	return []prepared{
		{&s.insertConvs, insertConvsQuery(insertRows, false)},
		{&s.insertConvsShared, insertConvsQuery(insertRows, true)},

		// ?1 token prefix, ?2 lease expiry, ?3 now, ?4 limit, ?5 runtime,
		// ?6 world.
		{&s.claim, `UPDATE conversations SET lease_token = ?1 || id, lease_until = ?2
			WHERE id IN (
				SELECT c.id FROM conversations c INDEXED BY conversations_due
				WHERE ` + claimable("?5", "?6") + ` AND c.due <= ?3 AND c.lease_until <= ?3
				ORDER BY c.due, c.id LIMIT ?4)
			RETURNING lease_token, due, ` + convCols},
		{&s.claimPending, `SELECT ` + msgCols + ` FROM messages
			WHERE conversation_id IN (SELECT value FROM json_each(?)) AND direction = 'outbound'
				AND status IN ('queued', 'sending', 'unknown')
			ORDER BY id`},
		{&s.claimInbox, `SELECT ` + eventCols + ` FROM inbox
			WHERE conversation_id IN (SELECT value FROM json_each(?)) AND processed_at IS NULL
			ORDER BY id`},

		{&s.savepoint, `SAVEPOINT one_update`},
		{&s.releaseSavepoint, `RELEASE one_update`},
		{&s.rollbackSavepoint, `ROLLBACK TO one_update`},
		// ?1 status, ?2 state, ?3 outcome, ?4 next_at, ?5 now, ?6 release,
		// ?7 id, ?8 token. A conversation that is done (cancelled while
		// leased) stays as it is.
		{&s.commitConv, `UPDATE conversations SET
				status = CASE WHEN status = 'done' THEN status ELSE ?1 END,
				state = CASE WHEN status = 'done' THEN state ELSE ?2 END,
				outcome = CASE WHEN status = 'done' THEN outcome ELSE ?3 END,
				next_at = CASE WHEN status = 'done' THEN 0 ELSE ?4 END,
				updated_at = ?5,
				lease_token = CASE WHEN ?6 THEN '' ELSE lease_token END,
				lease_until = CASE WHEN ?6 THEN 0 ELSE lease_until END
			WHERE id = ?7 AND lease_token = ?8
			RETURNING campaign_id, patient_id, phone, from_number, inbox, status`},
		{&s.commitConvs[0][0], commitConvsQuery(rowChunks[0], false)},
		{&s.commitConvs[0][1], commitConvsQuery(rowChunks[1], false)},
		{&s.commitConvOne[0], commitConvsQuery(1, false)},
		{&s.commitConvs[1][0], commitConvsQuery(rowChunks[0], true)},
		{&s.commitConvs[1][1], commitConvsQuery(rowChunks[1], true)},
		{&s.commitConvOne[1], commitConvsQuery(1, true)},
		{&s.insertMessages[0], insertMessagesQuery(rowChunks[0])},
		{&s.insertMessages[1], insertMessagesQuery(rowChunks[1])},
		{&s.insertMessageKey, insertMessagesQuery(1)},
		{&s.updateMessages[0], updateMessagesQuery(rowChunks[0])},
		{&s.updateMessages[1], updateMessagesQuery(rowChunks[1])},
		{&s.updateMessageID, updateMessagesQuery(1)},
		{&s.processEvent, `UPDATE inbox SET processed_at = ?1
			WHERE id = ?2 AND conversation_id = ?3 AND processed_at IS NULL`},
		// ?1 now, ?2 id.
		{&s.fixInbox, `UPDATE conversations
			SET inbox = (SELECT count(*) FROM inbox WHERE conversation_id = ?2 AND processed_at IS NULL),
				next_at = CASE
					WHEN status != 'done' AND (next_at = 0 OR next_at > ?1)
						AND EXISTS (SELECT 1 FROM inbox WHERE conversation_id = ?2 AND processed_at IS NULL)
					THEN ?1 ELSE next_at END
			WHERE id = ?2`},
		{&s.insertMessage, `INSERT INTO messages (conversation_id, campaign_id, direction, key_conversation, key_step,
				key_attempt, from_number, to_number, body, status, provider_id, delivery_status, error, tries,
				send_after, intent_at, sent_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			RETURNING id`},
		{&s.updateMessage, `UPDATE messages SET status = ?, provider_id = ?, error = ?, tries = ?,
				send_after = ?, intent_at = ?, sent_at = ?
			WHERE id = ? AND conversation_id = ? AND direction = 'outbound'`},
		{&s.insertResponse, `INSERT INTO responses (` + respCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},

		{&s.inboundByProvider, `SELECT ` + msgCols + ` FROM messages WHERE provider_id = ? AND direction = 'inbound' AND provider_id != ''`},
		// ?1 world, ?2 phone, ?3 sending number.
		{&s.matchConv, `SELECT id, campaign_id FROM conversations
			WHERE world = ?1 AND phone = ?2 AND from_number = ?3 AND two_way AND status = 'active'`},
		{&s.insertEvent, `INSERT INTO inbox (conversation_id, kind, message_id, body, key_conversation, key_step,
				key_attempt, error, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.bumpInbox, `UPDATE conversations SET inbox = inbox + 1 WHERE id = ?`},
		// ?1 delivery status, ?2 error code, ?3 provider id.
		// ?4: the statuses the new one may replace (see DeliveryRank).
		{&s.anyPending, `SELECT EXISTS (SELECT 1 FROM pending_statuses)`},
		{&s.takePending, `DELETE FROM pending_statuses WHERE provider_id = ? RETURNING status, error_code, at`},
		{&s.campaignPurged, `SELECT purged_at != 0 FROM campaigns WHERE id = ?`},
		{&s.extendLease, `UPDATE conversations SET lease_until = ? WHERE id = ? AND lease_token = ?`},
		{&s.updateDelivery, `UPDATE messages SET
				error = CASE WHEN ?2 != '' AND delivery_status IN (SELECT value FROM json_each(?4)) THEN ?2 ELSE error END,
				delivery_status = CASE WHEN delivery_status IN (SELECT value FROM json_each(?4)) THEN ?1 ELSE delivery_status END
			WHERE id = (SELECT id FROM messages
				WHERE provider_id = ?3 AND direction = 'outbound' AND provider_id != '' ORDER BY id LIMIT 1)
			RETURNING ` + msgCols},
		{&s.insertFailure, `INSERT INTO inbox (conversation_id, kind, message_id, body, key_conversation, key_step,
				key_attempt, error, at)
			VALUES (?, 'delivery_failed', ?, '', ?, ?, ?, ?, ?)
			ON CONFLICT (message_id, kind) DO NOTHING`},

		{&s.nextDueFree, nextDueFreeQuery},
		{&s.nextDueLeased, nextDueLeasedQuery},
		{&s.optedOut, optedOutQuery},
		{&s.campaignStatus, `SELECT status FROM campaigns WHERE id = ?`},
	}
}

func (s *stmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range s.queries() {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("sqlitestore: prepare %q: %w", p.query, err)
		}
		*p.dst = st
		s.all = append(s.all, st)
	}
	return nil
}

func (s *stmts) close() error {
	var errs []error
	for _, st := range s.all {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// epoch is the origin of stored times. Times are stored as nanoseconds
// since 1900-01-01 UTC, so that every time of the supported range
// (1900-01-02 to 2191) is positive: 0 stands for the zero time ("none"),
// and 1 in the due column for "at once".
var epoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// nanos stores t as nanoseconds since 1900; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano() - epoch
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n+epoch).UTC()
}

// orNow returns t, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// nullID stores 0 as NULL, for the optional references of messages.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// insertRows is how many conversations one insertConvs statement
// inserts: a batch of a campaign's recipients is inserted that many at a
// time, in far fewer statements (and bindings of the campaign and its
// world) than one each.
const insertRows = 64

// The columns insertConvsQuery writes: those a chunk of rows may share
// (bound once for the chunk when they have the same values, as a
// campaign's new conversations do), then those of each row.
var (
	sharedColumns = []string{"from_number", "two_way", "status", "outcome", "next_at", "created_at", "updated_at", "campaign_id", "world"}
	rowColumns    = []string{"patient_id", "first_name", "phone", "time_zone", "attrs", "zones", "state"}
	convColumns   = append(slices.Clone(sharedColumns), rowColumns...)
)

// insertConvsQuery inserts rows conversations, each row's parameters
// its sharedColumns then its rowColumns. When shared, the
// sharedColumns are bound once, as ?1 to ?9, which every row names
// (before its own parameters: a plain ? is numbered one more than the
// largest number so far, and only numbered parameters cost the driver a
// search of each binding's name).
func insertConvsQuery(rows int, shared bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO conversations (" + strings.Join(convColumns, ", ") + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for j := range convColumns {
			if j > 0 {
				b.WriteString(", ")
			}
			if j < len(sharedColumns) && shared {
				b.WriteString("?" + strconv.Itoa(j+1))
			} else {
				b.WriteString("?")
			}
		}
		b.WriteString(")")
	}
	b.WriteString(" ON CONFLICT (campaign_id, patient_id) DO NOTHING")
	return b.String()
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanCampaign(sc scanner) (outreach.Campaign, error) {
	var (
		c                outreach.Campaign
		flow             string
		created, updated int64
		purged           int64
	)
	if err := sc.Scan(&c.ID, &c.Name, &flow, &c.From, &c.DefaultZone, &c.Runtime, &c.RuntimeRef, &c.World, &c.Status, &created, &updated, &purged); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(flow), &c.Flow); err != nil {
		return c, fmt.Errorf("campaign %d: decode flow: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt, c.PurgedAt = fromNanos(created), fromNanos(updated), fromNanos(purged)
	return c, nil
}

// scanConv reads convCols, after the extra destinations given.
func scanConv(sc scanner, extra ...any) (outreach.Conversation, error) {
	var (
		c                      outreach.Conversation
		attrs, zones, state    string
		next, created, updated int64
	)
	dest := append(extra, &c.ID, &c.CampaignID, &c.Recipient.ID, &c.Recipient.FirstName, &c.Recipient.Phone,
		&c.Recipient.TimeZone, &attrs, &c.From, &c.TwoWay, &zones, &c.Status, &state, &c.Outcome,
		&next, &created, &updated)
	if err := sc.Scan(dest...); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(attrs), &c.Recipient.Attrs); err != nil {
		return c, fmt.Errorf("conversation %d: decode attrs: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(zones), &c.Zones); err != nil {
		return c, fmt.Errorf("conversation %d: decode zones: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(state), &c.State); err != nil {
		return c, fmt.Errorf("conversation %d: decode state: %w", c.ID, err)
	}
	c.NextAt, c.CreatedAt, c.UpdatedAt = fromNanos(next), fromNanos(created), fromNanos(updated)
	return c, nil
}

func scanMessage(sc scanner) (outreach.Message, error) {
	var (
		m                                outreach.Message
		sendAfter, intent, sent, created int64
	)
	err := sc.Scan(&m.ID, &m.ConversationID, &m.CampaignID, &m.Direction,
		&m.Key.Conversation, &m.Key.Step, &m.Key.Attempt, &m.From, &m.To, &m.Body, &m.Status, &m.ProviderID,
		&m.DeliveryStatus, &m.Error, &m.Tries, &sendAfter, &intent, &sent, &created)
	m.SendAfter, m.IntentAt, m.SentAt, m.CreatedAt = fromNanos(sendAfter), fromNanos(intent), fromNanos(sent), fromNanos(created)
	return m, err
}

func scanEvent(sc scanner) (outreach.InboxEvent, error) {
	var (
		e  outreach.InboxEvent
		at int64
	)
	err := sc.Scan(&e.ID, &e.ConversationID, &e.Kind, &e.MessageID, &e.Body,
		&e.Key.Conversation, &e.Key.Step, &e.Key.Attempt, &e.Error, &at)
	e.At = fromNanos(at)
	return e, err
}

func scanResponse(sc scanner) (outreach.Response, error) {
	var (
		r  outreach.Response
		at int64
	)
	err := sc.Scan(&r.CampaignID, &r.ConversationID, &r.PatientID, &r.QuestionID, &r.Raw, &r.Answer, &at, &r.Doubt)
	r.RepliedAt = fromNanos(at)
	return r, err
}

// scanAll reads every row of rows with scan.
func scanAll[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// isUniqueViolation reports whether err is SQLite's UNIQUE constraint error.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// wrap prefixes err with the package name, keeping it for errors.Is.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlitestore: %s: %w", what, err)
}
