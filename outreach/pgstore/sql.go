package pgstore

import (
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/patient-outreach/sms/outreach"
)

// Column lists, in the order the scan functions read them.
const (
	campaignCols = `id, name, flow, from_number, default_zone, runtime, runtime_ref, world, status, created_at, updated_at, purged_at`
	convCols     = `c.id, c.campaign_id, c.patient_id, c.first_name, c.phone, c.time_zone, c.attrs, c.from_number, c.two_way,
		c.zones, c.status, c.state, c.outcome, c.next_at, c.created_at, c.updated_at`
	msgCols = `id, coalesce(conversation_id, 0), coalesce(campaign_id, 0), direction,
		key_conversation, key_step, key_attempt, from_number, to_number, body, status, provider_id,
		delivery_status, error, tries, send_after, intent_at, sent_at, created_at`
	eventCols = `id, conversation_id, kind, message_id, body, key_conversation, key_step, key_attempt, error, at`
	respCols  = `campaign_id, conversation_id, patient_id, question_id, raw, answer, replied_at, doubt`
)

// claimable is the condition, on conversations c, that a conversation may
// be claimed once its work is due and its lease has expired: unfinished,
// in a running campaign of the runtime and the world given by the
// parameters rt and world (such as "$2" and "$3"), and not a pending
// two-way conversation whose pair already has an active one in its world.
func claimable(rt, world string) string {
	return `c.status <> 'done' AND c.due IS NOT NULL
	AND c.campaign_id IN (SELECT id FROM campaigns WHERE status = 'running' AND runtime = ` + rt + ` AND world = ` + world + `)
	AND NOT (c.two_way AND c.status = 'pending' AND EXISTS (
		SELECT 1 FROM conversations a
		WHERE a.world = c.world AND a.phone = c.phone AND a.from_number = c.from_number AND a.two_way AND a.status = 'active'))`
}

// leaseFree is the condition that conversation c is under no unexpired
// lease at the parameter now.
func leaseFree(now string) string {
	return `(c.lease_until IS NULL OR c.lease_until <= ` + now + `)`
}

// scanner is pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func scanCampaign(sc scanner) (outreach.Campaign, error) {
	var (
		c    outreach.Campaign
		flow string
	)
	if err := sc.Scan(&c.ID, &c.Name, &flow, &c.From, &c.DefaultZone, &c.Runtime, &c.RuntimeRef, &c.World, &c.Status,
		tp(&c.CreatedAt), tp(&c.UpdatedAt), tp(&c.PurgedAt)); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(flow), &c.Flow); err != nil {
		return c, fmt.Errorf("campaign %d: decode flow: %w", c.ID, err)
	}
	return c, nil
}

// scanConv reads convCols, after the extra destinations given.
func scanConv(sc scanner, extra ...any) (outreach.Conversation, error) {
	var (
		c                   outreach.Conversation
		attrs, zones, state string
	)
	dest := append(extra, &c.ID, &c.CampaignID, &c.Recipient.ID, &c.Recipient.FirstName, &c.Recipient.Phone,
		&c.Recipient.TimeZone, &attrs, &c.From, &c.TwoWay, &zones, &c.Status, &state, &c.Outcome,
		tp(&c.NextAt), tp(&c.CreatedAt), tp(&c.UpdatedAt))
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
	return c, nil
}

func scanMessage(sc scanner) (outreach.Message, error) {
	var m outreach.Message
	err := sc.Scan(&m.ID, &m.ConversationID, &m.CampaignID, &m.Direction,
		&m.Key.Conversation, &m.Key.Step, &m.Key.Attempt, &m.From, &m.To, &m.Body, &m.Status, &m.ProviderID,
		&m.DeliveryStatus, &m.Error, &m.Tries, tp(&m.SendAfter), tp(&m.IntentAt), tp(&m.SentAt), tp(&m.CreatedAt))
	return m, err
}

func scanEvent(sc scanner) (outreach.InboxEvent, error) {
	var e outreach.InboxEvent
	err := sc.Scan(&e.ID, &e.ConversationID, &e.Kind, &e.MessageID, &e.Body,
		&e.Key.Conversation, &e.Key.Step, &e.Key.Attempt, &e.Error, tp(&e.At))
	return e, err
}

func scanResponse(sc scanner) (outreach.Response, error) {
	var r outreach.Response
	err := sc.Scan(&r.CampaignID, &r.ConversationID, &r.PatientID, &r.QuestionID, &r.Raw, &r.Answer, tp(&r.RepliedAt), &r.Doubt)
	return r, err
}

// scanAll reads every row of rows with scan.
func scanAll[T any](rows pgx.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
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
